#!/usr/bin/env bash
# Installs the real OTLP peers used by logferry's OTLP tests (idempotent, ~0.1 s when all is there):
#   otelcol    an OpenTelemetry Collector built from its Go modules (otelcol/: main.go, go.mod, go.sum;
#              receiver otlp; exporters otlp_grpc, otlp_http, file, debug; one release, see go.mod)
#              -> PEERS_DIR/otelcol-<release>/otelcol          (run it with otelcol.sh)
#   otel-py    a venv with the OpenTelemetry Python SDK, OTLP exporters, opentelemetry-proto and grpcio
#              pinned in requirements.txt                         (for send.py, send_raw.py)
#   otel-node  npm ci of node/package.json + package-lock.json:   the OpenTelemetry JS logs SDK and its
#              OTLP log exporters (grpc, http/json, http/protobuf)  (for send.mjs)
# usage: setup.sh [PEERS_DIR]
#   PEERS_DIR defaults to $LOGFERRY_PEERS_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/logferry-peers
#   (otelcol.sh and send.mjs look in the same place). Needs root only when a Debian package
#   (python3-venv, nodejs, npm) must be installed. Go must be on PATH (or in /usr/local/go/bin).
# Each part is redone only when its inputs changed (a stamp file holds their sha256).
# Prints NAME=PATH lines on stdout (otelcol, python, node_dir); progress goes to stderr.
# Environment: OTELCOL_BUILD_P (go build -p, default 2).
set -euo pipefail

