//! The real OpenTelemetry Collector (core v0.165.0, `tests/collector/`) loads
//! `otelpki config collector` as rendered (issue 11, points 1, 2, 3 and 10): as a gateway it
//! starts cleanly and receives spans, metrics and logs over mTLS on gRPC and HTTP; as an agent
//! it forwards to a gateway over mTLS; the exporter names match the Collector's components
//! (new names by default, the pre-v0.144.0 names on request); and `reload_interval` and
//! `client_ca_file_reload` pick up replaced files without a restart.
//! See `common/collector.rs` for how it is run.

use std::path::Path;

use crate::common::collector::{COLLECTOR_VERSION, Collector, components, render};
use crate::common::{init_pki, otelpki};
use crate::gosdk::{deliver, env_for};

/// The exporter names of `components` (the lines under `exporters:`).
fn exporter_names(list: &str) -> Vec<String> {
    let value: serde_norway::Value = serde_norway::from_str(list).expect("components is YAML");
    value["exporters"]
        .as_sequence()
        .expect("exporters")
        .iter()
        .map(|e| e["name"].as_str().expect("name").to_string())
        .collect()
}

/// The exporter IDs (`type/name`) a rendered config declares.
fn rendered_exporters(rendered: &str) -> Vec<String> {
    let value: serde_norway::Value = serde_norway::from_str(rendered).expect("rendered YAML");
    value["exporters"]
        .as_mapping()
        .expect("exporters")
        .keys()
        .map(|k| k.as_str().expect("string key").to_string())
        .collect()
}

/// Every go.opentelemetry.io/collector module in tests/collector/go.mod is at the one core
/// release (v0.165.0 for the 0.x modules, v1.71.0 for the stable ones), and the built
/// Collector says so.
#[test]
fn the_collector_is_built_at_one_pinned_release() {
    let go_mod = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/collector/go.mod"),
    )
    .unwrap();
    let mut seen = 0;
    for line in go_mod.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [module, version, ..] = words[..]
            && module.starts_with("go.opentelemetry.io/collector")
        {
            assert!(
                version == format!("v{COLLECTOR_VERSION}") || version == "v1.71.0",
                "{module} is at {version}, not at core {COLLECTOR_VERSION}/1.71.0"
            );
            seen += 1;
        }
    }
    assert!(seen > 10, "go.mod lists the collector modules:\n{go_mod}");
    let list = components();
    let value: serde_norway::Value = serde_norway::from_str(&list).unwrap();
    assert_eq!(
        value["buildinfo"]["version"].as_str(),
        Some(COLLECTOR_VERSION)
    );
    assert_eq!(
        value["receivers"][0]["module"].as_str(),
        Some("go.opentelemetry.io/collector/receiver/otlpreceiver v0.165.0"),
        "{list}"
    );
}

/// The default rendering starts cleanly: not one warning, error, "unknown" or "deprecated"
/// line; then the gateway receives spans, metrics and logs from the Go SDK over mTLS on both
/// receivers.
#[test]
fn gateway_starts_cleanly_and_receives_every_signal_over_mtls() {
    let (_tmp, dir) = init_pki(&[]);
    let c = Collector::start(&render(&dir, &[]));
    for grpc in [true, false] {
        let name = format!("gateway-{}", if grpc { "grpc" } else { "http" });
        deliver(
            &c,
            &env_for(&dir, &c, grpc, "client"),
            &name,
            "traces,metrics,logs",
        );
    }
    assert_eq!(
        c.problems(),
        Vec::<String>::new(),
        "the Collector complained:\n{}",
        c.log()
    );
}

/// `--no-mtls`: server-only TLS starts cleanly and takes data from a client with no
/// certificate (the env file without its client pair).
#[test]
fn gateway_without_mtls_takes_clients_without_certificates() {
    let (_tmp, dir) = init_pki(&[]);
    let rendered = render(&dir, &["--no-mtls"]);
    let value: serde_norway::Value = serde_norway::from_str(&rendered).unwrap();
    for protocol in ["grpc", "http"] {
        let tls = &value["receivers"]["otlp"]["protocols"][protocol]["tls"];
        assert!(
            tls["cert_file"].is_string() && tls["client_ca_file"].is_null(),
            "{rendered}"
        );
    }
    let c = Collector::start(&rendered);
    for grpc in [true, false] {
        let mut env = env_for(&dir, &c, grpc, "client");
        env.retain(|k, _| !k.contains("_CLIENT_"));
        let name = format!("server-tls-only-{grpc}");
        deliver(&c, &env, &name, "traces");
    }
    assert_eq!(c.problems(), Vec::<String>::new(), "{}", c.log());
}

