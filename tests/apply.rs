//! `otelpki apply SPEC`: creates what is missing, renews what expires within renew-before or no
//! longer matches the spec, leaves the rest alone and says so per pair; `--dry-run` writes
//! nothing; `--seed` is reproducible; spec errors name the line and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use predicates::str::contains;

use crate::common::{client, handshake, mtls_server, otelpki};

const SPEC: &str = r#"org = "MyCompany"
days = 365
renew_before_days = 30

[ca]
cn = "OTel CA"

[[server]]
name = "gateway"
sans = ["otel-collector.observability.svc", "localhost", "127.0.0.1"]

[[client]]
cn = "checkout-service"

[[client]]
cn = "my-application"
name = "client"
"#;

const NOW: &str = "2025-01-01T00:00:00Z";

struct Pki {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    spec: PathBuf,
}

fn pki(spec: &str) -> Pki {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("certs");
    let path = tmp.path().join("otelpki.toml");
    std::fs::write(&path, spec).unwrap();
    Pki {
        _tmp: tmp,
        dir,
        spec: path,
    }
}

impl Pki {
    fn apply(&self, extra: &[&str]) -> assert_cmd::assert::Assert {
        otelpki(&self.dir)
            .arg("apply")
            .arg(&self.spec)
            .args(extra)
            .env_remove("SOURCE_DATE_EPOCH")
            .assert()
    }
    fn stdout(&self, extra: &[&str]) -> String {
        let out = self.apply(extra).success().get_output().stdout.clone();
        String::from_utf8(out).unwrap()
    }
    fn respec(&self, spec: &str) {
        std::fs::write(&self.spec, spec).unwrap();
    }
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    crate::common::file_bytes(dir)
}

/// The report line of the pair `stem`.
fn line<'a>(out: &'a str, stem: &str) -> &'a str {
    let files = format!(" {stem}.crt {stem}.key ");
    out.lines()
        .find(|l| l.contains(&files))
        .unwrap_or_else(|| panic!("no line for {stem} in:\n{out}"))
}

#[test]
fn creates_then_leaves_everything_alone() {
    let p = pki(SPEC);
    let out = p.stdout(&[]);
    for stem in ["ca", "gateway", "checkout-service", "client"] {
        assert!(line(&out, stem).starts_with("created"), "{out}");
    }
    assert!(out.contains("4 created, 0 renewed, 0 unchanged"), "{out}");
    let before = files(&p.dir);
    assert_eq!(before.len(), 8);

    let out = p.stdout(&[]);
    for stem in ["ca", "gateway", "checkout-service", "client"] {
        assert!(line(&out, stem).starts_with("unchanged"), "{out}");
    }
    assert_eq!(files(&p.dir), before, "an unchanged run rewrote files");

    // What it made works: mTLS between the gateway and both clients, by name and IP.
    let ca = p.dir.join("ca.crt");
    let server = mtls_server(&p.dir, "gateway", &ca);
    for app in ["client", "checkout-service"] {
        for host in ["otel-collector.observability.svc", "127.0.0.1"] {
            handshake(client(&ca, Some((&p.dir, app))), server.clone(), host)
                .unwrap_or_else(|e| panic!("{app} -> {host}: {e:?}"));
        }
    }
}

