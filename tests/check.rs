//! inspect, verify, check and probe (issue 4). Every failure is produced for real: certificates
//! made wrong on purpose with the library's own profiles (an explicit clock for expiry), and live
//! endpoints on 127.0.0.1 (rustls servers, plaintext servers, openssl s_server). Where a real
//! TLS stack can judge the same file, the test asks it too, so the diagnosis and the stack agree.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::CustomExtension;
use rustls::ServerConfig;
use serde_json::Value;
use time::OffsetDateTime;

use otelpki::fixtures::custom::{Ca, Pair, Subject};
use otelpki::model::Role;

use crate::common::{
    S_SERVER_MTLS, Server, certs, init_pki, openssl_in, otelpki, pkcs8_key, s_server,
};

// ---------------------------------------------------------------------------------------------
// Helpers: certificates made wrong on purpose, running the binary, reading its JSON.

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn days(n: i64) -> time::Duration {
    time::Duration::days(n)
}

fn spec(cn: &str, sans: &[&str], not_before: OffsetDateTime, not_after: OffsetDateTime) -> Subject {
    Subject::new(cn, not_before, not_after)
        .with_sans(sans)
        .unwrap()
}

fn write_pair(dir: &Path, stem: &str, pair: &Pair) {
    pair.write(dir, stem).unwrap();
}

/// A CA named `cn`, written as DIR/STEM.crt + .key.
fn ca(dir: &Path, stem: &str, cn: &str) -> Ca {
    let ca = Ca::new(&spec(cn, &[], now() - days(1), now() + days(3650))).unwrap();
    write_pair(dir, stem, ca.pair().unwrap());
    ca
}

/// The CA of a PKI made by `otelpki init`, loaded to sign more.
fn load_ca(dir: &Path) -> Ca {
    Ca::load(&dir.join("ca.crt"), &dir.join("ca.key")).unwrap()
}

/// A PKI made by `otelpki init` in TMP/certs, and its CA loaded to sign more.
fn pki_with_ca() -> (tempfile::TempDir, PathBuf, Ca) {
    let (tmp, dir) = init_pki(&[]);
    let issuer = load_ca(&dir);
    (tmp, dir, issuer)
}

/// A leaf from the role's profile, changed by `tweak` (the one visible deviation).
fn leaf_with(
    dir: &Path,
    stem: &str,
    role: Role,
    issuer: &Ca,
    spec: &Subject,
    tweak: impl FnOnce(&mut rcgen::CertificateParams),
) {
    write_pair(dir, stem, &issuer.leaf_with(role, spec, tweak).unwrap());
}

fn leaf(dir: &Path, stem: &str, role: Role, issuer: &Ca, spec: &Subject) {
    leaf_with(dir, stem, role, issuer, spec, |_| {});
}

/// Runs otelpki with `args` (+ `--json`) and returns (exit code, parsed stdout, stderr).
fn json(dir: &Path, args: &[&str]) -> (i32, Value, String) {
    let out = otelpki(dir).args(args).arg("--json").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}):\n{stdout}\n{stderr}"));
    (out.status.code().unwrap_or(-1), value, stderr)
}

/// Runs otelpki and returns (exit code, stdout, stderr).
fn text(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = otelpki(dir).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn findings(doc: &Value) -> &Vec<Value> {
    doc["findings"].as_array().expect("findings array")
}

fn codes(doc: &Value) -> Vec<String> {
    findings(doc)
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

/// The one finding with `code`, with all four fields non-empty.
fn finding<'a>(doc: &'a Value, code: &str) -> &'a Value {
    let all: Vec<&Value> = findings(doc).iter().filter(|f| f["code"] == code).collect();
    assert_eq!(all.len(), 1, "expected one `{code}` finding in {doc:#}");
    for field in ["code", "about", "problem", "fix"] {
        assert!(
            !all[0][field].as_str().unwrap_or("").is_empty(),
            "`{code}` has an empty {field}: {doc:#}"
        );
    }
    all[0]
}

fn problem(f: &Value) -> &str {
    f["problem"].as_str().unwrap()
}

fn fix(f: &Value) -> &str {
    f["fix"].as_str().unwrap()
}

/// The first `otelpki ...` line of a fix, run as the user would type it (no shell quoting
/// is needed for these paths), asserting it succeeds.
fn run_fix(f: &Value) {
    let line = fix(f)
        .lines()
        .find(|l| l.starts_with("otelpki "))
        .unwrap_or_else(|| panic!("no otelpki command in the fix: {f:#}"));
    run_command(line);
}

