#!/usr/bin/env bash
# The quick start: installs what is missing, builds, then runs the embedded
# default — logferry-store on 127.0.0.1:3100 and the logferry agent shipping
# this machine's /var/log to it — and prints how to query. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

bash scripts/deps.sh
if [ -d build-release ]; then
  meson setup --reconfigure build-release -Dbuildtype=release >/dev/null
else
  meson setup build-release -Dbuildtype=release >/dev/null
fi
ninja -C build-release agent/logferry store/logferry-store

export LOGFERRY_DATA="${LOGFERRY_DATA:-$ROOT/data}"
mkdir -p "$LOGFERRY_DATA/agent"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# The store's defaults are the embedded ones: 127.0.0.1:3100, data in ./data.
mkdir -p "$LOGFERRY_DATA/store"
(cd "$LOGFERRY_DATA/store" && exec "$ROOT/build-release/store/logferry-store") \
  2>>"$LOGFERRY_DATA/store.log" &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS http://127.0.0.1:3100/ready >/dev/null 2>&1 && break
  kill -0 "${pids[0]}" 2>/dev/null || { echo "logferry-store failed to start:"; tail -20 "$LOGFERRY_DATA/store.log"; exit 1; }
  sleep 0.1
done

build-release/agent/logferry -config.file=packaging/examples/local-agent.yaml \
  -config.expand-env=true 2>>"$LOGFERRY_DATA/agent.log" &
pids+=($!)

cat <<MSG

logferry is running:
  store  http://127.0.0.1:3100   (data in $LOGFERRY_DATA/store/data, log $LOGFERRY_DATA/store.log)
  agent  http://127.0.0.1:9080   (shipping /var/log/**/*.log, log $LOGFERRY_DATA/agent.log)

Look at the logs in your browser (the store's log explorer):
  http://127.0.0.1:3100/?query=%7Bjob%3D%22varlogs%22%7D&since=1h

Or query them with any Loki client (Grafana's Loki data source, logcli, curl):
  curl -sG http://127.0.0.1:3100/loki/api/v1/labels
  curl -sG http://127.0.0.1:3100/loki/api/v1/label/filename/values
  curl -sG http://127.0.0.1:3100/loki/api/v1/query_range \\
       --data-urlencode 'query={job="varlogs"}' --data-urlencode 'limit=20'
  curl -sG http://127.0.0.1:3100/loki/api/v1/query_range \\
       --data-urlencode 'query={job="varlogs"} |= "error"'
  logcli --addr=http://127.0.0.1:3100 query '{job="varlogs"}'
Agent state:  curl -s http://127.0.0.1:9080/targets   curl -s http://127.0.0.1:9080/metrics

Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}"
echo "a process exited; see $LOGFERRY_DATA/*.log"
