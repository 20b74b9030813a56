#!/usr/bin/env bash
# Test PKI for the TLS tests of the OTLP exporters (tools/otlp_receiver.py --tls-cert/--tls-key/--tls-client-ca).
#
#     tools/make_test_ca.sh DIR
#
# Writes into DIR (created if missing), all PEM, EC P-256 keys unencrypted (PKCS#8), every certificate valid 2 days:
#   ca.pem, ca.key            test CA                        CN=trace-bridge test CA
#   server.pem, server.key    server cert signed by ca       CN=localhost, SAN DNS:localhost, IP:127.0.0.1, serverAuth
#   client.pem, client.key    client cert signed by ca       CN=trace-bridge-test-client, clientAuth (for mTLS)
#   other-ca.pem, other-ca.key  an unrelated CA               CN=trace-bridge other test CA (the "wrong CA" tests)
#
# Idempotent: when every file is there, the certificates chain to ca.pem / other-ca.pem and none expires within the
# next hour, nothing is rewritten; otherwise the whole set is made anew (a partial or stale set is never kept, so a
# server cert always matches the ca.pem beside it). Files are written under temporary names and renamed into place.
# Needs only the openssl CLI (Debian: apt-get install -y openssl). Prints DIR on success.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
if ! command -v openssl >/dev/null 2>&1; then
    echo "$0: the openssl CLI is missing (apt-get install -y openssl)" >&2
    exit 1
fi

dir=$1
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
files="ca.pem ca.key server.pem server.key client.pem client.key other-ca.pem other-ca.key"

up_to_date() {
    local f
    for f in $files; do [ -s "$dir/$f" ] || return 1; done
    for f in ca server client other-ca; do
        openssl x509 -in "$dir/$f.pem" -noout -checkend 3600 >/dev/null 2>&1 || return 1
        # the key belongs to the certificate
        [ "$(openssl x509 -in "$dir/$f.pem" -noout -pubkey 2>/dev/null)" = \
          "$(openssl pkey -in "$dir/$f.key" -pubout 2>/dev/null)" ] || return 1
    done
    openssl verify -CAfile "$dir/ca.pem" -purpose sslserver "$dir/server.pem" >/dev/null 2>&1 || return 1
    openssl verify -CAfile "$dir/ca.pem" -purpose sslclient "$dir/client.pem" >/dev/null 2>&1 || return 1
    openssl verify -CAfile "$dir/other-ca.pem" "$dir/other-ca.pem" >/dev/null 2>&1 || return 1
}

if up_to_date; then
    echo "$dir"
    exit 0
fi

work=$(mktemp -d "$dir/.make_test_ca.XXXXXX")
trap 'rm -rf "$work"' EXIT
umask 077  # keys readable by their owner only

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/$1.key" 2>/dev/null; }
serial() { echo "0x$(openssl rand -hex 16)"; }

# ([req] with distinguished_name: `openssl req -config` wants it even with -subj)
cat >"$work/ext.cnf" <<'EOF'
[req]
distinguished_name = dn
[dn]

[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

make_ca() {  # name, CN
    newkey "$1"
    openssl req -x509 -new -key "$work/$1.key" -sha256 -days 2 -set_serial "$(serial)" \
        -subj "/O=trace-bridge tests/CN=$2" -config "$work/ext.cnf" -extensions ca -out "$work/$1.pem" 2>/dev/null
}

make_leaf() {  # name, CN, extension section
    newkey "$1"
    openssl req -new -key "$work/$1.key" -subj "/O=trace-bridge tests/CN=$2" -out "$work/$1.csr" 2>/dev/null
    openssl x509 -req -in "$work/$1.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -set_serial "$(serial)" \
        -sha256 -days 2 -extfile "$work/ext.cnf" -extensions "$3" -out "$work/$1.pem" 2>/dev/null
}

make_ca ca "trace-bridge test CA"
make_leaf server localhost server
make_leaf client trace-bridge-test-client client
make_ca other-ca "trace-bridge other test CA"

openssl verify -CAfile "$work/ca.pem" -purpose sslserver "$work/server.pem" >/dev/null
openssl verify -CAfile "$work/ca.pem" -purpose sslclient "$work/client.pem" >/dev/null

chmod 644 "$work"/*.pem
for f in $files; do mv -f "$work/$f" "$dir/$f"; done
echo "$dir"
