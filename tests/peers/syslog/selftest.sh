#!/usr/bin/env bash
# Proves the peer scripts against plain receivers (socat) and prints the exact bytes each sender put on
# the wire, one message per line, C-escaped (\n, \xHH).  No logferry involved.
# usage: selftest.sh [CASE-PREFIX ...]     e.g. selftest.sh            (all cases)
#                                                selftest.sh rsyslog/tls syslog-ng/udp
# Cases: logger/{udp,tcp,tcp-octet}
#        rsyslog/{udp,udp-3164,tcp,tcp-3164,tcp-octet,tls,tls-ossl,tls-mutual}
#        syslog-ng/{udp,tcp,tcp-5424,udp-5424,tcp-octet,tls,tls-mutual}
# Environment: BASE_PORT (first TCP/UDP port on 127.0.0.1 to use, default random 20000-39999),
#              KEEP=1 keeps the temp dir. Needs setup.sh to have run (it is called, and is quick then).
# Ends with "N passed, N failed"; exit status 1 if any case failed.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export LC_ALL=C

die() { echo "selftest.sh: error: $*" >&2; exit 2; }
"$HERE/setup.sh" >/dev/null || die "setup.sh failed"

T=$(mktemp -d "${TMPDIR:-/tmp}/lfsys.XXXXXX")
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "${KEEP:-0}" = 1 ]; then echo "selftest.sh: kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
"$HERE/certs.sh" "$T/certs" 2>/dev/null
PORT=${BASE_PORT:-$((20000 + RANDOM % 20000))}
PASS=0 FAIL=0

# C-escaped rendering of stdin's bytes.
render() {
  od -An -v -tx1 | awk 'BEGIN { for (i = 32; i < 127; i++) m[sprintf("%02x", i)] = sprintf("%c", i)
                                m["5c"] = "\\\\"; m["0a"] = "\\n"; m["0d"] = "\\r"; m["00"] = "\\0"; m["09"] = "\\t" }
                        { for (i = 1; i <= NF; i++) printf "%s", ($i in m) ? m[$i] : "\\x" $i }'
}

# split_frames FILE FRAMING SOCATLOG: prints one frame per line (rendered) and sets NFRAMES / BADFRAME.
split_frames() {
  local file=$1 framing=$2 log=$3 data rest len off n
  NFRAMES=0 BADFRAME=""
  data=$(cat "$file"; echo x); data=${data%x}
  case "$framing" in
    udp) # datagram boundaries from socat -v: "> DATE length=N from=A to=B"
      while read -r off len; do
        printf '    %s\n' "$(printf '%s' "${data:off:len}" | render)"; NFRAMES=$((NFRAMES + 1))
      done < <(sed -n 's/.* length=\([0-9]*\) from=\([0-9]*\) to=.*/\2 \1/p' "$log") ;;
    lf)
      rest=$data
      while [ -n "$rest" ]; do
        case "$rest" in *$'\n'*) ;; *) BADFRAME="trailing bytes without LF: $(printf '%s' "$rest" | render)"; break ;; esac
        n=${rest%%$'\n'*}
        case "$n" in '<'*) ;; *) BADFRAME="frame does not start with <: $(printf '%s' "$n" | render)" ;; esac
        printf '    %s\n' "$(printf '%s\n' "$n" | render)"; NFRAMES=$((NFRAMES + 1))
        rest=${rest#*$'\n'}
      done ;;
    octet)
      rest=$data
      while [ -n "$rest" ]; do
        len=${rest%%' '*}
        case "$len" in [1-9]|[1-9]*[0-9]) ;; *) BADFRAME="no MSG-LEN at: $(printf '%s' "${rest:0:40}" | render)"; break ;; esac
        case "$len" in *[!0-9]*) BADFRAME="no MSG-LEN at: $(printf '%s' "${rest:0:40}" | render)"; break ;; esac
        rest=${rest#*' '}
        [ "${#rest}" -ge "$len" ] || { BADFRAME="frame of $len bytes truncated"; break; }
        n=${rest:0:len}
        case "$n" in '<'*) ;; *) BADFRAME="frame does not start with <" ;; esac
        printf '    %s %s\n' "$len" "$(printf '%s' "$n" | render)"; NFRAMES=$((NFRAMES + 1))
        rest=${rest:len}
      done ;;
  esac
}

