//! `rotate-ca start|switch|finish|status` (docs/rotation.md): the staged CA rotation with ca.crt as a
//! trust bundle.
//!
//! | phase    | ca.crt     | ca.key | also                         |
//! |----------|------------|--------|------------------------------|
//! | none     | old        | old    |                              |
//! | started  | old + new  | old    | ca-next.crt, ca-next.key     |
//! | switched | new + old  | new    | ca-previous.crt/.key; leaves re-issued under new |
//! | none     | new        | new    |                              |
//!
//! The phase is read from the files themselves; there is no state file to disagree with them.
//! Each step is one `engine::Plan` (every file it writes lands, or none does), taken
//! under the directory's lock. A step that also removes files (switch: ca-next.*, finish:
//! ca-previous.*) removes them after its batch; the batch alone already tells the new phase
//! (the first certificate of ca.crt, its length), so a crash before the removal leaves files
//! that the next step (or a re-run) removes: [`settle`].

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rustls::pki_types::CertificateDer;
use serde::Serialize;
use time::OffsetDateTime;

use crate::cert::Cert;
use crate::encrypt::{self, PassphraseOptions, PassphraseSource};
use crate::engine::{self, Plan};
use crate::issue;
use crate::judge;
use crate::key::KeyType;
use crate::pki::{self, Entry};
use crate::profile::{self, Spec};
use crate::read;
use crate::renew::{self, Hook};
use crate::report::{self, Render};
use crate::store::{self, Output};

/// `rotate-ca start`.
#[derive(Clone, Debug)]
pub struct StartOptions {
    /// The new CA's key type; None: the current CA's.
    pub key_type: Option<KeyType>,
    /// The new CA's CN; None: the current one with a generation suffix.
    pub cn: Option<String>,
    /// The new CA's validity; None: the current CA's lifetime.
    pub days: Option<u32>,
    pub passphrase: PassphraseOptions,
}

/// `rotate-ca switch`.
#[derive(Clone, Debug)]
pub struct SwitchOptions {
    /// A shell command to run once after the leaves were re-issued.
    pub exec: Option<String>,
    /// The output is JSON: the hook's standard output goes to standard error.
    pub json: bool,
    pub passphrase: PassphraseOptions,
}

/// What a `rotate-ca` step says: what it did (text only), then the resulting status; and
/// the `--exec` hook of `switch`, run once that is printed.
pub struct Report {
    /// A step found already done says so before the status, also before the JSON document
    /// (as it always has).
    pub already: Option<&'static str>,
    /// What the step did, before the status; not in the JSON.
    pub done: String,
    pub status: Status,
    hook: Option<Hook>,
}

impl Report {
    fn of(dir: &Path, already: Option<&'static str>, done: String) -> Result<Report> {
        Ok(Report {
            already,
            done,
            status: status_of(dir)?,
            hook: None,
        })
    }

    fn already(&self) -> String {
        self.already
            .map(|line| format!("{line}\n"))
            .unwrap_or_default()
    }
}

impl Render for Report {
    fn text(&self) -> String {
        format!(
            "{}{}{}",
            self.already(),
            self.done,
            status_text(&self.status)
        )
    }

    /// The status alone: stdout stays one JSON document. A step found already done says so
    /// on standard error, as the text form says it first.
    fn json(&self) -> Result<String> {
        if let Some(line) = self.already {
            eprintln!("{line}");
        }
        report::json(&self.status)
    }

    fn after(&self) -> Result<()> {
        match &self.hook {
            Some(hook) => hook.run(),
            None => Ok(()),
        }
    }
}

/// Where a rotation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// No rotation: ca.crt holds the signer alone.
    None,
    /// `start` ran: ca-next.* exist, ca.crt = old + new, the old CA still signs.
    Started,
    /// `switch` ran: the new CA signs, ca.crt = new + old, ca-previous.* hold the old pair.
    Switched,
}

