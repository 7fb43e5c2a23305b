//! `otelpki fixtures` and `otelpki::fixtures::generate`: seeded output is byte-for-byte
//! reproducible (and pinned), the good set is accepted and each bad fixture is refused for its
//! stated reason by rustls (in-memory handshakes) and by `openssl verify`.

use std::collections::BTreeMap;
use std::path::Path;

use otelpki::KeyType;
use otelpki::fixtures::{self, Expect, Manifest, Options, Set};
use otelpki::model::Role;
use rustls::{CertificateError, Error};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::common::{Refused, client, handshake, mtls_server, openssl_in, otelpki};

const NOW: &str = "2025-01-01T00:00:00Z";
const NOW_UNIX: &str = "1735689600";

/// SHA-256 over every file of the seeded set (name, NUL, length, contents, in name order).
/// It changes when anything in the output changes: a profile, the derivation, a dependency
/// (rcgen's encoding, RustCrypto's RFC 6979). If the change is intended, update it.
const PINNED_P256: &str = "45b58b8c8dc4b17633a875ce01550bf51d503033c2f5d029631f2a2877203bc6";
const PINNED_P384: &str = "e92e428b509c8b44f0159a6a61086e177d2a168a35875dcbdb3e3c02173354bf";
const PINNED_ED25519: &str = "0d39318e67f28a855e9db590fc5eab637ec3b5645bb765ab9710a159178e724b";

/// Every file in `dir`, by name.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    crate::common::file_bytes(dir)
}

fn digest(files: &BTreeMap<String, Vec<u8>>) -> String {
    let mut h = Sha256::new();
    for (name, bytes) in files {
        h.update(name.as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn seeded(dir: &Path, extra: &[&str]) {
    otelpki(dir)
        .args(["fixtures", "--seed", "otelpki-ci", "--now", NOW])
        .args(extra)
        .env_remove("SOURCE_DATE_EPOCH")
        .assert()
        .success();
}

#[test]
fn seeded_output_is_byte_identical_and_pinned() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    seeded(&a, &[]);
    seeded(&b, &[]);
    let (fa, fb) = (files(&a), files(&b));
    assert_eq!(fa.len(), 20, "{:?}", fa.keys()); // 10 certificates, 9 keys, the manifest
    assert_eq!(fa, fb, "two seeded runs differ");
    assert_eq!(
        digest(&fa),
        PINNED_P256,
        "the seeded output changed (see PINNED_P256)"
    );

    // SOURCE_DATE_EPOCH stands in for --now.
    let c = tmp.path().join("c");
    otelpki(&c)
        .args(["fixtures", "--seed", "otelpki-ci"])
        .env("SOURCE_DATE_EPOCH", NOW_UNIX)
        .assert()
        .success();
    assert_eq!(
        files(&c),
        fa,
        "SOURCE_DATE_EPOCH gives other files than --now"
    );

    // Another seed, other keys and serials.
    let d = tmp.path().join("d");
    otelpki(&d)
        .args(["fixtures", "--seed", "other", "--now", NOW])
        .assert()
        .success();
    let fd = files(&d);
    for name in ["ca.key", "server.key", "server.crt"] {
        assert_ne!(fd[name], fa[name], "{name} does not depend on the seed");
    }
}

#[test]
fn every_seeded_key_type_is_reproducible_pinned_and_keys_are_pkcs8() {
    for (kt, pinned) in [
        (KeyType::EcdsaP256, PINNED_P256),
        (KeyType::EcdsaP384, PINNED_P384),
        (KeyType::Ed25519, PINNED_ED25519),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let opts = Options {
            seed: Some("otelpki-ci".into()),
            now: datetime!(2025-01-01 0:00 UTC),
            key_type: kt,
            force: false,
        };
        fixtures::generate_with(&tmp.path().join("a"), &opts).unwrap();
        fixtures::generate_with(&tmp.path().join("b"), &opts).unwrap();
        let fa = files(&tmp.path().join("a"));
        assert_eq!(fa, files(&tmp.path().join("b")), "{kt}: two runs differ");
        assert_eq!(digest(&fa), pinned, "{kt}: the seeded output changed");
        for (name, bytes) in &fa {
            if name.ends_with(".key") {
                let text = String::from_utf8(bytes.clone()).unwrap();
                assert!(
                    text.starts_with("-----BEGIN PRIVATE KEY-----\n") && !text.contains('\r'),
                    "{kt}: {name} is not a PKCS#8 PEM with LF endings"
                );
                let (ok, out) = openssl_in(&tmp.path().join("a"), &["pkey", "-in", name, "-noout"]);
                assert!(ok, "{kt}: openssl cannot read {name}: {out}");
            }
        }
    }
}

#[test]
fn without_a_seed_keys_come_from_the_os() {
    let tmp = tempfile::tempdir().unwrap();
    let now = OffsetDateTime::now_utc();
    fixtures::generate(&tmp.path().join("a"), None, now).unwrap();
    let m = fixtures::generate(&tmp.path().join("b"), None, now).unwrap();
    assert!(!m.seeded);
    let (fa, fb) = (files(&tmp.path().join("a")), files(&tmp.path().join("b")));
    for name in ["ca.key", "server.key", "client.key", "server.crt"] {
        assert_ne!(
            fa[name], fb[name],
            "{name} is the same in two unseeded runs"
        );
    }
}

#[test]
fn rsa_with_a_seed_is_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("f");
    otelpki(&dir)
        .args(["fixtures", "--seed", "x", "--key-type", "rsa-2048"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "--seed cannot make rsa-2048 keys reproducible",
        ))
        .stderr(predicates::str::contains("ecdsa-p256"));
    assert!(!dir.exists());
}

#[test]
fn existing_fixtures_are_not_replaced_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("f");
    seeded(&dir, &[]);
    let before = files(&dir);
    otelpki(&dir)
        .args(["fixtures", "--seed", "other", "--now", NOW])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("already exists"))
        .stderr(predicates::str::contains("--force"));
    assert_eq!(files(&dir), before);
    otelpki(&dir)
        .args(["fixtures", "--seed", "other", "--now", NOW, "--force"])
        .assert()
        .success();
    assert_ne!(files(&dir)["server.crt"], before["server.crt"]);
}

