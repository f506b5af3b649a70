#!/bin/bash
# Builds the logferry container image from a pre-built binary (no Rust is compiled).
#   bash packaging/container/build.sh [BINARY] [TAG]
# BINARY defaults to target/release/logferry (the glibc build, the faster one; the shared
# libraries it needs and the loader are copied into the image); a static musl binary works
# too. TAG defaults to logferry:VERSION (also tagged logferry:latest). Uses podman, else
# buildah, else docker.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${1:-$ROOT/target/release/logferry}
VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n1)
TAG=${2:-logferry:$VERSION}
[ -x "$BIN" ] || { echo "container/build.sh: no binary at $BIN (cargo build --release)" >&2; exit 1; }
REVISION=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
CA=/etc/ssl/certs/ca-certificates.crt
[ -f "$CA" ] || { echo "container/build.sh: no $CA (apt-get install ca-certificates)" >&2; exit 1; }

CTX=$(mktemp -d)
trap 'rm -rf "$CTX"' EXIT
strip -o "$CTX/logferry" "$BIN" 2>/dev/null || cp "$BIN" "$CTX/logferry"
chmod 0755 "$CTX/logferry"
cp "$ROOT/config/default.toml" "$CTX/default.toml"
cp "$ROOT/packaging/container/passwd" "$ROOT/packaging/container/group" "$CA" "$CTX/"
mkdir "$CTX/data" "$CTX/libs"
# A dynamically linked binary: its shared libraries and the loader, at their paths.
if readelf -l "$BIN" | grep -q 'program interpreter'; then
  for lib in $(ldd "$BIN" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
    mkdir -p "$CTX/libs$(dirname "$lib")"
    cp -L "$lib" "$CTX/libs$lib"
  done
  [ -n "$(find "$CTX/libs" -name 'ld-linux*')" ] || { echo "container/build.sh: no loader found for $BIN" >&2; exit 1; }
fi
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
