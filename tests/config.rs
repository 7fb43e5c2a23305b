//! `otelpki config` (issue 5): every target renders from a real DIR made by the binary, the
//! output parses, its values are the real paths, names and bytes of the files, and a snapshot
//! of each target (temp paths, dates and key material redacted) shows what users get.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use base64::Engine;
use predicates::prelude::*;
use serde::Deserialize;
use serde_norway::Value;

use crate::common::otelpki;

/// A temporary directory and the PKI in it, made by `otelpki init` with `args`.
struct Pki {
    _tmp: tempfile::TempDir,
    /// The PKI directory, canonical (what otelpki prints).
    dir: PathBuf,
}

impl Pki {
    fn new(args: &[&str]) -> Pki {
        Pki::in_dir_named("otelpki-config-", args)
    }

    fn in_dir_named(prefix: &str, args: &[&str]) -> Pki {
        let tmp = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
        let dir = tmp.path().join("certs");
        otelpki(&dir).arg("init").args(args).assert().success();
        let dir = fs::canonicalize(dir).unwrap();
        Pki { _tmp: tmp, dir }
    }

    fn cmd(&self) -> Command {
        otelpki(&self.dir)
    }

    /// `config ARGS` succeeds; its standard output.
    fn config(&self, args: &[&str]) -> String {
        let out = self.cmd().arg("config").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "otelpki config {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).to_str().unwrap().to_string()
    }

    fn bytes(&self, file: &str) -> Vec<u8> {
        fs::read(self.dir.join(file)).unwrap()
    }

    fn issue(&self, args: &[&str]) {
        self.cmd().arg("issue").args(args).assert().success();
    }

    /// `text` with what changes between runs replaced: DIR, dates, and the base64 of every
    /// file of DIR.
    fn redact(&self, text: &str) -> String {
        let mut text = text.replace(self.dir.to_str().unwrap(), "[DIR]");
        let files = crate::common::file_names(&self.dir);
        for f in files {
            text = text.replace(&b64(&self.bytes(&f)), &format!("[base64 of {f}]"));
        }
        redact_dates(&text)
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().expect("a base64 string"))
        .expect("valid base64")
}

/// Replaces every YYYY-MM-DD with [DATE].
fn redact_dates(text: &str) -> String {
    let b = text.as_bytes();
    let is_date = |i: usize| {
        i + 10 <= b.len()
            && b[i..i + 10].iter().enumerate().all(|(k, c)| match k {
                4 | 7 => *c == b'-',
                _ => c.is_ascii_digit(),
            })
    };
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if is_date(i) {
            out.push_str("[DATE]");
            i += 10;
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// The documents of a YAML stream.
fn yaml_docs(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{e}\n{text}")))
        .collect()
}

fn yaml(text: &str) -> Value {
    let mut docs = yaml_docs(text);
    assert_eq!(docs.len(), 1, "{text}");
    docs.remove(0)
}

/// `v[a][b]...` (a number indexes a sequence), panicking with the path when a key is missing.
fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| {
        let found = match (v, k.parse::<usize>()) {
            (Value::Sequence(items), Ok(i)) => items.get(i),
            _ => v.get(k),
        };
        found.unwrap_or_else(|| panic!("no `{k}` in `{path}`: {v:?}"))
    })
}

/// A Secret's `data` entry, decoded.
fn data(secret: &Value, key: &str) -> Vec<u8> {
    unb64(
        at(secret, "data")
            .get(key)
            .unwrap_or_else(|| panic!("no data.{key}")),
    )
}

fn s<'a>(v: &'a Value, path: &str) -> &'a str {
    at(v, path)
        .as_str()
        .unwrap_or_else(|| panic!("`{path}` is not a string"))
}

fn strings(v: &Value, path: &str) -> Vec<String> {
    at(v, path)
        .as_sequence()
        .unwrap_or_else(|| panic!("`{path}` is not a list"))
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// An env file as a process environment: `KEY=value` lines, `#` comments, blank lines;
/// a value is single-quoted only when it needs quoting. The SDK end-to-end test can put
/// the output of `config env --endpoint https://localhost:PORT` into its process with this.
pub(crate) fn parse_env(text: &str) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not KEY=value: {line}"));
        assert!(
            key.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
            "{line}"
        );
        let words = shlex::split(value).unwrap_or_else(|| panic!("bad quoting: {line}"));
        assert_eq!(words.len(), 1, "one word: {line}");
        vars.insert(key.to_string(), words[0].clone());
    }
    vars
}

