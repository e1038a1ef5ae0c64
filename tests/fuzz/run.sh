#!/usr/bin/env bash
# run.sh — builds the libFuzzer targets of tests/fuzz with clang
# (-fsanitize=fuzzer,address,undefined) and fuzzes each for a while.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]     (default: 60 s, every target)
#   FUZZ_BUILD=dir   build + working corpora + crash artifacts (default build-fuzz-clang)
#   FUZZ_NICE=10     nice level (the machine is shared)
#   FUZZ_ARGS=...    extra libFuzzer flags, e.g. "-max_len=65536"
#   FUZZ_BUILD_ONLY=1  build, run each target once over its seeds, do not fuzz
#   FUZZ_JOBS=2      fuzz this many targets at once (default 1); each one
#                    still runs SECONDS of wall time, so on N cores up to N
#                    jobs give each target a whole core
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
store_targets=(chunk logql_pipeline logql_metric push_json query_params rules)
# agent targets: built with the agent files they need (the case below)
agent_targets=(syslog journal_fields)
# the store's /tail websocket frames
ws_targets=(websocket)
# pipeline stages and relabeling (pipeline/), kubelet pods (discovery/),
# the positions file (agent/tail/)
more_targets=(stage_cri stage_docker stage_json stage_logfmt stage_regex stage_multiline
	relabel k8s_pods positions)