#[test]
fn dry_run_shows_the_plan_and_writes_nothing() {
    let p = pki(SPEC);
    p.apply(&["--dry-run"])
        .success()
        .stdout(contains("Dry run: nothing written"))
        .stdout(contains("4 created"));
    assert!(!p.dir.exists(), "--dry-run created the directory");

    p.apply(&[]).success();
    let before = files(&p.dir);
    p.respec(&SPEC.replace(r#""127.0.0.1"]"#, r#""127.0.0.1", "::1"]"#));
    let out = p.stdout(&["--dry-run"]);
    assert!(line(&out, "gateway").starts_with("renewed"), "{out}");
    assert_eq!(files(&p.dir), before, "--dry-run wrote files");
}

#[test]
fn changed_sans_or_cn_renew_only_that_pair() {
    let p = pki(SPEC);
    p.apply(&[]).success();
    let before = files(&p.dir);

    p.respec(&SPEC.replace(r#""127.0.0.1"]"#, r#""127.0.0.1", "::1"]"#));
    let out = p.stdout(&[]);
    let gw = line(&out, "gateway");
    assert!(
        gw.starts_with("renewed") && gw.contains("added ::1"),
        "{out}"
    );
    for stem in ["ca", "checkout-service", "client"] {
        assert!(line(&out, stem).starts_with("unchanged"), "{out}");
    }
    let after = files(&p.dir);
    assert_ne!(after["gateway.crt"], before["gateway.crt"]);
    assert_ne!(after["gateway.key"], before["gateway.key"]);
    assert_eq!(after["client.crt"], before["client.crt"]);
    let ca = p.dir.join("ca.crt");
    handshake(
        client(&ca, Some((&p.dir, "client"))),
        mtls_server(&p.dir, "gateway", &ca),
        "::1",
    )
    .expect("the renewed certificate covers ::1");

    p.respec(&SPEC.replace(r#"cn = "my-application""#, r#"cn = "my-app""#));
    let out = p.stdout(&[]);
    let c = line(&out, "client");
    assert!(
        c.starts_with("renewed") && c.contains("CN changed"),
        "{out}"
    );
    // ::1 was removed again from the gateway.
    assert!(line(&out, "gateway").contains("removed ::1"), "{out}");
}

#[test]
fn renews_what_expires_within_renew_before() {
    let p = pki(SPEC);
    p.apply(&["--now", NOW]).success();
    // 2025-11-15 is 318 days in: more than 30 days left.
    let out = p.stdout(&["--now", "2025-11-15T00:00:00Z"]);
    assert!(out.contains("0 created, 0 renewed, 4 unchanged"), "{out}");
    // 2025-12-15: 16 days left, within renew_before_days = 30; the CA (10 years) is kept.
    let out = p.stdout(&["--now", "2025-12-15T00:00:00Z"]);
    assert!(line(&out, "ca").starts_with("unchanged"), "{out}");
    let gw = line(&out, "gateway");
    assert!(
        gw.starts_with("renewed") && gw.contains("within renew_before_days = 30"),
        "{out}"
    );
    assert!(line(&out, "client").contains("until 2026-12-15"), "{out}");
    // Long after expiry: renewed as expired.
    let out = p.stdout(&["--now", "2028-01-01T00:00:00Z"]);
    assert!(line(&out, "client").contains("expired on"), "{out}");
}

#[test]
fn a_new_ca_key_type_reissues_everything() {
    let p = pki(SPEC);
    p.apply(&[]).success();
    p.respec(&format!("key_type = \"ecdsa-p384\"\n{SPEC}"));
    // a new CA key breaks every consumer at once: refused, with the staged rotation as the way
    let before = crate::common::file_bytes(&p.dir);
    let refused = p.apply(&[]).code(2).get_output().stderr.clone();
    let refused = String::from_utf8_lossy(&refused);
    for step in [
        "rotate-ca start --key-type ecdsa-p384",
        "rotate-ca switch",
        "rotate-ca finish",
        "--replace-ca",
    ] {
        assert!(refused.contains(step), "{step}: {refused}");
    }
    assert_eq!(before, crate::common::file_bytes(&p.dir), "nothing written");
    // asked for explicitly, the CA is replaced at once
    let out = p.stdout(&["--replace-ca"]);
    assert!(out.contains("0 created, 4 renewed, 0 unchanged"), "{out}");
    assert!(line(&out, "ca").contains("key type ecdsa-p384"), "{out}");
    let ca = p.dir.join("ca.crt");
    handshake(
        client(&ca, Some((&p.dir, "client"))),
        mtls_server(&p.dir, "gateway", &ca),
        "localhost",
    )
    .expect("everything re-issued under the new CA");
}

#[test]
fn seeded_apply_is_reproducible() {
    let (a, b) = (pki(SPEC), pki(SPEC));
    for p in [&a, &b] {
        p.apply(&["--seed", "ci", "--now", NOW]).success();
    }
    let fa = files(&a.dir);
    assert_eq!(fa, files(&b.dir));
    let c = pki(SPEC);
    c.apply(&["--now", NOW]).success();
    assert_ne!(
        files(&c.dir)["ca.key"],
        fa["ca.key"],
        "without a seed keys are random"
    );
}

#[test]
fn spec_errors_name_the_line_and_the_key() {
    let cases: [(&str, &[&str]); 8] = [
        (
            "[[server]]\nsans = [\"localhost\"]\nsanz = [\"x\"]\n",
            &["line 3", "sanz"],
        ),
        (
            "[[server]]\nsans = [\"localhost\", \"bad name\"]\n",
            &["line 2", "bad name"],
        ),
        (
            "key_type = \"rsa-1024\"\n",
            &["line 1", "rsa-1024", "ecdsa-p256"],
        ),
        (
            "[[client]]\ncn = \"a\"\n\n[[client]]\ncn = \"b\"\nname = \"a\"\n",
            &["line 4", "`a` is already used on line 1"],
        ),
        (
            "[[server]]\nname = \"gw\"\nsans = []\n",
            &["line 1", "sans"],
        ),
        (
            "days = 20\n\n[[client]]\ncn = \"a\"\n",
            &["line 3", "renew_before_days"],
        ),
        // The CA has the same guard (issue 9): a CA valid for no longer than the renewal
        // window would be renewed, with every leaf, on each run.
        (
            "[ca]\ndays = 30\n\n[[client]]\ncn = \"a\"\n",
            &[
                "`days` of [ca]",
                "renew_before_days",
                "every run would renew it",
            ],
        ),
        (
            "renew_before_days = 400\ndays = 500\n[ca]\ndays = 365\n",
            &["`days` of [ca]", "365 days", "400 days"],
        ),
    ];
    for (spec, wanted) in cases {
        let p = pki(spec);
        let out = p.apply(&[]).code(2).get_output().stderr.clone();
        let err = String::from_utf8(out).unwrap();
        for w in wanted {
            assert!(err.contains(w), "spec:\n{spec}\nerror lacks {w:?}:\n{err}");
        }
        assert!(!p.dir.exists(), "a bad spec wrote files");
    }
    // A missing spec says how to get one.
    let tmp = tempfile::tempdir().unwrap();
    otelpki(&tmp.path().join("certs"))
        .current_dir(tmp.path())
        .arg("apply")
        .assert()
        .code(2)
        .stderr(contains("otelpki.toml"))
        .stderr(contains("examples/otelpki.toml"));
}

/// The scale target (docs/benchmark.md): a CA, a server and a thousand clients in one run (no timing asserted here;
/// bench/scale.sh measures it).
#[test]
fn a_thousand_clients_in_one_run() {
    let mut spec = String::from("[[server]]\nsans = [\"localhost\"]\n");
    for i in 0..1000 {
        spec.push_str(&format!("[[client]]\ncn = \"app-{i}\"\n"));
    }
    let p = pki(&spec);
    let out = p.stdout(&[]);
    assert!(
        out.contains("1002 created, 0 renewed, 0 unchanged"),
        "{out}"
    );
    assert_eq!(files(&p.dir).len(), 2004);
    let ca = p.dir.join("ca.crt");
    handshake(
        client(&ca, Some((&p.dir, "app-999"))),
        mtls_server(&p.dir, "server", &ca),
        "localhost",
    )
    .expect("the last client works");
    let out = p.stdout(&[]);
    assert!(
        out.contains("0 created, 0 renewed, 1002 unchanged"),
        "{out}"
    );
}

/// A batch larger than the number of files a process may keep open (64 here; 1024 is the usual
/// soft limit, below the 2004 files of a thousand clients): each staged file is closed at once,
/// so the batch is written whole instead of failing with "Too many open files".
#[test]
fn a_batch_larger_than_the_open_file_limit_is_written_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let mut spec = String::from("[[server]]\nsans = [\"localhost\"]\n");
    for i in 0..100 {
        spec.push_str(&format!("[[client]]\ncn = \"app-{i}\"\n"));
    }
    let spec_path = tmp.path().join("otelpki.toml");
    std::fs::write(&spec_path, spec).unwrap();
    let dir = tmp.path().join("certs");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 64 && exec \"$0\" \"$@\"")
        .arg(assert_cmd::cargo::cargo_bin!("otelpki"))
        .arg("--dir")
        .arg(&dir)
        .arg("apply")
        .arg(&spec_path)
        .env_remove("OTELPKI_DIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("102 created, 0 renewed, 0 unchanged"),
        "{stdout}"
    );
    assert_eq!(files(&dir).len(), 204);
}

/// The example spec in the repository parses and applies.
#[test]
fn the_example_spec_applies() {
    let tmp = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/otelpki.toml");
    otelpki(&tmp.path().join("certs"))
        .arg("apply")
        .arg(example)
        .assert()
        .success()
        .stdout(contains("created    gateway.crt gateway.key"));
}

/// `--json` reports the same as the text, per pair with its files, and with `--dry-run` the
/// plan; a renewal carries its reason.
#[test]
fn json_reports_each_pair() {
    let p = pki(SPEC);
    let json = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["--json"];
        args.extend_from_slice(extra);
        let out = p.apply(&args).success().get_output().stdout.clone();
        serde_json::from_slice(&out).unwrap()
    };
    let plan = json(&["--dry-run"]);
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["created"], 4);
    assert!(!p.dir.exists(), "--dry-run --json created the directory");

    let doc = json(&[]);
    assert_eq!(doc["dry_run"], false);
    assert_eq!(
        (doc["created"].clone(), doc["unchanged"].clone()),
        (4.into(), 0.into())
    );
    let pairs = doc["pairs"].as_array().unwrap();
    let names: Vec<&str> = pairs.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ca", "gateway", "checkout-service", "client"]);
    let roles: Vec<&str> = pairs.iter().map(|p| p["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["ca", "server", "client", "client"]);
    for pair in pairs {
        assert_eq!(pair["action"], "created", "{pair:#}");
        assert!(pair["reason"].is_null());
        // The paths it names are the files it wrote, and not_after is the certificate's.
        let cert = std::fs::read(pair["cert"].as_str().unwrap()).unwrap();
        assert!(std::path::Path::new(pair["key"].as_str().unwrap()).is_file());
        let der = pem::parse(&cert).unwrap();
        let (_, x) = x509_parser::parse_x509_certificate(der.contents()).unwrap();
        let not_after = time::OffsetDateTime::parse(
            pair["not_after"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert_eq!(
            not_after.unix_timestamp(),
            x.validity().not_after.timestamp()
        );
    }

    p.respec(&SPEC.replace(r#""127.0.0.1"]"#, r#""127.0.0.1", "::1"]"#));
    let doc = json(&[]);
    assert_eq!(
        (doc["renewed"].clone(), doc["unchanged"].clone()),
        (1.into(), 3.into())
    );
    let gateway = &doc["pairs"][1];
    assert_eq!(gateway["action"], "renewed");
    assert!(
        gateway["reason"].as_str().unwrap().contains("::1"),
        "{gateway:#}"
    );
}

/// A `*.crt` that is not a certificate: apply goes on past one the spec does not mention (and
/// says so), and refuses to replace one it manages without being told, writing nothing.
#[test]
fn unreadable_files_in_the_directory() {
    let p = pki(SPEC);
    p.apply(&[]).success();
    std::fs::write(p.dir.join("notes.crt"), "not a certificate\n").unwrap();
    p.apply(&[])
        .success()
        .stderr(contains("skipping"))
        .stderr(contains("notes.crt"))
        .stdout(contains("0 created, 0 renewed, 4 unchanged"));

    let gateway = p.dir.join("gateway.crt");
    let cut = std::fs::read(&gateway).unwrap()[..200].to_vec();
    std::fs::write(&gateway, &cut).unwrap();
    p.respec(&SPEC.replace(r#"cn = "checkout-service""#, r#"cn = "cart""#));
    let before = files(&p.dir);
    p.apply(&[])
        .code(2)
        .stderr(contains("gateway.crt"))
        .stderr(contains("cannot be read"));
    assert_eq!(files(&p.dir), before, "a refused apply wrote files");

    // Moving the pair away, as the message says, lets apply issue it again.
    std::fs::remove_file(&gateway).unwrap();
    std::fs::remove_file(p.dir.join("gateway.key")).unwrap();
    let out = p.stdout(&[]);
    assert!(line(&out, "gateway").starts_with("created"), "{out}");
}

/// A pair in place that ca.crt did not sign (copied from another PKI made from the same spec:
/// same names, its own key) is renewed, saying why; what is written then works (issue 15).
#[test]
fn a_pair_signed_by_another_ca_is_renewed() {
    let p = pki(SPEC);
    p.apply(&[]).success();
    let other = pki(SPEC);
    other.apply(&[]).success();
    for ext in ["crt", "key"] {
        let name = format!("client.{ext}");
        std::fs::copy(other.dir.join(&name), p.dir.join(&name)).unwrap();
    }
    let out = p.stdout(&[]);
    let client_line = line(&out, "client");
    assert!(
        client_line.starts_with("renewed")
            && client_line.contains("not signed by the current ca.crt"),
        "{out}"
    );
    assert!(out.contains("0 created, 1 renewed, 3 unchanged"), "{out}");
    let ca = p.dir.join("ca.crt");
    handshake(
        client(&ca, Some((&p.dir, "client"))),
        mtls_server(&p.dir, "gateway", &ca),
        "localhost",
    )
    .expect("the renewed client chains to ca.crt");
}

/// A leaf asked to end exactly when its CA ends is made as asked, without a warning; one asked
/// for a day more is cut to the CA's end, with the warning. openssl reads all three end dates
/// as the same (issue 15).
#[test]
fn a_leaf_may_end_with_its_ca_but_not_after_it() {
    let p = pki(concat!(
        "days = 3650\n[ca]\ncn = \"OTel CA\"\ndays = 3650\n\n",
        "[[client]]\ncn = \"same-end\"\n\n[[client]]\ncn = \"longer\"\ndays = 3651\n",
    ));
    let out = p.apply(&["--now", NOW]).success().get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("would outlive its CA \"OTel CA\"").count(),
        1,
        "{stderr}"
    );
    let end = |stem: &str| {
        let (ok, text) = crate::common::openssl_in(
            &p.dir,
            &["x509", "-noout", "-enddate", "-in", &format!("{stem}.crt")],
        );
        assert!(ok, "{text}");
        text
    };
    assert_eq!(end("same-end"), end("ca"));
    assert_eq!(end("longer"), end("ca"));
}
