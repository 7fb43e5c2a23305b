//! `probe`: a live endpoint, reached the way an OTLP exporter reaches it. A real TLS handshake
//! with rustls (trusting the CA, presenting the client certificate if given), then an empty
//! export (no spans) for the endpoint's protocol, and the result in plain words: the server's
//! chain, version, client-certificate verdict and answer, or what failed and how to fix it.
//! A failed server certificate is judged again by `judge::judge` (the same findings as
//! `verify`), from the chain captured during the handshake.
//!
//! `net` makes the connection, `tls` the handshake, `otlp` the export, `diagnose` the findings.
//! Every wait is bounded by `--timeout`: the name lookup, the connect, each read, the pause
//! after the handshake in which a TLS 1.3 server says whether it accepted the client
//! certificate (an alert if not; a record such as a session ticket if so), and the export.

mod diagnose;
mod net;
mod otlp;
mod tls;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::sign::CertifiedKey;
use rustls::{ClientConnection, ProtocolVersion};
use serde::Serialize;
use time::OffsetDateTime;

use crate::cert::Cert;
use crate::endpoint::{Endpoint, GRPC_PORT, HTTP_PORT, Protocol, Scheme, protocol_name};
use crate::inspect::CertInfo;
use crate::judge::{Anchors, Reissue};
use crate::report::{self, Code, Finding, Verdict};

use net::Wire;
use otlp::Exchange;
use tls::{Stop, read_once};

/// The longest pause after the handshake for the server's verdict on the client certificate.
const VERDICT_WAIT: Duration = Duration::from_secs(3);

/// What the handshake established.
#[derive(Debug, Serialize)]
pub struct Handshake {
    /// `TLSv1.3` or `TLSv1.2`.
    pub version: String,
    pub cipher_suite: String,
    /// The application protocol the server chose (`h2`, `http/1.1`), if any.
    pub alpn: Option<String>,
    pub client_cert_requested: bool,
    pub client_cert_sent: bool,
    /// true: the server went on after receiving it; false: it refused it (in the handshake,
    /// or, as a proxy does, in its answer to the export); null: none was sent, or the server
    /// said nothing either way.
    pub client_cert_accepted: Option<bool>,
    /// The CAs the server says it accepts client certificates from (its client_ca_file).
    pub accepted_client_cas: Vec<String>,
}

/// What `probe --json` reports besides the findings.
#[derive(Serialize)]
pub struct Details {
    endpoint: String,
    /// The address connected to, if the connection was made.
    address: Option<String>,
    ca: String,
    /// The export's protocol as in OTEL_EXPORTER_OTLP_PROTOCOL; null with --tls-only.
    protocol: Option<&'static str>,
    handshake: Option<Handshake>,
    /// What the server presented, leaf first.
    server_chain: Vec<CertInfo>,
    /// The empty export and its answer; null if none was sent.
    exchange: Option<Exchange>,
}

/// `probe`.
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// The endpoint: https://HOST:PORT, or HOST:PORT.
    pub url: Endpoint,
    /// CA certificate(s) the server's certificate must chain to; None: DIR/ca.crt.
    pub ca: Option<PathBuf>,
    /// Client certificate and key to present (mTLS): both or neither.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// The empty export's protocol; None: from the URL's path, else the port.
    pub protocol: Option<Protocol>,
    /// Stop after the TLS handshake.
    pub tls_only: bool,
    /// Seconds to wait for the connection and for each answer.
    pub timeout: u64,
}

/// Everything `probe` needs besides the connection.
struct Setup<'a> {
    dir: &'a Path,
    ep: &'a Endpoint,
    port: u16,
    about: String,
    anchors: &'a Anchors,
    /// The client certificate's path, how to issue it again, and its issuer.
    client: Option<(&'a Path, Reissue, String)>,
    /// The export's protocol; None with --tls-only.
    otlp: Option<Protocol>,
    /// `--protocol`, if given (the fixes repeat it).
    stated: Option<Protocol>,
}

/// The export's protocol: `--protocol`, else the URL's path (`/v1/...` is OTLP/HTTP), else
/// the port; else OTLP/HTTP, the specification's default. Also says where it came from.
fn protocol(stated: Option<Protocol>, ep: &Endpoint, port: u16) -> (Protocol, &'static str) {
    if let Some(p) = stated {
        return (p, "--protocol");
    }
    if let Some(p) = ep.implied_protocol() {
        return (p, "the URL's path");
    }
    match port {
        GRPC_PORT => (Protocol::Grpc, "the port"),
        HTTP_PORT => (Protocol::Http, "the port"),
        _ => (
            Protocol::Http,
            "the specification's default; --protocol grpc for gRPC",
        ),
    }
}

/// What the client offers in ALPN: a gRPC exporter offers `h2` only; an OTLP/HTTP one (Go's
/// net/http, OkHttp) `h2` and `http/1.1`.
fn alpn(otlp: Option<Protocol>) -> &'static [&'static [u8]] {
    match otlp {
        Some(Protocol::Grpc) => &[b"h2"],
        _ => &[b"h2", b"http/1.1"],
    }
}

