#!/usr/bin/env bash
# Mutation testing of otelpki's core (issue 15): cargo-mutants, with nextest as the test tool,
# file by file; each file's mutants are judged by the tests that exercise it (the lib's unit tests
# and the integration modules listed below), so a caught mutant costs seconds, not the whole suite.
#
#   scripts/mutants.sh                 the core: SAN and key types, profiles, the writer, the judge
#   scripts/mutants.sh round2          the modules of round 2: the engine, rotation and renewal,
#                                      CSR signing, the encrypted CA key, PKCS#12, OTLP in probe
#   scripts/mutants.sh all             both
#   scripts/mutants.sh src/san.rs ...  only these (any file with a test selection below)
#
# It mutates the working tree in place (cargo-mutants --in-place, restoring each file after its
# mutant): commit or stash first, and do not edit the tree while it runs. Exclusions (equivalent
# or unobservable mutants, each with its reason) live in .cargo/mutants.toml.
# Results: target/mutants/<file>/mutants.out/ (missed.txt, caught.txt, unviable.txt, timeout.txt)
# and a summary table on stdout. Exit 0 when no file has a missed mutant (a timeout is a
# mutant whose tests hang: detected, and counted in the summary).
#
# Environment: MUTANTS_OUT (default target/mutants), OTELPKI_TOOLS (where the tools are
# installed, default target/tools), MUTANTS_ARGS (more cargo-mutants arguments, split at
# spaces: e.g. `--re ^src/judge\.rs:(162:52|163:17):` to test only the mutants at those places). In place, cargo-mutants builds one mutant at a time.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned tools, installed through cargo into a cache directory on first use.
MUTANTS_VERSION=27.1.0
NEXTEST_VERSION=0.9.151
tools=${OTELPKI_TOOLS:-$PWD/target/tools}
out_root=${MUTANTS_OUT:-$PWD/target/mutants}
install() { # install CRATE VERSION
  if ! "$tools/bin/$1" "${1#cargo-}" --version 2>/dev/null | grep -qF "$2"; then
    echo "mutants: installing $1 $2 into $tools" >&2
    cargo install --locked --quiet --root "$tools" --version "$2" "$1"
  fi
}
install cargo-mutants "$MUTANTS_VERSION"
install cargo-nextest "$NEXTEST_VERSION"
export PATH="$tools/bin:$PATH"

# The integration tests (tests/*.rs, run as one binary, `integration`) that exercise each core
# file, as regexes of test names (`check::` is a whole module). The slow judges (the Collector,
# the SDKs, Java) are left out, and so is rotation's end-to-end test with a real Collector
# (`a_steady_sender_...`, minutes): every behaviour they judge is also pinned by a faster test
# in these modules. The crash tests of `rotate-ca` (20-30 s each) run only for rotate.rs.
rotation_fast='rotation::(a_rotation|rsa_|an_encrypted|renew_|ecdsa_|ed25519_|finish_|apply_|config_|a_step)'
modules() {
  case "$1" in
    src/san.rs) echo 'cli::' 'apply::' ;;
    src/key.rs | src/profile.rs) echo 'cli::' 'openssl::' 'fixtures::' ;;
    src/store.rs) echo 'files::' 'races::' 'cli::' 'config::' 'apply::' ;;
    # apply, renew, rotate-ca and export judge chains too (judge::chain, judge::signed_by)
    src/judge.rs) echo 'check::' 'cli::' 'apply::' "$rotation_fast" 'custody::exports_' ;;
    src/cert.rs) echo 'check::' 'cli::' 'openssl::' ;;
    src/engine.rs) echo 'cli::' 'files::' 'races::' 'fixtures::' 'apply::' 'custody::' ;;
    src/rotate.rs) echo 'rotation::(rotate_ca_|'"${rotation_fast#rotation::(}" ;;
    src/renew.rs) echo "$rotation_fast" ;;
    src/text.rs) echo 'cli::' 'hostile::' ;;
    src/render.rs) echo 'config::' ;;
    src/read.rs) echo 'check::' 'cli::' ;;
    src/csr.rs | src/encrypt.rs | src/export.rs) echo 'custody::' ;;
    src/probe/otlp.rs) echo 'probe::' 'check::' ;;
    src/probe/diagnose.rs) echo 'check::' 'probe::' 'go::' ;;
    *) echo "mutants: no test selection for $1" >&2; return 1 ;;
  esac
}
core=(src/san.rs src/key.rs src/profile.rs src/store.rs src/cert.rs src/judge.rs)
round2=(src/engine.rs src/rotate.rs src/renew.rs src/csr.rs src/export.rs src/encrypt.rs
  src/probe/otlp.rs)
case "${1:-}" in
  "") files=("${core[@]}") ;;
  round2) files=("${round2[@]}") ;;
  all) files=("${core[@]}" "${round2[@]}") ;;
  *) files=("$@") ;;
esac

summary=()
status=0
for file in "${files[@]}"; do
  mods=$(modules "$file")
  filter="kind(lib)"
  for m in $mods; do filter="$filter or (binary(integration) and test(/^$m/))"; done
  out="$out_root/$(echo "${file#src/}" | tr / _)"
  mkdir -p "$out"
  started=$(date +%s)
  echo "mutants: $file, judged by the unit tests and: $mods" >&2
  set +e
  read -ra extra <<<"${MUTANTS_ARGS:-}"
  cargo mutants --in-place --test-tool nextest --file "$file" --output "$out" "${extra[@]}" \
    --cargo-test-arg=--lib --cargo-test-arg=--test=integration \
    --cargo-test-arg=-E --cargo-test-arg="$filter"
  rc=$?
  set -e
  took=$(($(date +%s) - started))
  count() {
    if [ -f "$out/mutants.out/$1.txt" ]; then grep -c . "$out/mutants.out/$1.txt" || true; else echo 0; fi
  }
  line="$file: caught $(count caught), missed $(count missed), unviable $(count unviable), timeout $(count timeout) (${took}s)"
  summary+=("$line")
  # cargo-mutants exits 2 for missed mutants, 3 for timeouts (and none missed): a mutant whose
  # tests hang (an endless loop) is detected, as a timeout; anything else (a usage error, 4:
  # the tests fail on the unmutated tree) stops the run
  case "$rc" in
    0 | 3) ;;
    2) status=1 ;;
    *) echo "mutants: cargo-mutants failed on $file (exit $rc)" >&2; exit "$rc" ;;
  esac
done
printf '%s\n' "${summary[@]}"
exit "$status"
