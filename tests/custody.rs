//! Key custody (issue 13, docs/custody.md), judged by the programs that consume the files:
//! - `issue --csr`: CSRs made by OpenSSL and by Go's `x509.CreateCertificateRequest` are signed;
//!   `openssl verify -purpose` judges the certificates, and rustls and Go's crypto/tls complete
//!   mTLS with the CSR's own keys, which otelpki never saw. Requested extensions (CA:TRUE, a
//!   second purpose) are not granted; bad and hostile CSRs are refused with nothing written.
//! - `init-ca --encrypt-key`: OpenSSL reads our encrypted CA key, and we sign with one OpenSSL
//!   encrypted; a wrong or missing passphrase writes nothing; no passphrase ever reaches
//!   stdout or stderr (every run below checks).
//! - `export p12` / `export truststore`: `openssl pkcs12` (OpenSSL 3, no `-legacy`), Java's
//!   `KeyStore` + JSSE (an mTLS handshake with `openssl s_server` using only the two files)
//!   and Python's `cryptography` read them.
//!
//! Java is compiled once into `target/custody-cache/java` (javac from the JDK; a missing one
//! fails the test with what to install), Python's `cryptography` is installed once into a venv
//! there from the pins in `tests/custody/requirements.txt`. Every child is bounded and reaped.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::{
    S_SERVER_MTLS, Spawned, client, handshake, mtls_server, openssl, openssl_in, s_server,
};
use crate::go::{GoServer, go_client, go_program};

/// The CA passphrase and the PKCS#12 password of these tests: neither may ever be printed.
const PASS: &str = "correct horse battery staple 7f3a";
const WRONG_PASS: &str = "not the passphrase 19be";
const P12_PASS: &str = "keystore password 91c2";
const SECRETS: [&str; 3] = [PASS, WRONG_PASS, P12_PASS];

const CA_ENV: &str = "OTELPKI_CA_PASSPHRASE";
const P12_ENV: &str = "OTELPKI_P12_PASSWORD";

/// How long one child process may run.
const LIMIT: Duration = Duration::from_secs(60);

/// The four key types a CSR may hold, with the `openssl req -newkey` arguments for each.
const OPENSSL_KEYS: [(&str, &[&str]); 4] = [
    ("rsa-2048", &["-newkey", "rsa:2048"]),
    (
        "ecdsa-p256",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    ),
    (
        "ecdsa-p384",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
    ),
    ("ed25519", &["-newkey", "ed25519"]),
];

// ---------------------------------------------------------------------------------------------
// Running things

/// Runs `cmd` to the end within `LIMIT` (killed and reaped otherwise).
fn run_bounded(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out_pipe.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });
    let mut child = Spawned(child);
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "{cmd:?} ran longer than {LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `otelpki --dir DIR ARGS` with exactly the secrets in `env` (the caller's own are removed).
/// Whatever happens, no passphrase or password of these tests appears in what it printed.
fn otelpki(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("otelpki"));
    cmd.env_remove("OTELPKI_DIR")
        .env_remove(CA_ENV)
        .env_remove(P12_ENV)
        .arg("--dir")
        .arg(dir)
        .args(args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    let out = run_bounded(&mut cmd);
    let printed = text(&out);
    for secret in SECRETS {
        assert!(
            !printed.contains(secret),
            "otelpki {args:?} printed a secret:\n{printed}"
        );
    }
    out
}

fn ok(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = otelpki(dir, args, env);
    assert!(out.status.success(), "otelpki {args:?}:\n{}", text(&out));
    text(&out)
}

/// Exit 2 (usage or input error); returns stderr.
fn refused(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = otelpki(dir, args, env);
    assert_eq!(
        out.status.code(),
        Some(2),
        "otelpki {args:?} should be refused:\n{}",
        text(&out)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file in `dir` with its contents (empty if `dir` does not exist).
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(listing) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, Vec<u8>)> = listing
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// openssl in `dir` that must succeed; its output.
/// A P-256 key and a CSR for it, made by openssl in `dir` with the subject `subj` and any
/// further `openssl req` arguments (`-addext ...`).
pub(crate) fn p256_csr(dir: &Path, key: &str, csr: &str, subj: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "req",
        "-new",
        "-nodes",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-keyout",
        key,
        "-out",
        csr,
        "-subj",
        subj,
    ];
    args.extend_from_slice(extra);
    openssl_ok(dir, &args)
}

fn openssl_ok(dir: &Path, args: &[&str]) -> String {
    let (ok, out) = openssl_in(dir, args);
    assert!(ok, "openssl {args:?}: {out}");
    out
}

/// openssl in `dir` with `env` set, that must succeed.
fn openssl_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = openssl();
    cmd.current_dir(dir).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run_bounded(&mut cmd);
    (out.status.success(), text(&out))
}

/// The public key of a certificate, as `openssl x509 -pubkey` prints it.
fn cert_pubkey(dir: &Path, cert: &str) -> String {
    openssl_ok(dir, &["x509", "-in", cert, "-noout", "-pubkey"])
}

/// `openssl verify -x509_strict` of `cert` against `ca` for `purpose`: (ok, output).
fn verify(dir: &Path, ca: &str, purpose: &str, cert: &str) -> (bool, String) {
    openssl_in(
        dir,
        &[
            "verify",
            "-x509_strict",
            "-CAfile",
            ca,
            "-purpose",
            purpose,
            cert,
        ],
    )
}

fn fresh() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("certs");
    let host = tmp.path().join("host");
    fs::create_dir_all(&host).unwrap();
    (tmp, dir, host)
}

// ---------------------------------------------------------------------------------------------
// CSR signing

/// The certificates otelpki signed, copied to the host that holds the keys.
fn deliver(dir: &Path, host: &Path, names: &[&str]) {
    for name in names {
        fs::copy(dir.join(name), host.join(name)).unwrap();
    }
}

/// The CSR keys complete mTLS with the certificates otelpki signed for them: rustls in memory,
/// and Go's crypto/tls (the Collector's stack) over loopback. `host` holds ca.crt,
/// server.crt/.key and client.crt/.key, the keys as their makers wrote them.
fn judge_mtls(what: &str, host: &Path, client_cn: &str) {
    let ca = host.join("ca.crt");
    handshake(
        client(&ca, Some((host, "client"))),
        mtls_server(host, "server", &ca),
        "localhost",
    )
    .unwrap_or_else(|e| panic!("{what}: rustls mTLS with the CSR keys: {e:?}"));

    let server = GoServer::start(&ca, &host.join("server.crt"), &host.join("server.key"));
    let pair = (&*host.join("client.crt"), &*host.join("client.key"));
    for name in ["localhost", "127.0.0.1"] {
        let got = go_client(&server.addr(), name, &ca, Some(pair));
        assert_eq!(got, "ok", "{what}: Go client for {name}");
        assert_eq!(
            server.verdict(),
            format!("ok {client_cn}"),
            "{what}: Go server"
        );
    }
}

