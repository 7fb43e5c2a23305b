//! `inspect`: what certificate and key files contain, as text or JSON. It only describes; it
//! never judges a certificate against a CA (that is `verify`). Keys are described by type, size
//! and the SHA-256 of their public key, which equals the certificate's `public_key.sha256`
//! when the two belong together; key material is never printed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::PublicKeyData;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;
use time::OffsetDateTime;
use time::macros::format_description;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

pub use crate::cert::PublicKeyInfo;
use crate::cert::{AltName, Cert};
use crate::read::{self, Item};
use crate::report::{self, Render};
use crate::san::San;
use crate::text::printable;

/// One entry of `inspect --json`: a certificate or key found in `file` at position `index`
/// (1-based, in file order).
#[derive(Debug, Serialize)]
pub struct Entry {
    pub file: String,
    pub index: usize,
    #[serde(flatten)]
    pub content: Content,
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Content {
    Certificate(Box<CertInfo>),
    PrivateKey(KeyInfo),
    /// Encrypted with a passphrase; otelpki does not decrypt keys.
    EncryptedPrivateKey,
    /// A PEM block that is neither a certificate nor a key (a CSR, ...), by its label.
    Other {
        label: String,
    },
}

/// What a certificate says about itself.
#[derive(Clone, Debug, Serialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// Subject and issuer are the same name (a root CA, or a self-signed leaf).
    pub self_signed: bool,
    /// Upper-case hex, as `openssl x509 -serial` prints it.
    pub serial: String,
    pub sans: Vec<Name>,
    pub public_key: PublicKeyInfo,
    pub is_ca: bool,
    pub path_len: Option<u32>,
    /// keyUsage bits by their RFC 5280 names, e.g. `digitalSignature`.
    pub key_usage: Vec<&'static str>,
    /// extKeyUsage purposes, e.g. `serverAuth`, `clientAuth`; other purposes by OID.
    pub extended_key_usage: Vec<String>,
    /// Critical extensions otelpki does not know; TLS stacks refuse such a certificate.
    pub unknown_critical_extensions: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// Whole days until notAfter; negative once expired.
    pub days_left: i64,
    /// `valid`, `expired` or `not-yet-valid`, now.
    pub validity: Validity,
    /// SHA-256 of the whole certificate, as `openssl x509 -fingerprint -sha256` prints it.
    pub sha256_fingerprint: String,
    /// The time `validity` and `days_left` refer to.
    #[serde(skip)]
    pub checked_at: OffsetDateTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Validity {
    Valid,
    Expired,
    NotYetValid,
}

/// A subjectAltName entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Name {
    /// `dns`, `ip`, `uri`, `email` or `other`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: String,
}

impl Name {
    fn of(name: &AltName) -> Name {
        let (kind, value) = match name {
            AltName::San(San::Dns(d)) => ("dns", printable(d).into_owned()),
            AltName::San(San::Ip(ip)) => ("ip", ip.to_string()),
            AltName::BadIp(hex) => ("ip", hex.clone()),
            AltName::San(San::Uri(u)) => ("uri", printable(u).into_owned()),
            AltName::San(San::Email(e)) => ("email", printable(e).into_owned()),
            AltName::Other(text) => ("other", text.clone()),
        };
        Name { kind, value }
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            "dns" | "ip" => f.write_str(&self.value),
            kind => write!(f, "{kind}:{}", self.value),
        }
    }
}

/// A private key, described without any of its secret.
#[derive(Clone, Debug, Serialize)]
pub struct KeyInfo {
    /// `pkcs8`, `pkcs1` or `sec1`.
    pub format: &'static str,
    pub public_key: PublicKeyInfo,
}

/// `inspect`.
#[derive(Clone, Debug)]
pub struct InspectOptions {
    /// Certificate, bundle or key files.
    pub files: Vec<PathBuf>,
}

/// What `inspect` found: every entry of every file, in order.
#[derive(Debug)]
pub struct Inspected {
    pub entries: Vec<Entry>,
}

impl Render for Inspected {
    fn text(&self) -> String {
        let mut out = String::new();
        for e in &self.entries {
            e.text(&mut out);
        }
        out
    }

    fn json(&self) -> Result<String> {
        report::json(&self.entries)
    }
}

pub fn run(args: &InspectOptions) -> Result<Inspected> {
    let now = OffsetDateTime::now_utc();
    let mut entries = Vec::new();
    for path in &args.files {
        entries.extend(file(path, now)?);
    }
    Ok(Inspected { entries })
}

/// Every certificate and key in the file at `path`.
pub fn file(path: &Path, now: OffsetDateTime) -> Result<Vec<Entry>> {
    let items = read::contents(path)?;
    items_of(path, &items, now)
}

/// Describes what `read::contents` found in `path`.
pub fn items_of(path: &Path, items: &[Item], now: OffsetDateTime) -> Result<Vec<Entry>> {
    let mut entries = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let content = match item {
            Item::Certificate(der) => Content::Certificate(Box::new(
                CertInfo::from_der(der, now)
                    .with_context(|| format!("`{}`: certificate #{}", path.display(), i + 1))?,
            )),
            Item::PrivateKey(der) => Content::PrivateKey(KeyInfo::of(path, der)?),
            Item::EncryptedPrivateKey => Content::EncryptedPrivateKey,
            Item::Other(label) => Content::Other {
                label: label.clone(),
            },
        };
        entries.push(Entry {
            file: path.display().to_string(),
            index: i + 1,
            content,
        });
    }
    Ok(entries)
}

/// A time as people read it: 2027-11-25 10:00:00 UTC.
pub fn when(t: OffsetDateTime) -> String {
    t.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
    ))
    .unwrap_or_else(|_| t.to_string())
}