die() { echo "setup.sh: error: $*" >&2; exit 1; }
note() { echo "setup.sh: $*" >&2; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PEERS_DIR=${1:-${LOGFERRY_PEERS_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/logferry-peers}}
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$PEERS_DIR"

# One setup at a time per PEERS_DIR (parallel CI jobs / test binaries).
if command -v flock >/dev/null; then
  exec 9>"$PEERS_DIR/.otlp-setup.lock"
  flock 9
fi

stamp_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

UPDATED=0
apt_install() {
  [ "$(id -u)" = 0 ] || die "missing $*; run this script as root to install them"
  command -v apt-get >/dev/null || die "missing $*, and no apt-get to install them"
  if [ "$UPDATED" = 0 ]; then
    note "running apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed"
    UPDATED=1
  fi
  note "installing $*"
  apt-get install -y -qq --no-install-recommends "$@" >&2 || die "apt-get install $* failed"
}

# ---- OpenTelemetry Collector ---------------------------------------------------------------------
SRC=$HERE/otelcol
RELEASE=$(awk '$1 == "go.opentelemetry.io/collector/otelcol" { print $2 }' "$SRC/go.mod")
[ -n "$RELEASE" ] || die "cannot read the collector release from $SRC/go.mod"
OTELCOL=$PEERS_DIR/otelcol-$RELEASE/otelcol
want=$(stamp_of "$SRC/go.mod" "$SRC/go.sum" "$SRC/main.go")
if [ -x "$OTELCOL" ] && [ "$(cat "$OTELCOL.stamp" 2>/dev/null)" = "$want" ]; then
  :
else
  command -v go >/dev/null || [ ! -x /usr/local/go/bin/go ] || PATH=/usr/local/go/bin:$PATH
  command -v go >/dev/null || die "go not found: the collector is built from source with Go >= 1.21"
  need=$(awk '$1 == "go" { print $2 }' "$SRC/go.mod")
  have=$(go env GOVERSION); have=${have#go}
  if [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]; then
    # The only newer Go this workplace serves (through the module proxy): see README.md.
    note "Go $have is older than go.mod's $need: using GOTOOLCHAIN=go1.27.3"
    export GOTOOLCHAIN=go1.27.3
  fi
  note "building the OpenTelemetry Collector $RELEASE (go build -p ${OTELCOL_BUILD_P:-2}; a few minutes the first time)"
  mkdir -p "$(dirname "$OTELCOL")"
  tmp=$OTELCOL.tmp.$$
  start=$SECONDS
  log=$(dirname "$OTELCOL")/build.log
  ( cd "$SRC" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" \
      nice -n 10 go build -trimpath -p "${OTELCOL_BUILD_P:-2}" \
      -ldflags "-s -w -X main.version=$RELEASE" -o "$tmp" . ) >"$log" 2>&1 \
    || { rm -f "$tmp"; tail -n 40 "$log" >&2; die "go build of the collector failed (full output: $log)"; }
  out=$("$tmp" --version 2>&1) || { rm -f "$tmp"; die "the built collector does not run: $out"; }
  mv -f "$tmp" "$OTELCOL"
  echo "$want" > "$OTELCOL.stamp"
  note "built $OTELCOL in $((SECONDS - start)) s ($out)"
fi

# ---- Python: venv with the OpenTelemetry SDK -----------------------------------------------------
PY_DIR=$PEERS_DIR/otel-py
command -v python3 >/dev/null || apt_install python3
want=$(stamp_of "$HERE/requirements.txt"; python3 -c 'import sys; print(sys.version)')
if [ -x "$PY_DIR/bin/python" ] && [ "$(cat "$PY_DIR/.stamp" 2>/dev/null)" = "$want" ]; then
  :
else
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
  note "creating the Python venv $PY_DIR"
  rm -rf "$PY_DIR"
  python3 -m venv "$PY_DIR" >&2 || die "python3 -m venv $PY_DIR failed"
  "$PY_DIR/bin/python" -m pip install -q --disable-pip-version-check --no-input \
      -r "$HERE/requirements.txt" >&2 || die "pip install -r requirements.txt failed"
  out=$("$PY_DIR/bin/python" -m pip check 2>&1) || die "pip check failed in $PY_DIR: $out"
  "$PY_DIR/bin/python" -c 'import grpc, opentelemetry.sdk._logs, opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc
import opentelemetry.exporter.otlp.proto.grpc._log_exporter, opentelemetry.exporter.otlp.proto.http._log_exporter' \
    >&2 || die "the OpenTelemetry Python packages do not import"
  echo "$want" > "$PY_DIR/.stamp"
fi

# ---- curl: the TLS/mTLS tests speak HTTP/2 and gRPC over TLS with it ----------------------------
command -v curl >/dev/null || apt_install curl ca-certificates

# ---- Node: the OpenTelemetry JS logs SDK ---------------------------------------------------------
NODE_DIR=$PEERS_DIR/otel-node
pkgs=()
command -v node >/dev/null || pkgs+=(nodejs)
command -v npm >/dev/null || pkgs+=(npm)
[ "${#pkgs[@]}" = 0 ] || apt_install "${pkgs[@]}"
want=$(stamp_of "$HERE/node/package.json" "$HERE/node/package-lock.json"; node --version)
if [ -d "$NODE_DIR/node_modules/@opentelemetry/sdk-logs" ] && [ "$(cat "$NODE_DIR/.stamp" 2>/dev/null)" = "$want" ]; then
  :
else
  note "installing the OpenTelemetry JS packages into $NODE_DIR (npm ci)"
  rm -rf "$NODE_DIR"
  mkdir -p "$NODE_DIR"
  cp "$HERE/node/package.json" "$HERE/node/package-lock.json" "$NODE_DIR/"
  # --ignore-scripts: the only install script in the tree is protobufjs's (a version notice).
  out=$(cd "$NODE_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error 2>&1) \
    || die "npm ci in $NODE_DIR failed: $out"
  ( cd "$NODE_DIR" && node -e 'for (const p of ["@opentelemetry/sdk-logs", "@opentelemetry/api-logs",
      "@opentelemetry/exporter-logs-otlp-grpc", "@opentelemetry/exporter-logs-otlp-http",
      "@opentelemetry/exporter-logs-otlp-proto", "@opentelemetry/resources"]) require(p)' ) >&2 \
    || die "the OpenTelemetry JS packages do not load with node $(node --version)"
  echo "$want" > "$NODE_DIR/.stamp"
fi

echo "otelcol=$OTELCOL"
echo "python=$PY_DIR/bin/python"
echo "node_dir=$NODE_DIR"
