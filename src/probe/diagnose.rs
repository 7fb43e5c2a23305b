//! What `probe` saw, as findings: why the handshake stopped (a TLS alert, a plaintext server,
//! silence), and what the answer to the empty export means for an exporter (`verdict`: a
//! proxy's client-certificate check, auth, a wrong path, port or protocol, a down upstream).

use std::time::Duration;

use anyhow::Result;
use rustls::AlertDescription;
use rustls::pki_types::{CertificateDer, ServerName};
use time::OffsetDateTime;

use super::Setup;
use super::net::Wire;
use super::otlp::{End, Exchange};
use super::tls::{Stop, alert_name};
use crate::cert::Cert;
use crate::endpoint::{GRPC_PORT, HTTP_PORT, Protocol, protocol_name};
use crate::judge::{self, Leaf, Reissue};
use crate::model::Purpose;
use crate::profile::Role;
use crate::report::{self, Code, Finding};

/// nginx's words (ingress-nginx's too) when `ssl_verify_client` is on and no certificate came.
const NGINX_NO_CERT: &str = "No required SSL certificate was sent";
/// nginx's words when the client certificate does not verify.
const NGINX_CERT_ERROR: &str = "The SSL certificate error";

/// A plaintext server's first bytes, described: an HTTP/1.x answer is quoted, an HTTP/2
/// frame is named only when it is one, anything else is shown as it is.
pub fn first_bytes(first: &[u8]) -> String {
    let text_like = first
        .iter()
        .all(|b| b.is_ascii_graphic() || b" \r\n\t".contains(b));
    // An HTTP/2 frame header: 24-bit length, type, flags, stream; a server opens with SETTINGS
    // (type 4) on stream 0, its length a multiple of 6.
    let h2_settings = first.len() >= 9
        && first[3] == 4
        && first[5..9] == [0, 0, 0, 0]
        && (usize::from(first[2]) + (usize::from(first[1]) << 8)) % 6 == 0
        && first[0] == 0;
    let hex = first
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    if first.is_empty() {
        "it closed the connection without a TLS answer".to_string()
    } else if first.starts_with(b"HTTP/") || (text_like && b"HTTP/".starts_with(first)) {
        let line = String::from_utf8_lossy(first);
        format!(
            "it answered in plaintext HTTP (`{}`)",
            escape(line.lines().next().unwrap_or_default())
        )
    } else if text_like {
        format!(
            "it answered in plaintext (`{}`)",
            escape(
                String::from_utf8_lossy(first)
                    .lines()
                    .next()
                    .unwrap_or_default()
            )
        )
    } else if h2_settings {
        format!(
            "its first bytes ({hex}) are an HTTP/2 SETTINGS frame: a plaintext gRPC or HTTP/2 server"
        )
    } else {
        format!("its first bytes ({hex}) are not TLS")
    }
}

/// Control characters shown as escapes, so a server's text cannot drive the terminal.
fn escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

fn plaintext(setup: &Setup<'_>, first: &[u8]) -> Finding {
    Finding::new(
        Code::NotTls,
        &setup.about,
        format!(
            "the server does not speak TLS: {}; its receiver has no tls: section, or a proxy in between ends TLS",
            first_bytes(first)
        ),
        format!(
            "give the receiver a tls: block with cert_file and key_file ({}), or, if plaintext is intended, use http://",
            report::command(setup.dir, &["config", "collector"])
        ),
    )
}

