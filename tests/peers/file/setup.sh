#!/usr/bin/env bash
# Installs the real rotation tool the file-tailing tests drive: Debian's logrotate.
# Idempotent; needs root only when it must install.
set -euo pipefail
{ command -v logrotate || [ -x /usr/sbin/logrotate ]; } >/dev/null && exit 0
[ "$(id -u)" = 0 ] || { echo "setup.sh: logrotate missing; run as root to install it" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends logrotate >&2
{ command -v logrotate || [ -x /usr/sbin/logrotate ]; } >/dev/null
