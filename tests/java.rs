//! The OpenTelemetry Java SDK judges otelpki's output (issue 11, items 5, 7, 8 and 9): its
//! autoconfigured OTLP exporter, configured only by `otelpki config env`, by the Java agent
//! flags of `otelpki config java`, or by the file of `otelpki config declarative`
//! (OTEL_CONFIG_FILE), exports one span over mTLS; or it fails, and the stack's own words for
//! the failure are asserted.
//!
//! The Java side is `tests/java/` (a Maven project pinning the SDK, the declarative loader and
//! the agent). The first run builds it into `target/java-cache/` with `mvn -q -B package`
//! (Maven Central must be reachable then; artifacts are cached in `~/.m2`); later runs reuse
//! the build while the pom, the sources and the tool versions are unchanged, so they download
//! nothing. A missing `java`/`javac`/`mvn` fails the tests with what to install.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::common::otelpki;
use crate::sdk::{
    Finished, InstallLock, Receiver, RunningReceiver, clean_command, installed, require_success,
    run_bounded, tool_version, toolchain,
};

/// How long the one-time `mvn package` may take (a cold ~/.m2 downloads ~60 MB).
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);
/// How long one Java run may take in all (JVM and agent start-up included).
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// OTEL_EXPORTER_OTLP_TIMEOUT (ms) where the span must arrive, and where it must not.
const OTLP_TIMEOUT_DELIVER: &str = "10000";
const OTLP_TIMEOUT_REFUSE: &str = "3000";

/// The CN of the client certificate of `otelpki init` and of `otelpki fixtures`.
const CLIENT_CN: &str = "my-application";

// ---------------------------------------------------------------------------------------------
// The Java judge, built once per change of tests/java/.

/// `target/java-cache/build/target`: `app.jar` (its class path in `lib/`) and
/// `opentelemetry-javaagent.jar`, the names the Java agent template uses.
fn judge() -> &'static Path {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BUILT.get_or_init(build) {
        Ok(dir) => dir,
        Err(message) => panic!("Java set-up failed: {message}"),
    }
}

fn project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("java")
}

fn cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is target/tmp")
        .join("java-cache")
}

/// Every file under `dir`, sorted, as (path relative to `root`, bytes).
fn files(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) -> Result<(), String> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(|e| format!("read {}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(root, &path, out)?;
        } else {
            let bytes = fs::read(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
            let name = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            out.push((name, bytes));
        }
    }
    Ok(())
}

fn build() -> Result<PathBuf, String> {
    const JDK: &str =
        "install a JDK 17 or later (Debian/Ubuntu: apt-get install default-jdk-headless)";
    const MAVEN: &str = "install Maven (Debian/Ubuntu: apt-get install maven)";
    let java = tool_version("java", JDK)?;
    let javac = tool_version("javac", JDK)?;
    let mvn = tool_version("mvn", MAVEN)?;
    let cache = cache();
    fs::create_dir_all(&cache).map_err(|e| format!("create {}: {e}", cache.display()))?;
    let _lock = InstallLock::acquire(&cache.join("build.lock"))?;

    let mut sources = Vec::new();
    files(&project(), &project(), &mut sources)?;
    let mut stamp = format!("{java}\n{javac}\n{mvn}\n");
    for (name, bytes) in &sources {
        stamp.push_str(&format!("--- {name}\n{}\n", String::from_utf8_lossy(bytes)));
    }
    let build = cache.join("build");
    let out = build.join("target");
    let marker = cache.join("built.txt");
    if installed(&marker, &stamp)
        && out.join("app.jar").is_file()
        && out.join("opentelemetry-javaagent.jar").is_file()
    {
        return Ok(out);
    }
    let _ = fs::remove_file(&marker);
    match fs::remove_dir_all(&build) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("remove {}: {e}", build.display())),
    }
    for (name, bytes) in &sources {
        let to = build.join(name);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("create {}: {e}", parent.display()))?;
        }
        fs::write(&to, bytes).map_err(|e| format!("write {}: {e}", to.display()))?;
    }
    let done = run_bounded(
        Command::new("mvn")
            .args(["-q", "-B", "package"])
            .current_dir(&build),
        BUILD_TIMEOUT,
    )?;
    require_success(
        done,
        "mvn -q -B package (tests/java/pom.xml)",
        "Maven Central must be reachable for the first run",
    )?;
    fs::write(&marker, stamp).map_err(|e| format!("write {}: {e}", marker.display()))?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Runs.

