//! `renew` (docs/rotation.md): re-issues leaves with new keys and the same names, SANs, CN, O and
//! key type; without names, every leaf that expires within the window or is no longer signed by
//! the current signer (the first certificate of ca.crt). `reissue` and the `--exec` [`Hook`] are
//! shared with `rotate-ca switch`, which re-issues every leaf under the new CA.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use time::OffsetDateTime;

use crate::encrypt::{PassphraseOptions, PassphraseSource};
use crate::engine::{self, Ca, Plan};
use crate::issue;
use crate::judge;
use crate::key::KeyType;
use crate::model::Window;
use crate::pki::{self, Entry};
use crate::profile::{self, Role, Spec};
use crate::read;
use crate::report::{self, Render};
use crate::san::San;
use crate::store::{self, DirLock};

/// A leaf `renew` re-issued (or, with --dry-run, would), and why.
#[derive(Debug, Serialize)]
pub struct Renewed {
    pub name: String,
    pub role: Role,
    pub reason: String,
    pub cert: String,
    pub key: String,
    /// The new certificate's expiry (absent in a dry run).
    #[serde(with = "time::serde::rfc3339::option")]
    pub not_after: Option<OffsetDateTime>,
}

/// A due leaf that cannot be renewed here, and what to do instead.
#[derive(Debug, Serialize)]
pub struct Skipped {
    pub name: String,
    pub reason: String,
    pub fix: String,
}

/// `otelpki renew`.
#[derive(Clone, Debug)]
pub struct RenewOptions {
    /// File stems of the leaves to renew now; empty: every leaf that is due.
    pub names: Vec<String>,
    /// Renew what expires within this time.
    pub within: Window,
    /// A shell command to run once after any renewal.
    pub exec: Option<String>,
    pub dry_run: bool,
    /// The output is JSON: the hook's standard output goes to standard error.
    pub json: bool,
    pub passphrase: PassphraseOptions,
}

/// What `renew` did (its JSON is this, without the fields marked skip), and what is left to
/// do once that is printed: the `--exec` hook, and the error for the leaves it could not renew.
#[derive(Serialize)]
pub struct Report {
    dir: String,
    dry_run: bool,
    within: String,
    renewed: Vec<Renewed>,
    skipped: Vec<Skipped>,
    /// `--exec` was given (the text then leaves the restart advice out).
    #[serde(skip)]
    exec_given: bool,
    #[serde(skip)]
    hook: Option<Hook>,
}

/// `--exec CMD`, to run once the report is printed, under the lock of the command that
/// renewed (as it ran before the report was data).
pub(crate) struct Hook {
    cmd: String,
    dir: PathBuf,
    names: Vec<String>,
    json: bool,
    _lock: Option<DirLock>,
}

impl Hook {
    /// The hook for `cmd` after renewing `names`, if there is any to run.
    pub(crate) fn after(
        cmd: Option<&str>,
        dir: &Path,
        names: Vec<String>,
        json: bool,
        lock: Option<DirLock>,
    ) -> Option<Hook> {
        let cmd = cmd?;
        (!names.is_empty()).then(|| Hook {
            cmd: cmd.to_string(),
            dir: dir.to_path_buf(),
            names,
            json,
            _lock: lock,
        })
    }

    pub(crate) fn run(&self) -> Result<()> {
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        exec(&self.cmd, &self.dir, &names, self.json)
    }
}

/// The leaves of `entries`: server and client certificates (not the CA's files).
pub(crate) fn leaves(entries: &[Entry]) -> impl Iterator<Item = &Entry> {
    entries
        .iter()
        .filter(|e| matches!(e.role, Some(Role::Server | Role::Client)))
}

/// A new key and certificate for `entry`, signed by `ca`: the same file names, SANs, CN, O,
/// role and key type (unless `key_type` says otherwise), for the same lifetime from `now`
/// (clamped to the CA), added to `plan` in place of the old pair. Returns the new notAfter.
pub(crate) fn reissue(
    entry: &Entry,
    ca: &Ca,
    key_type: Option<KeyType>,
    now: OffsetDateTime,
    plan: &mut Plan,
) -> Result<OffsetDateTime> {
    let role = match entry.role {
        Some(r @ (Role::Server | Role::Client)) => r,
        _ => bail!(
            "`{}` is neither a server nor a client certificate",
            entry.cert_path.display()
        ),
    };
    let key_type = key_type.or(entry.key_type).with_context(|| {
        format!(
            "`{}` has a key type otelpki does not make",
            entry.cert_path.display()
        )
    })?;
    let sans = entry
        .cert
        .sans()
        .map(San::to_rcgen)
        .collect::<Result<Vec<_>>>()?;
    let (not_before, not_after) = profile::validity(now, lifetime_days(entry));
    let spec = Spec {
        cn: entry.common_name.clone().unwrap_or_default(),
        org: entry.organization.clone(),
        sans,
        not_before,
        not_after: engine::clamp_to_ca(not_after, ca),
        serial: profile::random_serial()?,
        key_type,
    };
    let key = key_type.generate()?;
    let signed = engine::make_leaf(role, &spec, &key, &ca.issuer)?;
    plan.pair(&entry.cert_path, &entry.key_path, &signed, true);
    Ok(spec.not_after)
}

