//! The only code that writes files (docs/guarantees.md).
//!
//! - **One writer at a time.** A command that writes in `DIR` first takes [`lock`]: an
//!   exclusive `flock` on `DIR/.otelpki.lock`, held until the command ends, so its read,
//!   decision and write are one step. The lock also finishes or clears what a writer that
//!   crashed left behind ([`recover`]).
//! - **Whole or not at all.** Each file is written to a temporary file in the target
//!   directory, created with its final mode (0600 for keys, from the first byte), and made
//!   durable before it gets its name.
//! - **A batch is one step.** When several files are published together (a key and its
//!   certificate, a CA and every leaf it signs), a commit record naming every temporary file
//!   and its target is made durable with them (one `syncfs` for the whole batch), and only then
//!   are the files renamed into place. A crash before the record is durable leaves only
//!   temporary files, which the next writer removes: the old files stay. A crash after it
//!   leaves a record that the next writer rolls forward: the new files all land. A key and a
//!   certificate from two different runs never stand side by side.
//! - Without `--force` a target that exists is an error ([`AlreadyExists`]); the check is
//!   made under the lock and again by the rename itself (`renameat2(RENAME_NOREPLACE)` or
//!   `link`), so no other process can slip in between.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Mode of private keys: owner read/write only.
pub const KEY_MODE: u32 = 0o600;
/// Mode of certificates and other public output.
pub const PUBLIC_MODE: u32 = 0o644;
/// Mode of directories otelpki creates.
pub const DIR_MODE: u32 = 0o700;
/// The lock file of a PKI directory.
pub const LOCK_FILE: &str = ".otelpki.lock";
/// Temporary files are `.otelpki-XXXXXX.tmp`; commit records `.otelpki-XXXXXX.commit`.
pub const TEMP_PREFIX: &str = ".otelpki-";
pub const TEMP_SUFFIX: &str = ".tmp";
pub const COMMIT_SUFFIX: &str = ".commit";
/// A commit record being written (not yet the commit point): removed like a temporary file.
const RECORD_SUFFIX: &str = ".record";
/// A commit record is a few lines per file; anything larger is not one of ours.
const MAX_COMMIT_RECORD: u64 = 1024 * 1024;

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

/// The exclusive right to write in a PKI directory, held until dropped (the process ending,
/// even by a kill, releases it too).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

/// Takes the writer's lock on `dir` (creating `dir` if needed), waiting for another writer to
/// finish, then completes or clears what a crashed writer left (see [`recover`]).
pub fn lock(dir: &Path) -> Result<DirLock> {
    lock_recovering(dir).map(|(lock, _)| lock)
}

/// `lock`, also saying what was recovered.
pub fn lock_recovering(dir: &Path) -> Result<(DirLock, Leftovers)> {
    ensure_dir(dir)?;
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(KEY_MODE)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
        .with_context(|| {
            format!(
                "cannot open the lock file `{}`; otelpki needs write access to `{}`",
                path.display(),
                dir.display()
            )
        })?;
    use rustix::fs::{FlockOperation, flock};
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
            eprintln!(
                "waiting for another otelpki that is writing in `{}` (lock `{}`)",
                dir.display(),
                path.display()
            );
            flock(&file, FlockOperation::LockExclusive)
                .map_err(io::Error::from)
                .with_context(|| format!("cannot lock `{}`", path.display()))?;
        }
        Err(e) => {
            return Err(io::Error::from(e))
                .with_context(|| format!("cannot lock `{}`", path.display()));
        }
    }
    let handled = recover(dir)?;
    Ok((DirLock { _file: file }, handled))
}

/// True if another process holds the writer's lock on `dir` right now (so its temporary files
/// are in use, not left over). Reading only: the lock file is not created.
pub fn writer_active(dir: &Path) -> bool {
    use rustix::fs::{FlockOperation, flock};
    let Ok(file) = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(dir.join(LOCK_FILE))
    else {
        return false;
    };
    match flock(&file, FlockOperation::NonBlockingLockShared) {
        Ok(()) => false,
        Err(e) => e == rustix::io::Errno::WOULDBLOCK,
    }
}

