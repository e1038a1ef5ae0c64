#!/usr/bin/env bash
# Builds the two logferry images from the repository:
#   localhost/logferry:TAG        (packaging/Dockerfile.agent)
#   localhost/logferry-store:TAG  (packaging/Dockerfile.store)
# Usage: packaging/images.sh [TAG]        (TAG defaults to "dev")
#
# Builder: docker or podman when one actually works (an engine answers
# `info`), else `buildah bud --isolation chroot --network host` (root).
# Base images: when debian:12 / debian:12-slim cannot be pulled (no
# registry reachable), they are made locally from `debootstrap
# --variant=minbase bookworm` against the Debian mirror apt uses on this
# machine, and kept in local storage, so later runs reuse them.
# Environment: LF_IMAGES_BUILDER=docker|podman|buildah forces a builder;
# LF_DEBIAN_MIRROR overrides the mirror; LF_IMAGES_ONLY=base stops after
# the base images.
set -euo pipefail

TAG="${1:-dev}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
log() { echo "images: $*" >&2; }

pick_builder() {
	if [ -n "${LF_IMAGES_BUILDER:-}" ]; then
		echo "$LF_IMAGES_BUILDER"
		return
	fi
	local b
	for b in docker podman; do
		if command -v "$b" >/dev/null 2>&1 && timeout 20 "$b" info >/dev/null 2>&1; then
			echo "$b"
			return
		fi
	done
	if command -v buildah >/dev/null 2>&1; then
		echo buildah
		return
	fi
	log "no working docker or podman engine and no buildah"
	exit 1
}

BUILDER="$(pick_builder)"
log "builder: $BUILDER"

have_image() {
	case "$BUILDER" in
	buildah) buildah images --quiet "$1" >/dev/null 2>&1 ;;
	*) "$BUILDER" image inspect "$1" >/dev/null 2>&1 ;;
	esac
}

# The URIs apt uses here (deb822 "URIs:" or one-line "deb URL"), one a line.
apt_uris() {
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}
		     /^deb / {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; break}}' |
		sed 's:/*$::'
}

# The Debian mirror apt uses here, and its security mirror.
debian_mirror() {
	local m
	m="${LF_DEBIAN_MIRROR:-$(apt_uris | grep -E '/debian$' | head -n1)}"
	echo "${m:-http://deb.debian.org/debian}"
}
security_mirror() {
	local m
	m="$(apt_uris | grep -E '/debian-security$' | head -n1)"
	echo "${m:-${1%/debian}/debian-security}"
}

# Imports a root filesystem directory as image $2 (buildah: from scratch + copy + commit).
import_rootfs() {
	local dir="$1" name="$2"
	case "$BUILDER" in
	buildah)
		local c
		c="$(buildah from scratch)"
		buildah copy --quiet "$c" "$dir" / >/dev/null
		buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd /bin/bash "$c"
		buildah commit --quiet --rm "$c" "$name" >/dev/null
		;;
	*)
		tar -C "$dir" -c . | "$BUILDER" import --change 'CMD ["/bin/bash"]' - "$name" >/dev/null
		# The Dockerfiles say `FROM debian:12`: docker resolves that to
		# docker.io/library/debian:12, so give the image that name too.
		"$BUILDER" tag "$name" "docker.io/library/${name#localhost/}"
		;;
	esac
}

make_bases() {
	local want_full=docker.io/library/debian:12 want_slim=docker.io/library/debian:12-slim
	local full=localhost/debian:12 slim=localhost/debian:12-slim
	if have_image "$full" && have_image "$slim"; then
		log "base images cached ($full, $slim)"
		return
	fi
	# A registry may be reachable: try pulling first (quickly).
	if timeout 60 "$BUILDER" pull -q "$want_full" >/dev/null 2>&1 &&
		timeout 60 "$BUILDER" pull -q "$want_slim" >/dev/null 2>&1; then
		"$BUILDER" tag "$want_full" "$full"
		"$BUILDER" tag "$want_slim" "$slim"
		log "base images pulled"
		return
	fi
	command -v debootstrap >/dev/null || { log "no registry and no debootstrap"; exit 1; }
	[ "$(id -u)" -eq 0 ] || { log "debootstrap needs root"; exit 1; }
	local mirror work
	mirror="$(debian_mirror)"
	work="$(mktemp -d /var/tmp/lf-debootstrap.XXXXXX)"
	trap 'rm -rf "$work"' RETURN
	log "no registry: debootstrap bookworm from $mirror (a few minutes)"
	debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/log" 2>&1 ||
		{ tail -n 30 "$work/log" >&2; exit 1; }
	local r="$work/rootfs"
	# Same apt sources as the official image (main + updates + security).
	local sec
	sec="$(security_mirror "$mirror")"
	rm -f "$r/etc/apt/sources.list"
	cat >"$r/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $sec
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	# As in the official images: no recommends' caches, no daemons started.
	printf 'APT::Install-Recommends "false";\n' >"$r/etc/apt/apt.conf.d/docker-no-recommends"
	printf 'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n' >"$r/etc/apt/apt.conf.d/docker-no-cache"
	printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
	chmod 755 "$r/usr/sbin/policy-rc.d"
	rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb \
		"$r"/var/log/* "$r"/tmp/* "$r"/dev/* 2>/dev/null || true
	: >"$r/etc/hostname"
	import_rootfs "$r" "$full"
	# The slim variant: dpkg keeps docs, man pages and translations out.
	cat >"$r/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
CFG
	find "$r/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
	rm -rf "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/locale/* \
		"$r"/usr/share/lintian/* "$r"/usr/share/groff/*
	import_rootfs "$r" "$slim"
	log "base images made: $full, $slim"
}

build_one() {
	local file="$1" name="$2"
	log "building $name from $file"
	case "$BUILDER" in
	buildah)
		buildah bud --quiet --isolation chroot --network host --format docker --layers \
			--pull-never -f "$ROOT/$file" -t "$name" "$ROOT" >/dev/null
		;;
	*)
		"$BUILDER" build -q -f "$ROOT/$file" -t "$name" "$ROOT" >/dev/null
		;;
	esac
}

make_bases
[ "${LF_IMAGES_ONLY:-}" = base ] && exit 0
build_one packaging/Dockerfile.agent "localhost/logferry:$TAG"
build_one packaging/Dockerfile.store "localhost/logferry-store:$TAG"
log "built localhost/logferry:$TAG and localhost/logferry-store:$TAG"
