//! Go's crypto/tls judges the certificates: the OpenTelemetry Collector is a Go program, and its
//! receivers do mTLS the way `tests/go/tlspeer.go` does (`tls.RequireAndVerifyClientCert` over
//! `client_ca_file`). Go also ignores the CN, checks extKeyUsage down the chain and reads the
//! key pair with `tls.LoadX509KeyPair`, so a certificate it accepts is one the Collector accepts.
//!
//! The peer is built from source with the Go toolchain (`.ci/run` installs golang-go; a missing
//! `go` fails the test with what to install) into `target/go/`, with the standard library only:
//! nothing is downloaded. Servers listen on 127.0.0.1 with an ephemeral port, stop when the
//! test drops them, and every wait is bounded.

use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use crate::common::{KEY_TYPES, Spawned, otelpki, output_lines};

/// How long a server may take to report its port, or to report a connection.
const WAIT: Duration = Duration::from_secs(20);
/// How long one client run may take in all (tlspeer bounds its own dial and read at 10 s).
const CLIENT_LIMIT: Duration = Duration::from_secs(30);

/// `target/go/tlspeer`, built once per test run.
fn tlspeer() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| go_program("tlspeer"))
}

/// Builds `tests/go/NAME.go` (standard library only: nothing is downloaded) into
/// `target/go/NAME` and returns its path. A missing Go toolchain fails the test.
pub(crate) fn go_program(name: &str) -> PathBuf {
    let found = Command::new("go").arg("version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "the Go toolchain is required by this test: install it (apt-get install golang-go)"
    );
    let area = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is target/tmp")
        .join("go");
    std::fs::create_dir_all(&area).unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/go/{name}.go"));
    // Unique per process, then renamed into place: test processes may build at once.
    let partial = area.join(format!("{name}.{}.partial", std::process::id()));
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(&partial)
        .arg(&source)
        .env("GOCACHE", area.join("cache"))
        .env("GOPATH", area.join("path"))
        .env("GO111MODULE", "off")
        .env("GOFLAGS", "")
        .env("CGO_ENABLED", "0")
        .output()
        .expect("run go build");
    assert!(
        out.status.success(),
        "go build {}: {}",
        source.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let binary = area.join(name);
    std::fs::rename(&partial, &binary).unwrap();
    binary
}

/// A Go mTLS server: one line per connection, "ok CN" or "error MESSAGE".
pub(crate) struct GoServer {
    port: u16,
    lines: mpsc::Receiver<String>,
    // Closing stdin stops the server; Spawned kills and reaps it in any case.
    _stdin: ChildStdin,
    _child: Spawned,
}

impl GoServer {
    pub(crate) fn start(ca: &Path, cert: &Path, key: &Path) -> GoServer {
        let mut child = Command::new(tlspeer())
            .arg("server")
            .args([ca, cert, key])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tlspeer server");
        let stdin = child.stdin.take().expect("piped stdin");
        let lines = output_lines(&mut child);
        let child = Spawned(child);
        let line = lines
            .recv_timeout(WAIT)
            .expect("the Go server did not start within the wait");
        let port = line
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("the Go server said: {line}"))
            .parse()
            .expect("port");
        GoServer {
            port,
            lines,
            _stdin: stdin,
            _child: child,
        }
    }

    /// The server's verdict on the next connection.
    pub(crate) fn verdict(&self) -> String {
        self.lines
            .recv_timeout(WAIT)
            .expect("the Go server reported no connection within the wait")
    }

    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// One Go client handshake (then a read for the server's verdict under TLS 1.3): "ok" or
/// "error MESSAGE".
pub(crate) fn go_client(addr: &str, name: &str, ca: &Path, pair: Option<(&Path, &Path)>) -> String {
    let mut cmd = Command::new(tlspeer());
    cmd.args(["client", addr, name]).arg(ca);
    if let Some((cert, key)) = pair {
        cmd.args([cert, key]);
    }
    let mut child = Spawned(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tlspeer client"),
    );
    let deadline = Instant::now() + CLIENT_LIMIT;
    while child.0.try_wait().expect("wait").is_none() {
        assert!(
            Instant::now() < deadline,
            "the Go client did not finish within {CLIENT_LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut out = String::new();
    let mut err = String::new();
    use std::io::Read;
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        child.0.wait().unwrap().success(),
        "tlspeer client refused its input: {err}"
    );
    out.trim().to_string()
}

/// For every key type: Go's server accepts otelpki's client certificate and Go's client
/// accepts otelpki's server certificate, by DNS name and by IPv4 and IPv6 SAN. Then the
/// refusals: no client certificate, one from a second otelpki CA, the server's certificate
/// used as a client's and the client's as a server's (extKeyUsage), and a wrong name.
#[test]
fn go_mtls_per_key_type() {
    for kt in KEY_TYPES {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("certs");
        otelpki(&dir)
            .args(["init", "--key-type", kt])
            .assert()
            .success();
        let f = |name: &str| dir.join(name);
        let (ca, client) = (f("ca.crt"), Some((&*f("client.crt"), &*f("client.key"))));
        let server = GoServer::start(&ca, &f("server.crt"), &f("server.key"));
        for name in ["localhost", "127.0.0.1", "::1"] {
            let got = go_client(&server.addr(), name, &ca, client);
            assert_eq!(got, "ok", "{kt}, Go client for {name}");
            assert_eq!(server.verdict(), "ok my-application", "{kt}, Go server");
        }

        let got = go_client(&server.addr(), "localhost", &ca, None);
        assert!(got.starts_with("error"), "{kt}: {got}");
        let said = server.verdict();
        assert!(
            said.contains("client didn't provide a certificate"),
            "{kt}: {said}"
        );

        let other = tmp.path().join("other");
        otelpki(&other)
            .args(["init", "--key-type", kt])
            .assert()
            .success();
        let foreign = (&*other.join("client.crt"), &*other.join("client.key"));
        let got = go_client(&server.addr(), "localhost", &ca, Some(foreign));
        assert!(got.starts_with("error"), "{kt}: {got}");
        let said = server.verdict();
        assert!(said.contains("unknown authority"), "{kt}: {said}");

        let as_client = (&*f("server.crt"), &*f("server.key"));
        let got = go_client(&server.addr(), "localhost", &ca, Some(as_client));
        assert!(got.starts_with("error"), "{kt}: {got}");
        let said = server.verdict();
        assert!(said.contains("incompatible key usage"), "{kt}: {said}");

        let got = go_client(&server.addr(), "otel-collector", &ca, client);
        assert!(
            got.contains("certificate is valid for localhost, not otel-collector"),
            "{kt}: {got}"
        );
        server.verdict();

        // A client certificate as the server's: Go checks the name before the purpose, so
        // this one carries the name.
        otelpki(&dir)
            .args([
                "issue",
                "client",
                "--cn",
                "x",
                "--san",
                "localhost",
                "--name",
                "named",
            ])
            .assert()
            .success();
        let swapped = GoServer::start(&ca, &f("named.crt"), &f("named.key"));
        let got = go_client(&swapped.addr(), "localhost", &ca, client);
        assert!(got.contains("incompatible key usage"), "{kt}: {got}");
    }
}

/// `otelpki fixtures`: the good set passes in Go, and each bad fixture fails in Go for the
/// reason its manifest entry states.
#[test]
fn go_judges_the_fixtures() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fixtures");
    otelpki(&dir).arg("fixtures").assert().success();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("fixtures.json")).unwrap()).unwrap();
    let f = |name: &str| dir.join(name);
    let ca = f("ca.crt");
    let good_client = (&*f("client.crt"), &*f("client.key"));
    let good = GoServer::start(&ca, &f("server.crt"), &f("server.key"));
    assert_eq!(
        go_client(&good.addr(), "localhost", &ca, Some(good_client)),
        "ok"
    );
    assert_eq!(good.verdict(), "ok my-application");

    let mut judged = 0;
    for fixture in manifest["fixtures"].as_array().unwrap() {
        if fixture["set"] != "bad" {
            continue;
        }
        let name = fixture["name"].as_str().unwrap();
        let expect = fixture["expect"].as_str().unwrap();
        let cert = f(fixture["cert"].as_str().unwrap());
        let (role, got) = match fixture["role"].as_str().unwrap() {
            "server" => {
                let key = f(fixture["key"].as_str().unwrap());
                let server = GoServer::start(&ca, &cert, &key);
                let got = go_client(&server.addr(), "localhost", &ca, Some(good_client));
                server.verdict();
                ("Go client", got)
            }
            "client" => {
                let key = f(fixture["key"].as_str().unwrap());
                let got = go_client(&good.addr(), "localhost", &ca, Some((&cert, &key)));
                assert!(got.starts_with("error"), "{name}: the client saw {got}");
                ("Go server", good.verdict())
            }
            // The foreign CA, trusted in place of ca.crt, refuses the good server.
            _ => {
                let got = go_client(&good.addr(), "localhost", &cert, Some(good_client));
                let _ = good.verdict();
                ("Go client trusting it", got)
            }
        };
        let reason = match expect {
            "expired" => "certificate has expired or is not yet valid",
            "not-yet-valid" => "certificate has expired or is not yet valid: current time",
            "name-mismatch" => "is valid for wrong-host.example, not localhost",
            "unknown-issuer" | "self-signed" => "certificate signed by unknown authority",
            "wrong-purpose" => "incompatible key usage",
            other => panic!("{name}: no Go reason known for `{other}`"),
        };
        assert!(
            got.starts_with("error") && got.contains(reason),
            "{name} ({expect}): the {role} said `{got}`, expected `{reason}`"
        );
        judged += 1;
    }
    assert_eq!(judged, 7, "every bad fixture was judged");
}

