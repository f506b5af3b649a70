#!/bin/bash
# Proves every install path of logferry on a Debian machine, as root:
#   static binary  - x86_64-unknown-linux-musl release build, --version, configs validate
#   glibc binary   - the default-target release build, which the image and the .deb ship:
#                    it ran the shared benchmark ~14% faster than the musl one (w1, see
#                    packaging/README.md); the image carries its four shared libraries
#   container      - image from packaging/Containerfile, run (or extracted and run when
#                    containers cannot run), syslog over TCP and UDP delivered
#   deb            - cargo-deb package installed, unit verified, the service run as the
#                    logferry user on port 514 (by systemd when it can be booted), removed, purged
#   kubernetes     - every manifest validated, every embedded logferry config validated
# Installs what it needs (cached under ~/.cache/logferry-peers). Prints one PASS line per
# path and nothing else; on a failure prints the step's output and exits non-zero.
# Meant for a throwaway machine: it installs and purges the logferry package.
#
#   bash packaging/test.sh
# Env: LOGFERRY_TEST_EXTRACT=1 tests the image by extraction even where containers run.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/logferry-peers
TARGET=x86_64-unknown-linux-musl
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/$TARGET/release/logferry
GLIBC_BIN=$TARGET_DIR/release/logferry
CARGO_DEB_VERSION=3.8.0
K8S_VALIDATE_VERSION=1.37.0
K8S_VENV=$CACHE/k8s-validate
CARGO_DEB=$CACHE/cargo-deb/bin/cargo-deb
START=$(date +%s)

WORK=$(mktemp -d /tmp/logferry-packaging.XXXXXX)
# What a step started, for its own clean-up (a step runs in a subshell).
PIDS=()
CONTAINERS=()
cleanup_children() {
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for c in "${CONTAINERS[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
}
cleanup() {
  local rc=$?
  if [ "$rc" -eq 0 ]; then rm -rf "$WORK"; else echo "packaging/test.sh: FAILED; logs in $WORK" >&2; fi
}
trap cleanup EXIT

# step NAME CMD...: runs CMD with its output in $WORK/NAME.log; on failure shows it and
# stops. CMD runs in a background subshell: `set -e` holds inside it (it would not in an
# `if`), and whatever it started is ended when it returns.
step() {
  local name=$1 rc=0; shift
  ( trap cleanup_children EXIT; "$@" ) >"$WORK/$name.log" 2>&1 </dev/null &
  wait $! || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "FAIL [$name] (exit $rc): $*" >&2
    tail -n 80 "$WORK/$name.log" >&2
    exit 1
  fi
}
fail() { echo "FAIL: $*" >&2; exit 1; }
# refute CMD...: fails when CMD succeeds (a plain `! CMD` never stops a `set -e` script).
refute() { if "$@"; then echo "unexpectedly true: $*"; return 1; fi; }
# wait_for SECONDS CMD...: retries CMD every 0.2s until it succeeds.
wait_for() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000000 }'; }

# ---------------------------------------------------------------- prerequisites
[ "$(id -u)" -eq 0 ] || fail "run as root (it installs packages and the .deb)"
command -v cargo >/dev/null && command -v rustup >/dev/null || fail "needs rustup and cargo on PATH"

install_prerequisites() {
  local pkgs=(musl-tools podman buildah runc curl binutils adduser bsdutils util-linux
              systemd python3-venv ca-certificates git) missing=() p
  for p in "${pkgs[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  fi
  rustup target list --installed | grep -x "$TARGET" >/dev/null || rustup target add "$TARGET"
  if ! "$CARGO_DEB" --version 2>/dev/null | grep " $CARGO_DEB_VERSION" >/dev/null; then
    cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked --root "$CACHE/cargo-deb"
  fi
  if ! "$K8S_VENV/bin/kubernetes-validate" --version 2>/dev/null | grep -x "$K8S_VALIDATE_VERSION" >/dev/null; then
    rm -rf "$K8S_VENV"
    python3 -m venv "$K8S_VENV"
    "$K8S_VENV/bin/pip" install -q "kubernetes-validate==$K8S_VALIDATE_VERSION"
  fi
}
step prerequisites install_prerequisites

