#!/usr/bin/env bash
# Runs a private, unprivileged rsyslogd that forwards everything it is given to HOST:PORT.
# usage: rsyslog.sh MODE HOST PORT WORKDIR [CAFILE]
#   MODE       udp        omfwd UDP,  RFC 5424 (RSYSLOG_SyslogProtocol23Format, datagram ends with LF)
#              udp-3164   omfwd UDP,  RSYSLOG_TraditionalForwardFormat (<PRI>Mmm dd hh:mm:ss host tag: msg)
#              tcp        omfwd TCP,  RFC 5424, non-transparent framing (LF after each message)
#              tcp-3164   omfwd TCP,  RSYSLOG_TraditionalForwardFormat, LF framing (omfwd's defaults)
#              tcp-octet  omfwd TCP,  RFC 5424, octet-counted framing ("LEN SP MSG")
#              tls        omfwd TCP+TLS, RFC 5424, octet-counted; verifies the server against CAFILE
#   CAFILE     PEM CA bundle, required for tls.
# Inputs (all in WORKDIR):
#   in.sock    unix datagram socket (imuxsock): logger --socket WORKDIR/in.sock [--rfc5424] -t TAG MSG
#   in.log     file tailed from its start (imfile), each line one message with tag "infile"
# Also written to WORKDIR: rsyslog.conf, rsyslog.pid, rsyslogd-internal.log (rsyslogd's own messages,
# which are NOT forwarded), and rsyslog's work files. The script execs rsyslogd -n, so the caller's $!
# is rsyslogd's PID: stop it with kill PID (SIGTERM). It never touches /dev/log, the kernel log or journal.
# Environment (optional):
#   RSYSLOGD            rsyslogd binary (default: rsyslogd on PATH, else /usr/sbin/rsyslogd)
#   TLS_DRIVER          gtls (default, rsyslog-gnutls) or ossl (rsyslog-openssl; its x509/name check
#                       was seen to let a message through to a wrongly named server: see README)
#   TLS_AUTHMODE        x509/name (default: server cert must chain to CAFILE and name TLS_PEER_NAME),
#                       x509/certvalid (chain only), anon (no verification)
#   TLS_PEER_NAME       name required in the server certificate (default: HOST, or localhost when HOST
#                       is an IP address: rsyslog compares DNS names and the CN only, never IP SANs)
#   TLS_CLIENT_CERT, TLS_CLIENT_KEY   client certificate and key for mutual TLS
#   SENDER_HOSTNAME     HOSTNAME put in the forwarded messages (default: the machine's host name)
#   MAX_MESSAGE_SIZE    rsyslog maxMessageSize (default 64k)
#   CHECK_ONLY=1        only write the config and check it (rsyslogd -N1), then exit
set -euo pipefail

die() { echo "rsyslog.sh: error: $*" >&2; exit 2; }
usage() { die "usage: rsyslog.sh udp|udp-3164|tcp|tcp-3164|tcp-octet|tls HOST PORT WORKDIR [CAFILE]"; }

