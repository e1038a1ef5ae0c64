#!/usr/bin/env bash
# The test command: installs what is missing, builds twice (release, and
# debug with ASan+UBSan), runs every test in both builds, and ends with one
# summary line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh || { echo "0 passed, 1 failed"; exit 1; }

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
JOBS="${JOBS:-$(nproc)}"

builds=(
  "build-release|-Dbuildtype=release -Dwerror=true"
  "build-asan|-Dbuildtype=debug -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false"
)

status=0
for b in "${builds[@]}"; do
  dir="${b%%|*}"; opts="${b#*|}"
  echo "=== $dir ($opts)"
  if [ -d "$dir" ]; then
    meson setup --reconfigure "$dir" $opts >/dev/null || status=1
  else
    meson setup "$dir" $opts >/dev/null || status=1
  fi
  rm -f "$dir/meson-logs/testlog.json"
  if ! ninja -C "$dir" -j "$JOBS"; then
    echo "build failed: $dir"
    status=1
    continue
  fi
  # e2e tests hold ports and processes: run suites one at a time where they ask.
  meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes "$JOBS" \
    --timeout-multiplier "${TIMEOUT_MULT:-3}" || status=1
done

python3 - "${builds[@]%%|*}" <<'PY'
import json, os, sys
passed = failed = skipped = 0
for d in sys.argv[1:]:
    path = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(path):
        failed += 1  # the build itself failed
        continue
    for line in open(path):
        r = json.loads(line).get("result", "")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
sys.exit(1 if failed else 0)
PY
rc=$?
[ $status -ne 0 ] && [ $rc -eq 0 ] && rc=1
exit $rc
