//! The empty OTLP export that `probe` sends after the handshake, the way an exporter does:
//! OTLP/HTTP `POST /v1/traces` with `Content-Type: application/x-protobuf` and an empty body
//! (an ExportTraceServiceRequest without spans encodes to zero bytes), over HTTP/2 or HTTP/1.1
//! as the server chose in ALPN; or OTLP/gRPC `TraceService/Export` over HTTP/2, a gRPC frame
//! of length 0. The answer is recorded, never judged here: `diagnose` does that.
//!
//! hyper speaks HTTP over the rustls connection the handshake made (`tls::TlsIo`), on a
//! current-thread tokio runtime that exists only while the exchange runs.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderMap, HeaderValue, USER_AGENT};
use hyper::{Method, Response};
use rustls::ClientConnection;
use serde::Serialize;

use super::tls::{TlsIo, Trace};
use crate::endpoint::{Endpoint, Protocol};

/// The gRPC method an OTLP/gRPC trace exporter calls.
pub const GRPC_EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// The gRPC message: not compressed, length 0 (an empty ExportTraceServiceRequest).
const GRPC_EMPTY_MESSAGE: [u8; 5] = [0, 0, 0, 0, 0];
/// How much of the answer's body is kept (and shown).
const BODY_KEEP: usize = 512;
/// How much of a body is read at most, looking for its end (and a gRPC status in trailers).
const BODY_READ_LIMIT: usize = 64 * 1024;

/// The signal path OTLP/HTTP SDKs build from an endpoint URL's path: a base URL gets
/// `/v1/traces` appended (`https://gw:4318/otlp` -> `/otlp/v1/traces`); a URL that already
/// names a signal (`.../v1/traces`, `/v1/metrics`, `/v1/logs`) is used as it is, as the
/// per-signal variables are.
pub fn traces_path(url_path: &str) -> String {
    let signal = ["/v1/traces", "/v1/metrics", "/v1/logs"]
        .iter()
        .any(|s| url_path.ends_with(s));
    if signal {
        url_path.to_string()
    } else {
        format!("{}/v1/traces", url_path.trim_end_matches('/'))
    }
}

/// What `probe` sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub protocol: Protocol,
    /// The request path: the signal path for OTLP/HTTP, the gRPC method for OTLP/gRPC (whose
    /// endpoints have no path).
    pub path: String,
    /// `host:port`, as the Host header and HTTP/2's :authority carry it.
    pub authority: String,
}

impl Request {
    pub fn new(ep: &Endpoint, port: u16, protocol: Protocol) -> Request {
        let path = match protocol {
            Protocol::Grpc => GRPC_EXPORT_PATH.to_string(),
            Protocol::Http => traces_path(&ep.path),
        };
        Request {
            protocol,
            path,
            authority: ep.authority(port),
        }
    }
}

/// The exchange as it happened (docs/checking.md: `probe --json`, `exchange`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Exchange {
    /// As in OTEL_EXPORTER_OTLP_PROTOCOL: `grpc` or `http/protobuf`.
    pub protocol: &'static str,
    /// `HTTP/2` or `HTTP/1.1`.
    pub http_version: &'static str,
    pub method: &'static str,
    pub path: String,
    /// The HTTP status, once the answer's head came.
    pub status: Option<u16>,
    pub content_type: Option<String>,
    /// The first bytes of the answer's body, as text (invalid UTF-8 replaced).
    pub body: Option<String>,
    /// From the trailers, or from the headers of a trailers-only answer.
    pub grpc_status: Option<u32>,
    /// Percent-decoded, as gRPC sends it.
    pub grpc_message: Option<String>,
}

/// How the exchange ended.
#[derive(Debug, PartialEq)]
pub enum End {
    /// The whole answer came.
    Answered,
    /// No (whole) answer within the timeout.
    Timeout,
    /// The server closed the connection before answering in full.
    Closed,
    /// A TLS alert or error: a client certificate refused after the handshake, say.
    Tls(rustls::Error),
    /// The answer is not HTTP: the first plaintext bytes.
    NotHttp(Vec<u8>),
    /// Anything else, in hyper's words.
    Failed(String),
}

