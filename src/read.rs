//! The only code that reads certificates and keys from files: PEM (or DER) certificates and
//! bundles, and private keys in PKCS#8, PKCS#1 or SEC1 form. Errors name the file and say
//! what was expected.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use rcgen::KeyPair;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Certificates and keys are small; anything bigger is not one of them.
pub const MAX_FILE_SIZE: u64 = 1024 * 1024;

/// Reads a file of at most `MAX_FILE_SIZE` bytes.
pub fn read_small(path: &Path) -> Result<Vec<u8>> {
    read_regular(path, MAX_FILE_SIZE, "certificates and keys")
}

/// The text of a small file holding a secret (a passphrase, a password): UTF-8, without one
/// trailing newline (LF or CRLF); kept in memory that is zeroed when dropped. `what` names the
/// secret in errors. An empty text is the caller's to judge.
pub fn secret_text(path: &Path, what: &str) -> Result<zeroize::Zeroizing<String>> {
    let bytes = zeroize::Zeroizing::new(read_small(path)?);
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| anyhow::anyhow!("the {what} file `{}` is not UTF-8 text", path.display()))?;
    let text = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text);
    Ok(zeroize::Zeroizing::new(text.to_string()))
}

/// Reads `path` only if it is a regular file of at most `limit` bytes (docs/guarantees.md, bounded
/// input). A FIFO, a socket or a device is refused at once, before a byte is read (it is
/// opened non-blocking, so even opening a FIFO with no writer cannot hang), and a file that
/// grows past `limit` while it is read is refused too, never read whole. `what` names what
/// the file should hold, for the error.
pub fn read_regular(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let name = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO (named pipe)"
        } else if kind.is_socket() {
            "a socket"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else {
            "not a regular file"
        };
        bail!(
            "`{}` is {name}; otelpki reads only regular files (give the path of the file itself)",
            path.display()
        );
    }
    let too_big = |size: u64| {
        anyhow!(
            "`{}` is {size} bytes or more; {what} are at most {limit} bytes, so this is not one",
            path.display()
        )
    };
    if meta.len() > limit {
        return Err(too_big(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    if bytes.len() as u64 > limit {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

/// The PEM blocks of `bytes`, or an error naming `path` if it holds none.
pub fn pem_blocks(path: &Path, bytes: &[u8]) -> Result<Vec<pem::Pem>> {
    let blocks = pem::parse_many(bytes)
        .map_err(|e| anyhow!("`{}` is not valid PEM: {e}", path.display()))?;
    Ok(blocks)
}

/// All certificates in a PEM file (a bundle is fine), or a single DER certificate.
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = read_small(path)?;
    certificates_from(path, &bytes)
}

/// The certificates of `bytes` (what `contents_from` finds, keys and other blocks left out).
pub fn certificates_from(path: &Path, bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<CertificateDer<'static>> = contents_from(path, bytes)?
        .into_iter()
        .filter_map(|item| match item {
            Item::Certificate(der) => Some(der),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        bail!(
            "`{}` holds no certificate (expected a -----BEGIN CERTIFICATE----- block)",
            path.display()
        );
    }
    Ok(certs)
}

/// The first certificate of a file.
pub fn certificate(path: &Path) -> Result<CertificateDer<'static>> {
    let mut certs = certificates(path)?;
    Ok(certs.swap_remove(0))
}

/// Parses DER that must be exactly one certificate whose extensions all parse: a malformed
/// or repeated extension (subjectAltName, keyUsage, ...) makes the certificate unusable, and
/// every TLS stack refuses it, so it is refused here with the extension named.
pub fn parse_cert<'a>(der: &'a [u8]) -> Result<x509_parser::certificate::X509Certificate<'a>> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| anyhow!("{e}"))?;
    if !rest.is_empty() {
        bail!("{} unexpected bytes after the certificate", rest.len());
    }
    let extensions = cert.extensions();
    for (i, ext) in extensions.iter().enumerate() {
        let name = extension_name(&ext.oid);
        if let Some(err) = ext.parsed_extension().error() {
            bail!("its {name} extension is malformed ({err})");
        }
        if extensions[..i].iter().any(|e| e.oid == ext.oid) {
            bail!("its {name} extension appears twice (RFC 5280 allows one)");
        }
    }
    Ok(cert)
}

/// An extension's usual name with its OID, e.g. `subjectAltName (2.5.29.17)`.
pub fn extension_name(oid: &x509_parser::der_parser::oid::Oid<'_>) -> String {
    match x509_parser::objects::oid2sn(oid, x509_parser::objects::oid_registry()) {
        Ok(sn) => format!("{sn} ({oid})"),
        Err(_) => oid.to_id_string(),
    }
}

/// One thing found in a certificate or key file, in file order.
pub enum Item {
    Certificate(CertificateDer<'static>),
    PrivateKey(PrivateKeyDer<'static>),
    /// A PKCS#8 key encrypted with a passphrase (`BEGIN ENCRYPTED PRIVATE KEY`).
    EncryptedPrivateKey,
    /// A PEM block otelpki does not read (a CSR, parameters, ...), by its label.
    Other(String),
}

/// Everything in a PEM file (certificates, bundles, keys), or one DER certificate or key.
pub fn contents(path: &Path) -> Result<Vec<Item>> {
    let bytes = read_small(path)?;
    contents_from(path, &bytes)
}

pub fn contents_from(path: &Path, bytes: &[u8]) -> Result<Vec<Item>> {
    if !looks_like_pem(bytes) {
        let cert_error = match parse_cert(bytes) {
            Ok(_) => {
                return Ok(vec![Item::Certificate(CertificateDer::from(
                    bytes.to_vec(),
                ))]);
            }
            Err(e) => e,
        };
        if let Ok(key) = PrivateKeyDer::try_from(bytes.to_vec()) {
            return Ok(vec![Item::PrivateKey(key)]);
        }
        // DER starts with a SEQUENCE: say why it is not a certificate.
        if bytes.first() == Some(&0x30) {
            bail!(
                "`{}` is DER but not a valid certificate or private key: {cert_error:#}",
                path.display()
            );
        }
        bail!(
            "`{}` is neither PEM (no -----BEGIN line) nor a DER certificate or private key",
            path.display()
        );
    }
    let blocks = pem_blocks(path, bytes)?;
    if blocks.is_empty() {
        bail!("`{}` holds no complete PEM block", path.display());
    }
    let mut items = Vec::with_capacity(blocks.len());
    for (i, block) in blocks.into_iter().enumerate() {
        let tag = block.tag().to_string();
        let der = block.into_contents();
        let item = match tag.as_str() {
            "CERTIFICATE" => {
                parse_cert(&der).with_context(|| {
                    format!(
                        "`{}`: PEM block #{} is not a valid X.509 certificate",
                        path.display(),
                        i + 1
                    )
                })?;
                Item::Certificate(der.into())
            }
            "PRIVATE KEY" => Item::PrivateKey(PrivateKeyDer::Pkcs8(der.into())),
            "RSA PRIVATE KEY" => Item::PrivateKey(PrivateKeyDer::Pkcs1(der.into())),
            "EC PRIVATE KEY" => Item::PrivateKey(PrivateKeyDer::Sec1(der.into())),
            "ENCRYPTED PRIVATE KEY" => Item::EncryptedPrivateKey,
            _ => Item::Other(tag),
        };
        items.push(item);
    }
    Ok(items)
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

/// The private key in `path` (PKCS#8, PKCS#1 `RSA PRIVATE KEY` or SEC1 `EC PRIVATE KEY`).
pub fn private_key_der(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let bytes = read_small(path)?;
    private_key_der_from(path, &bytes)
}

/// The private key in `bytes`, the contents of `path`.
pub fn private_key_der_from(path: &Path, bytes: &[u8]) -> Result<PrivateKeyDer<'static>> {
    if !looks_like_pem(bytes) {
        return PrivateKeyDer::try_from(bytes.to_vec())
            .map_err(|_| anyhow!("`{}` is not a PEM or DER private key", path.display()));
    }
    let blocks = pem_blocks(path, bytes)?;
    for block in blocks {
        let der = block.contents().to_vec();
        match block.tag() {
            "PRIVATE KEY" => return Ok(PrivateKeyDer::Pkcs8(der.into())),
            "RSA PRIVATE KEY" => return Ok(PrivateKeyDer::Pkcs1(der.into())),
            "EC PRIVATE KEY" => return Ok(PrivateKeyDer::Sec1(der.into())),
            "ENCRYPTED PRIVATE KEY" => bail!(
                "`{}` is an encrypted key, and only the CA key may be one (the Collector and the \
                 SDKs read unencrypted PKCS#8 only); decrypt it (openssl pkcs8 -in {} -out \
                 plain.key) and keep the result private",
                path.display(),
                path.display()
            ),
            _ => {}
        }
    }
    bail!(
        "`{}` holds no private key (expected a -----BEGIN PRIVATE KEY----- block)",
        path.display()
    )
}

/// The private key in `path`, ready to sign.
pub fn key_pair(path: &Path) -> Result<KeyPair> {
    let der = private_key_der(path)?;
    key_pair_from(path, &der)
}

/// A private key read from `path`, ready to sign; the error names the file.
pub fn key_pair_from(path: &Path, der: &PrivateKeyDer<'_>) -> Result<KeyPair> {
    KeyPair::try_from(der).map_err(|e| {
        anyhow!(
            "`{}` is not a usable private key ({e}); otelpki reads ECDSA P-256/P-384, Ed25519 and RSA keys",
            path.display()
        )
    })
}
