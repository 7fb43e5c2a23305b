//! `probe` finishes the way an exporter does (issue 14): after the handshake it sends an empty
//! OTLP export, and the answer is judged. Real servers answer: Debian's nginx (installed by
//! `.ci/run`) in front, checking client certificates at the HTTP layer with
//! `ssl_verify_client on` and `optional`, proxying OTLP/HTTP to a backend (`proxy_pass`) and
//! OTLP/gRPC to an HTTP/2 backend (`grpc_pass`); the backends record what reached them.
//!
//! The real Collector (`common::collector`) answers too: directly, and behind nginx.
//!
//! nginx runs as a child of the test (`daemon off; master_process off;`) with its own prefix,
//! configuration, pid and logs in a temporary directory, on a free 127.0.0.1 port (a new one
//! if the bind fails), and is killed and reaped when the test drops it. Every wait is bounded.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hyper::body::Bytes;
use serde_json::Value;

use crate::common::collector::{Collector, render};
use crate::common::{Server, Spawned, certs, otelpki, pkcs8_key};

/// The nginx binary; a missing one fails the test with what to install.
fn nginx() -> &'static Path {
    static FOUND: OnceLock<PathBuf> = OnceLock::new();
    FOUND.get_or_init(|| {
        for candidate in ["nginx", "/usr/sbin/nginx"] {
            let ok = Command::new(candidate)
                .arg("-v")
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                return PathBuf::from(candidate);
            }
        }
        panic!(
            "nginx is required by this test: install it (apt-get install nginx-light, or nginx)"
        );
    })
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// nginx with one `server` block listening on 127.0.0.1 (`listen` gives what follows the
/// address: `ssl http2`, `ssl`, or nothing for plaintext).
struct Nginx {
    port: u16,
    dir: tempfile::TempDir,
    _child: Spawned,
}

impl Nginx {
    fn start(listen: &str, server: &str) -> Nginx {
        let mut failures = Vec::new();
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path().display().to_string();
            let port = free_port();
            let conf = format!(
                "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
                 error_log {d}/error.log info;\nevents {{ worker_connections 64; }}\n\
                 http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n  \
                 proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
                 uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
                 server {{\n    listen 127.0.0.1:{port} {listen};\n{server}\n  }}\n}}\n"
            );
            let conf_path = dir.path().join("nginx.conf");
            std::fs::write(&conf_path, conf).unwrap();
            let mut child = Command::new(nginx())
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf_path)
                .arg("-e")
                .arg(dir.path().join("error.log"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start nginx");
            let stderr = child.stderr.take();
            let child = Spawned(child);
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut exited = false;
            let mut child = child;
            while Instant::now() < deadline {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Nginx {
                        port,
                        dir,
                        _child: child,
                    };
                }
                if child.0.try_wait().unwrap().is_some() {
                    exited = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let mut said = String::new();
            if let (true, Some(mut e)) = (exited, stderr) {
                let _ = e.read_to_string(&mut said);
            }
            said.push_str(
                &std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default(),
            );
            assert!(
                said.contains("Address already in use"),
                "nginx did not start within 10 s: {said}"
            );
            failures.push(said);
        }
        panic!("nginx found no free port in 5 tries: {failures:?}");
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

/// What reached a backend: the request line or gRPC path, the content type, the body.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    content_type: String,
    body: Vec<u8>,
}

/// An OTLP/HTTP stand-in behind nginx's proxy_pass (plaintext HTTP/1.x): records each
/// request and answers 200 with an empty ExportTraceServiceResponse, as the Collector does.
fn http_backend() -> (Server, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let server = Server::start(move |mut tcp| {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match tcp.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        };
        let head = String::from_utf8_lossy(&data[..head_end]).to_string();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.trim().to_string())
                })
                .unwrap_or_default()
        };
        let length: usize = header("content-length").parse().unwrap_or(0);
        while data.len() < head_end + length {
            match tcp.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        }
        record.lock().unwrap().push(Seen {
            path: head.lines().next().unwrap_or_default().to_string(),
            content_type: header("content-type"),
            body: data[head_end..head_end + length].to_vec(),
        });
        let _ = tcp.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        );
    });
    (server, seen)
}

