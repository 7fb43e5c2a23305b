//! Racing writers and killed writers (issue 9, docs/guarantees.md "one writer at a time", "whole or not
//! at all"). Many processes start together on one DIR, or a writer slowed by
//! `OTELPKI_TEST_PAUSE_MS` is killed with SIGKILL at points swept across its whole run; then
//! OpenSSL and rustls judge what is on disk: the first certificate of ca.crt matches ca.key,
//! every leaf chains to ca.crt and matches its own key, and every key is from one run.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{Spawned, certs, client, handshake, mtls_server, openssl_in, pkcs8_key};

/// The binary under test as a plain process (not assert_cmd: these tests spawn, race and kill),
/// with the environment that could change its behaviour removed.
pub(crate) fn bin(dir: &Path) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("otelpki"));
    cmd.env_remove("OTELPKI_DIR")
        .env_remove("OTELPKI_TEST_PAUSE_MS")
        .env_remove("SOURCE_DATE_EPOCH")
        .arg("--dir")
        .arg(dir);
    cmd
}

/// Reads a child's stdout and stderr to the end on two threads (so a full pipe never blocks
/// it), for `finish`.
pub(crate) struct Drained {
    out: thread::JoinHandle<Vec<u8>>,
    err: thread::JoinHandle<Vec<u8>>,
}

pub(crate) fn drain(child: &mut std::process::Child) -> Drained {
    use std::io::Read;
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    Drained {
        out: thread::spawn(move || {
            let mut v = Vec::new();
            let _ = out.read_to_end(&mut v);
            v
        }),
        err: thread::spawn(move || {
            let mut v = Vec::new();
            let _ = err.read_to_end(&mut v);
            v
        }),
    }
}

impl Drained {
    fn finish(self, status: ExitStatus) -> Output {
        Output {
            status,
            stdout: self.out.join().expect("stdout reader"),
            stderr: self.err.join().expect("stderr reader"),
        }
    }
}

