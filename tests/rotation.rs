//! Renewal and CA rotation (issue 12, docs/rotation.md), judged by OpenSSL (`openssl verify`, key
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
    std::fs::write(
        dest,
        pem::encode(&pem::Pem::new("CERTIFICATE", der.to_vec())),
    )
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
            "issue",
            "client",
            "--cn",
            "short-lived",
            "--org",
            "Team B",
            "--days",
            "10",
            "--name",
            "short",
        ],
    );
    let before = crate::common::file_bytes(&dir);
    let subject = |f: &str| {
        openssl_in(
            &dir,
            &[
                "x509",
                "-in",
                f,
                "-noout",
                "-subject",
                "-ext",
                "subjectAltName",
            ],
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
    assert_whole(
        &dir,
        &["server", "client", "other", "short"],
        "after renew NAME",
    );
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
    assert!(
        text(&out.stderr).contains("by hand"),
        "{}",
        text(&out.stderr)
    );
    assert_whole(&dir, &["client"], "after a failed --exec");
}

/// `renew` keeps a leaf's lifetime, rounded to whole days after taking off the minute otelpki
/// backdates: a leaf of 30 days and 12 hours is renewed for 30 days, one of 30 days, 12 hours
/// and 2 minutes for 31, as `openssl x509 -checkend` reads them (issue 15).
#[test]
fn renew_keeps_the_lifetime_in_whole_days() {
    use otelpki::fixtures::custom::{Ca, Subject};
    let (_tmp, dir) = pki(&[]);
    let ca = Ca::load(&dir.join("ca.crt"), &dir.join("ca.key")).expect("the CA");
    let start = time::OffsetDateTime::now_utc() - time::Duration::minutes(1);
    let half_day = time::Duration::days(30) + time::Duration::hours(12);
    for (stem, life) in [
        ("half", half_day),
        ("more", half_day + time::Duration::minutes(2)),
    ] {
        let subject = Subject::new(stem, start, start + life);
        ca.leaf(otelpki::model::Role::Client, &subject)
            .and_then(|pair| pair.write(&dir, stem))
            .expect("a leaf");
    }
    ok(&dir, &["renew", "half", "more"]);
    let lasts_beyond = |stem: &str, seconds: i64| {
        let file = format!("{stem}.crt");
        let (ok, _) = openssl_in(
            &dir,
            &[
                "x509",
                "-noout",
                "-in",
                &file,
                "-checkend",
                &seconds.to_string(),
            ],
        );
        ok
    };
    let (day, hour) = (86_400, 3_600);
    assert!(lasts_beyond("half", 30 * day - hour));
    assert!(!lasts_beyond("half", 30 * day + hour));
    assert!(lasts_beyond("more", 31 * day - hour));
    assert!(!lasts_beyond("more", 31 * day + hour));
}

/// A leaf signed from a CSR has no key in DIR, so `renew` cannot renew it: named, it is refused;
/// due, it is skipped. Either way the fix is a new CSR signed as the same role and name, and
/// that command, run with the new CSR, works (issue 15).
#[test]
fn renew_sends_a_leaf_signed_from_a_csr_back_to_its_host() {
    let (tmp, dir) = pki(&[]);
    let host = tmp.path();
    let csr = |name: &str| {
        crate::custody::p256_csr(
            host,
            &format!("{name}.key"),
            &format!("{name}.csr"),
            "/CN=edge.example",
            &["-addext", "subjectAltName=DNS:edge.example"],
        );
        host.join(format!("{name}.csr")).display().to_string()
    };
    let first = csr("edge-1");
    ok(
        &dir,
        &[
            "issue", "server", "--csr", &first, "--name", "edge", "--days", "10",
        ],
    );
    let fix = format!(
        "otelpki --dir {} issue server --csr FILE --name edge --force",
        dir.display()
    );

    let out = run(&dir, &["renew", "edge"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("cannot renew `edge`") && err.contains("make a new CSR on its host"),
        "{err}"
    );
    assert!(err.contains(&fix), "{err}");

    // due alone: skipped, not "nothing to renew"
    let out = run(&dir, &["renew", "--within", "20d"]);
    assert_eq!(out.status.code(), Some(2));
    let said = text(&out.stdout);
    assert!(said.contains("Cannot renew edge: expires on"), "{said}");
    assert!(said.contains(&fix), "{said}");
    assert!(!said.contains("Nothing to renew"), "{said}");

    // due with everything else (a window longer than any leaf's life): the others are
    // renewed, this one skipped with the same fix, and the run fails saying so
    let out = run(&dir, &["renew", "--within", "400d", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_str(&text(&out.stdout)).expect("JSON");
    assert_eq!(
        report["renewed"].as_array().map(Vec::len),
        Some(LEAVES.len()),
        "{report:#}"
    );
    assert_eq!(report["skipped"][0]["name"], "edge", "{report:#}");
    let skipped_fix = report["skipped"][0]["fix"].as_str().unwrap_or_default();
    assert!(skipped_fix.contains(&fix), "{report:#}");
    assert!(text(&out.stderr).contains("could not be renewed here: edge"));

    let second = csr("edge-2");
    let again: Vec<String> = fix
        .replace("FILE", &second)
        .split_whitespace()
        .skip(1)
        .map(String::from)
        .collect();
    let again: Vec<&str> = again.iter().map(String::as_str).collect();
    ok(&dir, &again[2..]); // without `--dir DIR`: `ok` gives the same directory
    assert!(verifies(&dir, "ca.crt", "edge.crt"));
}

/// `renew` refuses, before anything, a directory without a CA (missing, or without ca.crt) and
/// a CA's own names (ca, ca-next, ca-previous: a CA is replaced by a staged rotation) (issue 15).
#[test]
fn renew_refuses_what_it_cannot_renew() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let refused = |dir: &Path, args: &[&str], says: &str| {
        let out = run(dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    };
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).expect("a directory");
    for dir in [empty.as_path(), &tmp.path().join("missing")] {
        refused(dir, &["renew"], "(ca.crt missing): nothing to renew");
    }
    let (_pki, dir) = pki(&[]);
    for name in ["ca", "ca-next", "ca-previous"] {
        refused(
            &dir,
            &["renew", name],
            "is the CA's: a CA is replaced by a staged rotation",
        );
    }
}

/// After a renewal, `renew` reminds that no SDK re-reads its files, unless `--exec` restarts
/// them; a dry run or a run with nothing due says nothing of it (issue 15).
#[test]
fn renew_reminds_to_restart_only_after_a_renewal_without_exec() {
    let (_tmp, dir) = pki(&[]);
    let note = "No SDK re-reads its certificate files";
    let says = |args: &[&str]| ok(&dir, args).contains(note);
    assert!(!says(&["renew"]), "nothing was due");
    assert!(
        !says(&["renew", "--within", "400d", "--dry-run"]),
        "a dry run"
    );
    assert!(
        !says(&["renew", "client", "--exec", "true"]),
        "--exec restarts them"
    );
    assert!(says(&["renew", "client"]), "a renewal without --exec");
    // and each renewal says what it renewed, as which role; "nothing to renew" only then
    assert!(ok(&dir, &["renew"]).contains("Nothing to renew in"));
    for (name, role) in [("server", "server"), ("other", "client")] {
        let said = ok(&dir, &["renew", name]);
        assert!(
            said.starts_with(&format!("Renewed {name} ({role}): ")),
            "{said}"
        );
        assert!(!said.contains("Nothing to renew"), "{said}");
    }
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
    assert_eq!(
        certs(&dir.join("ca.crt"))[1],
        certs(&dir.join("ca-next.crt"))[0]
    );
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
    assert_eq!(
        files,
        crate::common::file_bytes(&dir),
        "{when}: start again"
    );

    // switch: the new CA signs, ca.crt = new + old, every leaf re-issued under it
    let switched = json(&dir, &["rotate-ca", "switch", "--json"]);
    assert_eq!(switched["phase"], "switched", "{when}: {switched}");
    assert!(!dir.join("ca-next.crt").exists() && !dir.join("ca-next.key").exists());
    let bundle = certs(&dir.join("ca.crt"));
    assert_eq!(bundle.len(), 2);
    assert_eq!(
        bundle[0],
        certs(&tmp.path().join("new-ca.pem"))[0],
        "{when}: new first"
    );
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
            !verifies(
                &dir,
                tmp.path().join("old-ca.pem").to_str().expect("UTF-8"),
                crt
            ),
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
    assert_eq!(
        files,
        crate::common::file_bytes(&dir),
        "{when}: switch again"
    );

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

/// Without --days, the next CA lives as long as the current one (whole days): 3650 days after
/// `init`, as `openssl x509 -checkend` reads ca-next.crt (issue 15).
#[test]
fn a_rotation_keeps_the_ca_lifetime() {
    let (_tmp, dir) = pki(&[]);
    ok(&dir, &["rotate-ca", "start"]);
    let day = 86_400i64;
    let lasts_beyond = |seconds: i64| {
        let arg = seconds.to_string();
        openssl_in(
            &dir,
            &["x509", "-noout", "-in", "ca-next.crt", "-checkend", &arg],
        )
        .0
    };
    assert!(lasts_beyond(3649 * day));
    assert!(!lasts_beyond(3651 * day));
}

/// A leaf of another key type than the CA's (an RSA client in an ECDSA PKI) keeps its type
/// through a rotation; the CA's own type follows the CA (issue 15).
#[test]
fn a_rotation_keeps_a_leaf_of_another_key_type() {
    let (_tmp, dir) = pki(&[]);
    ok(
        &dir,
        &[
            "issue",
            "client",
            "--cn",
            "rsa-app",
            "--name",
            "rsa-app",
            "--key-type",
            "rsa-2048",
        ],
    );
    const RSA: &str = "1.2.840.113549.1.1.1 ";
    const EC: &str = "1.2.840.10045.2.1 ";
    assert!(key_kind(&dir.join("rsa-app.crt")).starts_with(RSA));
    ok(&dir, &["rotate-ca", "start"]);
    ok(&dir, &["rotate-ca", "switch"]);
    let (rsa, ec) = (
        key_kind(&dir.join("rsa-app.crt")),
        key_kind(&dir.join("client.crt")),
    );
    assert!(rsa.starts_with(RSA), "{rsa}");
    assert!(ec.starts_with(EC), "{ec}");
    assert!(verifies(&dir, "ca.crt", "rsa-app.crt"));
}

/// `finish` refuses while a leaf chains only to the old CA, naming it and `renew NAME`; `check`
/// reports it; `renew` (no names) re-issues it because the current CA did not sign it.
/// A step run again finds itself done and changes nothing; with --json its stdout is still
/// one JSON document (the "already" note goes to stderr), so a retrying script can parse it.
#[test]
fn a_step_run_again_says_so_and_its_json_stays_json() {
    let (_tmp, dir) = pki(&[]);
    let first = json(&dir, &["rotate-ca", "start", "--json"]);
    assert_eq!(first["phase"], "started");
    let again = run(&dir, &["rotate-ca", "start", "--json"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    let doc: serde_json::Value =
        serde_json::from_str(&text(&again.stdout)).expect("one JSON document");
    assert_eq!(doc, first);
    assert!(
        text(&again.stderr).contains("already"),
        "{}",
        text(&again.stderr)
    );
    assert!(ok(&dir, &["rotate-ca", "start"]).starts_with("The rotation is already started"));
    ok(&dir, &["rotate-ca", "switch"]);
    let again = run(&dir, &["rotate-ca", "switch", "--json"]);
    let doc: serde_json::Value =
        serde_json::from_str(&text(&again.stdout)).expect("one JSON document");
    assert_eq!(doc["phase"], "switched");
    assert!(
        text(&again.stderr).contains("already"),
        "{}",
        text(&again.stderr)
    );
}

/// `rotate-ca switch --exec CMD` runs CMD once, after the leaves were re-issued by the new CA,
/// with OTELPKI_RENEWED naming them and OTELPKI_DIR (issue 15).
#[test]
fn a_step_with_exec_runs_it_once_after_the_switch() {
    let (tmp, dir) = pki(&[]);
    ok(&dir, &["rotate-ca", "start"]);
    let log = tmp.path().join("exec.log");
    let exec = format!(
        "echo \"$OTELPKI_RENEWED|$OTELPKI_DIR\" >> {}",
        log.display()
    );
    ok(&dir, &["rotate-ca", "switch", "--exec", &exec]);
    let logged = std::fs::read_to_string(&log).expect("the hook ran");
    assert_eq!(logged.lines().count(), 1, "{logged}");
    let (names, logged_dir) = logged.trim_end().split_once('|').expect("two fields");
    let mut names: Vec<&str> = names.split(' ').collect();
    names.sort_unstable();
    assert_eq!(names, ["client", "other", "server"]);
    assert_eq!(logged_dir, dir.display().to_string());
    // what the hook was told about was re-issued by the new CA, the first of ca.crt
    let new_ca = tmp.path().join("new-ca.pem");
    nth_cert(&dir, "ca.crt", 0, &new_ca);
    let new_ca = new_ca.display().to_string();
    for leaf in LEAVES {
        assert!(verifies(&dir, &new_ca, &format!("{leaf}.crt")), "{leaf}");
    }
}

/// Each step refuses, before anything, a directory without a CA: missing, or without ca.crt
/// (issue 15).
#[test]
fn a_step_in_a_directory_without_a_ca_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).expect("a directory");
    for dir in [empty.clone(), tmp.path().join("missing")] {
        for step in ["start", "switch", "finish", "status"] {
            let out = run(&dir, &["rotate-ca", step]);
            assert_eq!(out.status.code(), Some(2), "{step} in {}", dir.display());
            let err = text(&out.stderr);
            assert!(err.contains("(ca.crt missing)"), "{step}: {err}");
        }
        if dir == empty {
            assert_eq!(
                std::fs::read_dir(&dir).expect("read").count(),
                0,
                "nothing written"
            );
        }
    }
}

/// `rotate-ca status` as text: the phase in words, each CA of ca.crt in order with the signer
/// marked, the leaves under the old CA, and the next step (issue 15).
#[test]
fn a_step_then_status_says_where_the_rotation_stands() {
    let (_tmp, dir) = pki(&[]);
    ok(&dir, &["rotate-ca", "start"]);
    let said = ok(&dir, &["rotate-ca", "status"]);
    let d = dir.display();
    for line in [
        format!("Rotation of {d}: started (the old CA signs; ca.crt = old + new)"),
        "  ca.crt [1] \"OTel CA\" (ecdsa-p256), until ".to_string(),
        "  ca.crt [2] \"OTel CA G2\" (ecdsa-p256), until ".to_string(),
        "  under the old CA: client, other, server".to_string(),
        format!("Next: otelpki --dir {d} rotate-ca switch"),
    ] {
        assert!(said.contains(&line), "{line}\n{said}");
    }
    assert!(
        said.lines()
            .nth(1)
            .is_some_and(|l| l.ends_with("<- signer")),
        "{said}"
    );
    ok(&dir, &["rotate-ca", "switch"]);
    let said = ok(&dir, &["rotate-ca", "status"]);
    assert!(
        said.contains(&format!(
            "Rotation of {d}: switched (the new CA signs; ca.crt = new + old)"
        )),
        "{said}"
    );
    assert!(said.contains("  ca.crt [1] \"OTel CA G2\""), "{said}");
    // switch re-issued every leaf: none is under the old CA, and the text does not say so
    assert!(!said.contains("under the old CA"), "{said}");
    assert!(
        said.contains(&format!("Next: otelpki --dir {d} rotate-ca finish")),
        "{said}"
    );
}

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
    assert_eq!(
        before,
        crate::common::file_bytes(&dir),
        "refused: nothing written"
    );
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
            .any(|f| f["code"] == "leaf-under-old-ca"
                && f["about"]
                    .as_str()
                    .is_some_and(|a| a.ends_with("legacy.crt"))),
        "{report}"
    );
    let renewed = json(&dir, &["renew", "--json"]);
    assert_eq!(renewed["renewed"][0]["name"], "legacy", "{renewed}");
    ok(&dir, &["rotate-ca", "finish"]);
    assert_whole(&dir, &["server", "client", "other", "legacy"], "finished");
}

/// A finish interrupted after its batch landed (ca.crt holds the new CA alone) but before it
/// removed ca-previous.*: status says no rotation is in progress and names the interrupted
/// finish; the next writing command completes it, removing the old pair (issue 15).
#[test]
fn finish_interrupted_before_removing_the_old_pair_is_completed() {
    let (tmp, dir) = pki(&[]);
    ok(&dir, &["rotate-ca", "start"]);
    ok(&dir, &["rotate-ca", "switch"]);
    let kept = tmp.path().join("kept");
    keep_pair(&dir, "ca-previous", &kept);
    ok(&dir, &["rotate-ca", "finish"]);
    // the removal that did not land
    keep_pair(&kept, "ca-previous", &dir);
    let status = json(&dir, &["rotate-ca", "status", "--json"]);
    assert_eq!(status["phase"], "none", "{status:#}");
    assert_eq!(status["interrupted"], "finish", "{status:#}");
    assert_eq!(
        status["bundle"].as_array().map(Vec::len),
        Some(1),
        "{status:#}"
    );
    let out = run(&dir, &["rotate-ca", "finish"]);
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains("completed an interrupted `rotate-ca finish`"),
        "{}",
        text(&out.stderr)
    );
    for ext in ["crt", "key"] {
        assert!(!dir.join(format!("ca-previous.{ext}")).exists());
    }
    assert_eq!(
        json(&dir, &["rotate-ca", "status", "--json"])["interrupted"],
        serde_json::Value::Null
    );

    // a lone key of the old or the next CA (no step leaves one) is cleared the same way
    for lone in ["ca-previous.key", "ca-next.key"] {
        std::fs::copy(dir.join("ca.key"), dir.join(lone)).expect("a lone key");
        let status = json(&dir, &["rotate-ca", "status", "--json"]);
        assert_eq!(status["interrupted"], "finish", "{lone}: {status:#}");
        ok(&dir, &["rotate-ca", "finish"]);
        assert!(!dir.join(lone).exists(), "{lone} was left");
    }

    // a leftover that cannot be removed (a directory in its place) is an error, not "completed"
    std::fs::create_dir(dir.join("ca-previous.key")).expect("a directory");
    let out = run(&dir, &["rotate-ca", "finish"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("cannot remove") && err.contains("ca-previous.key"),
        "{err}"
    );
    assert!(!err.contains("completed"), "{err}");
}

/// A leaf that neither CA signed (copied from another PKI) is not "under the old CA": finish
/// goes ahead (issue 15).
#[test]
fn finish_is_not_held_back_by_a_leaf_of_another_ca() {
    let (_tmp, dir) = pki(&[]);
    let (_other_tmp, other) = pki(&[]);
    ok(&dir, &["rotate-ca", "start"]);
    ok(&dir, &["rotate-ca", "switch"]);
    // after switch (which re-issues every leaf with its key here), a leaf of another CA
    for ext in ["crt", "key"] {
        std::fs::copy(
            other.join(format!("client.{ext}")),
            dir.join(format!("foreign.{ext}")),
        )
        .expect("copy");
    }

    let status = json(&dir, &["rotate-ca", "status", "--json"]);
    assert_eq!(status["under_old_ca"], serde_json::json!([]), "{status:#}");
    ok(&dir, &["rotate-ca", "finish"]);
    assert_eq!(phase(&dir), "none");
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
        assert!(
            text(&out.stderr).contains("OTELPKI_CA_PASSPHRASE"),
            "{}",
            text(&out.stderr)
        );
        assert_eq!(
            before,
            crate::common::file_bytes(&dir),
            "{step}: nothing written"
        );
        with_pass(&["rotate-ca", step]);
        let key = if step == "start" {
            "ca-next.key"
        } else {
            "ca.key"
        };
        let pem = std::fs::read_to_string(dir.join(key)).expect("read");
        assert!(
            pem.contains("BEGIN ENCRYPTED PRIVATE KEY"),
            "{key} after {step}"
        );
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
        &[
            "rotate-ca",
            "start",
            "--key-type",
            "ecdsa-p384",
            "--cn",
            "Spec CA",
        ],
    );
    let bundle = std::fs::read(dir.join("ca.crt")).expect("read");
    let out = ok(&dir, &["apply", spec_s]);
    assert!(out.contains("0 renewed"), "{out}");
    assert_eq!(
        bundle,
        std::fs::read(dir.join("ca.crt")).expect("read"),
        "the bundle kept"
    );
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

// ---------------------------------------------------------------------------------------------
// End to end: a steady sender through renewals and a rotation, on the real Collector

/// The Collector's reload interval in this test (`config collector --reload-interval 1s`).
const RELOAD: Duration = Duration::from_secs(1);
/// The longest wait for anything in the end-to-end test.
const E2E_WAIT: Duration = Duration::from_secs(20);

/// What the steady sender said so far: its output lines (of every run), and how often it was
/// started.
#[derive(Default)]
struct SenderLog {
    lines: Vec<String>,
    starts: usize,
    exited: bool,
}

/// The Go SDK exporter in loop mode (tests/gosdk `--loop`), configured only by `config env`
/// (read again at each start), supervised: when it exits (SIGTERM from `--exec` or from the
/// test) it is started again with the next span number, until `stop`.
struct Sender {
    log: std::sync::Arc<(std::sync::Mutex<SenderLog>, std::sync::Condvar)>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pidfile: PathBuf,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sender {
    fn start(dir: &Path, url: &str, pidfile: PathBuf) -> Sender {
        use std::io::BufRead;
        let log = std::sync::Arc::new((
            std::sync::Mutex::new(SenderLog::default()),
            std::sync::Condvar::new(),
        ));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (dir, url, pf) = (dir.to_path_buf(), url.to_string(), pidfile.clone());
        let (log2, stop2) = (log.clone(), stop.clone());
        let binary = crate::gosdk::binary().to_path_buf();
        let thread = std::thread::spawn(move || {
            let mut next = 0u64;
            loop {
                let env = crate::gosdk::config_env(
                    &dir,
                    &[
                        "--endpoint",
                        &url,
                        "--protocol",
                        "grpc",
                        "--client",
                        "client",
                    ],
                );
                let mut cmd = std::process::Command::new(&binary);
                cmd.args(["--loop", "steady", &next.to_string()])
                    .env_clear()
                    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                    .env("HOME", std::env::var_os("HOME").unwrap_or_default())
                    .env("OTEL_EXPORTER_OTLP_TIMEOUT", "10000")
                    .envs(&env)
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped());
                let mut child = crate::common::Spawned(cmd.spawn().expect("start the sender"));
                std::fs::write(&pf, child.0.id().to_string()).expect("pidfile");
                log2.0.lock().unwrap().starts += 1;
                let out = child.0.stdout.take().expect("stdout");
                let err = child.0.stderr.take().expect("stderr");
                let err_lines = std::thread::spawn(move || {
                    std::io::BufReader::new(err)
                        .lines()
                        .map_while(Result::ok)
                        .collect::<Vec<_>>()
                });
                for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                    if let Some(n) = line.strip_prefix("STOPPED ") {
                        next = n.trim().parse().expect("STOPPED N");
                    }
                    let (lock, changed) = &*log2;
                    lock.lock().unwrap().lines.push(line);
                    changed.notify_all();
                }
                let status = child.0.wait().expect("wait for the sender");
                let (lock, changed) = &*log2;
                let mut l = lock.lock().unwrap();
                for e in err_lines.join().unwrap_or_default() {
                    l.lines.push(format!("STDERR {e}"));
                }
                if !status.success() {
                    l.lines.push(format!("EXIT {status}"));
                }
                if stop2.load(std::sync::atomic::Ordering::SeqCst) || !status.success() {
                    l.exited = true;
                    changed.notify_all();
                    return;
                }
                changed.notify_all();
            }
        });
        Sender {
            log,
            stop,
            pidfile,
            thread: Some(thread),
        }
    }

    fn starts(&self) -> usize {
        self.log.0.lock().unwrap().starts
    }

    /// Waits (bounded) until `more` spans more were exported, and, if `restarted`, until the
    /// sender has been started again since `starts_before` and exported `more` spans since.
    fn wait_for(&self, more: usize, starts_before: Option<usize>) {
        let deadline = Instant::now() + E2E_WAIT;
        let (lock, changed) = &*self.log;
        let mut l = lock.lock().unwrap();
        let count = |l: &SenderLog| {
            l.lines
                .iter()
                .filter(|x| x.starts_with("SPAN ") && x.ends_with(" OK"))
                .count()
        };
        // spans OK since the restart, or since now
        let mut base = count(&l);
        let mut restarted = starts_before.is_none();
        loop {
            if !restarted && starts_before.is_some_and(|s| l.starts > s) {
                restarted = true;
                base = count(&l);
            }
            if restarted && count(&l) >= base + more {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero() && !l.exited,
                "the sender did not export {more} more spans (restart awaited: {}):\n{}",
                !restarted,
                l.lines.join("\n")
            );
            l = changed.wait_timeout(l, left).unwrap().0;
        }
    }

    /// What the test or `--exec` does to restart it: SIGTERM to the running sender.
    fn kill_command(&self) -> String {
        format!("kill -TERM \"$(cat '{}')\"", self.pidfile.display())
    }

    /// Stops the sender (it finishes its span in flight) and returns its whole output.
    fn stop(mut self) -> Vec<String> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let out = std::process::Command::new("sh")
            .args(["-c", &self.kill_command()])
            .status()
            .expect("kill");
        assert!(out.success());
        if let Some(t) = self.thread.take() {
            let deadline = Instant::now() + E2E_WAIT;
            while !t.is_finished() {
                assert!(Instant::now() < deadline, "the sender did not stop");
                std::thread::sleep(Duration::from_millis(20));
            }
            t.join().expect("sender thread");
        }
        self.log.0.lock().unwrap().lines.clone()
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = std::process::Command::new("sh")
                .args(["-c", &self.kill_command()])
                .status();
        }
    }
}