# ---------------------------------------------------------------- static binary
VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n1)
COMMIT=$(git -C "$ROOT" rev-parse --short=12 HEAD)
build_static() {
  cd "$ROOT"
  CC_x86_64_unknown_linux_musl=musl-gcc cargo build --release --locked --target "$TARGET"
}
step musl-build build_static
check_static() {
  readelf -l "$BIN" >"$WORK/readelf"
  refute grep -q 'program interpreter' "$WORK/readelf"
  "$BIN" --version >"$WORK/version"
  grep -qx "logferry $VERSION (commit $COMMIT)" "$WORK/version"
  "$BIN" validate --config "$ROOT/config/default.toml"
  "$BIN" validate --config "$ROOT/packaging/deb/logferry.toml"
}
step musl-check check_static
strip -o "$WORK/stripped" "$BIN"
STRIPPED=$(stat -c %s "$WORK/stripped")
echo "PASS static binary: $(cat "$WORK/version"), static-pie, $(mb "$(stat -c %s "$BIN")") ($(mb "$STRIPPED") stripped)"

# ---------------------------------------------------------------- glibc binary (shipped)
build_glibc() {
  cd "$ROOT"
  cargo build --release --locked
}
step glibc-build build_glibc
check_glibc() {
  "$GLIBC_BIN" --version >"$WORK/glibc-version"
  grep -qx "logferry $VERSION (commit $COMMIT)" "$WORK/glibc-version"
  "$GLIBC_BIN" validate --config "$ROOT/packaging/deb/logferry.toml"
  ldd "$GLIBC_BIN" >"$WORK/ldd"
  refute grep -q 'not found' "$WORK/ldd"
}
step glibc-check check_glibc
strip -o "$WORK/glibc-stripped" "$GLIBC_BIN"
echo "PASS glibc binary (shipped): $(mb "$(stat -c %s "$WORK/glibc-stripped")") stripped, needs $(grep -c '=>' "$WORK/ldd") shared libraries + the loader"

# ---------------------------------------------------------------- container
IMAGE=logferry:$VERSION
step image-build bash "$ROOT/packaging/container/build.sh" "$GLIBC_BIN" "$IMAGE"
IMAGE_SIZE=$(podman image inspect --format '{{.Size}}' "$IMAGE")

# Which way containers run here: plain podman; else runc with ulimits no higher than this
# sandbox allows (crun refuses hybrid cgroups; raising RLIMIT_NOFILE/NPROC is denied);
# else none, and the image is tested by extracting its filesystem.
RUN_FLAGS=()
RUN_METHOD=extracted
WHY="containers cannot run here"
if [ "${LOGFERRY_TEST_EXTRACT:-0}" = 1 ]; then
  WHY="LOGFERRY_TEST_EXTRACT=1"
