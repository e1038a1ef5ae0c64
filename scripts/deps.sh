#!/usr/bin/env bash
# Installs the Debian 12 packages logferry needs to build, test and run,
# skipping what is already there. Needs root (or sudo).
#   scripts/deps.sh               install every package (build, tests, run)
#   scripts/deps.sh build         install only what building the binaries needs
#                                 (the images' build stage runs this)
#   scripts/deps.sh --list all|build   print the package names, one a line
# "build" is PKGS minus NOT_FOR_BUILD: a package appended to PKGS is in the
# build list unless it is also named in NOT_FOR_BUILD.
set -euo pipefail

PKGS=(
  # build
  meson ninja-build pkg-config gcc protobuf-c-compiler
  # libraries (DESIGN.md §6)
  libinotifytools0-dev libcurl4-openssl-dev libyaml-dev libpcre2-dev libsnappy-dev liblz4-dev
  libprotobuf-c-dev libmicrohttpd-dev libjansson-dev zlib1g-dev libssl-dev libsqlite3-dev
  # tests: unit tests, e2e drivers, certificates, npm clients
  libcmocka-dev python3 openssl nodejs npm curl ca-certificates
  # the agent's status pages in a real browser (tests/e2e/agent/test_status_pages.py)
  chromium
  # time zones for the timestamp stage's `location` (and its tests)
  tzdata
  # packaging tests: rendered Kubernetes manifests (kubectl kustomize, YAML), images
  # (buildah; debootstrap makes the base images when no registry is reachable)
  kubernetes-client python3-yaml buildah debootstrap
  # agent sources (agent/sources/): sd-journal for `journal`; journal files, logger and
  # rsyslog as real senders in the e2e tests
  libsystemd-dev systemd-journal-remote bsdutils rsyslog
  # the store's ruler e2e: a real Alertmanager and a Prometheus remote-write receiver
  prometheus-alertmanager prometheus
)

# Packages of PKGS that building the binaries (meson -Dtests=disabled) does
# not need: tests, test tools, runtime-only data. Add a test-only package
# here too when you append it to PKGS, so the image build stays small.
NOT_FOR_BUILD=(
  libcmocka-dev python3 openssl nodejs npm curl ca-certificates tzdata
  kubernetes-client python3-yaml buildah debootstrap
  chromium systemd-journal-remote bsdutils rsyslog prometheus-alertmanager prometheus
)

build_pkgs() {
  local p q skip
  for p in "${PKGS[@]}"; do
    skip=0
    for q in "${NOT_FOR_BUILD[@]}"; do
      [ "$p" = "$q" ] && skip=1
    done
    [ $skip -eq 1 ] || echo "$p"
  done
}

case "${1:-}" in
  --list)
    case "${2:-all}" in
      all) printf '%s\n' "${PKGS[@]}" ;;
      build) build_pkgs ;;
      *) echo "deps: --list all|build, not ${2}" >&2; exit 2 ;;
    esac
    exit 0
    ;;
  build) mapfile -t PKGS < <(build_pkgs) ;;
  "") ;;
  *) echo "usage: scripts/deps.sh [build | --list all|build]" >&2; exit 2 ;;
esac

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    # nodejs/npm may come from elsewhere (e.g. NodeSource), kubectl too (Debian's
    # kubernetes-client is 1.20; a newer one from pkgs.k8s.io or gcloud conflicts
    # with it): accept any working binary
    if { [ "$p" = nodejs ] && command -v node >/dev/null; } ||
       { [ "$p" = npm ] && command -v npm >/dev/null; } ||
       { [ "$p" = kubernetes-client ] && command -v kubectl >/dev/null; }; then
      continue
    fi
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: missing ${missing[*]} and not root (no sudo)" >&2; exit 1; }
  SUDO=sudo
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
