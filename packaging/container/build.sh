#!/bin/bash
# Builds the logferry container image from a pre-built static binary (no Rust is compiled).
#   bash packaging/container/build.sh [BINARY] [TAG]
# BINARY defaults to target/x86_64-unknown-linux-musl/release/logferry; TAG to
# logferry:VERSION (also tagged logferry:latest). Uses podman, else buildah, else docker.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${1:-$ROOT/target/x86_64-unknown-linux-musl/release/logferry}
VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n1)
TAG=${2:-logferry:$VERSION}
[ -x "$BIN" ] || { echo "container/build.sh: no binary at $BIN (cargo build --release --target x86_64-unknown-linux-musl)" >&2; exit 1; }
if readelf -l "$BIN" | grep -q 'program interpreter'; then
  echo "container/build.sh: $BIN is not statically linked; the image has no libc" >&2; exit 1
fi
REVISION=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
CA=/etc/ssl/certs/ca-certificates.crt
[ -f "$CA" ] || { echo "container/build.sh: no $CA (apt-get install ca-certificates)" >&2; exit 1; }

CTX=$(mktemp -d)
trap 'rm -rf "$CTX"' EXIT
strip -o "$CTX/logferry" "$BIN" 2>/dev/null || cp "$BIN" "$CTX/logferry"
chmod 0755 "$CTX/logferry"
cp "$ROOT/config/default.toml" "$CTX/default.toml"
cp "$ROOT/packaging/container/passwd" "$ROOT/packaging/container/group" "$CA" "$CTX/"
mkdir "$CTX/data"
chmod 0644 "$CTX"/{default.toml,passwd,group,ca-certificates.crt}

if command -v podman >/dev/null; then BUILD=(podman build --layers=false)
elif command -v buildah >/dev/null; then BUILD=(buildah bud --layers=false)
else BUILD=(docker build); fi
ENGINE=${BUILD[0]}
image_id() {
  if [ "$ENGINE" = buildah ]; then buildah inspect --type image --format '{{.FromImageID}}' "$1"
  else "$ENGINE" image inspect --format '{{.Id}}' "$1"; fi
}
OLD=$(image_id "$TAG" 2>/dev/null || true)
"${BUILD[@]}" --quiet -f "$ROOT/packaging/Containerfile" \
  --build-arg VERSION="$VERSION" --build-arg REVISION="$REVISION" \
  -t "$TAG" -t "${TAG%:*}:latest" "$CTX" >/dev/null
# A rebuild leaves the previous image untagged: drop it (ignored if still in use).
NEW=$(image_id "$TAG")
if [ -n "$OLD" ] && [ "$OLD" != "$NEW" ]; then "$ENGINE" rmi "$OLD" >/dev/null 2>&1 || true; fi
echo "$TAG"