/// What a crashed writer left in `dir`, as `recover` and `check` see it.
#[derive(Debug, Default)]
pub struct Leftovers {
    /// Commit records of batches that were durable but not all renamed: rolled forward.
    pub commits: Vec<PathBuf>,
    /// Temporary files of no commit record: removed.
    pub temporaries: Vec<PathBuf>,
}

/// The leftovers of crashed writers in `dir` (reading only).
pub fn leftovers(dir: &Path) -> Result<Leftovers> {
    let mut found = Leftovers::default();
    let listing = fs::read_dir(dir)
        .with_context(|| format!("cannot read the directory `{}`", dir.display()))?;
    for entry in listing.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(TEMP_PREFIX) {
            continue;
        }
        if name.ends_with(COMMIT_SUFFIX) {
            found.commits.push(entry.path());
        } else if name.ends_with(TEMP_SUFFIX) || name.ends_with(RECORD_SUFFIX) {
            found.temporaries.push(entry.path());
        }
    }
    found.commits.sort();
    found.temporaries.sort();
    // the temporary files a commit record names are that batch's, not strays
    let named: Vec<String> = found
        .commits
        .iter()
        .filter_map(|r| read_record(r).ok())
        .flatten()
        .map(|(tmp, _, _)| tmp)
        .collect();
    found.temporaries.retain(|t| {
        t.file_name()
            .and_then(|n| n.to_str())
            .is_none_or(|n| !named.iter().any(|m| m == n))
    });
    Ok(found)
}

/// Rolls every durable commit record in `dir` forward (its temporary files renamed into
/// place), then removes the temporary files of no record: a writer that crashed before its
/// record was durable changed nothing. Only the lock holder may call this.
pub fn recover(dir: &Path) -> Result<Leftovers> {
    let found = leftovers(dir)?;
    if found.commits.is_empty() && found.temporaries.is_empty() {
        return Ok(found);
    }
    for record in &found.commits {
        let renames = read_record(record)?;
        for (tmp, target, replace) in &renames {
            let tmp = dir.join(tmp);
            let target = dir.join(target);
            if fs::symlink_metadata(&tmp).is_err() {
                continue; // renamed before the crash
            }
            let moved = if *replace {
                fs::rename(&tmp, &target)
            } else {
                rename_noreplace(&tmp, &target)
            };
            match moved {
                Ok(()) => {}
                // a file that appeared meanwhile is not replaced without --force
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let _ = fs::remove_file(&tmp);
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!(
                            "cannot complete an interrupted write of `{}`",
                            target.display()
                        )
                    });
                }
            }
        }
        sync_dir(dir)?;
        eprintln!(
            "otelpki: completed an interrupted write in `{}` ({} files)",
            dir.display(),
            renames.len()
        );
        fs::remove_file(record).with_context(|| format!("cannot remove `{}`", record.display()))?;
    }
    let mut removed = 0;
    for tmp in &found.temporaries {
        if fs::symlink_metadata(tmp).is_ok() {
            fs::remove_file(tmp).with_context(|| {
                format!(
                    "cannot remove the temporary file `{}` of an interrupted write",
                    tmp.display()
                )
            })?;
            removed += 1;
        }
    }
    if removed > 0 {
        sync_dir(dir)?;
    }
    Ok(found)
}

/// What `otelpki recover` did in `dir`.
#[derive(Debug)]
pub struct Recovered {
    pub dir: PathBuf,
    pub done: Leftovers,
}

impl crate::report::Render for Recovered {
    fn text(&self) -> String {
        if self.done.commits.is_empty() && self.done.temporaries.is_empty() {
            format!("nothing to recover in {}\n", self.dir.display())
        } else {
            format!(
                "recovered {}: completed {} interrupted write(s), removed {} temporary file(s)\n",
                self.dir.display(),
                self.done.commits.len(),
                self.done.temporaries.len()
            )
        }
    }
}

