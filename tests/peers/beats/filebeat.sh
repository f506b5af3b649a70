#!/usr/bin/env bash
# Run the Filebeat that setup.sh builds (7.17.29, OSS) in the foreground, tailing files and shipping to
# an Elasticsearch-compatible _bulk endpoint or to a Beats / Lumberjack v2 endpoint.
#
# usage: filebeat.sh elasticsearch URL  'GLOB' WORKDIR     (output.elasticsearch.hosts: [URL])
#        filebeat.sh logstash HOST:PORT 'GLOB' WORKDIR     (output.logstash.hosts: [HOST:PORT])
#   URL      http://HOST:PORT[/PATH]; several, comma-separated, give several hosts.
#   GLOB     the file(s) to tail (quote it); read from the beginning; new lines are picked up within
#            ~0.5 s (reader backoff 100ms..500ms), new files within 1 s (scanner check_interval).
#   WORKDIR  gets filebeat.yml, data/ (registry: delete it to re-read files from the start) and
#            logs/; Filebeat logs to stderr (-e).
# This script execs Filebeat: $! of `filebeat.sh ... &` is Filebeat's pid; SIGTERM/SIGINT stop it
# cleanly (exit status 0).
#
# Environment (all optional):
#   FILEBEAT_BIN          the binary (default: PEERS_DIR/beats/filebeat-v7.17.29/filebeat, PEERS_DIR as
#                         in setup.sh)
#   FILEBEAT_INPUT        filestream (default; id "logferry-test") or log (the legacy input)
#   FILEBEAT_INDEX_SETUP  0 (default): setup.ilm.enabled: false and setup.template.enabled: false, so
#                         the connect sequence is only GET / + GET /_license (see README.md);
#                         1: Filebeat's defaults (ILM "auto" and the legacy template: it then calls
#                         GET /_xpack, /_ilm/policy/filebeat, /_alias/filebeat-7.17.29,
#                         /_cat/templates/filebeat-7.17.29 and PUTs what is missing, see README.md)
#   FILEBEAT_BULK_MAX_SIZE  events per _bulk request / Lumberjack window (defaults 50 / 2048)
#   FILEBEAT_COMPRESSION  compression_level (defaults: elasticsearch 0 = no gzip; logstash 3 = zlib
#                         'C' frames; 0 = bare 'J' frames)
#   FILEBEAT_EXTRA_YAML   YAML appended verbatim to filebeat.yml (keys that are not already set, e.g.
#                         "output.elasticsearch.headers: {X-Test: 1}" or "output.logstash.pipelining: 0")
#   FILEBEAT_LOG_LEVEL    logging.level (default info; debug shows every request)
# Events carry: @timestamp, message, log.offset, log.file.path, input.type, ecs.version 1.12.0,
# host.name, agent.{type,version,hostname,ephemeral_id,id,name} (no add_host_metadata or other
# processors: this filebeat.yml has none). Queue: the 7.17 defaults (mem queue, 4096 events,
# flush.min_events 2048, flush.timeout 1s: a batch goes out at most 1 s after its first event).
set -euo pipefail

die() { echo "filebeat.sh: error: $*" >&2; exit 2; }

[ $# = 4 ] || die "usage: filebeat.sh elasticsearch|logstash URL|HOST:PORT 'GLOB' WORKDIR"
MODE=$1 TARGET=$2 GLOB=$3 WORKDIR=$4
PEERS_DIR=${LOGFERRY_PEERS_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/logferry-peers}
BIN=${FILEBEAT_BIN:-$PEERS_DIR/beats/filebeat-v7.17.29/filebeat}
[ -x "$BIN" ] || die "no filebeat at $BIN: run tests/peers/beats/setup.sh first"
mkdir -p "$WORKDIR/data" "$WORKDIR/logs"
WORKDIR=$(cd "$WORKDIR" && pwd)

# YAML double-quoted scalar.
q() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }
hosts=$(IFS=,; for h in $TARGET; do printf '%s, ' "$(q "$h")"; done)
hosts="[${hosts%, }]"

CFG=$WORKDIR/filebeat.yml
{
  echo "# written by tests/peers/beats/filebeat.sh"
  case ${FILEBEAT_INPUT:-filestream} in
    filestream)
      cat <<EOF
filebeat.inputs:
  - type: filestream
    id: logferry-test
    paths: [$(q "$GLOB")]
    prospector.scanner.check_interval: 1s
    backoff.init: 100ms
    backoff.max: 500ms
EOF
      ;;
    log)
      cat <<EOF
filebeat.inputs:
  - type: log
    paths: [$(q "$GLOB")]
    scan_frequency: 1s
    backoff: 100ms
    max_backoff: 500ms
EOF
      ;;
    *) die "FILEBEAT_INPUT must be filestream or log" ;;
  esac
  case $MODE in
    elasticsearch)
      echo "output.elasticsearch.hosts: $hosts"
      [ -z "${FILEBEAT_BULK_MAX_SIZE:-}" ] || echo "output.elasticsearch.bulk_max_size: $FILEBEAT_BULK_MAX_SIZE"
      [ -z "${FILEBEAT_COMPRESSION:-}" ] || echo "output.elasticsearch.compression_level: $FILEBEAT_COMPRESSION"
      echo "output.elasticsearch.backoff.init: 1s"
      echo "output.elasticsearch.backoff.max: 5s"
      if [ "${FILEBEAT_INDEX_SETUP:-0}" = 0 ]; then
        # No ILM and no template: index filebeat-7.17.29-YYYY.MM.DD, no index-management requests.
        echo "setup.ilm.enabled: false"
        echo "setup.template.enabled: false"
      fi
      ;;
    logstash)
      echo "output.logstash.hosts: $hosts"
      [ -z "${FILEBEAT_BULK_MAX_SIZE:-}" ] || echo "output.logstash.bulk_max_size: $FILEBEAT_BULK_MAX_SIZE"
      [ -z "${FILEBEAT_COMPRESSION:-}" ] || echo "output.logstash.compression_level: $FILEBEAT_COMPRESSION"
      echo "output.logstash.backoff.init: 1s"
      echo "output.logstash.backoff.max: 5s"
      ;;
    *) die "mode must be elasticsearch or logstash" ;;
  esac
  cat <<EOF
path.home: $(q "$WORKDIR")
path.data: $(q "$WORKDIR/data")
path.logs: $(q "$WORKDIR/logs")
logging.level: ${FILEBEAT_LOG_LEVEL:-info}
logging.metrics.enabled: false
EOF
  [ -z "${FILEBEAT_EXTRA_YAML:-}" ] || printf '%s\n' "$FILEBEAT_EXTRA_YAML"
} > "$CFG"

exec "$BIN" -e -c "$CFG" --strict.perms=false --path.home "$WORKDIR" --path.config "$WORKDIR" \
  --path.data "$WORKDIR/data" --path.logs "$WORKDIR/logs"
