use std::collections::BTreeMap;
use std::path::Path;

use ::time::OffsetDateTime;
use predicates::prelude::*;
use x509_parser::prelude::*;

use crate::common::{certs, init_pki, openssl_in, otelpki};

fn parsed(path: &Path, f: impl FnOnce(&X509Certificate<'_>)) {
    let der = certs(path).remove(0);
    let (_, cert) = parse_x509_certificate(&der).expect("x509");
    f(&cert);
}

/// A SAN as text: `DNSName(x)`, `IPAddress(127.0.0.1)`, ...
fn san_text(g: &GeneralName<'_>) -> String {
    match g {
        GeneralName::IPAddress(b) => {
            format!(
                "IPAddress({})",
                otelpki::cert::ip_from_bytes(b).expect("ip")
            )
        }
        other => other.to_string(),
    }
}

fn ski(c: &X509Certificate<'_>) -> Vec<u8> {
    c.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        })
        .expect("SubjectKeyIdentifier")
}

fn aki(c: &X509Certificate<'_>) -> Option<Vec<u8>> {
    c.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        })
}

/// `init` with no flags writes the article's six files and says what to do next.
#[test]
fn init_writes_the_article_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("certs");
    otelpki(&dir).arg("init").assert().success().stdout(
        predicate::str::contains("config collector").and(predicate::str::contains("config env")),
    );
    let names = crate::common::file_names(&dir);
    assert_eq!(
        names,
        [
            "ca.crt",
            "ca.key",
            "client.crt",
            "client.key",
            "server.crt",
            "server.key"
        ]
    );
    parsed(&dir.join("server.crt"), |c| {
        let san = c.subject_alternative_name().unwrap().unwrap();
        let shown: Vec<String> = san.value.general_names.iter().map(san_text).collect();
        assert_eq!(
            shown,
            [
                "DNSName(localhost)",
                "IPAddress(127.0.0.1)",
                "IPAddress(::1)"
            ]
        );
        assert_eq!(c.subject().to_string(), "CN=localhost");
    });
    parsed(&dir.join("client.crt"), |c| {
        assert_eq!(c.subject().to_string(), "CN=my-application")
    });
}

/// The certificate profiles (src/profile.rs), row by row, for the CA, a server and a client.
#[test]
fn profiles_follow_the_design_table() {
    let before = OffsetDateTime::now_utc().unix_timestamp();
    let (_tmp, dir) = init_pki(&["--org", "MyCompany"]);
    let mut ca_ski = Vec::new();
    parsed(&dir.join("ca.crt"), |c| {
        assert_eq!(c.version(), X509Version::V3);
        let bc = c.basic_constraints().unwrap().unwrap();
        assert!(bc.critical && bc.value.ca && bc.value.path_len_constraint == Some(0));
        let ku = c.key_usage().unwrap().unwrap();
        assert!(ku.critical);
        assert!(ku.value.key_cert_sign() && ku.value.crl_sign() && ku.value.digital_signature());
        assert!(
            c.extended_key_usage().unwrap().is_none(),
            "the CA must carry no EKU"
        );
        assert_eq!(c.subject().to_string(), "CN=OTel CA, O=MyCompany");
        ca_ski = ski(c);
        assert_eq!(aki(c), None);
    });
    let mut serials = Vec::new();
    for (name, server) in [("server", true), ("client", false)] {
        parsed(&dir.join(format!("{name}.crt")), |c| {
            let raw = c.raw_serial();
            assert_eq!(raw.len(), 16, "{name}: serial is 16 bytes");
            assert!(raw[0] & 0x80 == 0 && raw[0] != 0, "{name}: serial positive");
            serials.push(raw.to_vec());
            assert_eq!(
                aki(c).as_deref(),
                Some(ca_ski.as_slice()),
                "{name}: AKI = the CA's SKI"
            );
            assert!(!ski(c).is_empty());
            let bc = c.basic_constraints().unwrap().unwrap();
            assert!(!bc.value.ca);
            let ku = c.key_usage().unwrap().unwrap();
            assert!(ku.critical && ku.value.digital_signature() && !ku.value.key_encipherment());
            assert!(!ku.value.key_cert_sign());
            let eku = c.extended_key_usage().unwrap().unwrap().value;
            assert_eq!(
                (eku.server_auth, eku.client_auth),
                (server, !server),
                "{name}: one EKU"
            );
            assert!(!eku.any && eku.other.is_empty());
            let nb = c.validity().not_before.timestamp();
            assert!(
                nb <= before - 59 && nb >= before - 120,
                "{name}: notBefore a minute back"
            );
            let days = (c.validity().not_after.timestamp() - nb) / 86400;
            assert_eq!(days, 365, "{name}: 365 days");
            assert_eq!(
                c.signature_algorithm.algorithm.to_id_string(),
                "1.2.840.10045.4.3.2"
            );
        });
    }
    assert_ne!(serials[0], serials[1]);
}

