#!/usr/bin/env bash
# Durability benchmark (issue 10): CA + server + N clients (default 1000) in one `otelpki apply`,
# on the disk (target/) and on tmpfs (/dev/shm), alternating the two run by run so a noisy
# neighbour hits both alike. A third case, run in the same rotation, is the floor the disk sets:
# creating the same number of files (2 per certificate, 700 bytes each) with no fsync at all.
# Prints the medians and the ratios disk/tmpfs and otelpki/floor, and where the disk run's
# time goes (strace -c of one more run: the file creations against the one syncfs).
#
# Where a run's directory lies on the disk matters on this machine. Its disk is ext4 without a
# journal, and there the kernel will not reuse an inode deleted in the last minute (six while its
# inode table block is dirty): every new file's inode search steps over each such inode of its
# block group, one buffer lookup each (fs/ext4/ialloc.c, recently_deleted). After thousands of
# deletions in a group (a test run, an earlier benchmark, this script's own clean-up) a file
# creation there costs about 0.3 ms instead of 0.01 ms, for any program: `perf record -g` of a
# bare Python loop creating 2004 files puts over half of its time in recently_deleted. So by
# default the script gives its disk directory the ext4 "top directory" attribute (chattr +T), so
# that the kernel spreads each run's directory over block groups (Orlov) as it does directories
# made at the root, and keeps every run's directory until the end. SAME_GROUP=1 measures the
# other case, as the script did before: runs in one group, each deleted right after it.
# BASE_BIN=PATH adds a fourth case to the rotation: the same apply on the disk by another build
# (for example one made before the batch writer), and its ratio to this build.
# Usage: [SAME_GROUP=1] [BASE_BIN=PATH] bench/durability.sh [N] [RUNS]   (default 1000 clients, 11 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
N=${1:-1000}
RUNS=${2:-11}
[ -d /dev/shm ] && [ -w /dev/shm ] || { echo "durability: /dev/shm (tmpfs) is needed" >&2; exit 1; }
command -v python3 >/dev/null || { echo "durability: python3 is needed for the floor" >&2; exit 1; }

cargo build --release --quiet
BIN=$PWD/target/release/otelpki
DISK=$(mktemp -d "$PWD/target/bench-durability.XXXXXX")
SHM=$(mktemp -d /dev/shm/otelpki-durability.XXXXXX)
trap 'rm -rf "$DISK" "$SHM"' EXIT
SAME_GROUP=${SAME_GROUP:-0}
if ((SAME_GROUP)); then
  placement="one block group, each run's directory deleted after it"
elif spread_runs "$DISK"; then
  placement="spread over block groups (chattr +T), kept to the end"
else
  echo "durability: run with SAME_GROUP=1 where runs cannot be spread" >&2
  exit 1
fi
SPEC=$DISK/otelpki.toml
write_spec "$SPEC" "$N"
FILES=$(((N + 2) * 2))
floor="python3 -c 'import os
os.mkdir(\"certs\")
for i in range($FILES):
    fd = os.open(\"certs/f%d\" % i, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600); os.write(fd, b\"x\" * 700); os.close(fd)'"
ours="'$BIN' --dir certs apply '$SPEC'"

declare -A times
cases=(disk tmpfs floor)
if [ -n "${BASE_BIN:-}" ]; then
  [ -x "$BASE_BIN" ] || { echo "durability: BASE_BIN=$BASE_BIN is not an executable" >&2; exit 1; }
  cases+=(base)
  theirs="'$BASE_BIN' --dir certs apply '$SPEC'"
fi
for ((i = 0; i < RUNS; i++)); do
  for c in "${cases[@]}"; do
    case $c in tmpfs) base=$SHM cmd=$ours ;; disk) base=$DISK cmd=$ours ;; floor) base=$DISK cmd=$floor ;; base) base=$DISK cmd=$theirs ;; esac
    d=$(mktemp -d "$base/run.XXXXXX")
    t0=$(date +%s%N)
    (cd "$d" && eval "$cmd") >/dev/null
    t1=$(date +%s%N)
    times[$c]+="$(((t1 - t0) / 1000)) "
    if ((SAME_GROUP)); then rm -rf "$d"; fi
  done
done
median() { tr ' ' '\n' <<<"${times[$1]}" | grep . | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
disk=$(median disk) tmpfs=$(median tmpfs) fl=$(median floor)
echo "durability: CA + server + $N clients, $(nproc) cores, $RUNS runs per case, alternating"
echo "  run directories: $placement"
runs_ms() { tr ' ' '\n' <<<"${times[$1]}" | grep . | awk '{printf "%d ", $1/1000}'; }
echo "  otelpki apply, disk    ${disk} ms (median; runs: $(runs_ms disk)ms)"
echo "  otelpki apply, tmpfs   ${tmpfs} ms (median; runs: $(runs_ms tmpfs)ms)"
echo "  floor: create $FILES files on the disk, no fsync   ${fl} ms (median; runs: $(runs_ms floor)ms)"
if [ -n "${BASE_BIN:-}" ]; then
  b=$(median base)
  echo "  BASE_BIN apply, disk   ${b} ms (median; runs: $(runs_ms base)ms); this build / BASE_BIN $(ratio "$disk" "$b")"
fi
echo "  disk/tmpfs $(ratio "$disk" "$tmpfs") (target <= 3); otelpki on disk / floor $(ratio "$disk" "$fl")"
if command -v strace >/dev/null; then
  d=$(mktemp -d "$DISK/run.XXXXXX")
  (cd "$d" && strace -f -c -o "$DISK/strace" -e trace=openat,syncfs,fsync,fdatasync,renameat2,rename "$BIN" --dir certs apply "$SPEC" >/dev/null)
  echo "  where one disk run's system time goes (strace -c, seconds):"
  awk '$NF ~ /^(openat|syncfs|fsync|fdatasync|renameat2|rename)$/ {printf "    %-10s %s s in %s calls\n", $NF, $2, $4}' "$DISK/strace"
fi