/// Turns why the handshake stopped into findings.
#[allow(clippy::too_many_arguments)]
pub fn handshake(
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
    let findings = match stop {
        Stop::Tls(rustls::Error::InvalidCertificate(e)) => {
            let mut found = Vec::new();
            if let Some(leaf_der) = chain.first() {
                if let Ok(cert) = Cert::parse(leaf_der) {
                    let leaf = Leaf {
                        about: format!("the certificate of {about}"),
                        cert: &cert,
                        intermediates: &chain[1..],
                        role: Role::Server,
                        reissue: Reissue::remote(setup.dir, &cert),
                    };
                    found = judge::judge(
                        &leaf,
                        setup.anchors,
                        Some(Purpose::Server),
                        Some(server_name),
                        OffsetDateTime::now_utc(),
                    )?;
                    for f in &mut found {
                        f.fix =
                            format!("install on the server a certificate made with:\n{}", f.fix);
                        if f.code == Code::UnknownCa {
                            f.fix.push_str(
                                "\nor, if the server's CA is the right one, probe (and configure the SDKs) with it: --ca FILE",
                            );
                        }
                    }
                }
            }
            if found.is_empty() {
                found.push(Finding::new(
                    Code::ServerCertRefused,
                    about,
                    format!("rustls refuses the server's certificate: {e}"),
                    "inspect it: openssl s_client -connect HOST:PORT -showcerts",
                ));
            }
            found
        }
        Stop::Tls(rustls::Error::AlertReceived(AlertDescription::NoApplicationProtocol))
            if setup.otlp == Some(Protocol::Grpc) =>
        {
            vec![no_h2(
                setup,
                "refused ALPN `h2` (alert no_application_protocol)",
            )]
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
                Code::ClientCertRejected,
                about,
                "the server closed the connection after receiving the client certificate, without saying why",
                "check the Collector's log for the reason (e.g. \"tls: failed to verify certificate\")",
            )]
        }
        Stop::Tls(rustls::Error::AlertReceived(alert)) => vec![Finding::new(
            Code::HandshakeRefused,
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
            vec![plaintext(setup, &wire.first)]
        }
        Stop::Tls(e) => vec![Finding::new(
            Code::HandshakeFailed,
            about,
            format!("the TLS handshake failed: {e}"),
            "check the server's TLS settings and its log",
        )],
        Stop::Closed => vec![Finding::new(
            Code::HandshakeFailed,
            about,
            "the server closed the connection in the middle of the handshake",
            "check the server's TLS settings and its log",
        )],
        Stop::Timeout if wire.first.is_empty() => vec![Finding::new(
            Code::Timeout,
            about,
            format!(
                "connected, but no TLS answer within {} s: the server may wait for plaintext, or be overloaded",
                timeout.as_secs()
            ),
            "check that the receiver has a tls: section, and the server's load",
        )],
        Stop::Timeout if !wire.looks_like_tls() => vec![plaintext(setup, &wire.first)],
        Stop::Timeout => vec![Finding::new(
            Code::Timeout,
            about,
            format!(
                "the handshake did not finish within {} s",
                timeout.as_secs()
            ),
            "check the server's load and anything in between (proxies)",
        )],
        Stop::Io(e) => vec![Finding::new(
            Code::ConnectFailed,
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

/// How to present a client certificate: the one in DIR, or a new one.
fn present_one(setup: &Setup<'_>) -> String {
    let dir = setup.dir;
    let (crt, key) = (dir.join("client.crt"), dir.join("client.key"));
    if crt.exists() && key.exists() {
        let (url, crt, key) = (
            setup.ep.to_string(),
            crt.display().to_string(),
            key.display().to_string(),
        );
        let mut args = vec!["probe", url.as_str(), "--cert", &crt, "--key", &key];
        if let Some(p) = setup.stated {
            args.extend(["--protocol", p.receiver_key()]);
        }
        format!(
            "present one: {}\n(for the SDKs: OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY)",
            report::command(dir, &args)
        )
    } else {
        format!(
            "issue one: {}\nthen present it with --cert and --key (for the SDKs: OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and _CLIENT_KEY)",
            report::command(dir, &["issue", "client", "--cn", "my-application"])
        )
    }
}

fn client_required(setup: &Setup<'_>, hints: &[String]) -> Finding {
    Finding::new(
        Code::ClientCertRequired,
        &setup.about,
        format!(
            "the server requires a client certificate (mTLS: client_ca_file is set) and none was given{}",
            accepted_text(hints)
        ),
        present_one(setup),
    )
}

/// The client certificate's path, the command that issues it again, and its issuer.
fn client_cert(setup: &Setup<'_>) -> (String, String, String) {
    match &setup.client {
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
    }
}

fn client_rejected(setup: &Setup<'_>, alert: AlertDescription, hints: &[String]) -> Finding {
    let (path, reissue, issuer) = client_cert(setup);
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
        Code::ClientCertRejected,
        &setup.about,
        format!("the server {why}{}", accepted_text(hints)),
        format!(
            "issue the client certificate from the CA in the server's client_ca_file:\n{reissue}\n(or set client_ca_file to the CA that signed it)"
        ),
    )
}

/// gRPC cannot pass: the server does not speak HTTP/2 (`how`: what it did in ALPN).
pub fn no_h2(setup: &Setup<'_>, how: &str) -> Finding {
    Finding::new(
        Code::GrpcWithoutH2,
        &setup.about,
        format!(
            "OTLP/gRPC needs HTTP/2, but the server {how}: it speaks HTTP/1.1 only, and gRPC exporters refuse the connection"
        ),
        format!(
            "if this is the Collector's OTLP/HTTP receiver (port {HTTP_PORT}), probe with --protocol http and give the SDKs OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf;\nfor a proxy in front of the gRPC receiver, turn HTTP/2 on (nginx: listen ... ssl http2; then grpc_pass grpcs://COLLECTOR:{GRPC_PORT})"
        ),
    )
}

/// What an answer to the empty export means for an exporter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx (OTLP/HTTP), or gRPC OK.
    Accepted,
    /// A proxy checked client certificates after the handshake and got none.
    CertMissing,
    /// A proxy checked the client certificate after the handshake and refused it.
    CertRefused,
    /// 401/403, gRPC UNAUTHENTICATED/PERMISSION_DENIED: credentials wanted.
    Auth,
    /// 404/405, gRPC UNIMPLEMENTED, or a non-gRPC answer to gRPC: no OTLP receiver there.
    NotOtlp,
    /// 415: OTLP/HTTP sent to a gRPC receiver, or the reverse.
    WrongProtocol,
    /// 502/503/504, gRPC UNAVAILABLE: a proxy's upstream is down.
    UpstreamDown,
    /// Anything else: shown as it is.
    Unexpected,
}

pub fn verdict(ex: &Exchange) -> Verdict {
    let grpc = ex.protocol == Protocol::Grpc.otel_name();
    let body = ex.body.as_deref().unwrap_or("");
    let Some(status) = ex.status else {
        return Verdict::Unexpected;
    };
    match status {
        // nginx's own codes for these, when a configuration exposes them.
        496 => Verdict::CertMissing,
        495 => Verdict::CertRefused,
        400 if body.contains(NGINX_NO_CERT) => Verdict::CertMissing,
        400 if body.contains(NGINX_CERT_ERROR) => Verdict::CertRefused,
        401 | 403 => Verdict::Auth,
        404 | 405 => Verdict::NotOtlp,
        415 => Verdict::WrongProtocol,
        502..=504 => Verdict::UpstreamDown,
        200 if grpc => grpc_verdict(ex),
        200..=299 if !grpc => Verdict::Accepted,
        _ => Verdict::Unexpected,
    }
}

/// An HTTP 200 answer to gRPC: the gRPC status decides.
fn grpc_verdict(ex: &Exchange) -> Verdict {
    let is_grpc = ex
        .content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("application/grpc"));
    match ex.grpc_status {
        Some(0) => Verdict::Accepted,
        Some(7 | 16) => Verdict::Auth,
        Some(12) => Verdict::NotOtlp,
        Some(14) => Verdict::UpstreamDown,
        Some(_) => Verdict::Unexpected,
        None if !is_grpc => Verdict::NotOtlp,
        None => Verdict::Unexpected,
    }
}