/// An OTLP/gRPC stand-in behind nginx's grpc_pass (HTTP/2 without TLS): records each call
/// and answers as grpc-go does, an empty message and grpc-status 0 in the trailers, or 415
/// to a request that is not gRPC.
struct GrpcBackend {
    port: u16,
    /// With `long_then_denied(n)`: a message of n bytes, then grpc-status 7 in the trailers.
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl GrpcBackend {
    fn start() -> GrpcBackend {
        GrpcBackend::start_with(0)
    }

    /// Answers every call with a message of `n` bytes and then PERMISSION_DENIED.
    fn long_then_denied(n: usize) -> GrpcBackend {
        GrpcBackend::start_with(n)
    }

    fn start_with(long_then_denied: usize) -> GrpcBackend {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (record, flag) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let give_up = Instant::now() + Duration::from_secs(120);
                while !flag.load(Ordering::SeqCst) && Instant::now() < give_up {
                    let accepted =
                        tokio::time::timeout(Duration::from_millis(50), listener.accept()).await;
                    if let Ok(Ok((tcp, _))) = accepted {
                        tokio::spawn(serve_grpc(tcp, record.clone(), long_then_denied));
                    }
                }
            });
        });
        GrpcBackend {
            port,
            seen,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for GrpcBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve_grpc(tcp: tokio::net::TcpStream, seen: Arc<Mutex<Vec<Seen>>>, long: usize) {
    let Ok(mut conn) = h2::server::handshake(tcp).await else {
        return;
    };
    // The connection makes progress only while accept() is polled: each call on its own task.
    while let Some(Ok((request, respond))) = conn.accept().await {
        tokio::spawn(answer_grpc(request, respond, seen.clone(), long));
    }
}

async fn answer_grpc(
    request: hyper::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    seen: Arc<Mutex<Vec<Seen>>>,
    long: usize,
) {
    let path = request.uri().path().to_string();
    let content_type = request
        .headers()
        .get("content-type")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let mut body = request.into_body();
    let mut bytes = Vec::new();
    while let Some(Ok(chunk)) = body.data().await {
        let _ = body.flow_control().release_capacity(chunk.len());
        bytes.extend_from_slice(&chunk);
    }
    seen.lock().unwrap().push(Seen {
        path,
        content_type: content_type.clone(),
        body: bytes,
    });
    if !content_type.starts_with("application/grpc") {
        let head = hyper::Response::builder()
            .status(415)
            .header("content-type", "text/plain; charset=utf-8")
            .body(())
            .unwrap();
        if let Ok(mut send) = respond.send_response(head, false) {
            let _ = send.send_data(
                Bytes::from_static(b"invalid gRPC request content-type \"application/x-protobuf\""),
                true,
            );
        }
        return;
    }
    let head = hyper::Response::builder()
        .status(200)
        .header("content-type", "application/grpc")
        .body(())
        .unwrap();
    if let Ok(mut send) = respond.send_response(head, false) {
        let mut trailers = hyper::HeaderMap::new();
        if long > 0 {
            // one uncompressed message of `long` bytes, then the refusal
            let mut message = vec![0];
            message.extend_from_slice(&u32::try_from(long).unwrap().to_be_bytes());
            message.resize(5 + long, 0);
            let _ = send.send_data(Bytes::from(message), false);
            trailers.insert("grpc-status", hyper::header::HeaderValue::from_static("7"));
            trailers.insert(
                "grpc-message",
                hyper::header::HeaderValue::from_static("no%20export%20for%20you"),
            );
        } else {
            let _ = send.send_data(Bytes::from_static(&[0, 0, 0, 0, 0]), false);
            trailers.insert("grpc-status", hyper::header::HeaderValue::from_static("0"));
        }
        let _ = send.send_trailers(trailers);
    }
}

/// A PKI in `tmp/certs`, and a client from another CA (`Foreign CA`) as `tmp/certs/alien.*`.
fn pki() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("certs");
    otelpki(&dir).arg("init").assert().success();
    let foreign = tmp.path().join("foreign");
    otelpki(&foreign)
        .args(["init-ca", "--cn", "Foreign CA"])
        .assert()
        .success();
    otelpki(&foreign)
        .args(["issue", "client", "--cn", "alien", "--name", "alien"])
        .assert()
        .success();
    for f in ["alien.crt", "alien.key"] {
        std::fs::copy(foreign.join(f), dir.join(f)).unwrap();
    }
    (tmp, dir)
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// `--cert DIR/STEM.crt --key DIR/STEM.key`.
fn pair(dir: &Path, stem: &str) -> Vec<String> {
    vec![
        "--cert".into(),
        p(&dir.join(format!("{stem}.crt"))),
        "--key".into(),
        p(&dir.join(format!("{stem}.key"))),
    ]
}

/// Runs `probe URL ARGS --json` with `--timeout 3` unless given; returns (exit code, JSON).
fn probe(dir: &Path, url: &str, args: &[String]) -> (i32, Value) {
    let mut all = vec!["probe".to_string(), url.to_string(), "--json".into()];
    all.extend(args.iter().cloned());
    if !args.iter().any(|a| a == "--timeout") {
        all.extend(["--timeout".into(), "3".into()]);
    }
    let out = otelpki(dir)
        .args(&all)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{all:?}: {stderr}");
    let doc: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{all:?}: {e}: {out:?}"));
    (out.status.code().unwrap_or(-1), doc)
}

fn codes(doc: &Value) -> Vec<&str> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect()
}