/// The certificate's lifetime in whole days (at least one), without the backdated minute.
fn lifetime_days(entry: &Entry) -> u32 {
    let life = entry.not_after - entry.not_before - profile::BACKDATE;
    let days = (life.whole_hours() + 12) / 24;
    u32::try_from(days.clamp(1, 36500)).unwrap_or(365)
}

/// What to do about a leaf whose key is not in DIR (signed from a CSR): a new CSR.
fn csr_fix(dir: &Path, entry: &Entry) -> String {
    let role = if entry.role == Some(Role::Server) {
        "server"
    } else {
        "client"
    };
    format!(
        "its key is not in the directory (it was signed from a CSR): make a new CSR on its host, then\n{}",
        crate::report::command(
            dir,
            &[
                "issue",
                role,
                "--csr",
                "FILE",
                "--name",
                &entry.name,
                "--force"
            ]
        )
    )
}

/// Why `entry` is due, if it is: expired, expiring within `within`, or not signed by `signer`.
fn due_reason(
    entry: &Entry,
    signer: &rustls::pki_types::CertificateDer<'_>,
    within: &crate::model::Window,
    now: OffsetDateTime,
) -> Result<Option<String>> {
    if !judge::signed_by(&entry.cert, signer) {
        return Ok(Some(
            "not signed by the current CA (the first certificate of ca.crt)".into(),
        ));
    }
    if entry.not_after <= now {
        return Ok(Some(format!("expired on {}", issue::date(entry.not_after))));
    }
    if entry.not_after < now + within.duration {
        return Ok(Some(format!(
            "expires on {}, within {}",
            issue::date(entry.not_after),
            within.text
        )));
    }
    Ok(None)
}

/// `otelpki renew`.
pub fn run(dir: &Path, args: &RenewOptions) -> Result<Report> {
    let now = OffsetDateTime::now_utc();
    let (ca_crt, ca_key) = engine::pair_paths(dir, "ca");
    if !dir.is_dir() || !ca_crt.exists() {
        bail!(
            "no CA in `{}` (ca.crt missing): nothing to renew; create the PKI with `otelpki --dir {} init`",
            dir.display(),
            dir.display()
        );
    }
    for name in &args.names {
        if name == "ca" || name == "ca-next" || name == "ca-previous" {
            bail!(
                "`{name}` is the CA's: a CA is replaced by a staged rotation, `otelpki rotate-ca start`"
            );
        }
        issue::file_stem(name)?;
    }
    // The lock before reading: what renew decides from is what it replaces.
    let lock = if args.dry_run {
        None
    } else {
        Some(store::lock(dir)?)
    };
    let entries = pki::scan(dir)?;
    let signer = read::certificate(&ca_crt)?;
    let mut due: Vec<(&Entry, String)> = Vec::new();
    let mut skipped: Vec<Skipped> = Vec::new();
    if args.names.is_empty() {
        for entry in leaves(&entries) {
            if let Some(reason) = due_reason(entry, &signer, &args.within, now)? {
                if entry.key_exists {
                    due.push((entry, reason));
                } else {
                    skipped.push(Skipped {
                        name: entry.name.clone(),
                        fix: csr_fix(dir, entry),
                        reason,
                    });
                }
            }
        }
    } else {
        for name in &args.names {
            if due.iter().any(|(e, _)| &e.name == name) {
                continue;
            }
            let Some(entry) = leaves(&entries).find(|e| &e.name == name) else {
                bail!(
                    "`{}` holds no server or client certificate `{name}.crt`; `otelpki --dir {} check` lists them",
                    dir.display(),
                    dir.display()
                );
            };
            if !entry.key_exists {
                bail!("cannot renew `{name}`: {}", csr_fix(dir, entry));
            }
            due.push((entry, "asked for".into()));
        }
    }

    let mut renewed: Vec<Renewed> = Vec::new();
    if let (Some(lock), false) = (&lock, due.is_empty()) {
        let pass = PassphraseSource::new(args.passphrase.passphrase_file.as_deref());
        let ca = engine::load_ca(&ca_crt, &ca_key, now, &pass)?;
        let mut plan = Plan::new();
        for (entry, reason) in &due {
            let not_after = reissue(entry, &ca, None, now, &mut plan)?;
            renewed.push(record(entry, reason, Some(not_after)));
        }
        plan.execute(lock)?;
    } else {
        renewed.extend(due.iter().map(|(e, r)| record(e, r, None)));
    }
    let hook = if args.dry_run {
        None
    } else {
        let names = renewed.iter().map(|r| r.name.clone()).collect();
        Hook::after(args.exec.as_deref(), dir, names, args.json, lock)
    };
    Ok(Report {
        dir: dir.display().to_string(),
        dry_run: args.dry_run,
        within: args.within.text.clone(),
        renewed,
        skipped,
        exec_given: args.exec.is_some(),
        hook,
    })
}