/// Signs host/server.csr and host/client.csr, checks that only the .crt files were written,
/// and that OpenSSL accepts each for its purpose with the CSR's own key in it.
fn sign_and_verify(what: &str, dir: &Path, host: &Path) {
    let out = ok(
        dir,
        &[
            "issue",
            "server",
            "--csr",
            host.join("server.csr").to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.contains("stays on the host"), "{what}: {out}");
    ok(
        dir,
        &[
            "issue",
            "client",
            "--csr",
            host.join("client.csr").to_str().unwrap(),
        ],
        &[],
    );
    for key in ["server.key", "client.key"] {
        assert!(!dir.join(key).exists(), "{what}: otelpki wrote {key}");
    }
    deliver(dir, host, &["ca.crt", "server.crt", "client.crt"]);
    for (cert, purpose, key) in [
        ("server.crt", "sslserver", "server.key"),
        ("client.crt", "sslclient", "client.key"),
    ] {
        let (good, out) = verify(host, "ca.crt", purpose, cert);
        assert!(good, "{what}: {cert} as {purpose}: {out}");
        assert_eq!(
            cert_pubkey(host, cert),
            openssl_ok(host, &["pkey", "-in", key, "-pubout"]),
            "{what}: {cert} does not hold the CSR's key"
        );
    }
}

#[test]
fn openssl_csrs_of_every_key_type_are_signed_and_work_with_their_own_keys() {
    for (kt, newkey) in OPENSSL_KEYS {
        let (_tmp, dir, host) = fresh();
        ok(&dir, &["init-ca"], &[]);
        let client_cn = format!("openssl-{kt}");
        for (name, subject, sans) in [
            ("server", "/CN=localhost", "DNS:localhost,IP:127.0.0.1"),
            ("client", &*format!("/CN={client_cn}"), ""),
        ] {
            let mut args = vec!["req", "-new", "-nodes"];
            args.extend_from_slice(newkey);
            let keyout = format!("{name}.key");
            let csr = format!("{name}.csr");
            args.extend(["-keyout", &keyout, "-out", &csr, "-subj", subject]);
            let san_ext = format!("subjectAltName={sans}");
            if !sans.is_empty() {
                args.extend(["-addext", &san_ext]);
            }
            openssl_ok(&host, &args);
        }
        sign_and_verify(kt, &dir, &host);
        judge_mtls(&format!("openssl {kt}"), &host, &client_cn);
    }
}

#[test]
fn go_csrs_of_every_key_type_are_signed_and_work_with_their_own_keys() {
    let csrgen = go_program("csrgen");
    for (kt, _) in OPENSSL_KEYS {
        let (_tmp, dir, host) = fresh();
        ok(&dir, &["init-ca"], &[]);
        let client_cn = format!("go-{kt}");
        for (name, cn, sans) in [
            ("server", "localhost", &["localhost", "127.0.0.1"][..]),
            ("client", &*client_cn, &[][..]),
        ] {
            let out = run_bounded(
                Command::new(&csrgen)
                    .arg(kt)
                    .arg(cn)
                    .arg(host.join(format!("{name}.key")))
                    .arg(host.join(format!("{name}.csr")))
                    .args(sans),
            );
            assert!(out.status.success(), "csrgen {kt}: {}", text(&out));
        }
        sign_and_verify(&format!("Go {kt}"), &dir, &host);
        judge_mtls(&format!("Go {kt}"), &host, &client_cn);
    }
}

#[test]
fn a_csr_gets_our_profile_never_the_extensions_it_asks_for() {
    let (_tmp, dir, host) = fresh();
    ok(&dir, &["init-ca"], &[]);
    // A client CSR that asks to be a CA and a server; a server CSR that asks for clientAuth.
    p256_csr(
        &host,
        "greedy.key",
        "greedy.csr",
        "/CN=greedy",
        &[
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
            "-addext",
            "extendedKeyUsage=serverAuth,clientAuth",
        ],
    );
    let csr = host.join("greedy.csr");
    let out = ok(
        &dir,
        &[
            "issue",
            "client",
            "--csr",
            csr.to_str().unwrap(),
            "--name",
            "greedy",
        ],
        &[],
    );
    assert!(
        out.contains("CA:TRUE") && out.contains("serverAuth") && out.contains("ignores"),
        "the user is told what was not granted: {out}"
    );
    deliver(&dir, &host, &["ca.crt", "greedy.crt"]);
    let exts = openssl_ok(
        &host,
        &[
            "x509",
            "-in",
            "greedy.crt",
            "-noout",
            "-ext",
            "basicConstraints,keyUsage,extendedKeyUsage",
        ],
    );
    assert!(exts.contains("CA:FALSE"), "{exts}");
    assert!(exts.contains("TLS Web Client Authentication"), "{exts}");
    assert!(!exts.contains("Server Authentication"), "{exts}");
    assert!(!exts.contains("Certificate Sign"), "{exts}");
    let (good, out) = verify(&host, "ca.crt", "sslclient", "greedy.crt");
    assert!(good, "{out}");
    let (good, out) = verify(&host, "ca.crt", "sslserver", "greedy.crt");
    assert!(
        !good && out.contains("unsuitable certificate purpose"),
        "{out}"
    );
    // It cannot act as a CA: a certificate it signs does not verify.
    p256_csr(&host, "victim.key", "victim.csr", "/CN=victim", &[]);
    openssl_ok(
        &host,
        &[
            "x509",
            "-req",
            "-in",
            "victim.csr",
            "-CA",
            "greedy.crt",
            "-CAkey",
            "greedy.key",
            "-out",
            "victim.crt",
            "-days",
            "1",
        ],
    );
    let (good, out) = openssl_in(
        &host,
        &[
            "verify",
            "-CAfile",
            "ca.crt",
            "-untrusted",
            "greedy.crt",
            "victim.crt",
        ],
    );
    assert!(!good && out.contains("invalid CA certificate"), "{out}");

    // A server CSR asking for clientAuth too gets serverAuth only; flags override its names.
    p256_csr(
        &host,
        "srv.key",
        "srv.csr",
        "/CN=from-csr",
        &[
            "-addext",
            "subjectAltName=DNS:from-csr.example",
            "-addext",
            "extendedKeyUsage=serverAuth,clientAuth",
        ],
    );
    let csr = host.join("srv.csr");
    ok(
        &dir,
        &[
            "issue",
            "server",
            "--csr",
            csr.to_str().unwrap(),
            "--name",
            "srv",
            "--san",
            "otel-collector.example",
            "--cn",
            "otel-collector.example",
        ],
        &[],
    );
    deliver(&dir, &host, &["srv.crt"]);
    let exts = openssl_ok(
        &host,
        &[
            "x509",
            "-in",
            "srv.crt",
            "-noout",
            "-subject",
            "-ext",
            "subjectAltName,extendedKeyUsage",
        ],
    );
    assert!(exts.contains("DNS:otel-collector.example"), "{exts}");
    assert!(
        !exts.contains("from-csr"),
        "flags override the CSR's names: {exts}"
    );
    let (good, out) = verify(&host, "ca.crt", "sslclient", "srv.crt");
    assert!(
        !good && out.contains("unsuitable certificate purpose"),
        "{out}"
    );
    let (good, out) = verify(&host, "ca.crt", "sslserver", "srv.crt");
    assert!(good, "{out}");
}

#[test]
fn bad_csrs_are_refused_and_nothing_is_written() {
    let (_tmp, dir, host) = fresh();
    ok(&dir, &["init-ca"], &[]);
    let before = snapshot(&dir);
    let make = |name: &str, newkey: &[&str], extra: &[&str]| {
        let mut args = vec!["req", "-new", "-nodes"];
        args.extend_from_slice(newkey);
        let keyout = format!("{name}.key");
        let out = format!("{name}.csr");
        args.extend(["-keyout", &keyout, "-out", &out, "-subj", "/CN=app"]);
        args.extend_from_slice(extra);
        openssl_ok(&host, &args);
        host.join(out)
    };
    let p256 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
    let good = make("good", &p256, &[]);

    // The same CSR with one byte of its subject changed: its signature no longer verifies.
    let pem_text = fs::read(&good).unwrap();
    let mut der = pem::parse(&pem_text).unwrap().into_contents();
    let at = der
        .windows(3)
        .position(|w| w == b"app")
        .expect("the CN in the DER");
    der[at + 2] = b'q';
    let altered = host.join("altered.csr");
    fs::write(
        &altered,
        pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", der)),
    )
    .unwrap();

    let big = host.join("big.csr");
    fs::write(&big, vec![b'A'; 2 * 1024 * 1024]).unwrap();
    let garbage = host.join("garbage.csr");
    fs::write(
        &garbage,
        b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
    )
    .unwrap();

    let cases: Vec<(PathBuf, &str)> = vec![
        (altered, "signature does not verify"),
        (dir.join("ca.crt"), "holds no certificate signing request"),
        (garbage, "not a valid certificate signing request"),
        (
            make(
                "p521",
                &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-521"],
                &[],
            ),
            "its key is an EC key of 521 bits, and otelpki issues only for",
        ),
        (
            make("rsa1024", &["-newkey", "rsa:1024"], &[]),
            "RSA 1024-bit",
        ),
        (make("sha1", &["-newkey", "rsa:2048"], &["-sha1"]), "SHA-1"),
        (big, "bytes"),
        (host.clone(), "directory"),
        (host.join("missing.csr"), "cannot read"),
    ];
    for (csr, reason) in cases {
        let stderr = refused(
            &dir,
            &[
                "issue",
                "client",
                "--csr",
                csr.to_str().unwrap(),
                "--name",
                "app",
            ],
            &[],
        );
        assert!(stderr.contains(reason), "{}: {stderr}", csr.display());
        assert_eq!(
            snapshot(&dir),
            before,
            "{}: something was written",
            csr.display()
        );
    }
    // A server certificate needs names: a CSR without SANs and no --san.
    let stderr = refused(
        &dir,
        &["issue", "server", "--csr", good.to_str().unwrap()],
        &[],
    );
    assert!(stderr.contains("--san"), "{stderr}");
    // --key-type makes no sense with a CSR (the key is the CSR's).
    refused(
        &dir,
        &[
            "issue",
            "client",
            "--csr",
            good.to_str().unwrap(),
            "--key-type",
            "rsa-2048",
        ],
        &[],
    );
    // A key beside NAME.crt that is not the CSR's would make a broken pair.
    fs::copy(host.join("p521.key"), dir.join("app.key")).unwrap();
    let stderr = refused(
        &dir,
        &[
            "issue",
            "client",
            "--csr",
            good.to_str().unwrap(),
            "--name",
            "app",
        ],
        &[],
    );
    assert!(stderr.contains("does not hold the CSR's key"), "{stderr}");
    assert!(!dir.join("app.crt").exists());
}

/// A CSR made with rcgen with the given CN and DNS names (rcgen writes whatever it is given).
fn rcgen_csr(path: &Path, cn: &str, dns: &[&str]) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(dns.iter().map(|d| d.to_string()).collect::<Vec<_>>())
            .unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    fs::write(path, params.serialize_request(&key).unwrap().pem().unwrap()).unwrap();
}