/// Waits for `child` at most `limit`; on timeout it is killed, reaped, and the test fails
/// naming `what`.
pub(crate) fn wait_bounded(
    mut child: Spawned,
    drained: Drained,
    limit: Duration,
    what: &str,
) -> Output {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.0.try_wait().expect("wait for the child") {
            return drained.finish(status);
        }
        if Instant::now() >= deadline {
            drop(child); // kills and reaps
            panic!("{what} did not finish within {limit:?} (killed)");
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `cmd` (stdin empty, output captured) and waits at most `limit`.
pub(crate) fn run_bounded(mut cmd: Command, limit: Duration) -> Output {
    let what = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let drained = drain(&mut child);
    wait_bounded(Spawned(child), drained, limit, &what)
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Starts `cmds` at once (a barrier releases every spawning thread together) and returns
/// their outputs in order; each is bounded by `limit`.
fn race(cmds: Vec<Command>, limit: Duration) -> Vec<Output> {
    let barrier = Arc::new(Barrier::new(cmds.len()));
    let threads: Vec<_> = cmds
        .into_iter()
        .map(|cmd| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                run_bounded(cmd, limit)
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().expect("racer thread"))
        .collect()
}

/// The public key of a certificate (the first of the file) or of a private key, as OpenSSL
/// reads it (PEM SubjectPublicKeyInfo); None if OpenSSL cannot read the file.
fn public_key(dir: &Path, file: &str) -> Option<String> {
    let args: &[&str] = if file.ends_with(".crt") {
        &["x509", "-in", file, "-noout", "-pubkey"]
    } else {
        &["pkey", "-in", file, "-pubout"]
    };
    let (ok, out) = openssl_in(dir, args);
    ok.then_some(out)
}

/// Whether rustls takes `stem.crt` and `stem.key` as one pair (what a Collector or SDK on
/// rustls does when it loads them: the key's public half must be the certificate's).
fn rustls_pair(dir: &Path, stem: &str) -> Result<(), String> {
    let chain = certs(&dir.join(format!("{stem}.crt")));
    let key = pkcs8_key(&dir.join(format!("{stem}.key")));
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let signer = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("rustls cannot load {stem}.key: {e}"))?;
    rustls::sign::CertifiedKey::new(chain, signer)
        .keys_match()
        .map_err(|e| format!("{stem}.crt and {stem}.key are not one pair: {e}"))
}

/// The kind of a certificate's public key (algorithm and curve), from its SPKI.
fn key_kind(dir: &Path, crt: &str) -> String {
    let der = certs(&dir.join(crt)).remove(0);
    let (_, x) = x509_parser::parse_x509_certificate(&der).expect("a certificate");
    let alg = &x.public_key().algorithm;
    let curve = alg.parameters.as_ref().and_then(|p| p.as_oid().ok());
    format!("{} {curve:?}", alg.algorithm)
}

/// Every way the PKI in `dir` is not whole: the first certificate of ca.crt and ca.key hold
/// different public keys (OpenSSL's reading of each), a leaf does not verify against ca.crt
/// (`openssl verify -CAfile`, all leaves in one run), or rustls does not take a leaf and
/// its key as one pair. Empty: whole.
fn problems(dir: &Path, leaves: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    match (public_key(dir, "ca.crt"), public_key(dir, "ca.key")) {
        (Some(c), Some(k)) if c == k => {}
        (Some(_), Some(_)) => found.push("ca.crt and ca.key do not match".to_string()),
        (c, k) => found.push(format!(
            "the CA is unreadable (ca.crt: {}, ca.key: {})",
            c.is_some(),
            k.is_some()
        )),
    }
    let files: Vec<String> = leaves.iter().map(|l| format!("{l}.crt")).collect();
    let mut args = vec!["verify", "-CAfile", "ca.crt"];
    args.extend(files.iter().map(String::as_str));
    let (_, out) = openssl_in(dir, &args);
    for file in &files {
        if !out.lines().any(|l| l == format!("{file}: OK")) {
            found.push(format!("{file} does not chain to ca.crt: {}", out.trim()));
        }
    }
    for leaf in leaves {
        if let Err(e) = rustls_pair(dir, leaf) {
            found.push(e);
        }
    }
    found
}

/// Asserts the PKI is whole (see `problems`), no temporary file or commit record is left,
/// and every key (CA and leaves) is of one kind: from one run, when runs alternate key types.
/// Returns that kind.
fn assert_whole(dir: &Path, leaves: &[&str], when: &str) -> String {
    let found = problems(dir, leaves);
    assert!(
        found.is_empty(),
        "{when}: the PKI is not whole: {found:#?}\nfiles: {:?}",
        crate::common::file_names(dir)
    );
    let left = leftovers(dir);
    assert!(left.is_empty(), "{when}: left in DIR: {left:?}");
    // every pair matches, so each key's kind is its certificate's
    let kind = key_kind(dir, "ca.crt");
    for leaf in leaves {
        assert_eq!(
            key_kind(dir, &format!("{leaf}.crt")),
            kind,
            "{when}: {leaf} and the CA are from different runs"
        );
    }
    kind
}

/// The `.otelpki-*` temporary files and commit records in `dir` (the lock file is not one).
fn leftovers(dir: &Path) -> Vec<String> {
    crate::common::file_names(dir)
        .into_iter()
        .filter(|n| n.starts_with(".otelpki-"))
        .collect()
}

/// Both sides of a real mTLS handshake (rustls) accept the server and client pairs.
fn assert_handshake(dir: &Path, server: &str, client_stem: &str) {
    let ca = dir.join("ca.crt");
    handshake(
        client(&ca, Some((dir, client_stem))),
        mtls_server(dir, server, &ca),
        "localhost",
    )
    .unwrap_or_else(|e| panic!("mTLS handshake {server}/{client_stem}: {e:?}"));
}

/// A spec of a CA, one server and two clients, all of `key_type`.
fn spec(key_type: &str) -> String {
    format!(
        r#"key_type = "{key_type}"
[ca]
cn = "Race CA"
[[server]]
sans = ["localhost", "127.0.0.1"]
[[client]]
cn = "app-one"
[[client]]
cn = "my-application"
name = "client"
"#
    )
}

const SPEC_LEAVES: [&str; 3] = ["server", "app-one", "client"];
const LIMIT: Duration = Duration::from_secs(60);

struct SpecDir {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    /// The spec with ECDSA P-256 keys, and the same with P-384: applying one after the
    /// other re-keys the CA and re-issues every leaf.
    p256: PathBuf,
    p384: PathBuf,
}

impl SpecDir {
    fn new() -> SpecDir {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("certs");
        let p256 = tmp.path().join("p256.toml");
        let p384 = tmp.path().join("p384.toml");
        std::fs::write(&p256, spec("ecdsa-p256")).expect("write spec");
        std::fs::write(&p384, spec("ecdsa-p384")).expect("write spec");
        SpecDir {
            _tmp: tmp,
            dir,
            p256,
            p384,
        }
    }

    fn apply(&self, spec: &Path) -> Command {
        let mut cmd = bin(&self.dir);
        // the spec re-keys the CA in one step, on purpose (the batch to kill)
        cmd.arg("apply").arg(spec).arg("--replace-ca");
        cmd
    }
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// Races

/// Ten `apply` runs start together, half with a spec that re-keys the CA to P-384 and half
/// back to P-256, each pausing between the steps of its batch: every run exits 0 (having
/// done its work or waited for the lock), and the PKI is whole, all from one run.
#[test]
fn ten_racing_applies_that_rekey_the_ca_leave_a_whole_pki() {
    let s = SpecDir::new();
    assert_ok(&run_bounded(s.apply(&s.p256), LIMIT), "first apply");
    let cmds = (0..10)
        .map(|i| {
            let mut cmd = s.apply(if i % 2 == 0 { &s.p384 } else { &s.p256 });
            cmd.env("OTELPKI_TEST_PAUSE_MS", "5");
            cmd
        })
        .collect();
    let outs = race(cmds, LIMIT);
    for (i, out) in outs.iter().enumerate() {
        assert_ok(out, &format!("racing apply #{i}"));
    }
    assert_whole(&s.dir, &SPEC_LEAVES, "after 10 racing applies");
    assert_handshake(&s.dir, "server", "client");
    assert_handshake(&s.dir, "server", "app-one");
}

/// Twenty `issue server --force` of one name, with several key types: the pair left is one
/// pair, chains to the CA, and serves a real handshake.
#[test]
fn twenty_racing_forced_issues_of_one_name_leave_one_pair() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("certs");
    assert_ok(&run_bounded(bin_args(&dir, &["init"]), LIMIT), "init");
    let key_types = ["ecdsa-p256", "ecdsa-p384", "rsa-2048", "ed25519"];
    let cmds = (0..20)
        .map(|i| {
            let mut cmd = bin_args(
                &dir,
                &[
                    "issue",
                    "server",
                    "--san",
                    "localhost,127.0.0.1",
                    "--force",
                    "--key-type",
                    key_types[i % key_types.len()],
                ],
            );
            cmd.env("OTELPKI_TEST_PAUSE_MS", "3");
            cmd
        })
        .collect();
    for (i, out) in race(cmds, LIMIT).iter().enumerate() {
        assert_ok(out, &format!("racing issue #{i}"));
    }
    let found = problems(&dir, &["server", "client"]);
    assert!(found.is_empty(), "{found:#?}");
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
    assert_handshake(&dir, "server", "client");
}

fn bin_args(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = bin(dir);
    cmd.args(args);
    cmd
}

/// Eight `init` on one new DIR: one creates the PKI, every other is refused with exit 2 and
/// "already exists" (having waited for the lock), and the winner's PKI is whole.
#[test]
fn racing_inits_one_wins_the_others_are_refused() {
    for round in 0..3 {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("certs");
        let cmds = (0..8)
            .map(|_| {
                let mut cmd = bin_args(&dir, &["init"]);
                cmd.env("OTELPKI_TEST_PAUSE_MS", "3");
                cmd
            })
            .collect();
        let outs = race(cmds, LIMIT);
        let wins = outs.iter().filter(|o| o.status.success()).count();
        assert_eq!(wins, 1, "round {round}: {outs:#?}");
        for out in outs.iter().filter(|o| !o.status.success()) {
            assert_eq!(out.status.code(), Some(2), "round {round}: {out:?}");
            assert!(
                text(&out.stderr).contains("already exists"),
                "round {round}: {}",
                text(&out.stderr)
            );
        }
        assert_whole(&dir, &["server", "client"], &format!("round {round}"));
        assert_handshake(&dir, "server", "client");
    }
}

/// The AuthorityKeyIdentifier or SubjectKeyIdentifier of a certificate, as OpenSSL prints it.
fn key_id(dir: &Path, crt: &str, ext: &str) -> String {
    let (ok, out) = openssl_in(dir, &["x509", "-in", crt, "-noout", "-ext", ext]);
    assert!(ok, "{crt}: {out}");
    out.lines()
        .skip(1)
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("")
        .trim_start_matches("keyid:")
        .to_string()
}

/// `init-ca --force` (four, alternating key types) races `issue client --force` (eight, on
/// two names): every pair on disk is one pair (the CA's included), nothing temporary is left,
/// and every leaf whose issuer key is the current CA's (AKI = the CA's SKI) verifies against
/// ca.crt, so no leaf was signed by a key that ca.crt does not hold. (A leaf issued before the
/// last `init-ca --force` is signed by a replaced CA: that is what --force means.)
#[test]
fn racing_ca_replacements_and_client_issues_keep_every_pair_whole() {
    for round in 0..2 {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("certs");
        assert_ok(&run_bounded(bin_args(&dir, &["init"]), LIMIT), "init");
        let mut cmds = Vec::new();
        for i in 0..12 {
            let mut cmd = if i % 3 == 0 {
                let kt = if i % 2 == 0 {
                    "ecdsa-p384"
                } else {
                    "ecdsa-p256"
                };
                bin_args(&dir, &["init-ca", "--force", "--key-type", kt])
            } else {
                let name = if i % 2 == 0 { "client" } else { "other" };
                bin_args(
                    &dir,
                    &[
                        "issue", "client", "--cn", "racer", "--name", name, "--force",
                    ],
                )
            };
            cmd.env("OTELPKI_TEST_PAUSE_MS", "3");
            cmds.push(cmd);
        }
        for (i, out) in race(cmds, LIMIT).iter().enumerate() {
            assert_ok(out, &format!("round {round}, racer #{i}"));
        }
        let ca_ski = key_id(&dir, "ca.crt", "subjectKeyIdentifier");
        let ca = public_key(&dir, "ca.crt");
        assert!(
            ca.is_some() && ca == public_key(&dir, "ca.key"),
            "round {round}: CA pair"
        );
        for leaf in ["server", "client", "other"] {
            let crt = format!("{leaf}.crt");
            assert_eq!(
                public_key(&dir, &crt),
                public_key(&dir, &format!("{leaf}.key")),
                "round {round}: {leaf} pair"
            );
            if key_id(&dir, &crt, "authorityKeyIdentifier") == ca_ski {
                let (ok, out) = openssl_in(&dir, &["verify", "-CAfile", "ca.crt", &crt]);
                assert!(ok, "round {round}: {crt} names the CA's key but: {out}");
            }
        }
        assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
        // and the next issue signs with a CA pair that works
        assert_ok(
            &run_bounded(
                bin_args(
                    &dir,
                    &[
                        "issue", "client", "--cn", "after", "--name", "client", "--force",
                    ],
                ),
                LIMIT,
            ),
            "issue after the race",
        );
        let (ok, out) = openssl_in(&dir, &["verify", "-CAfile", "ca.crt", "client.crt"]);
        assert!(ok, "round {round}: {out}");
    }
}

// ---------------------------------------------------------------------------------------------
// Crashes

/// The kill delays: `n` points from the start of a run to a little past its end, where `full`
/// is how long one whole run took (a measurement to spread the points, not an assertion).
fn sweep(full: Duration, n: u32) -> Vec<Duration> {
    (0..n).map(|i| full * (i * 21) / ((n - 1) * 20)).collect()
}

/// Spawns `cmd` slowed by OTELPKI_TEST_PAUSE_MS=30, SIGKILLs it after `delay` (if it is
/// still running), and returns whether it was killed (false: it finished first).
fn kill_after(mut cmd: Command, delay: Duration) -> bool {
    cmd.env("OTELPKI_TEST_PAUSE_MS", "30")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = Spawned(cmd.spawn().expect("spawn the writer"));
    thread::sleep(delay);
    let killed = child.0.try_wait().expect("poll").is_none();
    let _ = child.0.kill(); // SIGKILL
    let status = child.0.wait().expect("reap");
    if !killed {
        assert!(status.success(), "the unkilled writer failed: {status:?}");
    }
    killed && status.signal() == Some(9)
}

/// How long `cmd`, slowed by OTELPKI_TEST_PAUSE_MS=30, takes to run whole.
fn time_one(mut cmd: Command) -> Duration {
    cmd.env("OTELPKI_TEST_PAUSE_MS", "30");
    let start = Instant::now();
    assert_ok(&run_bounded(cmd, LIMIT), "a slowed writer");
    start.elapsed()
}

/// `otelpki check` right after a kill: if OpenSSL finds the PKI mixed, check must not say
/// "ok" (it may say so of a whole PKI with temporary files beside it). Returns whether the
/// state was mixed, and check's blindness to it if it was blind. The sweeps collect those and
/// assert at the end, so that a blind check does not hide how the next writer did.
fn judge_check(dir: &Path, leaves: &[&str], when: &str) -> (bool, Option<String>) {
    let mixed = problems(dir, leaves);
    if mixed.is_empty() {
        return (false, None);
    }
    let out = run_bounded(bin_args(dir, &["check"]), LIMIT);
    let said = text(&out.stdout);
    let blind = (out.status.success() || said.contains("ok: no problems")).then(|| {
        format!(
            "{when}: the PKI is mixed ({mixed:?}; left: {:?}) but check says ({:?}):\n{said}{}",
            leftovers(dir),
            out.status,
            text(&out.stderr)
        )
    });
    (true, blind)
}

fn assert_not_blind(blind: &[String]) {
    assert!(
        blind.is_empty(),
        "check said ok of a mixed PKI after {} kills:\n{}",
        blind.len(),
        blind.join("\n")
    );
}

/// An `apply` that re-keys the CA (P-256 → P-384) and re-issues every leaf, SIGKILLed at 25
/// points across its run. After each kill: `check` is not blind to a mixed state; the next
/// writer (an unrelated `issue client`) finds a whole PKI of one run (all P-256 or all
/// P-384: rolled back or forward), with no temporary file or commit record left, and its own
/// new leaf chains to it; `apply` again then completes the re-key.
#[test]
fn apply_killed_at_any_point_is_undone_or_completed_by_the_next_writer() {
    let full = {
        let s = SpecDir::new();
        assert_ok(&run_bounded(s.apply(&s.p256), LIMIT), "setup apply");
        time_one(s.apply(&s.p384))
    };
    let (mut killed, mut mixed, mut forward) = (0, 0, 0);
    let mut blind = Vec::new();
    for (i, delay) in sweep(full, 25).into_iter().enumerate() {
        let when = format!("kill #{i} after {delay:?} of {full:?}");
        let s = SpecDir::new();
        assert_ok(&run_bounded(s.apply(&s.p256), LIMIT), "setup apply");
        let old = key_kind(&s.dir, "ca.crt");
        killed += usize::from(kill_after(s.apply(&s.p384), delay));
        let (was_mixed, was_blind) = judge_check(&s.dir, &SPEC_LEAVES, &when);
        mixed += usize::from(was_mixed);
        blind.extend(was_blind);
        // the next writer, doing something else
        let next = run_bounded(
            bin_args(
                &s.dir,
                &["issue", "client", "--cn", "next", "--name", "next"],
            ),
            LIMIT,
        );
        assert_ok(&next, &format!("{when}: the next writer"));
        let kind = assert_whole(&s.dir, &["server", "app-one", "client", "next"], &when);
        forward += usize::from(kind != old);
        // and apply completes the re-key
        assert_ok(
            &run_bounded(s.apply(&s.p384), LIMIT),
            &format!("{when}: apply again"),
        );
        let kind = assert_whole(&s.dir, &SPEC_LEAVES, &format!("{when}, applied again"));
        assert_ne!(kind, old, "{when}: apply again did not re-key the CA");
        assert_handshake(&s.dir, "server", "client");
    }
    eprintln!(
        "apply killed at 25 points of {full:?}: {killed} killed, {mixed} left a mixed state \
         before recovery, {forward} rolled forward by the next writer"
    );
    assert_not_blind(&blind);
}

/// `init --force` SIGKILLed at 25 points: the next writer finds the old PKI or the new one,
/// whole, never a mix, and nothing temporary.
#[test]
fn init_force_killed_at_any_point_leaves_one_whole_pki() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("certs");
    assert_ok(&run_bounded(bin_args(&dir, &["init"]), LIMIT), "init");
    let full = time_one(bin_args(
        &dir,
        &["init", "--force", "--key-type", "ecdsa-p384"],
    ));
    let mut blind = Vec::new();
    for (i, delay) in sweep(full, 25).into_iter().enumerate() {
        let when = format!("kill #{i} after {delay:?} of {full:?}");
        // alternate the key type, so that a mix of two runs is visible as a mix of kinds
        let kt = if i % 2 == 0 {
            "ecdsa-p256"
        } else {
            "ecdsa-p384"
        };
        kill_after(
            bin_args(&dir, &["init", "--force", "--key-type", kt]),
            delay,
        );
        blind.extend(judge_check(&dir, &["server", "client"], &when).1);
        let next = run_bounded(
            bin_args(
                &dir,
                &[
                    "issue",
                    "server",
                    "--san",
                    "localhost",
                    "--name",
                    "next",
                    "--force",
                ],
            ),
            LIMIT,
        );
        assert_ok(&next, &format!("{when}: the next writer"));
        assert_whole(&dir, &["server", "client", "next"], &when);
        assert_handshake(&dir, "server", "client");
    }
    assert_not_blind(&blind);
}

/// `issue client --force` SIGKILLed at 25 points: after the next writer (another name), no
/// `.otelpki-*` file remains and client.crt/client.key are one pair that chains to the CA.
#[test]
fn forced_issue_killed_at_any_point_leaves_one_pair() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("certs");
    assert_ok(&run_bounded(bin_args(&dir, &["init"]), LIMIT), "init");
    let issue = |kt: &str| {
        bin_args(
            &dir,
            &[
                "issue",
                "client",
                "--cn",
                "app",
                "--force",
                "--key-type",
                kt,
            ],
        )
    };
    let full = time_one(issue("ecdsa-p384"));
    let mut blind = Vec::new();
    for (i, delay) in sweep(full, 25).into_iter().enumerate() {
        let when = format!("kill #{i} after {delay:?} of {full:?}");
        let kt = if i % 2 == 0 {
            "ecdsa-p256"
        } else {
            "ecdsa-p384"
        };
        kill_after(issue(kt), delay);
        blind.extend(judge_check(&dir, &["server", "client"], &when).1);
        let next = run_bounded(
            bin_args(
                &dir,
                &[
                    "issue", "client", "--cn", "next", "--name", "next", "--force",
                ],
            ),
            LIMIT,
        );
        assert_ok(&next, &format!("{when}: the next writer"));
        assert!(leftovers(&dir).is_empty(), "{when}: {:?}", leftovers(&dir));
        let found = problems(&dir, &["server", "client", "next"]);
        assert!(found.is_empty(), "{when}: {found:#?}");
        assert_handshake(&dir, "server", "client");
    }
    assert_not_blind(&blind);
}

