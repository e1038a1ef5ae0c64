#!/usr/bin/env bash
# Installs the Debian 12 packages logferry needs to build, test and run,
# skipping what is already there. Needs root (or sudo).
set -euo pipefail

PKGS=(
  # build
  meson ninja-build pkg-config gcc protobuf-c-compiler
  # libraries (DESIGN.md §6)
  libinotifytools0-dev libcurl4-openssl-dev libyaml-dev libpcre2-dev libsnappy-dev liblz4-dev
  libprotobuf-c-dev libmicrohttpd-dev libjansson-dev zlib1g-dev libssl-dev libsqlite3-dev
  # tests: unit tests, e2e drivers, certificates, npm clients
  libcmocka-dev python3 openssl nodejs npm curl ca-certificates
  # time zones for the timestamp stage's `location` (and its tests)
  tzdata
  # the store's ruler e2e: a real Alertmanager and a Prometheus remote-write receiver
  prometheus-alertmanager prometheus
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    # nodejs/npm may come from elsewhere (e.g. NodeSource): accept any working binary
    if { [ "$p" = nodejs ] && command -v node >/dev/null; } ||
       { [ "$p" = npm ] && command -v npm >/dev/null; }; then
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
