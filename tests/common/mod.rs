//! Helpers shared by the integration tests: the command under test, reading what it wrote,
//! an in-memory rustls handshake (no sockets, bounded), and the openssl CLI.

#![allow(dead_code)]

pub mod collector;
pub mod gobuild;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

/// The six key types (docs/commands.md), in the order `--help` and the completions list them.
pub const KEY_TYPES: [&str; 6] = [
    "ecdsa-p256",
    "ecdsa-p384",
    "ed25519",
    "rsa-2048",
    "rsa-3072",
    "rsa-4096",
];

/// `otelpki --dir DIR ...`, with OTELPKI_DIR removed so the caller's environment can't leak in.
pub fn otelpki(dir: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(assert_cmd::cargo::cargo_bin!("otelpki"));
    cmd.env_remove("OTELPKI_DIR").arg("--dir").arg(dir);
    cmd
}

/// A fresh temporary directory and a PKI made in it by `otelpki init` with the given args.
pub fn init_pki(extra: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("certs");
    otelpki(&dir).arg("init").args(extra).assert().success();
    (tmp, dir)
}

pub fn certs(path: &Path) -> Vec<CertificateDer<'static>> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    pem::parse_many(&bytes)
        .expect("pem")
        .into_iter()
        .filter(|p| p.tag() == "CERTIFICATE")
        .map(|p| CertificateDer::from(p.into_contents()))
        .collect()
}

/// The key in `path`, which must be PKCS#8 (`BEGIN PRIVATE KEY`), the one form every SDK reads.
pub fn pkcs8_key(path: &Path) -> PrivateKeyDer<'static> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let block = pem::parse(&bytes).expect("pem key");
    assert_eq!(
        block.tag(),
        "PRIVATE KEY",
        "{} is not PKCS#8",
        path.display()
    );
    PrivateKeyDer::Pkcs8(block.into_contents().into())
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn roots(ca: &Path) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for c in certs(ca) {
        roots.add(c).expect("CA accepted as a trust anchor");
    }
    Arc::new(roots)
}

/// A server like the Collector with `client_ca_file`: presents DIR/NAME.crt, requires a client
/// certificate that chains to `client_ca`.
pub fn mtls_server(dir: &Path, name: &str, client_ca: &Path) -> Arc<ServerConfig> {
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(client_ca), provider())
        .build()
        .expect("client verifier");
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            certs(&dir.join(format!("{name}.crt"))),
            pkcs8_key(&dir.join(format!("{name}.key"))),
        )
        .expect("server key matches its certificate");
    Arc::new(config)
}

/// A client like an SDK: trusts `ca`, presents DIR/NAME.crt if `client` is given.
pub fn client(ca: &Path, client: Option<(&Path, &str)>) -> Arc<ClientConfig> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots(ca));
    let config = match client {
        Some((dir, name)) => builder
            .with_client_auth_cert(
                certs(&dir.join(format!("{name}.crt"))),
                pkcs8_key(&dir.join(format!("{name}.key"))),
            )
            .expect("client key matches its certificate"),
        None => builder.with_no_client_auth(),
    };
    Arc::new(config)
}

/// Which side of a handshake refused, and why.
#[derive(Debug)]
pub enum Refused {
    Client(rustls::Error),
    Server(rustls::Error),
}

/// Runs a TLS handshake between `client` (connecting to `host`) and `server` in memory.
/// Bounded: a handshake that has not finished after 32 flights panics.
pub fn handshake(
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
    host: &str,
) -> Result<(), Refused> {
    let name = ServerName::try_from(host.to_string()).expect("server name");
    let mut c = ClientConnection::new(client, name).expect("client connection");
    let mut s = ServerConnection::new(server).expect("server connection");
    let mut buf = Vec::new();
    for _ in 0..32 {
        buf.clear();
        while c.wants_write() {
            c.write_tls(&mut buf).expect("client write");
        }
        let mut rd = buf.as_slice();
        while !rd.is_empty() {
            s.read_tls(&mut rd).expect("server read");
        }
        s.process_new_packets().map_err(Refused::Server)?;
        buf.clear();
        while s.wants_write() {
            s.write_tls(&mut buf).expect("server write");
        }
        let mut rd = buf.as_slice();
        while !rd.is_empty() {
            c.read_tls(&mut rd).expect("client read");
        }
        c.process_new_packets().map_err(Refused::Client)?;
        if !c.is_handshaking() && !s.is_handshaking() && !c.wants_write() {
            return Ok(());
        }
    }
    panic!("handshake with {host} did not finish in 32 flights");
}