/// Sends the empty export over the connection `handshake` made and reads the answer, within
/// `timeout`. `http2`: the server chose `h2` in ALPN.
pub fn send(
    tcp: std::net::TcpStream,
    conn: ClientConnection,
    req: &Request,
    http2: bool,
    timeout: Duration,
) -> (Exchange, End) {
    let mut ex = Exchange {
        protocol: req.protocol.otel_name(),
        http_version: if http2 { "HTTP/2" } else { "HTTP/1.1" },
        method: "POST",
        path: req.path.clone(),
        ..Exchange::default()
    };
    let trace = Arc::new(Mutex::new(Trace::default()));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return (ex, End::Failed(format!("cannot start the exchange: {e}"))),
    };
    let result = runtime.block_on(async {
        let io = TlsIo::new(tcp, conn, trace.clone()).map_err(|e| Fail::Other(e.to_string()))?;
        tokio::time::timeout(timeout, exchange(&mut ex, io, req, http2))
            .await
            .map_err(|_| Fail::Timeout)?
    });
    drop(runtime);
    let end = match result {
        Ok(()) => End::Answered,
        Err(fail) => {
            let trace = trace.lock().map(|t| (t.first.clone(), t.tls_error.clone()));
            let (first, tls_error) = trace.unwrap_or_default();
            match (tls_error, fail) {
                (Some(e), _) => End::Tls(e),
                (None, Fail::Timeout) => End::Timeout,
                (None, Fail::Hyper(e)) if e.is_parse() => End::NotHttp(first),
                (None, Fail::Hyper(e)) if closed(&e) => End::Closed,
                (None, Fail::Hyper(e)) => End::Failed(chain_text(&e)),
                (None, Fail::Other(e)) => End::Failed(e),
            }
        }
    };
    (ex, end)
}

enum Fail {
    Hyper(hyper::Error),
    Timeout,
    Other(String),
}

impl From<hyper::Error> for Fail {
    fn from(e: hyper::Error) -> Fail {
        Fail::Hyper(e)
    }
}

/// Whether hyper's error means the server went away before answering in full.
fn closed(e: &hyper::Error) -> bool {
    if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
            );
        }
        if let Some(h2) = s.downcast_ref::<hyper::Error>() {
            return closed(h2);
        }
        source = s.source();
    }
    false
}

/// An error with its causes, one line.
fn chain_text(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// Runs hyper's connection tasks on the exchange's runtime.
#[derive(Clone, Copy)]
struct Spawn;

impl<F> hyper::rt::Executor<F> for Spawn
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        tokio::spawn(fut);
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

async fn exchange(ex: &mut Exchange, io: TlsIo, req: &Request, http2: bool) -> Result<(), Fail> {
    let grpc = req.protocol == Protocol::Grpc;
    let body = if grpc {
        Bytes::from_static(&GRPC_EMPTY_MESSAGE)
    } else {
        Bytes::new()
    };
    let mut builder = hyper::Request::builder()
        .method(Method::POST)
        .header(
            USER_AGENT,
            concat!("otelpki-probe/", env!("CARGO_PKG_VERSION")),
        )
        .header(CONTENT_LENGTH, body.len());
    builder = if grpc {
        builder
            .header(CONTENT_TYPE, "application/grpc")
            .header("te", "trailers")
    } else {
        builder.header(CONTENT_TYPE, "application/x-protobuf")
    };
    let build = |b: hyper::http::request::Builder| {
        b.body(Full::new(body.clone()))
            .map_err(|e| Fail::Other(format!("cannot build the request: {e}")))
    };
    let response: Response<Incoming> = if http2 {
        let request = build(builder.uri(format!("https://{}{}", req.authority, req.path)))?;
        let (mut send, conn) = hyper::client::conn::http2::Builder::new(Spawn)
            .handshake(io)
            .await?;
        tokio::spawn(conn);
        send.send_request(request).await?
    } else {
        let host = HeaderValue::from_str(&req.authority)
            .map_err(|e| Fail::Other(format!("cannot send the host name: {e}")))?;
        let request = build(builder.uri(req.path.as_str()).header(HOST, host))?;
        let (mut send, conn) = hyper::client::conn::http1::handshake(io).await?;
        tokio::spawn(conn);
        send.send_request(request).await?
    };
    ex.status = Some(response.status().as_u16());
    ex.content_type = header(response.headers(), "content-type");
    note_grpc(ex, response.headers());
    let mut body = response.into_body();
    let mut kept: Vec<u8> = Vec::new();
    let mut read = 0usize;
    while read < BODY_READ_LIMIT {
        let Some(frame) = body.frame().await else {
            break;
        };
        let frame = frame?;
        match frame.into_data() {
            Ok(data) => {
                read += data.len();
                let room = BODY_KEEP.saturating_sub(kept.len());
                kept.extend_from_slice(&data[..room.min(data.len())]);
                ex.body = Some(String::from_utf8_lossy(&kept).into_owned());
            }
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    note_grpc(ex, &trailers);
                }
            }
        }
    }
    Ok(())
}

