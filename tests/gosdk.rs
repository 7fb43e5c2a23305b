//! The OpenTelemetry Go SDK judges `otelpki config env` against the real Collector (issue 11,
//! points 4, 8 and 9): `tests/gosdk/` (pinned otel-go v1.47.0: otlptracegrpc, otlptracehttp,
//! the metric exporters, and the log exporters v0.23.0) is configured ONLY by the variables of
//! the env file (plus OTEL_EXPORTER_OTLP_TIMEOUT, to bound the refusals), built once into
//! `target/judges/gosdk-HASH`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::common::collector::{self, Collector};
use crate::common::gobuild::{self, run_bounded};
use crate::common::otelpki;

/// The otel-go release pinned in tests/gosdk/go.mod.
pub const GO_SDK_VERSION: &str = "1.47.0";
/// The exporter's own OTLP timeout when the data must arrive, and when it must not.
const DELIVER_TIMEOUT: Duration = Duration::from_secs(20);
const REFUSE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the exporter process may run in all.
const PROCESS_LIMIT: Duration = Duration::from_secs(90);

/// The Go SDK exporter program, built on first use.
pub fn binary() -> &'static Path {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gosdk");
    match BUILT.get_or_init(|| gobuild::build(&src, "gosdk")) {
        Ok(path) => path,
        Err(e) => panic!("building the Go SDK exporter (tests/gosdk) failed: {e}"),
    }
}

/// `otelpki --dir DIR config env ARGS`, parsed into its variables.
pub fn config_env(dir: &Path, args: &[&str]) -> BTreeMap<String, String> {
    let out = otelpki(dir)
        .args(["config", "env"])
        .args(args)
        .output()
        .expect("run otelpki config env");
    assert!(
        out.status.success(),
        "otelpki config env {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    crate::config::parse_env(&String::from_utf8_lossy(&out.stdout))
}

/// The env file for the Collector's gRPC (or HTTP) receiver, with DIR's client `client`.
pub fn env_for(dir: &Path, c: &Collector, grpc: bool, client: &str) -> BTreeMap<String, String> {
    let (url, protocol) = if grpc {
        (c.grpc_url(), "grpc")
    } else {
        (c.http_url(), "http")
    };
    config_env(
        dir,
        &[
            "--endpoint",
            &url,
            "--protocol",
            protocol,
            "--client",
            client,
        ],
    )
}

/// What one run of the Go exporter said.
pub struct Export {
    pub ok: bool,
    pub output: String,
}

/// Runs the Go exporter with exactly `env` (and PATH, HOME, OTEL_EXPORTER_OTLP_TIMEOUT):
/// exports `name` as the signals listed (`traces`, `traces,metrics,logs`).
pub fn export(env: &BTreeMap<String, String>, name: &str, signals: &str, deliver: bool) -> Export {
    let timeout = if deliver {
        DELIVER_TIMEOUT
    } else {
        REFUSE_TIMEOUT
    };
    let mut cmd = Command::new(binary());
    cmd.args([name, signals])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env(
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            timeout.as_millis().to_string(),
        )
        .envs(env);
    let done = run_bounded(&mut cmd, PROCESS_LIMIT).unwrap_or_else(|e| panic!("{e}"));
    let output = format!("{}{}", done.stdout, done.stderr);
    let ok = done.status.success() && done.stdout.contains("RESULT SUCCESS");
    if !ok {
        assert!(
            done.status.code() == Some(1) && done.stdout.contains("RESULT FAILURE"),
            "the Go exporter did not run as expected ({}):\n{output}",
            done.status
        );
    }
    Export { ok, output }
}

/// Exports `name` and asserts it arrived at `c`: every signal listed.
pub fn deliver(c: &Collector, env: &BTreeMap<String, String>, name: &str, signals: &str) {
    let done = export(env, name, signals, true);
    assert!(
        done.ok,
        "the Go exporter failed:\n{}\n--- Collector\n{}",
        done.output,
        c.log()
    );
    for signal in signals.split(',') {
        let arrived = match signal {
            "traces" => c.wait_for_span(name),
            "metrics" => c.wait_for_metric(name),
            "logs" => c.wait_for_log(name),
            other => panic!("no such signal {other}"),
        };
        assert!(
            arrived,
            "{signal} `{name}` did not reach the Collector\n--- exporter\n{}\n--- Collector\n{}",
            done.output,
            c.log()
        );
    }
}

/// The Go SDK exports a span over gRPC and over HTTP to the real Collector, for one key type,
/// configured only by `config env` for each receiver.
fn span_per_key_type(key_type: &str) {
    let (_tmp, dir) = crate::common::init_pki(&["--key-type", key_type]);
    let c = Collector::start(&collector::render(&dir, &[]));
    for grpc in [true, false] {
        let name = format!("go-{key_type}-{}", if grpc { "grpc" } else { "http" });
        deliver(&c, &env_for(&dir, &c, grpc, "client"), &name, "traces");
    }
}

#[test]
fn go_sdk_exports_to_the_collector_ecdsa_p256() {
    span_per_key_type("ecdsa-p256");
}

#[test]
fn go_sdk_exports_to_the_collector_ecdsa_p384() {
    span_per_key_type("ecdsa-p384");
}

#[test]
fn go_sdk_exports_to_the_collector_rsa_2048() {
    span_per_key_type("rsa-2048");
}

#[test]
fn go_sdk_exports_to_the_collector_rsa_4096() {
    span_per_key_type("rsa-4096");
}

/// Go (the SDK and the Collector) does Ed25519 end to end.
#[test]
fn go_sdk_exports_to_the_collector_ed25519() {
    span_per_key_type("ed25519");
}

/// The exporters are pinned: every go.opentelemetry.io/otel module the program requires
/// directly is at GO_SDK_VERSION, except the log exporters (v0.x, released with it).
#[test]
fn go_sdk_is_pinned() {
    let go_mod =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gosdk/go.mod"))
            .unwrap();
    let direct: Vec<(&str, &str)> = go_mod
        .lines()
        .filter(|l| l.starts_with("\tgo.opentelemetry.io/otel") && !l.contains("// indirect"))
        .filter_map(|l| l.trim().split_once(' '))
        .collect();
    assert!(direct.len() >= 8, "{go_mod}");
    for (module, version) in direct {
        let want = if module.contains("/otlplog/") {
            "v0.23.0"
        } else {
            &format!("v{GO_SDK_VERSION}")
        };
        assert_eq!(version, want, "{module}");
    }
}

// ---------------------------------------------------------------------------------------------
// Negatives on the real Collector (issue 11, point 8): each made for real with `otelpki
// fixtures`, exported with the Go SDK over gRPC and HTTP. The export fails with the Go stack's
// own words, nothing arrives, the Collector's HTTP server logs its side, and `otelpki probe`
// against the same Collector names the cause (and passes with the good client pair).

/// What one negative changes from the good set-up (fixtures' server.crt on the Collector, the
/// env file of `config env --client client`).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Twist {
    /// The Collector serves wrong-name-server.crt (for wrong-host.example only).
    WrongName,
    /// The Collector serves expired-server.crt.
    Expired,
    /// The env file's OTEL_EXPORTER_OTLP_CERTIFICATE names foreign-ca.crt.
    WrongCa,
    /// The env file's endpoint is http://, and its TLS variables are gone (the article's case).
    PlainHttp,
    /// The env file without OTEL_EXPORTER_OTLP_CLIENT_KEY and _CLIENT_CERTIFICATE.
    NoClientCert,
    /// `config env --client foreign-client` (signed by foreign-ca.crt).
    ForeignClient,
    /// The env file's client pair is no-clientauth-client (serverAuth, no clientAuth).
    NoClientAuth,
}