/// RSA leaves add keyEncipherment; P-384 signs with SHA-384; a leaf takes the CA's key type.
#[test]
fn key_types_shape_usages_and_signatures() {
    let (_tmp, dir) = init_pki(&["--key-type", "rsa-2048"]);
    parsed(&dir.join("server.crt"), |c| {
        let ku = c.key_usage().unwrap().unwrap().value;
        assert!(ku.digital_signature() && ku.key_encipherment());
        assert_eq!(c.public_key().parsed().unwrap().key_size(), 2048);
    });

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p384");
    otelpki(&dir)
        .args(["init-ca", "--key-type", "ecdsa-p384"])
        .assert()
        .success();
    otelpki(&dir)
        .args(["issue", "server", "--san", "otel"])
        .assert()
        .success();
    otelpki(&dir)
        .args(["issue", "client", "--cn", "app", "--key-type", "rsa-3072"])
        .assert()
        .success();
    parsed(&dir.join("server.crt"), |c| {
        assert_eq!(
            c.public_key().parsed().unwrap().key_size(),
            384,
            "leaf takes the CA's type"
        );
        assert_eq!(
            c.signature_algorithm.algorithm.to_id_string(),
            "1.2.840.10045.4.3.3"
        );
    });
    parsed(&dir.join("client.crt"), |c| {
        assert_eq!(
            c.public_key().parsed().unwrap().key_size(),
            3072,
            "--key-type wins"
        );
    });
}

/// Ed25519 prints the compatibility warning naming the stacks that fail.
#[test]
fn ed25519_warns() {
    let tmp = tempfile::tempdir().unwrap();
    otelpki(&tmp.path().join("d"))
        .args(["init", "--key-type", "ed25519"])
        .assert()
        .success()
        .stderr(predicate::str::contains("Java").and(predicate::str::contains("gRPC")));
}

/// Every flag of the four commands, and OTELPKI_DIR.
#[test]
fn flags_do_what_they_say() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    assert_cmd::Command::new(assert_cmd::cargo::cargo_bin!("otelpki"))
        .env("OTELPKI_DIR", &dir)
        .args([
            "init-ca", "--cn", "Team CA", "--org", "Acme", "--days", "30",
        ])
        .assert()
        .success();
    parsed(&dir.join("ca.crt"), |c| {
        assert_eq!(c.subject().to_string(), "CN=Team CA, O=Acme");
        let d = c.validity().not_after.timestamp() - c.validity().not_before.timestamp();
        assert_eq!(d, 30 * 86400 + 60);
    });
    otelpki(&dir)
        .args([
            "issue",
            "server",
            "--san",
            "gw.example.com,10.1.2.3",
            "--san",
            "2001:db8::7",
        ])
        .args([
            "--san",
            "*.gw.example.com",
            "--san",
            "uri:spiffe://acme/gw",
            "--san",
            "email:ops@acme.io",
        ])
        .args([
            "--cn", "gateway", "--org", "Acme", "--name", "gw", "--days", "10",
        ])
        .assert()
        .success();
    parsed(&dir.join("gw.crt"), |c| {
        assert_eq!(c.subject().to_string(), "CN=gateway, O=Acme");
        let san = c.subject_alternative_name().unwrap().unwrap();
        let shown: Vec<String> = san.value.general_names.iter().map(san_text).collect();
        assert_eq!(
            shown,
            [
                "DNSName(gw.example.com)",
                "IPAddress(10.1.2.3)",
                "IPAddress(2001:db8::7)",
                "DNSName(*.gw.example.com)",
                "URI(spiffe://acme/gw)",
                "RFC822Name(ops@acme.io)"
            ]
        );
        let d = c.validity().not_after.timestamp() - c.validity().not_before.timestamp();
        assert_eq!(d, 10 * 86400 + 60);
    });
    // A leaf asking for longer than the CA lives is clamped, with a warning.
    otelpki(&dir)
        .args([
            "issue", "client", "--cn", "checkout", "--name", "checkout", "--days", "400",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains("outlive its CA"));
    let mut ca_end = 0;
    parsed(&dir.join("ca.crt"), |c| {
        ca_end = c.validity().not_after.timestamp()
    });
    parsed(&dir.join("checkout.crt"), |c| {
        assert_eq!(c.validity().not_after.timestamp(), ca_end)
    });

    // --ca-cert/--ca-key sign with a CA kept elsewhere.
    let out = tmp.path().join("elsewhere");
    otelpki(&out)
        .args(["issue", "client", "--cn", "batch"])
        .arg("--ca-cert")
        .arg(dir.join("ca.crt"))
        .arg("--ca-key")
        .arg(dir.join("ca.key"))
        .assert()
        .success();
    let (ok, text) = openssl_in(
        tmp.path(),
        &[
            "verify",
            "-CAfile",
            "pki/ca.crt",
            "-purpose",
            "sslclient",
            "elsewhere/client.crt",
        ],
    );
    assert!(ok, "{text}");
}