# start_receiver KIND PORT OUTFILE LOGFILE [socat openssl options]
start_receiver() {
  local kind=$1 port=$2 out=$3 log=$4 addr
  case "$kind" in
    udp) addr="UDP-RECV:$port,bind=127.0.0.1" ;;
    tcp) addr="TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" ;;
    tls) addr="OPENSSL-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,cert=$T/certs/server.pem,key=$T/certs/server.key${5:-,verify=0}" ;;
  esac
  : > "$out"
  socat -u -b 65536 -v "$addr" "OPEN:$out,creat,append" 2>"$log" &
  RECV=$!; PIDS+=("$RECV")
  sleep 0.3
  kill -0 "$RECV" 2>/dev/null || { echo "    receiver failed: $(cat "$log")"; return 1; }
}

wait_for() { # FILE STRING SECONDS
  local i
  for ((i = 0; i < $3 * 10; i++)); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

selected() {
  [ "${#SEL[@]}" -eq 0 ] && return 0
  local s; for s in "${SEL[@]}"; do case "$1" in "$s"*) return 0 ;; esac; done; return 1
}

finish_case() { # NAME FRAMING EXPECTED-COUNT OUT LOG [WORDS...]
  local name=$1 framing=$2 want=$3 out=$4 log=$5 w ok=1 why=""; shift 5
  echo "  wire bytes ($framing framing):"
  split_frames "$out" "$framing" "$log"
  [ -z "$BADFRAME" ] || { ok=0; why="$BADFRAME"; }
  [ "$NFRAMES" = "$want" ] || { ok=0; why="$why; got $NFRAMES messages, want $want"; }
  for w in "$@"; do grep -q -- "$w" "$out" || { ok=0; why="$why; '$w' missing"; }; done
  if [ "$ok" = 1 ]; then PASS=$((PASS + 1)); echo "  ok $name"
  else FAIL=$((FAIL + 1)); echo "  FAILED $name:$why"; fi
}

