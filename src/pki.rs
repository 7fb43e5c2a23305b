//! What a PKI directory holds: every `NAME.crt` with its role (CA, server, client, read from
//! basicConstraints and extKeyUsage), names, key type and validity, and whether `NAME.key`
//! is beside it. `check`, `config` and `apply` all start from `scan`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use time::OffsetDateTime;

use crate::cert::Cert;
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
    /// The certificate, parsed once: commands that judge it take it from here.
    #[serde(skip)]
    pub cert: Cert,
    /// The file's certificates as read (the first is `cert`; any others are intermediates).
    #[serde(skip)]
    pub chain: Vec<rustls::pki_types::CertificateDer<'static>>,
}

impl Entry {
    pub fn from_file(cert_path: &Path) -> Result<Entry> {
        let chain = read::certificates(cert_path)?;
        let cert = Cert::parse(&chain[0])
            .with_context(|| format!("`{}` is not a usable certificate", cert_path.display()))?;
        let key_path = cert_path.with_extension("key");
        let (mut dns_names, mut ip_addresses) = (Vec::new(), Vec::new());
        for san in cert.sans() {
            match san {
                San::Dns(d) => dns_names.push(printable(d).into_owned()),
                San::Ip(ip) => ip_addresses.push(ip.to_string()),
                _ => {}
            }
        }
        Ok(Entry {
            name: stem(cert_path),
            cert_path: cert_path.to_path_buf(),
            key_exists: key_path.exists(),
            key_path,
            role: cert.role(),
            common_name: cert.common_name.clone(),
            organization: cert.organization.clone(),
            dns_names,
            ip_addresses,
            key_type: cert.key_type(),
            not_before: cert.not_before,
            not_after: cert.not_after,
            cert,
            chain,
        })
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
