//! Builds a Go program of the test suite (a directory with `go.mod`, `go.sum` and `*.go`) once,
//! into `target/judges/NAME-HASH`, where HASH covers those files and `go version`: a change to
//! a pin or to the source gives a new binary, an unchanged tree reuses the old one.
//!
//! - One build at a time across test threads and test processes: an exclusive `flock` on
//!   `target/judges/NAME.lock` (bounded wait); whoever gets it second finds the binary there.
//! - The modules come from the Go module proxy through `go mod download` (the first run on a
//!   machine) into Go's own module cache; the build is `-mod=readonly`, so go.mod and go.sum
//!   are the pins and are never rewritten. Go's build cache is its default one, so a fresh
//!   clone on a machine that built it before compiles little.
//! - A missing `go` fails with what to install; an unreachable proxy fails naming it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// How long `go mod download` and `go build` may take, each (a cold Collector build takes
/// about 1.5 minutes of two busy cores).
const GO_STEP_LIMIT: Duration = Duration::from_secs(900);
/// How long a test waits for another thread or process that holds the build lock.
const LOCK_LIMIT: Duration = Duration::from_secs(1800);

/// `target/judges`: in the build area, which git ignores and `cargo clean` removes.
pub fn area() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is target/tmp")
        .join("judges")
}

/// An exclusive `flock` on a file, released when dropped. Waits at most `limit`.
pub struct FileLock(#[allow(dead_code)] fs::File);

impl FileLock {
    pub fn acquire(path: &Path, limit: Duration) -> Result<FileLock, String> {
        use rustix::fs::{FlockOperation, flock};
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| format!("open {}: {e}", path.display()))?;
        let deadline = Instant::now() + limit;
        loop {
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => return Ok(FileLock(file)),
                Err(rustix::io::Errno::WOULDBLOCK) | Err(rustix::io::Errno::INTR)
                    if Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(e) => {
                    return Err(format!(
                        "could not lock {} within {limit:?}: {e}",
                        path.display()
                    ));
                }
            }
        }
    }
}

/// Reads a pipe to its end on a thread.
pub fn read_all<R: std::io::Read + Send + 'static>(mut from: R) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = from.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// What a finished process said.
pub struct Finished {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` (stdin closed, output captured) to its end, killing it after `limit`.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Result<Finished, String> {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start {what}: {e}"))?;
    let stdout = read_all(child.stdout.take().expect("piped stdout"));
    let stderr = read_all(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("{what}: {e}"))? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    match status {
        Some(status) => Ok(Finished {
            status,
            stdout,
            stderr,
        }),
        None => Err(format!(
            "{what} did not finish within {limit:?}; killed it\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        )),
    }
}

/// `go ARGS` in `dir` with the build's environment, bounded by GO_STEP_LIMIT: (success,
/// stdout + stderr).
fn go(dir: &Path, args: &[&str]) -> Result<(bool, String), String> {
    let mut cmd = Command::new("go");
    cmd.args(args)
        .current_dir(dir)
        // The pins are go.mod and go.sum; never rewrite them, never fetch another toolchain.
        .env("GOFLAGS", "-mod=readonly")
        .env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "0")
        .env("GO111MODULE", "on")
        .env_remove("GOOS")
        .env_remove("GOARCH");
    let done = run_bounded(&mut cmd, GO_STEP_LIMIT).map_err(|e| {
        format!(
            "{e}\nthe Go toolchain (1.26 or later) is required by these tests: install it \
             (apt-get install golang-go on a distribution that ships 1.26)"
        )
    })?;
    Ok((
        done.status.success(),
        format!("{}{}", done.stdout, done.stderr),
    ))
}

/// The oldest Go minor release (1.x) that builds the pinned modules (their go.mod say 1.26.0).
const MIN_GO: u32 = 26;

/// `go version go1.26.8 linux/amd64` names Go 1.MIN_GO or later.
fn recent_enough(version: &str) -> bool {
    version
        .split_whitespace()
        .find_map(|w| w.strip_prefix("go1."))
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|minor| minor.parse::<u32>().ok())
        .is_some_and(|minor| minor >= MIN_GO)
}

/// The hash that names the binary: `go version`, then go.mod, go.sum and every `*.go` file of
/// `src` (sorted by name), each with its name.
fn source_hash(src: &Path, go_version: &str) -> Result<String, String> {
    let mut files: Vec<PathBuf> = fs::read_dir(src)
        .map_err(|e| format!("read {}: {e}", src.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name == "go.mod" || name == "go.sum" || name.ends_with(".go")
        })
        .collect();
    files.sort();
    let mut hash = Sha256::new();
    hash.update(go_version.as_bytes());
    for file in &files {
        let bytes = fs::read(file).map_err(|e| format!("read {}: {e}", file.display()))?;
        hash.update(file.file_name().unwrap_or_default().as_encoded_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(&bytes);
    }
    let digest = hash.finalize();
    Ok(digest[..8].iter().map(|b| format!("{b:02x}")).collect())
}

/// Builds the Go main package in `src` as `target/judges/NAME-HASH` unless that exists;
/// returns its path. Safe to call from many threads and processes at once.
pub fn build(src: &Path, name: &str) -> Result<PathBuf, String> {
    let (ok, version) = go(src, &["version"])?;
    if !ok || !recent_enough(&version) {
        return Err(format!(
            "`go version` says: {}\nGo {MIN_GO}.0 or later is required to build {} \
             (Debian 12's golang-go, 1.19, is too old)",
            version.trim(),
            src.display()
        ));
    }
    let area = area();
    fs::create_dir_all(&area).map_err(|e| format!("create {}: {e}", area.display()))?;
    let binary = area.join(format!("{name}-{}", source_hash(src, version.trim())?));
    if binary.is_file() {
        return Ok(binary);
    }
    let _lock = FileLock::acquire(&area.join(format!("{name}.lock")), LOCK_LIMIT)?;
    if binary.is_file() {
        return Ok(binary);
    }
    let started = Instant::now();
    let (ok, said) = go(src, &["mod", "download"])?;
    if !ok {
        return Err(format!(
            "`go mod download` in {} failed: the Go module proxy must be reachable for the \
             first run (GOPROXY, default https://proxy.golang.org)\n{said}",
            src.display()
        ));
    }
    let partial = area.join(format!("{name}.partial"));
    let out = partial.to_str().ok_or("target path is not UTF-8")?;
    let (ok, said) = go(
        src,
        &["build", "-trimpath", "-buildvcs=false", "-o", out, "."],
    )?;
    if !ok {
        return Err(format!("`go build` in {} failed:\n{said}", src.display()));
    }
    fs::rename(&partial, &binary).map_err(|e| format!("rename to {}: {e}", binary.display()))?;
    eprintln!(
        "built {} in {:.1} s",
        binary.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(binary)
}