else
  if podman run --rm "$IMAGE" --version >"$WORK/probe.log" 2>&1; then
    RUN_METHOD="podman run"
  elif podman run --rm --runtime runc --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 \
      "$IMAGE" --version >>"$WORK/probe.log" 2>&1; then
    RUN_FLAGS=(--runtime runc --ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
    RUN_METHOD="podman run (runc, ulimits lowered)"
  fi
fi

cat >"$WORK/file-out.toml" <<'EOF'
data_dir = "/var/lib/logferry"
[admin]
listen = "${LOGFERRY_ADMIN_LISTEN:-0.0.0.0:8686}"
[inputs.syslog]
type = "syslog"
listen = ["udp://${LOGFERRY_SYSLOG_ADDRESS:-0.0.0.0:5514}", "tcp://${LOGFERRY_SYSLOG_ADDRESS:-0.0.0.0:5514}"]
[outputs.file]
type = "file"
inputs = ["syslog"]
path = "/var/lib/logferry/syslog.ndjson"
EOF
chmod 0644 "$WORK/file-out.toml"
SYSLOG_PORT=25514
ADMIN_PORT=28686
MARK="logferry-packaging-$$-$RANDOM"

send_both() { # PORT TAG: one message over TCP, one over UDP
  logger --tcp -n 127.0.0.1 -P "$1" -t pkgtest "$MARK-$2-tcp" &&
  logger --udp -n 127.0.0.1 -P "$1" -t pkgtest "$MARK-$2-udp"
}
has_both() { # FILE TAG
  grep -q "\"$MARK-$2-tcp\"" "$1" && grep -q "\"$MARK-$2-udp\"" "$1"
}

container_by_podman() {
  local name=logferry-test-$$ data=$WORK/data
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  # 1. The image as shipped: embedded default config, records as NDJSON on stdout.
  CONTAINERS+=("$name")
  podman run -d --name "$name" "${RUN_FLAGS[@]}" -p "127.0.0.1:$SYSLOG_PORT:5514/tcp" \
    -p "127.0.0.1:$SYSLOG_PORT:5514/udp" -p "127.0.0.1:$ADMIN_PORT:8686/tcp" "$IMAGE"
  wait_for 30 curl -sf "http://127.0.0.1:$ADMIN_PORT/ready"
  send_both "$SYSLOG_PORT" stdout
  wait_for 10 sh -c "podman logs '$name' 2>/dev/null > '$WORK/stdout.ndjson' && grep -q '\"$MARK-stdout-tcp\"' '$WORK/stdout.ndjson' && grep -q '\"$MARK-stdout-udp\"' '$WORK/stdout.ndjson'"
  podman stop -t 20 "$name"
  [ "$(podman inspect --format '{{.State.ExitCode}}' "$name")" = 0 ]
  podman logs "$name" >"$WORK/stdout.log" 2>&1
  grep -q "stopped cleanly" "$WORK/stdout.log"
  podman rm "$name"
  # 2. A file output in the data volume (/var/lib/logferry, written by uid 10001).
  rm -rf "$data"; mkdir -p "$data"; chown 10001:10001 "$data"
  podman run -d --name "$name" "${RUN_FLAGS[@]}" -p "127.0.0.1:$SYSLOG_PORT:5514/tcp" \
    -p "127.0.0.1:$SYSLOG_PORT:5514/udp" -p "127.0.0.1:$ADMIN_PORT:8686/tcp" \
    -v "$WORK/file-out.toml:/etc/logferry/test.toml:ro" -v "$data:/var/lib/logferry" \
    "$IMAGE" --config /etc/logferry/test.toml
  wait_for 30 curl -sf "http://127.0.0.1:$ADMIN_PORT/ready"
  send_both "$SYSLOG_PORT" file
  wait_for 10 has_both "$data/syslog.ndjson" file
  podman stop -t 20 "$name"
  [ "$(podman inspect --format '{{.State.ExitCode}}' "$name")" = 0 ]
  podman rm "$name"
}

container_by_extraction() {
  local rootfs=$WORK/rootfs cid pid
  rm -rf "$rootfs"; mkdir -p "$rootfs"
  cid=$(podman create "$IMAGE")
  podman export "$cid" | tar -x -C "$rootfs"
  podman rm "$cid"
  cp "$WORK/file-out.toml" "$rootfs/etc/logferry/test.toml"
  [ "$(stat -c %u "$rootfs/var/lib/logferry")" = 10001 ]
  [ "$(stat -c %u "$rootfs/var/lib")" = 0 ]
  # The image's entrypoint as its user with its filesystem as root (chroot execs it, so
  # $! is logferry); env as the image sets it, ports moved to loopback.
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LOGFERRY_ADMIN_LISTEN="127.0.0.1:$ADMIN_PORT" LOGFERRY_SYSLOG_ADDRESS="127.0.0.1:$SYSLOG_PORT" \
    NO_COLOR=1 LOGFERRY_DATA_DIR=/var/lib/logferry SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    chroot --userspec=10001:10001 "$rootfs" \
    /usr/bin/logferry --config /etc/logferry/test.toml </dev/null >"$WORK/extracted.out" 2>&1 &
  pid=$!; PIDS+=("$pid")
  wait_for 30 curl -sf "http://127.0.0.1:$ADMIN_PORT/ready"
  send_both "$SYSLOG_PORT" file
  wait_for 10 has_both "$rootfs/var/lib/logferry/syslog.ndjson" file
  kill -TERM "$pid"; wait "$pid"
  grep -q "stopped cleanly" "$WORK/extracted.out"
}
if [ "$RUN_METHOD" = extracted ]; then
  step container-extracted container_by_extraction
  HOW="$WHY: image filesystem extracted, entrypoint run in a chroot as uid 10001; syslog TCP+UDP -> file in the data volume"
else
  step container-run container_by_podman
  HOW="$RUN_METHOD; syslog TCP+UDP -> stdout (shipped config) and -> file in the data volume as uid 10001"
fi
echo "PASS container: $IMAGE, $(mb "$IMAGE_SIZE"); $HOW"

# ---------------------------------------------------------------- deb
UNIT=/lib/systemd/system/logferry.service
build_deb() {
  cd "$ROOT"
  rm -rf "$TARGET_DIR/debian"
  # The glibc build (target/release/logferry); dependencies (libc6, libgcc-s1) from its libraries.
  "$CARGO_DEB" --no-build --strip
  dpkg-deb -f "$TARGET_DIR"/debian/logferry_*.deb Depends | grep -q 'libc6'
}
step deb-build build_deb
DEB=$(ls "$TARGET_DIR/debian/"logferry_*.deb)

deb_status() { dpkg-query -W -f='${db:Status-Status}' logferry 2>/dev/null || true; }
install_deb() {
  case "$(deb_status)" in ""|not-installed) ;; *) dpkg -P logferry ;; esac
  dpkg -i "$DEB"
  getent passwd logferry
  dpkg-query -W -f='${Conffiles}\n' logferry >"$WORK/conffiles"
  grep -q "^ /etc/logferry/logferry.toml " "$WORK/conffiles"
  [ -f "$UNIT" ]
  systemd-analyze verify "$UNIT" >"$WORK/verify" 2>&1   # warnings alone exit 0: none allowed
  cat "$WORK/verify"
  [ ! -s "$WORK/verify" ]
  grep -q '^ExecReload=/bin/kill -HUP \$MAINPID' "$UNIT"
  [ "$(stat -c %U /var/lib/logferry)" = logferry ]
  [ "$(stat -c %U /var/log/logferry)" = logferry ]
  runuser -u logferry -- /usr/bin/logferry validate --config /etc/logferry/logferry.toml
}
step deb-install install_deb

