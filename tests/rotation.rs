//! Renewal and CA rotation (issue 12, DESIGN §3a), judged by OpenSSL (`openssl verify`, key
//! match by public key) and rustls (real mTLS handshakes): `renew`, every key type through
//! `rotate-ca start|switch|finish` (and a change of key type), the encrypted CA key, `finish`
//! refusing a leaf still under the old CA, each step killed at many points and re-run. The
//! end-to-end proof on the real Collector is `a_steady_sender_loses_nothing_through_renewals_and_a_ca_rotation`.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::{Refused, certs, client, handshake, mtls_server, openssl_in};
use crate::races::{bin, run_bounded, text};

const LIMIT: Duration = Duration::from_secs(60);

fn run(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = bin(dir);
    cmd.args(args);
    run_bounded(cmd, LIMIT)
}

/// Runs otelpki and asserts exit 0; returns stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(
        out.status.success(),
        "{args:?}: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(dir, args)).expect("JSON")
}

fn phase(dir: &Path) -> String {
    json(dir, &["rotate-ca", "status", "--json"])["phase"]
        .as_str()
        .expect("phase")
        .to_string()
}

/// The public key of a certificate (the first of the file) or of a key, as OpenSSL reads it.
fn public_key(dir: &Path, file: &str) -> String {
    let args: Vec<&str> = if file.ends_with(".crt") || file.ends_with(".pem") {
        vec!["x509", "-in", file, "-noout", "-pubkey"]
    } else {
        vec![
            "pkey",
            "-in",
            file,
            "-pubout",
            "-passin",
            "pass:rotation-passphrase",
        ]
    };
    let (good, out) = openssl_in(dir, &args);
    assert!(good, "openssl reads {file}: {out}");
    out
}

/// `openssl verify -CAfile CA LEAF` (run in `dir`).
fn verifies(dir: &Path, ca: &str, leaf: &str) -> bool {
    let (good, out) = openssl_in(dir, &["verify", "-CAfile", ca, leaf]);
    good && out.contains(": OK")
}

/// The `n`th certificate of `file` in `dir`, written alone to `dest` (to judge against one CA).
fn nth_cert(dir: &Path, file: &str, n: usize, dest: &Path) {
    let der = certs(&dir.join(file)).remove(n);
    std::fs::write(dest, pem::encode(&pem::Pem::new("CERTIFICATE", der.to_vec())))
        .expect("write");
}

/// The public-key algorithm (and curve) of the first certificate of `file`.
fn key_kind(path: &Path) -> String {
    let der = certs(path).remove(0);
    let (_, x) = x509_parser::parse_x509_certificate(&der).expect("a certificate");
    let alg = &x.public_key().algorithm;
    let curve = alg.parameters.as_ref().and_then(|p| p.as_oid().ok());
    format!("{} {curve:?}", alg.algorithm)
}

/// Every way the PKI is not whole: ca.key is not the key of ca.crt's first certificate (or
/// ca-next.key of ca-next.crt), a leaf does not chain to ca.crt or does not match its key, or a
/// temporary file is left.
fn problems(dir: &Path, leaves: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    if public_key(dir, "ca.crt") != public_key(dir, "ca.key") {
        found.push("ca.key is not the key of ca.crt's first certificate".into());
    }
    for pair in ["ca-next", "ca-previous"] {
        let crt = format!("{pair}.crt");
        if dir.join(&crt).exists()
            && dir.join(format!("{pair}.key")).exists()
            && public_key(dir, &crt) != public_key(dir, &format!("{pair}.key"))
        {
            found.push(format!("{pair}.key does not match {crt}"));
        }
    }
    for leaf in leaves {
        let crt = format!("{leaf}.crt");
        if !verifies(dir, "ca.crt", &crt) {
            found.push(format!("{crt} does not chain to ca.crt"));
        }
        if public_key(dir, &crt) != public_key(dir, &format!("{leaf}.key")) {
            found.push(format!("{leaf}.key does not match {crt}"));
        }
    }
    let left: Vec<String> = crate::common::file_names(dir)
        .into_iter()
        .filter(|n| n.starts_with(".otelpki-"))
        .collect();
    if !left.is_empty() {
        found.push(format!("left: {left:?}"));
    }
    found
}

