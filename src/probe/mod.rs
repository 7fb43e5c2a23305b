//! `probe`: a real TLS handshake with a live endpoint, with rustls as an SDK would do it
//! (trusting the CA, presenting the client certificate if given), and the result in plain words:
//! the server's chain, version and client-certificate verdict, or what failed and how to fix it.
//! A failed server certificate is judged again by `verify::judge` (the same findings as
//! `verify`), from the chain captured during the handshake.
//!
//! Every wait is bounded by `--timeout`: the name lookup, the connect, each read, and the pause
//! after the handshake in which a TLS 1.3 server says whether it accepted the client
//! certificate (it answers with an alert if not, and with a record such as a session ticket if
//! so).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{
    AlertDescription, ClientConfig, ClientConnection, DigitallySignedStruct, DistinguishedName,
    ProtocolVersion, RootCertStore, SignatureScheme,
};
use serde::Serialize;
use time::OffsetDateTime;
use x509_parser::prelude::FromDer;

use crate::cli::ProbeArgs;
use crate::endpoint::{Endpoint, Scheme};
use crate::inspect::CertInfo;
use crate::profile::Role;
use crate::read;
use crate::report::{self, Finding, Outcome};
use crate::verify::{self, Anchors, Leaf, Purpose, Reissue};

/// At most this many resolved addresses are tried, each within the timeout.
const MAX_ADDRESSES: usize = 4;
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
    /// true: the server went on after receiving it; false: it refused it;
    /// null: none was sent, or the server said nothing either way within the wait.
    pub client_cert_accepted: Option<bool>,
    /// The CAs the server says it accepts client certificates from (its client_ca_file).
    pub accepted_client_cas: Vec<String>,
}

#[derive(Serialize)]
struct Details {
    endpoint: String,
    /// The address connected to, if the connection was made.
    address: Option<String>,
    ca: String,
    handshake: Option<Handshake>,
    /// What the server presented, leaf first.
    server_chain: Vec<CertInfo>,
}

/// A ServerCertVerifier that keeps the chain the server presented, then lets rustls's own
/// WebPkiServerVerifier decide.
#[derive(Debug)]
struct Capture {
    inner: Arc<WebPkiServerVerifier>,
    chain: Mutex<Vec<CertificateDer<'static>>>,
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut chain) = self.chain.lock() {
            *chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.clone().into_owned())
                .collect();
        }
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

/// Presents the client certificate, if any, and notes whether the server asked for one and
/// which CAs it named.
#[derive(Debug)]
struct ClientAuth {
    key: Option<Arc<CertifiedKey>>,
    requested: AtomicBool,
    hints: Mutex<Vec<String>>,
}

impl ResolvesClientCert for ClientAuth {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.requested.store(true, Ordering::SeqCst);
        if let Ok(mut hints) = self.hints.lock() {
            *hints = root_hint_subjects
                .iter()
                .map(|dn| dn_text(dn))
                .filter(|name| !name.is_empty())
                .collect();
        }
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        self.key.is_some()
    }
}

/// A DER distinguished name, as TLS sends it in a CertificateRequest, as text.
fn dn_text(dn: &[u8]) -> String {
    match x509_parser::x509::X509Name::from_der(dn) {
        Ok((_, name)) => name.to_string(),
        Err(_) => "(unreadable name)".into(),
    }
}

/// The TCP stream, noting the first bytes the server sent and how many whole TLS records.
struct Wire {
    tcp: TcpStream,
    first: Vec<u8>,
    header: [u8; 5],
    header_len: usize,
    body_left: usize,
    records: usize,
}

impl Wire {
    fn new(tcp: TcpStream) -> Wire {
        Wire {
            tcp,
            first: Vec::new(),
            header: [0; 5],
            header_len: 0,
            body_left: 0,
            records: 0,
        }
    }