fn note_grpc(ex: &mut Exchange, headers: &HeaderMap) {
    if let Some(status) = header(headers, "grpc-status") {
        ex.grpc_status = status.trim().parse().ok();
    }
    if let Some(message) = header(headers, "grpc-message") {
        ex.grpc_message = Some(percent_decode(&message));
    }
}

/// gRPC's grpc-message encoding: `%XX` for bytes outside printable ASCII and `%` itself.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_built_as_the_sdks_build_it() {
        assert_eq!(traces_path(""), "/v1/traces");
        assert_eq!(traces_path("/"), "/v1/traces");
        assert_eq!(traces_path("/otlp"), "/otlp/v1/traces");
        assert_eq!(traces_path("/otlp/"), "/otlp/v1/traces");
        assert_eq!(traces_path("/v1/traces"), "/v1/traces");
        assert_eq!(traces_path("/otlp/v1/traces"), "/otlp/v1/traces");
        assert_eq!(traces_path("/v1/metrics"), "/v1/metrics");
        assert_eq!(traces_path("/v1/logs"), "/v1/logs");
        assert_eq!(traces_path("/v1"), "/v1/v1/traces");
    }

    #[test]
    fn requests_carry_the_protocols_path_and_authority() {
        let ep = crate::endpoint::parse("https://[::1]:4318/otlp").unwrap();
        let http = Request::new(&ep, 4318, Protocol::Http);
        assert_eq!(http.path, "/otlp/v1/traces");
        assert_eq!(http.authority, "[::1]:4318");
        let grpc = Request::new(&ep, 4317, Protocol::Grpc);
        assert_eq!(grpc.path, GRPC_EXPORT_PATH);
        assert_eq!(grpc.authority, "[::1]:4318");
        let ep = crate::endpoint::parse("collector:4317").unwrap();
        assert_eq!(
            Request::new(&ep, 4317, Protocol::Grpc).authority,
            "collector:4317"
        );
    }

    #[test]
    fn grpc_messages_are_percent_decoded() {
        assert_eq!(percent_decode("plain text"), "plain text");
        assert_eq!(percent_decode("100%25 sure"), "100% sure");
        assert_eq!(percent_decode("caf%C3%A9"), "café");
        assert_eq!(percent_decode("bad %zz and %4"), "bad %zz and %4");
        let mut ex = Exchange::default();
        let mut h = HeaderMap::new();
        h.insert("grpc-status", HeaderValue::from_static(" 16"));
        h.insert("grpc-message", HeaderValue::from_static("no%20token"));
        note_grpc(&mut ex, &h);
        assert_eq!(ex.grpc_status, Some(16));
        assert_eq!(ex.grpc_message.as_deref(), Some("no token"));
    }
}
