#!/usr/bin/env bash
# Installs the real syslog senders used by logferry's syslog input tests (idempotent, quick when done):
#   logger    util-linux (package bsdutils on Debian)       -> /usr/bin/logger
#   rsyslogd  rsyslog + rsyslog-gnutls + rsyslog-openssl     -> /usr/sbin/rsyslogd (TLS drivers gtls and ossl)
#   syslog-ng syslog-ng-core. It Conflicts: with rsyslog (both provide system-log-daemon), so unless a
#             syslog-ng is already on PATH its .deb (and the dependencies not installed) are only unpacked
#             into $PEERS_DIR/syslog-ng-root and run through the wrapper $PEERS_DIR/bin/syslog-ng.
#   openssl   test certificates (certs.sh) and TLS receivers;  socat  plain receivers for the self-test.
# usage: setup.sh [PEERS_DIR]
#   PEERS_DIR defaults to $LOGFERRY_PEERS_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/logferry-peers
#   (syslog-ng.sh looks in the same place). Needs root only when something must be installed.
# Prints NAME=PATH lines on stdout (logger, rsyslogd, syslog-ng, openssl, socat); progress goes to stderr.
set -euo pipefail

die() { echo "setup.sh: error: $*" >&2; exit 1; }
note() { echo "setup.sh: $*" >&2; }

PEERS_DIR=${1:-${LOGFERRY_PEERS_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/logferry-peers}}
export DEBIAN_FRONTEND=noninteractive

command -v dpkg-query >/dev/null && command -v apt-get >/dev/null \
  || die "this script needs a Debian-like system (dpkg-query and apt-get not found)"

installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]; }

UPDATED=0
apt_update_once() {
  [ "$UPDATED" = 1 ] && return 0
  note "running apt-get update"
  apt-get update -qq >&2 || die "apt-get update failed"
  UPDATED=1
}

# ---- packages installed normally -----------------------------------------------------------------
want=(rsyslog rsyslog-gnutls rsyslog-openssl openssl socat)
command -v logger >/dev/null || want+=(bsdutils)
missing=()
for p in "${want[@]}"; do installed "$p" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing packages ${missing[*]}; run this script as root to install them"
  apt_update_once
  note "installing ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
    || die "apt-get install ${missing[*]} failed"
fi

# ---- syslog-ng --------------------------------------------------------------------------------------
SNG_ROOT=$PEERS_DIR/syslog-ng-root
SNG_WRAPPER=$PEERS_DIR/bin/syslog-ng

# The not-installed packages in the dependency closure of "$@" (first alternative of each dependency).
closure_not_installed() {
  local todo=("$@") seen=" " p d
  while [ "${#todo[@]}" -gt 0 ]; do
    p=${todo[0]}; todo=("${todo[@]:1}")
    case "$seen" in *" $p "*) continue ;; esac
    seen+="$p "
    installed "$p" && continue
    if ! apt-cache show --no-all-versions "$p" >/dev/null 2>&1; then
      note "warning: no package '$p' (virtual?), skipped"; continue
    fi
    echo "$p"
    for d in $(apt-cache show --no-all-versions "$p" | sed -n 's/^\(Pre-\)\{0,1\}Depends: //p' \
                | tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/:any//' -e 's/[[:space:]]//g'); do
      [ -n "$d" ] && todo+=("$d")
    done
  done
}

sng_wrapper_ok() { [ -x "$SNG_WRAPPER" ] && "$SNG_WRAPPER" --version >/dev/null 2>&1; }

if command -v syslog-ng >/dev/null 2>&1; then
  SYSLOG_NG=$(command -v syslog-ng)          # a syslog-ng installed the normal way wins
elif sng_wrapper_ok; then
  SYSLOG_NG=$SNG_WRAPPER
else
  command -v apt-cache >/dev/null || die "apt-cache not found"
  apt-cache show --no-all-versions syslog-ng-core >/dev/null 2>&1 || apt_update_once
  apt-cache show --no-all-versions syslog-ng-core >/dev/null 2>&1 \
    || die "package syslog-ng-core not found in the apt sources"
  mapfile -t debs < <(closure_not_installed syslog-ng-core)
  note "unpacking ${debs[*]} into $SNG_ROOT"
  rm -rf "$SNG_ROOT" "$PEERS_DIR/debs"
  mkdir -p "$PEERS_DIR/debs" "$PEERS_DIR/bin"
  ( cd "$PEERS_DIR/debs" && apt-get download -qq -o APT::Sandbox::User="$(id -un)" "${debs[@]}" >&2 ) \
    || die "apt-get download ${debs[*]} failed"
  for f in "$PEERS_DIR"/debs/*.deb; do dpkg -x "$f" "$SNG_ROOT" || die "dpkg -x $f failed"; done
  [ -x "$SNG_ROOT/usr/sbin/syslog-ng" ] || die "no usr/sbin/syslog-ng in the unpacked syslog-ng-core"
  afsocket=$(find "$SNG_ROOT/usr/lib" -name libafsocket.so | head -n1)
  [ -n "$afsocket" ] || die "no syslog-ng module directory (libafsocket.so) in $SNG_ROOT"
  libpath=$(find "$SNG_ROOT" -name '*.so.[0-9]*' \( -type f -o -type l \) -printf '%h\n' | sort -u | paste -sd: -)
  cat > "$SNG_WRAPPER" <<EOF
#!/bin/sh
# syslog-ng unpacked by setup.sh from Debian's syslog-ng-core (not installed: it conflicts with rsyslog).
export LD_LIBRARY_PATH=$libpath\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
exec $SNG_ROOT/usr/sbin/syslog-ng --module-path=$(dirname "$afsocket") "\$@"
EOF
  chmod +x "$SNG_WRAPPER"
  out=$("$SNG_WRAPPER" --version 2>&1) || die "the unpacked syslog-ng does not run: $out"
  SYSLOG_NG=$SNG_WRAPPER
fi

# ---- report ----------------------------------------------------------------------------------------
RSYSLOGD=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)
[ -x "$RSYSLOGD" ] || die "rsyslogd not found after installation"
for m in lmnsd_gtls.so lmnsd_ossl.so imuxsock.so; do
  compgen -G "/usr/lib/*/rsyslog/$m" >/dev/null || compgen -G "/usr/lib/rsyslog/$m" >/dev/null \
    || die "rsyslog module $m not found"
done
LOGGER=$(command -v logger) || die "logger not found after installation"
OPENSSL=$(command -v openssl) || die "openssl not found after installation"
SOCAT=$(command -v socat) || die "socat not found after installation"
note "$("$LOGGER" --version 2>&1 | head -n1); $("$RSYSLOGD" -v 2>&1 | head -n1 | sed "s/ *compiled with:.*//");" \
     "$("$SYSLOG_NG" --version 2>&1 | head -n1); $("$OPENSSL" version)"
echo "logger=$LOGGER"
echo "rsyslogd=$RSYSLOGD"
echo "syslog-ng=$SYSLOG_NG"
echo "openssl=$OPENSSL"
echo "socat=$SOCAT"
