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