// ---- collector ----

#[test]
fn collector_receives_otlp_over_mtls_with_the_real_files() {
    let pki = Pki::new(&[]);
    let out = pki.config(&["collector"]);
    let v = yaml(&out);
    for (proto, port) in [("grpc", 4317), ("http", 4318)] {
        let p = at(&v, &format!("receivers.otlp.protocols.{proto}"));
        assert_eq!(s(p, "endpoint"), format!("0.0.0.0:{port}"));
        assert_eq!(s(p, "tls.cert_file"), pki.path("server.crt"));
        assert_eq!(s(p, "tls.key_file"), pki.path("server.key"));
        assert_eq!(s(p, "tls.client_ca_file"), pki.path("ca.crt"));
        assert_eq!(at(p, "tls.client_ca_file_reload").as_bool(), Some(true));
        assert_eq!(s(p, "tls.reload_interval"), "1h");
        assert!(p.get("tls").unwrap().get("ca_file").is_none());
    }
    for file in ["server.crt", "server.key", "ca.crt"] {
        assert!(Path::new(&pki.path(file)).is_file());
    }
    assert!(at(&v, "exporters.debug").is_mapping());
    for signal in ["traces", "metrics", "logs"] {
        let p = at(&v, &format!("service.pipelines.{signal}"));
        assert_eq!(strings(p, "receivers"), ["otlp"]);
        assert_eq!(strings(p, "exporters"), ["debug"]);
    }
    insta::assert_snapshot!("collector", pki.redact(&out));
}

#[test]
fn collector_no_mtls_is_server_only_tls() {
    let pki = Pki::new(&[]);
    let v = yaml(&pki.config(&["collector", "--no-mtls"]));
    let tls = at(&v, "receivers.otlp.protocols.grpc.tls");
    assert_eq!(s(tls, "cert_file"), pki.path("server.crt"));
    assert!(tls.get("client_ca_file").is_none());
    assert!(tls.get("client_ca_file_reload").is_none());
}

#[test]
fn collector_agent_exports_to_the_gateway_with_its_client_certificate() {
    let pki = Pki::new(&[]);
    let out = pki.config(&["collector", "--gateway", "otel-gateway.example.internal"]);
    let v = yaml(&out);
    let e = at(&v, "exporters").get("otlp_grpc/gateway").unwrap();
    assert_eq!(
        s(e, "endpoint"),
        "https://otel-gateway.example.internal:4317"
    );
    assert_eq!(s(e, "tls.ca_file"), pki.path("ca.crt"));
    assert_eq!(s(e, "tls.cert_file"), pki.path("client.crt"));
    assert_eq!(s(e, "tls.key_file"), pki.path("client.key"));
    assert_eq!(
        strings(&v, "service.pipelines.traces.exporters"),
        ["otlp_grpc/gateway"]
    );
    assert!(out.contains("v0.144.0"), "says which names: {out}");
    insta::assert_snapshot!("collector_gateway", pki.redact(&out));
}

