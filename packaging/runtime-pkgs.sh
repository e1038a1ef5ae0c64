#!/bin/sh
# Prints the Debian packages that hold the shared libraries the given
# binaries load (ldd + dpkg -S), one a line, sorted. The images' build stage
# runs it so the runtime stage installs exactly those libraries: a library
# added to the build is in the image without editing a list.
# Usage: packaging/runtime-pkgs.sh BINARY...
set -eu
for bin in "$@"; do
	[ -f "$bin" ] || { echo "runtime-pkgs: no file $bin" >&2; exit 1; }
done
libs="$(for bin in "$@"; do
	ldd "$bin" | awk '/=> \// {print $3} /^\t\/[^ ]+ \(/ {print $1}'
done | sort -u)"
pkgs=""
for lib in $libs; do
	# dpkg registers some libraries under /lib, others under /usr/lib
	# (merged /usr): try the path as given, then its real path, then the
	# other prefix.
	real="$(readlink -f "$lib")"
	for p in "$lib" "$real" "/usr$lib" "${lib#/usr}" "/usr$real" "${real#/usr}"; do
		if out="$(dpkg -S "$p" 2>/dev/null)"; then
			pkgs="$pkgs ${out%%:*}"
			continue 2
		fi
	done
	echo "runtime-pkgs: no package holds $lib (needed by $*)" >&2
	exit 1
done
printf '%s\n' $pkgs | sed 's/:[a-z0-9]*$//' | sort -u
