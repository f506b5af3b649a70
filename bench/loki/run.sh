#!/usr/bin/env bash
# Loki output benchmark (issue 7): syslog over TCP (the shared harness's load generator:
# newline-framed 200-byte RFC 5424 messages, one connection, as fast as logferry reads) into
# the Loki output (protobuf + snappy, 5 labels) and on to examples/loki_sink.rs, which decodes
# every push and counts entries in its own process. Reports, for logferry alone: records/s
# from the first byte sent until the sink counted every record, CPU-seconds per million, and
# peak RSS. Repeated REPS times; every figure is printed.
# usage: bench/loki/run.sh [-n COUNT] [-r REPS]
set -euo pipefail
cd "$(dirname "$0")/../.."
COUNT=2000000 REPS=3
while getopts n:r: opt; do
  case $opt in
    n) COUNT=$OPTARG ;; r) REPS=$OPTARG ;; *) exit 2 ;;
  esac
done
cargo build --release --quiet --bin logferry --example loki_sink
BIN=target/release/logferry SINK=target/release/examples/loki_sink
WORK=$(mktemp -d /tmp/logferry-loki-bench.XXXXXX)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; rm -rf "$WORK"' EXIT
LOADGEN=$WORK/loadgen
cc -O2 -o "$LOADGEN" ../shared/bench/loadgen.c 2>/dev/null || cc -O2 -o "$LOADGEN" /work/shared/bench/loadgen.c
TICK=$(getconf CLK_TCK)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }
sink_count() { curl -s "http://127.0.0.1:$1/count" | cut -d' ' -f1; }

for rep in $(seq "$REPS"); do
  sink=$(free_port) port=$(free_port)
  "$SINK" "127.0.0.1:$sink" & PIDS+=($!)
  wait_port "$sink"
  cat > "$WORK/loki.toml" <<TOML
[admin]
enabled = false
[inputs.syslog]
type = "syslog"
listen = ["tcp://127.0.0.1:$port"]
[outputs.loki]
type = "loki"
inputs = ["syslog"]
endpoint = "http://127.0.0.1:$sink"
labels = { job = "bench", host = "{{ resource.host.name }}", app = "{{ resource.service.name }}", level = "{{ severity }}", input = "{{ input }}" }
TOML
  "$BIN" --config "$WORK/loki.toml" 2>"$WORK/logferry.log" & pid=$!; PIDS+=($pid)
  wait_port "$port"
  cpu0=$(cpu_ticks "$pid")
  t0=$(date +%s.%N)
  "$LOADGEN" tcp 127.0.0.1 "$port" "$COUNT" >/dev/null
  while [ "$(sink_count "$sink")" -lt "$COUNT" ]; do sleep 0.02; done
  t1=$(date +%s.%N)
  cpu1=$(cpu_ticks "$pid")
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  streams=$(curl -s "http://127.0.0.1:$sink/count" | cut -d' ' -f2)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  kill "${PIDS[0]}" 2>/dev/null || true; PIDS=()
  python3 - "$COUNT" "$t0" "$t1" "$cpu0" "$cpu1" "$TICK" "$rss" "$streams" <<'PY'
import sys
n, t0, t1, c0, c1, tick, rss, streams = sys.argv[1:]
n = int(n); wall = float(t1) - float(t0); cpu = (int(c1) - int(c0)) / int(tick)
print(f"syslog-tcp->loki: {n/wall/1e3:.0f}k records/s, {cpu/(n/1e6):.2f} CPU-s per million, "
      f"peak RSS {int(rss)/1024:.1f} MB, {streams} stream(s), 5 labels, protobuf+snappy")
PY
done
