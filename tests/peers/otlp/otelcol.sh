#!/usr/bin/env bash
# Runs the OpenTelemetry Collector built by setup.sh with a generated config, in the foreground (exec:
# the caller's child PID is the collector; SIGTERM/SIGINT stop it cleanly, exit status 0).
#
#   otelcol.sh receive GRPC_PORT HTTP_PORT WORKDIR
#       OTLP receiver on 127.0.0.1:GRPC_PORT (gRPC) and 127.0.0.1:HTTP_PORT (HTTP, /v1/logs etc.)
#       -> file exporter: one OTLP/JSON ExportRequest per line in WORKDIR/out.json (logs, traces and
#       metrics all go there), flushed every 100 ms.
#   otelcol.sh forward ENDPOINT WORKDIR [grpc|http]
#       OTLP receiver on 127.0.0.1:$OTELCOL_GRPC_PORT and 127.0.0.1:$OTELCOL_HTTP_PORT
#       -> otlp_grpc exporter (grpc, the default; ENDPOINT = HOST:PORT) or otlp_http exporter
#       (http; ENDPOINT = http://HOST:PORT, the exporter appends /v1/logs), plaintext, retry on.
#       What it received is also written to WORKDIR/out.json as in receive mode.
#
# A port is a number (0 = any free port, which the caller cannot learn), or "off" to leave that
# protocol out. In forward mode OTELCOL_GRPC_PORT / OTELCOL_HTTP_PORT default to 0.
# Optional environment:
#   OTELCOL                 collector binary (default: PEERS_DIR/otelcol-<release>/otelcol from setup.sh)
#   LOGFERRY_PEERS_DIR      PEERS_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/logferry-peers)
#   OTELCOL_COMPRESSION     forward: exporter compression, gzip (collector default) | none | zstd | snappy
#   OTELCOL_HTTP_ENCODING   forward http: proto (default) | json
#   OTELCOL_DEBUG           basic | normal | detailed: add a debug exporter printing to stderr
#   OTELCOL_LOG_LEVEL       collector's own log level (default info)
# Files in WORKDIR: otelcol.yaml (the config), out.json, otelcol.log (the collector's own log, also on
# stderr). Ready when the receiver's TCP port accepts connections.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "otelcol.sh: error: $*" >&2; exit 2; }
usage() {
  die "usage: otelcol.sh receive GRPC_PORT HTTP_PORT WORKDIR | otelcol.sh forward ENDPOINT WORKDIR [grpc|http]"
}

PEERS_DIR=${LOGFERRY_PEERS_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/logferry-peers}
RELEASE=$(awk '$1 == "go.opentelemetry.io/collector/otelcol" { print $2 }' "$HERE/otelcol/go.mod")
[ -n "$RELEASE" ] || die "cannot read the collector release from $HERE/otelcol/go.mod"
OTELCOL=${OTELCOL:-$PEERS_DIR/otelcol-$RELEASE/otelcol}
[ -x "$OTELCOL" ] || die "no collector at $OTELCOL: run tests/peers/otlp/setup.sh first"

# YAML single-quoted scalar.
yq() { printf "'%s'" "${1//\'/\'\'}"; }

port_ok() { [[ $1 == off || ( $1 =~ ^[0-9]+$ && $1 -le 65535 ) ]]; }

# receivers section for the given gRPC and HTTP ports (checked before)
receivers() {
  local grpc=$1 http=$2
  echo "receivers:"
  echo "  otlp:"
  echo "    protocols:"
  [ "$grpc" = off ] || printf '      grpc:\n        endpoint: 127.0.0.1:%s\n' "$grpc"
  [ "$http" = off ] || printf '      http:\n        endpoint: 127.0.0.1:%s\n' "$http"
}

MODE=${1:-}
case "$MODE" in
  receive)
    [ $# -eq 4 ] || usage
    GRPC_PORT=$2 HTTP_PORT=$3 WORKDIR=$4
    ;;
  forward)
    [ $# -eq 3 ] || [ $# -eq 4 ] || usage
    ENDPOINT=$2 WORKDIR=$3 PROTO=${4:-grpc}
    GRPC_PORT=${OTELCOL_GRPC_PORT:-0} HTTP_PORT=${OTELCOL_HTTP_PORT:-0}
    case "$PROTO" in grpc | http) ;; *) die "bad forward protocol '$PROTO' (grpc or http)" ;; esac
    [ -n "$ENDPOINT" ] || die "empty ENDPOINT"
    ;;
  *) usage ;;
esac

port_ok "$GRPC_PORT" || die "bad gRPC port '$GRPC_PORT' (a number, or off)"
port_ok "$HTTP_PORT" || die "bad HTTP port '$HTTP_PORT' (a number, or off)"
[ "$GRPC_PORT" != off ] || [ "$HTTP_PORT" != off ] || die "both gRPC and HTTP ports are off"
[ -n "$WORKDIR" ] || die "empty WORKDIR"

mkdir -p "$WORKDIR"
WORKDIR=$(cd "$WORKDIR" && pwd)
CONF=$WORKDIR/otelcol.yaml
OUT=$WORKDIR/out.json

exporters=(file)
{
  receivers "$GRPC_PORT" "$HTTP_PORT"
  echo "exporters:"
  echo "  file:"
  echo "    path: $(yq "$OUT")"
  echo "    format: json"
  echo "    flush_interval: 100ms"
  if [ "$MODE" = forward ]; then
    comp=${OTELCOL_COMPRESSION:-}
    retry='    retry_on_failure: {enabled: true, initial_interval: 100ms, max_interval: 1s, max_elapsed_time: 60s}'
    if [ "$PROTO" = grpc ]; then
      ep=${ENDPOINT#http://}; ep=${ep%/}
      echo "  otlp_grpc:"
      echo "    endpoint: $(yq "$ep")"
      echo "    tls: {insecure: true}"
      exporters+=(otlp_grpc)
    else
      ep=$ENDPOINT
      [[ $ep == http://* || $ep == https://* ]] || ep=http://$ep
      echo "  otlp_http:"
      echo "    endpoint: $(yq "${ep%/}")"
      echo "    encoding: ${OTELCOL_HTTP_ENCODING:-proto}"
      exporters+=(otlp_http)
    fi
    echo "$retry"
    echo "    timeout: 5s"
    [ -z "$comp" ] || echo "    compression: $comp"
  fi
  if [ -n "${OTELCOL_DEBUG:-}" ]; then
    echo "  debug:"
    echo "    verbosity: $OTELCOL_DEBUG"
    exporters+=(debug)
  fi
  list=$(IFS=,; echo "${exporters[*]}")
  echo "service:"
  echo "  telemetry:"
  echo "    metrics: {level: none}"      # no :8888 listener, so parallel collectors don't collide
  echo "    logs:"
  echo "      level: ${OTELCOL_LOG_LEVEL:-info}"
  echo "      output_paths: [stderr, $(yq "$WORKDIR/otelcol.log")]"
  echo "      error_output_paths: [stderr]"
  echo "  pipelines:"
  for sig in logs traces metrics; do
    echo "    $sig: {receivers: [otlp], exporters: [$list]}"
  done
} > "$CONF"

exec "$OTELCOL" --config "file:$CONF"
