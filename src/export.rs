//! `export p12` and `export truststore` (docs/custody.md): PKCS#12 files for Java and .NET, with
//! modern algorithms only: keys and certificates encrypted with PBES2 (PBKDF2-HMAC-SHA256,
//! AES-256-CBC), a SHA-256 MAC. OpenSSL 3 reads them without `-legacy` and Java's `KeyStore`
//! loads them (cert-manager's RC2/3DES default is what both refuse). The writing is done by
//! the `p12-keystore` crate; the files reach the disk through `store.rs`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use p12_keystore::{
    Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, PrivateKey,
    PrivateKeyChain,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use zeroize::Zeroizing;

use crate::cert::Cert;
use crate::engine::{self, Plan, with_hint};
use crate::issue::file_stem;
use crate::judge;
use crate::read;
use crate::report::Render;
use crate::store::{self, Output};

/// The environment variable that holds the PKCS#12 password.
pub const PASSWORD_ENV: &str = "OTELPKI_P12_PASSWORD";

/// PBKDF2 rounds for the encryption and the MAC key (OWASP's figure for PBKDF2-HMAC-SHA256).
pub const ROUNDS: u32 = 600_000;

/// The file name of the truststore.
pub const TRUSTSTORE: &str = "truststore.p12";

/// `export p12`.
#[derive(Clone, Debug)]
pub struct P12Options {
    /// The pair NAME.crt and NAME.key; writes NAME.p12.
    pub name: String,
    pub password: PasswordOptions,
}

/// `export truststore`.
#[derive(Clone, Debug)]
pub struct TruststoreOptions {
    pub password: PasswordOptions,
}

/// The PKCS#12 password and overwrite rule every export shares.
#[derive(Clone, Debug)]
pub struct PasswordOptions {
    /// File holding the password; None: OTELPKI_P12_PASSWORD.
    pub password_file: Option<PathBuf>,
    pub empty_password: bool,
    /// Replace an existing file.
    pub force: bool,
}

/// What `export` says: what it wrote, where, and how it is protected.
#[derive(Clone, Debug)]
pub struct Exported {
    /// The first line: what was exported.
    pub what: String,
    /// `keystore` or `truststore`.
    pub kind: &'static str,
    pub out: PathBuf,
    /// It holds a private key (mode 0600).
    pub secret: bool,
    /// Where the password came from.
    pub protection: String,
}

impl Render for Exported {
    fn text(&self) -> String {
        let note = if self.secret {
            "  (mode 0600; keep it private)"
        } else {
            ""
        };
        format!(
            "{}\n  {}: {}{note}\n  protected with {}: AES-256-CBC, PBKDF2-SHA256, SHA-256 MAC \
             (OpenSSL 3 and Java read it; no -legacy)\n",
            self.what,
            self.kind,
            self.out.display(),
            self.protection
        )
    }
}

/// The password: --password-file, else OTELPKI_P12_PASSWORD, else the empty one if asked for.
fn password(args: &PasswordOptions) -> Result<Zeroizing<String>> {
    if args.empty_password {
        return Ok(Zeroizing::new(String::new()));
    }
    if let Some(path) = &args.password_file {
        let text = read::secret_text(path, "password")?;
        if text.is_empty() {
            bail!(
                "the password file `{}` is empty; write the password in it, or pass \
                 --empty-password for a file without one",
                path.display()
            );
        }
        return Ok(text);
    }
    match std::env::var(PASSWORD_ENV) {
        Ok(value) if !value.is_empty() => Ok(Zeroizing::new(value)),
        Ok(_) => bail!(
            "{PASSWORD_ENV} is set but empty; set a password, or pass --empty-password for a \
             file without one"
        ),
        Err(_) => bail!(
            "a PKCS#12 file needs a password: set the environment variable {PASSWORD_ENV}, or \
             pass --password-file FILE (or --empty-password for none)"
        ),
    }
}

fn write_store(keystore: &KeyStore, password: &str) -> Result<Vec<u8>> {
    keystore
        .writer(password)
        .encryption_algorithm(EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
        .encryption_iterations(ROUNDS)
        .mac_algorithm(MacAlgorithm::HmacSha256)
        .mac_iterations(ROUNDS)
        .write()
        .map_err(|e| anyhow!("cannot write the PKCS#12 file: {e}"))
}

fn p12_cert(der: &CertificateDer<'_>, path: &Path) -> Result<Certificate> {
    Certificate::from_der(der).map_err(|e| {
        anyhow!(
            "`{}`: cannot put the certificate in PKCS#12: {e}",
            path.display()
        )
    })
}

/// The certificate of `ca_path` that issued `leaf`, by the judge's chain check (during a CA
/// rotation ca.crt holds two).
fn issuer_of<'a>(
    leaf: &Cert,
    cas: &'a [CertificateDer<'static>],
) -> Option<&'a CertificateDer<'static>> {
    cas.iter().find(|ca| judge::signed_by(leaf, ca))
}

