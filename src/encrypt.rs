//! The CA key at rest (docs/custody.md): `init-ca --encrypt-key` writes `ca.key` as encrypted PKCS#8
//! (`BEGIN ENCRYPTED PRIVATE KEY`: PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC), and every
//! command that signs decrypts it in memory with the passphrase from `OTELPKI_CA_PASSPHRASE` or
//! `--passphrase-file`. The passphrase is never a flag value (process arguments are public),
//! never printed, and there is no prompt: a command never waits for a terminal.
//!
//! Leaf keys are never encrypted: the Collector (`key_file`) and the SDKs
//! (`OTEL_EXPORTER_OTLP_CLIENT_KEY`) read only unencrypted PKCS#8.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use pkcs8::der::{Decode, Encode};
use pkcs8::pkcs5::pbes2;
use pkcs8::{EncryptedPrivateKeyInfo, EncryptedPrivateKeyInfoRef};
use rustls::pki_types::PrivateKeyDer;
use zeroize::Zeroizing;

use crate::read;

/// The environment variable that holds the CA key's passphrase.
pub const PASSPHRASE_ENV: &str = "OTELPKI_CA_PASSPHRASE";

/// PBKDF2-HMAC-SHA256 rounds: OWASP's 2023 figure for that PRF. A signing command pays it once.
pub const PBKDF2_ROUNDS: u32 = 600_000;

/// The PEM label of an encrypted PKCS#8 key.
pub const ENCRYPTED_LABEL: &str = "ENCRYPTED PRIVATE KEY";

/// The passphrase options of every command that signs: `--passphrase-file`, else
/// `OTELPKI_CA_PASSPHRASE` (never a flag value: process arguments are public).
#[derive(Clone, Debug, Default)]
pub struct PassphraseOptions {
    /// File holding the CA key's passphrase (one trailing newline ignored).
    pub passphrase_file: Option<PathBuf>,
}

/// Where the passphrase of an encrypted CA key comes from: `--passphrase-file`, else
/// `OTELPKI_CA_PASSPHRASE`. It is read only when a key needs it.
#[derive(Clone, Debug, Default)]
pub struct PassphraseSource {
    pub file: Option<PathBuf>,
}

/// A passphrase, wiped from memory when dropped, and where it came from (for error messages).
pub struct Passphrase {
    secret: Zeroizing<String>,
    origin: String,
}

impl Passphrase {
    pub fn as_bytes(&self) -> &[u8] {
        self.secret.as_bytes()
    }

    /// Where it came from: `OTELPKI_CA_PASSPHRASE` or `--passphrase-file FILE`.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

impl PassphraseSource {
    pub fn new(file: Option<&Path>) -> Self {
        PassphraseSource {
            file: file.map(Path::to_path_buf),
        }
    }