/// What must be said, by whom.
struct Said {
    /// By the Go gRPC exporter: one of these.
    grpc: &'static [&'static str],
    /// By the Go HTTP exporter: one of these.
    http: &'static [&'static str],
    /// By the Collector about the connection, [on gRPC, on HTTP] (the HTTP server logs TLS
    /// handshake errors as "http: TLS handshake error from ADDR: TEXT"; gRPC logs
    /// "ServerHandshake(ADDR) failed: TEXT" at debug level, which these tests turn on).
    collector: [&'static str; 2],
    /// The finding code of `otelpki probe --json` against either receiver.
    probe: &'static str,
}

/// The Collector's words: the client refused our certificate; no client certificate came; the
/// client certificate has no clientAuth.
const BAD_CERT_ALERT: &str = "remote error: tls: bad certificate";
const NO_CERT: &str = "tls: client didn't provide a certificate";
const NO_CLIENT_AUTH: &str =
    "tls: failed to verify certificate: x509: certificate specifies an incompatible key usage";

/// When the Collector refuses the client certificate under TLS 1.3, the client has finished
/// its half of the handshake and may already be writing: Go then reports the Collector's alert
/// or, as often, the closed connection it wrote to; Go's HTTP/2 transport may also report a
/// failed dial shared by two requests without its cause. The Collector's own words
/// (`Said::collector`) are the deterministic ones for these.
const REFUSED_NO_CERT: &[&str] = &[
    "remote error: tls: certificate required",
    "write: broken pipe",
    "connection reset by peer",
    "http2: client conn could not be established",
];
const REFUSED_BAD_CERT: &[&str] = &[
    "remote error: tls: bad certificate",
    "write: broken pipe",
    "connection reset by peer",
    "http2: client conn could not be established",
];

