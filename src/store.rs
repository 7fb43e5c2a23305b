//! The only code that writes files (DESIGN §3). Each file is written to a temporary file in
//! the target directory, created with its final mode (0600 for keys, from the first byte),
//! fsynced, then published: without `--force` by an atomic rename that fails if the target
//! exists (renameat2 NOREPLACE, or link), with `--force` by rename over it. The directory is
//! fsynced after publishing. A crash, kill or full disk never leaves a truncated file.

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Mode of private keys: owner read/write only.
pub const KEY_MODE: u32 = 0o600;
/// Mode of certificates and other public output.
pub const PUBLIC_MODE: u32 = 0o644;
/// Mode of directories otelpki creates.
pub const DIR_MODE: u32 = 0o700;

/// One file to write.
pub struct Output {
    pub path: PathBuf,
    pub contents: Vec<u8>,
    pub mode: u32,
}

impl Output {
    pub fn key(path: PathBuf, pem: impl Into<Vec<u8>>) -> Self {
        Output {
            path,
            contents: pem.into(),
            mode: KEY_MODE,
        }
    }
    pub fn public(path: PathBuf, contents: impl Into<Vec<u8>>) -> Self {
        Output {
            path,
            contents: contents.into(),
            mode: PUBLIC_MODE,
        }
    }
}

/// The error for a target that exists and `--force` was not given. Callers downcast to it to
/// add the hint that fits the command.
#[derive(Debug)]
pub struct AlreadyExists(pub PathBuf);

impl std::fmt::Display for AlreadyExists {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` already exists", self.0.display())
    }
}
impl std::error::Error for AlreadyExists {}

/// Fails with `AlreadyExists` if any target exists (a fast, friendly check before any work;
/// `publish` checks again atomically).
pub fn refuse_existing(outputs: &[Output], force: bool) -> Result<()> {
    if force {
        return Ok(());
    }
    for out in outputs {
        if fs::symlink_metadata(&out.path).is_ok() {
            return Err(AlreadyExists(out.path.clone()).into());
        }
    }
    Ok(())
}

/// Creates `dir` (and missing parents) with mode 0700 if it does not exist.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => bail!(
            "`{}` exists and is not a directory; choose another --dir",
            dir.display()
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)
            .with_context(|| format!("cannot create the directory `{}`", dir.display())),
        Err(e) => Err(e).with_context(|| format!("cannot use the directory `{}`", dir.display())),
    }
}

/// Writes `outputs` whole, in order, then fsyncs their directories. Without `force`, an
/// existing target fails the call with `AlreadyExists` and the files this call already
/// published are removed again, so the directory is as it was. Put the key first: two
/// processes racing for the same pair then decide the winner on the key, and the loser has
/// changed nothing.
pub fn publish(outputs: &[Output], force: bool) -> Result<()> {
    let mut staged = Vec::with_capacity(outputs.len());
    for out in outputs {
        staged.push(stage(out)?);
    }
    let mut published: Vec<&Path> = Vec::new();
    for (out, tmp) in outputs.iter().zip(staged) {
        let result = if force {
            tmp.persist(&out.path).map(|_| ()).map_err(|e| e.error)
        } else {
            tmp.persist_noclobber(&out.path)
                .map(|_| ())
                .map_err(|e| e.error)
        };
        if let Err(e) = result {
            for path in &published {
                let _ = fs::remove_file(path);
            }
            if e.kind() == io::ErrorKind::AlreadyExists {
                return Err(AlreadyExists(out.path.clone()).into());
            }
            return Err(e).with_context(|| format!("cannot write `{}`", out.path.display()));
        }
        published.push(&out.path);
    }
    let mut dirs: Vec<&Path> = outputs.iter().map(|o| parent(&o.path)).collect();
    dirs.dedup();
    for dir in dirs {
        sync_dir(dir)?;
    }
    Ok(())
}

/// A temporary file beside the target, with the target's mode from creation, holding the
/// whole contents, fsynced.
fn stage(out: &Output) -> Result<tempfile::NamedTempFile> {
    let dir = parent(&out.path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".otelpki-")
        .suffix(".tmp")
        .permissions(Permissions::from_mode(out.mode))
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in `{}`", dir.display()))?;
    let written = tmp
        .write_all(&out.contents)
        .and_then(|()| tmp.as_file().sync_all());
    written.with_context(|| format!("cannot write `{}`", out.path.display()))?;
    Ok(tmp)
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes the names published in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync the directory `{}`", dir.display()))
}
