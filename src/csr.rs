//! `issue server|client --csr FILE` (docs/custody.md): sign a certificate signing request, so the
//! private key never leaves the host that made it. The CSR's own signature must verify (proof
//! that its maker holds the key); only its public key, its CN and its SANs are taken, and the
//! certificate is our profile for the role (`profile.rs`): the extensions it requests (CA:TRUE,
//! extKeyUsage, keyUsage, ...) are ignored. Writes `NAME.crt` only.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use rcgen::{PublicKeyData, SignatureAlgorithm};
use time::OffsetDateTime;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::cri_attributes::ParsedCriAttribute;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{OID_NIST_EC_P521, OID_PKCS1_SHA1WITHRSA, OID_SHA1_WITH_RSA};
use x509_parser::prelude::FromDer;

use crate::cert::ip_from_bytes;
use crate::engine::{self, Plan, with_hint};
use crate::issue::{self, ClientOptions, LeafOptions, ServerOptions, file_stem};
use crate::key::KeyType;
use crate::profile::{self, Role};
use crate::read;
use crate::report::Render;
use crate::san::{self, San};
use crate::store::{self, Output};

/// The longest CN otelpki puts in a certificate (RFC 5280's ub-common-name).
pub const MAX_CN: usize = 64;

/// What otelpki takes from a CSR whose signature verified.
#[derive(Debug)]
pub struct Request {
    /// The subjectPublicKey BIT STRING contents (the key itself, as in the certificate).
    pub public_key: Vec<u8>,
    pub key_type: KeyType,
    pub cn: Option<String>,
    pub sans: Vec<San>,
    /// What the CSR asked for that the certificate will not have, for the user to see.
    pub ignored: Vec<String>,
}

/// What `issue ... --csr` says: the certificate it signed, from which CSR, until when.
#[derive(Clone, Debug)]
pub struct Signed {
    /// e.g. `a server certificate for localhost`.
    pub what: String,
    pub key_type: KeyType,
    pub csr: PathBuf,
    pub cert: PathBuf,
    pub not_after: OffsetDateTime,
}

impl Render for Signed {
    fn text(&self) -> String {
        format!(
            "Signed {} ({}) from `{}`, valid until {}\n  certificate: {}\n  key:         stays on \
             the host that made the CSR (otelpki never saw it)\n",
            self.what,
            self.key_type,
            self.csr.display(),
            issue::date(self.not_after),
            self.cert.display()
        )
    }
}

/// The CSR's public key, to be signed by rcgen.
struct CsrKey<'a> {
    raw: &'a [u8],
    alg: &'static SignatureAlgorithm,
}

impl PublicKeyData for CsrKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.raw
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.alg
    }
}

/// Reads and verifies the CSR in `path` (PEM `CERTIFICATE REQUEST`, or DER).
pub fn read(path: &Path) -> Result<Request> {
    let bytes = read::read_small(path)?;
    let der = if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        let blocks = read::pem_blocks(path, &bytes)?;
        blocks
            .into_iter()
            .find(|b| b.tag() == "CERTIFICATE REQUEST" || b.tag() == "NEW CERTIFICATE REQUEST")
            .ok_or_else(|| {
                anyhow!(
                    "`{}` holds no certificate signing request (expected a -----BEGIN \
                     CERTIFICATE REQUEST----- block)",
                    path.display()
                )
            })?
            .into_contents()
    } else {
        bytes
    };
    parse(&der).with_context(|| format!("`{}` cannot be signed", path.display()))
}

