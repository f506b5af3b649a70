#!/usr/bin/env bash
# Installs the real Beats / Elasticsearch-bulk peers used by logferry's "elasticsearch" (_bulk) and
# "beats" (Lumberjack v2) input tests (idempotent, ~0.1 s when all is there):
#   filebeat  Filebeat 7.17.29 (OSS distribution) built from its Go module github.com/elastic/beats/v7
#             (filebeat/: main.go, go.mod with beats' replace directives, go.sum)
#             -> PEERS_DIR/beats/filebeat-<version>/filebeat           (run it with filebeat.sh)
#   py        a venv with elasticsearch 8.19.3 (official client) and pylogbeat 2.1.0 (Lumberjack v2),
#             pinned in requirements.txt                                (for bulk.py, beats.py)
#   node      npm ci of node/package.json + package-lock.json: @elastic/elasticsearch 8.19.2
#                                                                       (for bulk.mjs)
# usage: setup.sh [PEERS_DIR]
#   PEERS_DIR defaults to $LOGFERRY_PEERS_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/logferry-peers;
#   everything goes to PEERS_DIR/beats/ (filebeat.sh and bulk.mjs look in the same place). Needs root
#   only when a Debian package (python3-venv, nodejs, npm) must be installed. Go must be on PATH (or
#   in /usr/local/go/bin) unless LOGFERRY_SKIP_FILEBEAT=1.
# Each part is redone only when its inputs changed (a stamp file holds their sha256).
# Prints NAME=PATH lines on stdout (filebeat, python, node_dir); progress goes to stderr.
# With LOGFERRY_SKIP_FILEBEAT=1 Filebeat is not built and the line is `filebeat=` (empty); a failed
# build is an error otherwise.
# Environment: FILEBEAT_BUILD_P (go build -p, default 2).
set -euo pipefail