    /// Counts complete TLS records (5-byte header with a 16-bit length, then the body).
    fn observe(&mut self, mut data: &[u8]) {
        let room = 64usize.saturating_sub(self.first.len());
        self.first.extend_from_slice(&data[..room.min(data.len())]);
        while !data.is_empty() {
            if self.header_len < 5 {
                let take = (5 - self.header_len).min(data.len());
                self.header[self.header_len..self.header_len + take].copy_from_slice(&data[..take]);
                self.header_len += take;
                data = &data[take..];
                if self.header_len == 5 {
                    self.body_left =
                        usize::from(u16::from_be_bytes([self.header[3], self.header[4]]));
                }
            } else {
                let take = self.body_left.min(data.len());
                self.body_left -= take;
                data = &data[take..];
            }
            if self.header_len == 5 && self.body_left == 0 {
                self.records += 1;
                self.header_len = 0;
            }
        }
    }

    /// Whether the server's first bytes can start a TLS record (handshake or alert).
    fn looks_like_tls(&self) -> bool {
        matches!(self.first.first(), None | Some(0x15 | 0x16))
    }
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.tcp.read(buf)?;
        self.observe(&buf[..n]);
        Ok(n)
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// Why a read or the handshake stopped.
#[derive(Debug)]
enum Stop {
    Tls(rustls::Error),
    Closed,
    Timeout,
    Io(io::Error),
}

/// Sends what rustls has to send (best effort after a failure: the alert).
fn flush(conn: &mut ClientConnection, wire: &mut Wire) -> Result<(), Stop> {
    while conn.wants_write() {
        match conn.write_tls(wire) {
            Ok(_) => {}
            Err(e) if is_closed(&e) => return Err(Stop::Closed),
            Err(e) => return Err(Stop::Io(e)),
        }
    }
    Ok(())
}

fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}

/// Reads once (bounded by `deadline`) and processes what came.
fn read_once(conn: &mut ClientConnection, wire: &mut Wire, deadline: Instant) -> Result<(), Stop> {
    let left = deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or(Stop::Timeout)?;
    wire.tcp.set_read_timeout(Some(left)).map_err(Stop::Io)?;
    match conn.read_tls(wire) {
        Ok(0) => Err(Stop::Closed),
        Ok(_) => match conn.process_new_packets() {
            Ok(_) => {
                // Application data is not expected; drop any.
                let mut sink = [0u8; 4096];
                while matches!(conn.reader().read(&mut sink), Ok(n) if n > 0) {}
                Ok(())
            }
            Err(e) => {
                let _ = flush(conn, wire);
                Err(Stop::Tls(e))
            }
        },
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Err(Stop::Timeout)
        }
        Err(e) if is_closed(&e) => Err(Stop::Closed),
        Err(e) => Err(Stop::Io(e)),
    }
}