/// The rotation's state as read from DIR.
pub struct State {
    pub phase: Phase,
    /// ca.crt, in order (the first is the signer).
    pub bundle: Vec<CertificateDer<'static>>,
    /// ca-next.crt (started), or ca-previous.crt (switched).
    pub other: Option<CertificateDer<'static>>,
    /// Files a step's batch made obsolete but that a crash left (removed by `settle`).
    pub leftover: Vec<PathBuf>,
    /// The step whose removals were interrupted, if any.
    pub interrupted: Option<&'static str>,
}

fn paths(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    engine::pair_paths(dir, stem)
}

/// Reads the rotation state of `dir` (no lock needed: every step lands as one batch).
pub fn read_state(dir: &Path) -> Result<State> {
    let (ca_crt, _) = paths(dir, "ca");
    let (next_crt, next_key) = paths(dir, "ca-next");
    let (prev_crt, prev_key) = paths(dir, "ca-previous");
    if !ca_crt.exists() {
        bail!(
            "no CA in `{}` (ca.crt missing); create the PKI with `otelpki --dir {} init`",
            dir.display(),
            dir.display()
        );
    }
    let bundle = read::certificates(&ca_crt)?;
    if next_crt.exists() {
        let next = read::certificate(&next_crt)?;
        if bundle[0] == next {
            // switch's batch landed (the new CA signs); its removal of ca-next.* did not
            return Ok(State {
                phase: Phase::Switched,
                other: prev_crt
                    .exists()
                    .then(|| read::certificate(&prev_crt))
                    .transpose()?,
                bundle,
                leftover: vec![next_key, next_crt],
                interrupted: Some("switch"),
            });
        }
        if !next_key.exists() {
            bail!(
                "`{}` is there without `{}`: the next CA cannot sign; restore the key, or remove \
                 `{}` and run `otelpki rotate-ca start` again",
                next_crt.display(),
                next_key.display(),
                next_crt.display()
            );
        }
        return Ok(State {
            phase: Phase::Started,
            bundle,
            other: Some(next),
            leftover: Vec::new(),
            interrupted: None,
        });
    }
    if prev_crt.exists() {
        let prev = read::certificate(&prev_crt)?;
        if bundle.len() > 1 {
            return Ok(State {
                phase: Phase::Switched,
                bundle,
                other: Some(prev),
                leftover: Vec::new(),
                interrupted: None,
            });
        }
        // finish's batch landed (ca.crt = new alone); its removal of ca-previous.* did not
        return Ok(State {
            phase: Phase::None,
            bundle,
            other: None,
            leftover: vec![prev_key, prev_crt],
            interrupted: Some("finish"),
        });
    }
    if prev_key.exists() || next_key.exists() {
        // not left by a step (they remove the key first): cleared by `finish`, which settles
        // and then has nothing to do
        let lone = if prev_key.exists() {
            prev_key
        } else {
            next_key
        };
        return Ok(State {
            phase: Phase::None,
            bundle,
            other: None,
            leftover: vec![lone],
            interrupted: Some("finish"),
        });
    }
    Ok(State {
        phase: Phase::None,
        bundle,
        other: None,
        leftover: Vec::new(),
        interrupted: None,
    })
}

/// Completes the removals of a step that was interrupted after its batch, and reads the
/// state again. Only the lock holder calls this.
fn settle(dir: &Path) -> Result<State> {
    let state = read_state(dir)?;
    if state.leftover.is_empty() {
        return Ok(state);
    }
    remove(dir, &state.leftover)?;
    eprintln!(
        "otelpki: completed an interrupted `rotate-ca {}` in `{}`",
        state.interrupted.unwrap_or("step"),
        dir.display()
    );
    read_state(dir)
}

/// Removes `files` (those already gone are fine), key files first, then syncs `dir`.
fn remove(dir: &Path, files: &[PathBuf]) -> Result<()> {
    for file in files {
        match fs::remove_file(file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("cannot remove `{}`", file.display()));
            }
        }
        pause();
    }
    store::sync_dir(dir)
}