/// gRPC's status codes by name.
fn grpc_code_name(code: u32) -> &'static str {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or("unknown code")
}

/// A body's gist: an HTML page's title (nginx puts its words there), else its first line.
pub fn summary(body: &str) -> String {
    let lower = body.to_ascii_lowercase();
    let gist = match (lower.find("<title>"), lower.find("</title>")) {
        (Some(a), Some(b)) if a + 7 <= b => &body[a + 7..b],
        _ => body
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or(""),
    };
    let gist: String = escape(gist.trim()).chars().take(160).collect();
    gist
}

/// The answer in one line: `404 Not Found: "..."`, with the gRPC status if any.
pub fn answer_text(ex: &Exchange) -> String {
    let mut text = match ex.status {
        Some(s) => {
            let reason = hyper::StatusCode::from_u16(s)
                .ok()
                .and_then(|c| c.canonical_reason())
                .unwrap_or("");
            format!("HTTP {s} {reason}").trim_end().to_string()
        }
        None => "no HTTP status".to_string(),
    };
    if let Some(code) = ex.grpc_status {
        text.push_str(&format!(", grpc-status {code} {}", grpc_code_name(code)));
        if let Some(m) = ex.grpc_message.as_deref().filter(|m| !m.is_empty()) {
            text.push_str(&format!(" (\"{}\")", escape(m)));
        }
    }
    // A body in words (an error page, a message); a protobuf or gRPC answer is not shown.
    let words = ex
        .body
        .as_deref()
        .filter(|b| !b.chars().any(|c| c.is_control() && !c.is_whitespace()));
    let gist = words.map(summary).unwrap_or_default();
    if !gist.is_empty() {
        text.push_str(&format!(": \"{gist}\""));
    }
    text
}