/// The SHA-256 fingerprint of the certificate the endpoint serves (`probe --tls-only --json`),
/// if the handshake went through.
fn served_fingerprint(dir: &Path, url: &str) -> Option<String> {
    let out = run(
        dir,
        &[
            "probe",
            url,
            "--tls-only",
            "--json",
            "--cert",
            dir.join("client.crt").to_str().expect("UTF-8"),
            "--key",
            dir.join("client.key").to_str().expect("UTF-8"),
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["server_chain"][0]["sha256_fingerprint"]
        .as_str()
        .map(str::to_string)
}

/// The SHA-256 fingerprint of `server.crt` as OpenSSL computes it.
fn file_fingerprint(dir: &Path) -> String {
    let (good, out) = openssl_in(
        dir,
        &[
            "x509",
            "-in",
            "server.crt",
            "-noout",
            "-fingerprint",
            "-sha256",
        ],
    );
    assert!(good, "{out}");
    out.trim()
        .rsplit('=')
        .next()
        .expect("fingerprint")
        .to_string()
}

/// After server.crt changed at `changed`, polls what the Collector serves until it is the
/// file's certificate; asserts that no handshake begun more than one reload interval (plus
/// the time a probe takes to start) after the change was served the old certificate. Returns
/// how long after the change the new certificate was first seen.
fn wait_served(dir: &Path, url: &str, changed: Instant, old: &str) -> Duration {
    let want = file_fingerprint(dir);
    assert_ne!(want, old, "server.crt did not change");
    let margin = Duration::from_millis(300);
    loop {
        let begun = changed.elapsed();
        let served = served_fingerprint(dir, url);
        if served.as_deref() == Some(want.as_str()) {
            return begun;
        }
        assert!(
            !(begun > RELOAD + margin && served.as_deref() == Some(old)),
            "{begun:?} after the change (reload interval {RELOAD:?}) the Collector still served the old certificate"
        );
        assert!(
            begun < E2E_WAIT,
            "the Collector never served the new server.crt"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `probe` (an empty export after the handshake) with `stem`'s pair from `pair_dir`, trusting
/// DIR's ca.crt: the exit code (0 accepted, 1 refused).
fn probe_with(dir: &Path, url: &str, pair_dir: &Path, stem: &str) -> (Option<i32>, String) {
    let crt = pair_dir.join(format!("{stem}.crt"));
    let key = pair_dir.join(format!("{stem}.key"));
    let out = run(
        dir,
        &[
            "probe",
            url,
            "--protocol",
            "grpc",
            "--cert",
            crt.to_str().expect("UTF-8"),
            "--key",
            key.to_str().expect("UTF-8"),
        ],
    );
    (
        out.status.code(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

/// Issue 12's proof. The real Collector runs `config collector --reload-interval 1s`; the Go SDK
/// exporter sends a numbered span every 200 ms (configured only by `config env`, restarted by
/// `--exec` when its own files change, and by the test after `rotate-ca start` changed ca.crt)
/// through: `renew server`, `renew client --exec`, `rotate-ca start`, `switch --exec`,
/// `finish`. Afterwards: every span sent was received (count and numbers), no export failed,
/// the Collector is the same process, it served each new server certificate within one reload
/// interval, and a client of the old CA was accepted during the overlap and refused after
/// finish. Prints the figures.
#[test]
fn a_steady_sender_loses_nothing_through_renewals_and_a_ca_rotation() {
    let (tmp, dir) = pki(&[]);
    let rendered = crate::common::collector::render(&dir, &["--reload-interval", "1s"]);
    assert!(
        rendered.contains("reload_interval: \"1s\"")
            && rendered.contains("client_ca_file_reload: true"),
        "{rendered}"
    );
    // both judges built before the clock starts
    crate::gosdk::binary();
    let mut c = crate::common::collector::Collector::start(&rendered);
    let pid = c.pid();
    let url = c.grpc_url();
    let began = Instant::now();
    let sender = Sender::start(&dir, &url, tmp.path().join("sender.pid"));
    sender.wait_for(5, None);
    let mut steps: Vec<(String, Duration)> = Vec::new();
    let mut served: Vec<(String, Duration)> = Vec::new();
    let mut timed = |args: &[&str]| {
        let t = Instant::now();
        ok(&dir, args);
        let took = t.elapsed();
        steps.push((args[..2.min(args.len())].join(" "), took));
        t
    };

    // renew server: the Collector loads it by itself
    let old = file_fingerprint(&dir);
    let changed = timed(&["renew", "server"]);
    served.push((
        "renew server".into(),
        wait_served(&dir, &url, changed, &old),
    ));
    sender.wait_for(3, None);

    // renew the sender's client: --exec restarts it
    let starts = sender.starts();
    timed(&["renew", "client", "--exec", &sender.kill_command()]);
    sender.wait_for(3, Some(starts));
    let old_client = tmp.path().join("old-client");
    keep_pair(&dir, "client", &old_client);

    // start: ca.crt = old + new; the sender must load it: the test restarts it
    timed(&["rotate-ca", "start"]);
    let starts = sender.starts();
    let kill = std::process::Command::new("sh")
        .args(["-c", &sender.kill_command()])
        .status()
        .expect("kill");
    assert!(kill.success());
    sender.wait_for(3, Some(starts));

    // switch: every leaf under the new CA; --exec restarts the sender
    let old = file_fingerprint(&dir);
    let starts = sender.starts();
    let changed = timed(&["rotate-ca", "switch", "--exec", &sender.kill_command()]);
    served.push((
        "rotate-ca switch".into(),
        wait_served(&dir, &url, changed, &old),
    ));
    sender.wait_for(3, Some(starts));
    // the overlap: a client of the old CA is still accepted
    let (code, said) = probe_with(&dir, &url, &old_client, "client");
    assert_eq!(code, Some(0), "old-CA client during the overlap:\n{said}");

    // finish: ca.crt = new alone; the Collector re-reads client_ca_file and refuses the old CA
    let finished = timed(&["rotate-ca", "finish"]);
    let refused_after = loop {
        let (code, said) = probe_with(&dir, &url, &old_client, "client");
        if code == Some(1) {
            break finished.elapsed();
        }
        assert_eq!(code, Some(0), "{said}");
        assert!(
            finished.elapsed() < E2E_WAIT,
            "the old-CA client is still accepted:\n{said}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let (code, said) = probe_with(&dir, &url, &dir, "client");
    assert_eq!(code, Some(0), "the new client after finish:\n{said}");
    sender.wait_for(5, None);
    let lines = sender.stop();
    let total = began.elapsed();

    // what was sent, what failed, what arrived
    let sent: Vec<u64> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("SPAN ")?.strip_suffix(" OK")?.parse().ok())
        .collect();
    let failed: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("FAILED") || l.starts_with("SDK-ERROR") || l.starts_with("EXIT"))
        .collect();
    assert!(failed.is_empty(), "failed exports: {failed:#?}");
    let expected: Vec<u64> = (0..sent.len() as u64).collect();
    assert_eq!(sent, expected, "the sender's numbers run without a gap");
    let names: Vec<String> = sent.iter().map(|n| format!("steady-{n}")).collect();
    let all = c.wait_until(E2E_WAIT, |ls| {
        names.iter().all(|n| {
            ls.iter()
                .any(|l| l.trim() == format!("Name           : {n}"))
        })
    });
    let log = c.log();
    let received: std::collections::BTreeSet<u64> = log
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("Name")?
                .trim_start()
                .strip_prefix(':')?
                .trim()
                .strip_prefix("steady-")?
                .parse()
                .ok()
        })
        .collect();
    let missing: Vec<&u64> = sent.iter().filter(|n| !received.contains(n)).collect();
    assert!(
        all && missing.is_empty(),
        "spans sent but not received: {missing:?}"
    );
    assert_eq!(
        received.len(),
        sent.len(),
        "received spans that were not sent"
    );
    assert_eq!(c.pid(), pid);
    assert!(c.running(), "the Collector exited:\n{log}");
    eprintln!(
        "steady sender: {} spans sent, {} received, {} failed exports, {} sender starts, \
         Collector pid {pid} throughout, {total:?} in all",
        sent.len(),
        received.len(),
        failed.len(),
        sender_starts(&lines)
    );
    for (step, took) in &steps {
        eprintln!("  {step}: {took:?}");
    }
    for (step, after) in &served {
        eprintln!("  new server certificate served {after:?} after {step}");
    }
    eprintln!("  old-CA client refused {refused_after:?} after rotate-ca finish");
}

/// How many runs of the sender the output shows (each ends with STOPPED).
fn sender_starts(lines: &[String]) -> usize {
    lines.iter().filter(|l| l.starts_with("STOPPED")).count()
}

/// During a rotation the rendered configuration carries the bundle: `config env` points at
/// ca.crt (old + new), every `config k8s` Secret's ca.crt holds both CAs, `config cert-manager`
/// gives its Issuer the signer alone (cert-manager refuses a bundle that is not a chain), and
/// no target warns about ca-next.crt / ca-previous.crt. Judged by parsing the YAML and the PEM.
#[test]
fn config_carries_the_bundle_during_a_rotation() {
    use base64::Engine as _;
    use serde::Deserialize as _;
    let (_tmp, dir) = pki(&[]);
    // (step, whether the signer stays the same, certificates in ca.crt after it)
    for (step, same_signer, n) in [
        ("start", true, 2),
        ("switch", false, 2),
        ("finish", true, 1),
    ] {
        let old = certs(&dir.join("ca.crt"))[0].clone();
        ok(&dir, &["rotate-ca", step]);
        let bundle = certs(&dir.join("ca.crt"));
        assert_eq!(bundle.len(), n, "{step}");
        assert_eq!(bundle[0] == old, same_signer, "{step}");
        let env = crate::gosdk::config_env(&dir, &["--endpoint", "https://localhost:4317"]);
        let ca = Path::new(&env["OTEL_EXPORTER_OTLP_CERTIFICATE"]);
        assert_eq!(certs(ca), bundle, "{step}: config env's CA file");
        for target in ["k8s", "cert-manager", "collector", "env"] {
            let out = run(&dir, &["config", target]);
            assert!(out.status.success(), "{target}");
            assert!(
                !text(&out.stderr).contains("ca-next")
                    && !text(&out.stderr).contains("ca-previous"),
                "{step}, config {target}: {}",
                text(&out.stderr)
            );
        }
        let decode = |v: &serde_norway::Value| -> Vec<rustls::pki_types::CertificateDer<'static>> {
            let b = base64::engine::general_purpose::STANDARD
                .decode(v.as_str().expect("base64 string"))
                .expect("base64");
            pem::parse_many(&b)
                .expect("pem")
                .into_iter()
                .map(|p| p.into_contents().into())
                .collect()
        };
        let docs = |target: &str| -> Vec<serde_norway::Value> {
            let out = ok(&dir, &["config", target]);
            serde_norway::Deserializer::from_str(&out)
                .map(|d| serde_norway::Value::deserialize(d).expect("YAML"))
                .collect()
        };
        let secrets = docs("k8s");
        let with_ca: Vec<_> = secrets
            .iter()
            .filter_map(|d| d.get("data").and_then(|x| x.get("ca.crt")))
            .collect();
        assert!(!with_ca.is_empty(), "{step}: k8s Secrets");
        for ca in with_ca {
            assert_eq!(decode(ca), bundle, "{step}: a k8s Secret's ca.crt");
        }
        let issuer_secret = docs("cert-manager")
            .into_iter()
            .find(|d| d.get("kind").and_then(|k| k.as_str()) == Some("Secret"))
            .expect("the CA Secret");
        assert_eq!(
            decode(&issuer_secret["data"]["tls.crt"]),
            vec![bundle[0].clone()],
            "{step}: cert-manager's Issuer signs with the signer alone"
        );
    }
}