fn assert_whole(dir: &Path, leaves: &[&str], when: &str) {
    let found = problems(dir, leaves);
    assert!(
        found.is_empty(),
        "{when}: the PKI is not whole: {found:#?}\nfiles: {:?}",
        crate::common::file_names(dir)
    );
}

/// Copies `stem.crt` and `stem.key` of `dir` into `to` as `client.crt`/`client.key` (or the
/// given stem), so a test keeps an old pair after the directory moved on.
fn keep_pair(dir: &Path, stem: &str, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for ext in ["crt", "key"] {
        std::fs::copy(
            dir.join(format!("{stem}.{ext}")),
            to.join(format!("{stem}.{ext}")),
        )
        .expect("copy");
    }
}

fn pki(extra: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("certs");
    let mut args = vec!["init"];
    args.extend(extra);
    ok(&dir, &args);
    ok(
        &dir,
        &["issue", "client", "--cn", "other-app", "--name", "other"],
    );
    (tmp, dir)
}

const LEAVES: [&str; 3] = ["server", "client", "other"];

// ---------------------------------------------------------------------------------------------
// renew

/// `renew` re-issues what is due (and only that) with a new key, the same names, SANs, subject
/// and key type; named leaves now; `--exec` once with OTELPKI_RENEWED; `--dry-run` writes
/// nothing; exit 0 when nothing is due.
#[test]
fn renew_reissues_what_is_due_with_new_keys_and_the_same_names() {
    let (tmp, dir) = pki(&["--san", "localhost,127.0.0.1,otel.example.com"]);
    // a client that expires in 10 days is due within the default 30d
    ok(
        &dir,
        &[
            "issue", "client", "--cn", "short-lived", "--org", "Team B", "--days", "10", "--name",
            "short",
        ],
    );
    let before = crate::common::file_bytes(&dir);
    let subject = |f: &str| {
        openssl_in(
            &dir,
            &["x509", "-in", f, "-noout", "-subject", "-ext", "subjectAltName"],
        )
        .1
    };
    let short_subject = subject("short.crt");
    let short_key = public_key(&dir, "short.key");

    // dry run: says what, writes nothing
    let dry = json(&dir, &["renew", "--dry-run", "--json"]);
    assert_eq!(dry["renewed"][0]["name"], "short", "{dry}");
    assert_eq!(dry["renewed"].as_array().map(Vec::len), Some(1), "{dry}");
    assert_eq!(before, crate::common::file_bytes(&dir), "dry run wrote");

    let log = tmp.path().join("exec.log");
    let exec = format!("echo \"$OTELPKI_RENEWED\" >> {}", log.display());
    let done = json(&dir, &["renew", "--json", "--exec", &exec]);
    assert_eq!(done["renewed"][0]["name"], "short", "{done}");
    assert!(
        done["renewed"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("within 30d")),
        "{done}"
    );
    assert_eq!(std::fs::read_to_string(&log).expect("exec ran"), "short\n");
    assert_ne!(public_key(&dir, "short.key"), short_key, "a new key");
    assert_eq!(subject("short.crt"), short_subject, "same subject and SANs");
    assert_whole(&dir, &["server", "client", "other", "short"], "after renew");
    // the new certificate lasts as long as the old one did (10 days): not due within 5 days
    let out = ok(&dir, &["renew", "--within", "5d", "--exec", &exec]);
    assert!(out.contains("Nothing to renew"), "{out}");
    assert_eq!(
        std::fs::read_to_string(&log).expect("log"),
        "short\n",
        "--exec runs only after a renewal"
    );

    // named: now, whatever the expiry; same SANs, same key type
    let server_subject = subject("server.crt");
    let server_key = public_key(&dir, "server.key");
    ok(&dir, &["renew", "server", "other", "--exec", &exec]);
    assert_eq!(
        std::fs::read_to_string(&log).expect("log"),
        "short\nserver other\n"
    );
    assert_ne!(public_key(&dir, "server.key"), server_key);
    assert_eq!(subject("server.crt"), server_subject);
    assert_whole(&dir, &["server", "client", "other", "short"], "after renew NAME");
    let ca = dir.join("ca.crt");
    handshake(
        client(&ca, Some((&dir, "client"))),
        mtls_server(&dir, "server", &ca),
        "otel.example.com",
    )
    .expect("the renewed server serves a real handshake");

    // a name that is not a leaf, and the CA: usage errors naming the way
    let out = run(&dir, &["renew", "nosuch"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = run(&dir, &["renew", "ca"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("rotate-ca start"));
    // a failing --exec is an error (exit 2), after the files are in place
    let out = run(&dir, &["renew", "client", "--exec", "exit 3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("by hand"), "{}", text(&out.stderr));
    assert_whole(&dir, &["client"], "after a failed --exec");
}

// ---------------------------------------------------------------------------------------------
// rotate-ca

/// One whole rotation from `from` to `to` (key types), judged at every step by OpenSSL and by
/// rustls handshakes: the bundle's order, who signs, that an old-CA client is accepted during
/// the overlap and refused after finish.
fn rotate(from: &str, to: Option<&str>) {
    let (tmp, dir) = pki(&["--key-type", from]);
    let when = format!("{from} -> {}", to.unwrap_or(from));
    let old = tmp.path().join("old");
    keep_pair(&dir, "client", &old);
    nth_cert(&dir, "ca.crt", 0, &tmp.path().join("old-ca.pem"));

    // start: ca.crt = old + new, the old CA still signs
    let mut args = vec!["rotate-ca", "start", "--json"];
    if let Some(to) = to {
        args.extend(["--key-type", to]);
    }
    let started = json(&dir, &args);
    assert_eq!(started["phase"], "started", "{when}: {started}");
    assert_eq!(certs(&dir.join("ca.crt")).len(), 2, "{when}");
    assert_eq!(
        certs(&dir.join("ca.crt"))[0],
        certs(&tmp.path().join("old-ca.pem"))[0],
        "{when}: the old CA first"
    );
    assert_eq!(certs(&dir.join("ca.crt"))[1], certs(&dir.join("ca-next.crt"))[0]);
    assert_whole(&dir, &LEAVES, &format!("{when}, started"));
    assert_eq!(
        started["under_old_ca"].as_array().map(Vec::len),
        Some(3),
        "{started}"
    );
    let bundle_at_start = tmp.path().join("bundle-at-start.pem");
    std::fs::copy(dir.join("ca.crt"), &bundle_at_start).expect("copy");
    nth_cert(&dir, "ca-next.crt", 0, &tmp.path().join("new-ca.pem"));
    // a re-run of a finished step changes nothing
    let files = crate::common::file_bytes(&dir);
    ok(&dir, &["rotate-ca", "start"]);
    assert_eq!(files, crate::common::file_bytes(&dir), "{when}: start again");

    // switch: the new CA signs, ca.crt = new + old, every leaf re-issued under it
    let switched = json(&dir, &["rotate-ca", "switch", "--json"]);
    assert_eq!(switched["phase"], "switched", "{when}: {switched}");
    assert!(!dir.join("ca-next.crt").exists() && !dir.join("ca-next.key").exists());
    let bundle = certs(&dir.join("ca.crt"));
    assert_eq!(bundle.len(), 2);
    assert_eq!(bundle[0], certs(&tmp.path().join("new-ca.pem"))[0], "{when}: new first");
    assert_eq!(bundle[1], certs(&tmp.path().join("old-ca.pem"))[0]);
    assert_eq!(
        certs(&dir.join("ca-previous.crt"))[0],
        certs(&tmp.path().join("old-ca.pem"))[0]
    );
    assert_whole(&dir, &LEAVES, &format!("{when}, switched"));
    let new_ca = tmp.path().join("new-ca.pem");
    for leaf in LEAVES {
        let crt = dir.join(format!("{leaf}.crt"));
        let crt = crt.to_str().expect("UTF-8");
        assert!(
            verifies(&dir, new_ca.to_str().expect("UTF-8"), crt),
            "{when}: {leaf} under the new CA"
        );
        assert!(
            !verifies(&dir, tmp.path().join("old-ca.pem").to_str().expect("UTF-8"), crt),
            "{when}: {leaf} not under the old CA"
        );
        assert_eq!(
            key_kind(&dir.join(format!("{leaf}.crt"))),
            key_kind(&new_ca),
            "{when}: {leaf} takes the new CA's key type"
        );
    }
    // the overlap: the Collector (client CA = ca.crt, new server certificate) accepts the old
    // client, and an SDK restarted after start (trusting the start's bundle) accepts the new
    // server
    let ca = dir.join("ca.crt");
    handshake(
        client(&bundle_at_start, Some((&old, "client"))),
        mtls_server(&dir, "server", &ca),
        "localhost",
    )
    .unwrap_or_else(|e| panic!("{when}: old client during the overlap: {e:?}"));
    handshake(
        client(&ca, Some((&dir, "client"))),
        mtls_server(&dir, "server", &ca),
        "localhost",
    )
    .unwrap_or_else(|e| panic!("{when}: new client: {e:?}"));
    let files = crate::common::file_bytes(&dir);
    ok(&dir, &["rotate-ca", "switch"]);
    assert_eq!(files, crate::common::file_bytes(&dir), "{when}: switch again");

    // finish: ca.crt = new alone, ca-previous.* gone; the old client is refused
    let finished = json(&dir, &["rotate-ca", "finish", "--json"]);
    assert_eq!(finished["phase"], "none", "{when}: {finished}");
    assert_eq!(certs(&dir.join("ca.crt")), certs(&new_ca));
    assert!(!dir.join("ca-previous.crt").exists() && !dir.join("ca-previous.key").exists());
    assert_whole(&dir, &LEAVES, &format!("{when}, finished"));
    match handshake(
        client(&ca, Some((&old, "client"))),
        mtls_server(&dir, "server", &ca),
        "localhost",
    ) {
        Err(Refused::Server(_)) => {}
        other => panic!("{when}: the old client after finish: {other:?}"),
    }
    handshake(
        client(&ca, Some((&dir, "other"))),
        mtls_server(&dir, "server", &ca),
        "localhost",
    )
    .unwrap_or_else(|e| panic!("{when}: after finish: {e:?}"));
    let out = run(&dir, &["check"]);
    assert!(out.status.success(), "{when}: check: {}", text(&out.stdout));
    ok(&dir, &["rotate-ca", "finish"]);
}

#[test]
fn ecdsa_rotates() {
    rotate("ecdsa-p256", None);
}

#[test]
fn rsa_rotates() {
    rotate("rsa-2048", None);
}

#[test]
fn ed25519_rotates() {
    rotate("ed25519", None);
}

/// How a team leaves RSA-4096: the rotation changes the key type of the CA and of every leaf.
#[test]
fn a_rotation_leaves_rsa_4096_for_ecdsa() {
    rotate("rsa-4096", Some("ecdsa-p256"));
}

/// `finish` refuses while a leaf chains only to the old CA, naming it and `renew NAME`; `check`
/// reports it; `renew` (no names) re-issues it because the current CA did not sign it.
#[test]
fn finish_refuses_while_a_leaf_is_under_the_old_ca() {
    let (tmp, dir) = pki(&[]);
    let old = tmp.path().join("old");
    keep_pair(&dir, "client", &old);
    ok(&dir, &["rotate-ca", "start"]);
    // switch and finish in the wrong order
    let out = run(&dir, &["rotate-ca", "finish"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("rotate-ca switch"));
    ok(&dir, &["rotate-ca", "switch"]);
    // a certificate of the old CA copied in after the switch
    for ext in ["crt", "key"] {
        std::fs::copy(
            old.join(format!("client.{ext}")),
            dir.join(format!("legacy.{ext}")),
        )
        .expect("copy");
    }
    let before = crate::common::file_bytes(&dir);
    let out = run(&dir, &["rotate-ca", "finish"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("legacy") && err.contains("renew legacy"),
        "{err}"
    );
    assert_eq!(before, crate::common::file_bytes(&dir), "refused: nothing written");
    let status = json(&dir, &["rotate-ca", "status", "--json"]);
    assert_eq!(status["under_old_ca"], serde_json::json!(["legacy"]));
    let check = run(&dir, &["check", "--json"]);
    assert_eq!(check.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).expect("JSON");
    assert_eq!(report["rotation"], "switched");
    assert!(
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["code"] == "leaf-under-old-ca" && f["about"].as_str().is_some_and(|a| a.ends_with("legacy.crt"))),
        "{report}"
    );
    let renewed = json(&dir, &["renew", "--json"]);
    assert_eq!(renewed["renewed"][0]["name"], "legacy", "{renewed}");
    ok(&dir, &["rotate-ca", "finish"]);
    assert_whole(&dir, &["server", "client", "other", "legacy"], "finished");
}

/// An encrypted CA key stays encrypted through the rotation (ca-next.key, then ca.key), with the
/// same passphrase; without the passphrase, start and switch fail with exit 2 and write nothing.
#[test]
fn an_encrypted_ca_key_stays_encrypted_through_a_rotation() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("certs");
    let with_pass = |args: &[&str]| {
        let mut cmd = bin(&dir);
        cmd.env("OTELPKI_CA_PASSPHRASE", "rotation-passphrase")
            .args(args);
        let out = run_bounded(cmd, LIMIT);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    };
    with_pass(&["init-ca", "--encrypt-key"]);
    with_pass(&["issue", "server", "--san", "localhost"]);
    with_pass(&["issue", "client", "--cn", "app"]);
    for step in ["start", "switch"] {
        let before = crate::common::file_bytes(&dir);
        let out = run(&dir, &["rotate-ca", step]);
        assert_eq!(out.status.code(), Some(2), "{step} without the passphrase");
        assert!(text(&out.stderr).contains("OTELPKI_CA_PASSPHRASE"), "{}", text(&out.stderr));
        assert_eq!(before, crate::common::file_bytes(&dir), "{step}: nothing written");
        with_pass(&["rotate-ca", step]);
        let key = if step == "start" { "ca-next.key" } else { "ca.key" };
        let pem = std::fs::read_to_string(dir.join(key)).expect("read");
        assert!(pem.contains("BEGIN ENCRYPTED PRIVATE KEY"), "{key} after {step}");
        assert_whole(&dir, &["server", "client"], step);
    }
    ok(&dir, &["rotate-ca", "finish"]);
    assert_whole(&dir, &["server", "client"], "finished");
}

/// `apply` during a rotation signs with the current signer and leaves the CA files alone;
/// after a rotation that kept the spec's CN and took its new key type, it has nothing to do.
#[test]
fn apply_goes_along_with_a_rotation() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("certs");
    let spec = tmp.path().join("otelpki.toml");
    let write = |kt: &str| {
        std::fs::write(
            &spec,
            format!(
                "key_type = \"{kt}\"\n[ca]\ncn = \"Spec CA\"\n[[server]]\nsans = [\"localhost\"]\n[[client]]\ncn = \"app\"\n"
            ),
        )
        .expect("spec")
    };
    let spec_s = spec.to_str().expect("UTF-8");
    write("ecdsa-p256");
    ok(&dir, &["apply", spec_s]);
    ok(
        &dir,
        &["rotate-ca", "start", "--key-type", "ecdsa-p384", "--cn", "Spec CA"],
    );
    let bundle = std::fs::read(dir.join("ca.crt")).expect("read");
    let out = ok(&dir, &["apply", spec_s]);
    assert!(out.contains("0 renewed"), "{out}");
    assert_eq!(bundle, std::fs::read(dir.join("ca.crt")).expect("read"), "the bundle kept");
    ok(&dir, &["rotate-ca", "switch"]);
    ok(&dir, &["rotate-ca", "finish"]);
    write("ecdsa-p384");
    let out = ok(&dir, &["apply", spec_s]);
    assert!(out.contains("0 created, 0 renewed, 3 unchanged"), "{out}");
    assert_whole(&dir, &["server", "app"], "applied after the rotation");
}

// ---------------------------------------------------------------------------------------------
// Kill tests

/// Prepares a PKI in the phase before `step`.
fn before_step(step: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = pki(&[]);
    if step != "start" {
        ok(&dir, &["rotate-ca", "start"]);
    }
    if step == "finish" {
        ok(&dir, &["rotate-ca", "switch"]);
    }
    (tmp, dir)
}

fn phase_after(step: &str) -> &'static str {
    match step {
        "start" => "started",
        "switch" => "switched",
        _ => "none",
    }
}

fn phase_before(step: &str) -> &'static str {
    match step {
        "start" => "none",
        "switch" => "started",
        _ => "switched",
    }
}

/// The files a finished step leaves: ca-next.* only while started, ca-previous.* only while
/// switched.
fn assert_layout(dir: &Path, phase: &str, when: &str) {
    let has = |f: &str| dir.join(f).exists();
    let next = has("ca-next.crt") || has("ca-next.key");
    let prev = has("ca-previous.crt") || has("ca-previous.key");
    let n = certs(&dir.join("ca.crt")).len();
    let good = match phase {
        "none" => !next && !prev && n == 1,
        "started" => next && !prev && n == 2,
        _ => !next && prev && n == 2,
    };
    assert!(
        good,
        "{when}: phase {phase} with files {:?} and {n} certificate(s) in ca.crt",
        crate::common::file_names(dir)
    );
}

/// Kills `rotate-ca STEP` (slowed by OTELPKI_TEST_PAUSE_MS) at `points` delays across its run.
/// After each kill, once `recover` has completed or cleared the interrupted batch (what every
/// writer does first), the phase is the one before or after the step and the PKI is whole;
/// running the step again completes it: the phase after, whole, with only its own files.
fn kill_step(step: &str, points: u32) {
    let full = {
        let (_tmp, dir) = before_step(step);
        let mut cmd = bin(&dir);
        cmd.env("OTELPKI_TEST_PAUSE_MS", "30")
            .args(["rotate-ca", step]);
        let start = Instant::now();
        let out = run_bounded(cmd, LIMIT);
        assert!(out.status.success(), "{}", text(&out.stderr));
        start.elapsed()
    };
    let (mut killed, mut forward) = (0, 0);
    for i in 0..points {
        let delay = full * (i * 21) / ((points - 1) * 20);
        let when = format!("rotate-ca {step} killed after {delay:?} of {full:?}");
        let (_tmp, dir) = before_step(step);
        let mut cmd = bin(&dir);
        cmd.env("OTELPKI_TEST_PAUSE_MS", "30")
            .args(["rotate-ca", step])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = crate::common::Spawned(cmd.spawn().expect("spawn"));
        std::thread::sleep(delay);
        if child.0.try_wait().expect("poll").is_none() {
            killed += 1;
        }
        let _ = child.0.kill();
        let _ = child.0.wait();
        ok(&dir, &["recover"]);
        let now = phase(&dir);
        assert!(
            now == phase_before(step) || now == phase_after(step),
            "{when}: phase {now}"
        );
        forward += usize::from(now == phase_after(step));
        assert_whole(&dir, &LEAVES, &format!("{when}, recovered ({now})"));
        ok(&dir, &["rotate-ca", step]);
        assert_eq!(phase(&dir), phase_after(step), "{when}: re-run");
        assert_whole(&dir, &LEAVES, &format!("{when}, re-run"));
        assert_layout(&dir, phase_after(step), &format!("{when}, re-run"));
        let ca = dir.join("ca.crt");
        handshake(
            client(&ca, Some((&dir, "client"))),
            mtls_server(&dir, "server", &ca),
            "localhost",
        )
        .unwrap_or_else(|e| panic!("{when}: handshake after the re-run: {e:?}"));
    }
    eprintln!(
        "rotate-ca {step} killed at {points} points of {full:?}: {killed} killed mid-run, \
         {forward} found in the phase after"
    );
    assert!(killed > 0, "no kill landed inside rotate-ca {step}");
}

#[test]
fn rotate_ca_start_killed_at_any_point_is_before_or_after() {
    kill_step("start", 12);
}

#[test]
fn rotate_ca_switch_killed_at_any_point_is_before_or_after() {
    kill_step("switch", 16);
}

#[test]
fn rotate_ca_finish_killed_at_any_point_is_before_or_after() {
    kill_step("finish", 12);
}
