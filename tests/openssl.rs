use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use crate::common::{S_SERVER_MTLS, Spawned, init_pki, openssl, openssl_in, s_server};

/// `openssl verify` in strict mode (what Python 3.13 turns on) with the purpose of each leaf.
#[test]
fn openssl_verify_purposes() {
    for kt in ["ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-2048"] {
        let (_tmp, dir) = init_pki(&["--key-type", kt]);
        let strict = ["verify", "-x509_strict", "-CAfile", "ca.crt"];
        let (ok, out) = openssl_in(
            &dir,
            &[&strict[..], &["-purpose", "sslserver", "server.crt"]].concat(),
        );
        assert!(ok, "{kt}: server.crt as sslserver: {out}");
        let (ok, out) = openssl_in(
            &dir,
            &[&strict[..], &["-purpose", "sslclient", "client.crt"]].concat(),
        );
        assert!(ok, "{kt}: client.crt as sslclient: {out}");
        let (ok, out) = openssl_in(
            &dir,
            &[&strict[..], &["-purpose", "sslclient", "server.crt"]].concat(),
        );
        assert!(
            !ok && out.contains("unsuitable certificate purpose"),
            "{kt}: server.crt as sslclient: {out}"
        );
        let (ok, out) = openssl_in(
            &dir,
            &[&strict[..], &["-purpose", "sslserver", "client.crt"]].concat(),
        );
        assert!(
            !ok && out.contains("unsuitable certificate purpose"),
            "{kt}: client.crt as sslserver: {out}"
        );
        // The key files are PKCS#8 and match their certificates.
        for name in ["ca", "server", "client"] {
            let (ok, key_pub) =
                openssl_in(&dir, &["pkey", "-in", &format!("{name}.key"), "-pubout"]);
            assert!(ok, "{key_pub}");
            let (ok, cert_pub) = openssl_in(
                &dir,
                &["x509", "-in", &format!("{name}.crt"), "-noout", "-pubkey"],
            );
            assert!(ok, "{cert_pub}");
            assert_eq!(
                key_pub, cert_pub,
                "{kt}: {name}.key does not match {name}.crt"
            );
        }
    }
}

/// `openssl s_server` requiring a client certificate that chains to ca.crt.
fn mtls_s_server(dir: &std::path::Path) -> (Spawned, u16, mpsc::Receiver<String>) {
    s_server(dir, S_SERVER_MTLS)
}

/// Everything the server printed within `secs` seconds or until it exits.
fn drain(rx: &mpsc::Receiver<String>, secs: u64) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    let mut out = String::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                out.push_str(&line);
                out.push('\n');
            }
            Err(_) => break,
        }
    }
    out
}