/// `otelpki recover`: takes the lock (which completes interrupted writes and removes stray
/// temporary files) and returns what it did.
pub fn recover_command(dir: &Path) -> Result<Recovered> {
    if !dir.is_dir() {
        bail!("`{}` is not a directory; nothing to recover", dir.display());
    }
    let (_lock, done) = lock_recovering(dir)?;
    Ok(Recovered {
        dir: dir.to_path_buf(),
        done,
    })
}

/// The lines of a commit record: `tmp-name TAB target-name TAB replace|create`. Names are plain
/// file names in the record's directory; a line that is not one is an error (the record is not
/// ours or is damaged: better stop than rename something unexpected).
fn read_record(record: &Path) -> Result<Vec<(String, String, bool)>> {
    let mut text = String::new();
    File::open(record)
        .and_then(|f| f.take(MAX_COMMIT_RECORD).read_to_string(&mut text))
        .with_context(|| format!("cannot read the commit record `{}`", record.display()))?;
    let mut renames = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let ok = fields.len() == 3
            && fields[..2].iter().all(|f| plain_name(f))
            && matches!(fields[2], "replace" | "create");
        if !ok {
            bail!(
                "`{}` is not a commit record otelpki wrote; move it out of the directory",
                record.display()
            );
        }
        renames.push((
            fields[0].to_string(),
            fields[1].to_string(),
            fields[2] == "replace",
        ));
    }
    Ok(renames)
}

fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains('/')
        && !name.chars().any(char::is_control)
}

/// Writes `outputs` whole, then publishes them: without `force` none may exist (else
/// `AlreadyExists`, and the directory is as it was), with `force` they replace what is there.
pub fn publish(outputs: &[Output], force: bool) -> Result<()> {
    if force {
        publish_batch(&[], outputs)
    } else {
        publish_batch(outputs, &[])
    }
}

/// Publishes `create` (which must not exist) and `replace` (which may) as one step: after a
/// crash at any point, either none or all of them are in place once the next writer has run.
/// Several files must share one directory (the PKI directory, under the lock).
pub fn publish_batch(create: &[Output], replace: &[Output]) -> Result<()> {
    let all: Vec<(&Output, bool)> = create
        .iter()
        .map(|o| (o, false))
        .chain(replace.iter().map(|o| (o, true)))
        .collect();
    match all.as_slice() {
        [] => Ok(()),
        [(out, replace)] => publish_one(out, *replace),
        _ => publish_many(&all),
    }
}

/// One file: a temporary file, fsynced, renamed into place, the directory fsynced.
fn publish_one(out: &Output, replace: bool) -> Result<()> {
    let tmp = stage(out)?;
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("cannot write `{}`", out.path.display()))?;
    let result = if replace {
        tmp.persist(&out.path).map(|_| ()).map_err(|e| e.error)
    } else {
        tmp.persist_noclobber(&out.path)
            .map(|_| ())
            .map_err(|e| e.error)
    };
    match result {
        Ok(()) => sync_dir(parent(&out.path)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            Err(AlreadyExists(out.path.clone()).into())
        }
        Err(e) => Err(e).with_context(|| format!("cannot write `{}`", out.path.display())),
    }
}