/// `otelpki export p12 --name NAME`.
pub fn p12(dir: &Path, args: &P12Options) -> Result<Exported> {
    let stem = file_stem(&args.name)?;
    let (crt, key_path) = engine::pair_paths(dir, stem);
    let out = dir.join(format!("{stem}.p12"));
    let hint = "pass --force to replace it";
    let password = password(&args.password)?;
    if !crt.exists() {
        bail!("`{}` does not exist; issue it first", crt.display());
    }
    let lock = store::lock(dir)?;
    store::refuse_existing(&[Output::key(out.clone(), "")], args.password.force)
        .map_err(|e| with_hint(e, hint))?;
    let leaf_der = read::certificate(&crt)?;
    let leaf = Cert::parse(&leaf_der)
        .with_context(|| format!("`{}` is not a usable certificate", crt.display()))?;
    if !key_path.exists() {
        bail!(
            "`{}` has no key beside it (`{}`): a certificate signed from a CSR keeps its key on \
             the host that made it; make the keystore there (openssl pkcs12 -export)",
            crt.display(),
            key_path.display()
        );
    }
    let key = match read::private_key_der(&key_path)? {
        PrivateKeyDer::Pkcs8(der) => Zeroizing::new(der.secret_pkcs8_der().to_vec()),
        _ => bail!(
            "`{}` is not PKCS#8; convert it first (openssl pkcs8 -topk8 -nocrypt -in {} -out \
             pkcs8.key)",
            key_path.display(),
            key_path.display()
        ),
    };
    let key_pair = read::key_pair(&key_path)?;
    if !leaf.matches_key(key_pair.public_key_raw()) {
        bail!(
            "`{}` does not belong to `{}`; issue the pair again",
            key_path.display(),
            crt.display()
        );
    }
    let ca_path = dir.join("ca.crt");
    let cas = read::certificates(&ca_path)?;
    let ca = issuer_of(&leaf, &cas).ok_or_else(|| {
        anyhow!(
            "`{}` was not issued by a CA of `{}`; a keystore holds the chain to the CA the \
             peers trust",
            crt.display(),
            ca_path.display()
        )
    })?;
    let chain = vec![p12_cert(&leaf_der, &crt)?, p12_cert(ca, &ca_path)?];
    let key = PrivateKey::from_der(&key).map_err(|e| {
        anyhow!(
            "`{}`: cannot put the key in PKCS#12: {e}",
            key_path.display()
        )
    })?;
    let mut local_key_id = [0u8; 20];
    aws_lc_rs::rand::fill(&mut local_key_id)
        .map_err(|_| anyhow!("the system random source failed"))?;
    let mut keystore = KeyStore::new();
    keystore.add_entry(
        stem,
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(local_key_id.to_vec(), key, chain)),
    );
    let bytes = write_store(&keystore, &password)?;
    let mut plan = Plan::new();
    plan.file(Output::key(out.clone(), bytes), args.password.force);
    plan.execute_or_hint(&lock, hint)?;
    Ok(Exported {
        what: format!(
            "Exported `{}` with its key and CA as a PKCS#12 keystore (alias \"{stem}\")",
            crt.display()
        ),
        kind: "keystore",
        out,
        secret: true,
        protection: protection(&args.password),
    })
}

/// `otelpki export truststore`.
pub fn truststore(dir: &Path, args: &TruststoreOptions) -> Result<Exported> {
    let out: PathBuf = dir.join(TRUSTSTORE);
    let hint = "pass --force to replace it";
    let password = password(&args.password)?;
    let ca_path = dir.join("ca.crt");
    if !ca_path.exists() {
        bail!(
            "`{}` does not exist; create the CA first (otelpki init-ca)",
            ca_path.display()
        );
    }
    let lock = store::lock(dir)?;
    store::refuse_existing(&[Output::public(out.clone(), "")], args.password.force)
        .map_err(|e| with_hint(e, hint))?;
    let cas = read::certificates(&ca_path)?;
    let mut keystore = KeyStore::new();
    for (i, der) in cas.iter().enumerate() {
        let alias = if i == 0 {
            "ca".to_string()
        } else {
            format!("ca-{}", i + 1)
        };
        keystore.add_entry(&alias, KeyStoreEntry::Certificate(p12_cert(der, &ca_path)?));
    }
    let bytes = write_store(&keystore, &password)?;
    let mut plan = Plan::new();
    plan.file(Output::public(out.clone(), bytes), args.password.force);
    plan.execute_or_hint(&lock, hint)?;
    Ok(Exported {
        what: format!(
            "Exported the CA of `{}` as a PKCS#12 truststore ({} trusted certificate{})",
            ca_path.display(),
            cas.len(),
            if cas.len() == 1 { "" } else { "s" }
        ),
        kind: "truststore",
        out,
        secret: false,
        protection: protection(&args.password),
    })
}

/// Where the password came from, as the output says it.
fn protection(args: &PasswordOptions) -> String {
    if args.empty_password {
        "the empty password".to_string()
    } else if let Some(path) = &args.password_file {
        format!("the password in `{}`", path.display())
    } else {
        format!("the password from {PASSWORD_ENV}")
    }
}