#[test]
fn collector_exporter_names_follow_the_collector_version() {
    let pki = Pki::new(&[]);
    let gw = "https://gw.example:4317";
    for (version, protocol, name, endpoint) in [
        (None, "grpc", "otlp_grpc/gateway", "https://gw.example:4317"),
        (None, "http", "otlp_http/gateway", "https://gw.example:4317"),
        (
            Some("0.144.0"),
            "http",
            "otlp_http/gateway",
            "https://gw.example:4317",
        ),
        (
            Some("0.143.0"),
            "grpc",
            "otlp/gateway",
            "https://gw.example:4317",
        ),
        (
            Some("v0.120.1"),
            "http",
            "otlphttp/gateway",
            "https://gw.example:4317",
        ),
    ] {
        let mut args = vec!["collector", "--gateway", gw, "--protocol", protocol];
        if let Some(v) = version {
            args.extend(["--collector-version", v]);
        }
        let out = pki.config(&args);
        let v = yaml(&out);
        let exporters = at(&v, "exporters").as_mapping().unwrap();
        let names: Vec<_> = exporters.keys().map(|k| k.as_str().unwrap()).collect();
        assert_eq!(names, [name], "{args:?}");
        assert_eq!(s(exporters.get(name).unwrap(), "endpoint"), endpoint);
        let old_names = !name.contains('_');
        assert_eq!(out.contains("deprecated aliases"), old_names, "{out}");
    }
    let http = yaml(&pki.config(&["collector", "--gateway", "gw.example", "--protocol", "http"]));
    assert_eq!(
        s(
            at(&http, "exporters").get("otlp_http/gateway").unwrap(),
            "endpoint"
        ),
        "https://gw.example:4318"
    );
    pki.cmd()
        .args(["config", "collector", "--collector-version", "latest"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("0.143.0"));
    pki.cmd()
        .args(["config", "collector", "--gateway", "http://gw:4317"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("https://gw:4317"));
}

#[test]
fn collector_paths_under_a_mount_path() {
    let pki = Pki::new(&[]);
    let v = yaml(&pki.config(&["collector", "--mount-path", "/etc/otel/certs"]));
    let tls = at(&v, "receivers.otlp.protocols.http.tls");
    assert_eq!(s(tls, "cert_file"), "/etc/otel/certs/server.crt");
    assert_eq!(s(tls, "key_file"), "/etc/otel/certs/server.key");
    assert_eq!(s(tls, "client_ca_file"), "/etc/otel/certs/ca.crt");
    pki.cmd()
        .args(["config", "collector", "--mount-path", "etc/otel"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("absolute"));
}

/// config renders every pair of DIR, so a `*.crt` that is not a certificate stops it (no
/// Secret silently left out), with the file named and what to do.
#[test]
fn a_stray_crt_file_is_named() {
    let pki = Pki::new(&[]);
    std::fs::write(pki.dir.join("notes.crt"), "not a certificate\n").unwrap();
    for target in ["k8s", "cert-manager", "collector"] {
        pki.cmd()
            .args(["config", target])
            .assert()
            .code(2)
            .stdout("")
            .stderr(
                predicate::str::contains("notes.crt").and(predicate::str::contains("move it away")),
            );
    }
}

#[test]
fn several_pairs_need_a_choice() {
    let pki = Pki::new(&[]);
    pki.issue(&[
        "server",
        "--san",
        "otel-gateway.example.internal",
        "--name",
        "gateway",
    ]);
    pki.issue(&["client", "--cn", "agent", "--name", "agent"]);
    // `server` and `client` are the defaults among several
    let v = yaml(&pki.config(&["collector"]));
    assert_eq!(
        s(&v, "receivers.otlp.protocols.grpc.tls.cert_file"),
        pki.path("server.crt")
    );
    let v = yaml(&pki.config(&[
        "collector",
        "--server",
        "gateway",
        "--gateway",
        "gw",
        "--client",
        "agent",
    ]));
    assert_eq!(
        s(&v, "receivers.otlp.protocols.grpc.tls.key_file"),
        pki.path("gateway.key")
    );
    let e = at(&v, "exporters").get("otlp_grpc/gateway").unwrap();
    assert_eq!(s(e, "tls.cert_file"), pki.path("agent.crt"));
    pki.cmd()
        .args(["config", "collector", "--server", "agent"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a server certificate"));
    pki.cmd()
        .args(["config", "env", "--client", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nope.crt"));
    // without the default names, the choice is the user's
    let pki = Pki::new(&["--client", "checkout", "--client", "billing"]);
    pki.cmd().args(["config", "env"]).assert().code(2).stderr(
        predicate::str::contains("billing, checkout")
            .and(predicate::str::contains("--client NAME")),
    );
    let env = parse_env(&pki.config(&["env", "--client", "billing"]));
    assert_eq!(
        env["OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"],
        pki.path("billing.crt")
    );
}

// ---- env ----

const ENV_KEYS: [&str; 5] = [
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_KEY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
];

/// What an SDK test needs from `config env`: plain KEY=value lines it can put into a
/// process environment, files that exist, and an https:// endpoint on the protocol's port.
#[test]
fn env_file_is_plain_key_value_lines_an_sdk_can_use() {
    let pki = Pki::new(&[]);
    let out = pki.config(&["env"]);
    assert!(!out.contains("export "), "{out}");
    let settings: Vec<&str> = out.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(
        settings.iter().all(|l| !l.contains(['"', '\''])),
        "no quotes needed: {out}"
    );
    let env = parse_env(&out);
    assert_eq!(env.keys().map(String::as_str).collect::<Vec<_>>(), ENV_KEYS);
    assert_eq!(env["OTEL_EXPORTER_OTLP_ENDPOINT"], "https://localhost:4317");
    assert_eq!(env["OTEL_EXPORTER_OTLP_PROTOCOL"], "grpc");
    assert_eq!(env["OTEL_EXPORTER_OTLP_CERTIFICATE"], pki.path("ca.crt"));
    assert_eq!(env["OTEL_EXPORTER_OTLP_CLIENT_KEY"], pki.path("client.key"));
    assert_eq!(
        env["OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"],
        pki.path("client.crt")
    );
    for key in &ENV_KEYS[..3] {
        assert!(Path::new(&env[*key]).is_file(), "{key}");
    }
    // the per-SDK caveats of the facts file
    assert!(out.contains("only when OTEL_EXPORTER_OTLP_CERTIFICATE is set"));
    assert!(out.contains("per-signal"));
    insta::assert_snapshot!("env", pki.redact(&out));
}

#[test]
fn env_endpoint_is_https_with_the_protocols_port() {
    let pki = Pki::new(&["--san", "otel-collector.observability.svc,10.0.0.5"]);
    let env = parse_env(&pki.config(&["env", "--protocol", "http"]));
    assert_eq!(
        env["OTEL_EXPORTER_OTLP_ENDPOINT"],
        "https://otel-collector.observability.svc:4318"
    );
    assert_eq!(env["OTEL_EXPORTER_OTLP_PROTOCOL"], "http/protobuf");
    for (given, protocol, want) in [
        ("10.0.0.5", "grpc", "https://10.0.0.5:4317"),
        (
            "https://otel-collector.observability.svc",
            "http",
            "https://otel-collector.observability.svc:4318",
        ),
        (
            "otel-collector.observability.svc:443",
            "grpc",
            "https://otel-collector.observability.svc:443",
        ),
    ] {
        let env = parse_env(&pki.config(&["env", "--endpoint", given, "--protocol", protocol]));
        assert_eq!(env["OTEL_EXPORTER_OTLP_ENDPOINT"], want);
    }
    pki.cmd()
        .args([
            "config",
            "env",
            "--endpoint",
            "http://otel-collector.observability.svc:4317",
        ])
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            predicate::str::contains("http://").and(predicate::str::contains(
                "use https://otel-collector.observability.svc:4317",
            )),
        );
    // a name the server certificate does not carry: rendered, with a warning and the fix
    pki.cmd()
        .args(["config", "env", "--endpoint", "collector.example.com"])
        .assert()
        .success()
        .stderr(
            predicate::str::contains("not a name of").and(predicate::str::contains(
                "--san otel-collector.observability.svc,10.0.0.5,collector.example.com",
            )),
        );
}

#[test]
fn paths_that_need_quoting_are_quoted_in_every_target() {
    let pki = Pki::in_dir_named("otel pki: #x ", &[]);
    // An env file is read by sh, systemd and `docker --env-file`, and docker keeps quotes as
    // part of the value: no quoting serves all three, so such a path is refused, naming why.
    pki.cmd()
        .args(["config", "env"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            predicate::str::contains("holds a space").and(predicate::str::contains(
                "cannot be written safely into an env file",
            )),
        );
    let v = yaml(&pki.config(&["collector", "--gateway", "gw"]));
    assert_eq!(
        s(&v, "receivers.otlp.protocols.grpc.tls.cert_file"),
        pki.path("server.crt")
    );
    let v = yaml(&pki.config(&["declarative"]));
    assert_eq!(
        s(
            &v,
            "tracer_provider.processors.0.batch.exporter.otlp_grpc.tls.key_file"
        ),
        pki.path("client.key")
    );
    let java = pki.config(&["java"]);
    let flag = format!("-Dotel.exporter.otlp.certificate={}", pki.path("ca.crt"));
    let joined = java.replace("\\\n", " ");
    let command = joined.lines().find(|l| l.starts_with("java ")).unwrap();
    let words = shlex::split(command).unwrap();
    assert!(words.contains(&flag), "{words:?}");
}

// ---- declarative ----

/// `config declarative`: one file for OTEL_CONFIG_FILE whose OTLP exporters (traces, metrics,
/// logs) carry the real paths in their `tls` block. The Java loader reading it and exporting is
/// in tests/java.rs.
#[test]
fn declarative_file_has_a_tls_block_on_every_exporter() {
    let pki = Pki::new(&[]);
    let signals = [
        ("tracer_provider.processors.0.batch", "traces"),
        ("meter_provider.readers.0.periodic", "metrics"),
        ("logger_provider.processors.0.batch", "logs"),
    ];
    let grpc = pki.config(&["declarative", "--endpoint", "https://localhost"]);
    let v = yaml(&grpc);
    assert_eq!(s(&v, "file_format"), "1.1");
    assert_eq!(s(&v, "resource.attributes.0.value"), "my-application");
    for (path, _) in signals {
        let exporter = at(&v, &format!("{path}.exporter.otlp_grpc"));
        assert_eq!(s(exporter, "endpoint"), "https://localhost:4317");
        assert_eq!(s(exporter, "tls.ca_file"), pki.path("ca.crt"));
        assert_eq!(s(exporter, "tls.cert_file"), pki.path("client.crt"));
        assert_eq!(s(exporter, "tls.key_file"), pki.path("client.key"));
    }
    insta::assert_snapshot!("declarative", pki.redact(&grpc));

    // OTLP/HTTP: the file names each signal's full URL (no /v1/... is appended).
    let http = yaml(&pki.config(&["declarative", "--protocol", "http"]));
    for (path, signal) in signals {
        let exporter = at(&http, &format!("{path}.exporter.otlp_http"));
        assert_eq!(
            s(exporter, "endpoint"),
            format!("https://localhost:4318/v1/{signal}")
        );
        assert_eq!(s(exporter, "tls.ca_file"), pki.path("ca.crt"));
    }
}

/// The SDKs substitute `${VAR}` in the file: a `$` in a path is written `$$`.
#[test]
fn declarative_escapes_substitution_in_paths() {
    let pki = Pki::in_dir_named("otelpki-${HOME}-", &[]);
    let out = pki.config(&["declarative"]);
    let v = yaml(&out);
    let ca = s(
        &v,
        "tracer_provider.processors.0.batch.exporter.otlp_grpc.tls.ca_file",
    );
    assert_eq!(ca, pki.path("ca.crt").replace('$', "$$"));
    // every `$` of a rendered value is doubled, in the values and in the comments
    let dir = pki.dir.to_str().unwrap();
    assert!(!out.contains(dir), "{out}");
    assert!(out.contains(&dir.replace('$', "$$")), "{out}");
}

#[test]
fn declarative_warns_about_an_ed25519_client_key() {
    let pki = Pki::new(&["--key-type", "ed25519"]);
    pki.cmd()
        .args(["config", "declarative"])
        .assert()
        .success()
        .stderr(predicate::str::contains("Ed25519"));
}

// ---- java ----

#[test]
fn java_flags_and_env_form() {
    let pki = Pki::new(&[]);
    let out = pki.config(&[
        "java",
        "--endpoint",
        "https://localhost",
        "--protocol",
        "http",
    ]);
    for (prop, value) in [
        ("protocol", "http/protobuf".to_string()),
        ("endpoint", "https://localhost:4318".to_string()),
        ("certificate", pki.path("ca.crt")),
        ("client.key", pki.path("client.key")),
        ("client.certificate", pki.path("client.crt")),
    ] {
        let flag = format!("  -Dotel.exporter.otlp.{prop}={value} \\\n");
        assert!(out.contains(&flag), "{flag}\n{out}");
    }
    let env = parse_env(
        &out.lines()
            .skip_while(|l| !l.starts_with("# The same settings"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    assert_eq!(env.keys().map(String::as_str).collect::<Vec<_>>(), ENV_KEYS);
    assert_eq!(env["OTEL_EXPORTER_OTLP_CLIENT_KEY"], pki.path("client.key"));
    assert!(out.contains("PKCS#8"));
    insta::assert_snapshot!("java", pki.redact(&out));
}

#[test]
fn java_refuses_an_ed25519_client_key() {
    let pki = Pki::new(&["--key-type", "ed25519"]);
    pki.cmd()
        .args(["config", "java"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            predicate::str::contains("Ed25519")
                .and(predicate::str::contains("--key-type ecdsa-p256")),
        );
    // the other SDKs get the file, with the warning
    pki.cmd()
        .args(["config", "env"])
        .assert()
        .success()
        .stderr(predicate::str::contains("Java SDK"));
}

// ---- k8s ----

#[test]
fn k8s_secrets_hold_the_files_bytes() {
    let pki = Pki::new(&[]);
    pki.issue(&["client", "--cn", "checkout", "--name", "checkout"]);
    let out = pki.config(&["k8s", "--namespace", "shop"]);
    let docs = yaml_docs(&out);
    let names: Vec<&str> = docs.iter().map(|d| s(d, "metadata.name")).collect();
    assert_eq!(
        names,
        [
            "otelpki-server-tls",
            "otelpki-checkout-tls",
            "otelpki-client-tls"
        ]
    );
    for (doc, stem) in docs.iter().zip(["server", "checkout", "client"]) {
        assert_eq!(s(doc, "apiVersion"), "v1");
        assert_eq!(s(doc, "kind"), "Secret");
        assert_eq!(s(doc, "type"), "kubernetes.io/tls");
        assert_eq!(s(doc, "metadata.namespace"), "shop");
        assert_eq!(data(doc, "tls.crt"), pki.bytes(&format!("{stem}.crt")));
        assert_eq!(data(doc, "tls.key"), pki.bytes(&format!("{stem}.key")));
        assert_eq!(data(doc, "ca.crt"), pki.bytes("ca.crt"));
    }
    assert!(
        !out.contains(&b64(&pki.bytes("ca.key"))),
        "never the CA key"
    );
    assert!(out.contains("not with subPath"));
    insta::assert_snapshot!("k8s", pki.redact(&out));
}

#[test]
fn k8s_out_file_is_private_and_never_silently_replaced() {
    let pki = Pki::new(&[]);
    let file = pki.dir.parent().unwrap().join("secrets.yaml");
    let file_s = file.to_str().unwrap();
    pki.cmd()
        .args(["config", "k8s", "--out", file_s])
        .assert()
        .success()
        .stdout("");
    let meta = fs::metadata(&file).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let first = fs::read_to_string(&file).unwrap();
    assert_eq!(yaml_docs(&first).len(), 2);
    pki.cmd()
        .args(["config", "k8s", "--out", file_s])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("already exists").and(predicate::str::contains("--force")),
        );
    assert_eq!(fs::read_to_string(&file).unwrap(), first);
    pki.cmd()
        .args([
            "config",
            "k8s",
            "--namespace",
            "shop",
            "--out",
            file_s,
            "--force",
        ])
        .assert()
        .success();
    assert!(
        fs::read_to_string(&file)
            .unwrap()
            .contains("namespace: shop")
    );
    // a config without secrets is public
    let env_file = pki.dir.parent().unwrap().join("sdk.env");
    pki.cmd()
        .args(["config", "env", "--out", env_file.to_str().unwrap()])
        .assert()
        .success();
    let mode = fs::metadata(&env_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
}

/// `--out` with a bare file name writes in the current directory (whose parent is `.`, not
/// the empty path: issue 15), first and with --force.
#[test]
fn k8s_out_bare_file_name_in_the_current_directory() {
    let pki = Pki::new(&[]);
    let here = pki.dir.parent().unwrap();
    for extra in [&[][..], &["--force"][..]] {
        pki.cmd()
            .current_dir(here)
            .args(["config", "k8s", "--out", "secrets.yaml"])
            .args(extra)
            .assert()
            .success()
            .stdout("")
            .stderr(predicate::str::contains("Wrote k8s.yaml to secrets.yaml"));
        let file = here.join("secrets.yaml");
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(yaml_docs(&fs::read_to_string(&file).unwrap()).len(), 2);
    }
    pki.cmd()
        .current_dir(here)
        .args(["config", "env", "--out", "sdk.env"])
        .assert()
        .success();
    let env = fs::read_to_string(here.join("sdk.env")).unwrap();
    assert!(env.contains("OTEL_EXPORTER_OTLP_CERTIFICATE"), "{env}");
}

// ---- cert-manager ----

#[test]
fn cert_manager_issuer_and_certificates_mirror_dir() {
    let pki = Pki::new(&[
        "--san",
        "otel-gateway.observability.svc,10.0.0.5",
        "--org",
        "Acme",
    ]);
    let out = pki.config(&["cert-manager"]);
    let docs = yaml_docs(&out);
    assert_eq!(docs.len(), 4, "{out}");
    let secret = &docs[0];
    assert_eq!(s(secret, "kind"), "Secret");
    assert_eq!(s(secret, "type"), "kubernetes.io/tls");
    assert_eq!(data(secret, "tls.crt"), pki.bytes("ca.crt"));
    assert_eq!(data(secret, "tls.key"), pki.bytes("ca.key"));
    let issuer = &docs[1];
    assert_eq!(s(issuer, "apiVersion"), "cert-manager.io/v1");
    assert_eq!(s(issuer, "kind"), "Issuer");
    assert_eq!(s(issuer, "spec.ca.secretName"), s(secret, "metadata.name"));
    let issuer_name = s(issuer, "metadata.name");
    for doc in &docs {
        assert_eq!(s(doc, "metadata.namespace"), "observability");
    }
    let server = &docs[2];
    assert_eq!(s(server, "kind"), "Certificate");
    assert_eq!(s(server, "spec.secretName"), "otelpki-server-tls");
    assert_eq!(s(server, "spec.issuerRef.name"), issuer_name);
    assert_eq!(s(server, "spec.issuerRef.kind"), "Issuer");
    assert_eq!(s(server, "spec.issuerRef.group"), "cert-manager.io");
    assert_eq!(
        s(server, "spec.commonName"),
        "otel-gateway.observability.svc"
    );
    assert_eq!(strings(server, "spec.subject.organizations"), ["Acme"]);
    assert_eq!(
        strings(server, "spec.dnsNames"),
        ["otel-gateway.observability.svc"]
    );
    assert_eq!(strings(server, "spec.ipAddresses"), ["10.0.0.5"]);
    assert_eq!(
        strings(server, "spec.usages"),
        ["digital signature", "server auth"]
    );
    assert_eq!(s(server, "spec.duration"), "8760h");
    assert_eq!(s(server, "spec.renewBefore"), "2920h");
    assert_eq!(s(server, "spec.privateKey.algorithm"), "ECDSA");
    assert_eq!(at(server, "spec.privateKey.size").as_u64(), Some(256));
    assert_eq!(s(server, "spec.privateKey.encoding"), "PKCS8");
    assert_eq!(s(server, "spec.privateKey.rotationPolicy"), "Always");
    let client = &docs[3];
    assert_eq!(s(client, "spec.secretName"), "otelpki-client-tls");
    assert_eq!(s(client, "spec.commonName"), "my-application");
    assert_eq!(
        strings(client, "spec.usages"),
        ["digital signature", "client auth"]
    );
    assert!(at(client, "spec").get("dnsNames").is_none());
    insta::assert_snapshot!("cert_manager", pki.redact(&out));
}

#[test]
fn cert_manager_private_key_matches_ours() {
    for (kt, algorithm, size, usages) in [
        (
            "ecdsa-p384",
            "ECDSA",
            Some(384),
            vec!["digital signature", "server auth"],
        ),
        (
            "rsa-2048",
            "RSA",
            Some(2048),
            vec!["digital signature", "key encipherment", "server auth"],
        ),
        (
            "ed25519",
            "Ed25519",
            None,
            vec!["digital signature", "server auth"],
        ),
    ] {
        let pki = Pki::new(&["--key-type", kt]);
        let docs = yaml_docs(&pki.config(&["cert-manager"]));
        let server = &docs[2];
        assert_eq!(s(server, "spec.privateKey.algorithm"), algorithm, "{kt}");
        assert_eq!(
            at(server, "spec.privateKey")
                .get("size")
                .and_then(Value::as_u64),
            size,
            "{kt}"
        );
        assert_eq!(strings(server, "spec.usages"), usages, "{kt}");
    }
}

// ---- templates ----

#[test]
fn team_templates_replace_the_builtin_ones() {
    let pki = Pki::new(&[]);
    let templates = pki.dir.parent().unwrap().join("templates");
    fs::create_dir(&templates).unwrap();
    fs::write(
        templates.join("sdk.env"),
        "ENDPOINT={{ endpoint }}\nCA={{ ca.cert }}\n",
    )
    .unwrap();
    let t = templates.to_str().unwrap();
    let out = pki.config(&["env", "--templates", t]);
    assert_eq!(
        out,
        format!(
            "ENDPOINT=https://localhost:4317\nCA={}\n",
            pki.path("ca.crt")
        )
    );
    // an unknown variable fails before anything is printed, naming it, even in a branch
    // that this rendering would not take
    fs::write(
        templates.join("sdk.env"),
        "{% if false %}{{ client.cetr }}{% endif %}X={{ endpoint }}\n",
    )
    .unwrap();
    pki.cmd()
        .args(["config", "env", "--templates", t])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("`client.cetr`"));
    // a missing template is named
    pki.cmd()
        .args(["config", "java", "--templates", t])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("java.txt"));
}

/// The shipped templates/ are the ones compiled in (a team copies them from the repository).
#[test]
fn templates_dir_of_the_repository_renders_like_the_builtin() {
    let pki = Pki::new(&[]);
    let repo_templates = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
    for target in [
        "collector",
        "env",
        "java",
        "k8s",
        "cert-manager",
        "declarative",
    ] {
        assert_eq!(
            pki.config(&[target, "--templates", repo_templates]),
            pki.config(&[target]),
            "{target}"
        );
    }
}

#[test]
fn every_config_command_shows_an_example() {
    for target in [
        "collector",
        "env",
        "java",
        "k8s",
        "cert-manager",
        "declarative",
    ] {
        Command::new(env!("CARGO_BIN_EXE_otelpki"))
            .args(["config", target, "--help"])
            .assert()
            .success()
            .stdout(
                predicate::str::contains("Example")
                    .and(predicate::str::contains(format!("otelpki config {target}"))),
            );
    }
}

#[test]
fn a_missing_pki_is_explained() {
    let tmp = tempfile::tempdir().unwrap();
    otelpki(&tmp.path().join("nope"))
        .args(["config", "collector"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("otelpki --dir"));
    otelpki(tmp.path())
        .args(["config", "env"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no client certificate"));
}

/// `config` warns about an endpoint the server certificate does not cover exactly when `check
/// --endpoint` reports `name-mismatch`: one host-coverage test serves both (wildcards cover one
/// label, IP addresses only themselves).
#[test]
fn config_and_check_agree_on_which_hosts_the_server_covers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("certs");
    otelpki(&dir).arg("init").assert().success();
    otelpki(&dir)
        .args([
            "issue",
            "server",
            "--san",
            "*.example.com,10.0.0.5",
            "--force",
        ])
        .assert()
        .success();
    for (host, covered) in [
        ("a.example.com", true),
        ("A.Example.COM", true),
        ("a.b.example.com", false),
        ("example.com", false),
        ("10.0.0.5", true),
        ("10.0.0.6", false),
    ] {
        let out = otelpki(&dir)
            .args(["config", "env", "--endpoint", host])
            .output()
            .unwrap();
        assert!(out.status.success(), "{host}");
        let warned = String::from_utf8_lossy(&out.stderr).contains("is not a name of");
        let check = otelpki(&dir)
            .args([
                "check",
                "--json",
                "--endpoint",
                &format!("https://{host}:4317"),
            ])
            .output()
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
        let mismatch = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "name-mismatch");
        assert_eq!((warned, mismatch), (!covered, !covered), "{host}");
    }
}