/// Runs one printed `otelpki ...` line (a trailing `  # comment` dropped), asserting it succeeds.
fn run_command(line: &str) {
    let command = line.split("  #").next().unwrap_or(line);
    let words: Vec<&str> = command.split_whitespace().skip(1).collect();
    let out = assert_cmd::Command::new(assert_cmd::cargo::cargo_bin!("otelpki"))
        .env_remove("OTELPKI_DIR")
        .args(&words)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the fix `{line}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn no_panic(stderr: &str) {
    assert!(!stderr.contains("panicked"), "otelpki panicked:\n{stderr}");
}

// ---------------------------------------------------------------------------------------------
// inspect

/// The fields openssl also prints agree with it: serial, SHA-256 fingerprint, the public key's
/// SHA-256 (of the certificate and of the key), for every key type's shape.
#[test]
fn inspect_agrees_with_openssl() {
    for kt in ["ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-2048"] {
        let (_tmp, dir) = init_pki(&["--key-type", kt]);
        let (code, doc, _) = json(
            &dir,
            &[
                "inspect",
                s(&dir.join("server.crt")),
                s(&dir.join("server.key")),
                s(&dir.join("ca.crt")),
            ],
        );
        assert_eq!(code, 0);
        let items = doc.as_array().unwrap();
        assert_eq!(items.len(), 3);
        let (cert, key, ca) = (&items[0], &items[1], &items[2]);
        assert_eq!(cert["kind"], "certificate");
        assert_eq!(key["kind"], "private-key");
        assert_eq!(key["format"], "pkcs8");

        let (_, serial) = openssl_in(&dir, &["x509", "-in", "server.crt", "-noout", "-serial"]);
        assert_eq!(
            serial.trim().strip_prefix("serial=").unwrap(),
            cert["serial"].as_str().unwrap(),
            "{kt}"
        );
        let (_, fp) = openssl_in(
            &dir,
            &[
                "x509",
                "-in",
                "server.crt",
                "-noout",
                "-fingerprint",
                "-sha256",
            ],
        );
        let fp = fp.trim().rsplit('=').next().unwrap();
        assert_eq!(fp, cert["sha256_fingerprint"].as_str().unwrap(), "{kt}");

        // SPKI SHA-256 by openssl, from the key file.
        let (ok, _) = openssl_in(
            &dir,
            &[
                "pkey",
                "-in",
                "server.key",
                "-pubout",
                "-outform",
                "DER",
                "-out",
                "pub.der",
            ],
        );
        assert!(ok);
        let (_, dgst) = openssl_in(&dir, &["dgst", "-sha256", "-r", "pub.der"]);
        let hex = dgst.split_whitespace().next().unwrap().to_uppercase();
        let ours = cert["public_key"]["sha256"]
            .as_str()
            .unwrap()
            .replace(':', "");
        assert_eq!(ours, hex, "{kt}: certificate public key");
        assert_eq!(
            key["public_key"]["sha256"], cert["public_key"]["sha256"],
            "{kt}: key and certificate"
        );
        assert_eq!(cert["public_key"]["key_type"], kt);
        assert_eq!(key["public_key"]["key_type"], kt);

        assert_eq!(
            cert["sans"],
            serde_json::json!([
                {"type": "dns", "value": "localhost"},
                {"type": "ip", "value": "127.0.0.1"},
                {"type": "ip", "value": "::1"}
            ])
        );
        assert_eq!(
            cert["extended_key_usage"],
            serde_json::json!(["serverAuth"])
        );
        assert_eq!(cert["is_ca"], false);
        assert_eq!(cert["validity"], "valid");
        assert!((363..=365).contains(&cert["days_left"].as_i64().unwrap()));
        assert_eq!(ca["is_ca"], true);
        assert_eq!(ca["path_len"], 0);
        assert_eq!(
            ca["key_usage"],
            serde_json::json!(["digitalSignature", "keyCertSign", "cRLSign"])
        );
        assert_eq!(ca["self_signed"], true);
    }
}

/// Bundles, DER, PKCS#1 and SEC1 keys are read; key material is never printed.
#[test]
fn inspect_reads_bundles_der_and_every_key_form_without_showing_keys() {
    let (_tmp, dir) = init_pki(&[]);
    let bundle = [
        std::fs::read(dir.join("server.crt")).unwrap(),
        std::fs::read(dir.join("ca.crt")).unwrap(),
    ]
    .concat();
    std::fs::write(dir.join("bundle.pem"), bundle).unwrap();
    assert!(
        openssl_in(
            &dir,
            &[
                "x509",
                "-in",
                "server.crt",
                "-outform",
                "DER",
                "-out",
                "server.der"
            ]
        )
        .0
    );
    assert!(openssl_in(&dir, &["ec", "-in", "server.key", "-out", "sec1.key"]).0);
    let (code, doc, _) = json(
        &dir,
        &[
            "inspect",
            s(&dir.join("bundle.pem")),
            s(&dir.join("server.der")),
            s(&dir.join("sec1.key")),
        ],
    );
    assert_eq!(code, 0);
    let items = doc.as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(
        (items[0]["index"].as_i64(), items[1]["index"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(items[1]["subject"], "CN=OTel CA");
    assert_eq!(
        items[2]["sha256_fingerprint"],
        items[0]["sha256_fingerprint"]
    );
    assert_eq!(items[3]["format"], "sec1");
    assert_eq!(
        items[3]["public_key"]["sha256"],
        items[0]["public_key"]["sha256"]
    );

    let (_rsa_tmp, rsa) = init_pki(&["--key-type", "rsa-2048"]);
    assert!(
        openssl_in(
            &rsa,
            &[
                "rsa",
                "-in",
                "client.key",
                "-traditional",
                "-out",
                "pkcs1.key"
            ]
        )
        .0
    );
    let (_, doc, _) = json(
        &rsa,
        &[
            "inspect",
            s(&rsa.join("pkcs1.key")),
            s(&rsa.join("client.crt")),
        ],
    );
    assert_eq!(doc[0]["format"], "pkcs1");
    assert_eq!(doc[0]["public_key"]["bits"], 2048);
    assert_eq!(
        doc[0]["public_key"]["sha256"],
        doc[1]["public_key"]["sha256"]
    );

    // Text: every key's secret base64 stays out of the output.
    let (code, out, _) = text(
        &dir,
        &[
            "inspect",
            s(&dir.join("server.key")),
            s(&dir.join("sec1.key")),
            s(&rsa.join("pkcs1.key")),
        ],
    );
    assert_eq!(code, 0);
    assert!(out.contains("private key (PKCS#8; not shown)"), "{out}");
    assert!(!out.contains("BEGIN"), "{out}");
    for key in [
        dir.join("server.key"),
        dir.join("sec1.key"),
        rsa.join("pkcs1.key"),
    ] {
        let pem_text = std::fs::read_to_string(&key).unwrap();
        for line in pem_text
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 16)
        {
            assert!(
                !out.contains(line),
                "key material of {} printed",
                key.display()
            );
        }
    }
}

/// Expiry as seen by inspect: an expired certificate is marked and its days are negative.
#[test]
fn inspect_marks_expired_and_not_yet_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let issuer = ca(dir, "ca", "OTel CA");
    leaf(
        dir,
        "old",
        Role::Server,
        &issuer,
        &spec("old", &["localhost"], now() - days(400), now() - days(35)),
    );
    leaf(
        dir,
        "future",
        Role::Server,
        &issuer,
        &spec("f", &["localhost"], now() + days(10), now() + days(20)),
    );
    let (_, doc, _) = json(
        dir,
        &[
            "inspect",
            s(&dir.join("old.crt")),
            s(&dir.join("future.crt")),
        ],
    );
    assert_eq!(doc[0]["validity"], "expired");
    assert!((-36..=-34).contains(&doc[0]["days_left"].as_i64().unwrap()));
    assert_eq!(doc[1]["validity"], "not-yet-valid");
    let (_, out, _) = text(dir, &["inspect", s(&dir.join("old.crt"))]);
    assert!(out.contains("EXPIRED 35 days ago"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// verify

#[test]
fn verify_accepts_a_good_pki() {
    let (_tmp, dir) = init_pki(&[]);
    for host in ["localhost", "127.0.0.1", "::1", "[::1]"] {
        let (code, doc, _) = json(
            &dir,
            &[
                "verify",
                s(&dir.join("server.crt")),
                "--host",
                host,
                "--key",
                s(&dir.join("server.key")),
            ],
        );
        assert_eq!(
            (code, &doc["ok"]),
            (0, &Value::Bool(true)),
            "{host}: {doc:#}"
        );
        assert_eq!(doc["purpose"], "server");
    }
    let (code, doc, _) = json(
        &dir,
        &[
            "verify",
            s(&dir.join("client.crt")),
            "--purpose",
            "client",
            "--key",
            s(&dir.join("client.key")),
        ],
    );
    assert_eq!(code, 0, "{doc:#}");
    let (code, out, _) = text(&dir, &["verify", s(&dir.join("client.crt"))]);
    assert_eq!(code, 0);
    assert!(
        out.contains("purpose clientAuth") && out.contains("ok: no problems found"),
        "{out}"
    );
}

/// Each problem named, with a fix; and the fix command, run, makes verify pass. openssl agrees
/// that each certificate is bad.
#[test]
fn verify_names_each_problem_and_its_fix_works() {
    let (tmp, dir, issuer) = pki_with_ca();
    let ca_file = dir.join("ca.crt");
    let verify = |cert: &str, extra: &[&str]| {
        let path = dir.join(cert);
        let mut args = vec!["verify", s(&path)];
        args.extend(extra);
        let (code, doc, stderr) = json(&dir, &args);
        assert_eq!(code, 1, "{cert} {extra:?}: {doc:#} {stderr}");
        assert_eq!(doc["ok"], false);
        doc
    };

    // Expired, with an explicit clock.
    leaf(
        &dir,
        "expired",
        Role::Server,
        &issuer,
        &spec(
            "localhost",
            &["localhost"],
            now() - days(400),
            now() - days(3),
        ),
    );
    let doc = verify("expired.crt", &["--host", "localhost"]);
    assert_eq!(codes(&doc), ["expired"]);
    let f = finding(&doc, "expired");
    assert!(
        problem(f).contains("expired on") && problem(f).contains("3 days ago"),
        "{f:#}"
    );
    assert!(
        fix(f).contains("issue server --san localhost --name expired --force"),
        "{f:#}"
    );
    let (ok, why) = openssl_in(&dir, &["verify", "-CAfile", s(&ca_file), "expired.crt"]);
    assert!(!ok && why.contains("expired"), "openssl: {why}");
    run_fix(f);
    otelpki(&dir)
        .args(["verify", s(&dir.join("expired.crt"))])
        .assert()
        .code(0);

    // Not yet valid.
    leaf(
        &dir,
        "early",
        Role::Server,
        &issuer,
        &spec(
            "localhost",
            &["localhost"],
            now() + days(2),
            now() + days(30),
        ),
    );
    let doc = verify("early.crt", &[]);
    assert_eq!(codes(&doc), ["not-yet-valid"]);
    let (ok, why) = openssl_in(&dir, &["verify", "-CAfile", s(&ca_file), "early.crt"]);
    assert!(!ok && why.contains("not yet valid"), "openssl: {why}");

    // Wrong name: the article's otel-collector vs the certificate's names.
    let doc = verify("server.crt", &["--host", "otel-collector"]);
    let f = finding(&doc, "name-mismatch");
    assert!(
        problem(f).contains("`otel-collector`") && problem(f).contains("localhost, 127.0.0.1, ::1"),
        "{f:#}"
    );
    assert!(
        fix(f).contains("issue server --san localhost,127.0.0.1,::1,otel-collector --force"),
        "{f:#}"
    );
    let (ok, _) = openssl_in(
        &dir,
        &[
            "verify",
            "-CAfile",
            s(&ca_file),
            "-verify_hostname",
            "otel-collector",
            "server.crt",
        ],
    );
    assert!(!ok);
    run_fix(f);
    otelpki(&dir)
        .args([
            "verify",
            s(&dir.join("server.crt")),
            "--host",
            "otel-collector",
        ])
        .assert()
        .code(0);
    // An IP that is not a SAN.
    let doc = verify("server.crt", &["--host", "10.0.0.5"]);
    assert!(problem(finding(&doc, "name-mismatch")).contains("IP address `10.0.0.5`"));

    // Swapped purpose: a client certificate where a server one is needed, and the reverse.
    let doc = verify("client.crt", &["--purpose", "server"]);
    let f = finding(&doc, "wrong-purpose");
    assert!(
        problem(f).contains("clientAuth") && problem(f).contains("serverAuth is required"),
        "{f:#}"
    );
    assert!(fix(f).contains("issue server"), "{f:#}");
    let (ok, _) = openssl_in(
        &dir,
        &[
            "verify",
            "-CAfile",
            s(&ca_file),
            "-purpose",
            "sslserver",
            "client.crt",
        ],
    );
    assert!(!ok, "openssl accepts a client certificate for a server");
    let doc = verify("server.crt", &["--purpose", "client"]);
    assert_eq!(codes(&doc), ["wrong-purpose"]);

    // A foreign CA.
    let foreign = ca(&tmp.path().join("foreign"), "ca", "Foreign CA");
    leaf(
        &dir,
        "alien",
        Role::Server,
        &foreign,
        &spec(
            "localhost",
            &["localhost"],
            now() - days(1),
            now() + days(30),
        ),
    );
    let doc = verify("alien.crt", &[]);
    let f = finding(&doc, "unknown-ca");
    assert!(
        problem(f).contains("\"CN=Foreign CA\"") && problem(f).contains("\"CN=OTel CA\""),
        "{f:#}"
    );
    let (ok, _) = openssl_in(&dir, &["verify", "-CAfile", s(&ca_file), "alien.crt"]);
    assert!(!ok);
    run_fix(f);
    otelpki(&dir)
        .args(["verify", s(&dir.join("alien.crt"))])
        .assert()
        .code(0);

    // The CA re-created under the same name: the old certificates no longer chain.
    let old = dir.join("old-client.crt");
    std::fs::copy(dir.join("client.crt"), &old).unwrap();
    otelpki(&dir)
        .args(["init-ca", "--force"])
        .assert()
        .success();
    let doc = verify("old-client.crt", &[]);
    let f = finding(&doc, "unknown-ca");
    assert!(problem(f).contains("another key signed it"), "{f:#}");
    assert!(
        fix(f).contains("issue client --cn my-application --name old-client --force"),
        "{f:#}"
    );
    let (ok, _) = openssl_in(&dir, &["verify", "-CAfile", "ca.crt", "old-client.crt"]);
    assert!(!ok);

    // A key that is not the certificate's.
    let doc = verify("alien.crt", &["--key", s(&dir.join("client.key"))]);
    let f = finding(&doc, "key-mismatch");
    assert!(problem(f).contains("client.key"), "{f:#}");

    // A CA certificate used as a leaf.
    let doc = verify("ca.crt", &["--purpose", "server"]);
    assert!(codes(&doc).contains(&"not-a-leaf".to_string()), "{doc:#}");
}

/// Unusable input is exit 2 with a message naming it, never a finding.
#[test]
fn verify_refuses_unusable_input() {
    let (_tmp, dir) = init_pki(&[]);
    let missing_ca = text(
        &dir,
        &[
            "verify",
            s(&dir.join("server.crt")),
            "--ca",
            "/nonexistent/ca.crt",
        ],
    );
    assert_eq!(missing_ca.0, 2);
    assert!(
        missing_ca.2.contains("/nonexistent/ca.crt"),
        "{}",
        missing_ca.2
    );
    let nodir = tempfile::tempdir().unwrap();
    let (code, _, err) = text(
        &nodir.path().join("certs"),
        &["verify", s(&dir.join("server.crt"))],
    );
    assert_eq!(code, 2);
    assert!(err.contains("pass --ca FILE"), "{err}");
    let (code, _, err) = text(
        &dir,
        &["verify", s(&dir.join("server.crt")), "--host", "bad host!"],
    );
    assert_eq!(code, 2);
    assert!(err.contains("bad host!"), "{err}");
    let (code, _, err) = text(
        &dir,
        &[
            "verify",
            s(&dir.join("server.crt")),
            "--key",
            s(&dir.join("ca.crt")),
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("no private key"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// check

#[test]
fn check_passes_a_fresh_pki_and_an_endpoint_it_covers() {
    let (_tmp, dir) = init_pki(&["--san", "otel-collector.observability.svc,localhost,::1"]);
    for ep in [
        "https://otel-collector.observability.svc:4317",
        "https://localhost:4318/v1/traces",
        "https://[::1]:4317",
    ] {
        let (code, doc, _) = json(&dir, &["check", "--endpoint", ep]);
        assert_eq!(code, 0, "{ep}: {doc:#}");
        assert_eq!(doc["certificates"].as_array().unwrap().len(), 3);
    }
    let (code, out, _) = text(&dir, &["check"]);
    assert_eq!(code, 0);
    assert!(out.contains("ok: no problems found"), "{out}");
}

/// One directory with every problem `check` knows, each with its fix; after running the fixes,
/// check passes (the exit code is what cron and CI use).
#[test]
fn check_finds_every_problem_of_a_directory_and_the_fixes_work() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    otelpki(&dir).arg("init").assert().success();
    let issuer = load_ca(&dir);
    // Expired, expiring in 10 days, issued by a foreign CA, without a purpose, without a key,
    // and a pair whose key is another certificate's.
    leaf(
        &dir,
        "expired",
        Role::Server,
        &issuer,
        &spec("old", &["old.example"], now() - days(400), now() - days(1)),
    );
    leaf(
        &dir,
        "soon",
        Role::Client,
        &issuer,
        &spec("soon-app", &[], now() - days(300), now() + days(10)),
    );
    let foreign = ca(&tmp.path().join("foreign"), "ca", "Foreign CA");
    leaf(
        &dir,
        "alien",
        Role::Client,
        &foreign,
        &spec("alien-app", &[], now() - days(1), now() + days(300)),
    );
    leaf_with(
        &dir,
        "nopurpose",
        Role::Client,
        &issuer,
        &spec("np", &[], now() - days(1), now() + days(300)),
        |p| {
            p.extended_key_usages.clear();
        },
    );
    leaf(
        &dir,
        "lonely",
        Role::Client,
        &issuer,
        &spec("lonely-app", &[], now() - days(1), now() + days(300)),
    );
    std::fs::remove_file(dir.join("lonely.key")).unwrap();
    std::fs::copy(dir.join("server.key"), dir.join("client.key")).unwrap();

    let (code, doc, _) = json(&dir, &["check"]);
    assert_eq!(code, 1, "{doc:#}");
    let about = |f: &Value| f["about"].as_str().unwrap().to_string();
    let f = finding(&doc, "expired");
    assert!(about(f).ends_with("expired.crt"));
    assert!(
        fix(f).contains("issue server --san old.example --name expired --force"),
        "{f:#}"
    );
    let f = finding(&doc, "expiring");
    assert!(
        about(f).ends_with("soon.crt") && problem(f).contains("within 30d"),
        "{f:#}"
    );
    assert!(
        fix(f).contains("issue client --cn soon-app --name soon --force"),
        "{f:#}"
    );
    let f = finding(&doc, "unknown-ca");
    assert!(
        about(f).ends_with("alien.crt") && problem(f).contains("Foreign CA"),
        "{f:#}"
    );
    let f = finding(&doc, "no-purpose");
    assert!(about(f).ends_with("nopurpose.crt"), "{f:#}");
    let f = finding(&doc, "key-missing");
    assert!(about(f).ends_with("lonely.crt"), "{f:#}");
    let f = finding(&doc, "key-mismatch");
    assert!(about(f).ends_with("client.crt"), "{f:#}");
    assert_eq!(findings(&doc).len(), 6, "{doc:#}");

    // The window decides "expiring".
    let (_, doc2, _) = json(&dir, &["check", "--expires-within", "5d"]);
    assert!(!codes(&doc2).contains(&"expiring".to_string()));

    // Each fix, run as printed, fixes its problem.
    for f in findings(&doc) {
        run_fix(f);
    }
    let (code, doc, _) = json(&dir, &["check"]);
    assert_eq!(code, 0, "after the fixes: {doc:#}");
}

/// A `*.crt` that is not a certificate is a finding, and check goes on with the rest; a
/// broken ca.crt is that finding (not "no CA"), and its printed fix, run line by line,
/// gives a PKI that passes.
#[test]
fn check_reports_an_unreadable_certificate_and_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    otelpki(&dir).arg("init").assert().success();
    std::fs::write(dir.join("notes.crt"), "meeting notes\n").unwrap();
    std::fs::copy(dir.join("server.key"), dir.join("client.key")).unwrap();
    let (code, doc, stderr) = json(&dir, &["check"]);
    no_panic(&stderr);
    assert_eq!(code, 1, "{doc:#}");
    let f = finding(&doc, "cert-unreadable");
    assert!(f["about"].as_str().unwrap().ends_with("notes.crt"), "{f:#}");
    assert!(problem(f).contains("neither PEM"), "{f:#}");
    assert!(fix(f).contains("--name notes --force"), "{f:#}");
    // The rest was still checked.
    finding(&doc, "key-mismatch");
    assert_eq!(findings(&doc).len(), 2, "{doc:#}");
    let (code, out, _) = text(&dir, &["check"]);
    assert_eq!(code, 1);
    assert!(out.contains("problem [cert-unreadable]"), "{out}");
    assert!(out.contains("client.crt  client"), "{out}");

    std::fs::rename(dir.join("notes.crt"), dir.join("notes.txt")).unwrap();
    run_fix(finding(&doc, "key-mismatch"));
    let (code, doc, _) = json(&dir, &["check"]);
    assert_eq!(code, 0, "{doc:#}");

    // A truncated ca.crt.
    let ca = dir.join("ca.crt");
    let cut = std::fs::read(&ca).unwrap()[..150].to_vec();
    std::fs::write(&ca, cut).unwrap();
    let (code, doc, _) = json(&dir, &["check"]);
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(codes(&doc), ["cert-unreadable"], "{doc:#}");
    let f = finding(&doc, "cert-unreadable");
    assert!(f["about"].as_str().unwrap().ends_with("ca.crt"), "{f:#}");
    let commands: Vec<&str> = fix(f)
        .lines()
        .filter(|l| l.starts_with("otelpki "))
        .collect();
    assert_eq!(commands.len(), 3, "init-ca and both leaves: {f:#}");
    assert!(commands[0].ends_with("init-ca --force"), "{f:#}");
    for command in commands {
        run_command(command);
    }
    let (code, doc, _) = json(&dir, &["check"]);
    assert_eq!(code, 0, "after the fix: {doc:#}");
    let (ok, text) = crate::common::openssl_in(
        &dir,
        &["verify", "-CAfile", "ca.crt", "server.crt", "client.crt"],
    );
    assert!(ok, "{text}");
}

#[test]
fn check_reports_an_expired_or_expiring_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("certs");
    let signed = Ca::new(&spec("Old CA", &[], now() - days(800), now() - days(2))).unwrap();
    write_pair(&dir, "ca", signed.pair().unwrap());
    let (code, doc, _) = json(&dir, &["check"]);
    assert_eq!(code, 1);
    let f = finding(&doc, "ca-expired");
    assert!(fix(f).contains("init-ca --force"), "{f:#}");
    run_fix(f);
    let signed = Ca::new(&spec("Soon CA", &[], now() - days(800), now() + days(20))).unwrap();
    write_pair(&dir, "ca", signed.pair().unwrap());
    let (_, doc, _) = json(&dir, &["check"]);
    finding(&doc, "ca-expiring");
    let (code, _, _) = json(&dir, &["check", "--expires-within", "1w"]);
    assert_eq!(code, 0);
}

/// The article's troubleshooting cases for an endpoint URL.
#[test]
fn check_endpoint_cases() {
    let (_tmp, dir) = init_pki(&[]);
    let case = |ep: &str, extra: &[&str], code: &str| -> Value {
        let mut args = vec!["check", "--endpoint", ep];
        args.extend(extra);
        let (exit, doc, _) = json(&dir, &args);
        assert_eq!(exit, 1, "{ep}: {doc:#}");
        assert!(
            codes(&doc).contains(&code.to_string()),
            "{ep}: expected {code}: {doc:#}"
        );
        finding(&doc, code).clone()
    };
    let f = case("https://otel-collector:4317", &[], "name-mismatch");
    assert!(
        problem(&f).contains("`otel-collector`")
            && problem(&f).contains("localhost, 127.0.0.1, ::1")
    );
    assert!(fix(&f).contains("issue server --san localhost,127.0.0.1,::1,otel-collector --force"));
    let f = case("http://localhost:4318", &[], "plaintext-scheme");
    assert!(
        fix(&f).contains("OTEL_EXPORTER_OTLP_ENDPOINT=https://localhost:4318"),
        "{f:#}"
    );
    assert!(
        fix(&f).contains("config env --endpoint https://localhost:4318 --protocol http"),
        "{f:#}"
    );
    run_fix(&f);
    let f = case("localhost:4318", &[], "missing-scheme");
    assert!(problem(&f).contains("OTLP/HTTP"), "{f:#}");
    assert!(fix(&f).contains("https://localhost:4318"));
    let f = case("localhost:4317", &[], "missing-scheme");
    assert!(problem(&f).contains("Java"), "{f:#}");
    let f = case("https://localhost:4317/v1/traces", &[], "wrong-port");
    assert!(
        fix(&f).contains("https://localhost:4318/v1/traces"),
        "{f:#}"
    );
    let f = case(
        "https://localhost:4318",
        &["--protocol", "grpc"],
        "wrong-port",
    );
    assert!(fix(&f).contains("https://localhost:4317"), "{f:#}");
    let f = case("https://localhost", &[], "missing-port");
    assert!(
        fix(&f).contains("https://localhost:4317") && fix(&f).contains("https://localhost:4318")
    );
    // The fix for the name makes the endpoint pass.
    let f = case("https://otel-collector:4317", &[], "name-mismatch");
    run_fix(&f);
    let (code, doc, _) = json(
        &dir,
        &["check", "--endpoint", "https://otel-collector:4317"],
    );
    assert_eq!(code, 0, "{doc:#}");

    // No server certificate at all.
    let tmp = tempfile::tempdir().unwrap();
    let bare = tmp.path().join("certs");
    otelpki(&bare).arg("init-ca").assert().success();
    let (code, doc, _) = json(
        &bare,
        &["check", "--endpoint", "https://otel-collector:4317"],
    );
    assert_eq!(code, 1);
    assert!(fix(finding(&doc, "no-server-cert")).contains("issue server --san otel-collector"));
}

#[test]
fn check_refuses_unusable_input() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, err) = text(&tmp.path().join("nope"), &["check"]);
    assert_eq!(code, 2);
    assert!(err.contains("nope"), "{err}");
    let (code, _, err) = text(tmp.path(), &["check", "--endpoint", "grpc://otel:4317"]);
    assert_eq!(code, 2);
    assert!(err.contains("grpc://otel:4317"), "{err}");
    let (code, _, err) = text(tmp.path(), &["check", "--expires-within", "soon"]);
    assert_eq!(code, 2);
    assert!(err.contains("soon"), "{err}");
    // An empty directory: nothing to verify against.
    let (code, doc, _) = json(tmp.path(), &["check"]);
    assert_eq!(code, 1);
    finding(&doc, "no-ca");
    // A broken certificate in DIR is a finding that names it (exit 1, not 2: the rest of
    // DIR is still checked; see check_reports_an_unreadable_certificate_and_goes_on).
    std::fs::write(
        tmp.path().join("broken.crt"),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let (code, out, err) = text(tmp.path(), &["check"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("[cert-unreadable]") && out.contains("broken.crt"),
        "{out}"
    );
    no_panic(&err);
}

// ---------------------------------------------------------------------------------------------
// probe: live endpoints on 127.0.0.1

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Whether the server asks for a client certificate, and trusting which CA.
enum Auth<'a> {
    Off,
    /// Like the Collector with client_ca_file.
    Required(&'a Path),
    /// Asks, but lets a client without a certificate in.
    Optional(&'a Path),
}

fn server_config(
    dir: &Path,
    stem: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
    auth: Auth<'_>,
) -> Arc<ServerConfig> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap();
    let verifier = |ca: &Path| {
        let mut roots = rustls::RootCertStore::empty();
        for c in certs(ca) {
            roots.add(c).unwrap();
        }
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
    };
    let builder = match auth {
        Auth::Required(ca) => builder.with_client_cert_verifier(verifier(ca).build().unwrap()),
        Auth::Optional(ca) => {
            builder.with_client_cert_verifier(verifier(ca).allow_unauthenticated().build().unwrap())
        }
        Auth::Off => builder.with_no_client_auth(),
    };
    Arc::new(
        builder
            .with_single_cert(
                certs(&dir.join(format!("{stem}.crt"))),
                pkcs8_key(&dir.join(format!("{stem}.key"))),
            )
            .unwrap(),
    )
}

const TLS13: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
const TLS12: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];

/// Runs probe, bounded by its own --timeout, and returns (exit code, JSON).
fn probe(dir: &Path, url: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["probe", url];
    args.extend(extra);
    if !extra.contains(&"--timeout") {
        args.extend(["--timeout", "3"]);
    }
    let started = Instant::now();
    let (code, doc, stderr) = json(dir, &args);
    no_panic(&stderr);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "probe took {:?}",
        started.elapsed()
    );
    (code, doc)
}

fn client_args(dir: &Path, stem: &str) -> Vec<String> {
    vec![
        "--cert".into(),
        s(&dir.join(format!("{stem}.crt"))).into(),
        "--key".into(),
        s(&dir.join(format!("{stem}.key"))).into(),
    ]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Server authentication only, TLS 1.3 and 1.2: ok, with the chain, version, and no client
/// certificate requested.
#[test]
fn probe_reports_a_good_handshake() {
    let (_tmp, dir) = init_pki(&[]);
    for (versions, name) in [(TLS13, "TLSv1.3"), (TLS12, "TLSv1.2")] {
        let server = Server::tls(server_config(&dir, "server", versions, Auth::Off));
        for host in ["localhost", "127.0.0.1"] {
            let url = server.url(host);
            let (code, doc) = probe(&dir, &url, &[]);
            assert_eq!(code, 0, "{url}: {doc:#}");
            let hs = &doc["handshake"];
            assert_eq!(hs["version"], name);
            assert_eq!(hs["client_cert_requested"], false);
            assert_eq!(doc["server_chain"][0]["subject"], "CN=localhost");
        }
    }
}

/// mTLS like the Collector with client_ca_file: required-and-missing, accepted, and each way
/// a client certificate is rejected, under TLS 1.3 (verdict after the handshake) and 1.2.
#[test]
fn probe_judges_client_certificates() {
    let (tmp, dir, issuer) = pki_with_ca();
    let foreign = ca(&tmp.path().join("foreign"), "ca", "Foreign CA");
    leaf(
        &dir,
        "alien",
        Role::Client,
        &foreign,
        &spec("alien", &[], now() - days(1), now() + days(30)),
    );
    leaf(
        &dir,
        "stale",
        Role::Client,
        &issuer,
        &spec("stale", &[], now() - days(60), now() - days(1)),
    );

    for versions in [TLS13, TLS12] {
        let server = Server::tls(server_config(
            &dir,
            "server",
            versions,
            Auth::Required(&dir.join("ca.crt")),
        ));
        let url = server.url("localhost");

        let (code, doc) = probe(&dir, &url, &[]);
        assert_eq!(code, 1, "{doc:#}");
        let f = finding(&doc, "client-cert-required");
        assert!(
            problem(f).contains("CN=OTel CA"),
            "names the accepted CA: {f:#}"
        );
        assert!(
            fix(f).contains("--cert") && fix(f).contains("client.crt"),
            "{f:#}"
        );

        let (code, doc) = probe(&dir, &url, &strs(&client_args(&dir, "client")));
        assert_eq!(code, 0, "{doc:#}");
        assert_eq!(doc["handshake"]["client_cert_requested"], true);
        assert_eq!(doc["handshake"]["client_cert_accepted"], true, "{doc:#}");
        assert_eq!(
            doc["handshake"]["accepted_client_cas"],
            serde_json::json!(["CN=OTel CA"])
        );

        let (code, doc) = probe(&dir, &url, &strs(&client_args(&dir, "alien")));
        assert_eq!(code, 1, "{doc:#}");
        let f = finding(&doc, "client-cert-rejected");
        assert!(
            problem(f).contains("does not trust the CA") && problem(f).contains("Foreign CA"),
            "{f:#}"
        );
        assert!(
            fix(f).contains("issue client --cn alien --name alien --force"),
            "{f:#}"
        );

        let (code, doc) = probe(&dir, &url, &strs(&client_args(&dir, "stale")));
        assert_eq!(code, 1);
        assert!(
            problem(finding(&doc, "client-cert-rejected")).contains("expired"),
            "{doc:#}"
        );

        // A server certificate presented as a client certificate: no clientAuth.
        let (code, doc) = probe(&dir, &url, &strs(&client_args(&dir, "server")));
        assert_eq!(code, 1);
        assert!(
            problem(finding(&doc, "client-cert-rejected")).contains("clientAuth"),
            "{doc:#}"
        );

        // A server that asks but does not require: no certificate is fine, a bad one is not.
        let optional = Server::tls(server_config(
            &dir,
            "server",
            versions,
            Auth::Optional(&dir.join("ca.crt")),
        ));
        let (code, doc) = probe(&dir, &optional.url("localhost"), &[]);
        assert_eq!(code, 0, "{doc:#}");
        assert_eq!(doc["handshake"]["client_cert_requested"], true);
        assert_eq!(doc["handshake"]["client_cert_sent"], false);
        assert!(
            doc["handshake"]["client_cert_accepted"].is_null(),
            "{doc:#}"
        );
        let (code, doc) = probe(
            &dir,
            &optional.url("localhost"),
            &strs(&client_args(&dir, "alien")),
        );
        assert_eq!(code, 1, "{doc:#}");
        finding(&doc, "client-cert-rejected");
    }
}

/// The server's certificate is wrong: each case judged like verify does, naming what the
/// certificate covers or who issued it.
#[test]
fn probe_explains_server_certificate_failures() {
    let (tmp, dir, issuer) = pki_with_ca();
    let foreign = ca(&tmp.path().join("foreign"), "ca", "Foreign CA");
    leaf(
        &dir,
        "named",
        Role::Server,
        &issuer,
        &spec(
            "otel-collector",
            &["otel-collector.observability.svc"],
            now() - days(1),
            now() + days(30),
        ),
    );
    leaf(
        &dir,
        "expired",
        Role::Server,
        &issuer,
        &spec(
            "localhost",
            &["localhost"],
            now() - days(100),
            now() - days(5),
        ),
    );
    leaf(
        &dir,
        "alien",
        Role::Server,
        &foreign,
        &spec(
            "localhost",
            &["localhost"],
            now() - days(1),
            now() + days(30),
        ),
    );
    leaf(
        &dir,
        "clientish",
        Role::Client,
        &issuer,
        &spec(
            "localhost",
            &["localhost"],
            now() - days(1),
            now() + days(30),
        ),
    );

    let run = |stem: &str| {
        let server = Server::tls(server_config(&dir, stem, TLS13, Auth::Off));
        let (code, doc) = probe(&dir, &server.url("localhost"), &[]);
        assert_eq!(code, 1, "{stem}: {doc:#}");
        assert!(doc["handshake"].is_null(), "{doc:#}");
        assert!(
            !doc["server_chain"].as_array().unwrap().is_empty(),
            "{doc:#}"
        );
        doc
    };
    let doc = run("named");
    let f = finding(&doc, "name-mismatch");
    assert!(
        problem(f).contains("`localhost`")
            && problem(f).contains("otel-collector.observability.svc"),
        "{f:#}"
    );
    assert!(
        fix(f).contains("issue server --san otel-collector.observability.svc,localhost --force"),
        "{f:#}"
    );
    // the suggested command names the PKI directory probe was given, and run, it makes a
    // certificate the same probe accepts (issue 15)
    assert!(
        fix(f).contains(&format!("\notelpki --dir {} issue server", dir.display())),
        "{f:#}"
    );
    run_fix(f);
    let fixed = Server::tls(server_config(&dir, "server", TLS13, Auth::Off));
    let (code, doc) = probe(&dir, &fixed.url("localhost"), &[]);
    assert_eq!(code, 0, "after the fix: {doc:#}");
    drop(fixed);

    let doc = run("expired");
    assert!(
        problem(finding(&doc, "expired")).contains("5 days ago"),
        "{doc:#}"
    );

    let doc = run("alien");
    let f = finding(&doc, "unknown-ca");
    assert!(
        problem(f).contains("\"CN=Foreign CA\""),
        "names the issuer: {f:#}"
    );

    let doc = run("clientish");
    assert!(
        problem(finding(&doc, "wrong-purpose")).contains("serverAuth"),
        "{doc:#}"
    );
}

/// Not TLS at all: a plaintext HTTP/1.1 server, a plaintext gRPC (HTTP/2) server, one that
/// closes at once, one that never answers, and a closed port.
#[test]
fn probe_recognises_plaintext_silence_and_refusal() {
    let (_tmp, dir) = init_pki(&[]);
    let http = Server::start(|mut tcp| {
        let mut buf = [0u8; 512];
        let _ = tcp.read(&mut buf);
        let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    let (code, doc) = probe(&dir, &http.url("localhost"), &[]);
    assert_eq!(code, 1);
    let f = finding(&doc, "not-tls");
    assert!(problem(f).contains("HTTP/1.1 400 Bad Request"), "{f:#}");
    assert!(fix(f).contains("tls:"), "{f:#}");

    // grpc-go's plaintext server sends its SETTINGS frame first.
    let h2c = Server::start(|mut tcp| {
        let _ = tcp.write_all(&[0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100]);
        let mut buf = [0u8; 512];
        let _ = tcp.read(&mut buf);
    });
    let (code, doc) = probe(&dir, &h2c.url("localhost"), &[]);
    assert_eq!(code, 1);
    assert!(
        problem(finding(&doc, "not-tls")).contains("00 00 06 04"),
        "{doc:#}"
    );

    let closer = Server::start(drop);
    let (code, doc) = probe(&dir, &closer.url("localhost"), &[]);
    assert_eq!(code, 1);
    assert!(
        problem(finding(&doc, "not-tls")).contains("without a TLS answer"),
        "{doc:#}"
    );

    let silent = Server::start(|mut tcp| {
        let mut buf = [0u8; 512];
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(tcp.read(&mut buf), Ok(0)) {
                break;
            }
        }
    });
    let started = Instant::now();
    let (code, doc) = probe(&dir, &silent.url("localhost"), &["--timeout", "1"]);
    assert_eq!(code, 1);
    assert!(
        problem(finding(&doc, "timeout")).contains("no TLS answer within 1 s"),
        "{doc:#}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (code, doc) = probe(&dir, &format!("https://127.0.0.1:{port}"), &[]);
    assert_eq!(code, 1);
    finding(&doc, "connection-refused");

    // http:// to a TLS server: the handshake works, the scheme is the problem.
    let tls = Server::tls(server_config(&dir, "server", TLS13, Auth::Off));
    let (code, doc) = probe(&dir, &format!("http://localhost:{}", tls.port), &[]);
    assert_eq!(code, 1);
    assert!(
        fix(finding(&doc, "plaintext-scheme")).contains("https://localhost:"),
        "{doc:#}"
    );
}

#[test]
fn probe_refuses_unusable_input() {
    let (_tmp, dir) = init_pki(&[]);
    let (code, _, err) = text(&dir, &["probe", "localhost"]);
    assert_eq!(code, 2);
    assert!(err.contains("no port"), "{err}");
    let (code, _, err) = text(
        &dir,
        &[
            "probe",
            "https://localhost:1",
            "--cert",
            s(&dir.join("client.crt")),
            "--key",
            s(&dir.join("server.key")),
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("does not belong"), "{err}");
    let (code, _, _) = text(
        &dir,
        &[
            "probe",
            "https://localhost:1",
            "--cert",
            s(&dir.join("client.crt")),
        ],
    );
    assert_eq!(code, 2, "--cert without --key is a usage error");
}

// ---------------------------------------------------------------------------------------------
// probe against openssl s_server

#[test]
fn probe_against_openssl_s_server() {
    let (tmp, dir) = init_pki(&[]);
    let mtls = S_SERVER_MTLS;

    // mTLS, ok.
    let (_srv, port, _) = s_server(&dir, mtls);
    let url = format!("https://localhost:{port}");
    // s_server is a TLS peer, not an HTTP server: the handshake is what it judges.
    let mut args = client_args(&dir, "client");
    args.push("--tls-only".into());
    let (code, doc) = probe(&dir, &url, &strs(&args));
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["handshake"]["version"], "TLSv1.3");
    assert_eq!(doc["handshake"]["client_cert_accepted"], true, "{doc:#}");

    // mTLS without a client certificate.
    let (_srv, port, _) = s_server(&dir, mtls);
    let (code, doc) = probe(&dir, &format!("https://localhost:{port}"), &["--tls-only"]);
    assert_eq!(code, 1);
    finding(&doc, "client-cert-required");

    // The server's certificate is from another CA.
    let foreign = tmp.path().join("foreign");
    otelpki(&foreign)
        .args(["init-ca", "--cn", "Foreign CA"])
        .assert()
        .success();
    otelpki(&foreign)
        .args(["issue", "server", "--san", "localhost"])
        .assert()
        .success();
    std::fs::copy(foreign.join("server.crt"), dir.join("foreign-server.crt")).unwrap();
    std::fs::copy(foreign.join("server.key"), dir.join("foreign-server.key")).unwrap();
    let (_srv, port, _) = s_server(
        &dir,
        &["-cert", "foreign-server.crt", "-key", "foreign-server.key"],
    );
    let (code, doc) = probe(&dir, &format!("https://localhost:{port}"), &["--tls-only"]);
    assert_eq!(code, 1, "{doc:#}");
    let f = finding(&doc, "unknown-ca");
    assert!(problem(f).contains("issued by \"CN=Foreign CA\""), "{f:#}");
    assert_eq!(doc["server_chain"][0]["issuer"], "CN=Foreign CA");
    assert!(fix(f).contains("--ca FILE"), "{f:#}");
}

// ---------------------------------------------------------------------------------------------
// Untrusted input never panics

#[test]
fn untrusted_input_is_a_clear_error_never_a_panic() {
    let (_tmp, dir) = init_pki(&[]);
    let der = certs(&dir.join("server.crt")).remove(0).to_vec();
    let bad = dir.join("bad");
    std::fs::create_dir(&bad).unwrap();
    let mut garbage = vec![0u8; 10 * 1024 * 1024];
    let mut x: u32 = 0x1234_5678;
    for b in &mut garbage {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.crt", Vec::new(), "neither PEM"),
        (
            "text.crt",
            b"hello, this is not a certificate\n".to_vec(),
            "neither PEM",
        ),
        (
            "truncated.der",
            der[..der.len() / 2].to_vec(),
            "DER but not a valid certificate",
        ),
        (
            "truncated.pem",
            std::fs::read(dir.join("server.crt")).unwrap()[..200].to_vec(),
            "PEM",
        ),
        (
            "garbage-in-pem.crt",
            b"-----BEGIN CERTIFICATE-----\nMIIBkTCCATegAwIBAgIUaaaa\n-----END CERTIFICATE-----\n"
                .to_vec(),
            "not a valid X.509 certificate",
        ),
        ("huge.crt", garbage, "10485760 bytes"),
    ];
    for (name, bytes, needle) in &cases {
        let path = bad.join(name);
        std::fs::write(&path, bytes).unwrap();
        for args in [
            vec!["inspect", s(&path)],
            vec!["verify", s(&path)],
            vec!["verify", s(&dir.join("server.crt")), "--ca", s(&path)],
            vec!["probe", "https://127.0.0.1:1", "--ca", s(&path)],
        ] {
            let (code, out, err) = text(&dir, &args);
            no_panic(&err);
            assert_eq!(code, 2, "{args:?}: {out}{err}");
            assert!(
                err.contains(name) && err.contains(needle),
                "{args:?}: {err}"
            );
        }
    }
}

/// Certificates with odd extensions: a malformed or repeated subjectAltName is refused as
/// input; an unknown critical extension is shown by inspect and refused by verify (and by openssl).
#[test]
fn odd_extensions() {
    let (_tmp, dir, issuer) = pki_with_ca();
    let sp = spec(
        "localhost",
        &["localhost"],
        now() - days(1),
        now() + days(30),
    );
    // subjectAltName (2.5.29.17) holding an INTEGER instead of a SEQUENCE of names.
    leaf_with(
        &dir,
        "badsan",
        Role::Server,
        &issuer,
        &spec("x", &[], now() - days(1), now() + days(30)),
        |p| {
            p.custom_extensions.push(CustomExtension::from_oid_content(
                &[2, 5, 29, 17],
                vec![0x02, 0x01, 0x05],
            ));
        },
    );
    // A second subjectAltName.
    leaf_with(&dir, "twosans", Role::Server, &issuer, &sp, |p| {
        p.custom_extensions.push(CustomExtension::from_oid_content(
            &[2, 5, 29, 17],
            vec![0x30, 0x06, 0x82, 0x04, b'o', b't', b'e', b'l'],
        ));
    });
    // An unknown critical extension.
    leaf_with(&dir, "critical", Role::Server, &issuer, &sp, |p| {
        let mut ext =
            CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 99999, 1], vec![0x05, 0x00]);
        ext.set_criticality(true);
        p.custom_extensions.push(ext);
    });
    for (stem, needle) in [("badsan", "malformed"), ("twosans", "appears twice")] {
        let path = dir.join(format!("{stem}.crt"));
        for args in [vec!["inspect", s(&path)], vec!["verify", s(&path)]] {
            let (code, _, err) = text(&dir, &args);
            no_panic(&err);
            assert_eq!(code, 2, "{args:?}: {err}");
            assert!(
                err.contains("subjectAltName") && err.contains(needle),
                "{err}"
            );
        }
    }
    let (code, doc, _) = json(&dir, &["inspect", s(&dir.join("critical.crt"))]);
    assert_eq!(code, 0);
    assert_eq!(
        doc[0]["unknown_critical_extensions"],
        serde_json::json!(["1.3.6.1.4.1.99999.1"])
    );
    let (code, doc, _) = json(&dir, &["verify", s(&dir.join("critical.crt"))]);
    assert_eq!(code, 1);
    assert!(problem(finding(&doc, "invalid-certificate")).contains("1.3.6.1.4.1.99999.1"));
    let (ok, why) = openssl_in(&dir, &["verify", "-CAfile", "ca.crt", "critical.crt"]);
    assert!(!ok, "openssl accepts an unknown critical extension: {why}");
}

/// Each new command's --help ends with an example from the article's workflow.
#[test]
fn help_shows_examples() {
    for (cmd, example) in [
        ("inspect", "otelpki inspect certs/server.crt"),
        ("verify", "--host otel-collector.observability.svc"),
        (
            "check",
            "otelpki check --endpoint https://otel-collector.observability.svc:4317",
        ),
        (
            "probe",
            "otelpki probe https://otel-collector.observability.svc:4317",
        ),
    ] {
        let (code, out, _) = text(Path::new("unused"), &[cmd, "--help"]);
        assert_eq!(code, 0);
        assert!(
            out.contains("Example") && out.contains(example),
            "{cmd}: {out}"
        );
    }
}

/// Fix lines of a finding that are commands.
fn fix_commands(f: &Value) -> Vec<String> {
    fix(f)
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("otelpki "))
        .map(str::to_string)
        .collect()
}

/// `check` judges everything in DIR, not only the certificates (issue 9): the CA's key
/// missing, foreign or garbage; a key without its certificate; what a killed writer left. Each
/// is a finding with a fix that works (run here), and afterwards `openssl verify` and the key
/// match agree that the PKI is whole again.
#[test]
fn check_judges_the_ca_key_lone_keys_and_leftovers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    otelpki(&dir).arg("init").assert().success();
    let ca_key = dir.join("ca.key");
    let saved = std::fs::read(&ca_key).unwrap();

    // missing
    std::fs::remove_file(&ca_key).unwrap();
    let (code, doc, stderr) = json(&dir, &["check"]);
    no_panic(&stderr);
    assert_eq!(
        (code, codes(&doc)),
        (1, vec!["ca-key-missing".to_string()]),
        "{doc:#}"
    );
    // foreign: another PKI's CA key, and a leaf's key
    let other = tmp.path().join("other");
    otelpki(&other).arg("init").assert().success();
    for foreign in [dir.join("client.key"), other.join("ca.key")] {
        std::fs::copy(&foreign, &ca_key).unwrap();
        let (code, doc, _) = json(&dir, &["check"]);
        assert_eq!(
            (code, codes(&doc)),
            (1, vec!["ca-key-mismatch".to_string()]),
            "{doc:#}"
        );
    }
    // garbage
    std::fs::write(&ca_key, "not a key\n").unwrap();
    let (code, doc, _) = json(&dir, &["check"]);
    assert_eq!(
        (code, codes(&doc)),
        (1, vec!["ca-key-unreadable".to_string()]),
        "{doc:#}"
    );
    // The fix (a new CA, every leaf again) works, and openssl agrees.
    let f = finding(&doc, "ca-key-unreadable");
    let commands = fix_commands(f);
    assert_eq!(commands.len(), 3, "init-ca and both leaves: {f:#}");
    assert!(commands[0].ends_with("init-ca --force"), "{f:#}");
    for c in &commands {
        run_command(c);
    }
    let (code, doc, _) = json(&dir, &["check"]);
    assert_eq!(code, 0, "{doc:#}");
    for leaf in ["server.crt", "client.crt"] {
        let (ok, out) = openssl_in(&dir, &["verify", "-CAfile", "ca.crt", leaf]);
        assert!(ok, "{leaf}: {out}");
    }

    // A key without its certificate (an interrupted `issue`).
    std::fs::write(dir.join("gateway.key"), &saved).unwrap();
    let (code, doc, _) = json(&dir, &["check"]);
    assert_eq!(
        (code, codes(&doc)),
        (1, vec!["cert-missing".to_string()]),
        "{doc:#}"
    );
    let f = finding(&doc, "cert-missing");
    assert!(
        f["about"].as_str().unwrap().ends_with("gateway.key"),
        "{f:#}"
    );
    assert!(fix(f).contains("--name gateway --force"), "{f:#}");
    std::fs::remove_file(dir.join("gateway.key")).unwrap();

    // A lone ca.key (no ca.crt): one `no-ca` finding whose fix is not `init` (it would refuse
    // the files that are there) but a new CA that replaces the key, then each leaf again.
    std::fs::rename(dir.join("ca.crt"), tmp.path().join("ca.crt.bak")).unwrap();
    let (code, doc, _) = json(&dir, &["check"]);
    assert_eq!(
        (code, codes(&doc)),
        (1, vec!["no-ca".to_string()]),
        "{doc:#}"
    );
    let commands = fix_commands(finding(&doc, "no-ca"));
    assert!(commands[0].ends_with("init-ca --force"), "{commands:?}");
    assert_eq!(commands.len(), 3, "{commands:?}");
    for c in &commands {
        run_command(c);
    }
    assert_eq!(json(&dir, &["check"]).0, 0);

    // Leftovers of a killed writer: a temporary file, and a commit record whose temporary
    // file holds a new client certificate that was not yet renamed into place.
    std::fs::write(
        dir.join(".otelpki-abc123.tmp"),
        "-----BEGIN PRIVATE KEY-----\n",
    )
    .unwrap();
    let (code, doc, _) = json(&dir, &["check"]);
    assert_eq!(
        (code, codes(&doc)),
        (1, vec!["stray-temporary".to_string()]),
        "{doc:#}"
    );
    let f = finding(&doc, "stray-temporary");
    assert!(problem(f).contains(".otelpki-abc123.tmp"), "{f:#}");
    run_fix(f);
    assert!(!dir.join(".otelpki-abc123.tmp").exists());
    assert_eq!(json(&dir, &["check"]).0, 0);

    // The pending batch: a new client pair staged, its record durable, nothing renamed yet.
    otelpki(&dir)
        .args([
            "issue",
            "client",
            "--cn",
            "my-application",
            "--name",
            "next",
        ])
        .assert()
        .success();
    std::fs::rename(dir.join("next.key"), dir.join(".otelpki-k1.tmp")).unwrap();
    std::fs::rename(dir.join("next.crt"), dir.join(".otelpki-c1.tmp")).unwrap();
    std::fs::write(
        dir.join(".otelpki-r1.commit"),
        ".otelpki-k1.tmp\tclient.key\treplace\n.otelpki-c1.tmp\tclient.crt\treplace\n",
    )
    .unwrap();
    let (code, doc, _) = json(&dir, &["check"]);
    assert_eq!(
        (code, codes(&doc)),
        (1, vec!["interrupted-write".to_string()]),
        "{doc:#}"
    );
    let f = finding(&doc, "interrupted-write");
    run_fix(f);
    assert_eq!(json(&dir, &["check"]).0, 0, "the batch landed whole");
    let leftovers: Vec<String> = crate::common::file_names(&dir)
        .into_iter()
        .filter(|n| n.starts_with(".otelpki-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let (ok, out) = openssl_in(&dir, &["verify", "-CAfile", "ca.crt", "client.crt"]);
    assert!(ok, "{out}");
}

/// The table of finding codes in docs/checking.md is the code's list: every code otelpki can
/// report is documented, and the table names no code that does not exist.
#[test]
fn the_finding_code_table_is_the_enum() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/checking.md")).unwrap();
    let start = doc
        .find("Finding codes (stable):")
        .expect("the table's heading");
    let table: Vec<&str> = doc[start..]
        .lines()
        .skip(1)
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert!(table.len() > 3, "{table:?}");
    let mut documented = std::collections::BTreeSet::new();
    for row in &table[2..] {
        let codes = row.split('|').nth(2).expect("a codes column");
        for (i, part) in codes.split('`').enumerate() {
            if i % 2 == 1 && !part.starts_with('-') {
                documented.insert(part.to_string());
            }
        }
    }
    let known: std::collections::BTreeSet<String> = otelpki::Code::ALL
        .iter()
        .map(|c| c.as_str().to_string())
        .collect();
    assert_eq!(documented, known);
    // and each serialises as it prints
    for code in otelpki::Code::ALL {
        assert_eq!(
            serde_json::to_value(code).unwrap(),
            serde_json::Value::from(code.as_str())
        );
    }
}