/// The only finding, which must have `code`.
fn only<'a>(doc: &'a Value, code: &str) -> &'a Value {
    assert_eq!(codes(doc), [code], "{doc:#}");
    &doc["findings"][0]
}

fn text<'a>(f: &'a Value, key: &str) -> &'a str {
    f[key].as_str().unwrap()
}

/// The nginx server block of an OTLP proxy: TLS with otelpki's server certificate, client
/// certificates checked against ca.crt (`verify`: `on` or `optional`), TLS `version`,
/// `/v1/traces` to the HTTP backend, the gRPC trace service to the gRPC backend, everything
/// else 404.
fn proxy_block(dir: &Path, verify: &str, version: &str, http: u16, grpc: u16) -> String {
    format!(
        "    ssl_certificate {crt};\n    ssl_certificate_key {key};\n    \
         ssl_protocols {version};\n    \
         ssl_client_certificate {ca};\n    ssl_verify_client {verify};\n    \
         location = /v1/traces {{ proxy_pass http://127.0.0.1:{http}; }}\n    \
         location /opentelemetry.proto.collector.trace.v1.TraceService/ {{ grpc_pass grpc://127.0.0.1:{grpc}; }}\n    \
         location / {{ return 404; }}",
        crt = p(&dir.join("server.crt")),
        key = p(&dir.join("server.key")),
        ca = p(&dir.join("ca.crt")),
    )
}