/// Several files in one directory, through a commit record.
fn publish_many(all: &[(&Output, bool)]) -> Result<()> {
    let dir = parent(&all[0].0.path);
    if let Some((other, _)) = all.iter().find(|(o, _)| parent(&o.path) != dir) {
        bail!(
            "`{}` and `{}` are not in one directory; a batch is published in one",
            all[0].0.path.display(),
            other.path.display()
        );
    }
    let pause = pause_hook();
    let mut staged = Vec::with_capacity(all.len());
    let mut record = String::new();
    for (out, replace) in all {
        let target = file_name(&out.path)?;
        if !*replace && fs::symlink_metadata(&out.path).is_ok() {
            return Err(AlreadyExists(out.path.clone()).into());
        }
        // closed at once (a batch may hold more files than a process may keep open); the
        // path still removes the file if the batch fails before its commit
        let tmp = stage(out)?.into_temp_path();
        let tmp_name = file_name(&tmp)?;
        record.push_str(&format!(
            "{tmp_name}\t{target}\t{}\n",
            if *replace { "replace" } else { "create" }
        ));
        staged.push(tmp);
        pause();
    }
    let mut commit = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(RECORD_SUFFIX)
        .permissions(Permissions::from_mode(KEY_MODE))
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in `{}`", dir.display()))?;
    commit
        .write_all(record.as_bytes())
        .with_context(|| format!("cannot write in `{}`", dir.display()))?;
    // One flush makes every staged file and the record's contents durable.
    sync_filesystem(dir)?;
    // The commit point: the record gets its name. From here on the batch lands, even if this
    // process dies: the next writer rolls the record forward.
    let record_path = commit_path(commit.path());
    commit
        .persist_noclobber(&record_path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write in `{}`", dir.display()))?;
    sync_dir(dir)?;
    pause();
    let mut temps: Vec<PathBuf> = Vec::with_capacity(staged.len());
    for tmp in staged {
        // from here the commit record owns the temporary files
        let path = tmp
            .keep()
            .with_context(|| format!("cannot write in `{}`", dir.display()))?;
        temps.push(path);
    }
    let mut created: Vec<&Path> = Vec::new();
    for ((out, replace), tmp) in all.iter().zip(&temps) {
        let moved = if *replace {
            fs::rename(tmp, &out.path)
        } else {
            rename_noreplace(tmp, &out.path)
        };
        match moved {
            Ok(()) => {
                if !*replace {
                    created.push(&out.path);
                }
                pause();
            }
            Err(e) => {
                // Only another program can have made a target since the check (otelpki
                // writers wait for the lock): undo what this batch created and give up.
                for path in &created {
                    let _ = fs::remove_file(path);
                }
                for tmp in &temps {
                    let _ = fs::remove_file(tmp);
                }
                let _ = fs::remove_file(&record_path);
                let _ = sync_dir(dir);
                if e.kind() == io::ErrorKind::AlreadyExists {
                    return Err(AlreadyExists(out.path.clone()).into());
                }
                return Err(e).with_context(|| format!("cannot write `{}`", out.path.display()));
            }
        }
    }
    sync_dir(dir)?;
    // Done: the record may go. If its removal is lost in a crash, the next writer finds no
    // temporary file of it and just removes it.
    fs::remove_file(&record_path)
        .with_context(|| format!("cannot remove `{}`", record_path.display()))?;
    Ok(())
}

/// Crash tests widen the windows between the steps of a batch with `OTELPKI_TEST_PAUSE_MS`
/// (a pause after each step), so that a kill lands in each of them. Unset, it costs one
/// environment lookup per batch.
fn pause_hook() -> impl Fn() {
    let ms = std::env::var("OTELPKI_TEST_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&ms| ms > 0 && ms <= 10_000);
    move || {
        if let Some(ms) = ms {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
    }
}

/// `.otelpki-XXXXXX.record` → `.otelpki-XXXXXX.commit`.
fn commit_path(staged: &Path) -> PathBuf {
    staged.with_extension(&COMMIT_SUFFIX[1..])
}

fn file_name(path: &Path) -> Result<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .filter(|n| plain_name(n))
        .map(str::to_string)
        .with_context(|| format!("`{}` is not a usable file name", path.display()))
}

/// Renames `from` to `to` unless `to` exists (then `AlreadyExists`), atomically.
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    match rustix::fs::renameat_with(
        rustix::fs::CWD,
        from,
        rustix::fs::CWD,
        to,
        rustix::fs::RenameFlags::NOREPLACE,
    ) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::EXIST => {
            Err(io::Error::from(io::ErrorKind::AlreadyExists))
        }
        // a filesystem without RENAME_NOREPLACE: link (fails if `to` exists), then unlink
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {
            fs::hard_link(from, to)?;
            fs::remove_file(from)
        }
        Err(e) => Err(io::Error::from(e)),
    }
}

/// A temporary file beside the target, with the target's mode from creation, holding the
/// whole contents (not yet durable).
fn stage(out: &Output) -> Result<tempfile::NamedTempFile> {
    let dir = parent(&out.path);
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .permissions(Permissions::from_mode(out.mode))
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in `{}`", dir.display()))?;
    tmp.write_all(&out.contents)
        .with_context(|| format!("cannot write `{}`", out.path.display()))?;
    Ok(tmp)
}

