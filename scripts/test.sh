#!/usr/bin/env bash
# Runs every test of logferry on a fresh machine: installs what the tests need when it is
# missing (Rust components, real peers from Debian/PyPI/npm/Go), then format, lints, unit,
# end-to-end and benchmark-smoke tests, then every install path (packaging/test.sh). This is the command README.md gives and .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain components"
for component in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^${component}" || rustup component add "$component"
done

for setup in tests/peers/*/setup.sh; do
  [ -f "$setup" ] || continue
  step "peers: $setup"
  bash "$setup"
done

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --all-targets --locked -- -D warnings

step "cargo test (unit, end to end, doc)"
cargo test --all-targets --locked
cargo test --doc --locked

step "fuzzing: every target briefly (cargo fuzz, nightly; longer runs: bash fuzz/run.sh 600)"
bash fuzz/run.sh 20

step "packaging: static binary, container image, .deb + systemd, Kubernetes manifests"
bash packaging/test.sh

step "all tests passed"
