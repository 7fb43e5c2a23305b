//! `otelpki apply [SPEC]` (docs/apply.md): the whole PKI declared in a TOML file. Creates what is
//! missing, re-issues what expires within `renew_before_days` or no longer matches the spec,
//! leaves the rest alone, and says per file what it did. Everything is signed in one process
//! and published in one batch per kind of write, so a thousand clients cost milliseconds each.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rcgen::{Issuer, PublicKeyData};
use rustls::pki_types::CertificateDer;
use serde::{Deserialize, Deserializer, Serialize, de::Error as _};
use time::{Duration, OffsetDateTime};
use toml::Spanned;

use crate::encrypt::{self, PassphraseOptions, PassphraseSource};
use crate::engine::{self, Ca};
use crate::issue;
use crate::judge;
use crate::key::{ED25519_WARNING, KeyType};
use crate::model::Purpose;
use crate::pki::{self, Entry};
use crate::profile::{self, Role, Spec};
use crate::read;
use crate::report::{self, Render};
use crate::san::{self, San};
use crate::seed::{self, Key, Source};
use crate::store;
use crate::text;

// ---------------------------------------------------------------------------------------------
// The spec file

/// `otelpki.toml`. Unknown keys are errors, so a typo is reported, not ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    /// Key type of the CA and every certificate.
    key_type: Option<KeyTypeValue>,
    /// Organisation (O) of every certificate unless one says otherwise.
    org: Option<String>,
    /// Validity of servers and clients, in days.
    days: Option<Days>,
    /// Re-issue a certificate that expires within this many days.
    renew_before_days: Option<Spanned<u32>>,
    #[serde(default)]
    ca: CaTable,
    #[serde(default)]
    server: Vec<Spanned<ServerTable>>,
    #[serde(default)]
    client: Vec<Spanned<ClientTable>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaTable {
    cn: Option<String>,
    org: Option<String>,
    days: Option<Days>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerTable {
    /// File stem (default `server`).
    name: Option<Stem>,
    sans: Vec<SanValue>,
    cn: Option<String>,
    org: Option<String>,
    days: Option<Days>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientTable {
    cn: String,
    /// File stem (default: the CN).
    name: Option<Stem>,
    #[serde(default)]
    sans: Vec<SanValue>,
    org: Option<String>,
    days: Option<Days>,
}

/// A value checked while parsing, so that toml reports a bad one with its line and key.
#[derive(Debug)]
struct SanValue(San);
#[derive(Debug)]
struct Stem(String);
#[derive(Debug, Clone, Copy)]
struct Days(u32);
#[derive(Debug, Clone, Copy)]
struct KeyTypeValue(KeyType);

impl<'de> Deserialize<'de> for SanValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        san::parse(&s).map(SanValue).map_err(D::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Stem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        issue::file_stem(&s)
            .map(|s| Stem(s.to_string()))
            .map_err(|e| D::Error::custom(format!("{e:#}")))
    }
}

impl<'de> Deserialize<'de> for Days {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        match u32::try_from(n) {
            Ok(n) if (1..=36500).contains(&n) => Ok(Days(n)),
            _ => Err(D::Error::custom(format!(
                "{n} days is not a validity; give 1 to 36500 days"
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for KeyTypeValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse::<KeyType>().map(KeyTypeValue).map_err(|_| {
            let names: Vec<&str> = KeyType::ALL.iter().map(|k| k.name()).collect();
            D::Error::custom(format!(
                "`{s}` is not a key type; use one of {}",
                names.join(", ")
            ))
        })
    }
}

/// The spec with defaults filled in and every cross-entry rule checked.
#[derive(Debug)]
pub struct Plan {
    pub key_type: KeyType,
    pub renew_before: Duration,
    pub ca_cn: String,
    pub ca_org: Option<String>,
    pub ca_days: u32,
    pub leaves: Vec<Want>,
    /// `--replace-ca`: a new CA key type replaces the CA at once (every consumer must take
    /// the new ca.crt at the same moment). Without it, a CA key change is refused: it goes
    /// through `rotate-ca` (docs/rotation.md).
    pub replace_ca: bool,
}

/// One server or client the spec asks for.
#[derive(Debug)]
pub struct Want {
    pub stem: String,
    pub role: Role,
    pub cn: String,
    pub org: Option<String>,
    pub sans: Vec<San>,
    pub days: u32,
}

pub const DEFAULT_LEAF_DAYS: u32 = 365;
pub const DEFAULT_CA_DAYS: u32 = 3650;
pub const DEFAULT_RENEW_BEFORE_DAYS: u32 = 30;
pub const DEFAULT_CA_CN: &str = "OTel CA";

/// Parses `text`, the contents of `path`. Every error names the file and the line.
pub fn parse(path: &Path, text: &str) -> Result<Plan> {
    let file: SpecFile = toml::from_str(text).with_context(|| format!("`{}`", path.display()))?;
    let at = |offset: usize| {
        format!(
            "`{}` line {}",
            path.display(),
            text[..offset.min(text.len())].matches('\n').count() + 1
        )
    };
    let days = file.days.map_or(DEFAULT_LEAF_DAYS, |d| d.0);
    let renew_before_days = file
        .renew_before_days
        .as_ref()
        .map_or(DEFAULT_RENEW_BEFORE_DAYS, |r| *r.get_ref());
    let mut leaves: Vec<(Want, usize)> = Vec::new();
    for table in &file.server {
        let line = table.span().start;
        let t = table.get_ref();
        if t.sans.is_empty() {
            bail!(
                "{}: a [[server]] needs at least one name in `sans`, e.g. sans = [\"localhost\"]",
                at(line)
            );
        }
        let sans: Vec<San> = t.sans.iter().map(|s| s.0.clone()).collect();
        leaves.push((
            Want {
                stem: t.name.as_ref().map_or("server", |s| &s.0).to_string(),
                role: Role::Server,
                cn: issue::server_cn(t.cn.as_deref(), &sans),
                org: t.org.clone().or_else(|| file.org.clone()),
                sans,
                days: t.days.map_or(days, |d| d.0),
            },
            line,
        ));
    }
    for table in &file.client {
        let line = table.span().start;
        let t = table.get_ref();
        if t.cn.trim().is_empty() {
            bail!(
                "{}: `cn` of a [[client]] cannot be empty; give the application's name",
                at(line)
            );
        }
        let stem = match &t.name {
            Some(stem) => stem.0.clone(),
            None => issue::file_stem(&t.cn)
                .map(str::to_string)
                .with_context(|| {
                    format!(
                        "{}: the client cn `{}` is also its file name unless `name` is given",
                        at(line),
                        text::printable(&t.cn)
                    )
                })?,
        };
        leaves.push((
            Want {
                stem,
                role: Role::Client,
                cn: t.cn.clone(),
                org: t.org.clone().or_else(|| file.org.clone()),
                sans: t.sans.iter().map(|s| s.0.clone()).collect(),
                days: t.days.map_or(days, |d| d.0),
            },
            line,
        ));
    }
    for (i, (want, line)) in leaves.iter().enumerate() {
        if let Some((_, first)) = leaves[..i].iter().find(|(w, _)| w.stem == want.stem) {
            bail!(
                "{}: the name `{}` is already used on line {}; give this entry another `name`",
                at(*line),
                want.stem,
                text[..*first].matches('\n').count() + 1
            );
        }
        let field = |key: &str| format!("{}: `{key}` of `{}`", at(*line), want.stem);
        text::check_name(&want.cn, &field("cn"))?;
        if let Some(org) = &want.org {
            text::check_name(org, &field("org"))?;
        }
        if want.days <= renew_before_days {
            bail!(
                "{}: `{}` would be valid for {} days but renewed {} days before it expires, so \
                 every run would renew it; make `days` longer than `renew_before_days`",
                at(*line),
                want.stem,
                want.days,
                renew_before_days
            );
        }
    }
    let ca_cn = file.ca.cn.clone().unwrap_or_else(|| DEFAULT_CA_CN.into());
    let ca_org = file.ca.org.clone().or_else(|| file.org.clone());
    let ca_days = file.ca.days.map_or(DEFAULT_CA_DAYS, |d| d.0);
    let ca_field = |key: &str| format!("`{}`: `{key}` of [ca]", path.display());
    text::check_name(&ca_cn, &ca_field("cn"))?;
    if let Some(org) = &ca_org {
        text::check_name(org, &ca_field("org"))?;
    }
    if ca_days <= renew_before_days {
        bail!(
            "{}: the CA would be valid for {ca_days} days but renewed {renew_before_days} days \
             before it expires, so every run would renew it and every certificate it signed; \
             make `days` of [ca] longer than `renew_before_days`",
            ca_field("days")
        );
    }
    Ok(Plan {
        key_type: file.key_type.map_or(KeyType::EcdsaP256, |k| k.0),
        renew_before: Duration::days(i64::from(renew_before_days)),
        ca_cn,
        ca_org,
        ca_days,
        leaves: leaves.into_iter().map(|(w, _)| w).collect(),
        replace_ca: false,
    })
}

// ---------------------------------------------------------------------------------------------
// Deciding and doing

/// What was done to a pair, as the report and its JSON (`action`) name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Done {
    Created,
    Renewed,
    Unchanged,
}

impl Done {
    fn as_str(self) -> &'static str {
        match self {
            Done::Created => "created",
            Done::Renewed => "renewed",
            Done::Unchanged => "unchanged",
        }
    }
}

/// What `apply` does with one pair of files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Created,
    /// Re-issued, and why.
    Renewed(String),
    Unchanged,
}

/// One line of the report.
#[derive(Debug)]
pub struct Step {
    pub stem: String,
    pub role: Role,
    pub what: String,
    pub action: Action,
    pub not_after: OffsetDateTime,
}

/// What `apply` would write, and the report.
pub struct Outcome {
    pub steps: Vec<Step>,
    /// The files to write: new pairs created, re-issued pairs replacing the old ones.
    pub files: engine::Plan,
}

/// Decides every step against what is in `dir` at `now` and signs what must be (in memory).
/// An encrypted `ca.key` is decrypted with the passphrase from `pass`, and stays encrypted
/// (with the same passphrase) when the CA is re-issued.
pub fn decide(
    dir: &Path,
    plan: &Plan,
    src: &Source,
    now: OffsetDateTime,
    pass: &PassphraseSource,
) -> Result<Outcome> {
    src.check_key_type(plan.key_type)?;
    let existing = if dir.is_dir() {
        let found = pki::scan_all(dir)?;
        for bad in found.unreadable {
            // A file apply would write must not be replaced unseen; any other is not apply's.
            let name = bad.name();
            if name == "ca" || plan.leaves.iter().any(|w| w.stem == name) {
                return Err(bad.error.context(format!(
                    "the spec manages `{}`, which cannot be read; restore it, or move it away \
                     (and its key) to let apply issue it again",
                    bad.path.display()
                )));
            }
            eprintln!(
                "warning: skipping `{}`, which the spec does not mention and which is not a \
                 certificate: {:#}",
                bad.path.display(),
                bad.error
            );
        }
        found.entries
    } else {
        Vec::new()
    };
    let mut out = Outcome {
        steps: Vec::new(),
        files: engine::Plan::new(),
    };
    let ca = decide_ca(dir, plan, src, now, &existing, pass, &mut out)?;
    let anchor_der = ca.cert_der.clone();
    let anchor = webpki::anchor_from_trusted_cert(&anchor_der)
        .map_err(|e| anyhow::anyhow!("cannot use the CA as a trust anchor: {e:?}"))?;
    for want in &plan.leaves {
        let entry = existing.iter().find(|e| e.name == want.stem);
        let (crt, key_file) = pair_paths(dir, &want.stem);
        let action = match entry {
            None if !key_file.exists() => Action::Created,
            None => Action::Renewed(format!("{} has no certificate", key_file.display())),
            Some(e) => match leaf_mismatch(e, want, plan, &anchor, now)? {
                Some(reason) => Action::Renewed(reason),
                None => Action::Unchanged,
            },
        };
        let what = match want.role {
            Role::Server => format!(
                "server for {}",
                want.sans
                    .iter()
                    .map(San::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => format!("client \"{}\"", want.cn),
        };
        let not_after = if action == Action::Unchanged {
            entry.map_or(now, |e| e.not_after)
        } else {
            let (not_before, not_after) = profile::validity(now, want.days);
            let spec = Spec {
                cn: want.cn.clone(),
                org: want.org.clone(),
                sans: want.sans.iter().map(San::to_rcgen).collect::<Result<_>>()?,
                not_before,
                not_after: engine::clamp_to_ca(not_after, &ca.ca),
                serial: src.serial(&serial_label(&want.stem, now))?,
                key_type: plan.key_type,
            };
            let key = src.key(plan.key_type, &format!("apply/{}", want.stem))?;
            let signed = engine::make_leaf(want.role, &spec, &key, &ca.ca.issuer)?;
            out.files
                .pair(&crt, &key_file, &signed, action != Action::Created);
            spec.not_after
        };
        out.steps.push(Step {
            stem: want.stem.clone(),
            role: want.role,
            what,
            action,
            not_after,
        });
    }
    Ok(out)
}

/// The CA to sign with, its certificate, and how it was decided.
struct CaState {
    ca: Ca<Key>,
    cert_der: CertificateDer<'static>,
}

fn serial_label(stem: &str, now: OffsetDateTime) -> String {
    format!("apply/{stem}/{}", now.unix_timestamp())
}

fn decide_ca(
    dir: &Path,
    plan: &Plan,
    src: &Source,
    now: OffsetDateTime,
    existing: &[Entry],
    pass: &PassphraseSource,
    out: &mut Outcome,
) -> Result<CaState> {
    // Whether the CA key on disk is encrypted: a re-issued CA key is written the same way.
    let mut encrypted = false;
    let (crt, key_file) = pair_paths(dir, "ca");
    let what = format!("CA \"{}\"", plan.ca_cn);
    let entry = existing.iter().find(|e| e.name == "ca");
    // The key to sign the CA certificate with, and why it is (re)issued; None: keep it.
    let (key, action) = match entry {
        None if key_file.exists() => bail!(
            "`{}` exists without `{}`; restore the certificate, or remove the key to let apply \
             create a new CA",
            key_file.display(),
            crt.display()
        ),
        None => (
            src.key(plan.key_type, &ca_label(plan.key_type))?,
            Action::Created,
        ),
        Some(e) => {
            if !e.key_exists {
                bail!(
                    "`{}` exists without `{}`; restore the key (every certificate depends on it), \
                     or remove ca.crt to let apply create a new CA",
                    crt.display(),
                    key_file.display()
                );
            }
            if e.role != Some(Role::Ca) {
                bail!(
                    "`{}` is not a CA certificate; move it away and run apply again",
                    crt.display()
                );
            }
            let der = e.cert.der.clone();
            let ca_key = encrypt::read_ca_key(&key_file, pass)?;
            encrypted = ca_key.encrypted;
            // RustCrypto's deterministic signing only where determinism is asked for (--seed)
            let key = Key::from_der(&key_file, &ca_key.der, src.is_seeded())?;
            if !e.cert.matches_key(key.der_bytes()) {
                bail!(
                    "the key `{}` does not belong to `{}`; restore the matching pair",
                    key_file.display(),
                    crt.display()
                );
            }
            let mut reasons = Vec::new();
            let rotating = crate::rotate::read_state(dir)?.phase != crate::rotate::Phase::None;
            if e.key_type != Some(plan.key_type) && !plan.replace_ca {
                bail!(
                    "the spec asks for a CA key of type {}, and the CA in `{}` has {}: a new CA \
                     key would break every consumer at once. Rotate it in stages (restart the \
                     applications between the steps), then apply again:\n{}\n{}\n{}\n(or pass \
                     --replace-ca to replace the CA at once)",
                    plan.key_type,
                    dir.display(),
                    e.key_type
                        .map_or("an unknown key type".into(), |k| k.to_string()),
                    report::command(
                        dir,
                        &["rotate-ca", "start", "--key-type", plan.key_type.name()]
                    ),
                    report::command(dir, &["rotate-ca", "switch"]),
                    report::command(dir, &["rotate-ca", "finish"]),
                );
            }
            if rotating {
                // A rotation owns ca.crt (the bundle) and the CA files: apply signs leaves
                // with the current signer and leaves the CA alone.
                let issuer = Issuer::from_ca_cert_der(&der, key)
                    .with_context(|| format!("cannot use `{}` as an issuer", crt.display()))?;
                out.steps.push(Step {
                    stem: "ca".into(),
                    role: Role::Ca,
                    what: format!("{what} (a rotation is in progress: `otelpki rotate-ca status`)"),
                    action: Action::Unchanged,
                    not_after: e.not_after,
                });
                let ca = Ca {
                    issuer,
                    cn: e.common_name.clone().unwrap_or_default(),
                    not_after: e.not_after,
                    key_type: e.key_type,
                };
                return Ok(CaState { ca, cert_der: der });
            }
            if e.key_type != Some(plan.key_type) {
                // A new key type needs a new key: every certificate is re-issued below.
                let reason = format!(
                    "key type {} in place of {}",
                    plan.key_type,
                    e.key_type.map_or("unknown".into(), |k| k.to_string())
                );
                let key = src.key(plan.key_type, &ca_label(plan.key_type))?;
                (key, Action::Renewed(reason))
            } else {
                if e.common_name.as_deref() != Some(plan.ca_cn.as_str()) {
                    reasons.push(format!("CN changed to \"{}\"", plan.ca_cn));
                }
                if e.organization != plan.ca_org {
                    reasons.push("organisation changed".to_string());
                }
                if let Some(why) = expiring(e, plan.renew_before, now) {
                    reasons.push(why);
                }
                if e.not_before > now {
                    reasons.push(format!("not valid until {}", issue::date(e.not_before)));
                }
                if reasons.is_empty() {
                    let issuer = Issuer::from_ca_cert_der(&der, key)
                        .with_context(|| format!("cannot use `{}` as an issuer", crt.display()))?;
                    out.steps.push(Step {
                        stem: "ca".into(),
                        role: Role::Ca,
                        what,
                        action: Action::Unchanged,
                        not_after: e.not_after,
                    });
                    let ca = Ca {
                        issuer,
                        cn: plan.ca_cn.clone(),
                        not_after: e.not_after,
                        key_type: Some(plan.key_type),
                    };
                    return Ok(CaState { ca, cert_der: der });
                }
                // Same key: certificates it signed keep verifying unless the name changed.
                (key, Action::Renewed(reasons.join(", ")))
            }
        }
    };
    let (not_before, not_after) = profile::validity(now, plan.ca_days);
    let spec = Spec {
        cn: plan.ca_cn.clone(),
        org: plan.ca_org.clone(),
        sans: Vec::new(),
        not_before,
        not_after,
        serial: src.serial(&serial_label("ca", now))?,
        key_type: plan.key_type,
    };
    let (mut signed, issuer) = engine::make_ca(&spec, key)?;
    if encrypted {
        let what = format!("re-encrypting `{}`", key_file.display());
        signed.key_pem = encrypt::encrypt_pem(&signed.key_pem, &pass.get(&what)?)?;
    }
    let cert_der = CertificateDer::from(
        pem::parse(&signed.cert_pem)
            .context("cannot read back the CA certificate")?
            .into_contents(),
    );
    out.files
        .pair(&crt, &key_file, &signed, action != Action::Created);
    out.steps.push(Step {
        stem: "ca".into(),
        role: Role::Ca,
        what,
        action,
        not_after,
    });
    let ca = Ca {
        issuer,
        cn: plan.ca_cn.clone(),
        not_after,
        key_type: Some(plan.key_type),
    };
    Ok(CaState { ca, cert_der })
}

fn ca_label(key_type: KeyType) -> String {
    format!("apply/ca/{key_type}")
}

/// Why `e` must be renewed because of its expiry, if it must.
fn expiring(e: &Entry, renew_before: Duration, now: OffsetDateTime) -> Option<String> {
    if e.not_after <= now {
        Some(format!("expired on {}", issue::date(e.not_after)))
    } else if e.not_after - now <= renew_before {
        Some(format!(
            "expires on {}, within renew_before_days = {}",
            issue::date(e.not_after),
            renew_before.whole_days()
        ))
    } else {
        None
    }
}

/// Why the existing leaf `e` does not satisfy `want`, if it does not.
fn leaf_mismatch(
    e: &Entry,
    want: &Want,
    plan: &Plan,
    anchor: &rustls::pki_types::TrustAnchor<'_>,
    now: OffsetDateTime,
) -> Result<Option<String>> {
    if !e.key_exists {
        return Ok(Some(format!("{} is missing", e.key_path.display())));
    }
    if e.role != Some(want.role) {
        return Ok(Some(format!(
            "it is not a {} certificate",
            match want.role {
                Role::Server => "server",
                _ => "client",
            }
        )));
    }
    let purpose = match want.role {
        Role::Server => Purpose::Server,
        _ => Purpose::Client,
    };
    let chain = judge::chain(&e.cert, std::slice::from_ref(anchor), purpose, now);
    match chain {
        Ok(()) => {}
        Err(webpki::Error::CertExpired { .. }) => {
            return Ok(Some(format!("expired on {}", issue::date(e.not_after))));
        }
        Err(webpki::Error::CertNotValidYet { .. }) => {
            return Ok(Some(format!(
                "not valid until {}",
                issue::date(e.not_before)
            )));
        }
        Err(webpki::Error::UnknownIssuer) | Err(webpki::Error::InvalidSignatureForPublicKey) => {
            return Ok(Some("not signed by the current ca.crt".into()));
        }
        Err(other) => return Ok(Some(format!("does not verify against ca.crt ({other})"))),
    }
    let have: Vec<String> = e.cert.sans().map(San::to_string).collect();
    let wanted: Vec<String> = want.sans.iter().map(San::to_string).collect();
    let added: Vec<&str> = wanted
        .iter()
        .filter(|s| !have.contains(s))
        .map(String::as_str)
        .collect();
    let removed: Vec<&str> = have
        .iter()
        .filter(|s| !wanted.contains(s))
        .map(String::as_str)
        .collect();
    let mut reasons = Vec::new();
    if !added.is_empty() || !removed.is_empty() {
        let mut change = Vec::new();
        if !added.is_empty() {
            change.push(format!("added {}", added.join(", ")));
        }
        if !removed.is_empty() {
            change.push(format!("removed {}", removed.join(", ")));
        }
        reasons.push(format!("SANs changed: {}", change.join("; ")));
    }
    if e.common_name.as_deref() != Some(want.cn.as_str()) {
        reasons.push(format!(
            "CN changed from \"{}\" to \"{}\"",
            e.common_name.as_deref().unwrap_or(""),
            want.cn
        ));
    }
    if e.organization != want.org {
        reasons.push("organisation changed".into());
    }
    if e.key_type != Some(plan.key_type) {
        reasons.push(format!(
            "key type {} in place of the old one",
            plan.key_type
        ));
    }
    if let Some(why) = expiring(e, plan.renew_before, now) {
        reasons.push(why);
    }
    if reasons.is_empty() {
        let key = read::key_pair(&e.key_path)?;
        if !e.cert.matches_key(key.public_key_raw()) {
            reasons.push(format!(
                "{} does not belong to the certificate",
                e.key_path.display()
            ));
        }
    }
    Ok((!reasons.is_empty()).then(|| reasons.join(", ")))
}

fn pair_paths(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{stem}.crt")),
        dir.join(format!("{stem}.key")),
    )
}

/// `otelpki apply`.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// The TOML spec.
    pub spec: PathBuf,
    /// Derive new keys and serial numbers from this text.
    pub seed: Option<String>,
    /// None: SOURCE_DATE_EPOCH, else the clock.
    pub now: Option<OffsetDateTime>,
    pub dry_run: bool,
    /// Let a new CA key type replace the CA at once.
    pub replace_ca: bool,
    pub passphrase: PassphraseOptions,
}

/// `otelpki apply`.
pub fn run(dir: &Path, args: &ApplyOptions) -> Result<Report> {
    let text = read_spec(&args.spec)?;
    let mut plan = parse(&args.spec, &text)?;
    plan.replace_ca = args.replace_ca;
    let src = Source::new(args.seed.as_deref());
    let now = seed::clock(args.now)?;
    if plan.key_type == KeyType::Ed25519 {
        eprintln!("{ED25519_WARNING}");
    }
    // The writer's lock is taken before the directory is read: what apply decides from is
    // what it replaces. A dry run writes nothing and reads like `check`, without it.
    let lock = if args.dry_run {
        None
    } else {
        Some(store::lock(dir)?)
    };
    let pass = PassphraseSource::new(args.passphrase.passphrase_file.as_deref());
    let outcome = decide(dir, &plan, &src, now, &pass)?;
    if let Some(lock) = &lock {
        outcome.files.execute(lock).map_err(|e| {
            match e.downcast_ref::<store::AlreadyExists>() {
                Some(exists) => anyhow::anyhow!(
                    "{exists}: another program wrote it while apply ran; run apply again"
                ),
                None => e,
            }
        })?;
    }
    let pairs: Vec<Pair> = outcome
        .steps
        .iter()
        .map(|step| {
            let (cert, key) = pair_paths(dir, &step.stem);
            let (action, reason) = match &step.action {
                Action::Created => (Done::Created, None),
                Action::Renewed(why) => (Done::Renewed, Some(why.clone())),
                Action::Unchanged => (Done::Unchanged, None),
            };
            Pair {
                name: step.stem.clone(),
                role: step.role,
                cert: cert.display().to_string(),
                key: key.display().to_string(),
                action,
                reason,
                what: step.what.clone(),
                not_after: step.not_after,
            }
        })
        .collect();
    let count = |action: Done| pairs.iter().filter(|p| p.action == action).count();
    let report = Report {
        dir: dir.display().to_string(),
        spec: args.spec.display().to_string(),
        dry_run: args.dry_run,
        created: count(Done::Created),
        renewed: count(Done::Renewed),
        unchanged: count(Done::Unchanged),
        pairs,
    };
    Ok(report)
}

impl Render for Report {
    fn text(&self) -> String {
        let mut out = String::new();
        if self.dry_run {
            out.push_str(&format!(
                "Dry run: nothing written. `otelpki --dir {} apply {}` would do this:\n",
                self.dir, self.spec
            ));
        }
        let width = self
            .pairs
            .iter()
            .map(|p| 2 * p.name.len() + 9)
            .max()
            .unwrap_or(0);
        for pair in &self.pairs {
            let files = format!("{0}.crt {0}.key", pair.name);
            let why = pair
                .reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            out.push_str(&format!(
                "{:<9}  {files:<width$}  {}, until {}{why}\n",
                pair.action.as_str(),
                pair.what,
                issue::date(pair.not_after)
            ));
        }
        out.push_str(&format!(
            "{} created, {} renewed, {} unchanged in {}\n",
            self.created, self.renewed, self.unchanged, self.dir
        ));
        out
    }

    fn json(&self) -> Result<String> {
        report::json(self)
    }
}

/// `apply --json` (docs/apply.md): what was done to each pair, in spec order
/// (the CA first), and the totals.
#[derive(Serialize)]
pub struct Report {
    dir: String,
    spec: String,
    /// True when nothing was written (`--dry-run`): the pairs say what would be done.
    dry_run: bool,
    created: usize,
    renewed: usize,
    unchanged: usize,
    pairs: Vec<Pair>,
}

#[derive(Serialize)]
pub struct Pair {
    /// File stem: `gateway` for gateway.crt and gateway.key.
    name: String,
    role: Role,
    cert: String,
    key: String,
    /// `created`, `renewed` or `unchanged`.
    action: Done,
    /// Why a pair was renewed; null otherwise.
    reason: Option<String>,
    /// The same words as the text report: `server for localhost, 127.0.0.1`.
    what: String,
    #[serde(with = "time::serde::rfc3339")]
    not_after: OffsetDateTime,
}

fn read_spec(path: &Path) -> Result<String> {
    let bytes = read::read_regular(path, 16 * read::MAX_FILE_SIZE, "specs").with_context(|| {
        format!(
            "cannot read the spec `{}`; write one (see examples/otelpki.toml) or pass its path",
            path.display()
        )
    })?;
    String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("the spec `{}` is not UTF-8 text", path.display()))
}