targets=("$@")
[ ${#targets[@]} -gt 0 ] ||
	targets=("${all_targets[@]}" "${lang_targets[@]}" "${store_targets[@]}" "${agent_targets[@]}"
		"${ws_targets[@]}" "${more_targets[@]}")
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

# lib_of NAME DIR [EXCLUDE...]: DIR/*.c (but the excluded files) compiled
# into $B/libNAME.a, rebuilt when a source or common/ changed
lib_of() {
	local name=$1 dir=$2 src o skip x
	shift 2
	local lobjs=()
	mkdir -p "$B/obj/$name"
	for src in "$root/$dir"/*.c; do
		skip=""
		for x in "$@"; do [ "$(basename "$src")" = "$x" ] && skip=1; done
		[ -n "$skip" ] && continue
		o="$B/obj/$name/$(basename "$src" .c).o"
		if [ ! -e "$o" ] || [ "$src" -nt "$o" ] || [ "$root/common" -nt "$o" ]; then
			# shellcheck disable=SC2086
			if ! "$CC" $cflags -fsanitize=fuzzer-no-link $inc -I"$root/$dir" \
				-I"$root/store/logql" -c "$src" -o "$o" 2>"$o.log"; then
				echo "run.sh: warning: $dir/$(basename "$src") does not compile (see $o.log); left out"
				rm -f "$o"
				continue
			fi
		fi
		lobjs+=("$o")
	done
	rm -f "$B/lib$name.a"
	[ ${#lobjs[@]} -gt 0 ] && ar rcs "$B/lib$name.a" "${lobjs[@]}"
	return 0
}
need_pipeline="" need_store=""
for t in "${targets[@]}"; do
	case "$t" in
	stage_* | relabel) need_pipeline=1 ;;
	push_json | query_params | logql_metric | rules) need_store=1 ;;
	esac
done
[ -n "$need_pipeline" ] && lib_of pipeline pipeline
# The store library: store/, store/logql/, store/ruler/ and the two
# generated sources (the explorer page's assets, remote.proto), as
# store/meson.build builds it.
build_store_lib() {
	local src o sobjs=()
	mkdir -p "$B/obj/store"
	cc -O1 -o "$B/ui_embed" "$root/store/ui/embed.c"
	"$B/ui_embed" "$B/ui_assets.c" "$root/store/ui/index.html" "$root/store/ui/app.js" \
		"$root/store/ui/style.css"
	protoc-c --proto_path="$root/store/ruler" --c_out="$B" "$root/store/ruler/remote.proto"
	for src in "$root"/store/*.c "$root"/store/logql/*.c "$root"/store/ruler/*.c \
		"$B/ui_assets.c" "$B/remote.pb-c.c"; do
		[ "$(basename "$src")" = main.c ] && continue
		o="$B/obj/store/$(basename "$src" .c).o"
		if [ ! -e "$o" ] || [ "$src" -nt "$o" ] || [ "$root/common" -nt "$o" ]; then
			# shellcheck disable=SC2086
			if ! "$CC" $cflags -fsanitize=fuzzer-no-link $inc -I"$root/store" \
				-I"$root/store/logql" -I"$root/store/ruler" -c "$src" -o "$o" 2>"$o.log"; then
				echo "run.sh: warning: $src does not compile (see $o.log); left out"
				rm -f "$o"
				continue
			fi
		fi
		sobjs+=("$o")
	done
	rm -f "$B/libstore.a"
	ar rcs "$B/libstore.a" "${sobjs[@]}"
}
[ -n "$need_store" ] && build_store_lib

status=0
# One row per target: wall seconds, executions, coverage (libFuzzer's "cov"
# edges and "ft" features at the end of the run), findings (new crash /
# leak / timeout / oom artifacts). Printed at the end and kept in
# $B/results.md (FUZZ_TABLE=file to write it elsewhere).
table="${FUZZ_TABLE:-$B/results.md}"
rows=()
built=()
# Phase 1: build every target (sequentially: they share libcommon.a).
for t in "${targets[@]}"; do
	src="$here/fuzz_$t.c"
	[ -f "$src" ] || { echo "== $t: no $src, skipped"; continue; }
	extra=""
	case "$t" in
	chunk) extra="-I$root/store $root/store/chunk.c $root/store/crc32c.c -llz4 -lz" ;;
	logql_pipeline) extra="-I$root/store/logql $root/store/logql/pipeline.c" ;;
	logql_metric | push_json | query_params | rules)
		extra="-I$root/store -I$root/store/logql -I$root/store/ruler $B/libstore.a"
		extra="$extra -lsqlite3 -llz4 -lz -lcurl" ;;
	syslog) extra="-I$root/agent/sources $root/agent/sources/syslog_parse.c" ;;
	journal_fields) extra="-I$root/agent/sources $root/agent/sources/journal_fields.c" ;;
	stage_* | relabel) extra="-I$root/pipeline $B/libpipeline.a" ;;
	k8s_pods) extra="-I$root/discovery $root/discovery/kubernetes.c -lcurl" ;;
	positions) extra="-I$root/agent/tail $root/agent/tail/positions.c" ;;
	esac
	# shellcheck disable=SC2086
	if ! "$CC" $cflags -fsanitize=fuzzer $inc "$src" $extra "$B/libcommon.a" $libs \
		-o "$B/fuzz_$t" 2>"$B/fuzz_$t.build.log"; then
		echo "== $t: does not build (see $B/fuzz_$t.build.log), skipped"
		rows+=("| $t | 0 | - | - | does not build |")
		status=1
		continue
	fi
	mkdir -p "$B/corpus/$t" "$B/artifacts/$t"
	[ -d "$here/corpus/$t" ] && cp -n "$here/corpus/$t"/* "$B/corpus/$t"/ 2>/dev/null || true
	built+=("$t")
done

# run_one T: fuzzes T, writes its table row to $B/rows/T and its exit
# status to $B/rows/T.rc; its report goes to $B/fuzz_T.summary.
run_one() {
	local t=$1 work="$B/corpus/$1" art="$B/artifacts/$1" dict=() run before t0 rc=0
	[ -f "$here/$t.dict" ] && dict=("-dict=$here/$t.dict")
	if [ -n "${FUZZ_BUILD_ONLY:-}" ]; then
		run=(-runs=0)
	else
		run=(-max_total_time="$secs")
	fi
	before=$(find "$art" -type f | wc -l)
	t0=$(date +%s)
	# shellcheck disable=SC2086
	nice -n "${FUZZ_NICE:-10}" "$B/fuzz_$t" "${run[@]}" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art/" "${dict[@]}" ${FUZZ_ARGS:-} \
		"$work" >"$B/fuzz_$t.log" 2>&1 || rc=$?
	local secs_run=$(($(date +%s) - t0)) execs cov found
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$B/fuzz_$t.log" | tail -1)
	cov=$(grep -E '^#[0-9]+' "$B/fuzz_$t.log" | tail -1 |
		sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\).*/\1 \/ \2/p')
	found=$(($(find "$art" -type f | wc -l) - before))
	[ "$rc" -ne 0 ] && [ "$found" -eq 0 ] && found="exit $rc"
	echo "| $t | $secs_run | ${execs:-?} | ${cov:-?} | $found |" >"$B/rows/$t"
	echo "$rc" >"$B/rows/$t.rc"
	{
		if [ "$rc" -eq 0 ]; then
			echo "== $t: done in ${secs_run}s: $(grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' \
				"$B/fuzz_$t.log" | tr '\n' ' ')"
		else
			echo "== $t: FAILED — log $B/fuzz_$t.log, inputs in $art/"
			grep -E -m 12 'ERROR|runtime error|property failed|SUMMARY|Test unit written' \
				"$B/fuzz_$t.log" || tail -20 "$B/fuzz_$t.log"
		fi
	} >"$B/fuzz_$t.summary"
	cat "$B/fuzz_$t.summary"
}

# Phase 2: fuzz, FUZZ_JOBS targets at a time.
rm -rf "$B/rows"
mkdir -p "$B/rows"
jobs_max="${FUZZ_JOBS:-1}"
running=0
for t in "${built[@]}"; do
	if [ "$running" -ge "$jobs_max" ]; then
		wait -n || true
		running=$((running - 1))
	fi
	echo "== $t: started $(date -u +%H:%M:%S) ($([ -n "${FUZZ_BUILD_ONLY:-}" ] && echo "seeds only" || echo "$secs s"))"
	run_one "$t" &
	running=$((running + 1))
done
wait || true
for t in "${built[@]}"; do
	if [ -f "$B/rows/$t" ]; then
		rows+=("$(cat "$B/rows/$t")")
		[ "$(cat "$B/rows/$t.rc")" = 0 ] || status=1
	else
		rows+=("| $t | ? | ? | ? | no result |")
		status=1
	fi
done
{
	echo "| target | seconds | executions | coverage (cov / ft) | findings |"
	echo "|---|---:|---:|---:|---:|"
	printf '%s\n' "${rows[@]}"
} >"$table"
echo
cat "$table"
exit $status