/// nginx with `ssl_verify_client on` and `optional` in front of OTLP/HTTP and OTLP/gRPC:
/// the good pair is accepted on both protocols and the empty export reaches the backend;
/// without a client certificate `on` answers 400 and probe names the missing certificate in
/// nginx's words (`optional` lets the export in, and so does every SDK); a client from a
/// foreign CA is refused by both and named; a location that is not OTLP is named by its path.
/// Under TLS 1.2 and 1.3 (where the server speaks first after the handshake: tickets, and
/// HTTP/2's SETTINGS, which the exchange must still get).
#[test]
fn probe_through_nginx_checking_client_certificates() {
    let (_tmp, dir) = pki();
    for (verify, version) in [
        ("on", "TLSv1.2"),
        ("on", "TLSv1.3"),
        ("optional", "TLSv1.2"),
        ("optional", "TLSv1.3"),
    ] {
        let (http, http_seen) = http_backend();
        let grpc = GrpcBackend::start();
        let nginx = Nginx::start(
            "ssl http2",
            &proxy_block(&dir, verify, version, http.port, grpc.port),
        );
        let url = nginx.url("");

        // The good pair, OTLP/HTTP: accepted, and the backend got exactly the empty export.
        let (code, doc) = probe(&dir, &url, &pair(&dir, "client"));
        assert_eq!(code, 0, "{verify}: {doc:#}\n{}", nginx.error_log());
        assert_eq!(doc["handshake"]["version"], version, "{doc:#}");
        let ex = &doc["exchange"];
        assert_eq!(ex["status"], 200, "{doc:#}");
        assert_eq!(ex["path"], "/v1/traces");
        assert_eq!(doc["handshake"]["client_cert_accepted"], true, "{doc:#}");
        let got = http_seen
            .lock()
            .unwrap()
            .pop()
            .expect("the export reached the backend");
        assert!(got.path.starts_with("POST /v1/traces HTTP/1."), "{got:?}");
        assert_eq!(got.content_type, "application/x-protobuf");
        assert!(
            got.body.is_empty(),
            "an empty export is zero bytes: {got:?}"
        );

        // The good pair, OTLP/gRPC over h2 through grpc_pass.
        let mut grpc_args = pair(&dir, "client");
        grpc_args.extend(["--protocol".into(), "grpc".into()]);
        let (code, doc) = probe(&dir, &url, &grpc_args);
        assert_eq!(code, 0, "{verify}: {doc:#}\n{}", nginx.error_log());
        let ex = &doc["exchange"];
        assert_eq!(
            (
                ex["http_version"].as_str(),
                ex["status"].as_u64(),
                ex["grpc_status"].as_u64()
            ),
            (Some("HTTP/2"), Some(200), Some(0)),
            "{doc:#}"
        );
        let got = grpc
            .seen
            .lock()
            .unwrap()
            .pop()
            .expect("the call reached the backend");
        assert_eq!(
            got.path,
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
        );
        assert_eq!(got.content_type, "application/grpc");
        assert_eq!(
            got.body,
            [0, 0, 0, 0, 0],
            "one uncompressed message of length 0"
        );

        // No client certificate.
        for protocol in ["http", "grpc"] {
            let args = ["--protocol".to_string(), protocol.into()];
            let (code, doc) = probe(&dir, &url, &args);
            if verify == "optional" {
                assert_eq!(code, 0, "optional lets it in: {doc:#}");
                continue;
            }
            assert_eq!(code, 1, "{protocol}: {doc:#}");
            let f = only(&doc, "client-cert-required");
            assert!(
                text(f, "problem").contains("\"400 No required SSL certificate was sent\""),
                "quotes nginx: {f:#}"
            );
            assert_eq!(doc["exchange"]["status"], 400);
            // The fix is a command that works: it presents the client certificate in DIR.
            let line = text(f, "fix").lines().next().unwrap();
            let command = line.strip_prefix("present one: ").expect(line);
            assert!(
                command.ends_with(&format!("--protocol {protocol}")),
                "{command}"
            );
            let words = shlex::split(command).unwrap();
            assert_eq!(words[..2], ["otelpki", "--dir"], "{command}");
            let out = otelpki(Path::new(&words[2]))
                .args(&words[3..])
                .timeout(Duration::from_secs(60))
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "{command}: {out:?}");
        }

        // A client certificate from a foreign CA: the handshake succeeds, nginx refuses it.
        for protocol in ["http", "grpc"] {
            let mut args = pair(&dir, "alien");
            args.extend(["--protocol".into(), protocol.into()]);
            let (code, doc) = probe(&dir, &url, &args);
            assert_eq!(code, 1, "{verify} {protocol}: {doc:#}");
            let f = only(&doc, "client-cert-rejected");
            let problem = text(f, "problem");
            assert!(
                problem.contains(&format!("`{}`", p(&dir.join("alien.crt"))))
                    && problem.contains("\"CN=Foreign CA\"")
                    && problem.contains("\"400 The SSL certificate error\""),
                "names the certificate, its issuer and nginx's words: {f:#}"
            );
            assert!(
                text(f, "fix").contains("issue client --cn alien --name alien --force"),
                "{f:#}"
            );
            assert_eq!(doc["handshake"]["client_cert_accepted"], false, "{doc:#}");
        }

        // A location that is not an OTLP receiver.
        let (code, doc) = probe(&dir, &nginx.url("/otlp"), &pair(&dir, "client"));
        assert_eq!(code, 1, "{doc:#}");
        let f = only(&doc, "not-otlp-receiver");
        assert!(
            text(f, "problem").contains("`POST /otlp/v1/traces`")
                && text(f, "problem").contains("404"),
            "names the path: {f:#}"
        );
        assert!(
            text(f, "fix").contains(&format!(
                "OTEL_EXPORTER_OTLP_ENDPOINT=https://localhost:{}\n",
                nginx.port
            )),
            "{f:#}"
        );
    }
}