/// `verify` given a CA as CERT judges it as a CA: an expired CA other than the trusted one is
/// reported about its own file, with a renewal that says where (otelpki makes only DIR/ca.crt);
/// the trusted CA given as CERT is reported once, not twice; the text names the CA it checked
/// against (issue 15).
#[test]
fn verify_judges_a_ca_given_as_cert() {
    let (tmp, dir) = init_pki(&[]);
    let other = tmp.path().join("other");
    let signed = Ca::new(&spec(
        "Old Foreign CA",
        &[],
        now() - days(800),
        now() - days(5),
    ))
    .unwrap();
    write_pair(&other, "old-ca", signed.pair().unwrap());
    let old = other.join("old-ca.crt");
    let (code, doc, _) = json(&dir, &["verify", s(&old)]);
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(codes(&doc), ["ca-expired"], "{doc:#}");
    let f = finding(&doc, "ca-expired");
    assert_eq!(f["about"], s(&old), "{f:#}");
    assert!(
        problem(f).contains("the CA \"CN=Old Foreign CA\"")
            || problem(f).contains("Old Foreign CA"),
        "{f:#}"
    );
    assert!(
        fix(f).contains(&format!("renew `{}` where it was made", old.display())),
        "{f:#}"
    );
    assert_eq!(doc["ca"], s(&dir.join("ca.crt")), "{doc:#}");
    // openssl agrees the foreign CA is expired
    let (ok, why) = openssl_in(&other, &["verify", "-CAfile", "old-ca.crt", "old-ca.crt"]);
    assert!(!ok && why.contains("expired"), "openssl: {why}");

    // a valid foreign CA is a CA: nothing to report about it, and the text says what was checked
    let signed = Ca::new(&spec(
        "Fresh Foreign CA",
        &[],
        now() - days(1),
        now() + days(100),
    ))
    .unwrap();
    write_pair(&other, "fresh-ca", signed.pair().unwrap());
    let (code, out, _) = text(&dir, &["verify", s(&other.join("fresh-ca.crt"))]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("chain to `{}`", dir.join("ca.crt").display())),
        "{out}"
    );

    // the trusted CA itself, expired, as CERT: one finding (the anchors' own), about ca.crt
    let signed = Ca::new(&spec("Old Own CA", &[], now() - days(800), now() - days(2))).unwrap();
    write_pair(&dir, "ca", signed.pair().unwrap());
    let (code, doc, _) = json(&dir, &["verify", s(&dir.join("ca.crt"))]);
    assert_eq!(code, 1);
    assert_eq!(codes(&doc), ["ca-expired"], "{doc:#}");
    let f = finding(&doc, "ca-expired");
    assert!(fix(f).contains("init-ca --force"), "{f:#}");
}