#[test]
fn hostile_csr_subjects_are_refused_and_shown_escaped() {
    let (_tmp, dir, host) = fresh();
    ok(&dir, &["init-ca"], &[]);
    let before = snapshot(&dir);
    let long = "a".repeat(65);
    let cases = [
        (
            "newline",
            "app\nCN=admin",
            &["app.example"][..],
            "app\\nCN=admin",
        ),
        (
            "escape",
            "app\u{1b}[2J",
            &["app.example"][..],
            "app\\u{1b}[2J",
        ),
        ("long", &*long, &["app.example"][..], "longer than 64"),
        ("san", "app", &["bad\u{7}.example"][..], "bad\\u{7}.example"),
    ];
    for (name, cn, dns, shown) in cases {
        let csr = host.join(format!("{name}.csr"));
        rcgen_csr(&csr, cn, dns);
        for role in ["client", "server"] {
            let stderr = refused(
                &dir,
                &[
                    "issue",
                    role,
                    "--csr",
                    csr.to_str().unwrap(),
                    "--name",
                    "app",
                ],
                &[],
            );
            assert!(stderr.contains(shown), "{name} ({role}): {stderr}");
            assert!(
                !stderr.chars().any(|c| c.is_control() && c != '\n')
                    && !stderr.contains("\nCN=admin"),
                "{name}: a control character reached the terminal: {stderr:?}"
            );
            assert_eq!(snapshot(&dir), before, "{name}: something was written");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The encrypted CA key

/// Environment variables for one run.
type Env<'a> = Vec<(&'a str, &'a str)>;

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn encrypted_ca(dir: &Path) {
    let said = ok(dir, &["init-ca", "--encrypt-key"], &[(CA_ENV, PASS)]);
    // it says where the passphrase came from
    assert!(
        said.contains(&format!("with the passphrase from {CA_ENV};")),
        "{said}"
    );
}

#[test]
fn the_encrypted_ca_key_is_read_by_openssl_and_signs_with_either_source() {
    let (_tmp, dir, host) = fresh();
    encrypted_ca(&dir);
    let key_path = dir.join("ca.key");
    let key = fs::read_to_string(&key_path).unwrap();
    assert!(
        key.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"),
        "{key}"
    );
    assert_eq!(
        fs::metadata(&key_path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // OpenSSL reads it with the passphrase, and it is the key of ca.crt.
    let (good, public) = openssl_env(
        &dir,
        &[
            "pkey",
            "-in",
            "ca.key",
            "-passin",
            "env:OTELPKI_CA_PASSPHRASE",
            "-pubout",
        ],
        &[(CA_ENV, PASS)],
    );
    assert!(good, "{public}");
    assert_eq!(public, cert_pubkey(&dir, "ca.crt"));
    let (good, out) = openssl_env(
        &dir,
        &[
            "pkey",
            "-in",
            "ca.key",
            "-passin",
            "env:OTELPKI_CA_PASSPHRASE",
            "-noout",
        ],
        &[(CA_ENV, WRONG_PASS)],
    );
    assert!(!good, "openssl decrypted it with a wrong passphrase: {out}");
    // PBES2 with PBKDF2-HMAC-SHA256 (600,000 = 0x927C0 rounds) and AES-256-CBC.
    let layout = openssl_ok(&dir, &["asn1parse", "-in", "ca.key"]);
    for part in [
        "PBES2",
        "PBKDF2",
        "hmacWithSHA256",
        "aes-256-cbc",
        ":0927C0",
    ] {
        assert!(layout.contains(part), "{part} missing:\n{layout}");
    }

    // Signing with the passphrase from the environment, and from a file (newline ignored).
    ok(
        &dir,
        &["issue", "server", "--san", "localhost"],
        &[(CA_ENV, PASS)],
    );
    let pass_file = host.join("ca.pass");
    fs::write(&pass_file, format!("{PASS}\n")).unwrap();
    let file_arg = pass_file.to_str().unwrap();
    // a CA encrypted with the passphrase from a file says so, naming the file
    let said = ok(
        &host.join("from-file"),
        &["init-ca", "--encrypt-key", "--passphrase-file", file_arg],
        &[],
    );
    assert!(
        said.contains(&format!(
            "with the passphrase from --passphrase-file {file_arg};"
        )),
        "{said}"
    );
    ok(
        &dir,
        &[
            "issue",
            "client",
            "--cn",
            "my-application",
            "--passphrase-file",
            file_arg,
        ],
        &[],
    );
    for (cert, purpose) in [("server.crt", "sslserver"), ("client.crt", "sslclient")] {
        let (good, out) = verify(&dir, "ca.crt", purpose, cert);
        assert!(good, "{cert}: {out}");
    }
    handshake(
        client(&dir.join("ca.crt"), Some((&dir, "client"))),
        mtls_server(&dir, "server", &dir.join("ca.crt")),
        "localhost",
    )
    .expect("mTLS with leaves signed by the encrypted CA key");
    // The leaf keys are plain PKCS#8: the SDKs cannot read encrypted ones.
    for key in ["server.key", "client.key"] {
        let leaf = fs::read_to_string(dir.join(key)).unwrap();
        assert!(leaf.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
    }
}

#[test]
fn a_wrong_or_missing_passphrase_is_refused_and_nothing_is_written() {
    let (_tmp, dir, host) = fresh();
    encrypted_ca(&dir);
    let before = snapshot(&dir);
    let wrong_file = host.join("wrong.pass");
    fs::write(&wrong_file, WRONG_PASS).unwrap();
    let empty_file = host.join("empty.pass");
    fs::write(&empty_file, "\n").unwrap();
    let spec = host.join("otelpki.toml");
    fs::write(&spec, "[[client]]\ncn = \"app\"\n").unwrap();
    let issue = ["issue", "server", "--san", "localhost"];
    let with_file = |file: &Path| -> Vec<String> {
        let mut args: Vec<String> = issue.iter().map(|s| s.to_string()).collect();
        args.extend(["--passphrase-file".into(), file.to_str().unwrap().into()]);
        args
    };
    let wrong_args = with_file(&wrong_file);
    let empty_args = with_file(&empty_file);
    let spec_arg = spec.to_str().unwrap();
    let cases: Vec<(Vec<&str>, Env, Vec<&str>)> = vec![
        (issue.to_vec(), vec![], vec![CA_ENV, "--passphrase-file"]),
        (
            issue.to_vec(),
            vec![(CA_ENV, WRONG_PASS)],
            vec![CA_ENV, "wrong passphrase"],
        ),
        (issue.to_vec(), vec![(CA_ENV, "")], vec![CA_ENV, "empty"]),
        (
            strs(&wrong_args),
            vec![(CA_ENV, PASS)],
            vec!["wrong.pass", "wrong passphrase"],
        ),
        (strs(&empty_args), vec![], vec!["empty.pass", "empty"]),
        (
            vec!["apply", spec_arg],
            vec![],
            vec![CA_ENV, "--passphrase-file"],
        ),
        (
            vec!["apply", spec_arg],
            vec![(CA_ENV, WRONG_PASS)],
            vec!["wrong passphrase"],
        ),
    ];
    for (args, env, says) in cases {
        let stderr = refused(&dir, &args, &env);
        for word in says {
            assert!(stderr.contains(word), "{args:?}: {stderr}");
        }
        assert_eq!(snapshot(&dir), before, "{args:?} wrote something");
    }
    // The passphrase is never a flag value (process arguments are public).
    refused(
        &dir,
        &[
            "issue",
            "server",
            "--san",
            "localhost",
            "--passphrase",
            PASS,
        ],
        &[],
    );
    // --encrypt-key without a passphrase makes nothing, not even the directory.
    let other = host.join("other");
    let stderr = refused(&other, &["init-ca", "--encrypt-key"], &[]);
    assert!(stderr.contains(CA_ENV), "{stderr}");
    assert!(!other.exists());
}

#[test]
fn otelpki_signs_with_a_ca_key_openssl_encrypted() {
    let cases: [(&str, &[&str], &[&str]); 3] = [
        (
            "ecdsa-p256",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            &["-v2", "aes-256-cbc"],
        ),
        (
            "rsa-2048",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            &["-v2", "aes-256-cbc"],
        ),
        ("ed25519", &["-algorithm", "ED25519"], &["-scrypt"]),
    ];
    for (kt, genpkey, pbe) in cases {
        let (_tmp, dir, host) = fresh();
        let env = [(CA_ENV, PASS)];
        openssl_ok(
            &host,
            &[&["genpkey"][..], genpkey, &["-out", "plain.key"]].concat(),
        );
        let (good, out) = openssl_env(
            &host,
            &[
                &["pkcs8", "-topk8", "-in", "plain.key", "-out", "org-ca.key"][..],
                pbe,
                &["-passout", "env:OTELPKI_CA_PASSPHRASE"],
            ]
            .concat(),
            &env,
        );
        assert!(good, "{kt}: {out}");
        fs::remove_file(host.join("plain.key")).unwrap();
        let (good, out) = openssl_env(
            &host,
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                "org-ca.key",
                "-passin",
                "env:OTELPKI_CA_PASSPHRASE",
                "-subj",
                "/CN=Org Intermediate",
                "-days",
                "30",
                "-addext",
                "basicConstraints=critical,CA:TRUE,pathlen:0",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
                "-out",
                "org-ca.crt",
            ],
            &env,
        );
        assert!(good, "{kt}: {out}");
        let ca_args = [
            "--ca-cert",
            host.join("org-ca.crt").to_str().unwrap().to_string().leak(),
            "--ca-key",
            host.join("org-ca.key").to_str().unwrap().to_string().leak(),
        ];
        let args = [&["issue", "server", "--san", "localhost"][..], &ca_args].concat();
        let stderr = refused(&dir, &args, &[]);
        assert!(stderr.contains(CA_ENV), "{kt}: {stderr}");
        assert!(
            snapshot(&dir).is_empty(),
            "{kt}: written without the passphrase"
        );
        ok(&dir, &args, &env);
        deliver(&dir, &host, &["server.crt"]);
        let (good, out) = verify(&host, "org-ca.crt", "sslserver", "server.crt");
        assert!(good, "{kt}: {out}");
    }
}

#[test]
fn apply_keeps_an_encrypted_ca_key_encrypted() {
    let (_tmp, dir, host) = fresh();
    encrypted_ca(&dir);
    let spec = host.join("otelpki.toml");
    fs::write(
        &spec,
        "[ca]\ncn = \"Renamed CA\"\n[[client]]\ncn = \"app\"\n",
    )
    .unwrap();
    let out = ok(&dir, &["apply", spec.to_str().unwrap()], &[(CA_ENV, PASS)]);
    assert!(
        out.contains("renewed") && out.contains("CN changed"),
        "{out}"
    );
    let key = fs::read_to_string(dir.join("ca.key")).unwrap();
    assert!(
        key.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "{key}"
    );
    let (good, public) = openssl_env(
        &dir,
        &[
            "pkey",
            "-in",
            "ca.key",
            "-passin",
            "env:OTELPKI_CA_PASSPHRASE",
            "-pubout",
        ],
        &[(CA_ENV, PASS)],
    );
    assert!(good, "{public}");
    assert_eq!(public, cert_pubkey(&dir, "ca.crt"));
    let (good, out) = verify(&dir, "ca.crt", "sslclient", "app.crt");
    assert!(good, "{out}");
}

#[test]
fn check_reports_an_encrypted_ca_key_without_its_passphrase() {
    let (_tmp, dir, _host) = fresh();
    encrypted_ca(&dir);
    let env = [(CA_ENV, PASS)];
    ok(&dir, &["issue", "server", "--san", "localhost"], &env);
    ok(&dir, &["issue", "client", "--cn", "my-application"], &env);
    let out = ok(&dir, &["check"], &[]);
    assert!(out.contains("encrypted CA key"), "{out}");
    let out = ok(&dir, &["check", "--json"], &[]);
    let json: serde_json::Value = serde_json::from_str(&out).expect("check --json");
    assert_eq!(json["ca_key"], "encrypted", "{out}");
    assert_eq!(json["ok"], true, "{out}");
    // cert-manager cannot read an encrypted key from its Secret: refused, not rendered.
    let stderr = refused(&dir, &["config", "cert-manager"], &[]);
    assert!(stderr.contains("encrypted"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// PKCS#12

/// `otelpki init`, then client.p12 and truststore.p12 with the password from the environment.
fn exported() -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir, _host) = fresh();
    ok(&dir, &["init"], &[]);
    let env = [(P12_ENV, P12_PASS)];
    ok(&dir, &["export", "p12", "--name", "client"], &env);
    ok(&dir, &["export", "truststore"], &env);
    (tmp, dir)
}

fn pkcs12_info(dir: &Path, file: &str, which: &str) -> String {
    let (good, out) = openssl_env(
        dir,
        &[
            "pkcs12",
            "-info",
            "-in",
            file,
            which,
            "-nodes",
            "-passin",
            "env:OTELPKI_P12_PASSWORD",
        ],
        &[(P12_ENV, P12_PASS)],
    );
    assert!(
        good,
        "openssl pkcs12 (no -legacy) could not read {file}: {out}"
    );
    out
}

#[test]
fn keystore_and_truststore_are_read_by_openssl_3_without_legacy() {
    let (_tmp, dir) = exported();
    let p12 = dir.join("client.p12");
    assert_eq!(
        fs::metadata(&p12).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let certs = pkcs12_info(&dir, "client.p12", "-nokeys");
    for part in [
        "MAC: sha256",
        "PBES2, PBKDF2, AES-256-CBC",
        "PRF hmacWithSHA256",
    ] {
        assert!(certs.contains(part), "{part}: {certs}");
    }
    assert_eq!(
        certs.matches("-----BEGIN CERTIFICATE-----").count(),
        2,
        "{certs}"
    );
    assert!(certs.contains("subject=CN = my-application"), "{certs}");
    assert!(certs.contains("subject=CN = OTel CA"), "{certs}");
    let keys = pkcs12_info(&dir, "client.p12", "-nocerts");
    assert!(keys.contains("friendlyName: client"), "{keys}");
    // The key in the keystore is client.key.
    let start = keys.find("-----BEGIN PRIVATE KEY-----").expect("a key");
    let end = keys.find("-----END PRIVATE KEY-----").expect("a key") + 25;
    fs::write(dir.join("from-p12.key"), &keys[start..end]).unwrap();
    assert_eq!(
        openssl_ok(&dir, &["pkey", "-in", "from-p12.key", "-pubout"]),
        openssl_ok(&dir, &["pkey", "-in", "client.key", "-pubout"])
    );

    let trust = pkcs12_info(&dir, "truststore.p12", "-nokeys");
    assert_eq!(
        trust.matches("-----BEGIN CERTIFICATE-----").count(),
        1,
        "{trust}"
    );
    // Oracle's trusted-key-usage attribute: what makes Java see a trustedCertEntry.
    assert!(trust.contains("2.16.840.1.113894.746875.1.1"), "{trust}");

    // A wrong password fails the MAC check.
    let (good, out) = openssl_env(
        &dir,
        &[
            "pkcs12",
            "-info",
            "-in",
            "client.p12",
            "-nokeys",
            "-passin",
            "pass:wrong",
        ],
        &[],
    );
    assert!(!good, "{out}");
}

#[test]
fn pkcs12_passwords_come_from_the_environment_a_file_or_an_explicit_empty_flag() {
    let (_tmp, dir, host) = fresh();
    ok(&dir, &["init"], &[]);
    let before = snapshot(&dir);
    let stderr = refused(&dir, &["export", "p12", "--name", "client"], &[]);
    assert!(
        stderr.contains(P12_ENV) && stderr.contains("--password-file"),
        "{stderr}"
    );
    let stderr = refused(&dir, &["export", "truststore"], &[(P12_ENV, "")]);
    assert!(stderr.contains("--empty-password"), "{stderr}");
    assert_eq!(snapshot(&dir), before);

    let file = host.join("p12.pass");
    fs::write(&file, format!("{P12_PASS}\n")).unwrap();
    let file_arg = file.to_str().unwrap();
    ok(
        &dir,
        &[
            "export",
            "p12",
            "--name",
            "client",
            "--password-file",
            file_arg,
        ],
        &[],
    );
    pkcs12_info(&dir, "client.p12", "-nokeys");
    // Not replaced without --force.
    let stderr = refused(
        &dir,
        &[
            "export",
            "p12",
            "--name",
            "client",
            "--password-file",
            file_arg,
        ],
        &[],
    );
    assert!(stderr.contains("--force"), "{stderr}");

    ok(&dir, &["export", "truststore", "--empty-password"], &[]);
    let (good, out) = openssl_in(
        &dir,
        &[
            "pkcs12",
            "-info",
            "-in",
            "truststore.p12",
            "-nokeys",
            "-passin",
            "pass:",
        ],
    );
    assert!(good, "{out}");

    // A certificate signed from a CSR has no key here: no keystore, and a pointer to where.
    p256_csr(&host, "app.key", "app.csr", "/CN=app", &[]);
    let csr = host.join("app.csr");
    ok(
        &dir,
        &[
            "issue",
            "client",
            "--csr",
            csr.to_str().unwrap(),
            "--name",
            "app",
        ],
        &[],
    );
    let stderr = refused(
        &dir,
        &["export", "p12", "--name", "app"],
        &[(P12_ENV, P12_PASS)],
    );
    assert!(stderr.contains("CSR"), "{stderr}");
}

/// `target/custody-cache/java`: P12Client.class, compiled once per test process (and again
/// only when the source changes).
fn java_classes() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        for tool in ["javac", "java"] {
            let found = Command::new(tool).arg("-version").output();
            assert!(
                found.is_ok_and(|o| o.status.success()),
                "{tool} (a JDK, 11 or newer) is required by this test: install it \
                 (apt-get install default-jdk-headless)"
            );
        }
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/java/P12Client.java");
        let code = fs::read_to_string(&source).unwrap();
        let classes = cache_dir().join("java");
        let stamp = classes.join("stamp.txt");
        if fs::read_to_string(&stamp).is_ok_and(|s| s == code) {
            return classes;
        }
        // Compiled aside, then renamed into place: test processes may compile at once.
        let partial = cache_dir().join(format!("java.{}.partial", std::process::id()));
        let _ = fs::remove_dir_all(&partial);
        fs::create_dir_all(&partial).unwrap();
        let out = run_bounded(Command::new("javac").arg("-d").arg(&partial).arg(&source));
        assert!(out.status.success(), "javac: {}", text(&out));
        fs::write(partial.join("stamp.txt"), &code).unwrap();
        let _ = fs::remove_dir_all(&classes);
        if fs::rename(&partial, &classes).is_err() {
            let _ = fs::remove_dir_all(&partial);
        }
        classes
    })
}

fn cache_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is target/tmp")
        .join("custody-cache");
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Java's KeyStore + JSSE, given only DIR/KEYSTORE and DIR/truststore.p12, against
/// `openssl s_server` with the Collector's mTLS settings (DIR's server.crt, client CA ca.crt).
/// Returns (Java's output, the server's output).
fn java_mtls(dir: &Path, keystore: &str, truststore: &Path) -> (Output, String) {
    let (_server, port, lines) = s_server(dir, S_SERVER_MTLS);
    let out = run_bounded(
        Command::new("java")
            .arg("-cp")
            .arg(java_classes())
            .arg("P12Client")
            .arg(dir.join(keystore))
            .arg(truststore)
            .args(["localhost", &port.to_string()])
            .env(P12_ENV, P12_PASS),
    );
    let mut server = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) => {
                server.push_str(&line);
                server.push('\n');
                if line.contains("hello from java") || line.contains("accepts that finished") {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    (out, server)
}

#[test]
fn java_loads_the_keystore_and_truststore_and_completes_mtls_with_only_them() {
    let (_tmp, dir) = exported();
    let (out, server) = java_mtls(&dir, "client.p12", &dir.join("truststore.p12"));
    let said = text(&out);
    assert!(out.status.success(), "Java: {said}\nserver: {server}");
    assert!(
        said.contains("key-entry client chain=2 CN=my-application"),
        "{said}"
    );
    assert!(said.contains("trusted-entry ca CN=OTel CA"), "{said}");
    assert!(said.contains("handshake TLSv1.3 CN=localhost"), "{said}");
    assert!(
        server.contains("CN = my-application") && server.contains("hello from java"),
        "the server did not accept Java's client certificate: {server}"
    );

    // With another PKI's truststore (a CA of the same name, another key), Java refuses the
    // server: the truststore is what it trusts.
    let other = dir.parent().unwrap().join("other");
    ok(&other, &["init"], &[]);
    ok(&other, &["export", "truststore"], &[(P12_ENV, P12_PASS)]);
    let (out, server) = java_mtls(&dir, "client.p12", &other.join("truststore.p12"));
    let said = text(&out);
    assert!(
        !out.status.success() && said.contains("SSLHandshakeException: PKIX path"),
        "Java: {said}\nserver: {server}"
    );
}

/// The venv's python with the pinned `cryptography`, installed once (flock + stamp).
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let requirements =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/custody/requirements.txt");
        let pins = fs::read_to_string(&requirements).unwrap();
        let cache = cache_dir();
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(cache.join("venv.lock"))
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(1200);
        loop {
            use rustix::fs::{FlockOperation, flock};
            match flock(&lock, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => break,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(e) => panic!("could not lock the custody venv: {e}"),
            }
        }
        let venv = cache.join("venv");
        let python = venv.join("bin").join("python");
        let stamp = venv.join("otelpki-installed.txt");
        if fs::read_to_string(&stamp).is_ok_and(|s| s == pins) && python.exists() {
            return python;
        }
        let _ = fs::remove_dir_all(&venv);
        let made = run_bounded(Command::new("python3").args(["-m", "venv"]).arg(&venv));
        assert!(
            made.status.success(),
            "python3 -m venv failed (install python3 and python3-venv): {}",
            text(&made)
        );
        let mut pip = Command::new(&python);
        pip.args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
        ])
        .args(["--quiet", "--only-binary", ":all:", "--requirement"])
        .arg(&requirements);
        let installed = run_pip(&mut pip);
        assert!(
            installed.status.success(),
            "pip install -r tests/custody/requirements.txt (PyPI must be reachable for the \
             first run): {}",
            text(&installed)
        );
        fs::write(&stamp, pins).unwrap();
        python
    })
}