fn s_client(dir: &std::path::Path, port: u16, with_cert: bool) -> (bool, String) {
    let connect = format!("127.0.0.1:{port}");
    let mut args = vec![
        "s_client",
        "-connect",
        &connect,
        "-CAfile",
        "ca.crt",
        "-verify_return_error",
    ];
    args.extend(["-verify_hostname", "localhost", "-brief"]);
    if with_cert {
        args.extend(["-cert", "client.crt", "-key", "client.key"]);
    }
    let out = openssl()
        .current_dir(dir)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("run s_client");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `openssl s_server -Verify 1 -verify_return_error` and `s_client` complete mTLS with the
/// files of `otelpki init`; without a client certificate the server refuses.
#[test]
fn openssl_s_server_and_s_client_mtls() {
    let (_tmp, dir) = init_pki(&[]);
    let (_server, port, rx) = mtls_s_server(&dir);
    let (ok, client_out) = s_client(&dir, port, true);
    assert!(
        ok && client_out.contains("Verification: OK"),
        "{client_out}"
    );
    let server_out = drain(&rx, 5);
    assert!(
        server_out.contains("CN = my-application"),
        "server did not verify the client: {server_out}"
    );
    assert!(
        server_out.contains("1 server accepts that finished"),
        "{server_out}"
    );

    let (_server, port, rx) = mtls_s_server(&dir);
    let (_, client_out) = s_client(&dir, port, false);
    let server_out = drain(&rx, 5);
    assert!(
        server_out.contains("peer did not return a certificate"),
        "server accepted a client without a certificate: {server_out}\nclient: {client_out}"
    );
}

/// Each RSA size is the size it names, in OpenSSL's words (the key file and the certificate),
/// and `inspect` names it back (issue 15: rsa-4096 silently made as 2048 bits failed no test).
#[test]
fn rsa_key_sizes_are_what_they_say() {
    let (_tmp, dir) = init_pki(&["--key-type", "rsa-3072"]);
    crate::common::otelpki(&dir)
        .args([
            "issue",
            "client",
            "--cn",
            "big",
            "--name",
            "big",
            "--key-type",
            "rsa-4096",
        ])
        .assert()
        .success();
    for (name, bits) in [
        ("ca", 3072),
        ("server", 3072),
        ("client", 3072),
        ("big", 4096),
    ] {
        let (ok, out) = openssl_in(
            &dir,
            &["pkey", "-in", &format!("{name}.key"), "-noout", "-text"],
        );
        assert!(ok, "{name}.key: {out}");
        assert!(
            out.contains(&format!("Private-Key: ({bits} bit")),
            "{name}.key: {out}"
        );
        let (ok, out) = openssl_in(
            &dir,
            &["x509", "-in", &format!("{name}.crt"), "-noout", "-text"],
        );
        assert!(ok, "{name}.crt: {out}");
        assert!(
            out.contains(&format!("Public-Key: ({bits} bit)")),
            "{name}.crt: {out}"
        );
        assert!(out.contains("sha256WithRSAEncryption"), "{name}.crt: {out}");

        let out = crate::common::otelpki(&dir)
            .args([
                "inspect",
                "--json",
                &format!("{name}.crt"),
                &format!("{name}.key"),
            ])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for item in doc.as_array().unwrap() {
            assert_eq!(
                item["public_key"]["key_type"],
                format!("rsa-{bits}"),
                "{name}: {item}"
            );
            assert_eq!(item["public_key"]["bits"], bits, "{name}: {item}");
        }
    }
}

/// `inspect` names the key type of certificates OpenSSL made (not only otelpki's): every type
/// otelpki issues by its name, any other (Ed448, P-521, RSA-1024) by none; Ed25519's algorithm
/// is named (256 bits), Ed448 shown as unknown with its OID (issue 15).
#[test]
fn inspect_names_the_key_types_openssl_makes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cases: [(&str, &[&str], Option<&str>); 7] = [
        ("ed25519", &["-newkey", "ed25519"], Some("ed25519")),
        (
            "p256",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            Some("ecdsa-p256"),
        ),
        (
            "p384",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
            Some("ecdsa-p384"),
        ),
        ("rsa2048", &["-newkey", "rsa:2048"], Some("rsa-2048")),
        ("ed448", &["-newkey", "ed448"], None),
        (
            "p521",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-521"],
            None,
        ),
        ("rsa1024", &["-newkey", "rsa:1024"], None),
    ];
    for (name, newkey, want) in cases {
        let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
        let args = [
            &[
                "req", "-x509", "-nodes", "-subj", "/CN=x", "-days", "1", "-keyout", &key, "-out",
                &crt,
            ][..],
            newkey,
        ]
        .concat();
        let (ok, out) = openssl_in(dir, &args);
        assert!(ok, "{name}: {out}");
        let out = crate::common::otelpki(dir)
            .args(["inspect", "--json", &crt])
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {out:?}");
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let want = want.map_or(serde_json::Value::Null, |w| w.into());
        assert_eq!(doc[0]["public_key"]["key_type"], want, "{name}: {doc}");
        // the algorithm as inspect prints it: Ed25519 by name, Ed448 as unknown with its OID
        let (algorithm, bits) = (
            &doc[0]["public_key"]["algorithm"],
            &doc[0]["public_key"]["bits"],
        );
        match name {
            "ed25519" => assert!(algorithm == "Ed25519" && bits == 256, "{doc}"),
            "ed448" => assert!(
                algorithm == "unknown (ed448 (1.3.101.113))" && bits.is_null(),
                "{doc}"
            ),
            _ => {}
        }
    }
}