die() { echo "setup.sh: error: $*" >&2; exit 1; }
note() { echo "setup.sh: $*" >&2; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PEERS_DIR=${1:-${LOGFERRY_PEERS_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/logferry-peers}}
BEATS_DIR=$PEERS_DIR/beats
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$BEATS_DIR"

# One setup at a time per PEERS_DIR (parallel CI jobs / test binaries).
if command -v flock >/dev/null; then
  exec 9>"$PEERS_DIR/.beats-setup.lock"
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

# ---- Filebeat ------------------------------------------------------------------------------------
SRC=$HERE/filebeat
FILEBEAT=
if [ "${LOGFERRY_SKIP_FILEBEAT:-0}" = 1 ]; then
  note "LOGFERRY_SKIP_FILEBEAT=1: not building Filebeat"
else
  VERSION=$(awk '$1 == "require" && $2 == "github.com/elastic/beats/v7" { print $3 }' "$SRC/go.mod")
  [ -n "$VERSION" ] || die "cannot read the beats version from $SRC/go.mod"
  FILEBEAT=$BEATS_DIR/filebeat-$VERSION/filebeat
  want=$(stamp_of "$SRC/go.mod" "$SRC/go.sum" "$SRC/main.go")
  if [ -x "$FILEBEAT" ] && [ "$(cat "$FILEBEAT.stamp" 2>/dev/null)" = "$want" ]; then
    :
  else
    command -v go >/dev/null || [ ! -x /usr/local/go/bin/go ] || PATH=/usr/local/go/bin:$PATH
    command -v go >/dev/null || die "go not found: Filebeat is built from source with Go >= 1.23 (or set LOGFERRY_SKIP_FILEBEAT=1)"
    need=$(awk '$1 == "go" { print $2 }' "$SRC/go.mod")
    have=$(go env GOVERSION); have=${have#go}
    if [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]; then
      # The only newer Go this workplace serves (through the module proxy): see ../otlp/README.md.
      note "Go $have is older than go.mod's $need: using GOTOOLCHAIN=go1.27.3"
      export GOTOOLCHAIN=go1.27.3
    fi
    mkdir -p "$(dirname "$FILEBEAT")"
    log=$(dirname "$FILEBEAT")/build.log
    # The version's commit and tag time go into the binary (and so into its User-Agent), as in
    # Elastic's builds; both come from the module proxy's .info file for the version.
    ( cd "$SRC" && GOFLAGS="-mod=readonly" go mod download github.com/elastic/beats/v7 ) >"$log" 2>&1 \
      || { tail -n 20 "$log" >&2; die "go mod download github.com/elastic/beats/v7@$VERSION failed (see $log)"; }
    info=$(go env GOMODCACHE)/cache/download/github.com/elastic/beats/v7/@v/$VERSION.info
    commit=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("Origin",{}).get("Hash","unknown"))' "$info" 2>/dev/null || echo unknown)
    btime=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Time"])' "$info" 2>/dev/null || echo unknown)
    note "building Filebeat $VERSION (go build -p ${FILEBEAT_BUILD_P:-2}; ~100 s, ~1.1 GB module + ~0.65 GB build cache the first time)"
    tmp=$FILEBEAT.tmp.$$
    start=$SECONDS
    pkg=github.com/elastic/beats/v7/libbeat/version
    ( cd "$SRC" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" \
        nice -n 10 go build -trimpath -p "${FILEBEAT_BUILD_P:-2}" \
        -ldflags "-s -w -X $pkg.commit=$commit -X $pkg.buildTime=$btime" -o "$tmp" . ) >>"$log" 2>&1 \
      || { rm -f "$tmp"; tail -n 40 "$log" >&2; die "go build of Filebeat failed (full output: $log; LOGFERRY_SKIP_FILEBEAT=1 skips it)"; }
    out=$("$tmp" version 2>&1) || { rm -f "$tmp"; die "the built filebeat does not run: $out"; }
    mv -f "$tmp" "$FILEBEAT"
    echo "$want" > "$FILEBEAT.stamp"
    note "built $FILEBEAT in $((SECONDS - start)) s ($out)"
  fi
fi

# ---- Python: venv with elasticsearch + pylogbeat -------------------------------------------------
PY_DIR=$BEATS_DIR/py
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
  "$PY_DIR/bin/python" -c 'import elasticsearch, elasticsearch.helpers, pylogbeat
assert elasticsearch.__versionstr__ == "8.19.3", elasticsearch.__versionstr__
assert pylogbeat.__version__ == "2.1.0", pylogbeat.__version__' \
    >&2 || die "elasticsearch / pylogbeat do not import"
  echo "$want" > "$PY_DIR/.stamp"
fi

# ---- Node: @elastic/elasticsearch ----------------------------------------------------------------
NODE_DIR=$BEATS_DIR/node
pkgs=()
command -v node >/dev/null || pkgs+=(nodejs)
command -v npm >/dev/null || pkgs+=(npm)
[ "${#pkgs[@]}" = 0 ] || apt_install "${pkgs[@]}"
want=$(stamp_of "$HERE/node/package.json" "$HERE/node/package-lock.json"; node --version)
if [ -d "$NODE_DIR/node_modules/@elastic/elasticsearch" ] && [ "$(cat "$NODE_DIR/.stamp" 2>/dev/null)" = "$want" ]; then
  :
else
  note "installing @elastic/elasticsearch into $NODE_DIR (npm ci)"
  rm -rf "$NODE_DIR"
  mkdir -p "$NODE_DIR"
  cp "$HERE/node/package.json" "$HERE/node/package-lock.json" "$NODE_DIR/"
  # --ignore-scripts: no package in the tree has an install script.
  out=$(cd "$NODE_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error 2>&1) \
    || die "npm ci in $NODE_DIR failed: $out"
  ( cd "$NODE_DIR" && node -e 'const { Client } = require("@elastic/elasticsearch");
      const v = JSON.parse(require("fs").readFileSync("node_modules/@elastic/elasticsearch/package.json")).version;
      if (v !== "8.19.2" || typeof Client !== "function") throw new Error("unexpected @elastic/elasticsearch " + v)' ) >&2 \
    || die "@elastic/elasticsearch does not load with node $(node --version)"
  echo "$want" > "$NODE_DIR/.stamp"
fi

echo "filebeat=$FILEBEAT"
echo "python=$PY_DIR/bin/python"
echo "node_dir=$NODE_DIR"