/// pip may take longer than one ordinary child: up to ten minutes.
fn run_pip(cmd: &mut Command) -> Output {
    let mut child = Spawned(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pip"),
    );
    let mut err_pipe = child.0.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + Duration::from_secs(600);
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "pip install took over 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    Output {
        status,
        stdout: Vec::new(),
        stderr: reader.join().expect("stderr reader"),
    }
}

/// Loads the keystore and the truststore with `cryptography`'s PKCS#12 reader.
const LOAD_P12: &str = r#"
import os, sys
from cryptography.hazmat.primitives.serialization import pkcs12, Encoding
password = os.environ["OTELPKI_P12_PASSWORD"].encode()
key, cert, extra = pkcs12.load_key_and_certificates(open(sys.argv[1], "rb").read(), password)
from cryptography.hazmat.primitives.asymmetric import ec
print("key", "ec" if isinstance(key, ec.EllipticCurvePrivateKey) else type(key).__name__)
print("cert", cert.public_bytes(Encoding.DER).hex())
print("chain", len(extra), extra[0].subject.rfc4514_string())
store = pkcs12.load_pkcs12(open(sys.argv[2], "rb").read(), password)
for c in store.additional_certs:
    print("trusted", c.friendly_name.decode(), c.certificate.subject.rfc4514_string())