/// A certificate whose extKeyUsage states no single purpose (none, or both) is re-issued in
/// the role its names suggest: a server when it has SANs, a client when it has none (issue 15).
#[test]
fn verify_fix_role_without_a_usable_eku() {
    let (_tmp, dir, issuer) = pki_with_ca();
    let expired = |cn: &str, sans: &[&str]| spec(cn, sans, now() - days(400), now() - days(3));
    let cases: [(&str, &[&str], Role, &str); 3] = [
        (
            "gw-noeku",
            &["gw.example"],
            Role::Server,
            "issue server --san gw.example --name gw-noeku --force",
        ),
        (
            "app-noeku",
            &[],
            Role::Client,
            "issue client --cn app-noeku --name app-noeku --force",
        ),
        (
            "gw-both",
            &["gw.example"],
            Role::Client,
            "issue server --san gw.example --name gw-both --force",
        ),
    ];
    for (stem, sans, role, want) in cases {
        leaf_with(&dir, stem, role, &issuer, &expired(stem, sans), |p| {
            p.extended_key_usages = if stem.ends_with("both") {
                vec![
                    rcgen::ExtendedKeyUsagePurpose::ServerAuth,
                    rcgen::ExtendedKeyUsagePurpose::ClientAuth,
                ]
            } else {
                Vec::new()
            };
        });
        let (code, doc, _) = json(&dir, &["verify", s(&dir.join(format!("{stem}.crt")))]);
        assert_eq!(code, 1, "{stem}: {doc:#}");
        assert_eq!(doc["purpose"], Value::Null, "{stem}: {doc:#}");
        let f = finding(&doc, "expired");
        assert!(fix(f).contains(want), "{stem}: {f:#}");
        run_fix(f);
        // the re-issued certificate has the role's extKeyUsage, as openssl sees it
        let purpose = if want.contains("issue server") {
            "sslserver"
        } else {
            "sslclient"
        };
        let (ok, why) = openssl_in(
            &dir,
            &[
                "verify",
                "-CAfile",
                "ca.crt",
                "-purpose",
                purpose,
                &format!("{stem}.crt"),
            ],
        );
        assert!(ok, "{stem}: {why}");
    }
}