/// The Java SDK, configured by `vars` and nothing else (the environment is cleared).
fn run_sdk(vars: &[(String, String)], span: &str) -> Finished {
    let mut cmd = clean_command("java");
    cmd.current_dir(judge())
        .args(["-jar", "app.jar", "sdk", span])
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    run_bounded(&mut cmd, RUN_TIMEOUT).unwrap_or_else(|e| panic!("{e}"))
}

/// The command of `config java` (from `java -javaagent:` to `-jar app.jar`), run as written
/// by `sh` in the directory that holds `opentelemetry-javaagent.jar` and `app.jar`, with the
/// application's own arguments appended.
fn run_agent(rendered: &str, span: &str, timeout_ms: &str) -> Finished {
    let mut lines = rendered
        .lines()
        .skip_while(|l| !l.starts_with("java -javaagent:"));
    let mut command = String::new();
    for line in lines.by_ref() {
        command.push_str(line);
        command.push('\n');
        if !line.ends_with('\\') {
            break;
        }
    }
    assert!(
        command.trim_end().ends_with("-jar app.jar"),
        "the `config java` command does not end with `-jar app.jar`:\n{rendered}"
    );
    let command = format!("{} agent {span}", command.trim_end());
    let mut cmd = clean_command("sh");
    cmd.current_dir(judge())
        .arg("-c")
        .arg(&command)
        // Not TLS settings: only what keeps the run short and the output about the span.
        .env("OTEL_METRICS_EXPORTER", "none")
        .env("OTEL_LOGS_EXPORTER", "none")
        .env("OTEL_EXPORTER_OTLP_TIMEOUT", timeout_ms);
    run_bounded(&mut cmd, RUN_TIMEOUT).unwrap_or_else(|e| panic!("{e}"))
}

/// `otelpki config TARGET --endpoint ... --protocol ...` in `dir`, with `extra` arguments.
fn config(dir: &Path, target: &str, endpoint: &str, protocol: &str, extra: &[&str]) -> String {
    let out = otelpki(dir)
        .args([
            "config",
            target,
            "--endpoint",
            endpoint,
            "--protocol",
            protocol,
        ])
        .args(extra)
        .output()
        .expect("run otelpki config");
    assert!(
        out.status.success(),
        "otelpki config {target} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

// ---------------------------------------------------------------------------------------------
// The server the exporter talks to.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    Grpc,
    Http,
}

impl Protocol {
    fn flag(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::Http => "http",
        }
    }
}

/// A TLS server that requires a client certificate chaining to DIR/ca.crt and reports the
/// spans it receives.
struct Server {
    receiver: RunningReceiver,
}

impl Server {
    /// Presents DIR/NAME.crt and DIR/NAME.key.
    fn start(protocol: Protocol, dir: &Path, name: &str) -> Server {
        let kind = match protocol {
            Protocol::Grpc => Receiver::PythonGrpc,
            Protocol::Http => Receiver::PythonHttp,
        };
        let receiver = RunningReceiver::start(
            kind,
            toolchain(),
            &dir.join(format!("{name}.crt")),
            &dir.join(format!("{name}.key")),
            &dir.join("ca.crt"),
        );
        Server { receiver }
    }

    fn port(&self) -> u16 {
        self.receiver.port
    }

    /// Waits (bounded) for exactly `span`, sent with the client certificate of CLIENT_CN.
    fn assert_received(&self, span: &str, context: &str) {
        let line = format!("SPAN {span}");
        self.receiver.wait_until(|t| t.lines().any(|l| l == line));
        assert_eq!(
            self.receiver.spans(),
            [span],
            "{context}: the server must have got exactly our span\n{}",
            self.transcript()
        );
        assert_eq!(
            self.receiver.peers(),
            [CLIENT_CN],
            "{context}: the server must have seen our client certificate\n{}",
            self.transcript()
        );
    }