"#;

#[test]
fn python_cryptography_loads_the_keystore_and_truststore() {
    let (_tmp, dir) = exported();
    let out = run_bounded(
        Command::new(python())
            .args(["-c", LOAD_P12])
            .arg(dir.join("client.p12"))
            .arg(dir.join("truststore.p12"))
            .env(P12_ENV, P12_PASS),
    );
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    let cert_der = pem::parse(fs::read(dir.join("client.crt")).unwrap())
        .unwrap()
        .into_contents();
    let hex: String = cert_der.iter().map(|b| format!("{b:02x}")).collect();
    assert!(said.contains("key ec\n"), "{said}");
    assert!(
        said.contains(&format!("cert {hex}")),
        "not client.crt: {said}"
    );
    assert!(said.contains("chain 1 CN=OTel CA"), "{said}");
    assert!(said.contains("trusted ca CN=OTel CA"), "{said}");
}

/// CSRs as other tools hand them over: DER (`openssl req -outform DER`), PEM under the old
/// `NEW CERTIFICATE REQUEST` label (Netscape's, still written by some Java tools), and a PEM
/// file that holds the key before the request (`cat app.key app.csr`). Each is signed with
/// the CSR's own key, and OpenSSL verifies the certificate as a client certificate. The
/// request's basicConstraints CA:FALSE is noted as ignored, and never called CA:TRUE.
#[test]
fn der_old_label_and_bundled_csrs_are_signed() {
    let (_tmp, dir, host) = fresh();
    ok(&dir, &["init-ca"], &[]);
    openssl_ok(
        &host,
        &[
            "req",
            "-new",
            "-nodes",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-keyout",
            "app.key",
            "-outform",
            "DER",
            "-out",
            "app.der",
            "-subj",
            "/CN=app",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ],
    );
    let pem_csr = openssl_ok(&host, &["req", "-inform", "DER", "-in", "app.der"]);
    assert!(
        pem_csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
        "{pem_csr}"
    );
    fs::write(
        host.join("old.csr"),
        pem_csr.replace("CERTIFICATE REQUEST-----", "NEW CERTIFICATE REQUEST-----"),
    )
    .unwrap();
    let key_pem = fs::read_to_string(host.join("app.key")).unwrap();
    fs::write(host.join("bundled.csr"), format!("{key_pem}{pem_csr}")).unwrap();
    let key_pub = openssl_ok(&host, &["pkey", "-in", "app.key", "-pubout"]);
    for csr in ["app.der", "old.csr", "bundled.csr"] {
        let name = csr.replace('.', "-");
        let path = host.join(csr);
        let out = ok(
            &dir,
            &[
                "issue",
                "client",
                "--csr",
                path.to_str().unwrap(),
                "--name",
                &name,
            ],
            &[],
        );
        // CA:FALSE is not a request to be a CA: named as the extension it is, and ignored
        assert!(
            out.contains(
                "note: the CSR asks for basicConstraints (2.5.29.19); otelpki ignores requested \
                 extensions and issues its client profile"
            ) && !out.contains("CA:TRUE"),
            "{csr}: {out}"
        );
        let crt = format!("{name}.crt");
        deliver(&dir, &host, &["ca.crt", &crt]);
        let (good, out) = verify(&host, "ca.crt", "sslclient", &crt);
        assert!(good, "{csr}: {out}");
        assert_eq!(
            cert_pubkey(&host, &crt),
            key_pub,
            "{csr}: not the CSR's key"
        );
    }
}