fn handshake(conn: &mut ClientConnection, wire: &mut Wire, deadline: Instant) -> Result<(), Stop> {
    loop {
        flush(conn, wire)?;
        if !conn.is_handshaking() {
            return Ok(());
        }
        read_once(conn, wire, deadline)?;
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The client certificate and key, checked to belong together.
fn client_key(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>> {
    let chain = read::certificates(cert)?;
    let der = read::private_key_der(key)?;
    CertifiedKey::from_der(chain, der, &provider())
        .map(Arc::new)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => anyhow!(
                "the key `{}` does not belong to the certificate `{}`; pass the matching pair",
                key.display(),
                cert.display()
            ),
            other => anyhow!(
                "cannot use `{}` and `{}` as a client certificate: {other}",
                cert.display(),
                key.display()
            ),
        })
}

/// Connects to the first address that answers; a failure is a finding.
fn connect(
    ep: &Endpoint,
    port: u16,
    timeout: Duration,
    about: &str,
) -> Result<(TcpStream, SocketAddr), Finding> {
    let target = format!("{}:{port}", ep.host_in_url());
    let host = ep.host.clone();
    let lookup = within(timeout, move || {
        (host.as_str(), port)
            .to_socket_addrs()
            .map(|a| a.take(MAX_ADDRESSES).collect::<Vec<SocketAddr>>())
    });
    let addrs: Vec<SocketAddr> = match lookup {
        Err(e) => {
            return Err(Finding::new(
                "connect-failed",
                about,
                format!("cannot start the name lookup of `{}`: {e}", ep.host),
                "try again when the system has resources to spare",
            ));
        }
        Ok(None) => {
            return Err(Finding::new(
                "timeout",
                about,
                format!(
                    "cannot resolve `{}` within {} s (the name lookup did not answer)",
                    ep.host,
                    timeout.as_secs()
                ),
                "check the resolver (/etc/resolv.conf) and the host name, or probe from where \
                 the SDK runs",
            ));
        }
        Ok(Some(Ok(a))) => a,
        Ok(Some(Err(e))) => {
            return Err(Finding::new(
                "unresolved-host",
                about,
                format!("cannot resolve `{}`: {e}", ep.host),
                "check the host name (in Kubernetes: SERVICE.NAMESPACE.svc, resolvable only inside \
                 the cluster), or probe from where the SDK runs",
            ));
        }
    };
    let mut last: Option<io::Error> = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(tcp) => return Ok((tcp, *addr)),
            Err(e) => last = Some(e),
        }
    }
    let Some(e) = last else {
        return Err(Finding::new(
            "unresolved-host",
            about,
            format!("`{}` resolves to no address", ep.host),
            "check the host name",
        ));
    };
    let listen = "check that the Collector runs and that its receiver listens there (endpoint: \
                  0.0.0.0:4317 for gRPC, 0.0.0.0:4318 for HTTP), and that no firewall is in between";
    Err(match e.kind() {
        io::ErrorKind::ConnectionRefused => Finding::new(
            "connection-refused",
            about,
            format!("nothing accepts connections on {target} (connection refused)"),
            listen,
        ),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Finding::new(
            "timeout",
            about,
            format!(
                "no answer from {target} within {} s (connect timed out)",
                timeout.as_secs()
            ),
            listen,
        ),
        _ => Finding::new(
            "connect-failed",
            about,
            format!("cannot connect to {target}: {e}"),
            listen,
        ),
    })
}

/// Runs `work` on its own thread and waits at most `timeout` for its answer: std's name
/// lookup (getaddrinfo) has no timeout of its own. A lookup that does not answer is left
/// behind on its thread, which ends with the process.
fn within<T: Send + 'static>(
    timeout: Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> io::Result<Option<T>> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("lookup".into())
        .spawn(move || {
            // The receiver is gone when the wait is over; the answer is then dropped.
            let _ = tx.send(work());
        })?;
    Ok(rx.recv_timeout(timeout).ok())
}

fn version_name(v: Option<ProtocolVersion>) -> String {
    match v {
        Some(ProtocolVersion::TLSv1_3) => "TLSv1.3".into(),
        Some(ProtocolVersion::TLSv1_2) => "TLSv1.2".into(),
        Some(other) => format!("{other:?}"),
        None => "unknown".into(),
    }
}

fn alert_name(a: AlertDescription) -> String {
    let s = match a {
        AlertDescription::HandshakeFailure => "handshake_failure",
        AlertDescription::BadCertificate => "bad_certificate",
        AlertDescription::UnsupportedCertificate => "unsupported_certificate",
        AlertDescription::CertificateExpired => "certificate_expired",
        AlertDescription::CertificateUnknown => "certificate_unknown",
        AlertDescription::UnknownCA => "unknown_ca",
        AlertDescription::AccessDenied => "access_denied",
        AlertDescription::DecryptError => "decrypt_error",
        AlertDescription::ProtocolVersion => "protocol_version",
        AlertDescription::CertificateRequired => "certificate_required",
        AlertDescription::UnrecognisedName => "unrecognized_name",
        AlertDescription::NoApplicationProtocol => "no_application_protocol",
        other => return format!("{other:?}"),
    };
    s.to_string()
}

/// Everything `probe` needs besides the connection.
struct Setup<'a> {
    dir: &'a Path,
    ep: &'a Endpoint,
    about: String,
    anchors: &'a Anchors,
    /// The client certificate's path and how to issue it again.
    client: Option<(&'a Path, Reissue, String)>,
}