/// The findings for the exchange's end and answer, and what the answer says about the client
/// certificate (`Some(false)`: refused).
pub fn exchange(
    setup: &Setup<'_>,
    ex: &Exchange,
    end: &End,
    requested: bool,
    sent: bool,
    hints: &[String],
    timeout: Duration,
) -> (Vec<Finding>, Option<bool>) {
    let about = setup.about.as_str();
    let request = format!("`POST {}` over {}", ex.path, ex.http_version);
    let finding = match end {
        End::Answered => return answer(setup, ex, sent, hints),
        End::Timeout => Finding::new(
            Code::Timeout,
            about,
            format!(
                "the TLS handshake succeeded, but the server did not answer the empty export ({request}) within {} s{}",
                timeout.as_secs(),
                match ex.status {
                    Some(_) => format!(" (it began: {}; the rest never came)", answer_text(ex)),
                    None => String::new(),
                }
            ),
            "check the server's log and load; a proxy waits for the Collector behind it up to its own timeout (nginx: proxy_read_timeout, grpc_read_timeout), so check the Collector too",
        ),
        End::Closed => Finding::new(
            Code::NoAnswer,
            about,
            format!(
                "the server closed the connection without answering the empty export ({request}){}",
                if sent {
                    "; a server that refuses the client certificate after a TLS 1.3 handshake may do that"
                } else {
                    ""
                }
            ),
            "check the server's log (the Collector's, or the proxy's error.log) for why it dropped the request",
        ),
        End::Tls(rustls::Error::AlertReceived(alert)) if requested && sent => {
            return (vec![client_rejected(setup, *alert, hints)], Some(false));
        }
        End::Tls(rustls::Error::AlertReceived(_)) if requested && !sent => {
            return (vec![client_required(setup, hints)], None);
        }
        End::Tls(e) => Finding::new(
            Code::UnexpectedAnswer,
            about,
            format!("the TLS connection failed during the empty export ({request}): {e}"),
            "check the server's log for why it ended the connection",
        ),
        End::NotHttp(first) => Finding::new(
            Code::UnexpectedAnswer,
            about,
            format!(
                "the server's answer to the empty export ({request}) is not HTTP: {}",
                match first.is_empty() {
                    true => "it sent nothing readable".to_string(),
                    false => format!(
                        "`{}`",
                        escape(&String::from_utf8_lossy(&first[..first.len().min(64)]))
                    ),
                }
            ),
            "check that an OTLP receiver (or a proxy in front of one) listens there, not another TLS service",
        ),
        End::Failed(e) => Finding::new(
            Code::UnexpectedAnswer,
            about,
            format!("the empty export ({request}) failed: {}", escape(e)),
            "check the server's log",
        ),
    };
    (vec![finding], None)
}