// ---------------------------------------------------------------------------------------------
// Durability: what a kill cannot see.
//
// A SIGKILL (the tests above) ends the process but not the kernel: everything written before it,
// synced or not, is still in the page cache and reaches the disk later, so no kill test can tell
// a missing fsync from a present one. Only losing the kernel (power loss, a crash of the
// machine, or a block device that drops unflushed writes, as dm-flakey does) can, and no test
// here can do that. What can be observed is the order of the system calls, which is the
// protocol itself: strace records them (`-y` names each descriptor's file), and these tests
// assert that every file is flushed before its name is published and the directory is flushed
// after it.

/// Runs otelpki under strace, returning the traced calls (one a line, with paths).
fn traced(dir: &Path, args: &[&str]) -> Vec<String> {
    let found = Command::new("strace").arg("-V").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "strace is required by this test: install it (apt-get install strace)"
    );
    let log = tempfile::NamedTempFile::new().expect("trace file");
    let otelpki = bin(dir);
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-y", "-s", "4096", "-o"])
        .arg(log.path())
        .args([
            "-e",
            "trace=fsync,fdatasync,syncfs,rename,renameat,renameat2,link,linkat,unlink,unlinkat",
        ])
        .arg(otelpki.get_program())
        .args(otelpki.get_args())
        .args(args)
        .env_remove("OTELPKI_DIR")
        .env_remove("OTELPKI_TEST_PAUSE_MS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let out = cmd.output().expect("run strace");
    assert!(
        out.status.success(),
        "otelpki {args:?} under strace failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(log.path())
        .expect("read the trace")
        .lines()
        .map(str::to_string)
        .collect()
}

/// The index of the first traced line after `from` that `matches`.
fn position(trace: &[String], from: usize, what: &str, matches: impl Fn(&str) -> bool) -> usize {
    trace
        .iter()
        .enumerate()
        .skip(from)
        .find(|(_, l)| matches(l))
        .map(|(i, _)| i)
        .unwrap_or_else(|| {
            panic!(
                "no {what} after line {from} in the trace:\n{}",
                trace.join("\n")
            )
        })
}

/// One file (`config env --out`): the temporary file is fsynced, then renamed onto its name,
/// then the directory is fsynced, so the name survives a power loss once the command returns.
#[test]
fn one_file_is_flushed_before_and_its_directory_after_publishing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("certs");
    let status = bin(&dir).arg("init").output().unwrap().status;
    assert!(status.success());
    let dir = std::fs::canonicalize(&dir).unwrap();
    let out_dir = std::fs::canonicalize(tmp.path()).unwrap().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let target = out_dir.join("sdk.env");
    let trace = traced(&dir, &["config", "env", "--out", target.to_str().unwrap()]);
    let in_out = format!("<{}/.otelpki-", out_dir.display());
    let file_sync = position(&trace, 0, "fsync of the temporary file", |l| {
        l.contains("fsync(") && l.contains(&in_out)
    });
    let target_q = format!("\"{}\"", target.display());
    let publish = position(&trace, file_sync, "the rename onto sdk.env", |l| {
        (l.contains("rename") || l.contains("link")) && l.contains(&target_q) && l.ends_with("= 0")
    });
    let dir_fd = format!("<{}>)", out_dir.display());
    position(&trace, publish, "fsync of the directory", |l| {
        l.contains("fsync(") && l.contains(&dir_fd) && l.ends_with("= 0")
    });
    assert!(
        std::fs::read_to_string(&target)
            .unwrap()
            .contains("OTEL_EXPORTER_OTLP_CERTIFICATE")
    );
}

