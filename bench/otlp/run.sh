#!/usr/bin/env bash
# OTLP end-to-end benchmarks (issue 4): a Rust load generator (examples/otlp_load.rs) sends
# pre-encoded OTLP/gRPC requests of 10-attribute records and counts only acknowledged
# records, so the rate is end to end. Two workloads:
#   o1  OTLP/gRPC in -> NDJSON file (FORMAT=text: the file output's short text lines)
#   o2  OTLP/gRPC in -> OTLP/gRPC out (gzip) -> the load generator's own null sink (it reads
#       each request and answers success), so only logferry decodes and encodes
# For the logferry under test: records/s, CPU-seconds per million records, peak RSS, and RSS
# sampled every second (flat memory under sustained load).
# usage: bench/otlp/run.sh [-n RECORDS] [-b BATCH] [-c CONCURRENCY] [-w "o1 o2"]
# THREADS=N sets logferry's `threads` (unset: its default).
set -euo pipefail
cd "$(dirname "$0")/../.."
RECORDS=2000000 BATCH=1000 CONC=8 WORKLOADS="o1 o2"
while getopts n:b:c:w: opt; do
  case $opt in
    n) RECORDS=$OPTARG ;; b) BATCH=$OPTARG ;; c) CONC=$OPTARG ;; w) WORKLOADS=$OPTARG ;;
    *) exit 2 ;;
  esac
done
cargo build --release --quiet --bin logferry --example otlp_load
BIN=target/release/logferry LOAD=target/release/examples/otlp_load
WORK=$(mktemp -d /tmp/logferry-otlp-bench.XXXXXX)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; rm -rf "$WORK"' EXIT
TICK=$(getconf CLK_TCK)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

start() { # NAME CONFIG -> sets PID
  "$BIN" --config "$2" 2>"$WORK/$1.log" &
  PID=$!; PIDS+=("$PID")
}

for w in $WORKLOADS; do
  port=$(free_port)
  sink_args=()
  if [ "$w" = o2 ]; then
    sink=$(free_port)
    sink_args=(--sink "127.0.0.1:$sink")
    output="type = \"otlp\"
protocol = \"grpc\"
endpoint = \"http://127.0.0.1:$sink\""
  else
    output="type = \"file\"
format = \"${FORMAT:-json}\"
path = \"$WORK/out.ndjson\""
  fi
  cat > "$WORK/$w.toml" <<TOML
${THREADS:+threads = $THREADS}
[admin]
enabled = false
[inputs.otel]
type = "otlp"
grpc = "127.0.0.1:$port"
[outputs.out]
inputs = ["otel"]
$output
TOML
  start "$w" "$WORK/$w.toml"; pid=$PID; wait_port "$port"
  before=$(cpu_ticks "$pid")
  ( while kill -0 "$pid" 2>/dev/null; do awk '/VmRSS/ {print $2}' "/proc/$pid/status"; sleep 1; done ) > "$WORK/$w.rss" 2>/dev/null &
  sampler=$!
  result=$("$LOAD" --endpoint "http://127.0.0.1:$port" --records "$RECORDS" --batch "$BATCH" --concurrency "$CONC" "${sink_args[@]}")
  after=$(cpu_ticks "$pid")
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill "$sampler" 2>/dev/null || true
  rate=$(python3 -c "import json,sys; print(round(json.loads(sys.argv[1])['records_per_sec']))" "$result")
  records=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['records'])" "$result")
  cpu=$(python3 -c "print(round(($after-$before)/$TICK/($records/1e6), 2))")
  rss=$(tr '\n' ' ' < "$WORK/$w.rss")
  printf '%s: %s records/s, %s CPU-s per million, peak RSS %s MB; RSS (KB) per second: %s\n' \
    "$w" "$rate" "$cpu" "$((hwm / 1024))" "$rss"
  echo "  load generator: $result"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  PIDS=()
done