pub fn run(dir: &Path, args: &ProbeArgs) -> Result<Outcome> {
    let ep = &args.url;
    let port = match (ep.port, ep.scheme) {
        (Some(p), _) => p,
        (None, Some(Scheme::Https)) => 443,
        (None, Some(Scheme::Http)) => 80,
        (None, None) => bail!(
            "`{ep}` has no port; OTLP uses 4317 (gRPC) and 4318 (HTTP), e.g. {}",
            ep.https_url(4317, Some(crate::endpoint::Protocol::Grpc))
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
        (Some(c), Some(k)) => Some(client_key(c, k)?),
        _ => None,
    };
    let client = match &args.cert {
        Some(c) => {
            let der = read::certificate(c)?;
            let x = read::parse_cert(&der)?;
            Some((c.as_path(), Reissue::of(c, &x), x.issuer().to_string()))
        }
        None => None,
    };
    let setup = Setup {
        dir,
        ep,
        about: format!("{}:{port}", ep.host_in_url()),
        anchors: &anchors,
        client,
    };
    let server_name = ep.server_name().map_err(anyhow::Error::msg)?;
    let timeout = Duration::from_secs(args.timeout);
    let (findings, details, text) = probe(&setup, server_name, port, key, timeout)?;
    let details = Details {
        ca: ca_path.display().to_string(),
        ..details
    };
    report::print(&details, &text, &findings, args.json)
}

fn probe(
    setup: &Setup<'_>,
    server_name: ServerName<'static>,
    port: u16,
    key: Option<Arc<CertifiedKey>>,
    timeout: Duration,
) -> Result<(Vec<Finding>, Details, String)> {
    let about = &setup.about;
    let mut details = Details {
        endpoint: setup.ep.to_string(),
        address: None,
        ca: String::new(),
        handshake: None,
        server_chain: Vec::new(),
    };
    let mut findings = Vec::new();
    let mut text = String::new();

    let (tcp, addr) = match connect(setup.ep, port, timeout, about) {
        Ok(c) => c,
        Err(f) => return Ok((vec![f], details, text)),
    };
    details.address = Some(addr.to_string());
    tcp.set_write_timeout(Some(timeout))?;
    text.push_str(&format!("connected to {addr}\n"));

    let mut roots = RootCertStore::empty();
    for c in &setup.anchors.certs {
        roots.add(c.clone()).map_err(|e| {
            anyhow!(
                "`{}` cannot be trusted as a CA: {e}",
                setup.anchors.path.display()
            )
        })?;
    }
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| anyhow!("cannot build the certificate verifier: {e}"))?;
    let capture = Arc::new(Capture {
        inner,
        chain: Mutex::new(Vec::new()),
    });
    let auth = Arc::new(ClientAuth {
        key,
        requested: AtomicBool::new(false),
        hints: Mutex::new(Vec::new()),
    });
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(capture.clone())
        .with_client_cert_resolver(auth.clone());
    // What OTLP clients offer: gRPC needs h2; the HTTP receiver speaks both.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let mut conn = ClientConnection::new(Arc::new(config), server_name.clone())?;
    let mut wire = Wire::new(tcp);

    let started = Instant::now();
    let result = handshake(&mut conn, &mut wire, started + timeout);
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

    match stop {
        None => {}
        Some(stop) => findings.extend(diagnose(
            setup,
            &server_name,
            &chain,
            &wire,
            stop,
            requested,
            sent,
            &hints,
            timeout,
        )?),
    }
    if findings.is_empty() || conn.protocol_version().is_some() && !conn.is_handshaking() {
        let hs = Handshake {
            version: version_name(conn.protocol_version()),
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
        };
        if findings.is_empty() {
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
            match (requested, sent, accepted) {
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
        details.handshake = Some(hs);
    }
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
    if details.handshake.is_some() && setup.ep.scheme == Some(Scheme::Http) {
        findings.push(Finding::new(
            "plaintext-scheme",
            about,
            "the server speaks TLS, but `http://` makes SDKs send plaintext to it",
            setup.ep.fix(setup.dir, port, None),
        ));
    }
    Ok((findings, details, text))
}

/// Turns why the connection stopped into findings.
#[allow(clippy::too_many_arguments)]
fn diagnose(
    setup: &Setup<'_>,
    server_name: &ServerName<'_>,
    chain: &[CertificateDer<'static>],
    wire: &Wire,
    stop: Stop,
    requested: bool,
    sent: bool,
    hints: &[String],
    timeout: Duration,
) -> Result<Vec<Finding>> {
    let about = setup.about.as_str();
    let plaintext = || {
        let first = &wire.first;
        let shown = if first.starts_with(b"HTTP/") {
            format!(
                "it answered in plaintext HTTP (`{}`)",
                String::from_utf8_lossy(first)
                    .lines()
                    .next()
                    .unwrap_or_default()
            )
        } else if first.is_empty() {
            "it closed the connection without a TLS answer".to_string()
        } else {
            format!(
                "its first bytes ({}) are not TLS (an HTTP/2 frame from a plaintext gRPC server looks like this)",
                first
                    .iter()
                    .take(8)
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        };
        Finding::new(
            "not-tls",
            about,
            format!(
                "the server does not speak TLS: {shown}; its receiver has no tls: section, or a proxy in between ends TLS"
            ),
            format!(
                "give the receiver a tls: block with cert_file and key_file ({}), or, if plaintext is intended, use http://",
                report::command(setup.dir, &["config", "collector"])
            ),
        )
    };
    let findings = match stop {
        Stop::Tls(rustls::Error::InvalidCertificate(e)) => {
            let mut found = Vec::new();
            if let Some(leaf_der) = chain.first() {
                let x = read::parse_cert(leaf_der).ok();
                if let Some(x) = x {
                    let leaf = Leaf {
                        about: format!("the certificate of {about}"),
                        chain,
                        role: Role::Server,
                        reissue: Reissue::remote(setup.dir, &x),
                    };
                    found = verify::judge(
                        &leaf,
                        setup.anchors,
                        Some(Purpose::Server),
                        Some(server_name),
                        OffsetDateTime::now_utc(),
                    )?;
                    for f in &mut found {
                        f.fix =
                            format!("install on the server a certificate made with:\n{}", f.fix);
                        if f.code == "unknown-ca" {
                            f.fix.push_str(
                                "\nor, if the server's CA is the right one, probe (and configure the SDKs) with it: --ca FILE",
                            );
                        }
                    }
                }
            }
            if found.is_empty() {
                found.push(Finding::new(
                    "server-cert-refused",
                    about,
                    format!("rustls refuses the server's certificate: {e}"),
                    "inspect it: openssl s_client -connect HOST:PORT -showcerts",
                ));
            }
            found
        }
        Stop::Tls(rustls::Error::AlertReceived(_)) if requested && !sent => {
            vec![client_required(setup, hints)]
        }
        Stop::Tls(rustls::Error::AlertReceived(alert)) if requested && sent => {
            vec![client_rejected(setup, alert, hints)]
        }
        Stop::Closed if requested && !sent => vec![client_required(setup, hints)],
        Stop::Closed if requested && sent && !wire.first.is_empty() => {
            vec![Finding::new(
                "client-cert-rejected",
                about,
                "the server closed the connection after receiving the client certificate, without saying why",
                "check the Collector's log for the reason (e.g. \"tls: failed to verify certificate\")",
            )]
        }
        Stop::Tls(rustls::Error::AlertReceived(alert)) => vec![Finding::new(
            "handshake-refused",
            about,
            format!(
                "the server refused the handshake with the alert {}{}",
                alert_name(alert),
                match alert {
                    AlertDescription::ProtocolVersion =>
                        ": it offers no TLS version rustls accepts (1.2 or 1.3)",
                    AlertDescription::HandshakeFailure =>
                        ": no cipher suite or signature scheme in common",
                    AlertDescription::UnrecognisedName =>
                        ": it has no certificate for this name (SNI)",
                    AlertDescription::NoApplicationProtocol =>
                        ": it speaks neither h2 nor http/1.1",
                    _ => "",
                }
            ),
            "check the server's TLS settings (min_version, cipher_suites) and its log",
        )],
        Stop::Tls(_) | Stop::Closed if !wire.looks_like_tls() || wire.first.is_empty() => {
            vec![plaintext()]
        }
        Stop::Tls(e) => vec![Finding::new(
            "handshake-failed",
            about,
            format!("the TLS handshake failed: {e}"),
            "check the server's TLS settings and its log",
        )],
        Stop::Closed => vec![Finding::new(
            "handshake-failed",
            about,
            "the server closed the connection in the middle of the handshake",
            "check the server's TLS settings and its log",
        )],
        Stop::Timeout if wire.first.is_empty() => vec![Finding::new(
            "timeout",
            about,
            format!(
                "connected, but no TLS answer within {} s: the server may wait for plaintext, or be overloaded",
                timeout.as_secs()
            ),
            "check that the receiver has a tls: section, and the server's load",
        )],
        Stop::Timeout if !wire.looks_like_tls() => vec![plaintext()],
        Stop::Timeout => vec![Finding::new(
            "timeout",
            about,
            format!(
                "the handshake did not finish within {} s",
                timeout.as_secs()
            ),
            "check the server's load and anything in between (proxies)",
        )],
        Stop::Io(e) => vec![Finding::new(
            "connect-failed",
            about,
            format!("the connection failed: {e}"),
            "check the server and the network in between",
        )],
    };
    Ok(findings)
}

fn accepted_text(hints: &[String]) -> String {
    if hints.is_empty() {
        String::new()
    } else {
        format!(
            " (it accepts client certificates from: {})",
            hints.join("; ")
        )
    }
}

fn client_required(setup: &Setup<'_>, hints: &[String]) -> Finding {
    let dir = setup.dir;
    let (crt, key) = (dir.join("client.crt"), dir.join("client.key"));
    let fix = if crt.exists() && key.exists() {
        format!(
            "present one: otelpki probe {} --cert {} --key {}\n(for the SDKs: OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY)",
            setup.ep,
            report::quote(&crt.display().to_string()),
            report::quote(&key.display().to_string())
        )
    } else {
        format!(
            "issue one: {}\nthen present it with --cert and --key (for the SDKs: OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and _CLIENT_KEY)",
            report::command(dir, &["issue", "client", "--cn", "my-application"])
        )
    };
    Finding::new(
        "client-cert-required",
        &setup.about,
        format!(
            "the server requires a client certificate (mTLS: client_ca_file is set) and none was given{}",
            accepted_text(hints)
        ),
        fix,
    )
}

fn client_rejected(setup: &Setup<'_>, alert: AlertDescription, hints: &[String]) -> Finding {
    let (path, reissue, issuer) = match &setup.client {
        Some((p, r, i)) => (
            p.display().to_string(),
            r.command(Role::Client, None),
            i.clone(),
        ),
        None => (
            "the client certificate".into(),
            report::command(
                setup.dir,
                &["issue", "client", "--cn", "my-application", "--force"],
            ),
            String::new(),
        ),
    };
    let why = match alert {
        AlertDescription::UnknownCA => format!(
            "does not trust the CA that signed `{path}` (\"{issuer}\"): its client_ca_file holds another CA"
        ),
        AlertDescription::CertificateExpired => {
            format!("says `{path}` expired or is not yet valid")
        }
        AlertDescription::UnsupportedCertificate => format!(
            "refuses `{path}` for client authentication: a client certificate needs extKeyUsage clientAuth"
        ),
        AlertDescription::DecryptError => format!(
            "cannot verify the signature on `{path}`: a CA of the same name but another key signed it"
        ),
        AlertDescription::AccessDenied => {
            format!("accepted `{path}` but denies this client access (an authorization rule)")
        }
        other => format!(
            "rejected `{path}` (issued by \"{issuer}\") with the alert {}",
            alert_name(other)
        ),
    };
    Finding::new(
        "client-cert-rejected",
        &setup.about,
        format!("the server {why}{}", accepted_text(hints)),
        format!(
            "issue the client certificate from the CA in the server's client_ca_file:\n{reissue}\n(or set client_ca_file to the CA that signed it)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lookup that never answers is given up after the timeout; one that answers is used.
    #[test]
    fn waits_are_bounded() {
        let (hold, blocked) = std::sync::mpsc::channel::<()>();
        let stuck = within(Duration::from_millis(50), move || blocked.recv().is_ok());
        assert_eq!(stuck.unwrap(), None);
        drop(hold); // lets the left-behind thread end
        let quick = within(Duration::from_secs(30), || 42);
        assert_eq!(quick.unwrap(), Some(42));
    }
}