/// A batch (`init-ca`: ca.key and ca.crt): one syncfs makes the staged files and the commit
/// record durable before the record is named; the directory is fsynced after the record is
/// named, and again after the last file is renamed into place, before the record goes.
#[test]
fn a_batch_is_flushed_before_its_commit_and_its_directory_after() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(tmp.path()).unwrap().join("certs");
    std::fs::create_dir(&dir).unwrap();
    let trace = traced(&dir, &["init-ca"]);
    let dir_fd = format!("<{}>)", dir.display());
    let syncfs = position(&trace, 0, "syncfs of the directory", |l| {
        l.starts_with(|c: char| c.is_ascii_digit()) && l.contains("syncfs(") && l.contains(&dir_fd)
    });
    let commit = position(&trace, syncfs, "the commit record's rename", |l| {
        l.contains(".commit\"")
            && (l.contains("rename") || l.contains("link"))
            && l.ends_with("= 0")
    });
    let committed = position(
        &trace,
        commit,
        "fsync of the directory after the commit",
        |l| l.contains("fsync(") && l.contains(&dir_fd),
    );
    let mut last = committed;
    for name in ["ca.key", "ca.crt"] {
        let q = format!("\"{}\"", dir.join(name).display());
        let at = position(&trace, committed, name, |l| {
            l.contains("rename") && l.contains(&q) && l.ends_with("= 0")
        });
        last = last.max(at);
    }
    let after = position(
        &trace,
        last,
        "fsync of the directory after the renames",
        |l| l.contains("fsync(") && l.contains(&dir_fd),
    );
    position(&trace, after, "the record's removal", |l| {
        l.contains("unlink") && l.contains(".commit\"")
    });
}