pub fn run(dir: &Path, args: &ProbeOptions) -> Result<Verdict<Details>> {
    let ep = &args.url;
    let port = match (ep.port, ep.scheme) {
        (Some(p), _) => p,
        (None, Some(Scheme::Https)) => 443,
        (None, Some(Scheme::Http)) => 80,
        (None, None) => bail!(
            "`{ep}` has no port; OTLP uses 4317 (gRPC) and 4318 (HTTP), e.g. {}",
            ep.https_url(4317, Some(Protocol::Grpc))
        ),
    };
    let ca_path = args.ca.clone().unwrap_or_else(|| dir.join("ca.crt"));
    if args.ca.is_none() && !ca_path.exists() {
        bail!(
            "no CA to trust: `{}` does not exist; pass --ca FILE (the CA the SDKs are given in \
             OTEL_EXPORTER_OTLP_CERTIFICATE)",
            ca_path.display()
        );
    }
    let anchors = Anchors::load(&ca_path)?;
    let key = match (&args.cert, &args.key) {
        (Some(c), Some(k)) => Some(tls::client_key(c, k)?),
        _ => None,
    };
    let client = match &args.cert {
        Some(c) => {
            let cert = Cert::read(c)?;
            Some((c.as_path(), Reissue::of(c, &cert), cert.issuer))
        }
        None => None,
    };
    let (otlp, why) = match args.tls_only {
        true => (None, ""),
        false => {
            let (p, why) = protocol(args.protocol, ep, port);
            (Some(p), why)
        }
    };
    let setup = Setup {
        dir,
        ep,
        port,
        about: format!("{}:{port}", ep.host_in_url()),
        anchors: &anchors,
        client,
        otlp,
        stated: args.protocol,
    };
    let server_name = ep.server_name().map_err(anyhow::Error::msg)?;
    let timeout = Duration::from_secs(args.timeout);
    let (findings, details, mut text) = probe(&setup, server_name, key, timeout)?;
    if let Some(p) = otlp {
        text.insert_str(0, &format!("protocol: {} (from {why})\n", protocol_name(p)));
    }
    let details = Details {
        ca: ca_path.display().to_string(),
        ..details
    };
    Ok(Verdict {
        details,
        text,
        findings,
    })
}

