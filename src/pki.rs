//! What a PKI directory holds: every `NAME.crt` with its role (CA, server, client, read from
//! basicConstraints and extKeyUsage), names, key type and validity, and whether `NAME.key`
//! is beside it. `check`, `config` and `apply` all start from `scan`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use time::OffsetDateTime;
use x509_parser::extensions::GeneralName;

use crate::key::KeyType;
use crate::profile::Role;
use crate::read;
use crate::san::San;
use crate::text::printable;

/// One certificate file of the directory, as read from the certificate itself.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Entry {
    /// File stem: `server` for server.crt.
    pub name: String,
    pub cert_path: PathBuf,
    /// `NAME.key`, whether or not it exists.
    pub key_path: PathBuf,
    pub key_exists: bool,
    /// None for a certificate that is neither a CA nor has exactly one of serverAuth/clientAuth.
    pub role: Option<Role>,
    pub common_name: Option<String>,
    pub organization: Option<String>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
    pub key_type: Option<KeyType>,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// The file's certificates as read (the first is this one): commands that judge the
    /// certificate take it from here rather than reading the file again.
    #[serde(skip)]
    pub chain: Vec<rustls::pki_types::CertificateDer<'static>>,
}

impl Entry {
    pub fn from_file(cert_path: &Path) -> Result<Entry> {
        let chain = read::certificates(cert_path)?;
        let der = &chain[0];
        let x = read::parse_cert(der)
            .with_context(|| format!("`{}` is not a usable certificate", cert_path.display()))?;
        let name = stem(cert_path);
        let key_path = cert_path.with_extension("key");
        let is_ca = x
            .basic_constraints()
            .ok()
            .flatten()
            .is_some_and(|bc| bc.value.ca);
        let eku = x.extended_key_usage().ok().flatten().map(|e| e.value);
        let role = match (is_ca, eku) {
            (true, _) => Some(Role::Ca),
            (false, Some(e)) if e.server_auth && !e.client_auth => Some(Role::Server),
            (false, Some(e)) if e.client_auth && !e.server_auth => Some(Role::Client),
            _ => None,
        };
        let mut dns_names = Vec::new();
        let mut ip_addresses = Vec::new();
        if let Ok(Some(san)) = x.subject_alternative_name() {
            for gn in &san.value.general_names {
                match gn {
                    GeneralName::DNSName(d) => dns_names.push(printable(d).into_owned()),
                    GeneralName::IPAddress(b) => {
                        if let Some(ip) = ip_from_bytes(b) {
                            ip_addresses.push(ip.to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
        let first =
            |it: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue<'_>>| {
                it.next()
                    .and_then(|a| a.as_str().ok())
                    .map(|s| printable(s).into_owned())
            };
        Ok(Entry {
            name,
            cert_path: cert_path.to_path_buf(),
            key_exists: key_path.exists(),
            key_path,
            role,
            common_name: first(&mut x.subject().iter_common_name()),
            organization: first(&mut x.subject().iter_organization()),
            dns_names,
            ip_addresses,
            key_type: KeyType::of_spki(x.public_key()),
            not_before: OffsetDateTime::from_unix_timestamp(x.validity().not_before.timestamp())?,
            not_after: OffsetDateTime::from_unix_timestamp(x.validity().not_after.timestamp())?,
            chain: chain.clone(),
        })
    }
}

pub fn ip_from_bytes(b: &[u8]) -> Option<std::net::IpAddr> {
    match b.len() {
        4 => <[u8; 4]>::try_from(b).ok().map(std::net::IpAddr::from),
        16 => <[u8; 16]>::try_from(b).ok().map(std::net::IpAddr::from),
        _ => None,
    }
}

/// Every `*.crt` in `dir`, sorted by name (ca first). A file that cannot be read as a
/// certificate is an error naming it.
pub fn scan(dir: &Path) -> Result<Vec<Entry>> {
    let found = scan_all(dir)?;
    match found.unreadable.into_iter().next() {
        Some(bad) => Err(bad.error.context(format!(
            "every *.crt in `{}` is read as a certificate, and `{}` cannot be; restore it, or \
             move it away if it is not one",
            dir.display(),
            bad.path.display()
        ))),
        None => Ok(found.entries),
    }
}

/// What `scan_all` found: the certificates, and the `*.crt` files that are not one.
pub struct Scan {
    pub entries: Vec<Entry>,
    pub unreadable: Vec<Unreadable>,
}

/// A `*.crt` in the directory that cannot be read as a certificate, and why.
pub struct Unreadable {
    pub path: PathBuf,
    pub error: anyhow::Error,
}

impl Unreadable {
    /// File stem: `server` for server.crt.
    pub fn name(&self) -> String {
        stem(&self.path)
    }
}

/// Every `*.crt` in `dir`; the ones that cannot be read are listed apart, for the commands
/// (`check`, `apply`) that can go on without them.
pub fn scan_all(dir: &Path) -> Result<Scan> {
    let listing = fs::read_dir(dir).with_context(|| {
        format!(
            "cannot read the PKI directory `{}`; create one with `otelpki --dir {} init`",
            dir.display(),
            dir.display()
        )
    })?;
    let mut paths: Vec<PathBuf> = listing
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "crt"))
        .collect();
    paths.sort();
    // A `*.crt` that is not a regular file (a FIFO, a device, a directory) is not a stray
    // certificate to report and skip: reading it could hang, so it is an input error at once.
    for path in &paths {
        if !path.is_file() {
            read::read_small(path)?;
        }
    }
    let mut found = Scan {
        entries: Vec::new(),
        unreadable: Vec::new(),
    };
    for path in paths {
        match Entry::from_file(&path) {
            Ok(entry) => found.entries.push(entry),
            Err(error) => found.unreadable.push(Unreadable { path, error }),
        }
    }
    found
        .entries
        .sort_by_key(|e| (e.name != "ca", e.name.clone()));
    Ok(found)
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The entries of one role.
pub fn of_role(entries: &[Entry], role: Role) -> impl Iterator<Item = &Entry> {
    entries.iter().filter(move |e| e.role == Some(role))
}

/// Every SAN of a certificate, as `San` values.
pub fn sans_of(x: &x509_parser::certificate::X509Certificate<'_>) -> Vec<San> {
    let Ok(Some(ext)) = x.subject_alternative_name() else {
        return Vec::new();
    };
    ext.value
        .general_names
        .iter()
        .filter_map(|gn| match gn {
            GeneralName::DNSName(d) => Some(San::Dns(d.to_string())),
            GeneralName::IPAddress(b) => ip_from_bytes(b).map(San::Ip),
            GeneralName::URI(u) => Some(San::Uri(u.to_string())),
            GeneralName::RFC822Name(m) => Some(San::Email(m.to_string())),
            _ => None,
        })
        .collect()
}