/// `recover` removing a stray temporary file flushes the directory after the removal, so the
/// cleanup it reports is durable.
#[test]
fn recover_flushes_the_directory_after_removing_a_stray() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(tmp.path()).unwrap().join("certs");
    assert!(bin(&dir).arg("init").output().unwrap().status.success());
    std::fs::write(dir.join(".otelpki-stray.tmp"), "half a key").unwrap();
    let trace = traced(&dir, &["recover"]);
    let stray = format!("\"{}\"", dir.join(".otelpki-stray.tmp").display());
    let removed = position(&trace, 0, "the stray's removal", |l| {
        l.contains("unlink") && l.contains(&stray) && l.ends_with("= 0")
    });
    let dir_fd = format!("<{}>)", dir.display());
    position(&trace, removed, "fsync of the directory", |l| {
        l.contains("fsync(") && l.contains(&dir_fd) && l.ends_with("= 0")
    });
}

// ---------------------------------------------------------------------------------------------
// Another program, and a filesystem without RENAME_NOREPLACE

/// Another program (otelpki writers wait for the lock; this one does not) makes one of a
/// batch's targets after the batch checked it, once the commit record is durable: the rename
/// onto it refuses to replace it, the batch removes what it had already renamed into place,
/// its temporary files and its record, and says which file exists (exit 2). The other
/// program's file is kept as it made it.
#[test]
fn a_target_made_by_another_program_mid_batch_is_kept_and_the_batch_undone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(tmp.path()).unwrap().join("certs");
    std::fs::create_dir(&dir).unwrap();
    let mut cmd = bin(&dir);
    cmd.arg("init-ca")
        .env("OTELPKI_TEST_PAUSE_MS", "1000")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn init-ca");
    let drained = drain(&mut child);
    let child = Spawned(child);
    // The commit record names the renames in their order; the batch pauses after naming it.
    let deadline = Instant::now() + LIMIT;
    let renames: Vec<String> = loop {
        let record = leftovers(&dir).into_iter().find(|n| n.ends_with(".commit"));
        if let Some(text) = record.and_then(|r| std::fs::read_to_string(dir.join(r)).ok()) {
            break text
                .lines()
                .map(|l| l.split('\t').nth(1).expect("a target").to_string())
                .collect();
        }
        assert!(Instant::now() < deadline, "no commit record appeared");
        thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(renames.len(), 2, "{renames:?}");
    let (first, second) = (&renames[0], &renames[1]);
    std::fs::write(dir.join(second), "another program's file").unwrap();
    let out = wait_bounded(child, drained, LIMIT, "init-ca");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("`{}` already exists", dir.join(second).display())),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join(second)).unwrap(),
        "another program's file"
    );
    assert_eq!(
        crate::common::file_names(&dir),
        std::slice::from_ref(second),
        "{first} was renamed into place and must be removed again, with every temporary file \
         and the record"
    );
}