/// `otelpki probe` against Go's server, as against the Collector: a good handshake with the
/// client certificate accepted, none given, and each rejected client certificate named.
#[test]
fn probe_against_a_go_server() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fixtures");
    otelpki(&dir).arg("fixtures").assert().success();
    let f = |name: &str| dir.join(name).display().to_string();
    let server = GoServer::start(
        &dir.join("ca.crt"),
        &dir.join("server.crt"),
        &dir.join("server.key"),
    );
    let url = format!("https://localhost:{}", server.port);
    let probe = |pair: Option<&str>| {
        let mut args = vec![
            "probe".to_string(),
            url.clone(),
            "--ca".into(),
            f("ca.crt"),
            "--json".into(),
            // tlspeer is a TLS peer, not an OTLP receiver: the handshake is what it judges.
            "--tls-only".into(),
        ];
        if let Some(stem) = pair {
            args.extend([
                "--cert".into(),
                f(&format!("{stem}.crt")),
                "--key".into(),
                f(&format!("{stem}.key")),
            ]);
        }
        let out = otelpki(&dir).args(&args).output().unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {out:?}"));
        let codes: Vec<String> = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect();
        (out.status.code(), codes, doc, server.verdict())
    };

    let (code, codes, doc, said) = probe(Some("client"));
    assert_eq!((code, codes.len()), (Some(0), 0), "{doc:#}");
    assert_eq!(said, "ok my-application");

    let (code, codes, doc, said) = probe(None);
    assert_eq!(code, Some(1), "{doc:#}");
    assert_eq!(codes, ["client-cert-required"], "{doc:#}");
    assert!(
        said.contains("client didn't provide a certificate"),
        "{said}"
    );

    for (stem, go_says) in [
        ("foreign-client", "unknown authority"),
        ("no-clientauth-client", "incompatible key usage"),
    ] {
        let (code, codes, doc, said) = probe(Some(stem));
        assert_eq!(code, Some(1), "{stem}: {doc:#}");
        assert_eq!(codes, ["client-cert-rejected"], "{stem}: {doc:#}");
        assert!(said.contains(go_says), "{stem}: {said}");
    }
}
