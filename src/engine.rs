//! The issuing engine: the only code that signs certificates and the only way a command writes
//! them. A command (`init`, `init-ca`, `issue`, `issue --csr`, `apply`, `fixtures`, `renew`,
//! `rotate-ca`, `export`) decides what to make, signs it here (`make_ca`, `make_leaf`,
//! `sign`, `self_sign`), gathers the files in a `Plan`, and `Plan::execute` publishes them as one batch
//! under the DIR lock (`store::publish_batch`: every file whole or not at all, durable with one
//! sync of the directory).
//!
//! Which signer is used follows from the key handed in: aws-lc keys (`KeyPair`) normally,
//! RustCrypto's deterministic signers (`seed::Key`) only where `--seed` asks for determinism.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rcgen::{CertificateParams, Issuer, KeyPair, PublicKeyData, SigningKey};
use time::OffsetDateTime;

use crate::cert::Cert;
use crate::encrypt::{self, PassphraseSource};
use crate::key::{KeyType, PrivateKey};
use crate::model::{Role, date};
use crate::profile::{self, Spec};
use crate::read;
use crate::store::{self, AlreadyExists, DirLock, Output};

/// A CA ready to sign: checked to be a CA, valid now, and matching its key. `K` is the key it
/// signs with (`fixtures` and `apply --seed` use seeded, deterministic keys).
pub struct Ca<K = KeyPair> {
    pub issuer: Issuer<'static, K>,
    pub cn: String,
    pub not_after: OffsetDateTime,
    pub key_type: Option<KeyType>,
}

/// A freshly signed certificate and its new key, as PEM.
pub struct Signed {
    pub cert_pem: String,
    pub key_pem: String,
}

/// Loads the CA from `cert` and `key`, refusing anything that cannot sign valid certificates.
/// An encrypted `key` is decrypted in memory with the passphrase from `pass`.
pub fn load_ca(
    cert: &Path,
    key: &Path,
    now: OffsetDateTime,
    pass: &PassphraseSource,
) -> Result<Ca> {
    let ca = Cert::read(cert)?;
    if !ca.is_ca {
        bail!(
            "`{}` is not a CA certificate (its basicConstraints lack CA:TRUE); pass a CA with \
             --ca-cert, or create one with `otelpki init-ca`",
            cert.display()
        );
    }
    if !ca.may_sign_certificates() {
        bail!(
            "`{}` may not sign certificates (its keyUsage lacks keyCertSign); use a CA that may",
            cert.display()
        );
    }
    let (not_before, not_after) = (ca.not_before, ca.not_after);
    if not_after <= now {
        bail!(
            "the CA `{}` expired on {}; create a new one with `otelpki init-ca --force` and \
             re-issue every certificate",
            cert.display(),
            date(not_after)
        );
    }
    if not_before > now {
        bail!(
            "the CA `{}` is not valid until {}; check this machine's clock",
            cert.display(),
            date(not_before)
        );
    }
    let key_pair = read::key_pair_from(key, &encrypt::read_ca_key(key, pass)?.der)?;
    if !ca.matches_key(key_pair.public_key_raw()) {
        bail!(
            "the key `{}` does not belong to the CA certificate `{}`; pass the matching pair \
             (--ca-cert and --ca-key)",
            key.display(),
            cert.display()
        );
    }
    let key_type = ca.key_type();
    let issuer = Issuer::from_ca_cert_der(&ca.der, key_pair)
        .with_context(|| format!("cannot use `{}` as an issuer", cert.display()))?;
    Ok(Ca {
        issuer,
        cn: ca.common_name.unwrap_or_default(),
        not_after,
        key_type,
    })
}

/// Self-signs a CA certificate for `spec` with `key`; the issuer signs what the CA issues.
pub fn make_ca<K: PrivateKey>(spec: &Spec, key: K) -> Result<(Signed, Issuer<'static, K>)> {
    let params = profile::params(Role::Ca, spec);
    let signed = Signed {
        cert_pem: self_sign(&params, &key)?,
        key_pem: key.pkcs8_pem(),
    };
    Ok((signed, Issuer::new(params, key)))
}

/// Signs a leaf of `role` for `spec` and its new `key` with `issuer`.
pub fn make_leaf<K: PrivateKey, S: SigningKey>(
    role: Role,
    spec: &Spec,
    key: &K,
    issuer: &Issuer<'_, S>,
) -> Result<Signed> {
    Ok(Signed {
        cert_pem: sign(&profile::params(role, spec), key, issuer)?,
        key_pem: key.pkcs8_pem(),
    })
}

