#!/usr/bin/env bash
# The long chaos run: the kill -9 and flapping-destination tests of tests/crash_safety.rs
# with LOGFERRY_CHAOS_SCALE times the requests, lines and kills (default 10: 60 kill -9
# cycles and 200 000 records per input). Each test prints its cycles, records acknowledged,
# delivered and duplicates. Run after `bash scripts/test.sh` has set up the peers once.
#   bash scripts/chaos.sh [SCALE]
set -euo pipefail
cd "$(dirname "$0")/.."
export LOGFERRY_CHAOS_SCALE="${1:-10}"
cargo build --locked --bin logferry
cargo test --locked --test main crash_safety -- --test-threads 1 --nocapture 2>&1 |
    grep -E "kill -9 cycles|kills,|^test |test result"
