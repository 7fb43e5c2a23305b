//! The real OpenTelemetry Collector as a judge (docs/development.md, issue 11).
//!
//! `tests/collector/` is a Collector distribution built from the core Go modules, all pinned at
//! one release in its go.mod (core v0.165.0 / v1.71.0): the OTLP receiver, the `debug`,
//! `otlp_grpc` (alias `otlp`) and `otlp_http` (alias `otlphttp`) exporters, and the file, env
//! and yaml config providers. It is built on first use into `target/judges/otelcol-HASH`
//! (see `gobuild`: one build across threads and processes, under a flock).
//!
//! API:
//! - [`binary`]: the built Collector (builds it on first use; a missing `go` fails the test).
//! - [`render`]: `otelpki --dir DIR config collector ARGS`, the text as rendered.
//! - [`Collector::start`]`(rendered)` runs that text. Only the listen addresses change, by
//!   textual substitution: the rendered `"0.0.0.0:4317"` and `"0.0.0.0:4318"` (each must occur
//!   exactly once) become `"127.0.0.1:P"` with free ports ([`Collector::grpc_port`],
//!   [`Collector::http_port`], or [`Collector::grpc_url`] / [`Collector::http_url`] as
//!   `https://localhost:P`). A second `--config` file, merged by the Collector itself, adds a
//!   judge: the exporter `debug/otelpki-judge` with `verbosity: detailed` and the pipelines
//!   `traces/otelpki-judge`, `metrics/otelpki-judge` and `logs/otelpki-judge` from the
//!   rendered `otlp` receiver, so whatever the receiver accepts is printed whatever the rendered
//!   pipelines do; and `service::telemetry::metrics::level: none`, so parallel Collectors don't
//!   all try to serve their own metrics on port 8888. Nothing rendered is changed or removed.
//!   [`Collector::start_with`] passes more arguments (e.g. `--set=...`).
//!   It returns when the log says "Everything is ready" (the receivers listen before that
//!   line; bounded: READY); a Collector that exits first fails the test with its log.
//! - Its stdout and stderr are captured line by line: [`Collector::log`],
//!   [`Collector::wait_for_span`] / [`Collector::wait_for_metric`] / [`Collector::wait_for_log`]
//!   (bounded: ARRIVAL; true when the debug exporter printed it), [`Collector::saw_span`] and
//!   friends (no wait), [`Collector::wait_for_line`] (any predicate), and
//!   [`Collector::problems`]: every log entry of the Collector's own (a line that starts with a
//!   timestamp, not the debug exporter's printout of the data) that is at warn level or above or
//!   says "unknown" or "deprecated".
//! - Dropping a [`Collector`] kills and reaps it.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::{gobuild, otelpki};

/// The core release of every Collector module in tests/collector/go.mod.
pub const COLLECTOR_VERSION: &str = "0.165.0";
/// How long a Collector may take from spawn to "Everything is ready".
pub const READY: Duration = Duration::from_secs(60);
/// How long a test waits for data to show in the Collector's output.
pub const ARRIVAL: Duration = Duration::from_secs(30);
/// Tries with fresh ports when another process took one between the pick and the bind.
const PORT_TRIES: usize = 3;

/// The merged second config: the judge's debug exporter and pipelines (see the module doc).
const JUDGE: &str = "\
exporters:
  debug/otelpki-judge:
    verbosity: detailed
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces/otelpki-judge:
      receivers: [otlp]
      exporters: [debug/otelpki-judge]
    metrics/otelpki-judge:
      receivers: [otlp]
      exporters: [debug/otelpki-judge]
    logs/otelpki-judge:
      receivers: [otlp]
      exporters: [debug/otelpki-judge]
";

/// The Collector binary, built on first use (see the module doc).
pub fn binary() -> &'static Path {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/collector");
    match BUILT.get_or_init(|| gobuild::build(&src, "otelcol")) {
        Ok(path) => path,
        Err(e) => panic!("building the OpenTelemetry Collector (tests/collector) failed: {e}"),
    }
}