# Without the capability, port 514 is refused (exit 1 naming the failed input).
run_without_cap() {
  local rc=0
  LOGFERRY_OTLP_GRPC_ADDRESS=127.0.0.1:0 LOGFERRY_OTLP_HTTP_ADDRESS=127.0.0.1:0 \
    LOGFERRY_ADMIN_LISTEN=127.0.0.1:0 LOGFERRY_SYSLOG_ADDRESS=127.0.0.1:514 NO_COLOR=1 \
    timeout 20 runuser -u logferry -- /usr/bin/logferry --config /etc/logferry/logferry.toml </dev/null || rc=$?
  [ "$rc" = 1 ]
}
# With CAP_NET_BIND_SERVICE as the unit's only (ambient) capability, as user logferry.
run_with_cap() {
  local pid
  LOGFERRY_OTLP_GRPC_ADDRESS=127.0.0.1:0 LOGFERRY_OTLP_HTTP_ADDRESS=127.0.0.1:0 \
    LOGFERRY_ADMIN_LISTEN=127.0.0.1:0 LOGFERRY_SYSLOG_ADDRESS=127.0.0.1:514 NO_COLOR=1 \
    setpriv --reuid logferry --regid logferry --init-groups --inh-caps +net_bind_service \
      --ambient-caps +net_bind_service --bounding-set -all,+net_bind_service -- \
      /usr/bin/logferry --config /etc/logferry/logferry.toml </dev/null >"$WORK/deb-run.out" 2>&1 &
  pid=$!; PIDS+=("$pid")
  wait_for 20 send_both 514 deb
  wait_for 10 has_both /var/log/logferry/syslog.ndjson deb
  kill -TERM "$pid"; wait "$pid"
  grep -q "stopped cleanly" "$WORK/deb-run.out"
}
# The installed unit under a real systemd: this host's root filesystem (with the package
# installed) booted in a container, on a private network, changes discarded.
systemd_in_container() {
  local name=logferry-systemd-$$ uid caps
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  CONTAINERS+=("$name")
  podman run -d --name "$name" "${RUN_FLAGS[@]}" --systemd=always \
    --tmpfs /tmp:rw,size=256m,notmpcopyup --tmpfs /run:rw,size=64m,notmpcopyup \
    --tmpfs /run/lock:rw,notmpcopyup --rootfs /:O /lib/systemd/systemd
  wait_for 90 podman exec "$name" systemctl is-active --quiet logferry
  podman exec "$name" systemctl status --no-pager logferry
  uid=$(podman exec "$name" sh -c 'awk "/^Uid:/ {print \$2}" /proc/$(systemctl show -p MainPID --value logferry)/status')
  [ "$uid" = "$(podman exec "$name" id -u logferry)" ]
  caps=$(podman exec "$name" sh -c 'awk "/^CapEff:/ {print \$2}" /proc/$(systemctl show -p MainPID --value logferry)/status')
  [ "$caps" = 0000000000000400 ]                 # CAP_NET_BIND_SERVICE alone
  wait_for 20 podman exec "$name" sh -c "logger --tcp -n 127.0.0.1 -P 514 -t pkgtest '$MARK-systemd-tcp' && logger --udp -n 127.0.0.1 -P 514 -t pkgtest '$MARK-systemd-udp'"
  wait_for 10 podman exec "$name" sh -c "grep -q '\"$MARK-systemd-tcp\"' /var/log/logferry/syslog.ndjson && grep -q '\"$MARK-systemd-udp\"' /var/log/logferry/syslog.ndjson"
  # systemctl reload: an invalid config fails the reload and the service keeps running;
  # a valid changed one is applied (SIGHUP) and the service goes on delivering.
  podman exec "$name" sh -c 'cp /etc/logferry/logferry.toml /tmp/good.toml && echo "[broken" >> /etc/logferry/logferry.toml'
  refute podman exec "$name" systemctl reload logferry
  podman exec "$name" systemctl is-active --quiet logferry
  podman exec "$name" sh -c 'cp /tmp/good.toml /etc/logferry/logferry.toml && echo "# reloaded by packaging/test.sh" >> /etc/logferry/logferry.toml'
  podman exec "$name" systemctl reload logferry
  wait_for 20 podman exec "$name" sh -c "journalctl -u logferry --no-pager | grep -q 'reloaded'"
  wait_for 20 podman exec "$name" sh -c "logger --tcp -n 127.0.0.1 -P 514 -t pkgtest '$MARK-after-reload'"
  wait_for 10 podman exec "$name" sh -c "grep -q '\"$MARK-after-reload\"' /var/log/logferry/syslog.ndjson"
  podman exec "$name" systemctl stop logferry
  refute podman exec "$name" systemctl is-failed --quiet logferry
  podman rm -f -t 10 "$name"
}
step deb-run-nocap run_without_cap
if [ -d /run/systemd/system ]; then
  # systemd is PID 1: the package enabled and started the service itself.
  service_runs() {
    wait_for 30 systemctl is-active --quiet logferry
    wait_for 20 send_both 514 deb
    wait_for 10 has_both /var/log/logferry/syslog.ndjson deb
  }
  step deb-service service_runs
  RAN="run by systemd on port 514"
