#!/usr/bin/env bash
# Before/after comparison of two builds of otelpki (issue 10): runs one job by binary A and by
# binary B in turn (A then B, then B then A, ...), after two warm-up pairs, and prints each
# one's median and the median and quartiles of the per-pair A/B wall-time ratio. Pairing makes
# the figure hold on a noisy machine: a neighbour that slows one run slows its twin too.
# Jobs:
#   pki    the default PKI: init-ca, issue server --san otel-collector.observability.svc,localhost,
#          issue client --cn my-application (three processes), in a fresh directory
#   apply  CA + server + N clients (default 1000) in one `apply`, in a fresh directory
#   check  `check` of one directory of CA + server + N clients (made once, by A)
# Directories are kept until the end and spread over block groups (chattr +T; see
# bench/durability.sh for why).
# Usage: bench/compare.sh A B [pki|apply|check] [PAIRS] [N]   (default: pki, 21 pairs, 1000)
# Example: git worktree add ../before REV && (cd ../before && cargo build --release) &&
#          bench/compare.sh target/release/otelpki ../before/target/release/otelpki apply 11
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,15p' "$0" >&2; exit 2; }
A=$(realpath "$1") B=$(realpath "$2") JOB=${3:-pki} PAIRS=${4:-21} N=${5:-1000}
for bin in "$A" "$B"; do [ -x "$bin" ] || { echo "compare: $bin is not an executable" >&2; exit 2; }; done
cd "$(dirname "$0")/.."
. bench/common.sh
mkdir -p target
W=$(mktemp -d "$PWD/target/bench-compare.XXXXXX")
trap 'rm -rf "$W"' EXIT
spread_runs "$W" || true

SPEC=$W/otelpki.toml
write_spec "$SPEC" "$N"

case $JOB in
  pki)
    job() {
      local d
      d=$(mktemp -d "$W/run.XXXXXX")
      "$1" --dir "$d/certs" init-ca
      "$1" --dir "$d/certs" issue server --san otel-collector.observability.svc,localhost
      "$1" --dir "$d/certs" issue client --cn my-application
    }
    ;;
  apply)
    job() {
      local d
      d=$(mktemp -d "$W/run.XXXXXX")
      "$1" --dir "$d/certs" apply "$SPEC"
    }
    ;;
  check)
    "$A" --dir "$W/checked" apply "$SPEC" >/dev/null
    # check exits 1 when it finds something (not expected here); either way it is timed
    job() { "$1" --dir "$W/checked" check || [ $? -eq 1 ]; }
    ;;
  *) echo "compare: unknown job '$JOB' (pki, apply or check)" >&2; exit 2 ;;
esac

# timed BIN: the job's wall time in nanoseconds
timed() {
  local t0 t1
  t0=$(date +%s%N)
  job "$1" >/dev/null
  t1=$(date +%s%N)
  echo $((t1 - t0))
}
for _ in 1 2; do timed "$A" >/dev/null; timed "$B" >/dev/null; done
: > "$W/ab"
for ((i = 0; i < PAIRS; i++)); do
  if ((i % 2)); then b=$(timed "$B"); a=$(timed "$A"); else a=$(timed "$A"); b=$(timed "$B"); fi
  echo "$a $b" >> "$W/ab"
done
# quantile P: the P-quantile (nearest rank) of the numbers on stdin
quantile() { sort -g | awk -v p="$1" '{a[NR] = $1} END {print a[int(p * (NR - 1)) + 1]}'; }
ms() { awk '{printf "%.1f", $1 / 1e6}'; }
awk '{printf "%.4f\n", $1 / $2}' "$W/ab" > "$W/ratios"
echo "compare: job $JOB, $PAIRS pairs, $(nproc) cores"
echo "  A $A: median $(cut -d' ' -f1 "$W/ab" | quantile 0.5 | ms) ms"
echo "  B $B: median $(cut -d' ' -f2 "$W/ab" | quantile 0.5 | ms) ms"
echo "  A/B per pair: median $(quantile 0.5 < "$W/ratios"), quartiles $(quantile 0.25 < "$W/ratios") .. $(quantile 0.75 < "$W/ratios")"