/// An organisation's CA whose key is PKCS#1 (RSA) or SEC1 (EC), made by openssl, signs.
#[test]
fn organisation_ca_keys_in_pkcs1_and_sec1_load() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let ext = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n";
    std::fs::write(d.join("ca.ext"), ext).unwrap();
    for (name, genkey) in [
        (
            "rsa",
            vec!["genrsa", "-traditional", "-out", "rsa.key", "2048"],
        ),
        (
            "ec",
            vec![
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                "ec.key",
            ],
        ),
    ] {
        let (ok, text) = openssl_in(d, &genkey);
        assert!(ok, "{text}");
        let key = std::fs::read_to_string(d.join(format!("{name}.key"))).unwrap();
        let tag = if name == "rsa" {
            "RSA PRIVATE KEY"
        } else {
            "EC PRIVATE KEY"
        };
        assert!(key.contains(tag), "openssl wrote {key}");
        let (ok, text) = openssl_in(
            d,
            &[
                "req",
                "-new",
                "-x509",
                "-key",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.crt"),
                "-days",
                "30",
            ]
            .iter()
            .copied()
            .chain([
                "-subj",
                "/CN=Org CA",
                "-extensions",
                "v3_ca",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
            ])
            .chain(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
            .collect::<Vec<_>>(),
        );
        assert!(ok, "{text}");
        let out = d.join(format!("out-{name}"));
        otelpki(&out)
            .args(["issue", "server", "--san", "localhost"])
            .arg("--ca-cert")
            .arg(d.join(format!("{name}.crt")))
            .arg("--ca-key")
            .arg(d.join(format!("{name}.key")))
            .assert()
            .success();
        let (ok, text) = openssl_in(
            d,
            &[
                "verify",
                "-CAfile",
                &format!("{name}.crt"),
                "-purpose",
                "sslserver",
                &format!("out-{name}/server.crt"),
            ],
        );
        assert!(ok, "{name}: {text}");
    }
}

/// Each command's --help ends with an example.
#[test]
fn help_shows_examples() {
    // Every command that runs (the leaves of the command tree, as each --help lists its
    // subcommands), so a new one cannot skip it.
    fn help(path: &[String]) -> String {
        let out = otelpki(Path::new("unused"))
            .args(path)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "{path:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    fn leaves(path: Vec<String>, out: &mut Vec<Vec<String>>) {
        let text = help(&path);
        let subs: Vec<String> = text
            .lines()
            .skip_while(|l| *l != "Commands:")
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .filter(|name| name != "help")
            .collect();
        if subs.is_empty() {
            out.push(path.clone());
        }
        for sub in subs {
            let mut p = path.clone();
            p.push(sub);
            leaves(p, out);
        }
    }
    let mut all = Vec::new();
    leaves(Vec::new(), &mut all);
    assert!(all.len() >= 16, "{all:?}");
    for cmd in &all {
        let help = help(cmd);
        let example = help
            .rfind("Example")
            .unwrap_or_else(|| panic!("{cmd:?} --help has no example:\n{help}"));
        assert!(
            help[example..].contains(&format!("otelpki {}", cmd.join(" ")))
                || help[example..].contains(&format!(" {} ", cmd.join(" "))),
            "{cmd:?}: the example does not run the command:\n{help}"
        );
    }
}

