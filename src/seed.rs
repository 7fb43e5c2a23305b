//! What makes `fixtures` and `apply` reproducible (docs/fixtures.md): keys and serial numbers derived
//! from `--seed` and a per-file label (HKDF-SHA256), signatures that depend only on the key and
//! the message (RFC 6979 ECDSA, Ed25519), and the clock from `--now` or `SOURCE_DATE_EPOCH`.
//! Without a seed, keys and serials come from the OS random source, as everywhere else.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow, bail};
use hkdf::Hkdf;
use p256::elliptic_curve::zeroize::Zeroizing;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rcgen::{KeyPair, PublicKeyData, SignatureAlgorithm, SigningKey};
use rustls::pki_types::PrivateKeyDer;
use sha2::Sha256;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::key::{KeyType, PrivateKey};
use crate::profile;
use crate::read;

/// Bound into every derivation, so a change of scheme changes every output rather than a few.
const SALT: &[u8] = b"otelpki seed v1";

/// Where keys and serials come from.
pub enum Source {
    /// The OS random source.
    Random,
    /// HKDF-SHA256 keyed with the seed text.
    Seeded(Hkdf<Sha256>),
}

impl Source {
    pub fn new(seed: Option<&str>) -> Source {
        match seed {
            Some(text) => Source::Seeded(Hkdf::new(Some(SALT), text.as_bytes())),
            None => Source::Random,
        }
    }

    pub fn is_seeded(&self) -> bool {
        matches!(self, Source::Seeded(_))
    }

    /// Refuses key types that cannot be derived from a seed, before any work is done.
    pub fn check_key_type(&self, key_type: KeyType) -> Result<()> {
        if self.is_seeded() && key_type.is_rsa() {
            bail!(
                "--seed cannot make {key_type} keys reproducible (RSA key generation depends on the \
                 library); use --key-type ecdsa-p256, ecdsa-p384 or ed25519 with --seed, or drop --seed"
            );
        }
        Ok(())
    }

    /// A serial number for the certificate labelled `label`.
    pub fn serial(&self, label: &str) -> Result<[u8; 16]> {
        match self {
            Source::Random => profile::random_serial(),
            Source::Seeded(hk) => {
                let mut bytes = [0u8; 16];
                expand(hk, &[b"serial", label.as_bytes()], &mut bytes)?;
                Ok(profile::serial(bytes))
            }
        }
    }

    /// A key of `key_type` for the file labelled `label`.
    pub fn key(&self, key_type: KeyType, label: &str) -> Result<Key> {
        let Source::Seeded(hk) = self else {
            return Ok(Key::Rcgen(key_type.generate()?));
        };
        self.check_key_type(key_type)?;
        let info = |counter: u8| -> Vec<Vec<u8>> {
            vec![
                b"key".to_vec(),
                key_type.name().as_bytes().to_vec(),
                label.as_bytes().to_vec(),
                vec![counter],
            ]
        };
        // A derived scalar is out of range with probability < 2^-32; take the next one then.
        for counter in 0..=u8::MAX {
            let parts = info(counter);
            let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            match key_type {
                KeyType::EcdsaP256 => {
                    let mut bytes = [0u8; 32];
                    expand(hk, &parts, &mut bytes)?;
                    if let Ok(secret) = p256::SecretKey::from_slice(&bytes) {
                        return Key::p256(secret);
                    }
                }
                KeyType::EcdsaP384 => {
                    let mut bytes = [0u8; 48];
                    expand(hk, &parts, &mut bytes)?;
                    if let Ok(secret) = p384::SecretKey::from_slice(&bytes) {
                        return Key::p384(secret);
                    }
                }
                KeyType::Ed25519 => {
                    let mut seed = [0u8; 32];
                    expand(hk, &parts, &mut seed)?;
                    return ed25519_from_seed(&seed).map(Key::Rcgen);
                }
                _ => bail!("{key_type} keys cannot be derived from a seed"),
            }
        }
        bail!("could not derive a {key_type} key for `{label}` from the seed")
    }
}

/// HKDF-Expand with the parts of `info` joined by NUL, so ("a", "bc") and ("ab", "c") differ.
fn expand(hk: &Hkdf<Sha256>, parts: &[&[u8]], out: &mut [u8]) -> Result<()> {
    let mut info = Vec::new();
    for part in parts {
        info.extend_from_slice(part);
        info.push(0);
    }
    hk.expand(&info, out)
        .map_err(|_| anyhow!("HKDF cannot expand to {} bytes", out.len()))
}

/// An Ed25519 key from its 32-byte seed, through a PKCS#8 v1 structure (RFC 8410 §7).
fn ed25519_from_seed(seed: &[u8; 32]) -> Result<KeyPair> {
    let mut der = crate::key::ED25519_PKCS8_V1_PREFIX.to_vec();
    der.extend_from_slice(seed);
    KeyPair::from_pkcs8_der_and_sign_algo(&der.into(), &rcgen::PKCS_ED25519)
        .context("could not make an Ed25519 key from the seed")
}

