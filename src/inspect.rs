//! `inspect`: what certificate and key files contain, as text or JSON. It only describes; it
//! never judges a certificate against a CA (that is `verify`). Keys are described by type, size
//! and the SHA-256 of their public key, which equals the certificate's `public_key.sha256`
//! when the two belong together; key material is never printed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::PublicKeyData;
use rustls::pki_types::PrivateKeyDer;
use serde::Serialize;
use time::OffsetDateTime;
use time::macros::format_description;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::key::KeyType;
use crate::read::{self, Item};
use crate::report::{self, Render};
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

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            "dns" | "ip" => f.write_str(&self.value),
            kind => write!(f, "{kind}:{}", self.value),
        }
    }
}

/// A public key: its algorithm and size, and the SHA-256 of its SubjectPublicKeyInfo.
#[derive(Clone, Debug, Serialize)]
pub struct PublicKeyInfo {
    /// e.g. `ECDSA P-256`, `RSA`, `Ed25519`.
    pub algorithm: String,
    pub bits: Option<usize>,
    /// The otelpki key type (`ecdsa-p256`, ...), if it is one otelpki issues.
    pub key_type: Option<KeyType>,
    /// SHA-256 of the DER SubjectPublicKeyInfo (the same for a certificate and its key).
    pub sha256: String,
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

/// `AB:CD:...`: SHA-256 in the form openssl prints fingerprints.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    hex_colon(digest.as_ref())
}

fn hex_colon(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A time as people read it: 2027-11-25 10:00:00 UTC.
pub fn when(t: OffsetDateTime) -> String {
    t.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
    ))
    .unwrap_or_else(|_| t.to_string())
}

/// The time of an X.509 date.
pub fn time_of(t: x509_parser::time::ASN1Time) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(t.timestamp()).context("certificate date out of range")
}

/// A certificate's subjectAltNames.
pub fn names(x: &X509Certificate<'_>) -> Vec<Name> {
    let Ok(Some(san)) = x.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .map(|gn| match gn {
            GeneralName::DNSName(d) => Name {
                kind: "dns",
                value: printable(d).into_owned(),
            },
            GeneralName::IPAddress(b) => Name {
                kind: "ip",
                value: crate::pki::ip_from_bytes(b)
                    .map(|ip| ip.to_string())
                    .unwrap_or_else(|| hex_colon(b)),
            },
            GeneralName::URI(u) => Name {
                kind: "uri",
                value: printable(u).into_owned(),
            },
            GeneralName::RFC822Name(e) => Name {
                kind: "email",
                value: printable(e).into_owned(),
            },
            other => Name {
                kind: "other",
                value: printable(&other.to_string()).into_owned(),
            },
        })
        .collect()
}

impl PublicKeyInfo {
    pub fn of(spki: &SubjectPublicKeyInfo<'_>) -> PublicKeyInfo {
        let (algorithm, bits) = match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => ("RSA".to_string(), Some(rsa.key_size())),
            Ok(PublicKey::EC(point)) => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|oid| curve_name(&oid.to_id_string()));
                let name = match curve {
                    Some(c) => format!("ECDSA {c}"),
                    None => "ECDSA".to_string(),
                };
                (name, Some(point.key_size()))
            }
            Ok(PublicKey::Unknown(_))
                if spki.algorithm.algorithm == x509_parser::oid_registry::OID_SIG_ED25519 =>
            {
                ("Ed25519".to_string(), Some(256))
            }
            _ => (
                format!(
                    "unknown ({})",
                    read::extension_name(&spki.algorithm.algorithm)
                ),
                None,
            ),
        };
        PublicKeyInfo {
            algorithm,
            bits,
            key_type: KeyType::of_spki(spki),
            sha256: sha256_hex(spki.raw),
        }
    }
}

fn curve_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.3.1.7" => "P-256".into(),
        "1.3.132.0.34" => "P-384".into(),
        "1.3.132.0.35" => "P-521".into(),
        "1.3.132.0.10" => "secp256k1".into(),
        other => other.into(),
    }
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
    pub fn from_der(der: &[u8], now: OffsetDateTime) -> Result<CertInfo> {
        let x = read::parse_cert(der)?;
        CertInfo::of(&x, der, now)
    }

    pub fn of(x: &X509Certificate<'_>, der: &[u8], now: OffsetDateTime) -> Result<CertInfo> {
        let bc = x.basic_constraints().ok().flatten().map(|b| b.value);
        let key_usage = match x.key_usage() {
            Ok(Some(ku)) => {
                let ku = ku.value;
                [
                    (ku.digital_signature(), "digitalSignature"),
                    (ku.non_repudiation(), "nonRepudiation"),
                    (ku.key_encipherment(), "keyEncipherment"),
                    (ku.data_encipherment(), "dataEncipherment"),
                    (ku.key_agreement(), "keyAgreement"),
                    (ku.key_cert_sign(), "keyCertSign"),
                    (ku.crl_sign(), "cRLSign"),
                    (ku.encipher_only(), "encipherOnly"),
                    (ku.decipher_only(), "decipherOnly"),
                ]
                .into_iter()
                .filter_map(|(set, name)| set.then_some(name))
                .collect()
            }
            _ => Vec::new(),
        };
        let extended_key_usage = match x.extended_key_usage() {
            Ok(Some(eku)) => {
                let e = eku.value;
                let mut v: Vec<String> = [
                    (e.any, "anyExtendedKeyUsage"),
                    (e.server_auth, "serverAuth"),
                    (e.client_auth, "clientAuth"),
                    (e.code_signing, "codeSigning"),
                    (e.email_protection, "emailProtection"),
                    (e.time_stamping, "timeStamping"),
                    (e.ocsp_signing, "OCSPSigning"),
                ]
                .into_iter()
                .filter(|(set, _)| *set)
                .map(|(_, name)| name.to_string())
                .collect();
                v.extend(e.other.iter().map(|oid| oid.to_id_string()));
                v
            }
            _ => Vec::new(),
        };
        let unknown_critical_extensions = x
            .extensions()
            .iter()
            .filter(|e| {
                e.critical
                    && matches!(
                        e.parsed_extension(),
                        ParsedExtension::UnsupportedExtension { .. } | ParsedExtension::Unparsed
                    )
            })
            .map(|e| read::extension_name(&e.oid))
            .collect();
        let not_before = time_of(x.validity().not_before)?;
        let not_after = time_of(x.validity().not_after)?;
        let validity = if now > not_after {
            Validity::Expired
        } else if now < not_before {
            Validity::NotYetValid
        } else {
            Validity::Valid
        };
        let serial = x
            .tbs_certificate
            .raw_serial()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>();
        Ok(CertInfo {
            subject: printable(&x.subject().to_string()).into_owned(),
            issuer: printable(&x.issuer().to_string()).into_owned(),
            self_signed: x.subject().as_raw() == x.issuer().as_raw(),
            serial,
            sans: names(x),
            public_key: PublicKeyInfo::of(x.public_key()),
            is_ca: bc.is_some_and(|b| b.ca),
            path_len: bc.and_then(|b| b.path_len_constraint),
            key_usage,
            extended_key_usage,
            unknown_critical_extensions,
            not_before,
            not_after,
            days_left: (not_after - now).whole_days(),
            validity,
            sha256_fingerprint: sha256_hex(der),
            checked_at: now,
        })
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