/// The openssl CLI. `.ci/run` installs it; a missing one fails the test.
pub fn openssl() -> StdCommand {
    let found = StdCommand::new("openssl").arg("version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "the openssl CLI is required by this test: install it (apt-get install openssl)"
    );
    StdCommand::new("openssl")
}

/// Runs openssl with `args` in `dir`; returns (success, stdout + stderr).
pub fn openssl_in(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = openssl()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A child process killed and reaped when dropped, so a failing test never leaves it behind.
pub struct Spawned(pub Child);
impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `s_server` arguments for the Collector's mTLS receiver: server.crt/server.key, and a client
/// certificate required that chains to ca.crt.
pub const S_SERVER_MTLS: &[&str] = &[
    "-cert",
    "server.crt",
    "-key",
    "server.key",
    "-CAfile",
    "ca.crt",
    "-Verify",
    "1",
    "-verify_return_error",
];

/// The lines a child writes to its piped stdout and stderr, as they come.
pub fn output_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    for stream in [
        Box::new(child.stdout.take().expect("piped stdout")) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().expect("piped stderr")),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    rx
}

/// `openssl s_server` in `dir` on an ephemeral 127.0.0.1 port with `args`, serving one
/// connection. Returns the server, its port, and its stdout and stderr lines.
pub fn s_server(dir: &Path, args: &[&str]) -> (Spawned, u16, mpsc::Receiver<String>) {
    let mut child = openssl()
        .current_dir(dir)
        .args(["s_server", "-accept", "127.0.0.1:0", "-naccept", "1"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn openssl s_server");
    let rx = output_lines(&mut child);
    let server = Spawned(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("s_server did not start within 10 s");
        if let Some(port) = line.strip_prefix("ACCEPT 127.0.0.1:") {
            return (server, port.trim().parse().expect("port"), rx);
        }
    }
}

/// The lock file every writing command keeps in DIR (docs/guarantees.md: one writer at a time). It
/// holds nothing; listings of what a command wrote leave it out.
pub const LOCK_FILE: &str = ".otelpki.lock";

/// The names of the files in `dir` (sorted), the lock file left out.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n != LOCK_FILE)
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Every file of `dir` (the lock file left out) with its bytes; empty if `dir` is missing.
pub fn file_bytes(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    file_names(dir)
        .into_iter()
        .map(|n| {
            let bytes = std::fs::read(dir.join(&n)).unwrap_or_default();
            (n, bytes)
        })
        .collect()
}

/// A TCP server on an ephemeral 127.0.0.1 port running `serve` for each connection, stopped
/// and joined on drop. Every wait in it is bounded.
pub struct Server {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(serve: impl Fn(TcpStream) + Send + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let give_up = Instant::now() + Duration::from_secs(60);
            while !flag.load(Ordering::SeqCst) && Instant::now() < give_up {
                match listener.accept() {
                    Ok((tcp, _)) => {
                        tcp.set_nonblocking(false).unwrap();
                        tcp.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
                        tcp.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
                        serve(tcp);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Server {
            port,
            stop,
            thread: Some(thread),
        }
    }

    /// A rustls server with `config`: it completes or refuses the handshake (sending its
    /// alert), then answers an HTTP/1.1 request with 200, as an OTLP/HTTP receiver answers
    /// an empty export, and reads until the client leaves.
    pub fn tls(config: Arc<ServerConfig>) -> Server {
        Server::start(move |mut tcp| {
            let mut conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut request = Vec::new();
            for _ in 0..64 {
                while conn.wants_write() {
                    if conn.write_tls(&mut tcp).is_err() {
                        return;
                    }
                }
                match conn.read_tls(&mut tcp) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let processed = conn.process_new_packets();
                if processed.is_ok() && !conn.is_handshaking() {
                    let _ = conn.reader().read_to_end(&mut request);
                    if request.windows(4).any(|w| w == b"\r\n\r\n") {
                        request.clear();
                        let _ = conn.writer().write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
                        );
                    }
                }
                if processed.is_err() {
                    // Send the alert, then close gracefully: closing with unread input would
                    // reset the connection and could destroy the alert in flight.
                    while conn.wants_write() && conn.write_tls(&mut tcp).is_ok() {}
                    let _ = tcp.shutdown(std::net::Shutdown::Write);
                    let mut sink = [0u8; 4096];
                    while matches!(tcp.read(&mut sink), Ok(n) if n > 0) {}
                    return;
                }
            }
        })
    }

    pub fn url(&self, host: &str) -> String {
        format!("https://{host}:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