/// `--collector-version` 0.144.0 and later (and the default): the rendered exporter types are
/// in the built Collector's component list, which (at v0.165.0) lists the new names only.
/// Below 0.144.0 the rendered types are the old names, and the Collector itself names them as
/// the deprecated aliases of the new ones when it loads them (see `agent_with_old_exporter_names`).
#[test]
fn rendered_exporter_names_are_the_collectors() {
    let (_tmp, dir) = init_pki(&[]);
    let known = exporter_names(&components());
    for new in ["otlp_grpc", "otlp_http", "debug"] {
        assert!(known.contains(&new.to_string()), "{known:?}");
    }
    for old in ["otlp", "otlphttp"] {
        assert!(!known.contains(&old.to_string()), "{known:?}");
    }
    for version in [None, Some("0.144.0"), Some(COLLECTOR_VERSION)] {
        for protocol in ["grpc", "http"] {
            let mut args = vec![
                "--gateway",
                "https://localhost:4317",
                "--protocol",
                protocol,
            ];
            args.extend(version.iter().flat_map(|v| ["--collector-version", v]));
            let ids = rendered_exporters(&render(&dir, &args));
            assert_eq!(ids.len(), 1, "{ids:?}");
            let kind = ids[0].split('/').next().unwrap();
            assert!(
                known.iter().any(|k| k == kind),
                "{version:?}: {ids:?} not in {known:?}"
            );
            let want = if protocol == "grpc" {
                "otlp_grpc"
            } else {
                "otlp_http"
            };
            assert_eq!(kind, want, "{version:?}");
        }
    }
}

/// An agent Collector, rendered with `--gateway https://localhost:PORT --client agent`,
/// forwards what it receives to a gateway Collector over mTLS, with each exporter protocol.
fn agent_to_gateway(protocol: &str, version: Option<&str>) -> (Collector, Collector) {
    let (tmp, dir) = init_pki(&[]);
    otelpki(&dir)
        .args(["issue", "client", "--cn", "agent", "--name", "agent"])
        .assert()
        .success();
    let gateway = Collector::start(&render(&dir, &[]));
    let url = if protocol == "grpc" {
        gateway.grpc_url()
    } else {
        gateway.http_url()
    };
    let mut args = vec![
        "--gateway",
        &url,
        "--client",
        "agent",
        "--protocol",
        protocol,
    ];
    args.extend(version.iter().flat_map(|v| ["--collector-version", v]));
    let agent = Collector::start(&render(&dir, &args));
    let name = format!("via-agent-{protocol}");
    // The application sends to the agent (its own client certificate), the agent to the gateway.
    let env = env_for(&dir, &agent, true, "client");
    deliver(&agent, &env, &name, "traces,metrics,logs");
    assert!(
        gateway.wait_for_span(&name),
        "gateway:\n{}\n--- agent\n{}",
        gateway.log(),
        agent.log()
    );
    assert!(
        gateway.wait_for_metric(&name),
        "gateway:\n{}",
        gateway.log()
    );
    assert!(gateway.wait_for_log(&name), "gateway:\n{}", gateway.log());
    drop(tmp);
    (gateway, agent)
}

#[test]
fn agent_forwards_to_the_gateway_over_grpc_mtls() {
    let (gateway, agent) = agent_to_gateway("grpc", None);
    for c in [&gateway, &agent] {
        assert_eq!(c.problems(), Vec::<String>::new(), "{}", c.log());
    }
}

#[test]
fn agent_forwards_to_the_gateway_over_http_mtls() {
    let (gateway, agent) = agent_to_gateway("http", None);
    for c in [&gateway, &agent] {
        assert_eq!(c.problems(), Vec::<String>::new(), "{}", c.log());
    }
}