/// The findings for a whole answer.
fn answer(
    setup: &Setup<'_>,
    ex: &Exchange,
    sent: bool,
    hints: &[String],
) -> (Vec<Finding>, Option<bool>) {
    let about = setup.about.as_str();
    let said = answer_text(ex);
    let path = &ex.path;
    let grpc = ex.protocol == Protocol::Grpc.otel_name();
    let (name, other) = if grpc {
        (Protocol::Grpc, Protocol::Http)
    } else {
        (Protocol::Http, Protocol::Grpc)
    };
    let config_env = |p: Protocol| {
        let url = setup.ep.https_url(p.port(), Some(p));
        report::command(
            setup.dir,
            &[
                "config",
                "env",
                "--endpoint",
                &url,
                "--protocol",
                p.receiver_key(),
            ],
        )
    };
    let finding = match verdict(ex) {
        Verdict::Accepted => return (Vec::new(), sent.then_some(true)),
        Verdict::CertMissing => {
            let f = Finding::new(
                Code::ClientCertRequired,
                about,
                format!(
                    "the proxy in front requires a client certificate and none was given: it completed the TLS handshake, then answered {said} (nginx: ssl_verify_client){}",
                    accepted_text(hints)
                ),
                present_one(setup),
            );
            return (vec![f], None);
        }
        Verdict::CertRefused => {
            let (cert, reissue, issuer) = client_cert(setup);
            let foreign = !hints.is_empty() && !issuer.is_empty() && !hints.contains(&issuer);
            let f = Finding::new(
                Code::ClientCertRejected,
                about,
                format!(
                    "the proxy in front refused `{cert}` (issued by \"{issuer}\"): it completed the TLS handshake, then answered {said}; {}{}",
                    if foreign {
                        "the certificate does not chain to the CA in its ssl_client_certificate"
                    } else {
                        "the certificate does not chain to the CA in its ssl_client_certificate, has expired, or lacks clientAuth"
                    },
                    accepted_text(hints)
                ),
                format!(
                    "issue the client certificate from the CA the proxy trusts (nginx: ssl_client_certificate):\n{reissue}\n(or set ssl_client_certificate to the CA that signed it)"
                ),
            );
            return (vec![f], sent.then_some(false));
        }
        Verdict::Auth => Finding::new(
            Code::AuthRequired,
            about,
            format!(
                "the server wants credentials: it answered {said}; an auth extension on the receiver (bearertokenauth, oidc, basicauth) or the proxy in front guards it"
            ),
            "give the SDKs the header it expects: OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer%20TOKEN (values percent-encoded); probe sends no credentials, so it reports this as long as the receiver wants them",
        ),
        Verdict::NotOtlp => {
            let mut fix = Vec::new();
            if grpc {
                fix.push(format!(
                    "if this is the Collector's OTLP/HTTP receiver (port {HTTP_PORT}), probe with --protocol http and give the SDKs http/protobuf: {}",
                    config_env(Protocol::Http)
                ));
                fix.push(format!(
                    "the OTLP/gRPC receiver listens on port {GRPC_PORT} and serves traces only when a traces pipeline uses it; behind nginx, grpc_pass it in a location that matches /opentelemetry.proto.collector.trace.v1.TraceService/"
                ));
            } else {
                let base = setup.ep.path.trim_end_matches('/');
                if !base.is_empty() && format!("{base}/") != "/" && !base.ends_with("/v1/traces") {
                    let mut root = setup.ep.clone();
                    root.path = String::new();
                    fix.push(format!(
                        "the Collector's OTLP/HTTP receiver serves /v1/traces at its root: without a proxy that strips `{base}`, give the SDKs the URL without it:\n{}",
                        root.fix(setup.dir, setup.port, Some(Protocol::Http))
                    ));
                }
                if setup.port == GRPC_PORT {
                    fix.push(format!(
                        "port {GRPC_PORT} is OTLP/gRPC's: probe with --protocol grpc, or use OTLP/HTTP's port {HTTP_PORT}"
                    ));
                }
                fix.push(format!(
                    "behind a proxy, route `{path}` to the Collector's OTLP/HTTP receiver (nginx: location /v1/ {{ proxy_pass https://COLLECTOR:{HTTP_PORT}; }})"
                ));
            }
            Finding::new(
                Code::NotOtlpReceiver,
                about,
                format!(
                    "no {} receiver takes `POST {path}` here: it answered {said}",
                    protocol_name(name)
                ),
                fix.join("\n"),
            )
        }
        Verdict::WrongProtocol => Finding::new(
            Code::WrongProtocol,
            about,
            format!(
                "the server does not take {} ({}) at `POST {path}`: it answered {said}; it looks like an {} receiver",
                protocol_name(name),
                if grpc {
                    "application/grpc"
                } else {
                    "application/x-protobuf"
                },
                protocol_name(other)
            ),
            format!(
                "probe with --protocol {}, and give the SDKs OTEL_EXPORTER_OTLP_PROTOCOL={}: {}\nor use the {} receiver's port {}",
                other.receiver_key(),
                other.otel_name(),
                config_env(other),
                protocol_name(name),
                name.port()
            ),
        ),
        Verdict::UpstreamDown => Finding::new(
            Code::UpstreamDown,
            about,
            format!(
                "the proxy in front answered {said}: it cannot reach the Collector behind it (down or restarting, or the proxy's upstream address, port or TLS settings are wrong)"
            ),
            "check the proxy's upstream (nginx: proxy_pass or grpc_pass, and its error.log says why) and that the Collector runs; then probe the Collector itself: otelpki probe https://COLLECTOR:PORT",
        ),
        Verdict::Unexpected => Finding::new(
            Code::UnexpectedAnswer,
            about,
            format!(
                "the server answered the empty export (`POST {path}`) with {said}: an exporter counts that as a failed export"
            ),
            "check the server's log (or the proxy's) for why it answers this",
        ),
    };
    (vec![finding], sent.then_some(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, body: &str) -> Exchange {
        Exchange {
            protocol: Protocol::Http.otel_name(),
            http_version: "HTTP/1.1",
            method: "POST",
            path: "/v1/traces".into(),
            status: Some(status),
            content_type: Some("text/html".into()),
            body: (!body.is_empty()).then(|| body.to_string()),
            grpc_status: None,
            grpc_message: None,
        }
    }

    fn grpc(status: u16, content_type: &str, grpc_status: Option<u32>) -> Exchange {
        Exchange {
            protocol: Protocol::Grpc.otel_name(),
            http_version: "HTTP/2",
            path: super::super::otlp::GRPC_EXPORT_PATH.into(),
            content_type: Some(content_type.into()),
            grpc_status,
            ..http(status, "")
        }
    }

    /// A Setup for `url` in DIR `certs`, with a client certificate issued by `issuer`.
    fn with_setup<T>(url: &str, issuer: Option<&str>, f: impl FnOnce(&Setup<'_>) -> T) -> T {
        let ep = crate::endpoint::parse(url).unwrap();
        let anchors = crate::judge::Anchors {
            path: "certs/ca.crt".into(),
            certs: Vec::new(),
        };
        let reissue = Reissue {
            dir: "certs".into(),
            stem: "alien".into(),
            cn: Some("alien".into()),
            org: None,
            names: Vec::new(),
            ca: None,
        };
        let cert = std::path::PathBuf::from("certs/alien.crt");
        let setup = Setup {
            dir: std::path::Path::new("certs"),
            port: ep.port.unwrap_or(443),
            about: "endpoint".into(),
            anchors: &anchors,
            client: issuer.map(|i| (cert.as_path(), reissue, i.to_string())),
            otlp: Some(Protocol::Http),
            stated: None,
            ep: &ep,
        };
        f(&setup)
    }

    /// The one finding of an answered exchange, with what it says of the client certificate.
    fn answer_of(
        s: &Setup<'_>,
        ex: &Exchange,
        requested: bool,
        sent: bool,
        hints: &[String],
    ) -> (Finding, Option<bool>) {
        one(exchange(
            s,
            ex,
            &End::Answered,
            requested,
            sent,
            hints,
            Duration::from_secs(3),
        ))
    }

    fn one(found: (Vec<Finding>, Option<bool>)) -> (Finding, Option<bool>) {
        assert_eq!(found.0.len(), 1, "{found:?}");
        (found.0[0].clone(), found.1)
    }

    const NGINX_400_NO_CERT: &str = "<html>\r\n<head><title>400 No required SSL certificate was sent</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n";
    const NGINX_400_CERT_ERROR: &str =
        "<html>\r\n<head><title>400 The SSL certificate error</title></head>\r\n";

    #[test]
    fn every_http_status_has_its_verdict() {
        use Verdict::*;
        for (status, body, want) in [
            (200, "", Accepted),
            (202, "", Accepted),
            (204, "", Accepted),
            (299, "", Accepted),
            (300, "", Unexpected),
            (199, "", Unexpected),
            (400, NGINX_400_NO_CERT, CertMissing),
            (400, NGINX_400_CERT_ERROR, CertRefused),
            (400, "bad request", Unexpected),
            (496, "", CertMissing),
            (495, "", CertRefused),
            (401, "", Auth),
            (403, "", Auth),
            (404, "", NotOtlp),
            (405, "", NotOtlp),
            (415, "", WrongProtocol),
            (502, "", UpstreamDown),
            (503, "", UpstreamDown),
            (504, "", UpstreamDown),
            (500, "", Unexpected),
            (501, "", Unexpected),
            (505, "", Unexpected),
            (429, "", Unexpected),
            (413, "", Unexpected),
        ] {
            assert_eq!(verdict(&http(status, body)), want, "{status} {body}");
        }
        let mut none = http(200, "");
        none.status = None;
        assert_eq!(verdict(&none), Unexpected);
    }

    #[test]
    fn every_grpc_answer_has_its_verdict() {
        use Verdict::*;
        let g = "application/grpc";
        for (status, ct, code, want) in [
            (200, g, Some(0), Accepted),
            (200, "application/grpc+proto", Some(0), Accepted),
            (200, g, Some(16), Auth),
            (200, g, Some(7), Auth),
            (200, g, Some(12), NotOtlp),
            (200, g, Some(14), UpstreamDown),
            (200, g, Some(13), Unexpected),
            (200, g, Some(2), Unexpected),
            (200, g, None, Unexpected),
            (200, "text/plain", None, NotOtlp),
            (201, g, Some(0), Unexpected),
            (204, g, None, Unexpected),
            (404, "text/plain", None, NotOtlp),
            (415, "text/plain", None, WrongProtocol),
            (401, g, None, Auth),
            (502, "text/html", None, UpstreamDown),
        ] {
            assert_eq!(
                verdict(&grpc(status, ct, code)),
                want,
                "{status} {ct} {code:?}"
            );
        }
        let mut nginx = grpc(400, "text/html", None);
        nginx.body = Some(NGINX_400_NO_CERT.into());
        assert_eq!(verdict(&nginx), CertMissing);
        nginx.body = Some(NGINX_400_CERT_ERROR.into());
        assert_eq!(verdict(&nginx), CertRefused);
        let mut missing_type = grpc(200, "", None);
        missing_type.content_type = None;
        assert_eq!(verdict(&missing_type), NotOtlp);
    }

    #[test]
    fn answers_are_told_in_one_line() {
        assert_eq!(
            answer_text(&http(400, NGINX_400_NO_CERT)),
            "HTTP 400 Bad Request: \"400 No required SSL certificate was sent\""
        );
        assert_eq!(answer_text(&http(404, "")), "HTTP 404 Not Found");
        assert_eq!(answer_text(&http(599, "x")), "HTTP 599: \"x\"");
        // The Collector's ExportTraceServiceResponse (an empty partial_success) is not words.
        assert_eq!(answer_text(&http(200, "\n\u{0}")), "HTTP 200 OK");
        let mut g = grpc(200, "application/grpc", Some(16));
        g.grpc_message = Some("missing\nauth".into());
        assert_eq!(
            answer_text(&g),
            "HTTP 200 OK, grpc-status 16 UNAUTHENTICATED (\"missing\\nauth\")"
        );
        assert_eq!(
            answer_text(&grpc(200, "application/grpc", Some(99))),
            "HTTP 200 OK, grpc-status 99 unknown code"
        );
        let mut none = http(200, "");
        none.status = None;
        assert_eq!(answer_text(&none), "no HTTP status");
        assert_eq!(grpc_code_name(0), "OK");
        assert_eq!(grpc_code_name(14), "UNAVAILABLE");
    }

    #[test]
    fn a_body_is_summed_up_by_its_title_or_first_line() {
        assert_eq!(
            summary(NGINX_400_CERT_ERROR),
            "400 The SSL certificate error"
        );
        assert_eq!(
            summary("\n\n  404 page not found\nmore"),
            "404 page not found"
        );
        assert_eq!(summary("<TITLE>Up</TITLE>"), "Up");
        assert_eq!(summary("</title><title>"), "</title><title>");
        assert_eq!(summary("\u{1b}[2J ok"), "\\u{1b}[2J ok");
        assert_eq!(summary(&"x".repeat(500)).len(), 160);
        assert_eq!(summary(""), "");
    }

    /// issue 9: a slow HTTP/1.1 reply is not an HTTP/2 frame.
    #[test]
    fn first_bytes_are_named_for_what_they_are() {
        assert!(first_bytes(b"").contains("closed the connection without a TLS answer"));
        assert_eq!(
            first_bytes(b"HTTP/1.1 400 Bad Request\r\nx"),
            "it answered in plaintext HTTP (`HTTP/1.1 400 Bad Request`)"
        );
        assert_eq!(first_bytes(b"HT"), "it answered in plaintext HTTP (`HT`)");
        assert_eq!(
            first_bytes(b"HTTP/"),
            "it answered in plaintext HTTP (`HTTP/`)"
        );
        assert_eq!(
            first_bytes(b"SSH-2.0-OpenSSH_9.2\r\n"),
            "it answered in plaintext (`SSH-2.0-OpenSSH_9.2`)"
        );
        let settings = [0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100];
        let said = first_bytes(&settings);
        assert!(
            said.contains("00 00 06 04") && said.contains("HTTP/2 SETTINGS"),
            "{said}"
        );
        let empty_settings = [0, 0, 0, 4, 0, 0, 0, 0, 0];
        assert!(first_bytes(&empty_settings).contains("SETTINGS"));
        // Not SETTINGS: a data frame, a stream other than 0, a length not a multiple of 6,
        // too short to be a frame header, a length over 64 KiB.
        for other in [
            &[0u8, 0, 6, 0, 0, 0, 0, 0, 0][..],
            &[0, 0, 6, 4, 0, 0, 0, 0, 1],
            &[0, 0, 7, 4, 0, 0, 0, 0, 0],
            &[0, 0, 6, 4, 0, 0, 0, 0],
            &[1, 0, 6, 4, 0, 0, 0, 0, 0],
            &[0, 1, 3, 4, 0, 0, 0, 0, 0],
        ] {
            let said = first_bytes(other);
            assert!(said.ends_with("are not TLS"), "{other:?}: {said}");
        }
        assert!(first_bytes(&[0, 1, 8, 4, 0, 0, 0, 0, 0]).contains("SETTINGS"));
    }

    #[test]
    fn each_answer_is_one_finding_with_its_fix() {
        let t = Duration::from_secs(3);
        let hints = vec!["CN=OTel CA".to_string()];
        with_setup("https://gw:4318/otlp", Some("CN=Foreign CA"), |s| {
            let ok = exchange(s, &http(200, ""), &End::Answered, true, true, &hints, t);
            assert_eq!(ok, (Vec::new(), Some(true)));
            let ok = exchange(s, &http(200, ""), &End::Answered, false, false, &[], t);
            assert_eq!(ok, (Vec::new(), None));

            let (f, accepted) = answer_of(s, &http(400, NGINX_400_CERT_ERROR), true, true, &hints);
            assert_eq!(
                (f.code.as_str(), accepted),
                ("client-cert-rejected", Some(false))
            );
            assert!(f.problem.contains("`certs/alien.crt`"), "{f:?}");
            assert!(
                f.problem
                    .contains("does not chain to the CA in its ssl_client_certificate (it accepts"),
                "{f:?}"
            );
            assert!(
                f.fix
                    .contains("otelpki issue client --cn alien --name alien --force"),
                "{f:?}"
            );

            let (f, accepted) = answer_of(s, &http(400, NGINX_400_NO_CERT), true, false, &hints);
            assert_eq!((f.code.as_str(), accepted), ("client-cert-required", None));
            assert!(f.problem.contains("No required SSL certificate"), "{f:?}");

            let (f, _) = answer_of(s, &http(404, ""), false, false, &[]);
            assert_eq!(f.code.as_str(), "not-otlp-receiver");
            assert!(f.problem.contains("`POST /v1/traces`"), "{f:?}");
            assert!(f.fix.contains("strips `/otlp`"), "{f:?}");
            assert!(
                f.fix
                    .contains("OTEL_EXPORTER_OTLP_ENDPOINT=https://gw:4318\n"),
                "{f:?}"
            );
            assert!(!f.fix.contains("port 4317 is"), "{f:?}");

            let (f, _) = answer_of(s, &http(415, ""), false, false, &[]);
            assert_eq!(f.code.as_str(), "wrong-protocol");
            assert!(f.fix.starts_with("probe with --protocol grpc"), "{f:?}");
            assert!(
                f.fix
                    .contains("config env --endpoint https://gw:4317 --protocol grpc"),
                "{f:?}"
            );
            let (f, _) = answer_of(s, &grpc(415, "text/plain", None), false, false, &[]);
            assert!(f.fix.starts_with("probe with --protocol http"), "{f:?}");

            for (ex, code) in [
                (http(401, ""), "auth-required"),
                (http(503, ""), "upstream-down"),
                (http(500, "boom"), "unexpected-answer"),
            ] {
                let (f, accepted) = answer_of(s, &ex, true, true, &[]);
                assert_eq!((f.code.as_str(), accepted), (code, Some(true)), "{f:?}");
            }
        });
        // Same-named CAs cannot be told apart by name: the wider reason.
        with_setup("https://gw:4318", Some("CN=OTel CA"), |s| {
            let (f, _) = answer_of(s, &http(400, NGINX_400_CERT_ERROR), true, true, &hints);
            assert!(
                f.problem.contains("has expired, or lacks clientAuth"),
                "{f:?}"
            );
        });
        with_setup("https://gw:4317", None, |s| {
            let (f, _) = answer_of(s, &http(404, ""), false, false, &[]);
            assert!(f.fix.contains("port 4317 is OTLP/gRPC's"), "{f:?}");
            assert!(!f.fix.contains("strips"), "{f:?}");
            let (f, _) = one(exchange(
                s,
                &grpc(200, "application/grpc", Some(12)),
                &End::Answered,
                false,
                false,
                &[],
                t,
            ));
            assert_eq!(f.code.as_str(), "not-otlp-receiver");
            assert!(f.problem.starts_with("no OTLP/gRPC receiver"), "{f:?}");
            assert!(f.fix.contains("--protocol http"), "{f:?}");
        });
    }

    #[test]
    fn each_way_an_export_ends_without_an_answer_is_named() {
        let t = Duration::from_secs(2);
        with_setup("https://gw:4318", Some("CN=OTel CA"), |s| {
            let mut partial = http(200, "");
            let (f, _) = one(exchange(s, &partial, &End::Timeout, false, false, &[], t));
            assert_eq!(f.code.as_str(), "timeout");
            assert!(
                f.problem.contains("within 2 s (it began: HTTP 200 OK"),
                "{f:?}"
            );
            partial.status = None;
            let (f, _) = one(exchange(s, &partial, &End::Timeout, false, false, &[], t));
            assert!(f.problem.ends_with("over HTTP/1.1) within 2 s"), "{f:?}");

            let (f, _) = one(exchange(s, &partial, &End::Closed, true, true, &[], t));
            assert_eq!(f.code.as_str(), "no-answer");
            assert!(f.problem.contains("TLS 1.3"), "{f:?}");
            let (f, _) = one(exchange(s, &partial, &End::Closed, false, false, &[], t));
            assert!(!f.problem.contains("TLS 1.3"), "{f:?}");

            let alert = |a| End::Tls(rustls::Error::AlertReceived(a));
            let (f, accepted) = one(exchange(
                s,
                &partial,
                &alert(AlertDescription::UnknownCA),
                true,
                true,
                &[],
                t,
            ));
            assert_eq!(
                (f.code.as_str(), accepted),
                ("client-cert-rejected", Some(false))
            );
            let (f, accepted) = one(exchange(
                s,
                &partial,
                &alert(AlertDescription::CertificateRequired),
                true,
                false,
                &[],
                t,
            ));
            assert_eq!((f.code.as_str(), accepted), ("client-cert-required", None));
            let (f, _) = one(exchange(
                s,
                &partial,
                &alert(AlertDescription::InternalError),
                false,
                false,
                &[],
                t,
            ));
            assert_eq!(f.code.as_str(), "unexpected-answer");

            let (f, _) = one(exchange(
                s,
                &partial,
                &End::NotHttp(b".\x1b".to_vec()),
                false,
                false,
                &[],
                t,
            ));
            assert_eq!(f.code.as_str(), "unexpected-answer");
            assert!(f.problem.ends_with("is not HTTP: `.\\u{1b}`"), "{f:?}");
            let (f, _) = one(exchange(
                s,
                &partial,
                &End::NotHttp(Vec::new()),
                false,
                false,
                &[],
                t,
            ));
            assert!(f.problem.ends_with("it sent nothing readable"), "{f:?}");
            let (f, _) = one(exchange(
                s,
                &partial,
                &End::Failed("h2 protocol error".into()),
                false,
                false,
                &[],
                t,
            ));
            assert!(f.problem.ends_with("failed: h2 protocol error"), "{f:?}");
        });
    }
}