/// On a filesystem without renameat2's RENAME_NOREPLACE (the kernel answers EINVAL, or ENOSYS
/// on an old kernel; strace's fault injection plays both), files are published through link
/// and unlink instead: `init` (batches) and `config env --out` (one file) succeed, the PKI is
/// whole (OpenSSL and rustls), and no temporary file is left.
#[test]
fn without_rename_noreplace_files_are_linked_into_place() {
    for errno in ["EINVAL", "ENOSYS"] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(tmp.path()).unwrap().join("certs");
        let log = tmp.path().join("strace.log");
        let injected = |args: &[&str]| {
            let otelpki = bin(&dir);
            let mut cmd = Command::new("strace");
            cmd.args(["-f", "-qq", "-o"])
                .arg(&log)
                .args(["-e", "trace=renameat2", "-e"])
                .arg(format!("inject=renameat2:error={errno}"))
                .arg(otelpki.get_program())
                .args(otelpki.get_args())
                .args(args);
            let out = run_bounded(cmd, LIMIT);
            assert_ok(
                &out,
                &format!("otelpki {args:?} without RENAME_NOREPLACE ({errno})"),
            );
            let trace = std::fs::read_to_string(&log).expect("the trace");
            assert!(
                trace
                    .lines()
                    .any(|l| l.contains("renameat2(") && l.contains("(INJECTED)")),
                "{errno}: no renameat2 was refused:\n{trace}"
            );
        };
        injected(&["init"]);
        assert_whole(&dir, &["server", "client"], errno);
        let env = dir.join("sdk.env");
        injected(&["config", "env", "--out", env.to_str().unwrap()]);
        assert!(
            std::fs::read_to_string(&env)
                .unwrap()
                .contains("OTEL_EXPORTER_OTLP_CERTIFICATE")
        );
        assert!(leftovers(&dir).is_empty(), "{errno}: {:?}", leftovers(&dir));
    }
}

/// A rename that fails for any other reason (EACCES, injected by strace into the batch's
/// second file's renameat2; the first renameat2 names the commit record) fails the batch
/// as it is: no other way of renaming is tried, the file already renamed into place is
/// removed again with the temporary files and the record, and the error names the file
/// (exit 2).
#[test]
fn a_rename_refused_mid_batch_undoes_the_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(tmp.path()).unwrap().join("certs");
    std::fs::create_dir(&dir).unwrap();
    let otelpki = bin(&dir);
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=renameat2"])
        .args(["-e", "inject=renameat2:error=EACCES:when=3"])
        .arg(otelpki.get_program())
        .args(otelpki.get_args())
        .arg("init-ca");
    let out = run_bounded(cmd, LIMIT);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot write `{}`", dir.join("ca.crt").display()))
            && stderr.contains("Permission denied"),
        "{stderr}"
    );
    assert!(
        crate::common::file_names(&dir).is_empty(),
        "{:?}",
        crate::common::file_names(&dir)
    );
}
