#!/usr/bin/env bash
# run.sh — builds the libFuzzer targets of tests/fuzz with clang
# (-fsanitize=fuzzer,address,undefined) and fuzzes each for a while.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]     (default: 60 s, every target)
#   FUZZ_BUILD=dir   build + working corpora + crash artifacts (default build-fuzz-clang)
#   FUZZ_NICE=10     nice level (the machine is shared)
#   FUZZ_ARGS=...    extra libFuzzer flags, e.g. "-max_len=65536"
#   FUZZ_BUILD_ONLY=1  build, run each target once over its seeds, do not fuzz
#
# The checked-in seeds (corpus/<target>/) are copied into a working corpus
# under FUZZ_BUILD, which grows between runs; the seeds are never written.
# A crash leaves its input in FUZZ_BUILD/artifacts/<target>/. After fixing
# the bug, copy that input into corpus/<target>/ so the gcc build's
# fuzz_<target> test replays it forever (see meson.build).
# Needs clang and its libFuzzer runtime (Debian: clang, libclang-rt-14-dev).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
secs="${1:-60}"
shift || true
all_targets=(push labels yaml timeutil)
# Targets for the 'lang' modules, built when their implementation links.
lang_targets=(regex selector template gotime)
# store targets: built with the store files they need (the case below)
store_targets=(chunk logql_pipeline logql_metric)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}" "${lang_targets[@]}" "${store_targets[@]}")
B="${FUZZ_BUILD:-$root/build-fuzz-clang}"
CC="${CC_FUZZ:-clang}"
mkdir -p "$B/obj"

command -v "$CC" >/dev/null || { echo "run.sh: $CC not found (apt-get install clang)"; exit 1; }
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
cflags="-g -O1 -fno-omit-frame-pointer -std=gnu17 -D_GNU_SOURCE -DLF_VERSION=\"fuzz\" $san"
pkgs="yaml-0.1 libpcre2-8 libprotobuf-c libmicrohttpd jansson libcrypto"
inc="-I$root/common -I$B $(pkg-config --cflags $pkgs)"
libs="$(pkg-config --libs $pkgs) -lsnappy -lm -lpthread"

# Is the runtime there? (libclang-rt-<ver>-dev ships libclang_rt.fuzzer*.a)
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){(void)d;(void)n;return 0;}' \
	>"$B/probe.c"
if ! "$CC" -fsanitize=fuzzer "$B/probe.c" -o "$B/probe" 2>"$B/probe.log"; then
	echo "run.sh: clang cannot link -fsanitize=fuzzer; install libclang-rt-14-dev"
	cat "$B/probe.log"
	exit 1
fi

protoc-c --proto_path="$root/common" --c_out="$B" "$root/common/push.proto"
objs=()
for src in "$root"/common/*.c "$B/push.pb-c.c"; do
	o="$B/obj/$(basename "$src" .c).o"
	if [ ! -e "$o" ] || [ "$src" -nt "$o" ] || [ "$root/common" -nt "$o" ]; then
		# shellcheck disable=SC2086
		if ! "$CC" $cflags -fsanitize=fuzzer-no-link $inc -c "$src" -o "$o" \
			2>"$o.log"; then
			echo "run.sh: warning: $(basename "$src") does not compile (see $o.log); left out"
			rm -f "$o"
			continue
		fi
	fi
	objs+=("$o")
done
rm -f "$B/libcommon.a"
ar rcs "$B/libcommon.a" "${objs[@]}"

status=0
for t in "${targets[@]}"; do
	src="$here/fuzz_$t.c"
	[ -f "$src" ] || { echo "== $t: no $src, skipped"; continue; }
	extra=""
	case "$t" in
	chunk) extra="-I$root/store $root/store/chunk.c $root/store/crc32c.c -llz4 -lz" ;;
	logql_pipeline) extra="-I$root/store/logql $root/store/logql/pipeline.c" ;;
	logql_metric) extra="-I$root/store -I$root/store/logql $(ls "$root"/store/*.c "$root"/store/logql/*.c | grep -v -e /main.c -e /api.c) -lsqlite3 -llz4 -lz" ;;
	esac
	# shellcheck disable=SC2086
	if ! "$CC" $cflags -fsanitize=fuzzer $inc "$src" $extra "$B/libcommon.a" $libs \
		-o "$B/fuzz_$t" 2>"$B/fuzz_$t.build.log"; then
		echo "== $t: does not build yet (see $B/fuzz_$t.build.log), skipped"
		continue
	fi
	work="$B/corpus/$t"
	art="$B/artifacts/$t"
	mkdir -p "$work" "$art"
	[ -d "$here/corpus/$t" ] && cp -n "$here/corpus/$t"/* "$work"/ 2>/dev/null || true
	dict=()
	[ -f "$here/$t.dict" ] && dict=("-dict=$here/$t.dict")
	if [ -n "${FUZZ_BUILD_ONLY:-}" ]; then
		run=(-runs=0)
	else
		run=(-max_total_time="$secs")
	fi
	echo "== $t: ${run[*]}"
	# shellcheck disable=SC2086
	if nice -n "${FUZZ_NICE:-10}" "$B/fuzz_$t" "${run[@]}" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art/" "${dict[@]}" ${FUZZ_ARGS:-} \
		"$work" >"$B/fuzz_$t.log" 2>&1; then
		grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|DONE' \
			"$B/fuzz_$t.log" | tr '\n' ' '
		echo
	else
		echo "== $t: FAILED — log $B/fuzz_$t.log, inputs in $art/"
		grep -E -m 12 'ERROR|runtime error|property failed|SUMMARY|Test unit written' \
			"$B/fuzz_$t.log" || tail -20 "$B/fuzz_$t.log"
		status=1
	fi
done
exit $status
