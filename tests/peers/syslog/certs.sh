#!/usr/bin/env bash
# Generates a throw-away test PKI with openssl, as PEM files in DIR (idempotent):
#   ca.pem ca.key             self-signed test CA ("logferry test CA"), 10 years
#   server.pem server.key     CN=localhost, SAN DNS:localhost IP:127.0.0.1 IP:::1, EKU serverAuth, signed by the CA
#   client.pem client.key     CN=logferry-test-client, SAN DNS:logferry-test-client, EKU clientAuth, signed by the CA
# usage: certs.sh DIR
# Existing files are kept when they are all present, the two certificates verify against ca.pem and none
# expires within a day; otherwise everything is regenerated. Keys are RSA 2048, unencrypted, mode 0600.
set -euo pipefail

die() { echo "certs.sh: error: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: certs.sh DIR"
DIR=$1
command -v openssl >/dev/null || die "openssl not found (run setup.sh)"
mkdir -p "$DIR" || die "cannot create $DIR"
cd "$DIR"

files=(ca.pem ca.key server.pem server.key client.pem client.key)
valid() {
  local f
  for f in "${files[@]}"; do [ -s "$f" ] || return 1; done
  for f in ca.pem server.pem client.pem; do openssl x509 -in "$f" -noout -checkend 86400 >/dev/null 2>&1 || return 1; done
  openssl verify -CAfile ca.pem server.pem client.pem >/dev/null 2>&1 || return 1
  # each key must belong to its certificate
  for f in server client; do
    [ "$(openssl x509 -in "$f.pem" -noout -pubkey)" = "$(openssl pkey -in "$f.key" -pubout 2>/dev/null)" ] || return 1
  done
}
if valid; then echo "certs.sh: test certificates in $(pwd) are up to date" >&2; exit 0; fi

umask 077
tmp=$(mktemp -d "${TMPDIR:-/tmp}/logferry-certs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
  -keyout "$tmp/ca.key" -out "$tmp/ca.pem" -subj "/O=logferry tests/CN=logferry test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash" 2>/dev/null || die "creating the CA failed"

issue() { # NAME CN EXTENSIONS
  openssl req -new -newkey rsa:2048 -nodes -sha256 -keyout "$tmp/$1.key" -out "$tmp/$1.csr" \
    -subj "/O=logferry tests/CN=$2" 2>/dev/null || die "creating the $1 key/CSR failed"
  printf '%s\n' "$3" > "$tmp/$1.ext"
  openssl x509 -req -sha256 -days 3650 -in "$tmp/$1.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
    -set_serial "0x$(openssl rand -hex 8)" -extfile "$tmp/$1.ext" -out "$tmp/$1.pem" 2>/dev/null \
    || die "signing the $1 certificate failed"
}
issue server localhost "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
authorityKeyIdentifier=keyid"
issue client logferry-test-client "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
subjectAltName=DNS:logferry-test-client
authorityKeyIdentifier=keyid"

openssl verify -CAfile "$tmp/ca.pem" "$tmp/server.pem" "$tmp/client.pem" >/dev/null \
  || die "the generated certificates do not verify"
for f in "${files[@]}"; do mv -f "$tmp/$f" "$f"; done
chmod 0644 ca.pem server.pem client.pem
chmod 0600 ca.key server.key client.key
echo "certs.sh: wrote ${files[*]} to $(pwd)" >&2