fn record(entry: &Entry, reason: &str, not_after: Option<OffsetDateTime>) -> Renewed {
    Renewed {
        name: entry.name.clone(),
        role: entry.role.unwrap_or(Role::Client),
        reason: reason.to_string(),
        cert: entry.cert_path.display().to_string(),
        key: entry.key_path.display().to_string(),
        not_after,
    }
}

impl Render for Report {
    fn text(&self) -> String {
        let mut out = String::new();
        if self.renewed.is_empty() && self.skipped.is_empty() {
            out.push_str(&format!(
                "Nothing to renew in {}: every certificate is valid beyond {} and signed by the current CA.\n",
                self.dir, self.within
            ));
        }
        let verb = if self.dry_run {
            "Would renew"
        } else {
            "Renewed"
        };
        for r in &self.renewed {
            out.push_str(&format!(
                "{verb} {} ({}): {}",
                r.name,
                role_name(r.role),
                r.reason
            ));
            match r.not_after {
                Some(t) => out.push_str(&format!("; new key, valid until {}\n", issue::date(t))),
                None => out.push('\n'),
            }
            out.push_str(&format!(
                "  certificate: {}\n  key:         {}\n",
                r.cert, r.key
            ));
        }
        for s in &self.skipped {
            out.push_str(&format!(
                "Cannot renew {}: {}\n  fix: {}\n",
                s.name, s.reason, s.fix
            ));
        }
        if !self.renewed.is_empty() && !self.dry_run && !self.exec_given {
            out.push_str(
                "No SDK re-reads its certificate files: restart the applications that use them \
                 (--exec CMD does it after each renewal). The Collector re-reads its own server pair \
                 (reload_interval).\n",
            );
        }
        out
    }

    fn json(&self) -> Result<String> {
        report::json(self)
    }

    /// The `--exec` hook, then the error for the due leaves that could not be renewed.
    fn after(&self) -> Result<()> {
        if let Some(hook) = &self.hook {
            hook.run()?;
        }
        if !self.skipped.is_empty() {
            bail!(
                "{} due certificate(s) could not be renewed here: {}",
                self.skipped.len(),
                self.skipped
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        Ok(())
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Server => "server",
        Role::Client => "client",
        Role::Ca => "CA",
    }
}

/// Runs `cmd` with `sh -c`, with `OTELPKI_RENEWED` (the names, space-separated) and
/// `OTELPKI_DIR`; with `json`, its output goes to stderr so stdout stays one JSON document.
pub(crate) fn exec(cmd: &str, dir: &Path, names: &[&str], json: bool) -> Result<()> {
    let mut command = std::process::Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(cmd)
        .env("OTELPKI_RENEWED", names.join(" "))
        .env("OTELPKI_DIR", dir);
    if json {
        let err = std::io::stderr().as_fd().try_clone_to_owned()?;
        command.stdout(Stdio::from(err));
    }
    let status = command
        .status()
        .with_context(|| format!("cannot run --exec `{cmd}`"))?;
    if !status.success() {
        bail!(
            "--exec `{cmd}` failed ({status}); the new certificates are in place: restart what \
             reads them ({}) by hand",
            names.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::PrivateKey;

    /// "Due within 30 days" means ending before now + 30 days: a leaf that ends exactly then
    /// is not due, one that ends a second earlier is; an ended one is expired (the rule of
    /// `check` and of the CA's window too).
    #[test]
    fn a_leaf_ending_at_the_end_of_the_window_is_not_due() {
        let tmp = tempfile::tempdir().unwrap();
        let start = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let end = start + time::Duration::days(90);
        let spec = |cn: &str, not_after| Spec {
            cn: cn.into(),
            org: None,
            sans: Vec::new(),
            not_before: start,
            not_after,
            serial: profile::random_serial().unwrap(),
            key_type: KeyType::EcdsaP256,
        };
        let (ca, issuer) = engine::make_ca(
            &spec("Due CA", end + time::Duration::days(1)),
            KeyType::EcdsaP256.generate().unwrap(),
        )
        .unwrap();
        let key = KeyType::EcdsaP256.generate().unwrap();
        let leaf = engine::make_leaf(Role::Client, &spec("app", end), &key, &issuer).unwrap();
        let path = tmp.path().join("app.crt");
        std::fs::write(&path, &leaf.cert_pem).unwrap();
        std::fs::write(tmp.path().join("app.key"), key.pkcs8_pem()).unwrap();
        let entry = Entry::from_file(&path).unwrap();
        let signer = read::certificates_from(Path::new("ca.crt"), ca.cert_pem.as_bytes())
            .unwrap()
            .remove(0);
        let within = crate::model::parse_window("30d").unwrap();
        let due = |now: OffsetDateTime| due_reason(&entry, &signer, &within, now).unwrap();
        assert_eq!(due(end - within.duration), None);
        let soon = due(end - within.duration + time::Duration::seconds(1)).unwrap();
        assert!(
            soon.starts_with("expires on") && soon.ends_with("within 30d"),
            "{soon}"
        );
        assert!(due(end).unwrap().starts_with("expired on"));
    }
}