/// `otelpki --dir DIR config collector ARGS`: the rendered text (the command must succeed).
pub fn render(dir: &Path, args: &[&str]) -> String {
    let out = otelpki(dir)
        .args(["config", "collector"])
        .args(args)
        .output()
        .expect("run otelpki config collector");
    assert!(
        out.status.success(),
        "otelpki config collector {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 config")
}

/// `otelcol components`: the built Collector's own list of what it has.
pub fn components() -> String {
    let out = Command::new(binary())
        .arg("components")
        .output()
        .expect("run otelcol components");
    assert!(out.status.success(), "otelcol components: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[derive(Default)]
struct Output {
    lines: Vec<String>,
    /// stdout and stderr both closed: the process is gone.
    closed: u8,
}

#[derive(Default)]
struct Shared {
    output: Mutex<Output>,
    changed: Condvar,
}

/// A running Collector (see the module doc). Killed and reaped when dropped.
pub struct Collector {
    child: Child,
    shared: Arc<Shared>,
    /// Holds the config files for the Collector's life.
    files: tempfile::TempDir,
    pub grpc_port: u16,
    pub http_port: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

fn substitute_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "the rendered config must hold {from} exactly once:\n{text}"
    );
    text.replace(from, to)
}

impl Collector {
    /// Runs `rendered` (text of `otelpki config collector`) on free loopback ports.
    pub fn start(rendered: &str) -> Collector {
        Collector::start_with(rendered, &[])
    }

    /// As [`Collector::start`], with more command-line arguments for the Collector.
    pub fn start_with(rendered: &str, args: &[&str]) -> Collector {
        let mut last = String::new();
        for _ in 0..PORT_TRIES {
            match Collector::try_start(rendered, args) {
                Ok(c) => return c,
                Err(log) if log.contains("address already in use") => last = log,
                Err(log) => panic!("the Collector did not start:\n{log}"),
            }
        }
        panic!("the Collector found no free ports in {PORT_TRIES} tries:\n{last}");
    }

    fn try_start(rendered: &str, args: &[&str]) -> Result<Collector, String> {
        let (grpc_port, http_port) = (free_port(), free_port());
        let config = substitute_once(
            rendered,
            "\"0.0.0.0:4317\"",
            &format!("\"127.0.0.1:{grpc_port}\""),
        );
        let config = substitute_once(
            &config,
            "\"0.0.0.0:4318\"",
            &format!("\"127.0.0.1:{http_port}\""),
        );
        let files = tempfile::Builder::new()
            .prefix("otelpki-collector-")
            .tempdir()
            .expect("tempdir");
        let main = files.path().join("collector.yaml");
        let judge = files.path().join("judge.yaml");
        std::fs::write(&main, config).expect("write collector.yaml");
        std::fs::write(&judge, JUDGE).expect("write judge.yaml");
        let mut child = Command::new(binary())
            .arg(format!("--config=file:{}", main.display()))
            .arg(format!("--config=file:{}", judge.display()))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the Collector");
        let shared = Arc::new(Shared::default());
        for stream in [
            Box::new(child.stdout.take().expect("piped stdout")) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().expect("piped stderr")),
        ] {
            let shared = shared.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    shared.output.lock().unwrap().lines.push(line);
                    shared.changed.notify_all();
                }
                shared.output.lock().unwrap().closed += 1;
                shared.changed.notify_all();
            });
        }
        let collector = Collector {
            child,
            shared,
            files,
            grpc_port,
            http_port,
        };
        let ready = collector.wait_until(READY, |lines| {
            lines.iter().any(|l| l.contains("Everything is ready"))
        });
        if !ready {
            return Err(collector.log());
        }
        Ok(collector)
    }

    /// The config file the Collector runs (the rendered text with the ports moved).
    pub fn config_path(&self) -> PathBuf {
        self.files.path().join("collector.yaml")
    }

    /// `https://localhost:GRPC_PORT`.
    pub fn grpc_url(&self) -> String {
        format!("https://localhost:{}", self.grpc_port)
    }

    /// `https://localhost:HTTP_PORT`.
    pub fn http_url(&self) -> String {
        format!("https://localhost:{}", self.http_port)
    }

    /// The Collector's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the Collector process is still running (not exited).
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Everything the Collector printed so far, one line each.
    pub fn log(&self) -> String {
        self.shared.output.lock().unwrap().lines.join("\n")
    }

    /// Waits at most `limit` until `done` holds for the output lines (or the process has
    /// exited and closed its output); returns whether it holds.
    pub fn wait_until(&self, limit: Duration, done: impl Fn(&[String]) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        let mut out = self.shared.output.lock().unwrap();
        loop {
            if done(&out.lines) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || out.closed == 2 {
                return false;
            }
            out = self.shared.changed.wait_timeout(out, left).unwrap().0;
        }
    }

    /// Waits at most ARRIVAL for a line for which `matches` holds.
    pub fn wait_for_line(&self, matches: impl Fn(&str) -> bool) -> bool {
        self.wait_until(ARRIVAL, |lines| lines.iter().any(|l| matches(l)))
    }

    /// The debug exporter printed a span called `name`.
    pub fn wait_for_span(&self, name: &str) -> bool {
        self.wait_for_line(|l| is_span(l, name))
    }

    /// The debug exporter printed a metric called `name`.
    pub fn wait_for_metric(&self, name: &str) -> bool {
        self.wait_for_line(|l| is_metric(l, name))
    }

    /// The debug exporter printed a log record whose body is the string `body`.
    pub fn wait_for_log(&self, body: &str) -> bool {
        self.wait_for_line(|l| is_log(l, body))
    }

    pub fn saw_span(&self, name: &str) -> bool {
        self.any_line(|l| is_span(l, name))
    }

    pub fn saw_metric(&self, name: &str) -> bool {
        self.any_line(|l| is_metric(l, name))
    }

    pub fn saw_log(&self, body: &str) -> bool {
        self.any_line(|l| is_log(l, body))
    }

    fn any_line(&self, matches: impl Fn(&str) -> bool) -> bool {
        self.shared
            .output
            .lock()
            .unwrap()
            .lines
            .iter()
            .any(|l| matches(l))
    }

    /// The Collector's own log entries that are warnings or errors, or say "unknown" or
    /// "deprecated" (see the module doc).
    pub fn problems(&self) -> Vec<String> {
        self.shared
            .output
            .lock()
            .unwrap()
            .lines
            .iter()
            .filter(|l| is_problem(l))
            .cloned()
            .collect()
    }
}