    fn assert_got_nothing(&self, context: &str) {
        assert!(
            self.receiver.spans().is_empty() && self.receiver.peers().is_empty(),
            "{context}: the server must have got nothing\n{}",
            self.transcript()
        );
    }

    fn transcript(&self) -> String {
        self.receiver.transcript()
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios.

/// How the Java SDK is configured.
#[derive(Clone, Copy, Debug)]
enum Via {
    /// AutoConfiguredOpenTelemetrySdk with the variables of `config env`, nothing else.
    Env,
    /// AutoConfiguredOpenTelemetrySdk with OTEL_CONFIG_FILE = the file of `config declarative`.
    Declarative,
    /// The Java agent, run with the command of `config java`.
    Agent,
}

/// What is changed from the good set-up.
#[derive(Clone, Copy, Debug)]
enum Twist {
    None,
    /// The server presents `wrong-name-server` (fixtures): not valid for localhost.
    WrongName,
    /// The server presents `expired-server` (fixtures).
    Expired,
    /// The exporter trusts `foreign-ca.crt` instead of the CA that signed the server.
    WrongCa,
    /// The exporter has no client certificate or key.
    NoClientCert,
    /// The exporter presents `foreign-client` (fixtures): signed by another CA.
    ForeignClient,
    /// The exporter presents `no-clientauth-client` (fixtures): no clientAuth EKU.
    NoClientAuth,
    /// The endpoint is http://: plaintext against the TLS server.
    PlainHttp,
    /// The PKI directory's path holds `${HOME}`, which the declarative loader must not expand.
    DollarInPath,
}

#[derive(Clone, Copy, Debug)]
enum Expect {
    /// The exporter reports success and the server got exactly our span.
    Delivered,
    /// The exporter reports failure, the server got nothing, and the Java side's output
    /// holds every one of these texts.
    Refused(&'static [&'static str]),
}
use Expect::{Delivered, Refused};

/// Rewrites the value of `key` in `vars`, or removes it with `None`.
fn set(vars: &mut Vec<(String, String)>, key: &str, value: Option<String>) {
    vars.retain(|(k, _)| k != key);
    if let Some(v) = value {
        vars.push((key.to_string(), v));
    }
}

fn run(test: &str, key_type: &str, protocol: Protocol, via: Via, twist: Twist, expect: Expect) {
    let context = format!("{test} ({key_type}, {protocol:?}, {via:?}, {twist:?})");
    let prefix = match twist {
        Twist::DollarInPath => "otelpki-${HOME}-",
        _ => "otelpki-java-",
    };
    let tmp = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("tempdir");
    let dir = tmp.path().join("certs");
    // The good set is `init`; a twist takes its bad certificate from `fixtures`.
    let pki = match twist {
        Twist::None | Twist::DollarInPath => vec!["init", "--key-type", key_type],
        _ => vec!["fixtures", "--key-type", key_type],
    };
    otelpki(&dir).args(&pki).assert().success();
    let server_name = match twist {
        Twist::WrongName => "wrong-name-server",
        Twist::Expired => "expired-server",
        _ => "server",
    };
    let server = Server::start(protocol, &dir, server_name);
    let endpoint = format!("https://localhost:{}", server.port());
    let span = format!("otelpki-{test}");
    let path = |name: &str| dir.join(name).to_str().expect("UTF-8 path").to_string();
    let client_args: &[&str] = match twist {
        Twist::ForeignClient => &["--client", "foreign-client"],
        _ => &["--client", "client"],
    };

    let done = match via {
        Via::Env => {
            let text = config(&dir, "env", &endpoint, protocol.flag(), client_args);
            let mut vars: Vec<(String, String)> =
                crate::config::parse_env(&text).into_iter().collect();
            match twist {
                Twist::WrongCa => set(
                    &mut vars,
                    "OTEL_EXPORTER_OTLP_CERTIFICATE",
                    Some(path("foreign-ca.crt")),
                ),
                Twist::NoClientCert => {
                    set(&mut vars, "OTEL_EXPORTER_OTLP_CLIENT_KEY", None);
                    set(&mut vars, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", None);
                }
                Twist::NoClientAuth => {
                    let name = "no-clientauth-client";
                    set(
                        &mut vars,
                        "OTEL_EXPORTER_OTLP_CLIENT_KEY",
                        Some(path(&format!("{name}.key"))),
                    );
                    set(
                        &mut vars,
                        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                        Some(path(&format!("{name}.crt"))),
                    );
                }
                Twist::PlainHttp => set(
                    &mut vars,
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    Some(endpoint.replace("https://", "http://")),
                ),
                Twist::None
                | Twist::WrongName
                | Twist::Expired
                | Twist::ForeignClient
                | Twist::DollarInPath => {}
            }
            // Not TLS settings: only what keeps the run short and the output about the span.
            let timeout = match expect {
                Delivered => OTLP_TIMEOUT_DELIVER,
                Refused(_) => OTLP_TIMEOUT_REFUSE,
            };
            for (k, v) in [
                ("OTEL_METRICS_EXPORTER", "none"),
                ("OTEL_LOGS_EXPORTER", "none"),
                ("OTEL_EXPORTER_OTLP_TIMEOUT", timeout),
            ] {
                set(&mut vars, k, Some(v.to_string()));
            }
            run_sdk(&vars, &span)
        }
        Via::Declarative => {
            assert!(
                matches!(twist, Twist::None | Twist::DollarInPath),
                "{context}: not a declarative case"
            );
            let file = tmp.path().join("otel-config.yaml");
            let out = file.to_str().expect("UTF-8 path");
            config(
                &dir,
                "declarative",
                &endpoint,
                protocol.flag(),
                &["--out", out],
            );
            run_sdk(&[("OTEL_CONFIG_FILE".into(), out.into())], &span)
        }
        Via::Agent => {
            assert!(matches!(twist, Twist::None), "{context}: not an agent case");
            let text = config(&dir, "java", &endpoint, protocol.flag(), client_args);
            let timeout = match expect {
                Delivered => OTLP_TIMEOUT_DELIVER,
                Refused(_) => OTLP_TIMEOUT_REFUSE,
            };
            run_agent(&text, &span, timeout)
        }
    };
    let java = format!(
        "--- Java ({}) stdout\n{}\n--- Java stderr\n{}",
        done.status, done.stdout, done.stderr
    );

    match expect {
        Delivered => {
            let ok = match via {
                // The agent's SDK exports when the JVM exits, and logs a failure to stderr.
                Via::Agent => {
                    done.status.success()
                        && done.stdout.contains(&format!("ENDED {span}"))
                        && !done.stderr.contains("Failed to export")
                }
                Via::Env | Via::Declarative => {
                    done.status.success() && done.stdout.contains("RESULT SUCCESS")
                }
            };
            assert!(
                ok,
                "{context}: the Java exporter did not report success\n{java}\n{}",
                server.transcript()
            );
            server.assert_received(&span, &context);
        }
        Refused(texts) => {
            let failed = match via {
                Via::Agent => done.stderr.contains("Failed to export"),
                Via::Env | Via::Declarative => {
                    done.status.code() == Some(1) && done.stdout.contains("RESULT FAILURE")
                }
            };
            assert!(
                failed,
                "{context}: the Java exporter must report failure\n{java}\n{}",
                server.transcript()
            );
            for text in texts {
                assert!(
                    java.contains(text),
                    "{context}: expected {text:?} in the Java output\n{java}\n{}",
                    server.transcript()
                );
            }
            server.assert_got_nothing(&context);
        }
    }
}

/// One test per line: `name: key type, protocol, via, twist => expectation;`
macro_rules! java {
    ($($(#[$doc:meta])* $name:ident: $kt:literal, $protocol:ident, $via:ident, $twist:ident => $expect:expr;)*) => {
        $(
            $(#[$doc])*
            #[test]
            fn $name() {
                run(
                    stringify!($name),
                    $kt,
                    Protocol::$protocol,
                    Via::$via,
                    Twist::$twist,
                    $expect,
                );
            }
        )*
    };
}

java! {
    // The autoconfigured exporter with only `config env` (items 5 and 9).
    java_grpc_env_ecdsa_p256: "ecdsa-p256", Grpc, Env, None => Delivered;
    java_grpc_env_ecdsa_p384: "ecdsa-p384", Grpc, Env, None => Delivered;
    java_grpc_env_rsa_2048: "rsa-2048", Grpc, Env, None => Delivered;
    java_grpc_env_rsa_4096: "rsa-4096", Grpc, Env, None => Delivered;
    java_http_env_ecdsa_p256: "ecdsa-p256", Http, Env, None => Delivered;
    java_http_env_ecdsa_p384: "ecdsa-p384", Http, Env, None => Delivered;
    java_http_env_rsa_2048: "rsa-2048", Http, Env, None => Delivered;
    java_http_env_rsa_4096: "rsa-4096", Http, Env, None => Delivered;
    /// Java cannot load an Ed25519 key (its TlsUtil tries RSA and EC only): asserted, so the
    /// day it can is noticed and the Ed25519 warning can change.
    java_grpc_env_ed25519_fails: "ed25519", Grpc, Env, None => Refused(&[JAVA_ED25519]);
    java_http_env_ed25519_fails: "ed25519", Http, Env, None => Refused(&[JAVA_ED25519]);

    // The Java agent with the flags of `config java` (item 5).
    java_agent_grpc_with_config_java: "ecdsa-p256", Grpc, Agent, None => Delivered;
    java_agent_http_with_config_java: "ecdsa-p256", Http, Agent, None => Delivered;

    // The declarative loader with only the file of `config declarative` (item 7).
    java_declarative_grpc: "ecdsa-p256", Grpc, Declarative, None => Delivered;
    java_declarative_http: "ecdsa-p256", Http, Declarative, None => Delivered;
    /// `$` in a path is written `$$`: the loader reads the real path, not an expansion.
    java_declarative_dollar_in_path: "ecdsa-p256", Grpc, Declarative, DollarInPath => Delivered;

    // Negatives (item 8): the export fails, nothing arrives, and Java says why.
    java_grpc_wrong_server_name: "ecdsa-p256", Grpc, Env, WrongName => Refused(&[JAVA_WRONG_NAME]);
    java_http_wrong_server_name: "ecdsa-p256", Http, Env, WrongName => Refused(&[JAVA_WRONG_NAME]);
    java_grpc_expired_server: "ecdsa-p256", Grpc, Env, Expired => Refused(&[JAVA_EXPIRED]);
    java_http_expired_server: "ecdsa-p256", Http, Env, Expired => Refused(&[JAVA_EXPIRED]);
    java_grpc_wrong_ca: "ecdsa-p256", Grpc, Env, WrongCa => Refused(&[JAVA_UNKNOWN_ISSUER]);
    java_http_wrong_ca: "ecdsa-p256", Http, Env, WrongCa => Refused(&[JAVA_UNKNOWN_ISSUER]);
    java_grpc_no_client_cert: "ecdsa-p256", Grpc, Env, NoClientCert => Refused(&[]);
    java_http_no_client_cert: "ecdsa-p256", Http, Env, NoClientCert => Refused(&[]);
    java_grpc_foreign_client: "ecdsa-p256", Grpc, Env, ForeignClient => Refused(&[]);
    java_http_foreign_client: "ecdsa-p256", Http, Env, ForeignClient => Refused(&[]);
    java_grpc_client_without_client_auth: "ecdsa-p256", Grpc, Env, NoClientAuth => Refused(&[]);
    java_http_client_without_client_auth: "ecdsa-p256", Http, Env, NoClientAuth => Refused(&[]);
    java_grpc_plain_http: "ecdsa-p256", Grpc, Env, PlainHttp => Refused(&[]);
    java_http_plain_http: "ecdsa-p256", Http, Env, PlainHttp => Refused(&[]);
}

// The Java stack's own words (OkHttp over JSSE), as observed.
const JAVA_ED25519: &str = "Unable to generate key from supported algorithms";
const JAVA_WRONG_NAME: &str = "Hostname localhost not verified";
const JAVA_EXPIRED: &str = "validity check failed";
const JAVA_UNKNOWN_ISSUER: &str = "unable to find valid certification path to requested target";