/// A certificate whose extKeyUsage is malformed (an INTEGER where a KeyPurposeId belongs) is
/// refused by verify (webpki: BadDer), not accepted for want of a purpose; openssl refuses it too
/// (issue 15: the purpose-free chain check must still read each KeyPurposeId).
#[test]
fn verify_refuses_a_malformed_extended_key_usage() {
    let (_tmp, dir, issuer) = pki_with_ca();
    let sp = spec(
        "localhost",
        &["localhost"],
        now() - days(1),
        now() + days(30),
    );
    leaf_with(&dir, "badeku", Role::Server, &issuer, &sp, |p| {
        p.extended_key_usages = Vec::new();
        // extKeyUsage (2.5.29.37): SEQUENCE { INTEGER 5 }
        p.custom_extensions.push(CustomExtension::from_oid_content(
            &[2, 5, 29, 37],
            vec![0x30, 0x03, 0x02, 0x01, 0x05],
        ));
    });
    // its twin without the deviation passes: the finding is the extension's
    leaf(&dir, "goodtwin", Role::Server, &issuer, &sp);
    let (code, doc, _) = json(&dir, &["verify", s(&dir.join("goodtwin.crt"))]);
    assert_eq!(code, 0, "{doc:#}");
    let (code, doc, err) = json(&dir, &["verify", s(&dir.join("badeku.crt"))]);
    no_panic(&err);
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(codes(&doc), ["invalid-chain"], "{doc:#}");
    let f = finding(&doc, "invalid-chain");
    assert!(problem(f).contains("BadDer"), "{f:#}");
    let (ok, why) = openssl_in(&dir, &["verify", "-CAfile", "ca.crt", "badeku.crt"]);
    assert!(!ok, "openssl accepts a malformed extKeyUsage: {why}");
    // the fix re-issues it from the profile, as a server for its name, and then it passes
    assert!(
        fix(f).contains("issue server --san localhost --name badeku --force"),
        "{f:#}"
    );
    run_fix(f);
    let (code, doc, _) = json(&dir, &["verify", s(&dir.join("badeku.crt"))]);
    assert_eq!(code, 0, "{doc:#}");
}