[ $# -ge 4 ] && [ $# -le 5 ] || usage
MODE=$1 HOST=$2 PORT=$3 WD=$4 CAFILE=${5:-}
case "$MODE" in udp|udp-3164|tcp|tcp-3164|tcp-octet|tls) ;; *) echo "rsyslog.sh: unknown MODE '$MODE'" >&2; usage ;; esac
[ -n "$HOST" ] || die "HOST is empty"
case "$PORT" in ''|*[!0-9]*) die "PORT must be a number, got '$PORT'" ;; esac
[ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || die "PORT out of range: $PORT"
case "$HOST$WD$CAFILE${TLS_CLIENT_CERT:-}${TLS_CLIENT_KEY:-}${SENDER_HOSTNAME:-}" in
  *'"'*|*'\'*) die "quotes and backslashes are not supported in arguments" ;;
esac

RSYSLOGD=${RSYSLOGD:-$(command -v rsyslogd || echo /usr/sbin/rsyslogd)}
[ -x "$RSYSLOGD" ] || die "rsyslogd not found at '$RSYSLOGD' (run setup.sh)"

mkdir -p "$WD" || die "cannot create WORKDIR $WD"
WD=$(cd "$WD" && pwd)
SOCK=$WD/in.sock
[ "${#SOCK}" -lt 108 ] || die "socket path $SOCK is too long for a unix socket (max 107 bytes); use a shorter WORKDIR"
PIDFILE=$WD/rsyslog.pid
if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  die "an rsyslogd (pid $(cat "$PIDFILE")) already runs with WORKDIR $WD"
fi
rm -f "$PIDFILE" "$SOCK"
touch "$WD/in.log"

global_tls=""
fwd_opts=""
case "$MODE" in
  udp)       fwd_opts='Protocol="udp" Template="RSYSLOG_SyslogProtocol23Format"' ;;
  udp-3164)  fwd_opts='Protocol="udp" Template="RSYSLOG_TraditionalForwardFormat"' ;;
  tcp)       fwd_opts='Protocol="tcp" TCP_Framing="traditional" Template="RSYSLOG_SyslogProtocol23Format"' ;;
  tcp-3164)  fwd_opts='Protocol="tcp" TCP_Framing="traditional" Template="RSYSLOG_TraditionalForwardFormat"' ;;
  tcp-octet) fwd_opts='Protocol="tcp" TCP_Framing="octet-counted" Template="RSYSLOG_SyslogProtocol23Format"' ;;
  tls)
    [ -n "$CAFILE" ] || die "MODE tls needs CAFILE"
    [ -r "$CAFILE" ] || die "CAFILE $CAFILE is not readable"
    CAFILE=$(cd "$(dirname "$CAFILE")" && pwd)/$(basename "$CAFILE")
    driver=${TLS_DRIVER:-gtls}
    case "$driver" in gtls|ossl) ;; *) die "TLS_DRIVER must be gtls or ossl, got '$driver'" ;; esac
    authmode=${TLS_AUTHMODE:-x509/name}
    case "$authmode" in x509/name|x509/certvalid|anon) ;; *) die "TLS_AUTHMODE must be x509/name, x509/certvalid or anon" ;; esac
    global_tls="DefaultNetstreamDriver=\"$driver\" DefaultNetstreamDriverCAFile=\"$CAFILE\""
    if [ -n "${TLS_CLIENT_CERT:-}" ] || [ -n "${TLS_CLIENT_KEY:-}" ]; then
      [ -r "${TLS_CLIENT_CERT:-}" ] && [ -r "${TLS_CLIENT_KEY:-}" ] \
        || die "TLS_CLIENT_CERT and TLS_CLIENT_KEY must both name readable files"
      global_tls+=" DefaultNetstreamDriverCertFile=\"$(realpath "$TLS_CLIENT_CERT")\""
      global_tls+=" DefaultNetstreamDriverKeyFile=\"$(realpath "$TLS_CLIENT_KEY")\""
    fi
    fwd_opts="Protocol=\"tcp\" TCP_Framing=\"octet-counted\" Template=\"RSYSLOG_SyslogProtocol23Format\""
    fwd_opts+=" StreamDriver=\"$driver\" StreamDriverMode=\"1\" StreamDriverAuthMode=\"$authmode\""
    if [ "$authmode" = x509/name ]; then
      peer=${TLS_PEER_NAME:-$HOST}
      # rsyslog matches only DNS names and the CN, never IP SANs: for an IP literal default to localhost
      case "${TLS_PEER_NAME:-}:$HOST" in :*:*|:[0-9]*.[0-9]*.[0-9]*.[0-9]*) peer=localhost ;; esac
      fwd_opts+=" StreamDriverPermittedPeers=\"$peer\""
    fi
    ;;
esac
hostname_opt=""
[ -n "${SENDER_HOSTNAME:-}" ] && hostname_opt="localHostName=\"$SENDER_HOSTNAME\""

CONF=$WD/rsyslog.conf
cat > "$CONF" <<EOF
# Generated by rsyslog.sh $MODE $HOST $PORT: forwards in.sock and in.log to $HOST:$PORT.
# processInternalMessages: rsyslogd's own messages go to our default ruleset, not to the system's syslog(3).
global(workDirectory="$WD" maxMessageSize="${MAX_MESSAGE_SIZE:-64k}" processInternalMessages="on" $hostname_opt
       $global_tls)

# No system socket (/dev/log), no imklog/imjournal: only our own inputs, bound to ruleset "fwd".
module(load="imuxsock" SysSock.Use="off")
module(load="imfile")
input(type="imuxsock" Socket="$SOCK" CreatePath="on" RateLimit.Interval="0" Ruleset="fwd"
      UseSpecialParser="off" ParseHostname="on")
input(type="imfile" File="$WD/in.log" Tag="infile:" freshStartTail="off" Ruleset="fwd")

ruleset(name="fwd") {
  action(type="omfwd" Target="$HOST" Port="$PORT" $fwd_opts
         action.resumeRetryCount="-1" action.resumeInterval="1")
}

# Default ruleset = rsyslogd's own messages (start/stop, errors): kept out of the forwarded stream.
action(type="omfile" File="$WD/rsyslogd-internal.log")
EOF

if [ "${CHECK_ONLY:-0}" = 1 ]; then
  exec "$RSYSLOGD" -N1 -f "$CONF"
fi
exec "$RSYSLOGD" -n -f "$CONF" -i "$PIDFILE"