/// The bash completion script, loaded into a real bash, completes commands, key types and
/// config targets; the other shells' scripts are generated.
#[test]
fn shell_completions() {
    let script = otelpki(Path::new("unused"))
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(script.status.success());
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("otelpki.bash");
    std::fs::write(&path, &script.stdout).unwrap();
    let complete = |line: &str| -> Vec<String> {
        let words: Vec<&str> = line.split(' ').collect();
        let program = format!(
            "source {}\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE='{line}'\nCOMP_POINT=${{#COMP_LINE}}\n\
             _otelpki otelpki '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
            path.display(),
            words
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" "),
            words.len() - 1,
            words[words.len() - 1],
            words[words.len() - 2],
        );
        let out = std::process::Command::new("bash")
            .args(["--norc", "--noprofile", "-c", &program])
            .output()
            .expect("bash is needed for this test");
        assert!(
            out.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut got: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter(|w| !w.starts_with('-'))
            .map(str::to_string)
            .collect();
        got.sort();
        got
    };
    assert_eq!(complete("otelpki ini"), ["init", "init-ca"]);
    assert_eq!(
        complete("otelpki init --key-type "),
        crate::common::KEY_TYPES
    );
    assert_eq!(
        complete("otelpki config "),
        [
            "cert-manager",
            "collector",
            "declarative",
            "env",
            "help",
            "java",
            "k8s"
        ]
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = otelpki(Path::new("unused"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("init-ca") && text.contains("cert-manager"),
            "{shell}"
        );
    }
    otelpki(Path::new("unused"))
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("tcsh"));
}

/// Every file of `dir` with its bytes, to prove a refused command changed nothing.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    match std::fs::read_dir(dir) {
        Ok(_) => crate::common::file_bytes(dir),
        Err(_) => BTreeMap::new(),
    }
}

