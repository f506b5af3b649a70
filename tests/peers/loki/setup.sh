#!/usr/bin/env bash
# Installs the third-party Loki push clients used by logferry's Loki tests (idempotent, ~0.1 s when all
# is there):
#   py    a venv with python-logging-loki 0.3.1 (JSON push), pinned in requirements.txt   (for push.py)
#   node  npm ci of node/package.json + package-lock.json: winston-loki 6.1.7 (protobuf + raw snappy,
#         or JSON), winston 3.19.0 and snappy 7.4.3 (a prebuilt N-API binary from the npm registry,
#         @napi-rs/snappy-<platform>; nothing is compiled)                                 (for push.mjs)
# usage: setup.sh [PEERS_DIR]
#   PEERS_DIR defaults to $LOGFERRY_PEERS_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/logferry-peers;
#   everything goes to PEERS_DIR/loki/{py,node} (push.mjs looks in the same place). Needs root only when
#   a Debian package (python3-venv, nodejs, npm) must be installed.
# Each part is redone only when its inputs changed (a stamp file holds their sha256).
# Prints NAME=PATH lines on stdout (python, node_dir); progress goes to stderr.
set -euo pipefail

die() { echo "setup.sh: error: $*" >&2; exit 1; }
note() { echo "setup.sh: $*" >&2; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PEERS_DIR=${1:-${LOGFERRY_PEERS_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/logferry-peers}}
LOKI_DIR=$PEERS_DIR/loki
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$LOKI_DIR"

# One setup at a time per PEERS_DIR (parallel CI jobs / test binaries).
if command -v flock >/dev/null; then
  exec 9>"$PEERS_DIR/.loki-setup.lock"
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

# ---- Python: venv with python-logging-loki -------------------------------------------------------
PY_DIR=$LOKI_DIR/py
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
  "$PY_DIR/bin/python" -c 'import logging_loki, requests, rfc3339
assert logging_loki.__version__ == "0.3.1", logging_loki.__version__' \
    >&2 || die "python-logging-loki does not import"
  echo "$want" > "$PY_DIR/.stamp"
fi

# ---- Node: winston-loki + snappy -----------------------------------------------------------------
NODE_DIR=$LOKI_DIR/node
pkgs=()
command -v node >/dev/null || pkgs+=(nodejs)
command -v npm >/dev/null || pkgs+=(npm)
[ "${#pkgs[@]}" = 0 ] || apt_install "${pkgs[@]}"
want=$(stamp_of "$HERE/node/package.json" "$HERE/node/package-lock.json"; node --version; uname -m)
if [ -d "$NODE_DIR/node_modules/winston-loki" ] && [ "$(cat "$NODE_DIR/.stamp" 2>/dev/null)" = "$want" ]; then
  :
else
  note "installing winston-loki into $NODE_DIR (npm ci)"
  rm -rf "$NODE_DIR"
  mkdir -p "$NODE_DIR"
  cp "$HERE/node/package.json" "$HERE/node/package-lock.json" "$NODE_DIR/"
  # --ignore-scripts: the only install script in the tree is protobufjs's (a version notice); snappy's
  # native code comes as the optional dependency @napi-rs/snappy-<platform>, no build step.
  out=$(cd "$NODE_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error 2>&1) \
    || die "npm ci in $NODE_DIR failed: $out"
  # winston-loki silently falls back to JSON when snappy does not load: make sure it does.
  ( cd "$NODE_DIR" && node -e 'require("winston"); require("winston-loki");
      const s = require("snappy"), b = Buffer.from("logferry logferry logferry");
      if (!s.uncompressSync(s.compressSync(b)).equals(b)) throw new Error("snappy round trip failed")' ) >&2 \
    || die "winston-loki or its snappy binding does not load with node $(node --version)"
  echo "$want" > "$NODE_DIR/.stamp"
fi

echo "python=$PY_DIR/bin/python"
echo "node_dir=$NODE_DIR"
