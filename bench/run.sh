#!/usr/bin/env bash
# otelpki's benchmark (DESIGN §9). Prints each figure as a ratio against a baseline measured in
# the same run, on the same disk. Usage: bench/run.sh [RUNS]   (default 21 runs per case)
# Start-up:     `otelpki --version` vs an empty Rust binary built with the same toolchain.
# Default PKI:  init-ca + issue server + issue client (three processes, durable writes) vs the
#               article's openssl script as written (RSA-4096) and with P-256 keys.
# Scale:        bench/scale.sh, if present (CA + server + 1000 clients in one run).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
RUNS=${1:-21}
SLOW_RUNS=$(( RUNS < 5 ? RUNS : 5 ))

cargo build --release --quiet
BIN=$PWD/target/release/otelpki
WORK=$(mktemp -d "$PWD/target/bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# Runs' directories are kept until the end and spread over the disk's block groups: see
# bench/durability.sh for why deleting them between runs would slow the next ones down.
spread_runs "$WORK" || true

# An empty Rust binary, the start-up baseline.
printf 'fn main() {}\n' > "$WORK/empty.rs"
rustc -O -o "$WORK/empty" "$WORK/empty.rs"

now_ns() { date +%s%N; }
# medians RUNS CMD_A CMD_B ...: runs the shell snippets in turn (interleaved, so a noisy
# neighbour hits all of them alike), each in a fresh directory, RUNS times; prints the median
# wall time of each in milliseconds.
medians() {
  local runs=$1; shift
  local n=$# i j d t0 t1
  local -a cmds=("$@") files=()
  for ((j = 0; j < n; j++)); do files+=("$WORK/times.$j"); : > "${files[j]}"; done
  for ((i = 0; i < runs; i++)); do
    for ((j = 0; j < n; j++)); do
      d=$(mktemp -d "$WORK/run.XXXXXX")
      t0=$(now_ns)
      (cd "$d" && eval "${cmds[j]}") >/dev/null
      t1=$(now_ns)
      echo $(( t1 - t0 )) >> "${files[j]}"
    done
  done
  for ((j = 0; j < n; j++)); do
    sort -n "${files[j]}" | awk '{a[NR]=$1} END {printf "%.3f ", a[int((NR+1)/2)]/1e6}'
  done
  echo
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.4f", a/b}'; }

echo "machine: $(nproc) cores; $(openssl version); runs per case: $RUNS (openssl RSA: $SLOW_RUNS)"

read -r empty version < <(medians "$RUNS" "'$WORK/empty'" "'$BIN' --version")
echo "start-up:    empty Rust binary ${empty} ms, otelpki --version ${version} ms, ratio $(ratio "$version" "$empty") (target <= 2)"

ours_cmd="'$BIN' --dir certs init-ca && '$BIN' --dir certs issue server --san otel-collector.observability.svc,localhost && '$BIN' --dir certs issue client --cn my-application"
certtool_cmd="certtool --generate-privkey --key-type ecdsa --outfile ca.key 2>/dev/null && printf 'cn = OTel CA\nca\ncert_signing_key\nexpiration_days = 3650\n' > ca.tmpl && certtool --generate-self-signed --load-privkey ca.key --template ca.tmpl --outfile ca.crt 2>/dev/null && certtool --generate-privkey --key-type ecdsa --outfile server.key 2>/dev/null && printf 'cn = localhost\ndns_name = localhost\ntls_www_server\nexpiration_days = 365\n' > s.tmpl && certtool --generate-certificate --load-privkey server.key --load-ca-certificate ca.crt --load-ca-privkey ca.key --template s.tmpl --outfile server.crt 2>/dev/null && certtool --generate-privkey --key-type ecdsa --outfile client.key 2>/dev/null && printf 'cn = my-application\ntls_www_client\nexpiration_days = 365\n' > c.tmpl && certtool --generate-certificate --load-privkey client.key --load-ca-certificate ca.crt --load-ca-privkey ca.key --template c.tmpl --outfile client.crt 2>/dev/null"
if ! command -v certtool >/dev/null 2>&1; then
  echo "certtool is missing: apt-get install gnutls-bin" >&2
  exit 1
fi
read -r ours p256 ct < <(medians "$RUNS" "$ours_cmd" "KEY=p256 bash '$PWD/bench/article.sh'" "$certtool_cmd")
read -r _ rsa < <(medians "$SLOW_RUNS" "$ours_cmd" "bash '$PWD/bench/article.sh'")
echo "default PKI: otelpki (3 processes) ${ours} ms"
echo "             article script, RSA-4096 ${rsa} ms: otelpki takes $(ratio "$ours" "$rsa") of it (target <= 0.01)"
echo "             article script, P-256    ${p256} ms: otelpki takes $(ratio "$ours" "$p256") of it"
echo "             certtool, ECDSA          ${ct} ms: otelpki takes $(ratio "$ours" "$ct") of it (target < 1)"

if [ -x bench/scale.sh ]; then
  bench/scale.sh
fi