/// Parses and verifies one DER CSR.
pub fn parse(der: &[u8]) -> Result<Request> {
    let (rest, csr) = X509CertificationRequest::from_der(der)
        .map_err(|e| anyhow!("it is not a valid certificate signing request ({e})"))?;
    if !rest.is_empty() {
        bail!("{} unexpected bytes follow the request", rest.len());
    }
    let info = &csr.certification_request_info;
    let key_type = KeyType::of_spki(&info.subject_pki).ok_or_else(|| {
        anyhow!(
            "its key is {}, and otelpki issues only for ECDSA P-256 and P-384, Ed25519 and RSA \
             2048, 3072 or 4096 keys",
            describe_key(&info.subject_pki)
        )
    })?;
    let alg = &csr.signature_algorithm.algorithm;
    if *alg == OID_PKCS1_SHA1WITHRSA || *alg == OID_SHA1_WITH_RSA {
        bail!("it is signed with SHA-1, which no TLS stack accepts any more; make it with SHA-256");
    }
    csr.verify_signature().map_err(|e| {
        anyhow!(
            "its signature does not verify with its own key ({e}): it was altered, or not \
             made with that key"
        )
    })?;

    let mut cn = None;
    for attr in info.subject.iter_common_name() {
        let value = attr
            .as_str()
            .map_err(|_| anyhow!("its subject CN is not a text string"))?;
        if cn.is_none() {
            cn = Some(check_text(value, "subject CN")?.to_string());
        }
    }
    let mut sans = Vec::new();
    let mut ignored = Vec::new();
    for attr in info.iter_attributes() {
        let ParsedCriAttribute::ExtensionRequest(request) = attr.parsed_attribute() else {
            continue;
        };
        for ext in &request.extensions {
            match ext.parsed_extension() {
                ParsedExtension::SubjectAlternativeName(names) => {
                    for name in &names.general_names {
                        match san_of(name)? {
                            Some(san) => sans.push(san),
                            None => ignored
                                .push("a subjectAltName of a kind otelpki does not issue".into()),
                        }
                    }
                }
                ParsedExtension::BasicConstraints(bc) if bc.ca => {
                    ignored.push("basicConstraints CA:TRUE".into());
                }
                ParsedExtension::ExtendedKeyUsage(eku) => {
                    let mut purposes = Vec::new();
                    if eku.server_auth {
                        purposes.push("serverAuth");
                    }
                    if eku.client_auth {
                        purposes.push("clientAuth");
                    }
                    if eku.any {
                        purposes.push("anyExtendedKeyUsage");
                    }
                    if purposes.is_empty() {
                        purposes.push("other purposes");
                    }
                    ignored.push(format!("extKeyUsage {}", purposes.join(", ")));
                }
                _ => ignored.push(read::extension_name(&ext.oid)),
            }
        }
    }
    Ok(Request {
        public_key: info.subject_pki.subject_public_key.data.to_vec(),
        key_type,
        cn,
        sans,
        ignored,
    })
}

/// A key type as people name it, for the refusal of one otelpki does not issue for.
fn describe_key(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> String {
    use x509_parser::public_key::PublicKey;
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => format!("RSA {}-bit", rsa.key_size()),
        Ok(PublicKey::EC(point)) => {
            // the point's length counts whole bytes: P-521's coordinates take 66 (528 bits)
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok());
            let bits = if curve == Some(OID_NIST_EC_P521) {
                521
            } else {
                point.key_size()
            };
            format!("an EC key of {bits} bits")
        }
        _ => format!(
            "of the algorithm {}",
            read::extension_name(&spki.algorithm.algorithm)
        ),
    }
}

/// Text from the CSR that will be in the certificate: at most 64 characters, no control
/// characters (it reaches logs, terminals and rendered configuration). Refused, shown escaped.
fn check_text<'a>(value: &'a str, what: &str) -> Result<&'a str> {
    if value.chars().any(char::is_control) {
        bail!(
            "its {what} \"{}\" contains control characters; otelpki refuses it",
            value.escape_debug()
        );
    }
    if value.chars().count() > MAX_CN {
        bail!(
            "its {what} \"{}\" is longer than {MAX_CN} characters; otelpki refuses it",
            value.escape_debug()
        );
    }
    Ok(value)
}

/// A SAN of the CSR as otelpki's `San` (checked like a `--san` value), None for kinds
/// otelpki does not issue (directoryName, otherName, ...).
fn san_of(name: &GeneralName<'_>) -> Result<Option<San>> {
    let text = match name {
        GeneralName::DNSName(d) => check_text(d, "subjectAltName")?.to_string(),
        GeneralName::IPAddress(b) => match ip_from_bytes(b) {
            Some(ip) => ip.to_string(),
            None => bail!(
                "its subjectAltName holds an IP address of {} bytes",
                b.len()
            ),
        },
        GeneralName::URI(u) => format!("uri:{}", check_text(u, "subjectAltName")?),
        GeneralName::RFC822Name(m) => format!("email:{}", check_text(m, "subjectAltName")?),
        _ => return Ok(None),
    };
    san::parse(&text)
        .map(Some)
        .map_err(|e| anyhow!("its subjectAltName is not one otelpki issues: {e}"))
}