fn expected(twist: Twist) -> Said {
    let both = |text| [text, text];
    match twist {
        Twist::WrongName => Said {
            grpc: &["x509: certificate is valid for wrong-host.example, not localhost"],
            http: &["x509: certificate is valid for wrong-host.example, not localhost"],
            collector: both(BAD_CERT_ALERT),
            probe: "name-mismatch",
        },
        Twist::Expired => Said {
            grpc: &["x509: certificate has expired or is not yet valid"],
            http: &["x509: certificate has expired or is not yet valid"],
            collector: both(BAD_CERT_ALERT),
            probe: "expired",
        },
        Twist::WrongCa => Said {
            grpc: &["x509: certificate signed by unknown authority"],
            http: &["x509: certificate signed by unknown authority"],
            collector: both(BAD_CERT_ALERT),
            probe: "unknown-ca",
        },
        Twist::PlainHttp => Said {
            // the TLS receiver closes on the plaintext preface; with the client's bytes still
            // unread on its side, the close can arrive as a reset instead of an end of stream
            grpc: &[
                "error reading server preface: EOF",
                "error reading server preface: connection reset by peer",
            ],
            http: &["400 Bad Request (body: Client sent an HTTP request to an HTTPS server.)"],
            collector: [
                "first record does not look like a TLS handshake",
                "client sent an HTTP request to an HTTPS server",
            ],
            probe: "plaintext-scheme",
        },
        Twist::NoClientCert => Said {
            grpc: REFUSED_NO_CERT,
            http: REFUSED_NO_CERT,
            collector: both(NO_CERT),
            probe: "client-cert-required",
        },
        // Go's client sends a certificate only if its issuer is among the CAs the server asks
        // for (tls.CertificateRequestInfo.SupportsCertificate), so the foreign one is withheld
        // and the Collector sees none; rustls (probe) sends it and is told it is rejected.
        Twist::ForeignClient => Said {
            grpc: REFUSED_NO_CERT,
            http: REFUSED_NO_CERT,
            collector: both(NO_CERT),
            probe: "client-cert-rejected",
        },
        Twist::NoClientAuth => Said {
            grpc: REFUSED_BAD_CERT,
            http: REFUSED_BAD_CERT,
            collector: both(NO_CLIENT_AUTH),
            probe: "client-cert-rejected",
        },
    }
}

/// `otelpki probe URL ARGS --json` from DIR: (exit code, finding codes, the document).
fn probe(dir: &Path, url: &str, args: &[&str]) -> (Option<i32>, Vec<String>, String) {
    let out = otelpki(dir)
        .args(["probe", url, "--json"])
        .args(args)
        .output()
        .expect("run otelpki probe");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let doc: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("probe --json: {e}: {out:?}"));
    let codes = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["code"].as_str().expect("code").to_string())
        .collect();
    (out.status.code(), codes, text)
}