/// A private key that signs deterministically where the algorithm allows: P-256 and P-384
/// with RFC 6979 (RustCrypto), Ed25519 as is; RSA and OS-random keys through rcgen's `KeyPair`.
pub enum Key {
    P256(Ec<p256::ecdsa::SigningKey>),
    P384(Ec<p384::ecdsa::SigningKey>),
    Rcgen(KeyPair),
}

/// An ECDSA key with what a certificate needs of it computed once: its PKCS#8 form and its
/// public point (one scalar multiplication for both), and the signer when it first signs.
pub struct Ec<S> {
    secret: Zeroizing<Vec<u8>>,
    pkcs8: Zeroizing<Vec<u8>>,
    /// The uncompressed public point, as a SubjectPublicKeyInfo holds it.
    public: Vec<u8>,
    signer: OnceLock<Option<S>>,
}

impl<S> Ec<S> {
    /// From the scalar's bytes and the PKCS#8 document that holds it.
    fn new(secret: &[u8], pkcs8: Vec<u8>, public: impl FnOnce() -> Vec<u8>) -> Ec<S> {
        let public = point_in_pkcs8(&pkcs8).unwrap_or_else(public);
        Ec {
            secret: Zeroizing::new(secret.to_vec()),
            pkcs8: Zeroizing::new(pkcs8),
            public,
            signer: OnceLock::new(),
        }
    }
}

/// The public point at the end of a PKCS#8 EC key (SEC1 `ECPrivateKey` with its optional
/// `[1] BIT STRING` last), if it is there: saves a scalar multiplication per key.
fn point_in_pkcs8(der: &[u8]) -> Option<Vec<u8>> {
    let info = p256::pkcs8::PrivateKeyInfo::try_from(der).ok()?;
    let ec = info.private_key;
    for len in [65usize, 97] {
        let start = ec.len().checked_sub(len + 3)?;
        let header = [0x03, u8::try_from(len + 1).ok()?, 0x00];
        if ec[start..start + 3] == header && ec[start + 3] == 0x04 {
            return Some(ec[start + 3..].to_vec());
        }
    }
    None
}

impl Key {
    fn p256(secret: p256::SecretKey) -> Result<Key> {
        let der = secret.to_pkcs8_der().context("cannot encode a P-256 key")?;
        let public = || {
            p256::EncodedPoint::from(secret.public_key())
                .as_bytes()
                .to_vec()
        };
        let ec = Ec::new(&secret.to_bytes(), der.as_bytes().to_vec(), public);
        Ok(Key::P256(ec))
    }

    fn p384(secret: p384::SecretKey) -> Result<Key> {
        let der = secret.to_pkcs8_der().context("cannot encode a P-384 key")?;
        let public = || {
            p384::EncodedPoint::from(secret.public_key())
                .as_bytes()
                .to_vec()
        };
        let ec = Ec::new(&secret.to_bytes(), der.as_bytes().to_vec(), public);
        Ok(Key::P384(ec))
    }

    /// The key `der`, read from `path` (an encrypted CA key, once decrypted); with `deterministic` (a seeded run), a PKCS#8 P-256 or P-384
    /// key signs with RFC 6979 (RustCrypto), otherwise every key signs with aws-lc as `issue`
    /// does.
    pub fn from_der(path: &Path, der: &PrivateKeyDer<'_>, deterministic: bool) -> Result<Key> {
        if let (true, PrivateKeyDer::Pkcs8(der)) = (deterministic, der) {
            let der = der.secret_pkcs8_der();
            if let Ok(secret) = p256::SecretKey::from_pkcs8_der(der) {
                return Key::p256(secret);
            }
            if let Ok(secret) = p384::SecretKey::from_pkcs8_der(der) {
                return Key::p384(secret);
            }
        }
        read::key_pair_from(path, der).map(Key::Rcgen)
    }
}

impl PublicKeyData for Key {
    fn der_bytes(&self) -> &[u8] {
        match self {
            Key::P256(ec) => &ec.public,
            Key::P384(ec) => &ec.public,
            Key::Rcgen(key) => key.der_bytes(),
        }
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        match self {
            Key::P256(_) => KeyType::EcdsaP256.algorithm(),
            Key::P384(_) => KeyType::EcdsaP384.algorithm(),
            Key::Rcgen(key) => key.algorithm(),
        }
    }
}

impl SigningKey for Key {
    /// For ECDSA, the DER `ECDSA-Sig-Value` over SHA-256 (P-256) or SHA-384 (P-384) of `msg`,
    /// with the nonce from RFC 6979.
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        use p256::ecdsa::signature::Signer;
        let failed = rcgen::Error::RemoteKeyError;
        match self {
            Key::P256(ec) => {
                let signer = ec
                    .signer
                    .get_or_init(|| p256::ecdsa::SigningKey::from_slice(&ec.secret).ok());
                let signer = signer.as_ref().ok_or(failed.clone())?;
                let sig: p256::ecdsa::DerSignature = signer.try_sign(msg).map_err(|_| failed)?;
                Ok(sig.as_bytes().to_vec())
            }
            Key::P384(ec) => {
                let signer = ec
                    .signer
                    .get_or_init(|| p384::ecdsa::SigningKey::from_slice(&ec.secret).ok());
                let signer = signer.as_ref().ok_or(failed.clone())?;
                let sig: p384::ecdsa::DerSignature = signer.try_sign(msg).map_err(|_| failed)?;
                Ok(sig.as_bytes().to_vec())
            }
            Key::Rcgen(key) => key.sign(msg),
        }
    }
}

