#!/usr/bin/env bash
# Runs every fuzz target for SECONDS seconds each (default 20) with cargo-fuzz on the nightly
# toolchain, installing both when missing. A crash fails the run and leaves the input in
# fuzz/artifacts/TARGET/. Longer runs: `bash fuzz/run.sh 600`.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-20}"

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

targets=$(cargo +nightly fuzz list)
# One build for all targets; the runs then use the built binaries, so they neither rebuild
# nor follow a source tree that changes meanwhile.
cargo +nightly fuzz build 2>&1 | tail -n 3
bin="target/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"
for target in $targets; do
  mkdir -p "corpus/$target" "artifacts/$target"
  # Seed each corpus from the checked-in seeds so short runs start from real input.
  [ -d "seeds/$target" ] && cp -n seeds/"$target"/* "corpus/$target/" 2>/dev/null || true
  printf '%-16s ' "$target"
  log="$(mktemp)"
  if ! "$bin/$target" "corpus/$target" -artifact_prefix="artifacts/$target/" \
      -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz target $target failed; the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  grep -E '^(#[0-9]+\s+DONE|Done [0-9]+ runs)' "$log" | tail -n 1 || tail -n 1 "$log"
  rm -f "$log"
done
