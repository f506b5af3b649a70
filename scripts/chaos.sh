#!/usr/bin/env bash
# The long chaos run: the kill -9 and flapping-destination tests of tests/crash_safety.rs
# and the outage tests of tests/outage.rs with LOGFERRY_CHAOS_SCALE times the requests,
# lines, kills and outage time (default 10: 60 kill -9 cycles and 200 000 records per
# input; destinations down for 200 s). Each test prints its cycles, records acknowledged,
# delivered and duplicates. Run after `bash scripts/test.sh` has set up the peers once.
#   bash scripts/chaos.sh [SCALE]
set -euo pipefail
cd "$(dirname "$0")/.."
export LOGFERRY_CHAOS_SCALE="${1:-10}"
cargo build --locked --bin logferry
log=${TMPDIR:-/tmp}/logferry-chaos.log
echo "full output: $log"
status=0
cargo test --locked --test main -- crash_safety outage --test-threads 1 --nocapture >"$log" 2>&1 || status=$?
grep -E "kill -9 cycles|kills,|destination down|^test |test result" "$log"
if [ "$status" -ne 0 ]; then
    echo "FAILED (status $status); the end of $log:"
    tail -n 60 "$log"
fi
exit "$status"
