#!/usr/bin/env bash
# Scale benchmark (DESIGN §9): a CA, a server and N clients (default 1000) in one
# `otelpki apply` run, against the article's openssl script with P-256 keys doing the same
# (one openssl process per step, as users write it: genpkey, req, x509 per client) and, if
# installed, certtool. Prints wall times, ms per certificate and the ratios.
# otelpki writes durably (the batch's files, then one syncfs, the renames and a directory
# fsync); openssl and certtool do not fsync at all. Runs in target/ (the disk) and, if /dev/shm
# exists, on tmpfs. Each run's directory is kept until the end and spread over the disk's block
# groups (chattr +T): on ext4 without a journal, creating files next to thousands deleted in the
# last minutes is slow for every program alike (bench/durability.sh says why).
# Usage: bench/scale.sh [N] [RUNS]   (RUNS of otelpki, median; the baselines run once)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
N=${1:-1000}
RUNS=${2:-3}

cargo build --release --quiet
BIN=$PWD/target/release/otelpki
WORK=$(mktemp -d "$PWD/target/bench-scale.XXXXXX")
SHM=""
if [ -d /dev/shm ] && [ -w /dev/shm ]; then SHM=$(mktemp -d /dev/shm/otelpki-scale.XXXXXX); fi
trap 'rm -rf "$WORK" ${SHM:+"$SHM"}' EXIT
spread_runs "$WORK" || true

# The spec: the article's CA, its Collector server, and N applications.
SPEC=$WORK/otelpki.toml
write_spec "$SPEC" "$N"

# The article's script with P-256 keys, extended to N clients the way a user would.
cat > "$WORK/openssl.sh" <<'SCRIPT'
set -euo pipefail
genkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
genkey ca.key
openssl req -new -x509 -days 365 -key ca.key -out ca.crt -subj "/CN=OTel CA/O=MyCompany"
genkey server.key
openssl req -new -key server.key -out server.csr -subj "/CN=otel-collector.observability.svc"
openssl x509 -req -days 365 -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
  -extfile <(printf "subjectAltName=DNS:otel-collector.observability.svc,DNS:localhost") 2>/dev/null
for ((i = 1; i <= N; i++)); do
  genkey "app-$i.key"
  openssl req -new -key "app-$i.key" -out "app-$i.csr" -subj "/CN=app-$i/O=MyCompany"
  openssl x509 -req -days 365 -in "app-$i.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "app-$i.crt" 2>/dev/null
done
SCRIPT

cat > "$WORK/certtool.sh" <<'SCRIPT'
set -euo pipefail
certtool --generate-privkey --key-type ecdsa --outfile ca.key 2>/dev/null
printf 'cn = OTel CA\norganization = MyCompany\nca\ncert_signing_key\nexpiration_days = 3650\n' > ca.tmpl
certtool --generate-self-signed --load-privkey ca.key --template ca.tmpl --outfile ca.crt 2>/dev/null
certtool --generate-privkey --key-type ecdsa --outfile server.key 2>/dev/null
printf 'cn = otel-collector.observability.svc\ndns_name = otel-collector.observability.svc\ndns_name = localhost\ntls_www_server\nexpiration_days = 365\n' > s.tmpl
certtool --generate-certificate --load-privkey server.key --load-ca-certificate ca.crt --load-ca-privkey ca.key --template s.tmpl --outfile server.crt 2>/dev/null
for ((i = 1; i <= N; i++)); do
  certtool --generate-privkey --key-type ecdsa --outfile "app-$i.key" 2>/dev/null
  printf 'cn = app-%d\norganization = MyCompany\ntls_www_client\nexpiration_days = 365\n' "$i" > c.tmpl
  certtool --generate-certificate --load-privkey "app-$i.key" --load-ca-certificate ca.crt --load-ca-privkey ca.key --template c.tmpl --outfile "app-$i.crt" 2>/dev/null
done
SCRIPT

now_ns() { date +%s%N; }
# timed_in D CMD: runs CMD in directory D; prints the wall time in ms.
timed_in() {
  local t0 t1
  t0=$(now_ns)
  (cd "$1" && eval "$2") >/dev/null
  t1=$(now_ns)
  awk -v ns=$((t1 - t0)) 'BEGIN {printf "%.1f", ns / 1e6}'
}
# time_ms DIR CMD: runs CMD in a fresh directory under DIR; prints the wall time in ms.
time_ms() {
  local d
  d=$(mktemp -d "$1/run.XXXXXX")
  timed_in "$d" "$2"
}
# rerun_ms DIR CMD: runs CMD in a fresh directory, then times a second run of it there.
rerun_ms() {
  local d
  d=$(mktemp -d "$1/run.XXXXXX")
  (cd "$d" && eval "$2") >/dev/null
  timed_in "$d" "$2"
}
# median_ms DIR CMD: the median of RUNS runs.
median_ms() {
  local i
  for ((i = 0; i < RUNS; i++)); do time_ms "$1" "$2"; echo; done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.4f", a/b}'; }
per_cert() { awk -v t="$1" -v n=$((N + 2)) 'BEGIN {printf "%.3f", t/n}'; }

ours="'$BIN' --dir certs apply '$SPEC'"
echo "scale: CA + server + $N clients ($((N + 2)) certificates), $(nproc) cores; otelpki median of $RUNS runs, baselines once"
disk=$(median_ms "$WORK" "$ours")
echo "  otelpki apply, disk (fsync)  ${disk} ms, $(per_cert "$disk") ms per certificate (target ~2)"
if [ -n "$SHM" ]; then
  shm=$(median_ms "$SHM" "$ours")
  echo "  otelpki apply, tmpfs         ${shm} ms, $(per_cert "$shm") ms per certificate (target ~0.2)"
fi
seeded="$ours --seed bench --now 2025-01-01T00:00:00Z"
seeded_disk=$(median_ms "$WORK" "$seeded")
echo "  otelpki apply --seed, disk   ${seeded_disk} ms, $(per_cert "$seeded_disk") ms per certificate (RFC 6979 signing in RustCrypto)"
if [ -n "$SHM" ]; then
  seeded_shm=$(median_ms "$SHM" "$seeded")
  echo "  otelpki apply --seed, tmpfs  ${seeded_shm} ms, $(per_cert "$seeded_shm") ms per certificate"
fi
rerun=$(rerun_ms "$WORK" "$ours")
echo "  otelpki apply again, nothing to do: ${rerun} ms (reads, verifies and keeps every file)"
openssl_ms=$(time_ms "$WORK" "N=$N bash '$WORK/openssl.sh'")
echo "  openssl script, P-256        ${openssl_ms} ms, $(per_cert "$openssl_ms") ms per certificate"
echo "  otelpki takes $(ratio "$disk" "$openssl_ms") of the openssl script's time (target <= 0.05)"
if command -v certtool >/dev/null 2>&1; then
  certtool_ms=$(time_ms "$WORK" "N=$N bash '$WORK/certtool.sh'")
  echo "  certtool, ECDSA              ${certtool_ms} ms, $(per_cert "$certtool_ms") ms per certificate"
  echo "  otelpki takes $(ratio "$disk" "$certtool_ms") of certtool's time (target <= 0.25)"
else
  echo "  certtool is missing (apt-get install gnutls-bin): no certtool baseline"
fi