/// During a CA rotation that keeps the CA's name (`rotate-ca start --cn "OTel CA"`: ca.crt
/// holds the old CA then the new one, of one subject), a leaf signed by the new CA is
/// exported with the new CA as its chain:
/// the CA whose key verifies it, not the first of that name, so OpenSSL verifies the leaf
/// with the keystore's CA alone. The truststore holds both CAs, as `ca` and `ca-2`. Each
/// export says how its file is protected.
#[test]
fn exports_during_a_rotation_carry_the_signing_ca_and_both_trusted_cas() {
    let (_tmp, dir, host) = fresh();
    ok(&dir, &["init"], &[]);
    ok(&dir, &["rotate-ca", "start", "--cn", "OTel CA"], &[]);
    let next_crt = dir.join("ca-next.crt");
    let next_key = dir.join("ca-next.key");
    ok(
        &dir,
        &[
            "issue",
            "client",
            "--cn",
            "next-app",
            "--name",
            "next-app",
            "--ca-cert",
            next_crt.to_str().unwrap(),
            "--ca-key",
            next_key.to_str().unwrap(),
        ],
        &[],
    );
    let out = ok(
        &dir,
        &["export", "p12", "--name", "next-app"],
        &[(P12_ENV, P12_PASS)],
    );
    assert!(
        out.contains(&format!(
            "protected with the password from {P12_ENV}: AES-256-CBC, PBKDF2-SHA256, SHA-256 MAC"
        )),
        "{out}"
    );
    let listed = pkcs12_info(&dir, "next-app.p12", "-nokeys");
    let certs: Vec<Vec<u8>> = pem::parse_many(listed.as_bytes())
        .unwrap()
        .into_iter()
        .map(pem::Pem::into_contents)
        .collect();
    let leaf = crate::common::certs(&dir.join("next-app.crt")).remove(0);
    let next = crate::common::certs(&next_crt).remove(0);
    assert_eq!(certs.len(), 2, "{listed}");
    assert!(certs.iter().any(|c| c[..] == leaf[..]), "{listed}");
    assert!(
        certs.iter().any(|c| c[..] == next[..]),
        "the keystore's CA is not the new CA that signed the leaf: {listed}"
    );
    fs::write(
        host.join("p12-ca.crt"),
        pem::encode(&pem::Pem::new("CERTIFICATE", next.to_vec())),
    )
    .unwrap();
    deliver(&dir, &host, &["next-app.crt"]);
    let (good, out) = verify(&host, "p12-ca.crt", "sslclient", "next-app.crt");
    assert!(good, "{out}");

    let password_file = host.join("p12-password");
    fs::write(&password_file, format!("{P12_PASS}\n")).unwrap();
    let out = ok(
        &dir,
        &[
            "export",
            "truststore",
            "--password-file",
            password_file.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.contains("(2 trusted certificates)"), "{out}");
    assert!(
        out.contains(&format!(
            "protected with the password in `{}`: AES-256-CBC",
            password_file.display()
        )),
        "{out}"
    );
    let trust = pkcs12_info(&dir, "truststore.p12", "-nokeys");
    let mut aliases: Vec<&str> = trust
        .lines()
        .filter_map(|l| l.trim().strip_prefix("friendlyName: "))
        .collect();
    aliases.sort();
    assert_eq!(aliases, ["ca", "ca-2"], "{trust}");
    let out = ok(
        &dir,
        &["export", "truststore", "--force", "--empty-password"],
        &[],
    );
    assert!(
        out.contains("protected with the empty password: AES-256-CBC"),
        "{out}"
    );
}

/// A CN of 64 characters, the longest RFC 5280 allows (65 is refused above), is taken from
/// the CSR as it is, multi-byte characters counted as one each; OpenSSL verifies the client
/// certificate and reads the CN back.
#[test]
fn a_csr_cn_of_64_characters_is_signed() {
    let (_tmp, dir, host) = fresh();
    ok(&dir, &["init-ca"], &[]);
    let cn = format!("{}{}", "é".repeat(4), "a".repeat(60));
    let csr = host.join("long.csr");
    rcgen_csr(&csr, &cn, &["app.example"]);
    ok(
        &dir,
        &[
            "issue",
            "client",
            "--csr",
            csr.to_str().unwrap(),
            "--name",
            "long",
        ],
        &[],
    );
    deliver(&dir, &host, &["ca.crt", "long.crt"]);
    let (good, out) = verify(&host, "ca.crt", "sslclient", "long.crt");
    assert!(good, "{out}");
    let subject = openssl_ok(
        &host,
        &[
            "x509",
            "-in",
            "long.crt",
            "-noout",
            "-subject",
            "-nameopt",
            "utf8,sep_comma_plus",
        ],
    );
    assert_eq!(subject.trim(), format!("subject=CN={cn}"));
}

/// Every kind of subjectAltName otelpki issues is taken from a CSR: DNS names, IP addresses,
/// URIs (a SPIFFE ID, say) and e-mail addresses; OpenSSL reads them all in the certificate
/// and verifies it for its purpose, as a client and as a server certificate.
#[test]
fn every_san_kind_of_a_csr_reaches_the_certificate() {
    let (_tmp, dir, host) = fresh();
    ok(&dir, &["init-ca"], &[]);
    p256_csr(
        &host,
        "app.key",
        "app.csr",
        "/CN=app",
        &[
            "-addext",
            "subjectAltName=DNS:app.example,IP:192.0.2.7,URI:spiffe://example.org/app,\
             email:app@example.org",
        ],
    );
    let out = ok(
        &dir,
        &[
            "issue",
            "client",
            "--csr",
            host.join("app.csr").to_str().unwrap(),
            "--name",
            "app",
        ],
        &[],
    );
    assert!(!out.contains("note:"), "nothing of it is ignored: {out}");
    deliver(&dir, &host, &["ca.crt", "app.crt"]);
    let sans = openssl_ok(
        &host,
        &["x509", "-in", "app.crt", "-noout", "-ext", "subjectAltName"],
    );
    assert!(
        sans.contains(
            "DNS:app.example, IP Address:192.0.2.7, URI:spiffe://example.org/app, \
             email:app@example.org"
        ),
        "{sans}"
    );
    let (good, out) = verify(&host, "ca.crt", "sslclient", "app.crt");
    assert!(good, "{out}");
    // the same CSR as a server certificate: it says so, naming the names
    let out = ok(
        &dir,
        &[
            "issue",
            "server",
            "--csr",
            host.join("app.csr").to_str().unwrap(),
            "--name",
            "app-server",
        ],
        &[],
    );
    assert!(
        out.starts_with("Signed a server certificate for app.example, 192.0.2.7, "),
        "{out}"
    );
    deliver(&dir, &host, &["app-server.crt"]);
    let (good, out) = verify(&host, "ca.crt", "sslserver", "app-server.crt");
    assert!(good, "{out}");
}