/// Runs otelpki in `dir` with `args`, expects exit 2, one `error:` line naming `needle`, and
/// `dir` unchanged.
fn refused(dir: &Path, args: &[&str], needle: &str) {
    let before = snapshot(dir);
    let out = otelpki(dir).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?} exit code; stderr: {stderr}"
    );
    let first = stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("error:"), "{args:?}: {stderr}");
    assert!(
        first.contains(needle),
        "{args:?}: the error should name {needle:?}: {stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "{args:?} printed {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(snapshot(dir), before, "{args:?} changed the directory");
}

#[test]
fn bad_input_is_refused_with_a_clear_error_and_nothing_changes() {
    let (tmp, dir) = init_pki(&[]);
    let long = format!("{}.example.com", "a".repeat(64));
    for bad in [
        "",
        "exa mple.com",
        "*.*.example.com",
        "foo..bar",
        "-bad.example.com",
        long.as_str(),
        "uri:",
        "uri:noscheme",
    ] {
        let shown = if bad.is_empty() {
            "empty"
        } else {
            bad.trim_start_matches("uri:")
        };
        refused(
            &dir,
            &["issue", "server", &format!("--san={bad}"), "--name", "x"],
            shown,
        );
    }
    refused(
        &dir,
        &["issue", "server", "--san", "ok.example,", "--name", "x"],
        "empty",
    );
    refused(
        &dir,
        &[
            "issue", "server", "--san", "a", "--days", "0", "--name", "x",
        ],
        "0",
    );
    refused(&dir, &["init-ca", "--days", "0", "--force"], "0");
    refused(
        &dir,
        &[
            "issue",
            "client",
            "--cn",
            "a",
            "--key-type",
            "dsa-1024",
            "--name",
            "x",
        ],
        "dsa-1024",
    );
    refused(
        &dir,
        &["issue", "server", "--san", "otel"],
        "server.key` already exists",
    );
    refused(&dir, &["issue", "client", "--cn", "a"], "--force");
    refused(&dir, &["init-ca"], "ca.key` already exists");
    refused(&dir, &["init"], "already exists");
    refused(
        &dir,
        &["issue", "server", "--san", "a", "--name", "ca", "--force"],
        "`ca`",
    );
    refused(
        &dir,
        &["issue", "server", "--san", "a", "--name", "../escape"],
        "../escape",
    );

    // No CA in DIR.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    refused(&empty, &["issue", "server", "--san", "a"], "no CA in");

    // Garbage, truncated and mismatched CA files, a non-CA, an expired CA.
    let cases = tmp.path().join("cases");
    std::fs::create_dir(&cases).unwrap();
    let ca_pem = std::fs::read_to_string(dir.join("ca.crt")).unwrap();
    let key_pem = std::fs::read_to_string(dir.join("ca.key")).unwrap();
    let write = |name: &str, body: &str| {
        let p = cases.join(name);
        std::fs::write(&p, body).unwrap();
        p.to_string_lossy().into_owned()
    };
    let garbage = write("garbage.crt", "this is not a certificate\n");
    let truncated = write("truncated.crt", &ca_pem[..ca_pem.len() / 2]);
    let body_only: String = ca_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("\n");
    let short_der = write(
        "short.crt",
        &format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            &body_only[..body_only.len() / 2]
        ),
    );
    let good_ca = dir.join("ca.crt").to_string_lossy().into_owned();
    let good_key = dir.join("ca.key").to_string_lossy().into_owned();
    let garbage_key = write(
        "garbage.key",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    let truncated_key = write("truncated.key", &key_pem[..key_pem.len() / 2]);
    let (_tmp2, other) = init_pki(&[]);
    let other_key = other.join("ca.key").to_string_lossy().into_owned();
    let server_crt = dir.join("server.crt").to_string_lossy().into_owned();
    let server_key = dir.join("server.key").to_string_lossy().into_owned();
    let out = tmp.path().join("out");
    for (cert, key, needle) in [
        (&garbage, &good_key, "garbage.crt"),
        (&truncated, &good_key, "truncated.crt"),
        (&short_der, &good_key, "short.crt"),
        (&good_ca, &garbage_key, "garbage.key"),
        (&good_ca, &truncated_key, "truncated.key"),
        (&good_ca, &other_key, "does not belong"),
        (&server_crt, &server_key, "not a CA"),
    ] {
        refused(
            &out,
            &[
                "issue",
                "server",
                "--san",
                "a",
                "--ca-cert",
                cert,
                "--ca-key",
                key,
            ],
            needle,
        );
        assert!(!out.exists(), "a refused command created {}", out.display());
    }

    // A CA out of its validity, made with the library's own profile and an explicit clock:
    // expired, or not valid yet (a clock set wrong where it was made).
    let now = OffsetDateTime::now_utc();
    for (stem, start, says) in [
        ("old", now - ::time::Duration::days(400), "expired"),
        (
            "future",
            now + ::time::Duration::days(2),
            "is not valid until",
        ),
    ] {
        use otelpki::fixtures::custom::{Ca, Subject};
        let ca = Ca::new(&Subject::new(
            stem,
            start,
            start + ::time::Duration::days(30),
        ))
        .unwrap();
        let pair = ca.pair().unwrap();
        let crt = write(&format!("{stem}.crt"), &pair.cert_pem);
        let key = write(&format!("{stem}.key"), &pair.key_pem);
        let args = [
            "issue",
            "client",
            "--cn",
            "a",
            "--ca-cert",
            &crt,
            "--ca-key",
            &key,
        ];
        refused(&out, &args, says);
    }

    // A DIR that cannot be written: a path below a regular file.
    let file = tmp.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    refused(&file.join("certs"), &["init"], "plain-file");
    refused(&file, &["init"], "not a directory");
}

/// Output into a pipe whose reader has gone (`| head -1`) ends otelpki quietly, by SIGPIPE as
/// for any Unix filter, not with a panic; and the files were written whole before printing.
///
/// The child's stdout is a pipe that is already full and whose reader is closed before the
/// child starts. Other tests spawn processes at the same time, and a process forked in that
/// moment holds a copy of the reader until it execs; with an empty pipe, otelpki's few lines
/// could land in the buffer and the run would end 0 (CI saw exactly that). On a full pipe the
/// first write waits until no reader is left and then gets SIGPIPE, whatever the timing.
#[test]
fn a_closed_pipe_is_not_a_panic() {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::process::ExitStatusExt;

    #[allow(unsafe_code)]
    fn full_pipe_without_reader() -> std::io::PipeWriter {
        let (reader, mut writer) = std::io::pipe().unwrap();
        let fd = writer.as_raw_fd();
        // SAFETY: fcntl reads and sets the flags of a descriptor this function owns.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        assert!(flags >= 0);
        assert_eq!(
            unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) },
            0
        );
        let mut filled = 0usize;
        loop {
            match writer.write(&[b'x'; 4096]) {
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("filling the pipe: {e}"),
            }
        }
        assert!(filled >= 4096, "the pipe took {filled} bytes");
        assert_eq!(unsafe { libc::fcntl(fd, libc::F_SETFL, flags) }, 0);
        drop(reader); // the reader is gone before otelpki starts
        writer
    }

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("certs");
    for args in [
        vec!["init"],
        vec!["inspect", "ca.crt", "server.crt", "client.crt"],
    ] {
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("otelpki"))
            .env_remove("OTELPKI_DIR")
            .current_dir(tmp.path())
            .arg("--dir")
            .arg(&dir)
            .args(args.iter().map(|a| {
                if a.ends_with(".crt") {
                    format!("certs/{a}")
                } else {
                    a.to_string()
                }
            }))
            .stdout(full_pipe_without_reader())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGPIPE),
            "{args:?}: {:?} {stderr}",
            out.status
        );
    }
    let (ok, text) = openssl_in(
        &dir,
        &["verify", "-CAfile", "ca.crt", "server.crt", "client.crt"],
    );
    assert!(ok, "{text}");
}