/// A zap console entry (`2026-01-02T03:04:05.678Z<TAB>LEVEL<TAB>...`) at warn or above, or one
/// that says "unknown" or "deprecated".
fn is_problem(line: &str) -> bool {
    let mut fields = line.split('\t');
    let (Some(time), Some(level)) = (fields.next(), fields.next()) else {
        return false;
    };
    let entry = time.len() >= 20 && time.as_bytes()[4] == b'-' && time.as_bytes()[10] == b'T';
    let lower = line.to_lowercase();
    entry
        && (!matches!(level, "debug" | "info")
            || lower.contains("unknown")
            || lower.contains("deprecated"))
}

/// The debug exporter's detailed span line: `Name           : NAME`.
fn is_span(line: &str, name: &str) -> bool {
    line.trim_start()
        .strip_prefix("Name")
        .and_then(|rest| rest.trim_start().strip_prefix(':'))
        .is_some_and(|value| value.trim() == name)
}

/// The debug exporter's metric descriptor line: `     -> Name: NAME`.
fn is_metric(line: &str, name: &str) -> bool {
    line.trim() == format!("-> Name: {name}")
}

/// The debug exporter's log body line: `Body: Str(BODY)`.
fn is_log(line: &str, body: &str) -> bool {
    line.trim() == format!("Body: Str({body})")
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
