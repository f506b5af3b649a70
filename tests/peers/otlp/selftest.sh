#!/usr/bin/env bash
# Proves the OTLP peers against each other (no logferry involved): a collector in `receive` mode,
# fed by send.py (grpc, http, gzip, batch), send.mjs (grpc, http-json, http-proto) and send_raw.py,
# then two `forward` collectors (grpc and http) in front of it. Checks that out.json holds exactly the
# records sent, by service.name, body and attributes. ~10 s. Run setup.sh first.
# usage: selftest.sh [WORKDIR]     (default: a new temporary directory, removed on success)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PEERS_DIR=${LOGFERRY_PEERS_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/logferry-peers}
PY=$PEERS_DIR/otel-py/bin/python
[ -x "$PY" ] || { echo "selftest.sh: error: no $PY: run setup.sh first" >&2; exit 2; }
W=${1:-$(mktemp -d)}
mkdir -p "$W"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "selftest.sh: error: nothing listens on 127.0.0.1:$1" >&2; exit 1
}
pass=0 fail=0
check() { # NAME COMMAND...
  local name=$1; shift
  if "$@" >"$W/$name.out" 2>"$W/$name.err"; then pass=$((pass + 1)); echo "ok   $name"
  else fail=$((fail + 1)); echo "FAIL $name (exit $?)"; sed 's/^/    /' "$W/$name.err" | tail -n 5; fi
}

G=$(free_port) H=$(free_port)
"$HERE/otelcol.sh" receive "$G" "$H" "$W/recv" 2>"$W/recv.stderr" & pids+=($!)
wait_port "$G"; wait_port "$H"

check py-grpc          "$PY" "$HERE/send.py" --protocol grpc --endpoint "http://127.0.0.1:$G" --count 5 --service py-grpc
check py-grpc-gz-batch "$PY" "$HERE/send.py" --protocol grpc --endpoint "127.0.0.1:$G" --count 7 --batch --gzip --service py-grpc-gz-batch
check py-http          "$PY" "$HERE/send.py" --protocol http --endpoint "http://127.0.0.1:$H" --count 5 --service py-http
check py-http-gz-batch "$PY" "$HERE/send.py" --protocol http --endpoint "http://127.0.0.1:$H/v1/logs" --count 7 --batch --gzip --service py-http-gz-batch
for p in grpc http-json http-proto; do
  port=$H; [ "$p" = grpc ] && port=$G
  check "node-$p"       node "$HERE/send.mjs" --protocol "$p" --endpoint "http://127.0.0.1:$port" --count 4 --service "node-$p"
  check "node-$p-gz-batch" node "$HERE/send.mjs" --protocol "$p" --endpoint "http://127.0.0.1:$port" --count 6 --batch --gzip --service "node-$p-gz-batch"
done
check raw              "$PY" "$HERE/send_raw.py" --endpoint "127.0.0.1:$G" --count 3 --service raw
check raw-gz-kvlist    "$PY" "$HERE/send_raw.py" --endpoint "127.0.0.1:$G" --count 2 --gzip --kvlist-body --service raw-gz-kvlist
check py-refused "$PY" -c 'import subprocess, sys
r = subprocess.run([sys.argv[1], sys.argv[2], "--protocol", "grpc", "--endpoint", "http://127.0.0.1:1", "--count", "1", "--timeout", "1"])
sys.exit(0 if r.returncode == 1 else 1)' "$PY" "$HERE/send.py"
# shellcheck disable=SC2016  # $1/$2 expand in the inner bash
check node-refused bash -c '! node "$1" --protocol http-proto --endpoint http://127.0.0.1:1 --count 1 --timeout-ms 1000' _ "$HERE/send.mjs"
# shellcheck disable=SC2016
check raw-refused bash -c '"$1" "$2" --endpoint 127.0.0.1:1 --count 1 --timeout 1; [ $? = 2 ]' _ "$PY" "$HERE/send_raw.py"

# forward collectors in front of the receiver
FG=$(free_port) FH=$(free_port)
OTELCOL_GRPC_PORT=$FG OTELCOL_HTTP_PORT=off "$HERE/otelcol.sh" forward "127.0.0.1:$G" "$W/fwd-grpc" grpc \
  2>"$W/fwd-grpc.stderr" & pids+=($!)
OTELCOL_GRPC_PORT=off OTELCOL_HTTP_PORT=$FH "$HERE/otelcol.sh" forward "http://127.0.0.1:$H" "$W/fwd-http" http \
  2>"$W/fwd-http.stderr" & pids+=($!)
wait_port "$FG"; wait_port "$FH"
check fwd-grpc "$PY" "$HERE/send.py" --protocol grpc --endpoint "http://127.0.0.1:$FG" --count 4 --batch --service fwd-grpc
check fwd-http node "$HERE/send.mjs" --protocol http-proto --endpoint "http://127.0.0.1:$FH" --count 4 --batch --service fwd-http

# what the receiver wrote (forwarders ack before they deliver, so poll)
expect='{"py-grpc":5,"py-grpc-gz-batch":7,"py-http":5,"py-http-gz-batch":7,"node-grpc":4,"node-grpc-gz-batch":6,
"node-http-json":4,"node-http-json-gz-batch":6,"node-http-proto":4,"node-http-proto-gz-batch":6,"raw":3,
"raw-gz-kvlist":2,"fwd-grpc":4,"fwd-http":4}'
check out-json "$PY" - "$W/recv/out.json" "$expect" <<'EOF'
import json, sys, time
path, expect = sys.argv[1], json.loads(sys.argv[2])
deadline = time.time() + 10
while True:
    got, problems = {}, []
    with open(path) as f:
        for line in f:
            if not line.endswith("\n"):
                break  # half-flushed line
            for rl in json.loads(line).get("resourceLogs", []):
                svc = next(a["value"]["stringValue"] for a in rl["resource"]["attributes"] if a["key"] == "service.name")
                for sl in rl["scopeLogs"]:
                    for r in sl["logRecords"]:
                        attrs = {a["key"]: a["value"] for a in r.get("attributes", [])}
                        i = int(attrs["i"]["intValue"])
                        body = r["body"].get("stringValue") or r["body"]["kvlistValue"]["values"][0]["value"]["stringValue"]
                        if body != f"record {i}":
                            problems.append(f"{svc}: body {body!r} for i={i}")
                        got[svc] = got.get(svc, 0) + 1
    if got == expect or time.time() > deadline:
        break
    time.sleep(0.2)
print(json.dumps(got, sort_keys=True))
if got != expect or problems:
    print("expected", json.dumps(expect, sort_keys=True), problems[:5], file=sys.stderr)
    sys.exit(1)
EOF

echo "$pass passed, $fail failed"
if [ "$fail" = 0 ] && [ $# -eq 0 ]; then cleanup; trap - EXIT; rm -rf "$W"; fi
[ "$fail" = 0 ]