/// Signs the CSR at `csr_path` as a `role` certificate and writes `NAME.crt`.
pub fn issue(
    dir: &Path,
    role: Role,
    csr_path: &Path,
    cn_flag: Option<&str>,
    sans_flag: &[San],
    leaf: &LeafOptions,
    name: &str,
) -> Result<Signed> {
    let stem = file_stem(name)?;
    let hint = issue::leaf_hint(role);
    let (crt, key_path) = engine::pair_paths(dir, stem);
    let outputs_check = [Output::public(crt.clone(), "")];
    // The CSR (from outside DIR) is judged before DIR is touched; then the writer's lock.
    let request = read(csr_path)?;
    let lock = store::lock(dir)?;
    store::refuse_existing(&outputs_check, leaf.force).map_err(|e| with_hint(e, &hint))?;
    // A key file of another key beside NAME.crt would make a pair that no TLS stack loads.
    if key_path.exists() {
        let belongs = read::key_pair(&key_path)
            .is_ok_and(|key| key.public_key_raw() == request.public_key.as_slice());
        if !belongs {
            bail!(
                "`{}` exists and does not hold the CSR's key, so `{}` beside it would not match \
                 it; choose another --name, or move the old key away",
                key_path.display(),
                crt.display()
            );
        }
    }
    let sans: Vec<San> = if sans_flag.is_empty() {
        request.sans.clone()
    } else {
        sans_flag.to_vec()
    };
    let cn = match role {
        Role::Server => {
            if sans.is_empty() {
                bail!(
                    "a server certificate needs names, and the CSR `{}` has no subjectAltName; \
                     give them with --san",
                    csr_path.display()
                );
            }
            match cn_flag.or(request.cn.as_deref()) {
                Some(cn) => cn.to_string(),
                None => issue::server_cn(None, &sans),
            }
        }
        _ => cn_flag
            .or(request.cn.as_deref())
            .map(str::to_string)
            .ok_or_else(|| {
                anyhow!(
                    "the CSR `{}` has no subject CN; give the application's name with --cn",
                    csr_path.display()
                )
            })?,
    };
    if cn.trim().is_empty() {
        bail!("the certificate's CN would be empty; give one with --cn");
    }
    issue::warn_key_type(request.key_type);
    let now = OffsetDateTime::now_utc();
    let ca = issue::issuer_for(dir, leaf, now)?;
    if !request.ignored.is_empty() {
        eprintln!(
            "note: the CSR asks for {}; otelpki ignores requested extensions and issues its {} \
             profile",
            request.ignored.join("; "),
            if role == Role::Server {
                "server"
            } else {
                "client"
            }
        );
    }
    let spec = issue::leaf_spec(
        cn,
        leaf.org.as_deref(),
        &sans,
        leaf.days,
        request.key_type,
        &ca,
        now,
    )?;
    let key = CsrKey {
        raw: &request.public_key,
        alg: request.key_type.algorithm(),
    };
    let mut plan = Plan::new();
    plan.file(
        Output::public(
            crt.clone(),
            engine::sign(&profile::params(role, &spec), &key, &ca.issuer)?,
        ),
        leaf.force,
    );
    plan.execute_or_hint(&lock, &hint)?;
    let what = match role {
        Role::Server => format!("a server certificate for {}", issue::names(&sans)),
        _ => format!("a client certificate for \"{}\"", spec.cn.escape_debug()),
    };
    Ok(Signed {
        what,
        key_type: request.key_type,
        csr: csr_path.to_path_buf(),
        cert: crt,
        not_after: spec.not_after,
    })
}

/// `issue server --csr FILE`.
pub fn server(dir: &Path, args: &ServerOptions, csr: &Path) -> Result<Signed> {
    issue(
        dir,
        Role::Server,
        csr,
        args.cn.as_deref(),
        &args.san,
        &args.leaf,
        &args.name,
    )
}

/// `issue client --csr FILE`.
pub fn client(dir: &Path, args: &ClientOptions, csr: &Path) -> Result<Signed> {
    if args.cn.as_deref().is_some_and(|cn| cn.trim().is_empty()) {
        bail!("--cn cannot be empty; give the application's name, e.g. --cn my-application");
    }
    issue(
        dir,
        Role::Client,
        csr,
        args.cn.as_deref(),
        &args.san,
        &args.leaf,
        &args.name,
    )
}