    /// The passphrase, or an error saying how to give one; `what` is the key it is for.
    pub fn get(&self, what: &str) -> Result<Passphrase> {
        if let Some(path) = &self.file {
            return from_file(path);
        }
        match std::env::var(PASSPHRASE_ENV) {
            Ok(value) if value.is_empty() => bail!(
                "{PASSPHRASE_ENV} is set but empty; {what} needs its passphrase there, or in a \
                 file given with --passphrase-file FILE"
            ),
            Ok(value) => Ok(Passphrase {
                secret: Zeroizing::new(value),
                origin: PASSPHRASE_ENV.to_string(),
            }),
            Err(std::env::VarError::NotUnicode(_)) => {
                bail!("{PASSPHRASE_ENV} is not valid UTF-8")
            }
            Err(std::env::VarError::NotPresent) => bail!(
                "{what} needs a passphrase: set the environment variable {PASSPHRASE_ENV}, or \
                 pass --passphrase-file FILE (a file holding only the passphrase)"
            ),
        }
    }
}

/// A passphrase file: a small regular file; one trailing newline (LF or CRLF) is not part of it.
fn from_file(path: &Path) -> Result<Passphrase> {
    let text = read::secret_text(path, "passphrase")?;
    if text.is_empty() {
        bail!(
            "the passphrase file `{}` is empty; write the passphrase in it",
            path.display()
        );
    }
    Ok(Passphrase {
        secret: text,
        origin: format!("--passphrase-file {}", path.display()),
    })
}

/// Whether the key file at `path` holds an encrypted PKCS#8 key (read, never decrypted).
pub fn is_encrypted(path: &Path) -> bool {
    read::read_small(path).is_ok_and(|bytes| encrypted_block(&bytes).is_some())
}

/// The DER of the first `ENCRYPTED PRIVATE KEY` PEM block of `bytes`, if there is one.
fn encrypted_block(bytes: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    pem::parse_many(bytes)
        .ok()?
        .into_iter()
        .find(|block| block.tag() == ENCRYPTED_LABEL)
        .map(|block| Zeroizing::new(block.into_contents()))
}

/// A CA key as read: the private key, and whether it was encrypted on disk.
pub struct CaKey {
    pub der: PrivateKeyDer<'static>,
    pub encrypted: bool,
}

/// Reads the CA key at `path`: an encrypted PKCS#8 key is decrypted in memory with the
/// passphrase from `source`; any other key is read as `read::private_key_der` does.
pub fn read_ca_key(path: &Path, source: &PassphraseSource) -> Result<CaKey> {
    let bytes = Zeroizing::new(read::read_small(path)?);
    let Some(der) = encrypted_block(&bytes) else {
        return Ok(CaKey {
            der: read::private_key_der_from(path, &bytes)?,
            encrypted: false,
        });
    };
    let what = format!("the encrypted CA key `{}`", path.display());
    let pass = source.get(&what)?;
    let plain = decrypt(&der, &pass).with_context(|| format!("cannot use {what}"))?;
    Ok(CaKey {
        der: PrivateKeyDer::Pkcs8(plain.to_vec().into()),
        encrypted: true,
    })
}

/// The PKCS#8 DER inside an `EncryptedPrivateKeyInfo`.
fn decrypt(der: &[u8], pass: &Passphrase) -> Result<Zeroizing<Vec<u8>>> {
    let info = EncryptedPrivateKeyInfoRef::from_der(der)
        .map_err(|e| anyhow!("it is not an encrypted PKCS#8 key ({e})"))?;
    let scheme = &info.encryption_algorithm;
    if scheme.pbes2().is_none() {
        bail!(
            "it is encrypted with PBES1 ({}), an obsolete scheme; re-encrypt it with \
             `openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256`",
            scheme.oid()
        );
    }
    match info.decrypt(pass.as_bytes()) {
        Ok(doc) => Ok(Zeroizing::new(doc.as_bytes().to_vec())),
        Err(pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::DecryptFailed))
        | Err(pkcs8::Error::Asn1(_)) => bail!(
            "the passphrase from {} does not decrypt it (wrong passphrase)",
            pass.origin
        ),
        Err(e) => bail!(
            "its encryption is not one otelpki reads ({e}); otelpki reads PBES2 with PBKDF2 \
             (HMAC-SHA-2) or scrypt and AES-CBC or AES-GCM, as `openssl pkcs8 -topk8 -v2 \
             aes-256-cbc` writes"
        ),
    }
}

/// `key_pem` (an unencrypted PKCS#8 PEM, as otelpki writes keys) as an encrypted PKCS#8 PEM:
/// PBES2, PBKDF2-HMAC-SHA256 with `PBKDF2_ROUNDS` rounds and a random 16-byte salt,
/// AES-256-CBC with a random IV. `openssl pkey -passin` reads it.
pub fn encrypt_pem(key_pem: &str, pass: &Passphrase) -> Result<String> {
    let block = pem::parse(key_pem).context("cannot read back the new key")?;
    let plain = Zeroizing::new(block.into_contents());
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    for bytes in [&mut salt, &mut iv] {
        aws_lc_rs::rand::fill(bytes).map_err(|_| anyhow!("the system random source failed"))?;
    }
    let params = pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(PBKDF2_ROUNDS, &salt, iv)
        .map_err(|e| anyhow!("cannot set up the key encryption: {e}"))?;
    let encrypted = params
        .encrypt(pass.as_bytes(), &plain)
        .map_err(|e| anyhow!("cannot encrypt the key: {e}"))?;
    let info = EncryptedPrivateKeyInfo {
        encryption_algorithm: params.into(),
        encrypted_data: pkcs8::der::asn1::OctetStringRef::new(&encrypted)
            .map_err(|e| anyhow!("cannot encode the encrypted key: {e}"))?,
    };
    let der = info
        .to_der()
        .map_err(|e| anyhow!("cannot encode the encrypted key: {e}"))?;
    Ok(pem::encode_config(
        &pem::Pem::new(ENCRYPTED_LABEL, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(text: &str) -> Passphrase {
        Passphrase {
            secret: Zeroizing::new(text.into()),
            origin: "test".into(),
        }
    }

    #[test]
    fn encrypts_and_decrypts_back_and_refuses_a_wrong_passphrase() {
        let key = crate::key::KeyType::EcdsaP256.generate().unwrap();
        let plain_pem = crate::key::pkcs8_pem(&key);
        let enc = encrypt_pem(&plain_pem, &pass("correct horse")).unwrap();
        assert!(enc.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
        let der = encrypted_block(enc.as_bytes()).unwrap();
        let back = decrypt(&der, &pass("correct horse")).unwrap();
        assert_eq!(*back, pem::parse(&plain_pem).unwrap().into_contents());
        let err = decrypt(&der, &pass("wrong")).unwrap_err();
        assert!(err.to_string().contains("wrong passphrase"), "{err}");
    }
}
