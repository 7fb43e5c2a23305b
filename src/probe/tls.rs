//! rustls under `probe`: the verifier that keeps the server's chain, the resolver that notes
//! whether the server asked for a client certificate, the handshake over `Wire` with a
//! deadline, and `TlsIo`, the same connection handed to hyper for the OTLP exchange.

use std::io::{self, Read};
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use anyhow::{Result, anyhow};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{
    AlertDescription, ClientConfig, ClientConnection, DigitallySignedStruct, DistinguishedName,
    ProtocolVersion, RootCertStore, SignatureScheme,
};
use tokio::io::AsyncWrite;
use x509_parser::prelude::FromDer;

use super::net::{Wire, is_closed};
use crate::judge::Anchors;
use crate::read;

/// A ServerCertVerifier that keeps the chain the server presented, then lets rustls's own
/// WebPkiServerVerifier decide.
#[derive(Debug)]
pub struct Capture {
    inner: Arc<WebPkiServerVerifier>,
    pub chain: Mutex<Vec<CertificateDer<'static>>>,
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
pub struct ClientAuth {
    pub key: Option<Arc<CertifiedKey>>,
    pub requested: AtomicBool,
    pub hints: Mutex<Vec<String>>,
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
        Ok((_, name)) => crate::text::printable(&name.to_string()).into_owned(),
        Err(_) => "(unreadable name)".into(),
    }
}

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The client certificate and key, checked to belong together.
pub fn client_key(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>> {
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

/// The client side as an SDK sets it up: trusting `anchors`, presenting `key` if the server
/// asks, offering `alpn`. Returns the config with its chain capture and client-auth notes.
pub fn client_config(
    anchors: &Anchors,
    key: Option<Arc<CertifiedKey>>,
    alpn: &[&[u8]],
) -> Result<(Arc<ClientConfig>, Arc<Capture>, Arc<ClientAuth>)> {
    let mut roots = RootCertStore::empty();
    for c in &anchors.certs {
        roots.add(c.clone()).map_err(|e| {
            anyhow!(
                "`{}` cannot be trusted as a CA: {e}",
                anchors.path.display()
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
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok((Arc::new(config), capture, auth))
}

/// Why a read or the handshake stopped.
#[derive(Debug)]
pub enum Stop {
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

/// Reads once (bounded by `deadline`) and processes what came. Application data (an HTTP/2
/// server's SETTINGS, say) stays in rustls for the exchange that follows.
pub fn read_once(
    conn: &mut ClientConnection,
    wire: &mut Wire,
    deadline: Instant,
) -> Result<(), Stop> {
    let left = deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or(Stop::Timeout)?;
    wire.tcp.set_read_timeout(Some(left)).map_err(Stop::Io)?;
    match conn.read_tls(wire) {
        Ok(0) => Err(Stop::Closed),
        Ok(_) => match conn.process_new_packets() {
            Ok(_) => Ok(()),
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

pub fn handshake(
    conn: &mut ClientConnection,
    wire: &mut Wire,
    deadline: Instant,
) -> Result<(), Stop> {
    loop {
        flush(conn, wire)?;
        if !conn.is_handshaking() {
            return Ok(());
        }
        read_once(conn, wire, deadline)?;
    }
}

pub fn version_name(v: Option<ProtocolVersion>) -> String {
    match v {
        Some(ProtocolVersion::TLSv1_3) => "TLSv1.3".into(),
        Some(ProtocolVersion::TLSv1_2) => "TLSv1.2".into(),
        Some(other) => format!("{other:?}"),
        None => "unknown".into(),
    }
}

pub fn alert_name(a: AlertDescription) -> String {
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

/// What the exchange saw below HTTP: the first plaintext bytes (for a server that answers
/// something other than HTTP) and the TLS error that ended it, if one did (an alert).
#[derive(Debug, Default)]
pub struct Trace {
    pub first: Vec<u8>,
    pub tls_error: Option<rustls::Error>,
}

/// How many plaintext bytes `Trace` keeps.
const TRACE_BYTES: usize = 256;

/// The connection made by `handshake`, moved onto tokio's reactor for hyper: rustls does the
/// record layer, the socket is read and written only when tokio says it is ready. Plaintext
/// that arrived during the handshake (an HTTP/2 server's SETTINGS) is read first.
pub struct TlsIo {
    tcp: tokio::net::TcpStream,
    conn: ClientConnection,
    trace: Arc<Mutex<Trace>>,
}

impl TlsIo {
    /// Must be called within a tokio runtime (the socket registers with its reactor).
    pub fn new(
        tcp: std::net::TcpStream,
        conn: ClientConnection,
        trace: Arc<Mutex<Trace>>,
    ) -> io::Result<TlsIo> {
        tcp.set_nonblocking(true)?;
        Ok(TlsIo {
            tcp: tokio::net::TcpStream::from_std(tcp)?,
            conn,
            trace,
        })
    }

    /// Writes what rustls has to send until it is all sent or the socket is full.
    fn push(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut Ready(&self.tcp)) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready!(self.tcp.poll_write_ready(cx))?;
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(()))
    }

    fn note(&self, plain: &[u8]) {
        if let Ok(mut t) = self.trace.lock() {
            let room = TRACE_BYTES.saturating_sub(t.first.len());
            t.first.extend_from_slice(&plain[..room.min(plain.len())]);
        }
    }
}

/// The tokio socket as std's Read and Write for rustls: WouldBlock when it is not ready.
struct Ready<'a>(&'a tokio::net::TcpStream);

impl io::Read for Ready<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

impl io::Write for Ready<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl hyper::rt::Read for TlsIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut plain = [0u8; 8192];
        loop {
            let want = plain.len().min(buf.remaining());
            match this.conn.reader().read(&mut plain[..want]) {
                Ok(n) => {
                    this.note(&plain[..n]);
                    buf.put_slice(&plain[..n]);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
            match this.conn.read_tls(&mut Ready(&this.tcp)) {
                // At the end of the stream, rustls's reader says how it ended (cleanly or not).
                Ok(_) => {
                    if let Err(e) = this.conn.process_new_packets() {
                        if let Ok(mut t) = this.trace.lock() {
                            t.tls_error = Some(e.clone());
                        }
                        let _ = this.push(cx);
                        return Poll::Ready(Err(io::Error::other(e)));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready!(this.tcp.poll_read_ready(cx))?;
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl hyper::rt::Write for TlsIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            let n = io::Write::write(&mut this.conn.writer(), buf)?;
            if n > 0 || buf.is_empty() {
                // Sent now if the socket takes it, else on the next write or flush.
                if let Poll::Ready(Err(e)) = this.push(cx) {
                    return Poll::Ready(Err(e));
                }
                return Poll::Ready(Ok(n));
            }
            // rustls's buffer is full: wait until some of it is sent.
            ready!(this.push(cx))?;
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().push(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.conn.send_close_notify();
        ready!(this.push(cx))?;
        Pin::new(&mut this.tcp).poll_shutdown(cx)
    }
}