# peer_case NAME SCRIPT MODE RECEIVER FRAMING [socat-tls-options]   (env for the script via CASE_ENV)
peer_case() {
  local name=$1 script=$2 mode=$3 kind=$4 framing=$5 ropts=${6:-} wd out log s5 pid ca=""
  selected "$name" || return 0
  echo "== $name: $script $mode 127.0.0.1 $PORT ${CASE_ENV:-}"
  wd=$T/${name//\//-}; out=$wd.bin; log=$wd.socat.log
  mkdir -p "$wd"
  start_receiver "$kind" "$PORT" "$out" "$log" $ropts || { FAIL=$((FAIL + 1)); PORT=$((PORT + 1)); return 0; }
  [ "$kind" = tls ] && ca=$T/certs/ca.pem
  env ${CASE_ENV:-} "$HERE/$script" "$mode" 127.0.0.1 "$PORT" "$wd" $ca >"$wd.out" 2>&1 &
  pid=$!; PIDS+=("$pid")
  wait_for_socket() { local i; for ((i = 0; i < 100; i++)); do [ -S "$1" ] && return 0; sleep 0.1; done; return 1; }
  if ! wait_for_socket "$wd/in.sock"; then
    echo "  FAILED $name: sender did not start: $(cat "$wd.out")"; FAIL=$((FAIL + 1))
    kill "$pid" "$RECV" 2>/dev/null || true; PORT=$((PORT + 1)); return 0
  fi
  s5=$wd/in.sock; [ -S "$wd/in5424.sock" ] && s5=$wd/in5424.sock
  logger --socket "$wd/in.sock" -t app1 "hello one"
  logger --socket "$s5" --rfc5424 -t app2 -i --msgid MID "hello two"
  logger --socket "$wd/in.sock" -t app3 -i -p local3.warning "hello three"
  echo "file line four" >> "$wd/in.log"
  wait_for "$out" "file line four" 10 || true
  sleep 0.2
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  kill "$RECV" 2>/dev/null || true; wait "$RECV" 2>/dev/null || true
  finish_case "$name" "$framing" 4 "$out" "$log" "hello one" "hello two" "hello three" "file line four" \
    ${EXPECT_WORD:+"$EXPECT_WORD"}
  if [ -s "$wd.out" ]; then echo "  sender stderr: $(head -c 600 "$wd.out")"; fi
  PORT=$((PORT + 1))
}

logger_case() { # NAME RECEIVER FRAMING LOGGER-TRANSPORT-OPTIONS...
  local name=$1 kind=$2 framing=$3 wd out log; shift 3
  selected "$name" || return 0
  echo "== $name: logger -n 127.0.0.1 -P $PORT $*"
  wd=$T/${name//\//-}; out=$wd.bin; log=$wd.socat.log
  start_receiver "$kind" "$PORT" "$out" "$log" || { FAIL=$((FAIL + 1)); PORT=$((PORT + 1)); return 0; }
  logger -n 127.0.0.1 -P "$PORT" "$@" -t app1 "hello one"
  logger -n 127.0.0.1 -P "$PORT" "$@" --rfc5424 -t app2 -i --msgid MID "hello two"
  logger -n 127.0.0.1 -P "$PORT" "$@" --rfc3164 -t app3 -i -p local3.warning "hello three"
  wait_for "$out" "hello three" 5 || true
  sleep 0.2
  kill "$RECV" 2>/dev/null || true; wait "$RECV" 2>/dev/null || true
  finish_case "$name" "$framing" 3 "$out" "$log" "hello one" "hello two" "hello three"
  PORT=$((PORT + 1))
}

SEL=("$@")
C=$T/certs
MUTUAL=",verify=1,cafile=$C/ca.pem"
CLIENT="TLS_CLIENT_CERT=$C/client.pem TLS_CLIENT_KEY=$C/client.key SENDER_HOSTNAME=peerhost"

logger_case logger/udp       udp udp   --udp
logger_case logger/tcp       tcp lf    --tcp
logger_case logger/tcp-octet tcp octet --tcp --octet-count

CASE_ENV="" EXPECT_WORD=""
peer_case rsyslog/udp        rsyslog.sh udp       udp udp
peer_case rsyslog/udp-3164   rsyslog.sh udp-3164  udp udp
peer_case rsyslog/tcp        rsyslog.sh tcp       tcp lf
peer_case rsyslog/tcp-3164   rsyslog.sh tcp-3164  tcp lf
peer_case rsyslog/tcp-octet  rsyslog.sh tcp-octet tcp octet
peer_case rsyslog/tls        rsyslog.sh tls       tls octet
CASE_ENV="TLS_DRIVER=ossl"
peer_case rsyslog/tls-ossl   rsyslog.sh tls       tls octet
CASE_ENV=$CLIENT EXPECT_WORD=peerhost
peer_case rsyslog/tls-mutual rsyslog.sh tls       tls octet "$MUTUAL"

CASE_ENV="" EXPECT_WORD=""
peer_case syslog-ng/udp        syslog-ng.sh udp       udp udp
peer_case syslog-ng/tcp        syslog-ng.sh tcp       tcp lf
peer_case syslog-ng/tcp-5424   syslog-ng.sh tcp-5424  tcp lf
peer_case syslog-ng/udp-5424   syslog-ng.sh udp-5424  udp udp
peer_case syslog-ng/tcp-octet  syslog-ng.sh tcp-octet tcp octet
peer_case syslog-ng/tls        syslog-ng.sh tls       tls octet
CASE_ENV=$CLIENT EXPECT_WORD=peerhost
peer_case syslog-ng/tls-mutual syslog-ng.sh tls       tls octet "$MUTUAL"

echo "$PASS passed, $FAIL failed"
[ "$((PASS + FAIL))" -gt 0 ] || die "no case matches: $*"
[ "$FAIL" = 0 ]