/// The other answers an exporter meets behind a proxy: a gRPC receiver spoken to as
/// OTLP/HTTP (415), a Collector that is down (502), credentials wanted (401), and a server
/// that never answers the export (within --timeout).
#[test]
fn probe_explains_what_a_proxy_answers() {
    let (_tmp, dir) = pki();
    let grpc = GrpcBackend::start();
    let down = free_port();
    let hang = Server::start(|mut tcp| {
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if matches!(tcp.read(&mut buf), Ok(0)) {
                break;
            }
        }
    });
    let block = format!(
        "    ssl_certificate {crt};\n    ssl_certificate_key {key};\n    \
         location /as-grpc/ {{ grpc_pass grpc://127.0.0.1:{g}; }}\n    \
         location /down/ {{ proxy_pass http://127.0.0.1:{down}; }}\n    \
         location /auth/ {{ return 401; }}\n    \
         location /hang/ {{ proxy_pass http://127.0.0.1:{h}; proxy_read_timeout 60s; }}",
        crt = p(&dir.join("server.crt")),
        key = p(&dir.join("server.key")),
        g = grpc.port,
        h = hang.port,
    );
    let nginx = Nginx::start("ssl http2", &block);

    let (code, doc) = probe(&dir, &nginx.url("/as-grpc"), &[]);
    assert_eq!(code, 1, "{doc:#}");
    let f = only(&doc, "wrong-protocol");
    assert!(text(f, "problem").contains("415"), "{f:#}");
    assert!(text(f, "fix").contains("--protocol grpc"), "{f:#}");
    assert_eq!(
        grpc.seen.lock().unwrap().pop().map(|s| s.path),
        Some("/as-grpc/v1/traces".to_string())
    );

    let (code, doc) = probe(&dir, &nginx.url("/down"), &[]);
    assert_eq!(code, 1, "{doc:#}");
    assert!(
        text(only(&doc, "upstream-down"), "problem").contains("502"),
        "{doc:#}"
    );

    let (code, doc) = probe(&dir, &nginx.url("/auth"), &[]);
    assert_eq!(code, 1, "{doc:#}");
    assert!(
        text(only(&doc, "auth-required"), "problem").contains("401"),
        "{doc:#}"
    );

    let args = ["--timeout".to_string(), "2".into()];
    let (code, doc) = probe(&dir, &nginx.url("/hang"), &args);
    assert_eq!(code, 1, "{doc:#}");
    let f = only(&doc, "timeout");
    assert!(
        text(f, "problem").contains(
            "did not answer the empty export (`POST /hang/v1/traces` over HTTP/2) within 2 s"
        ),
        "{f:#}"
    );
}

/// nginx with TLS (server.crt) and HTTP/2 in front of `grpc`, by grpc_pass.
fn grpc_proxy(dir: &Path, grpc: &GrpcBackend) -> Nginx {
    let block = format!(
        "    ssl_certificate {crt};\n    ssl_certificate_key {key};\n    \
         location / {{ grpc_pass grpc://127.0.0.1:{g}; }}",
        crt = p(&dir.join("server.crt")),
        key = p(&dir.join("server.key")),
        g = grpc.port,
    );
    Nginx::start("ssl http2", &block)
}