/// `--collector-version 0.143.0`: the rendered `otlp` and `otlphttp` still work at v0.165.0,
/// and the Collector's only complaint is that each is the deprecated alias of the new name:
/// the name a Collector before v0.144.0 wants (it had no other).
#[test]
fn agent_with_old_exporter_names() {
    for (protocol, old, new) in [
        ("grpc", "otlp", "otlp_grpc"),
        ("http", "otlphttp", "otlp_http"),
    ] {
        let (gateway, agent) = agent_to_gateway(protocol, Some("0.143.0"));
        assert_eq!(
            gateway.problems(),
            Vec::<String>::new(),
            "{}",
            gateway.log()
        );
        let warning = format!("\"{old}\" alias is deprecated; use \"{new}\" instead");
        let problems = agent.problems();
        assert!(!problems.is_empty(), "{}", agent.log());
        assert!(
            problems.iter().all(|l| l.contains(&warning)),
            "{protocol}: expected only `{warning}`:\n{}",
            agent.log()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Rotation hooks (point 10): rendered with `--reload-interval 1s`, the Collector picks up a
// replaced server certificate (reload_interval) and a replaced client CA file
// (client_ca_file_reload) without a restart.

/// How long a rotation may take to show on the wire.
const ROTATION_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// `otelpki probe URL --json ARGS` from DIR: (exit code, the document).
fn probe(dir: &Path, url: &str, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let out = otelpki(dir)
        .args(["probe", url, "--json"])
        .args(args)
        .output()
        .expect("run otelpki probe");
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("probe --json: {e}: {out:?}"));
    (out.status.code(), doc)
}

/// Asks `probe` until `done` holds for (exit code, document), at most ROTATION_LIMIT.
fn probe_until(
    dir: &Path,
    url: &str,
    args: &[&str],
    done: impl Fn(Option<i32>, &serde_json::Value) -> bool,
) -> (Option<i32>, serde_json::Value) {
    let deadline = std::time::Instant::now() + ROTATION_LIMIT;
    loop {
        let (code, doc) = probe(dir, url, args);
        if done(code, &doc) || std::time::Instant::now() >= deadline {
            return (code, doc);
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// SHA-256 of the first certificate in FILE, as `AB:CD:...` (computed here, not by otelpki).
fn fingerprint(file: &Path) -> String {
    use sha2::Digest;
    let der = crate::common::certs(file).remove(0);
    sha2::Sha256::digest(der.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn served(doc: &serde_json::Value) -> Option<&str> {
    doc["server_chain"][0]["sha256_fingerprint"].as_str()
}

/// Replaces FILE with BYTES the way a rotation does: a new file renamed over the old one.
fn replace(file: &Path, bytes: &[u8]) {
    let next = file.with_extension("next");
    std::fs::write(&next, bytes).unwrap();
    std::fs::rename(&next, file).unwrap();
}

#[test]
fn collector_reloads_a_replaced_server_certificate() {
    let (_tmp, dir) = init_pki(&[]);
    let rendered = render(&dir, &["--reload-interval", "1s"]);
    assert_eq!(
        rendered.matches("reload_interval: \"1s\"").count(),
        2,
        "{rendered}"
    );
    let c = Collector::start(&rendered);
    let f = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let (ca, cert, key) = (f("ca.crt"), f("client.crt"), f("client.key"));
    let pair = ["--ca", &ca, "--cert", &cert, "--key", &key];
    let old = fingerprint(&dir.join("server.crt"));
    for (url, protocol) in [(c.grpc_url(), "grpc"), (c.http_url(), "http")] {
        let pair = [&pair[..], &["--protocol", protocol]].concat();
        let (code, doc) = probe(&dir, &url, &pair);
        assert_eq!((code, served(&doc)), (Some(0), Some(&*old)), "{doc:#}");
    }

    otelpki(&dir)
        .args([
            "issue",
            "server",
            "--san",
            "localhost,127.0.0.1,::1",
            "--force",
        ])
        .assert()
        .success();
    let new = fingerprint(&dir.join("server.crt"));
    assert_ne!(old, new);
    for (url, protocol) in [(c.grpc_url(), "grpc"), (c.http_url(), "http")] {
        let pair = [&pair[..], &["--protocol", protocol]].concat();
        let (code, doc) = probe_until(&dir, &url, &pair, |code, doc| {
            code == Some(0) && served(doc) == Some(&*new)
        });
        assert_eq!(
            (code, served(&doc)),
            (Some(0), Some(&*new)),
            "{url} still serves the old certificate after {ROTATION_LIMIT:?}:\n{doc:#}\n{}",
            c.log()
        );
    }
    // And the SDK's view: a new export over each receiver arrives.
    for grpc in [true, false] {
        let name = format!("after-rotation-{grpc}");
        deliver(&c, &env_for(&dir, &c, grpc, "client"), &name, "traces");
    }
}

#[test]
fn collector_reloads_a_replaced_client_ca_file() {
    let (tmp, dir) = init_pki(&[]);
    let other = tmp.path().join("other");
    otelpki(&other).arg("init").assert().success();
    let c = Collector::start(&render(&dir, &["--reload-interval", "1s"]));
    let ca = dir.join("ca.crt").to_str().unwrap().to_string();
    let (cert, key) = (
        other.join("client.crt").to_str().unwrap().to_string(),
        other.join("client.key").to_str().unwrap().to_string(),
    );
    let newcomer = ["--ca", &ca, "--cert", &cert, "--key", &key];
    for (url, protocol) in [(c.grpc_url(), "grpc"), (c.http_url(), "http")] {
        let newcomer = [&newcomer[..], &["--protocol", protocol]].concat();
        let (code, doc) = probe(&dir, &url, &newcomer);
        assert_eq!(code, Some(1), "{doc:#}");
        assert_eq!(
            doc["findings"][0]["code"], "client-cert-rejected",
            "{doc:#}"
        );
    }

    // The CA bundle of a CA rotation: the old CA, then the new one.
    let mut bundle = std::fs::read(dir.join("ca.crt")).unwrap();
    bundle.extend(std::fs::read(other.join("ca.crt")).unwrap());
    replace(&dir.join("ca.crt"), &bundle);
    for (url, protocol) in [(c.grpc_url(), "grpc"), (c.http_url(), "http")] {
        let newcomer = [&newcomer[..], &["--protocol", protocol]].concat();
        let (code, doc) = probe_until(&dir, &url, &newcomer, |code, _| code == Some(0));
        assert_eq!(
            code,
            Some(0),
            "{url} still refuses the new CA's client after {ROTATION_LIMIT:?}:\n{doc:#}\n{}",
            c.log()
        );
    }
    // The Go SDK with the new CA's client (its env file, trusting the bundle) is accepted.
    for grpc in [true, false] {
        let mut env = env_for(&other, &c, grpc, "client");
        env.insert("OTEL_EXPORTER_OTLP_CERTIFICATE".into(), ca.clone());
        deliver(&c, &env, &format!("new-ca-client-{grpc}"), "traces");
    }
}

/// A `$` in the PKI's path: the Collector expands `${VAR}` in its configuration, so the
/// rendered paths double every `$` (`$$` is a literal `$` to the Collector). Without that the
/// Collector would look for `/tmp/.../pki-/root/...` and fail to start.
#[test]
fn a_dollar_in_the_path_reaches_the_collector_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki-${HOME}-$USER");
    crate::common::otelpki(&dir).arg("init").assert().success();
    let rendered = render(&dir, &[]);
    assert!(
        rendered.contains("pki-$${HOME}-$$USER/server.crt"),
        "{rendered}"
    );
    let c = Collector::start(&rendered);
    // The SDK's env file cannot hold a `$` (sh would expand it): the client reads copies of
    // the same files from a directory without one.
    let copy = tmp.path().join("pki");
    std::fs::create_dir(&copy).unwrap();
    for f in ["ca.crt", "client.crt", "client.key"] {
        std::fs::copy(dir.join(f), copy.join(f)).unwrap();
    }
    std::fs::copy(dir.join("server.crt"), copy.join("server.crt")).unwrap();
    deliver(
        &c,
        &env_for(&copy, &c, true, "client"),
        "dollar-path",
        "traces",
    );
    assert_eq!(c.problems(), Vec::<String>::new(), "{}", c.log());
}