/// The manifest lists every file, and what it says is true of the file.
#[test]
fn the_manifest_describes_every_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("f");
    seeded(&dir, &[]);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("fixtures.json")).unwrap()).unwrap();
    assert_eq!(json["now"], NOW);
    assert_eq!(json["seeded"], true);
    let mut listed = vec!["fixtures.json".to_string()];
    for f in json["fixtures"].as_array().unwrap() {
        let cert = f["cert"].as_str().unwrap();
        listed.push(cert.into());
        if let Some(key) = f["key"].as_str() {
            listed.push(key.into());
        }
        for field in [
            "role",
            "set",
            "expect",
            "purpose",
            "not_before",
            "not_after",
        ] {
            assert!(f[field].is_string(), "{cert}: no {field}");
        }
        // The fingerprint and validity are those of the file.
        let (ok, out) = openssl_in(
            &dir,
            &[
                "x509",
                "-in",
                cert,
                "-noout",
                "-fingerprint",
                "-sha256",
                "-enddate",
            ],
        );
        assert!(ok, "{out}");
        assert!(
            out.contains(&format!("Fingerprint={}", f["sha256"].as_str().unwrap())),
            "{cert}: {out} vs {}",
            f["sha256"]
        );
        let not_after = OffsetDateTime::parse(
            f["not_after"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let month = format!("{:?}", not_after.month());
        assert!(
            out.contains(&format!("notAfter={}", &month[..3]))
                && out.contains(&format!("{} GMT", not_after.year())),
            "{cert}: {out} vs {not_after}"
        );
    }
    listed.sort();
    let mut present: Vec<String> = files(&dir).into_keys().collect();
    present.sort();
    assert_eq!(listed, present);
}

/// What a bad fixture changes relative to its good twin, in terms a verifier cares about.
fn differences(dir: &Path, bad: &str, twin: &str) -> Vec<&'static str> {
    let read = |name: &str| std::fs::read(dir.join(format!("{name}.crt"))).unwrap();
    let (a, b) = (read(bad), read(twin));
    let a = x509_parser::pem::parse_x509_pem(&a).unwrap().1;
    let b = x509_parser::pem::parse_x509_pem(&b).unwrap().1;
    let (a, b) = (a.parse_x509().unwrap(), b.parse_x509().unwrap());
    let mut out = Vec::new();
    if a.subject() != b.subject()
        || a.subject_alternative_name()
            .unwrap()
            .map(|e| e.value.clone())
            != b.subject_alternative_name()
                .unwrap()
                .map(|e| e.value.clone())
    {
        out.push("names");
    }
    if a.issuer() != b.issuer() {
        out.push("issuer");
    }
    if a.validity() != b.validity() {
        out.push("validity");
    }
    if a.extended_key_usage().unwrap().map(|e| e.value.clone())
        != b.extended_key_usage().unwrap().map(|e| e.value.clone())
    {
        out.push("extKeyUsage");
    }
    if a.key_usage().unwrap().map(|e| e.value.flags)
        != b.key_usage().unwrap().map(|e| e.value.flags)
        || a.basic_constraints().unwrap().map(|e| e.value.clone())
            != b.basic_constraints().unwrap().map(|e| e.value.clone())
    {
        out.push("profile");
    }
    // Signed by a CA other than the twin's, with the same issuer name: the AKI tells.
    let aki = |c: &x509_parser::certificate::X509Certificate<'_>| {
        c.extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(k) => {
                    k.key_identifier.as_ref().map(|k| k.0.to_vec())
                }
                _ => None,
            })
    };
    if a.issuer() == b.issuer() && aki(&a) != aki(&b) {
        out.push("issuer");
    }
    out
}

