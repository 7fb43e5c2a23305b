use rustls::{CertificateError, Error};

use crate::common::{KEY_TYPES, Refused, client, handshake, init_pki, mtls_server, otelpki};

/// For every key type: an mTLS handshake succeeds by DNS name and by IPv4 and IPv6 SAN, and
/// fails for a wrong name, for a client certificate from a second CA, and with no client cert.
#[test]
fn mtls_per_key_type() {
    for kt in KEY_TYPES {
        let (_tmp, dir) = init_pki(&["--key-type", kt]);
        let ca = dir.join("ca.crt");
        let server = mtls_server(&dir, "server", &ca);
        let app = client(&ca, Some((&dir, "client")));

        for host in ["localhost", "127.0.0.1", "::1"] {
            handshake(app.clone(), server.clone(), host)
                .unwrap_or_else(|e| panic!("{kt}: mTLS to {host} failed: {e:?}"));
        }

        match handshake(
            app.clone(),
            server.clone(),
            "otel-collector.observability.svc",
        ) {
            Err(Refused::Client(Error::InvalidCertificate(
                CertificateError::NotValidForNameContext { .. },
            )))
            | Err(Refused::Client(Error::InvalidCertificate(CertificateError::NotValidForName))) => {
            }
            other => panic!("{kt}: wrong server name: {other:?}"),
        }

        // A second CA with another name: the client's issuer is unknown to the server.
        let tmp2 = tempfile::tempdir().unwrap();
        let other_dir = tmp2.path().join("other");
        otelpki(&other_dir)
            .args(["init-ca", "--cn", "Other CA", "--key-type", kt])
            .assert()
            .success();
        otelpki(&other_dir)
            .args(["issue", "client", "--cn", "my-application"])
            .assert()
            .success();
        match handshake(
            client(&ca, Some((&other_dir, "client"))),
            server.clone(),
            "localhost",
        ) {
            Err(Refused::Server(Error::InvalidCertificate(CertificateError::UnknownIssuer))) => {}
            other => panic!("{kt}: client cert from another CA: {other:?}"),
        }
        // A second `otelpki init` (same CA name "OTel CA"): refused as well, by its signature.
        let (_tmp3, same_name) = init_pki(&["--key-type", kt]);
        match handshake(
            client(&ca, Some((&same_name, "client"))),
            server.clone(),
            "localhost",
        ) {
            Err(Refused::Server(Error::InvalidCertificate(CertificateError::BadSignature)))
            | Err(Refused::Server(Error::InvalidCertificate(CertificateError::UnknownIssuer))) => {}
            other => panic!("{kt}: client cert from another CA of the same name: {other:?}"),
        }

        match handshake(client(&ca, None), server.clone(), "localhost") {
            Err(Refused::Server(Error::NoCertificatesPresented)) => {}
            other => panic!("{kt}: no client cert: {other:?}"),
        }
    }
}

/// One purpose per leaf: the server certificate is refused as a client certificate and the
/// client certificate is refused as a server certificate.
#[test]
fn leaves_carry_one_purpose() {
    let (_tmp, dir) = init_pki(&[]);
    let ca = dir.join("ca.crt");
    let server = mtls_server(&dir, "server", &ca);
    match handshake(client(&ca, Some((&dir, "server"))), server, "localhost") {
        Err(Refused::Server(Error::InvalidCertificate(e))) => {
            assert!(format!("{e:?}").contains("Purpose"), "{e:?}")
        }
        other => panic!("server.crt as a client certificate: {other:?}"),
    }
    // client.crt has no SAN, so add one to isolate the EKU.
    crate::common::otelpki(&dir)
        .args([
            "issue",
            "client",
            "--cn",
            "app",
            "--san",
            "localhost",
            "--name",
            "app",
        ])
        .assert()
        .success();
    let wrong_server = mtls_server(&dir, "app", &ca);
    match handshake(
        client(&ca, Some((&dir, "client"))),
        wrong_server,
        "localhost",
    ) {
        Err(Refused::Client(Error::InvalidCertificate(e))) => {
            assert!(format!("{e:?}").contains("Purpose"), "{e:?}")
        }
        other => panic!("client.crt as a server certificate: {other:?}"),
    }
}

/// A server certificate issued later with other SANs (wildcard, IP) works for those names.
#[test]
fn issued_server_covers_wildcard_and_ip() {
    let (_tmp, dir) = init_pki(&[]);
    crate::common::otelpki(&dir)
        .args([
            "issue",
            "server",
            "--san",
            "*.observability.svc,10.0.0.5",
            "--name",
            "gateway",
        ])
        .assert()
        .success();
    let ca = dir.join("ca.crt");
    let server = mtls_server(&dir, "gateway", &ca);
    let app = client(&ca, Some((&dir, "client")));
    for host in ["otel-collector.observability.svc", "10.0.0.5"] {
        handshake(app.clone(), server.clone(), host).unwrap_or_else(|e| panic!("{host}: {e:?}"));
    }
    assert!(handshake(app, server, "a.b.observability.svc").is_err());
}
