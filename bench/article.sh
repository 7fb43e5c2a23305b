#!/usr/bin/env bash
# The article's openssl script (reference/otlp-tls-mtls-article.md), as written, in the current
# directory. KEY=p256 swaps `genrsa 4096` for P-256 keys; everything else is unchanged.
set -euo pipefail
genkey() {
  if [ "${KEY:-rsa4096}" = p256 ]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
  else
    openssl genrsa -out "$1" 4096 2>/dev/null
  fi
}
genkey ca.key
openssl req -new -x509 -days 365 -key ca.key -out ca.crt -subj "/CN=OTel CA/O=MyCompany"
genkey server.key
openssl req -new -key server.key -out server.csr -subj "/CN=otel-collector.observability.svc"
openssl x509 -req -days 365 -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
  -extfile <(printf "subjectAltName=DNS:otel-collector.observability.svc,DNS:localhost") 2>/dev/null
genkey client.key
openssl req -new -key client.key -out client.csr -subj "/CN=my-application/O=MyCompany"
openssl x509 -req -days 365 -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt 2>/dev/null