else
  step deb-run run_with_cap
  RAN="run as logferry with only CAP_NET_BIND_SERVICE on port 514 (setpriv)"
  if [ "$RUN_METHOD" != extracted ]; then
    step deb-systemd systemd_in_container
    RAN="$RAN, and started by systemd (host root booted in a container) with the unit's sandbox"
  else
    RAN="$RAN; systemd is not PID 1 and no container can boot it ($WHY): unit not started under systemd"
  fi
fi

remove_deb() {
  dpkg -r logferry
  [ ! -e /usr/bin/logferry ]
  [ -f /etc/logferry/logferry.toml ]      # a conffile stays until purge
  getent passwd logferry
  dpkg -P logferry
  for f in /etc/logferry /var/lib/logferry /var/log/logferry "$UNIT"; do [ ! -e "$f" ]; done
  [ ! -L /etc/systemd/system/logferry.service ]
  [ ! -L /etc/systemd/system/multi-user.target.wants/logferry.service ]
  refute getent passwd logferry
  refute getent group logferry
  case "$(deb_status)" in ""|not-installed) ;; *) return 1 ;; esac
}
step deb-remove remove_deb
echo "PASS deb: $(basename "$DEB"), $(mb "$(stat -c %s "$DEB")"); installed, unit verified, $RAN; removed and purged"

# ---------------------------------------------------------------- kubernetes
K8S=$ROOT/packaging/kubernetes
validate_manifests() {
  "$K8S_VENV/bin/kubernetes-validate" --strict "$K8S"/*.yaml
}
step k8s-manifests validate_manifests
# Every ConfigMap's logferry.toml is a valid config.
validate_configmaps() {
  local f n=0
  for f in "$K8S"/*.yaml; do
    "$K8S_VENV/bin/python" - "$f" "$WORK/k8s" <<'EOF' || return 1
import os, sys, yaml
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
for doc in yaml.safe_load_all(open(src)):
    if doc and doc.get("kind") == "ConfigMap" and "logferry.toml" in (doc.get("data") or {}):
        name = doc["metadata"]["name"]
        text = doc["data"]["logferry.toml"]
        open(os.path.join(out, name + ".toml"), "w").write(text)
EOF
  done
  for f in "$WORK"/k8s/*.toml; do
    "$BIN" validate --config "$f"
    n=$((n + 1))
  done
  [ "$n" -ge 2 ]
  # The agent tails the node's container logs (CRI format) and forwards them.
  grep -q '^\[inputs.containers\]' "$WORK/k8s/logferry-agent.toml"
  grep -q '^format = "cri"' "$WORK/k8s/logferry-agent.toml"
  ls "$WORK"/k8s/ >"$WORK/k8s-configs"
}
step k8s-configs validate_configmaps
echo "PASS kubernetes: $(ls "$K8S"/*.yaml | wc -l) manifests valid (kubernetes-validate $K8S_VALIDATE_VERSION, strict); configs valid: $(tr '\n' ' ' <"$WORK/k8s-configs" | sed 's/ $//')"

echo "packaging/test.sh: all paths passed in $(( $(date +%s) - START ))s"