/// The gRPC status comes in the trailers, after the answer's messages: probe reads past a long
/// answer (2000 bytes) to find it, and names the PERMISSION_DENIED it holds (issue 15).
#[test]
fn probe_reads_the_grpc_status_after_a_long_answer() {
    let (_tmp, dir) = pki();
    let grpc = GrpcBackend::long_then_denied(2000);
    let nginx = grpc_proxy(&dir, &grpc);
    let args = ["--protocol".to_string(), "grpc".into()];
    let (code, doc) = probe(&dir, &nginx.url(""), &args);
    assert_eq!(code, 1, "{doc:#}\n{}", nginx.error_log());
    let ex = &doc["exchange"];
    assert_eq!(
        (ex["method"].as_str(), ex["path"].as_str()),
        (
            Some("POST"),
            Some("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        ),
        "{doc:#}"
    );
    assert_eq!(doc["exchange"]["grpc_status"], 7, "{doc:#}");
    assert_eq!(
        doc["exchange"]["grpc_message"], "no export for you",
        "{doc:#}"
    );
    let f = only(&doc, "auth-required");
    assert!(text(f, "problem").contains("PERMISSION_DENIED"), "{f:#}");
}

/// probe reads at most 64 KiB of an answer (bounded input): trailers after a body of exactly
/// 64 KiB are not read, so no gRPC status is known and the answer is reported as unexpected,
/// as an endless body would be, rather than read without end (issue 15).
#[test]
fn probe_reads_at_most_64_kib_of_an_answer() {
    let (_tmp, dir) = pki();
    // 5 bytes of message header + 65531 bytes: 65536 bytes of body, then the trailers
    let grpc = GrpcBackend::long_then_denied(65_531);
    let nginx = grpc_proxy(&dir, &grpc);
    let args = ["--protocol".to_string(), "grpc".into()];
    let (code, doc) = probe(&dir, &nginx.url(""), &args);
    assert_eq!(code, 1, "{doc:#}\n{}", nginx.error_log());
    assert_eq!(doc["exchange"]["status"], 200, "{doc:#}");
    assert_eq!(doc["exchange"]["grpc_status"], Value::Null, "{doc:#}");
    only(&doc, "unexpected-answer");
}

/// gRPC needs HTTP/2: nginx without http2 refuses ALPN h2 (a TLS alert), a TLS server that
/// ignores ALPN completes the handshake in HTTP/1.1; both are named. A plaintext server is
/// named by its answer.
#[test]
fn probe_names_servers_that_cannot_carry_the_export() {
    let (_tmp, dir) = pki();
    let block = format!(
        "    ssl_certificate {};\n    ssl_certificate_key {};\n    location / {{ return 200; }}",
        p(&dir.join("server.crt")),
        p(&dir.join("server.key")),
    );
    let http1 = Nginx::start("ssl", &block);
    let grpc = ["--protocol".to_string(), "grpc".into()];
    let (code, doc) = probe(&dir, &http1.url(""), &grpc);
    assert_eq!(code, 1, "{doc:#}");
    let f = only(&doc, "grpc-without-h2");
    assert!(
        text(f, "problem").contains("no_application_protocol"),
        "{f:#}"
    );
    assert!(text(f, "fix").contains("--protocol http"), "{f:#}");
    // The same nginx takes OTLP/HTTP over HTTP/1.1.
    let (code, doc) = probe(&dir, &http1.url(""), &[]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["exchange"]["http_version"], "HTTP/1.1");

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            certs(&dir.join("server.crt")),
            pkcs8_key(&dir.join("server.key")),
        )
        .unwrap();
    let no_alpn = Server::tls(Arc::new(config));
    let (code, doc) = probe(&dir, &no_alpn.url("localhost"), &grpc);
    assert_eq!(code, 1, "{doc:#}");
    assert!(
        text(only(&doc, "grpc-without-h2"), "problem").contains("ignored ALPN"),
        "{doc:#}"
    );

    let plain = Nginx::start("", "    location / { return 200; }");
    let (code, doc) = probe(&dir, &plain.url(""), &[]);
    assert_eq!(code, 1, "{doc:#}");
    assert!(
        text(only(&doc, "not-tls"), "problem").contains("`HTTP/1.1 400 Bad Request`"),
        "quotes nginx's plaintext answer: {doc:#}"
    );
}

/// The real Collector (`common::collector`, core v0.165.0) running `otelpki config collector`
/// as rendered, with mTLS on both receivers.
fn collector(dir: &Path) -> Collector {
    Collector::start(&render(dir, &[]))
}

/// The debug exporter's summary lines (`Traces {"resource spans": N, "spans": N, ...}`).
fn debug_traces(c: &Collector) -> Vec<String> {
    c.log()
        .lines()
        .filter(|l| l.contains("\"resource spans\"") || l.contains("Span #"))
        .map(str::to_string)
        .collect()
}

/// probe against the real Collector on OTLP/gRPC and OTLP/HTTP: the Collector accepts the
/// empty export (grpc-status 0 with its gRPC content type; 200 with its protobuf answer) and
/// no span reaches its pipeline; spoken to in the other protocol, each receiver's own answer is
/// named (the gRPC receiver's 415, the HTTP receiver's 404).
///
/// The OTLP receiver answers a request without spans before its pipeline (otlpreceiver
/// v0.165.0, internal/trace/otlp.go: `if numSpans == 0 { return NewExportResponse() }`), so
/// the debug exporter prints nothing for it, and the Collector logs nothing either, even at
/// debug level: that the export arrived shows in the answer, the serialized
/// ExportTraceServiceResponse that only the receiver's Export handler writes.
#[test]
fn probe_against_the_real_collector() {
    let (_tmp, dir) = pki();
    let c = collector(&dir);
    let with = |protocol: &str| {
        let mut args = pair(&dir, "client");
        args.extend(["--protocol".into(), protocol.into()]);
        args
    };

    let (code, doc) = probe(&dir, &c.grpc_url(), &with("grpc"));
    assert_eq!(code, 0, "{doc:#}\n{}", c.log());
    let ex = &doc["exchange"];
    assert_eq!(ex["grpc_status"], 0, "{doc:#}");
    assert_eq!(ex["content_type"], "application/grpc", "{doc:#}");
    // The receiver's Export handler answered: one gRPC message holding its
    // ExportTraceServiceResponse, an empty partial_success (0a 00).
    assert_eq!(ex["body"], "\0\0\0\0\u{2}\n\0", "{doc:#}");
    assert_eq!(doc["handshake"]["client_cert_accepted"], true, "{doc:#}");

    let (code, doc) = probe(&dir, &c.http_url(), &with("http"));
    assert_eq!(code, 0, "{doc:#}\n{}", c.log());
    let ex = &doc["exchange"];
    assert_eq!(ex["status"], 200, "{doc:#}");
    assert_eq!(ex["content_type"], "application/x-protobuf", "{doc:#}");
    assert_eq!(ex["body"], "\n\0", "the same response over HTTP: {doc:#}");

    let (code, doc) = probe(&dir, &c.grpc_url(), &with("http"));
    assert_eq!(code, 1, "{doc:#}");
    let f = only(&doc, "wrong-protocol");
    assert!(text(f, "fix").contains("--protocol grpc"), "{f:#}");

    let (code, doc) = probe(&dir, &c.http_url(), &with("grpc"));
    assert_eq!(code, 1, "{doc:#}");
    let f = only(&doc, "not-otlp-receiver");
    assert!(text(f, "problem").contains("404"), "{f:#}");
    assert!(text(f, "fix").contains("--protocol http"), "{f:#}");

    assert!(
        debug_traces(&c).is_empty(),
        "the empty exports carried no spans, and the debug exporter printed none:\n{}",
        c.log()
    );
    assert_eq!(c.problems(), Vec::<String>::new(), "{}", c.log());
}

/// nginx as the proxy in front of the real Collector: TLS and client certificates checked by
/// nginx, OTLP/gRPC passed on with `grpc_pass grpcs://` and OTLP/HTTP with `proxy_pass
/// https://`, nginx presenting its own client certificate to the Collector's mTLS receivers.
/// The good pair gets the Collector's answers through nginx; a client without a certificate
/// gets nginx's 400; and when nginx presents none upstream, the Collector refuses nginx and
/// probe names the proxy's 502.
#[test]
fn probe_through_nginx_to_the_real_collector() {
    let (_tmp, dir) = pki();
    let c = collector(&dir);
    let upstream_tls = |kind: &str, with_cert: bool| {
        let mut s = format!(
            "{kind}_ssl_trusted_certificate {ca}; {kind}_ssl_verify on; {kind}_ssl_name localhost; \
             {kind}_ssl_server_name on;",
            ca = p(&dir.join("ca.crt")),
        );
        if with_cert {
            s.push_str(&format!(
                " {kind}_ssl_certificate {crt}; {kind}_ssl_certificate_key {key};",
                crt = p(&dir.join("client.crt")),
                key = p(&dir.join("client.key")),
            ));
        }
        s
    };
    let block = format!(
        "    ssl_certificate {crt};\n    ssl_certificate_key {key};\n    \
         ssl_client_certificate {ca};\n    ssl_verify_client on;\n    \
         location /opentelemetry.proto.collector.trace.v1.TraceService/ {{ grpc_pass grpcs://127.0.0.1:{g}; {gtls} }}\n    \
         location /v1/ {{ proxy_pass https://127.0.0.1:{h}; {htls} }}\n    \
         location /bare/ {{ grpc_pass grpcs://127.0.0.1:{g}; {bare} }}",
        crt = p(&dir.join("server.crt")),
        key = p(&dir.join("server.key")),
        ca = p(&dir.join("ca.crt")),
        g = c.grpc_port,
        h = c.http_port,
        gtls = upstream_tls("grpc", true),
        htls = upstream_tls("proxy", true),
        // No session reuse: a resumed session would carry the client certificate of another
        // location's connection to the same Collector.
        bare = upstream_tls("grpc", false) + " grpc_ssl_session_reuse off;",
    );
    let nginx = Nginx::start("ssl http2", &block);
    let with = |protocol: &str, stem: Option<&str>| {
        let mut args = stem.map(|s| pair(&dir, s)).unwrap_or_default();
        args.extend(["--protocol".into(), protocol.into()]);
        args
    };

    let (code, doc) = probe(&dir, &nginx.url(""), &with("grpc", Some("client")));
    assert_eq!(code, 0, "{doc:#}\n{}\n{}", nginx.error_log(), c.log());
    assert_eq!(doc["exchange"]["grpc_status"], 0, "{doc:#}");
    let (code, doc) = probe(&dir, &nginx.url(""), &with("http", Some("client")));
    assert_eq!(code, 0, "{doc:#}\n{}\n{}", nginx.error_log(), c.log());
    assert_eq!(
        doc["exchange"]["content_type"], "application/x-protobuf",
        "the Collector's own answer: {doc:#}"
    );

    let (code, doc) = probe(&dir, &nginx.url(""), &with("grpc", None));
    assert_eq!(code, 1, "{doc:#}");
    only(&doc, "client-cert-required");

    // /bare/ passes gRPC on without a client certificate: the Collector refuses nginx.
    let (code, doc) = probe(&dir, &nginx.url("/bare"), &with("http", Some("client")));
    assert_eq!(code, 1, "{doc:#}");
    assert!(
        text(only(&doc, "upstream-down"), "problem").contains("502"),
        "{doc:#}"
    );
    assert!(
        nginx.error_log().contains("SSL"),
        "nginx says why: {}",
        nginx.error_log()
    );
    assert!(debug_traces(&c).is_empty(), "{}", c.log());
}