/// Signs `params` for the public key `subject` with `issuer`: the one place a certificate is
/// signed by a CA. `make_leaf` is the profile's way in; `issue --csr` (whose private key stays
/// elsewhere) and the bad fixtures (a profile with a deviation) come here directly. Returns
/// the certificate as PEM.
pub fn sign<P: PublicKeyData, S: SigningKey>(
    params: &CertificateParams,
    subject: &P,
    issuer: &Issuer<'_, S>,
) -> Result<String> {
    Ok(params
        .signed_by(subject, issuer)
        .context("cannot sign the certificate")?
        .pem())
}

/// Self-signs `params` with `key`: the one place a CA (or a self-signed fixture) is signed.
pub fn self_sign<K: SigningKey>(params: &CertificateParams, key: &K) -> Result<String> {
    Ok(params
        .self_signed(key)
        .context("cannot sign the CA certificate")?
        .pem())
}

/// A leaf never outlives its CA: a longer request ends at the CA's notAfter, with a warning.
pub fn clamp_to_ca<K>(not_after: OffsetDateTime, ca: &Ca<K>) -> OffsetDateTime {
    if not_after > ca.not_after {
        eprintln!(
            "warning: the certificate would outlive its CA \"{}\"; it expires with the CA on {}",
            ca.cn,
            date(ca.not_after)
        );
        ca.not_after
    } else {
        not_after
    }
}

/// `DIR/STEM.crt` and `DIR/STEM.key`.
pub fn pair_paths(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{stem}.crt")),
        dir.join(format!("{stem}.key")),
    )
}

/// What one command writes: files to create (refused if one exists) and files to replace.
/// Built in memory, then published by `execute` as one batch under the DIR lock.
#[derive(Default)]
pub struct Plan {
    create: Vec<Output>,
    replace: Vec<Output>,
}

impl Plan {
    pub fn new() -> Plan {
        Plan::default()
    }

    /// A certificate and its key, key first; `replace`: it may replace the files there.
    pub fn pair(&mut self, crt: &Path, key: &Path, signed: &Signed, replace: bool) {
        self.file(
            Output::key(key.to_path_buf(), signed.key_pem.clone()),
            replace,
        );
        self.file(
            Output::public(crt.to_path_buf(), signed.cert_pem.clone()),
            replace,
        );
    }

    /// Any other file of the batch (a certificate signed from a CSR, a keystore, a manifest).
    pub fn file(&mut self, out: Output, replace: bool) {
        if replace {
            self.replace.push(out);
        } else {
            self.create.push(out);
        }
    }

    /// Publishes the plan: every file whole or not at all, made durable together; a file to
    /// create that exists fails it with `AlreadyExists`, nothing written (`publish_batch`
    /// checks each before its commit). The lock is the proof that the caller holds the DIR
    /// lock it decided under.
    pub fn execute(&self, _lock: &DirLock) -> Result<()> {
        store::publish_batch(&self.create, &self.replace)
    }

    /// `execute`, with `hint` (the way out) added to an "already exists" error.
    pub fn execute_or_hint(&self, lock: &DirLock, hint: &str) -> Result<()> {
        self.execute(lock).map_err(|e| with_hint(e, hint))
    }
}

/// Adds the way out to an "already exists" error.
pub fn with_hint(err: anyhow::Error, hint: &str) -> anyhow::Error {
    if let Some(exists) = err.downcast_ref::<AlreadyExists>() {
        anyhow::anyhow!("{exists}; {hint}")
    } else {
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CA is usable from its notBefore (inclusive) until its notAfter (exclusive), to the
    /// second: `now` is given, so the edges can be tried exactly.
    #[test]
    fn a_ca_is_usable_from_not_before_until_not_after() {
        let tmp = tempfile::tempdir().unwrap();
        let start = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let end = start + time::Duration::days(30);
        let spec = Spec {
            cn: "Edge CA".into(),
            org: None,
            sans: Vec::new(),
            not_before: start,
            not_after: end,
            serial: profile::random_serial().unwrap(),
            key_type: KeyType::EcdsaP256,
        };
        let (signed, _) = make_ca(&spec, KeyType::EcdsaP256.generate().unwrap()).unwrap();
        let (crt, key) = pair_paths(tmp.path(), "ca");
        std::fs::write(&crt, &signed.cert_pem).unwrap();
        std::fs::write(&key, &signed.key_pem).unwrap();
        let load = |now: OffsetDateTime| load_ca(&crt, &key, now, &PassphraseSource::default());
        let second = time::Duration::seconds(1);
        let early = load(start - second).err().unwrap().to_string();
        assert!(early.contains("is not valid until"), "{early}");
        assert!(load(start).is_ok());
        assert!(load(end - second).is_ok());
        let late = load(end).err().unwrap().to_string();
        assert!(late.contains("expired on"), "{late}");
    }
}