pub(crate) fn parent(path: &Path) -> &Path {
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

/// Makes everything written on `dir`'s filesystem durable, in one flush (`syncfs`): a batch
/// of files costs one wait for the disk instead of one each.
fn sync_filesystem(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| rustix::fs::syncfs(&d).map_err(io::Error::from))
        .with_context(|| format!("cannot sync the files written in `{}`", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap()
    }

    #[test]
    fn recovery_rolls_records_forward_and_clears_strays() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        // a record of three renames: one replace, one create whose target appeared meanwhile,
        // one already renamed before the crash (its temporary file is gone)
        fs::write(dir.join("a.crt"), "old a").unwrap();
        fs::write(dir.join(".otelpki-a.tmp"), "new a").unwrap();
        fs::write(dir.join("b.crt"), "someone else's b").unwrap();
        fs::write(dir.join(".otelpki-b.tmp"), "new b").unwrap();
        fs::write(dir.join("c.crt"), "new c").unwrap();
        let record = ".otelpki-a.tmp\ta.crt\treplace\n\
                      .otelpki-b.tmp\tb.crt\tcreate\n\
                      .otelpki-c.tmp\tc.crt\tcreate\n";
        fs::write(dir.join(".otelpki-r.commit"), record).unwrap();
        // strays: a temporary file and a record being written, of no durable record
        fs::write(dir.join(".otelpki-x.tmp"), "stray").unwrap();
        fs::write(dir.join(".otelpki-y.record"), "half").unwrap();
        // not ours: left alone
        fs::write(dir.join(".otelpki-notes.txt"), "mine").unwrap();
        fs::write(dir.join("otelpki-z.tmp"), "mine").unwrap();

        let seen = leftovers(dir).unwrap();
        assert_eq!(seen.commits, [dir.join(".otelpki-r.commit")]);
        // the record's own temporary files are not strays
        assert_eq!(
            seen.temporaries,
            [dir.join(".otelpki-x.tmp"), dir.join(".otelpki-y.record")]
        );
        assert!(!writer_active(dir), "no lock file, no writer");

        let (lock, done) = lock_recovering(dir).unwrap();
        assert_eq!(done.commits.len(), 1);
        assert_eq!(done.temporaries.len(), 2);
        assert!(writer_active(dir), "the lock is held");
        assert_eq!(read(&dir.join("a.crt")), "new a");
        assert_eq!(
            read(&dir.join("b.crt")),
            "someone else's b",
            "create never replaces"
        );
        assert_eq!(read(&dir.join("c.crt")), "new c");
        for gone in [
            ".otelpki-a.tmp",
            ".otelpki-b.tmp",
            ".otelpki-r.commit",
            ".otelpki-x.tmp",
            ".otelpki-y.record",
        ] {
            assert!(!dir.join(gone).exists(), "{gone} is left");
        }
        assert_eq!(read(&dir.join(".otelpki-notes.txt")), "mine");
        assert_eq!(read(&dir.join("otelpki-z.tmp")), "mine");
        drop(lock);
        assert!(!writer_active(dir), "the lock is released");
        let again = recover(dir).unwrap();
        assert!(again.commits.is_empty() && again.temporaries.is_empty());
    }

    #[test]
    fn a_long_record_is_read_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let mut record = String::new();
        for i in 0..200 {
            fs::write(dir.join(format!(".otelpki-{i:04}.tmp")), format!("{i}")).unwrap();
            record.push_str(&format!(".otelpki-{i:04}.tmp\tf{i:04}.pem\tcreate\n"));
        }
        assert!(record.len() > 4096);
        fs::write(dir.join(".otelpki-big.commit"), &record).unwrap();
        recover(dir).unwrap();
        assert_eq!(read(&dir.join("f0199.pem")), "199");
        assert!(!dir.join(".otelpki-big.commit").exists());
    }

    #[test]
    fn a_record_that_is_not_ours_stops_recovery() {
        for bad in [
            "a\tb\n",
            "a\tb\tcreate\textra\n",
            "a\tb\tmove\n",
            "\tb\tcreate\n",
            "a\t\tcreate\n",
            "a\t.\tcreate\n",
            "..\tb\tcreate\n",
            "a\tsub/b\tcreate\n",
            "a\tb\u{1b}\tcreate\n",
        ] {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path();
            fs::write(dir.join("a"), "x").unwrap();
            let record = dir.join(".otelpki-r.commit");
            fs::write(&record, format!(".otelpki-ok.tmp\tok\tcreate\n{bad}")).unwrap();
            fs::write(dir.join(".otelpki-ok.tmp"), "ok").unwrap();
            let err = recover(dir).unwrap_err().to_string();
            assert!(
                err.contains("is not a commit record otelpki wrote"),
                "{bad:?}: {err}"
            );
            assert!(
                record.exists() && !dir.join("ok").exists(),
                "{bad:?}: nothing renamed"
            );
            assert!(dir.join(".otelpki-ok.tmp").exists(), "{bad:?}");
            assert_eq!(leftovers(dir).unwrap().commits.len(), 1, "{bad:?}");
        }
    }

    #[test]
    fn directories_are_made_private_and_a_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let nested = tmp.path().join("a/b/certs");
        ensure_dir(&nested).unwrap();
        for d in [tmp.path().join("a"), tmp.path().join("a/b"), nested.clone()] {
            assert_eq!(
                fs::metadata(&d).unwrap().permissions().mode() & 0o777,
                DIR_MODE
            );
        }
        ensure_dir(&nested).unwrap();
        let file = tmp.path().join("file");
        fs::write(&file, "x").unwrap();
        let err = ensure_dir(&file).unwrap_err().to_string();
        assert!(err.contains("exists and is not a directory"), "{err}");
        let err = ensure_dir(&file.join("sub")).unwrap_err().to_string();
        assert!(err.contains("cannot use the directory"), "{err}");
        let err = recover_command(&file).unwrap_err().to_string();
        assert!(
            err.contains("is not a directory; nothing to recover"),
            "{err}"
        );
    }

    #[test]
    fn a_batch_is_one_directory_and_never_clobbers() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        ensure_dir(&a).unwrap();
        ensure_dir(&b).unwrap();
        let two_dirs = [
            Output::public(a.join("x.crt"), "x"),
            Output::key(b.join("x.key"), "k"),
        ];
        let err = publish(&two_dirs, false).unwrap_err().to_string();
        assert!(err.contains("are not in one directory"), "{err}");
        assert!(
            fs::read_dir(&a).unwrap().next().is_none(),
            "nothing written"
        );

        let pair = [
            Output::public(a.join("x.crt"), "x1"),
            Output::key(a.join("x.key"), "k1"),
        ];
        publish(&pair, false).unwrap();
        assert_eq!(
            fs::metadata(a.join("x.key")).unwrap().permissions().mode() & 0o777,
            KEY_MODE
        );
        assert_eq!(
            fs::metadata(a.join("x.crt")).unwrap().permissions().mode() & 0o777,
            PUBLIC_MODE
        );
        let again = [
            Output::public(a.join("y.crt"), "y"),
            Output::key(a.join("x.key"), "k2"),
        ];
        let err = publish(&again, false).unwrap_err();
        let exists = err.downcast_ref::<AlreadyExists>().expect("AlreadyExists");
        assert_eq!(exists.0, a.join("x.key"));
        assert_eq!(
            err.to_string(),
            format!("`{}` already exists", a.join("x.key").display())
        );
        assert!(!a.join("y.crt").exists(), "the batch is all or nothing");
        assert_eq!(read(&a.join("x.key")), "k1");
        let mut names: Vec<String> = fs::read_dir(&a)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["x.crt", "x.key"], "no temporary file is left");
        publish(&[], false).unwrap();
        // one file, refused then forced
        let one = [Output::public(a.join("x.crt"), "x2")];
        assert!(refuse_existing(&one, false).is_err());
        refuse_existing(&one, true).unwrap();
        let err = publish(&one, false).unwrap_err();
        assert!(err.downcast_ref::<AlreadyExists>().is_some(), "{err}");
        publish(&one, true).unwrap();
        assert_eq!(read(&a.join("x.crt")), "x2");
        publish(&again, true).unwrap();
        assert_eq!(read(&a.join("x.key")), "k2");
        assert_eq!(read(&a.join("y.crt")), "y");
    }

    #[test]
    fn parents_and_names() {
        assert_eq!(parent(Path::new("secrets.yaml")), Path::new("."));
        assert_eq!(parent(Path::new("/")), Path::new("."));
        assert_eq!(parent(Path::new("d/x")), Path::new("d"));
        assert_eq!(
            commit_path(Path::new("d/.otelpki-ab.record")),
            Path::new("d/.otelpki-ab.commit")
        );
        assert_eq!(file_name(Path::new("d/x.crt")).unwrap(), "x.crt");
        assert!(file_name(Path::new("d/..")).is_err());
        for bad in ["", ".", "..", "a/b", "a\nb"] {
            assert!(!plain_name(bad), "{bad:?}");
        }
        assert!(plain_name("ca.crt"));
    }

    #[test]
    fn a_lock_file_that_is_a_symlink_is_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let (real, other) = (tmp.path().join("real"), tmp.path().join("other"));
        let held = lock(&real).unwrap();
        assert!(writer_active(&real));
        ensure_dir(&other).unwrap();
        std::os::unix::fs::symlink(real.join(LOCK_FILE), other.join(LOCK_FILE)).unwrap();
        // the link leads to a held lock, but it is not `other`'s lock: not followed
        assert!(!writer_active(&other));
        drop(held); // (followed, the link would make the next lock wait for this one)
        let err = lock(&other).unwrap_err().to_string();
        assert!(err.contains("cannot open the lock file"), "{err}");
    }

    #[test]
    fn a_lock_file_that_is_a_fifo_never_blocks_the_question() {
        // `check` asks writer_active of any DIR; a FIFO in the lock file's place (no writer
        // at its other end) must not hold it: the lock file is opened non-blocking.
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let made = std::process::Command::new("mkfifo")
            .arg(dir.join(LOCK_FILE))
            .status()
            .unwrap();
        assert!(made.success());
        let (tx, rx) = std::sync::mpsc::channel();
        let asked = dir.clone();
        std::thread::spawn(move || tx.send(writer_active(&asked)));
        let active = rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("writer_active waited on a FIFO");
        assert!(!active, "a FIFO is no writer");
    }

    #[test]
    fn recovery_stops_at_a_rename_that_fails_and_keeps_what_it_needs() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        // the target is now a directory that is not empty: the rename fails, and not because
        // a file appeared (that one would be kept and the new file dropped)
        fs::create_dir(dir.join("a.crt")).unwrap();
        fs::write(dir.join("a.crt/inside"), "x").unwrap();
        fs::write(dir.join(".otelpki-a.tmp"), "new a").unwrap();
        let record = dir.join(".otelpki-r.commit");
        fs::write(&record, ".otelpki-a.tmp\ta.crt\treplace\n").unwrap();
        let err = format!("{:#}", recover(dir).unwrap_err());
        assert!(
            err.contains(&format!(
                "cannot complete an interrupted write of `{}`",
                dir.join("a.crt").display()
            )),
            "{err}"
        );
        // the next writer can try again: the record and its new file are kept
        assert_eq!(read(&dir.join(".otelpki-a.tmp")), "new a");
        assert!(record.exists());
        assert_eq!(read(&dir.join("a.crt/inside")), "x");
    }

    #[test]
    fn a_write_that_fails_is_not_called_an_existing_file() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("sub");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("inside"), "x").unwrap();
        // --force onto a directory that is not empty: the rename fails (EISDIR)
        let err = publish(&[Output::public(target.clone(), "new")], true).unwrap_err();
        assert!(err.downcast_ref::<AlreadyExists>().is_none(), "{err:#}");
        assert!(
            format!("{err:#}").starts_with(&format!("cannot write `{}`: ", target.display())),
            "{err:#}"
        );
        let names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["sub"], "no temporary file is left");
    }
}