#[test]
fn each_bad_fixture_differs_from_its_good_twin_in_one_way() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("f");
    seeded(&dir, &[]);
    for (bad, twin, what) in [
        ("expired-server", "server", "validity"),
        ("not-yet-valid-server", "server", "validity"),
        ("wrong-name-server", "server", "names"),
        ("foreign-client", "client", "issuer"),
        ("no-clientauth-client", "client", "extKeyUsage"),
        ("self-signed-server", "server", "issuer"),
    ] {
        assert_eq!(differences(&dir, bad, twin), [what], "{bad} vs {twin}");
    }
    assert_eq!(differences(&dir, "server", "server"), Vec::<&str>::new());
}

/// The good set makes an mTLS connection; each bad fixture, put in place of its good twin, is
/// refused by rustls for the reason the manifest states. Issued now (rustls uses the clock).
#[test]
fn rustls_accepts_the_good_set_and_refuses_each_bad_fixture_for_its_reason() {
    for kt in [KeyType::EcdsaP256, KeyType::EcdsaP384, KeyType::Ed25519] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("f");
        let m = fixtures::generate_with(
            &dir,
            &Options {
                seed: Some("otelpki-ci".into()),
                now: OffsetDateTime::now_utc(),
                key_type: kt,
                force: false,
            },
        )
        .unwrap();
        let ca = dir.join("ca.crt");
        let good_server = mtls_server(&dir, "server", &ca);
        let good_client = client(&ca, Some((&dir, "client")));
        let mut judged = 0;
        for f in &m.fixtures {
            let result = match (f.role, f.name.as_str()) {
                (Role::Ca, "ca") => {
                    handshake(good_client.clone(), good_server.clone(), "localhost")
                }
                // Trusting the foreign CA in place of ca.crt: the good server is unknown.
                (Role::Ca, _) => handshake(
                    client(&dir.join(&f.cert), Some((&dir, "client"))),
                    good_server.clone(),
                    "localhost",
                ),
                (Role::Server, name) => handshake(
                    good_client.clone(),
                    mtls_server(&dir, name, &ca),
                    "localhost",
                ),
                (Role::Client, name) => handshake(
                    client(&ca, Some((&dir, name))),
                    good_server.clone(),
                    "localhost",
                ),
            };
            let ok = match (f.expect, &result) {
                (Expect::Pass, Ok(())) => true,
                (Expect::Expired, Err(Refused::Client(Error::InvalidCertificate(e)))) => {
                    matches!(
                        e,
                        CertificateError::Expired | CertificateError::ExpiredContext { .. }
                    )
                }
                (Expect::NotYetValid, Err(Refused::Client(Error::InvalidCertificate(e)))) => {
                    matches!(
                        e,
                        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. }
                    )
                }
                (Expect::NameMismatch, Err(Refused::Client(Error::InvalidCertificate(e)))) => {
                    matches!(
                        e,
                        CertificateError::NotValidForName
                            | CertificateError::NotValidForNameContext { .. }
                    )
                }
                (Expect::UnknownIssuer, Err(Refused::Server(Error::InvalidCertificate(e))))
                    if f.role == Role::Client =>
                {
                    matches!(e, CertificateError::UnknownIssuer)
                }
                (Expect::UnknownIssuer, Err(Refused::Client(Error::InvalidCertificate(e))))
                    if f.role == Role::Ca =>
                {
                    matches!(e, CertificateError::UnknownIssuer)
                }
                (Expect::WrongPurpose, Err(Refused::Server(Error::InvalidCertificate(e)))) => {
                    matches!(
                        e,
                        CertificateError::InvalidPurpose
                            | CertificateError::InvalidPurposeContext { .. }
                    )
                }
                // webpki has no "self-signed" error: the issuer is simply not a trusted CA.
                (Expect::SelfSigned, Err(Refused::Client(Error::InvalidCertificate(e)))) => {
                    matches!(e, CertificateError::UnknownIssuer)
                }
                _ => false,
            };
            assert!(
                ok,
                "{kt}: {} expected {:?}, got {result:?}",
                f.name, f.expect
            );
            judged += 1;
        }
        assert_eq!(judged, 10);
        // The good server also answers by its IP addresses.
        for host in ["127.0.0.1", "::1"] {
            handshake(good_client.clone(), good_server.clone(), host)
                .unwrap_or_else(|e| panic!("{kt}: {host}: {e:?}"));
        }
    }
}