/// verify's fix re-issues a certificate with the CA it was checked against (`--ca-cert`,
/// `--ca-key`) only when the certificate's own directory cannot sign (no ca.crt + ca.key pair
/// there) and that CA's key lies beside it; the fix then works (issue 15).
#[test]
fn verify_fix_signs_with_the_given_ca_only_where_it_must() {
    let (tmp, pki) = init_pki(&[]);
    let ca = pki.join("ca.crt");
    let ca_flags = format!(
        "--ca-cert {} --ca-key {}",
        ca.display(),
        pki.join("ca.key").display()
    );
    // the fix for a server certificate of `dir` checked against `ca`, for a host it lacks
    let fix_for = |dir: &Path, ca: &Path| -> Value {
        let (code, doc, _) = json(
            &pki,
            &[
                "verify",
                s(&dir.join("server.crt")),
                "--ca",
                s(ca),
                "--host",
                "gw.example",
            ],
        );
        assert_eq!(code, 1, "{doc:#}");
        finding(&doc, "name-mismatch").clone()
    };
    let place = |name: &str, with: &[&str]| -> std::path::PathBuf {
        let d = tmp.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(pki.join("server.crt"), d.join("server.crt")).unwrap();
        for f in with {
            std::fs::copy(pki.join(f), d.join(f)).unwrap();
        }
        d
    };

    // a directory with the CA certificate but not its key cannot sign: the fix names the CA
    let half = place("half", &["ca.crt"]);
    let f = fix_for(&half, &ca);
    assert!(fix(&f).contains(&ca_flags), "{f:#}");
    run_fix(&f);
    let (code, doc, _) = json(
        &pki,
        &[
            "verify",
            s(&half.join("server.crt")),
            "--host",
            "gw.example",
        ],
    );
    assert_eq!(code, 0, "the fix did not fix it: {doc:#}");

    // a directory with its own CA pair signs with it: no --ca-cert
    let own = place("own", &["ca.crt", "ca.key"]);
    let f = fix_for(&own, &ca);
    assert!(!fix(&f).contains("--ca-cert"), "{f:#}");

    // a CA whose key is not beside it cannot sign: no --ca-cert either
    let bare = tmp.path().join("bare");
    std::fs::create_dir_all(&bare).unwrap();
    std::fs::copy(&ca, bare.join("ca.crt")).unwrap();
    let lone = place("lone", &[]);
    let f = fix_for(&lone, &bare.join("ca.crt"));
    assert!(!fix(&f).contains("--ca-cert"), "{f:#}");
}