fn negative(twist: Twist) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fixtures");
    otelpki(&dir).arg("fixtures").assert().success();
    let f = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let server = match twist {
        Twist::WrongName => "wrong-name-server",
        Twist::Expired => "expired-server",
        _ => "server",
    };
    let c = Collector::start_with(
        &collector::render(&dir, &["--server", server]),
        &["--set=service::telemetry::logs::level=debug"],
    );
    let said = expected(twist);
    for grpc in [true, false] {
        let protocol = if grpc { "grpc" } else { "http" };
        let client = if twist == Twist::ForeignClient {
            "foreign-client"
        } else {
            "client"
        };
        let mut env = env_for(&dir, &c, grpc, client);
        match twist {
            Twist::WrongCa => {
                env.insert("OTEL_EXPORTER_OTLP_CERTIFICATE".into(), f("foreign-ca.crt"));
            }
            Twist::PlainHttp => {
                let url = env["OTEL_EXPORTER_OTLP_ENDPOINT"].replacen("https://", "http://", 1);
                env.insert("OTEL_EXPORTER_OTLP_ENDPOINT".into(), url);
                env.retain(|k, _| !k.ends_with("CERTIFICATE") && !k.ends_with("CLIENT_KEY"));
            }
            Twist::NoClientCert => env.retain(|k, _| !k.contains("_CLIENT_")),
            Twist::NoClientAuth => {
                env.insert(
                    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE".into(),
                    f("no-clientauth-client.crt"),
                );
                env.insert(
                    "OTEL_EXPORTER_OTLP_CLIENT_KEY".into(),
                    f("no-clientauth-client.key"),
                );
            }
            _ => {}
        }
        let name = format!("refused-{protocol}");
        let done = export(&env, &name, "traces", false);
        let context = format!("{twist:?} over {protocol}");
        assert!(
            !done.ok,
            "{context}: the export must fail:\n{}",
            done.output
        );
        let wanted = if grpc { said.grpc } else { said.http };
        assert!(
            wanted.iter().any(|w| done.output.contains(w)),
            "{context}: expected one of {wanted:?} from the Go exporter:\n{}",
            done.output
        );
        let (receiver, text) = if grpc {
            ("ServerHandshake(", said.collector[0])
        } else {
            ("http: TLS handshake error from", said.collector[1])
        };
        assert!(
            c.wait_for_line(|l| l.contains(receiver) && l.contains(text)),
            "{context}: expected `{text}` in the Collector's log:\n{}",
            c.log()
        );

        // probe, against the same receiver, names the cause.
        let url = if grpc { c.grpc_url() } else { c.http_url() };
        let (ca, pair) = match twist {
            Twist::WrongCa => (f("foreign-ca.crt"), "client"),
            Twist::ForeignClient => (f("ca.crt"), "foreign-client"),
            Twist::NoClientAuth => (f("ca.crt"), "no-clientauth-client"),
            _ => (f("ca.crt"), "client"),
        };
        let (cert, key) = (f(&format!("{pair}.crt")), f(&format!("{pair}.key")));
        // probe speaks the receiver's protocol (its empty export), as the exporter did
        let probe_protocol = if grpc { "grpc" } else { "http" };
        let mut args = vec!["--ca", &ca, "--protocol", probe_protocol];
        if twist != Twist::NoClientCert {
            args.extend(["--cert", &cert, "--key", &key]);
        }
        let probed = if twist == Twist::PlainHttp {
            url.replacen("https://", "http://", 1)
        } else {
            url.clone()
        };
        let (code, codes, doc) = probe(&dir, &probed, &args);
        assert_eq!(code, Some(1), "{context}: probe:\n{doc}");
        assert!(
            codes.iter().any(|c| c == said.probe),
            "{context}: probe must name `{}`:\n{doc}",
            said.probe
        );

        if server == "server" {
            // The good pair passes probe, and the good env file delivers, through the same
            // Collector: the refusal was about the twist alone.
            let (good_ca, good_cert, good_key) = (f("ca.crt"), f("client.crt"), f("client.key"));
            let good = [
                "--ca",
                &good_ca,
                "--cert",
                &good_cert,
                "--key",
                &good_key,
                "--protocol",
                probe_protocol,
            ];
            let (code, codes, doc) = probe(&dir, &url, &good);
            assert_eq!(
                (code, codes.len()),
                (Some(0), 0),
                "{context}: good probe:\n{doc}"
            );
            let canary = format!("canary-{protocol}");
            deliver(&c, &env_for(&dir, &c, grpc, "client"), &canary, "traces");
        }
        assert!(
            !c.saw_span(&name),
            "{context}: nothing may arrive, but the Collector printed the span:\n{}",
            c.log()
        );
    }
}

#[test]
fn go_refused_wrong_server_name() {
    negative(Twist::WrongName);
}

#[test]
fn go_refused_expired_server_certificate() {
    negative(Twist::Expired);
}

#[test]
fn go_refused_wrong_ca() {
    negative(Twist::WrongCa);
}

#[test]
fn go_refused_plain_http_against_the_tls_receiver() {
    negative(Twist::PlainHttp);
}

#[test]
fn go_refused_without_client_certificate() {
    negative(Twist::NoClientCert);
}

#[test]
fn go_refused_client_from_a_foreign_ca() {
    negative(Twist::ForeignClient);
}

#[test]
fn go_refused_client_without_client_auth() {
    negative(Twist::NoClientAuth);
}

/// Only the scheme of the env file edited to http://, its TLS variables kept: the Go gRPC
/// exporter still does TLS with them (it lets OTEL_EXPORTER_OTLP_CERTIFICATE win over the
/// scheme) and delivers; the Go HTTP exporter refuses the mix before it connects. Asserted as
/// observed with v1.47.0, so a change in either is noticed.
#[test]
fn go_http_scheme_with_the_env_files_tls_variables() {
    let (_tmp, dir) = crate::common::init_pki(&[]);
    let c = Collector::start(&collector::render(&dir, &[]));
    for grpc in [true, false] {
        let mut env = env_for(&dir, &c, grpc, "client");
        let url = env["OTEL_EXPORTER_OTLP_ENDPOINT"].replacen("https://", "http://", 1);
        env.insert("OTEL_EXPORTER_OTLP_ENDPOINT".into(), url);
        if grpc {
            deliver(&c, &env, "http-scheme-grpc", "traces");
        } else {
            let done = export(&env, "http-scheme-http", "traces", false);
            assert!(
                !done.ok
                    && done
                        .output
                        .contains("insecure HTTP endpoint cannot use TLS client configuration"),
                "{}",
                done.output
            );
            deliver(&c, &env_for(&dir, &c, false, "client"), "canary", "traces");
            assert!(!c.saw_span("http-scheme-http"), "{}", c.log());
        }
    }
}