impl KeyInfo {
    pub fn of(path: &Path, der: &PrivateKeyDer<'_>) -> Result<KeyInfo> {
        let format = match der {
            PrivateKeyDer::Pkcs1(_) => "pkcs1",
            PrivateKeyDer::Sec1(_) => "sec1",
            _ => "pkcs8",
        };
        let key = read::key_pair_from(path, der)?;
        let spki_der = key.subject_public_key_info();
        let (_, spki) = SubjectPublicKeyInfo::from_der(&spki_der).map_err(|e| {
            anyhow::anyhow!(
                "`{}`: cannot read the public half of the key ({e})",
                path.display()
            )
        })?;
        Ok(KeyInfo {
            format,
            public_key: PublicKeyInfo::of(&spki),
        })
    }
}

impl CertInfo {
    pub fn from_der(der: &CertificateDer<'_>, now: OffsetDateTime) -> Result<CertInfo> {
        Ok(CertInfo::of(&Cert::parse(der)?, now))
    }

    /// The certificate described at the time `now`.
    pub fn of(cert: &Cert, now: OffsetDateTime) -> CertInfo {
        let validity = if now > cert.not_after {
            Validity::Expired
        } else if now < cert.not_before {
            Validity::NotYetValid
        } else {
            Validity::Valid
        };
        CertInfo {
            subject: cert.subject.clone(),
            issuer: cert.issuer.clone(),
            self_signed: cert.self_signed,
            serial: cert.serial.clone(),
            sans: cert.alt_names.iter().map(Name::of).collect(),
            public_key: cert.public_key.clone(),
            is_ca: cert.is_ca,
            path_len: cert.path_len,
            key_usage: cert.key_usage.clone(),
            extended_key_usage: cert.extended_key_usage.clone(),
            unknown_critical_extensions: cert.unknown_critical_extensions.clone(),
            not_before: cert.not_before,
            not_after: cert.not_after,
            days_left: (cert.not_after - now).whole_days(),
            validity,
            sha256_fingerprint: cert.fingerprint.clone(),
            checked_at: now,
        }
    }

    /// "valid, 364 days left" / "expired 3 days ago" / "not valid for 2 more days".
    pub fn validity_text(&self) -> String {
        match self.validity {
            Validity::Valid => format!("valid, {} left", days(self.days_left)),
            Validity::Expired => format!("EXPIRED {} ago", days(-self.days_left)),
            Validity::NotYetValid => format!(
                "NOT YET VALID, starts in {}",
                days((self.not_before - self.checked_at).whole_days())
            ),
        }
    }

    /// The names, comma-separated, or `(none)`.
    pub fn names_text(&self) -> String {
        if self.sans.is_empty() {
            "(none)".into()
        } else {
            self.sans
                .iter()
                .map(Name::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        }
    }

    /// The certificate as indented `label: value` lines.
    pub fn text(&self, out: &mut String, indent: &str) {
        let mut line = |label: &str, value: &str| {
            out.push_str(&format!("{indent}{label:<15}{value}\n"));
        };
        line("subject:", &self.subject);
        line("issuer:", &self.issuer);
        line("serial:", &self.serial);
        line("names (SAN):", &self.names_text());
        line("public key:", &key_text(&self.public_key));
        line("key SHA-256:", &self.public_key.sha256);
        let ca = match (self.is_ca, self.path_len) {
            (true, Some(n)) => format!("yes, path length {n}"),
            (true, None) => "yes".into(),
            (false, _) => "no".into(),
        };
        line("CA:", &ca);
        line("key usage:", &list(&self.key_usage));
        line("ext key usage:", &list(&self.extended_key_usage));
        if !self.unknown_critical_extensions.is_empty() {
            line(
                "unknown ext.:",
                &format!(
                    "{} (critical: TLS stacks refuse this certificate)",
                    self.unknown_critical_extensions.join(", ")
                ),
            );
        }
        line("not before:", &when(self.not_before));
        line(
            "not after:",
            &format!("{} ({})", when(self.not_after), self.validity_text()),
        );
        line("SHA-256:", &self.sha256_fingerprint);
    }
}

fn days(n: i64) -> String {
    if n == 1 {
        "1 day".into()
    } else {
        format!("{n} days")
    }
}

fn list<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn key_text(k: &PublicKeyInfo) -> String {
    match k.bits {
        Some(bits) => format!("{} ({bits} bits)", k.algorithm),
        None => k.algorithm.clone(),
    }
}

impl Entry {
    fn text(&self, out: &mut String) {
        match &self.content {
            Content::Certificate(c) => {
                let what = if c.is_ca {
                    "CA certificate"
                } else {
                    "certificate"
                };
                out.push_str(&format!("{} #{}: {what}\n", self.file, self.index));
                c.text(out, "  ");
            }
            Content::PrivateKey(k) => {
                out.push_str(&format!(
                    "{} #{}: private key ({}; not shown)\n",
                    self.file,
                    self.index,
                    k.format.to_uppercase().replace("PKCS", "PKCS#")
                ));
                out.push_str(&format!(
                    "  {:<15}{}\n",
                    "public key:",
                    key_text(&k.public_key)
                ));
                out.push_str(&format!(
                    "  {:<15}{}\n",
                    "key SHA-256:", k.public_key.sha256
                ));
            }
            Content::EncryptedPrivateKey => out.push_str(&format!(
                "{} #{}: encrypted private key (not read; otelpki needs unencrypted PKCS#8)\n",
                self.file, self.index
            )),
            Content::Other { label } => out.push_str(&format!(
                "{} #{}: PEM block `{label}` (neither a certificate nor a key; skipped)\n",
                self.file, self.index
            )),
        }
    }
}