/// A TLS server (rustls with `config`) that completes the handshake and reads the request (its
/// head; over HTTP/2, the preface and a frame or more), then hands the connection to `then`.
fn tls_after_request(
    config: Arc<ServerConfig>,
    then: impl Fn(rustls::ServerConnection, std::net::TcpStream) + Send + 'static,
) -> Server {
    let http2 = config.alpn_protocols.iter().any(|p| p == b"h2");
    Server::start(move |mut tcp| {
        let mut conn = rustls::ServerConnection::new(config.clone()).unwrap();
        let mut request = Vec::new();
        for _ in 0..64 {
            while conn.wants_write() {
                if conn.write_tls(&mut tcp).is_err() {
                    return;
                }
            }
            match conn.read_tls(&mut tcp) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if conn.process_new_packets().is_err() {
                return;
            }
            if !conn.is_handshaking() {
                let _ = conn.reader().read_to_end(&mut request);
                // the HTTP/2 preface holds a blank line too: wait for a frame after it
                if request.windows(4).any(|w| w == b"\r\n\r\n") && (!http2 || request.len() > 40) {
                    return then(conn, tcp);
                }
            }
        }
    })
}

/// `server`'s certificate for TLS 1.3, with ALPN h2 when `http2`.
fn tls13_config(dir: &Path, http2: bool) -> Arc<ServerConfig> {
    let mut config = (*server_config(dir, "server", TLS13, Auth::Off)).clone();
    if http2 {
        config.alpn_protocols = vec![b"h2".to_vec()];
    }
    Arc::new(config)
}