/// Messages that used to mislead (issue 9) now say the true thing.
#[test]
fn messages_say_the_true_thing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let refused = |san: &str, says: &[&str]| {
        let out = otelpki(&dir)
            .args(["issue", "server", "--san", san])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{san}");
        let err = String::from_utf8_lossy(&out.stderr);
        for s in says {
            assert!(err.contains(s), "{san}: {err}");
        }
        assert!(!err.contains("()"), "{san}: {err}");
    };
    refused("dns:1.2.3.4", &["is an IP address", "ip:1.2.3.4"]);
    refused("dns:[::1]", &["is an IP address"]);
    refused("..", &["empty label"]);
    refused("a..b.", &["empty label"]);
    refused("a.b.", &["trailing dot (a.b)"]);
    assert!(!dir.exists(), "a refused command created the directory");

    // A certificate outside the PKI directory, verified against the PKI's CA: the fix signs
    // with that CA (its own directory has none), and it works.
    let pki = tmp.path().join("certs");
    otelpki(&pki).arg("init").assert().success();
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::copy(pki.join("server.crt"), elsewhere.join("server.crt")).unwrap();
    let cert = elsewhere.join("server.crt");
    let out = otelpki(&pki)
        .args([
            "verify",
            cert.to_str().unwrap(),
            "--host",
            "gw.example",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fix = doc["findings"][0]["fix"].as_str().unwrap().to_string();
    assert!(fix.contains("--ca-cert"), "{fix}");
    let words = shlex::split(&fix).unwrap();
    assert_eq!(words[0], "otelpki");
    assert_cmd::Command::new(assert_cmd::cargo::cargo_bin!("otelpki"))
        .args(&words[1..])
        .env_remove("OTELPKI_DIR")
        .assert()
        .success();
    otelpki(&pki)
        .args(["verify", cert.to_str().unwrap(), "--host", "gw.example"])
        .assert()
        .success();
}

/// `--key-type`'s help says what each key type is and which to avoid where, on every command
/// that makes a key (issue 15).
#[test]
fn key_type_help_says_what_each_type_is() {
    for cmd in [
        &["init"][..],
        &["init-ca"],
        &["issue", "server"],
        &["issue", "client"],
    ] {
        let out = otelpki(Path::new("unused"))
            .args(cmd)
            .arg("--help")
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        for line in [
            "- ecdsa-p256: ECDSA on P-256 with SHA-256: accepted by every OpenTelemetry SDK (the default)",
            "- ecdsa-p384: ECDSA on P-384 with SHA-384",
            "- ed25519:    Ed25519: not usable by the Java SDK, .NET, or gRPC-core based SDKs",
            "- rsa-2048:   RSA 2048-bit, signatures with SHA-256",
            "- rsa-3072:   RSA 3072-bit, signatures with SHA-256",
            "- rsa-4096:   RSA 4096-bit, signatures with SHA-256 (slow to generate)",
        ] {
            assert!(
                help.contains(line),
                "{cmd:?} --help lacks {line:?}:\n{help}"
            );
        }
    }
}