/// Kill tests widen the window between two removals (as `store` does between its steps).
fn pause() {
    if let Some(ms) = std::env::var("OTELPKI_TEST_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&ms| ms > 0 && ms <= 10_000)
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// A certificate as PEM (LF line endings, as every other file otelpki writes).
pub(crate) fn pem_of(der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new("CERTIFICATE", der.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// The new CA's default CN: the old one with its generation suffix (" G2", " G3", ...) counted up.
fn next_cn(cn: &str) -> String {
    let (base, generation) = match cn.rsplit_once(" G") {
        Some((base, n)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => {
            (base, n.parse::<u32>().unwrap_or(1))
        }
        _ => (cn, 1),
    };
    let suffix = format!(" G{}", generation.saturating_add(1));
    let room = 64usize.saturating_sub(suffix.len());
    let base: String = base.chars().take(room).collect();
    format!("{}{suffix}", base.trim_end())
}

fn require_dir(dir: &Path) -> Result<()> {
    if !dir.is_dir() || !dir.join("ca.crt").exists() {
        bail!(
            "no CA in `{}` (ca.crt missing); create the PKI with `otelpki --dir {} init`",
            dir.display(),
            dir.display()
        );
    }
    Ok(())
}

/// `rotate-ca start`: a new CA as ca-next.*; ca.crt := old + new. One batch.
pub fn start(dir: &Path, args: &StartOptions) -> Result<Report> {
    require_dir(dir)?;
    let pass = PassphraseSource::new(args.passphrase.passphrase_file.as_deref());
    let lock = store::lock(dir)?;
    let state = settle(dir)?;
    match state.phase {
        Phase::None => {}
        Phase::Started => {
            return Report::of(
                dir,
                Some("The rotation is already started (ca-next.crt is in ca.crt); nothing to do."),
                String::new(),
            );
        }
        Phase::Switched => bail!(
            "the rotation in `{}` is past its switch; finish it first: {}",
            dir.display(),
            report::command(dir, &["rotate-ca", "finish"])
        ),
    }
    let now = OffsetDateTime::now_utc();
    let (ca_crt, ca_key) = paths(dir, "ca");
    // Refuses a CA that cannot sign, a wrong passphrase, a key that does not match.
    let current = engine::load_ca(&ca_crt, &ca_key, now, &pass)?;
    let old = &state.bundle[0];
    let old_cert = Cert::parse(old)?;
    let key_type = args
        .key_type
        .or(current.key_type)
        .unwrap_or(KeyType::EcdsaP256);
    issue::warn_key_type(key_type);
    let org = old_cert.organization.clone();
    let days = args.days.unwrap_or_else(|| {
        let life = (old_cert.not_after - old_cert.not_before).whole_seconds();
        u32::try_from((life / 86_400).clamp(1, 36_500)).unwrap_or(3650)
    });
    let (not_before, not_after) = profile::validity(now, days);
    let spec = Spec {
        cn: args.cn.clone().unwrap_or_else(|| next_cn(&current.cn)),
        org,
        sans: Vec::new(),
        not_before,
        not_after,
        serial: profile::random_serial()?,
        key_type,
    };
    let (mut signed, _) = engine::make_ca(&spec, key_type.generate()?)?;
    if encrypt::is_encrypted(&ca_key) {
        // the next CA's key is kept like the current one: encrypted, with the same passphrase
        let p = pass.get("encrypting ca-next.key like ca.key")?;
        signed.key_pem = encrypt::encrypt_pem(&signed.key_pem, &p)?;
    }
    let (next_crt, next_key) = paths(dir, "ca-next");
    let bundle = format!("{}{}", pem_of(old), signed.cert_pem);
    let mut plan = Plan::new();
    plan.pair(&next_crt, &next_key, &signed, false);
    plan.file(Output::public(ca_crt, bundle), true);
    plan.execute(&lock)?;
    let done = format!(
        "Started the rotation to the CA \"{}\" ({key_type}, valid until {}): ca-next.crt, \
         ca-next.key; ca.crt now trusts both (the old CA first, still the signer).\n",
        spec.cn,
        issue::date(spec.not_after)
    );
    Report::of(dir, None, done)
}

/// `rotate-ca switch`: the next CA signs; ca.crt := new + old; the old pair kept as
/// ca-previous.*; every leaf re-issued under the new CA. One batch, then ca-next.* removed.
pub fn switch(dir: &Path, args: &SwitchOptions) -> Result<Report> {
    require_dir(dir)?;
    let pass = PassphraseSource::new(args.passphrase.passphrase_file.as_deref());
    let lock = store::lock(dir)?;
    let state = settle(dir)?;
    match state.phase {
        Phase::Started => {}
        Phase::Switched => {
            return Report::of(
                dir,
                Some("The rotation is already switched (the new CA signs); nothing to do."),
                String::new(),
            );
        }
        Phase::None => bail!(
            "no rotation is in progress in `{}`; start one with {}",
            dir.display(),
            report::command(dir, &["rotate-ca", "start"])
        ),
    }
    let now = OffsetDateTime::now_utc();
    let (ca_crt, ca_key) = paths(dir, "ca");
    let (next_crt, next_key) = paths(dir, "ca-next");
    let (prev_crt, prev_key) = paths(dir, "ca-previous");
    let next = engine::load_ca(&next_crt, &next_key, now, &pass)?;
    let next_der = read::certificate(&next_crt)?;
    let old_der = &state.bundle[0];
    let old_type = Cert::parse(old_der)?.key_type();
    let entries = pki::scan(dir)?;
    let mut plan = Plan::new();
    plan.file(
        Output::key(ca_key.clone(), read::read_small(&next_key)?),
        true,
    );
    plan.file(
        Output::public(ca_crt, format!("{}{}", pem_of(&next_der), pem_of(old_der))),
        true,
    );
    let mut renewed: Vec<String> = Vec::new();
    let mut keyless: Vec<String> = Vec::new();
    for entry in renew::leaves(&entries) {
        if !entry.key_exists {
            keyless.push(entry.name.clone());
            continue;
        }
        // A leaf that had the old CA's key type (the default) takes the new CA's: a rotation
        // is how a team leaves RSA-4096. A leaf of another type keeps it.
        let key_type = if entry.key_type.is_some() && entry.key_type == old_type {
            next.key_type
        } else {
            None
        };
        renew::reissue(entry, &next, key_type, now, &mut plan)?;
        renewed.push(entry.name.clone());
    }
    plan.file(Output::key(prev_key, read::read_small(&ca_key)?), false);
    plan.file(Output::public(prev_crt, pem_of(old_der)), false);
    plan.execute(&lock)?;
    remove(dir, &[next_key, next_crt])?;
    let mut done = format!(
        "Switched: the CA \"{}\" signs now; ca.crt = new + old; the old pair is kept as \
         ca-previous.crt/.key. Re-issued under the new CA: {}.\n",
        next.cn,
        if renewed.is_empty() {
            "nothing".to_string()
        } else {
            renewed.join(", ")
        }
    );
    for name in &keyless {
        done.push_str(&format!(
            "Not re-issued: {name} (its key is not here; sign a new CSR for it with \
             `otelpki issue ... --csr FILE --name {name} --force`)\n"
        ));
    }
    let mut report = Report::of(dir, None, done)?;
    report.hook = Hook::after(args.exec.as_deref(), dir, renewed, args.json, Some(lock));
    Ok(report)
}

/// The leaves of `entries` that `old` signed and `new` did not: still under the old CA.
fn under_old(
    entries: &[Entry],
    old: &CertificateDer<'_>,
    new: &CertificateDer<'_>,
) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in renew::leaves(entries) {
        if judge::signed_by(&entry.cert, old) && !judge::signed_by(&entry.cert, new) {
            names.push(entry.name.clone());
        }
    }
    Ok(names)
}

/// `rotate-ca finish`: ca.crt := new alone (one write), then ca-previous.* removed. Refused
/// while a leaf in DIR chains only to the old CA.
pub fn finish(dir: &Path) -> Result<Report> {
    require_dir(dir)?;
    let lock = store::lock(dir)?;
    let state = settle(dir)?;
    match state.phase {
        Phase::Switched => {}
        Phase::None => {
            return Report::of(
                dir,
                None,
                "No rotation is in progress; nothing to finish.\n".to_string(),
            );
        }
        Phase::Started => bail!(
            "the new CA does not sign yet: switch first ({}), then finish",
            report::command(dir, &["rotate-ca", "switch"])
        ),
    }
    let new = &state.bundle[0];
    let olds: Vec<&CertificateDer<'static>> = state
        .other
        .iter()
        .chain(state.bundle.iter().skip(1))
        .collect();
    let entries = pki::scan(dir)?;
    let mut stuck: Vec<String> = Vec::new();
    for old in olds {
        for name in under_old(&entries, old, new)? {
            if !stuck.contains(&name) {
                stuck.push(name);
            }
        }
    }
    if !stuck.is_empty() {
        let words: Vec<&str> = ["renew"]
            .into_iter()
            .chain(stuck.iter().map(String::as_str))
            .collect();
        bail!(
            "{} still chain(s) only to the old CA: finishing now would make every consumer \
             refuse {}; renew them under the new CA first ({}; a certificate signed from a CSR \
             needs a new CSR: `otelpki issue ... --csr FILE --force`), then finish",
            stuck.join(", "),
            if stuck.len() == 1 { "it" } else { "them" },
            report::command(dir, &words)
        );
    }
    let (ca_crt, _) = paths(dir, "ca");
    let mut plan = Plan::new();
    plan.file(Output::public(ca_crt, pem_of(new)), true);
    plan.execute(&lock)?;
    let (prev_crt, prev_key) = paths(dir, "ca-previous");
    remove(dir, &[prev_key, prev_crt])?;
    let done = "Finished: ca.crt holds the new CA alone; ca-previous.crt/.key removed. The old CA \
                is trusted nowhere that re-reads ca.crt.\n";
    Report::of(dir, None, done.to_string())
}

/// `rotate-ca status`.
pub fn status(dir: &Path) -> Result<Report> {
    require_dir(dir)?;
    Report::of(dir, None, String::new())
}

/// A CA certificate as `status` shows it.
#[derive(Serialize)]
pub struct CaView {
    pub common_name: String,
    pub key_type: Option<KeyType>,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    pub sha256: String,
}

impl CaView {
    fn of(der: &CertificateDer<'_>) -> Result<CaView> {
        let cert = Cert::parse(der)?;
        Ok(CaView {
            key_type: cert.key_type(),
            not_after: cert.not_after,
            sha256: cert.fingerprint,
            common_name: cert.common_name.unwrap_or_default(),
        })
    }
}

/// What one kind of consumer must do in this phase.
#[derive(Serialize)]
pub struct Consumer {
    pub who: &'static str,
    pub action: String,
}

/// `rotate-ca status --json`.
#[derive(Serialize)]
pub struct Status {
    pub dir: String,
    pub phase: Phase,
    /// A step whose final removals were interrupted; the next writing step completes it.
    pub interrupted: Option<&'static str>,
    /// ca.crt in order: the first is the signer.
    pub bundle: Vec<CaView>,
    pub next: Option<CaView>,
    pub previous: Option<CaView>,
    /// Leaves that only the old CA signed (to be re-issued at switch; after it, they block finish).
    pub under_old_ca: Vec<String>,
    pub next_step: Option<String>,
    pub consumers: Vec<Consumer>,
}

/// The status of `dir`, for `status` and `check`.
pub fn status_of(dir: &Path) -> Result<Status> {
    let state = read_state(dir)?;
    // `check` reports unreadable files itself; the rotation looks at the readable ones
    let entries = pki::scan_all(dir)?.entries;
    let signer = &state.bundle[0];
    let (under_old_ca, next, previous) = match state.phase {
        Phase::None => (Vec::new(), None, None),
        Phase::Started => {
            let next = state.other.as_ref().context("ca-next.crt")?;
            (
                under_old(&entries, signer, next)?,
                Some(CaView::of(next)?),
                None,
            )
        }
        Phase::Switched => {
            let mut stuck = Vec::new();
            for old in state.other.iter().chain(state.bundle.iter().skip(1)) {
                for n in under_old(&entries, old, signer)? {
                    if !stuck.contains(&n) {
                        stuck.push(n);
                    }
                }
            }
            let prev = state
                .other
                .as_ref()
                .or(state.bundle.get(1))
                .map(CaView::of)
                .transpose()?;
            (stuck, None, prev)
        }
    };
    let cmd = |step: &str| report::command(dir, &["rotate-ca", step]);
    let (next_step, consumers) = match state.phase {
        Phase::None => (
            None,
            vec![Consumer {
                who: "everyone",
                action: format!(
                    "nothing: no rotation in progress (start one with {})",
                    cmd("start")
                ),
            }],
        ),
        Phase::Started => (
            Some(cmd("switch")),
            vec![
                Consumer {
                    who: "Collector (receiver)",
                    action: "nothing: it re-reads client_ca_file by itself (client_ca_file_reload: true)".into(),
                },
                Consumer {
                    who: "SDKs and agent Collectors' exporters",
                    action: "restart them now, so they load the new ca.crt (old + new); none re-reads its CA file".into(),
                },
                Consumer {
                    who: ".NET",
                    action: "nothing yet: it trusts the first certificate of ca.crt, the old CA, which still signs".into(),
                },
                Consumer {
                    who: "Kubernetes",
                    action: "re-render and apply `otelpki config k8s` (or your trust bundle) so every pod mounts the new ca.crt".into(),
                },
            ],
        ),
        Phase::Switched => (
            Some(cmd("finish")),
            vec![
                Consumer {
                    who: "Collector (receiver)",
                    action: "nothing: it loads its re-issued server pair within reload_interval and re-reads client_ca_file".into(),
                },
                Consumer {
                    who: "SDKs and agent Collectors' exporters",
                    action: "restart them (switch --exec does it) so they present their re-issued client certificates and load ca.crt (new + old)".into(),
                },
                Consumer {
                    who: ".NET",
                    action: "restart it: the first certificate of ca.crt is now the new CA, which signs every server certificate".into(),
                },
                Consumer {
                    who: "before finish",
                    action: "every application must run with its re-issued certificate: finish removes the old CA from ca.crt".into(),
                },
            ],
        ),
    };
    Ok(Status {
        dir: dir.display().to_string(),
        phase: state.phase,
        interrupted: state.interrupted,
        bundle: state.bundle.iter().map(CaView::of).collect::<Result<_>>()?,
        next,
        previous,
        under_old_ca,
        next_step,
        consumers,
    })
}

/// The status as text.
fn status_text(status: &Status) -> String {
    let mut out = String::new();
    let phase = match status.phase {
        Phase::None => "none",
        Phase::Started => "started (the old CA signs; ca.crt = old + new)",
        Phase::Switched => "switched (the new CA signs; ca.crt = new + old)",
    };
    out.push_str(&format!("Rotation of {}: {phase}\n", status.dir));
    if let Some(step) = status.interrupted {
        out.push_str(&format!(
            "  an interrupted `rotate-ca {step}` left files; the next writing command completes it\n"
        ));
    }
    for (i, ca) in status.bundle.iter().enumerate() {
        out.push_str(&format!(
            "  ca.crt [{}] \"{}\" ({}), until {}{}\n",
            i + 1,
            ca.common_name,
            ca.key_type.map_or("unknown".into(), |k| k.to_string()),
            issue::date(ca.not_after),
            if i == 0 { "  <- signer" } else { "" }
        ));
    }
    if !status.under_old_ca.is_empty() {
        out.push_str(&format!(
            "  under the old CA: {}\n",
            status.under_old_ca.join(", ")
        ));
    }
    for c in &status.consumers {
        out.push_str(&format!("  {}: {}\n", c.who, c.action));
    }
    if let Some(step) = &status.next_step {
        out.push_str(&format!("Next: {step}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_count_up() {
        assert_eq!(next_cn("OTel CA"), "OTel CA G2");
        assert_eq!(next_cn("OTel CA G2"), "OTel CA G3");
        assert_eq!(next_cn("OTel CA G"), "OTel CA G G2");
        assert!(next_cn(&"x".repeat(64)).chars().count() <= 64);
    }
}