/// A TLS server that takes the empty export and closes the connection without answering,
/// politely (close_notify first) or not (the TCP connection dropped), over HTTP/1.1 and
/// HTTP/2: probe says it closed without answering, not that something else failed (issue 15).
#[test]
fn probe_names_a_server_that_closes_without_answering() {
    let (_tmp, dir) = init_pki(&[]);
    for (polite, http2) in [(true, false), (false, false), (true, true), (false, true)] {
        let server = tls_after_request(tls13_config(&dir, http2), move |mut conn, mut tcp| {
            if polite {
                conn.send_close_notify();
                while conn.wants_write() && conn.write_tls(&mut tcp).is_ok() {}
            }
            // dropped: the connection closes with the request unanswered
        });
        let protocol: &[&str] = if http2 { &["--protocol", "grpc"] } else { &[] };
        let (code, doc) = probe(&dir, &server.url("localhost"), protocol);
        let case = format!("polite {polite}, h2 {http2}");
        assert_eq!(code, 1, "{case}: {doc:#}");
        assert_eq!(codes(&doc), ["no-answer"], "{case}: {doc:#}");
        assert!(
            problem(finding(&doc, "no-answer"))
                .contains("the server closed the connection without answering the empty export"),
            "{case}: {doc:#}"
        );
    }
}

/// An HTTP/2 server (ALPN h2) that answers the empty export with a malformed frame (a
/// SETTINGS frame of 5 bytes): probe names the failure with its causes, as hyper and h2 give
/// them (issue 15).
#[test]
fn probe_names_a_broken_http2_answer_with_its_causes() {
    let (_tmp, dir) = init_pki(&[]);
    let server = tls_after_request(tls13_config(&dir, true), |mut conn, mut tcp| {
        // SETTINGS (type 4) of length 5: not a multiple of 6, a FRAME_SIZE_ERROR
        let _ = conn
            .writer()
            .write_all(&[0, 0, 5, 4, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5]);
        while conn.wants_write() && conn.write_tls(&mut tcp).is_ok() {}
        let mut sink = [0u8; 4096];
        while matches!(tcp.read(&mut sink), Ok(n) if n > 0) {}
    });
    let (code, doc) = probe(&dir, &server.url("localhost"), &["--protocol", "grpc"]);
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(codes(&doc), ["unexpected-answer"], "{doc:#}");
    // hyper's error, then h2's cause
    let f = finding(&doc, "unexpected-answer");
    assert!(
        problem(f).contains("failed: http2 error: ") && problem(f).contains("protocol error"),
        "{f:#}"
    );
}

/// A TLS server that answers the empty export with something other than HTTP (an SSH banner):
/// probe says the answer is not HTTP and shows its first bytes (issue 15).
#[test]
fn probe_names_an_answer_that_is_not_http() {
    let (_tmp, dir) = init_pki(&[]);
    let server = tls_after_request(tls13_config(&dir, false), |mut conn, mut tcp| {
        let _ = conn.writer().write_all(b"SSH-2.0-OpenSSH_9.6\r\n");
        conn.send_close_notify();
        while conn.wants_write() && conn.write_tls(&mut tcp).is_ok() {}
    });
    let (code, doc) = probe(&dir, &server.url("localhost"), &[]);
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(codes(&doc), ["unexpected-answer"], "{doc:#}");
    assert!(
        problem(finding(&doc, "unexpected-answer")).contains("is not HTTP: `SSH-2.0-OpenSSH_9.6"),
        "{doc:#}"
    );
}
