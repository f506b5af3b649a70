#!/usr/bin/env bash
# Filebeat-compatible inputs benchmark (issue 5): examples/filebeat_load.rs sends
# Filebeat-shaped events (~600 bytes of ECS JSON each) as `_bulk` requests of 1000 documents
# (plain, then gzip) or as Lumberjack windows of 1000 zlib-compressed events (two in flight per
# connection, as Filebeat pipelines), counting only acknowledged events; logferry writes them to
# a file (FORMAT=text, the default: short lines, so the disk does not set the pace; FORMAT=json
# writes every field). BUFFER sets the output's buffer, e.g. BUFFER='{ type = "disk" }' to
# measure the disk buffer (its data_dir is the run's temp dir). For logferry alone:
# records/s, CPU-seconds per million, peak RSS.
# usage: bench/filebeat/run.sh [-n RECORDS] [-c CONCURRENCY] [-r REPS]
set -euo pipefail
cd "$(dirname "$0")/../.."
RECORDS=2000000 CONC=4 REPS=2
BUF=${BUFFER:-'{ type = "memory" }'}
while getopts n:c:r: opt; do
  case $opt in
    n) RECORDS=$OPTARG ;; c) CONC=$OPTARG ;; r) REPS=$OPTARG ;; *) exit 2 ;;
  esac
done
cargo build --release --quiet --bin logferry --example filebeat_load
BIN=target/release/logferry LOAD=target/release/examples/filebeat_load
WORK=$(mktemp -d /tmp/logferry-filebeat-bench.XXXXXX)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; rm -rf "$WORK"' EXIT
TICK=$(getconf CLK_TCK)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

for rep in $(seq "$REPS"); do
  for w in bulk bulk-gzip beats; do
    es=$(free_port) beats=$(free_port)
    rm -f "$WORK/out.log"
    rm -rf "$WORK/data"
    cat > "$WORK/fb.toml" <<TOML
data_dir = "$WORK/data"
[admin]
enabled = false
[inputs.es]
type = "elasticsearch"
listen = "127.0.0.1:$es"
[inputs.beats]
type = "beats"
listen = "127.0.0.1:$beats"
[outputs.out]
type = "file"
inputs = ["es", "beats"]
path = "$WORK/out.log"
format = "${FORMAT:-text}"
buffer = $BUF
TOML
    "$BIN" --config "$WORK/fb.toml" 2>"$WORK/logferry.log" & pid=$!; PIDS=($pid)
    wait_port "$es"; wait_port "$beats"
    case $w in
      bulk) args=(--mode bulk --target "127.0.0.1:$es") ;;
      bulk-gzip) args=(--mode bulk --gzip --target "127.0.0.1:$es") ;;
      beats) args=(--mode beats --target "127.0.0.1:$beats") ;;
    esac
    cpu0=$(cpu_ticks "$pid")
    result=$("$LOAD" "${args[@]}" --records "$RECORDS" --batch 1000 --concurrency "$CONC")
    cpu1=$(cpu_ticks "$pid")
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    python3 - "$w" "$result" "$cpu0" "$cpu1" "$TICK" "$rss" <<'PY'
import json, sys
w, result, c0, c1, tick, rss = sys.argv[1:]
r = json.loads(result)
cpu = (int(c1) - int(c0)) / int(tick)
print(f"{w:10s} {r['records_per_second']/1e3:6.0f}k records/s  {cpu/(r['records']/1e6):5.2f} CPU-s per million  peak RSS {int(rss)/1024:5.1f} MB")
PY
  done
done