/// `openssl verify -attime` (the manifest's time) accepts the good set and refuses each bad
/// fixture with the error the manifest names.
#[test]
fn openssl_accepts_the_good_set_and_refuses_each_bad_fixture_for_its_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("f");
    seeded(&dir, &[]);
    let m: Manifest = fixtures_manifest(&dir);
    let attime = m.now.unix_timestamp().to_string();
    for f in &m.fixtures {
        let mut args = vec!["verify", "-attime", &attime, "-CAfile", "ca.crt"];
        match f.role {
            Role::Server => args.extend(["-purpose", "sslserver", "-verify_hostname", "localhost"]),
            Role::Client => args.extend(["-purpose", "sslclient"]),
            Role::Ca => {}
        }
        // The foreign CA: as a trust anchor it does not vouch for the good server.
        let target = if f.role == Role::Ca && f.name != "ca" {
            args[4] = &f.cert;
            args.extend(["-purpose", "sslserver"]);
            "server.crt"
        } else {
            f.cert.as_str()
        };
        args.push(target);
        let (ok, out) = openssl_in(&dir, &args);
        // openssl's X509_V_ERR numbers, stable across versions (the words are not quite).
        let wanted = match f.expect {
            Expect::Pass => None,
            Expect::Expired => Some("error 10 "),
            Expect::NotYetValid => Some("error 9 "),
            Expect::NameMismatch => Some("error 62 "),
            Expect::UnknownIssuer => Some("error 20 "),
            Expect::WrongPurpose => Some("error 26 "),
            Expect::SelfSigned => Some("error 18 "),
        };
        match wanted {
            None => assert!(ok && out.contains(": OK"), "{}: {out}", f.name),
            Some(code) => assert!(
                !ok && out.contains(code),
                "{}: expected {code}({:?}), got: {out}",
                f.name,
                f.expect
            ),
        }
        assert_eq!(f.set == Set::Good, wanted.is_none(), "{}", f.name);
    }
    // The CA beside the foreign client is the right one: with it, the client verifies.
    let (ok, out) = openssl_in(
        &dir,
        &[
            "verify",
            "-attime",
            &attime,
            "-CAfile",
            "foreign-ca.crt",
            "-purpose",
            "sslclient",
            "foreign-client.crt",
        ],
    );
    assert!(ok, "{out}");
    // The good server also verifies for its IP addresses.
    for ip in ["127.0.0.1", "::1"] {
        let (ok, out) = openssl_in(
            &dir,
            &[
                "verify",
                "-attime",
                &attime,
                "-CAfile",
                "ca.crt",
                "-purpose",
                "sslserver",
                "-verify_ip",
                ip,
                "server.crt",
            ],
        );
        assert!(ok, "{ip}: {out}");
    }
}

/// The manifest a seeded CLI run wrote, as the library returns it (same seed and time).
fn fixtures_manifest(dir: &Path) -> Manifest {
    let tmp = tempfile::tempdir().unwrap();
    let m = fixtures::generate(
        &tmp.path().join("m"),
        Some("otelpki-ci"),
        datetime!(2025-01-01 0:00 UTC),
    )
    .unwrap();
    // The library and the CLI make the same set.
    assert_eq!(
        std::fs::read(tmp.path().join("m/fixtures.json")).unwrap(),
        std::fs::read(dir.join("fixtures.json")).unwrap()
    );
    m
}