impl PrivateKey for Key {
    fn pkcs8_pem(&self) -> String {
        let der = match self {
            Key::P256(ec) => &ec.pkcs8,
            Key::P384(ec) => &ec.pkcs8,
            Key::Rcgen(key) => return key.pkcs8_pem(),
        };
        pem::encode_config(
            &pem::Pem::new("PRIVATE KEY", der.to_vec()),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )
    }
}

/// The time certificates are issued at: `--now`, else `SOURCE_DATE_EPOCH` (seconds since
/// 1970, the reproducible-builds convention), else the clock; in whole seconds.
pub fn clock(now: Option<OffsetDateTime>) -> Result<OffsetDateTime> {
    let t = match now {
        Some(t) => t,
        None => match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(v) if !v.trim().is_empty() => {
                let secs: i64 = v.trim().parse().map_err(|_| {
                    anyhow!("SOURCE_DATE_EPOCH=`{v}` is not a number of seconds since 1970")
                })?;
                OffsetDateTime::from_unix_timestamp(secs).map_err(|_| {
                    anyhow!(
                        "SOURCE_DATE_EPOCH=`{v}` is out of range; otelpki issues at times \
                             from {} to {}",
                        CLOCK_YEARS.start(),
                        CLOCK_YEARS.end()
                    )
                })?
            }
            _ => OffsetDateTime::now_utc(),
        },
    };
    let t = t.to_offset(time::UtcOffset::UTC);
    if !CLOCK_YEARS.contains(&t.year()) {
        let source = if now.is_some() {
            "--now"
        } else {
            "SOURCE_DATE_EPOCH"
        };
        bail!(
            "{source} is in the year {}; otelpki issues at times from {} to {} (a certificate's \
             dates, up to 100 years on, must fit X.509's years 1950 to 9999)",
            t.year(),
            CLOCK_YEARS.start(),
            CLOCK_YEARS.end()
        );
    }
    Ok(t.replace_nanosecond(0).unwrap_or(t))
}

/// The years an issuing clock may be in: every date otelpki derives from it (a year and a day
/// earlier for an expired fixture, up to 36500 days later for `--days`) stays within the
/// years X.509 can write (UTCTime from 1950, GeneralizedTime to 9999).
pub const CLOCK_YEARS: std::ops::RangeInclusive<i32> = 1952..=9898;

/// The value parser of `--now` (`cli.rs`): an RFC 3339 time such as 2025-01-01T00:00:00Z.
pub fn parse_now(value: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(value.trim(), &Rfc3339)
        .map_err(|_| format!("`{value}` is not an RFC 3339 time; write e.g. 2025-01-01T00:00:00Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_and_label_give_the_same_key_and_others_differ() {
        let a = Source::new(Some("ci"));
        let b = Source::new(Some("ci"));
        let other = Source::new(Some("cj"));
        for kt in [KeyType::EcdsaP256, KeyType::EcdsaP384, KeyType::Ed25519] {
            let k = a.key(kt, "server").unwrap().pkcs8_pem();
            assert_eq!(k, b.key(kt, "server").unwrap().pkcs8_pem());
            assert_ne!(k, a.key(kt, "client").unwrap().pkcs8_pem());
            assert_ne!(k, other.key(kt, "server").unwrap().pkcs8_pem());
            assert!(k.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{k}");
        }
        assert_eq!(a.serial("x").unwrap(), b.serial("x").unwrap());
        assert_ne!(a.serial("x").unwrap(), a.serial("y").unwrap());
    }

    #[test]
    fn signatures_are_deterministic_and_verify() {
        let src = Source::new(Some("ci"));
        for (kt, alg) in [
            (
                KeyType::EcdsaP256,
                &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
            ),
            (
                KeyType::EcdsaP384,
                &aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1,
            ),
        ] {
            let key = src.key(kt, "ca").unwrap();
            let sig = key.sign(b"message").unwrap();
            assert_eq!(sig, key.sign(b"message").unwrap());
            aws_lc_rs::signature::UnparsedPublicKey::new(alg, key.der_bytes())
                .verify(b"message", &sig)
                .unwrap();
            // The written key reads back as the same key.
            let back = KeyPair::from_pem(&key.pkcs8_pem()).unwrap();
            assert_eq!(back.der_bytes(), key.der_bytes());
        }
    }

    #[test]
    fn rsa_with_a_seed_is_refused() {
        let err = Source::new(Some("ci"))
            .key(KeyType::Rsa2048, "ca")
            .err()
            .unwrap();
        assert!(err.to_string().contains("--seed"), "{err}");
    }
}