fn probe(
    setup: &Setup<'_>,
    server_name: ServerName<'static>,
    key: Option<Arc<CertifiedKey>>,
    timeout: Duration,
) -> Result<(Vec<Finding>, Details, String)> {
    let about = &setup.about;
    let port = setup.port;
    let mut details = Details {
        endpoint: setup.ep.to_string(),
        address: None,
        ca: String::new(),
        protocol: setup.otlp.map(Protocol::otel_name),
        handshake: None,
        server_chain: Vec::new(),
        exchange: None,
    };
    let mut findings = Vec::new();
    let mut text = String::new();

    let (tcp, addr) = match net::connect(setup.ep, port, timeout, about) {
        Ok(c) => c,
        Err(f) => return Ok((vec![f], details, text)),
    };
    details.address = Some(addr.to_string());
    tcp.set_write_timeout(Some(timeout))?;
    text.push_str(&format!("connected to {addr}\n"));

    let (config, capture, auth) = tls::client_config(setup.anchors, key, alpn(setup.otlp))?;
    let mut conn = ClientConnection::new(config, server_name.clone())?;
    let mut wire = Wire::new(tcp);

    let started = Instant::now();
    let result = tls::handshake(&mut conn, &mut wire, started + timeout);
    let chain: Vec<CertificateDer<'static>> =
        capture.chain.lock().map(|c| c.clone()).unwrap_or_default();
    let now = OffsetDateTime::now_utc();
    for der in &chain {
        if let Ok(info) = CertInfo::from_der(der, now) {
            details.server_chain.push(info);
        }
    }
    let requested = auth.requested.load(Ordering::SeqCst);
    let sent = requested && auth.key.is_some();
    let hints = auth.hints.lock().map(|h| h.clone()).unwrap_or_default();

    let mut accepted: Option<bool> = (requested && sent && result.is_ok()).then_some(true);
    let mut stop = result.err();
    if stop.is_none() && requested && conn.protocol_version() == Some(ProtocolVersion::TLSv1_3) {
        // TLS 1.3: the client finishes first; the server's verdict on the client's certificate
        // (or on its absence) comes after: an alert, or its first record (a session ticket).
        accepted = None;
        let records = wire.records;
        let deadline = Instant::now() + timeout.min(VERDICT_WAIT);
        loop {
            match read_once(&mut conn, &mut wire, deadline) {
                Ok(()) if wire.records > records => {
                    accepted = sent.then_some(true);
                    break;
                }
                Ok(()) => {}
                Err(Stop::Timeout) => break,
                Err(e) => {
                    accepted = sent.then_some(false);
                    stop = Some(e);
                    break;
                }
            }
        }
    }

    let stopped = stop.is_some();
    if let Some(stop) = stop {
        findings.extend(diagnose::handshake(
            setup,
            &server_name,
            &chain,
            &wire,
            stop,
            requested,
            sent,
            &hints,
            timeout,
        )?);
    }
    let completed = conn.protocol_version().is_some() && !conn.is_handshaking();
    let mut hs = (findings.is_empty() || completed).then(|| Handshake {
        version: tls::version_name(conn.protocol_version()),
        cipher_suite: conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default(),
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
        client_cert_requested: requested,
        client_cert_sent: sent,
        client_cert_accepted: accepted,
        accepted_client_cas: hints.clone(),
    });

    // The empty export, over the same connection, once the handshake went through.
    let mut export_line = String::new();
    if let (Some(protocol), Some(h), false) = (setup.otlp, &mut hs, stopped) {
        let h2 = h.alpn.as_deref() == Some("h2");
        if protocol == Protocol::Grpc && !h2 {
            let how = match &h.alpn {
                Some(p) => format!("chose `{}` in ALPN", report::quote(p)),
                None => "ignored ALPN (it chose no application protocol)".to_string(),
            };
            findings.push(diagnose::no_h2(setup, &how));
        } else {
            let req = otlp::Request::new(setup.ep, port, protocol);
            let (ex, end) = otlp::send(wire.tcp, conn, &req, h2, timeout);
            let (found, verdict) =
                diagnose::exchange(setup, &ex, &end, requested, sent, &hints, timeout);
            if verdict.is_some() {
                h.client_cert_accepted = verdict;
            }
            findings.extend(found);
            export_line = format!(
                "export: POST {} over {} ({}): {}\n",
                ex.path,
                ex.http_version,
                protocol_name(protocol),
                match ex.status {
                    Some(_) => diagnose::answer_text(&ex),
                    None => "no answer".to_string(),
                }
            );
            details.exchange = Some(ex);
        }
    }

    if let Some(hs) = &hs {
        if !stopped {
            text.push_str(&format!(
                "handshake ok: {}, {}{}\n",
                hs.version,
                hs.cipher_suite,
                hs.alpn
                    .as_deref()
                    .map(|a| format!(", ALPN {a}"))
                    .unwrap_or_default()
            ));
        }
        text.push_str(&format!(
            "client certificate: {}\n",
            match (requested, sent, hs.client_cert_accepted) {
                (false, false, _) => "not requested by the server".to_string(),
                (false, true, _) => "not requested by the server (not sent)".to_string(),
                (true, false, _) => "requested by the server, none given".to_string(),
                (true, true, Some(true)) => "requested, sent and accepted".to_string(),
                (true, true, Some(false)) => "requested, sent and REFUSED".to_string(),
                (true, true, None) => format!(
                    "requested and sent; the server said nothing against it within {} s",
                    timeout.min(VERDICT_WAIT).as_secs()
                ),
            }
        ));
        if !hints.is_empty() {
            text.push_str(&format!(
                "  the server accepts client certificates from: {}\n",
                hints.join("; ")
            ));
        }
    }
    details.handshake = hs;
    if !details.server_chain.is_empty() {
        text.push_str("server chain:\n");
        for (i, c) in details.server_chain.iter().enumerate() {
            text.push_str(&format!(
                "  [{i}] \"{}\" issued by \"{}\"\n      names: {}\n      until {} ({})\n",
                c.subject,
                c.issuer,
                c.names_text(),
                crate::inspect::when(c.not_after),
                c.validity_text()
            ));
        }
    }
    text.push_str(&export_line);
    if details.handshake.is_some() && setup.ep.scheme == Some(Scheme::Http) {
        findings.push(Finding::new(
            Code::PlaintextScheme,
            about,
            "the server speaks TLS, but `http://` makes SDKs send plaintext to it",
            setup.ep.fix(setup.dir, port, setup.otlp),
        ));
    }
    Ok((findings, details, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_protocol_comes_from_the_flag_the_path_or_the_port() {
        let ep = |u: &str| crate::endpoint::parse(u).unwrap();
        let e = ep("https://gw:4317/v1/traces");
        assert_eq!(protocol(Some(Protocol::Grpc), &e, 4317).0, Protocol::Grpc);
        assert_eq!(protocol(None, &e, 4317), (Protocol::Http, "the URL's path"));
        assert_eq!(
            protocol(None, &ep("https://gw:4317"), 4317).0,
            Protocol::Grpc
        );
        assert_eq!(
            protocol(None, &ep("https://gw:4318"), 4318).0,
            Protocol::Http
        );
        let (p, why) = protocol(None, &ep("https://gw"), 443);
        assert_eq!(p, Protocol::Http);
        assert!(why.contains("default"), "{why}");
        assert_eq!(alpn(Some(Protocol::Grpc)), [b"h2".as_slice()]);
        assert_eq!(alpn(Some(Protocol::Http)), [b"h2".as_slice(), b"http/1.1"]);
        assert_eq!(alpn(None), [b"h2".as_slice(), b"http/1.1"]);
    }
}
