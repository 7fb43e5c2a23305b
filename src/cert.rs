//! The one parsed certificate: `Cert`, made once per certificate by `Cert::parse` (the only code
//! that turns X.509 DER into fields). Every command that looks inside a certificate (inspect,
//! verify, check, probe, config, apply, renew, rotate-ca, export) works on a `Cert`; none parses
//! DER itself. Text from the certificate is made printable here, once.

use std::net::IpAddr;

use anyhow::{Context, Result};
use rustls::pki_types::CertificateDer;
use serde::Serialize;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::key::KeyType;
use crate::model::Role;
use crate::read;
use crate::san::San;
use crate::text::printable;

/// A certificate, parsed: what every command reads from it.
#[derive(Clone, Debug)]
pub struct Cert {
    /// The certificate as it is on disk (DER), for the TLS stacks that judge it.
    pub der: CertificateDer<'static>,
    pub subject: String,
    pub issuer: String,
    /// Subject and issuer are the same name (a root CA, or a self-signed leaf).
    pub self_signed: bool,
    /// The first CN and O of the subject, if any.
    pub common_name: Option<String>,
    pub organization: Option<String>,
    /// Upper-case hex, as `openssl x509 -serial` prints it.
    pub serial: String,
    /// The subjectAltNames, in the certificate's order.
    pub alt_names: Vec<AltName>,
    pub public_key: PublicKeyInfo,
    /// The subjectPublicKey bits: what a private key's public half must equal (`matches_key`).
    pub public_key_raw: Vec<u8>,
    pub is_ca: bool,
    pub path_len: Option<u32>,
    /// keyUsage bits by their RFC 5280 names, e.g. `digitalSignature`.
    pub key_usage: Vec<&'static str>,
    /// Whether it has a keyUsage extension at all (without one, every usage is allowed).
    pub has_key_usage: bool,
    /// extKeyUsage purposes, e.g. `serverAuth`, `clientAuth`; other purposes by OID.
    pub extended_key_usage: Vec<String>,
    /// Critical extensions otelpki does not know; TLS stacks refuse such a certificate.
    pub unknown_critical_extensions: Vec<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// SHA-256 of the whole certificate, as `openssl x509 -fingerprint -sha256` prints it.
    pub fingerprint: String,
}

/// One subjectAltName entry as the certificate holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AltName {
    /// A name otelpki can issue: DNS name, IP address, URI, email (as the certificate has it).
    San(San),
    /// An IP address entry that is neither 4 nor 16 bytes long, in hex.
    BadIp(String),
    /// Another kind of name (directory name, otherName, ...), as printable text.
    Other(String),
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

impl Cert {
    /// Parses one DER certificate; what is not X.509 is an error.
    pub fn parse(der: &CertificateDer<'_>) -> Result<Cert> {
        let x = read::parse_cert(der)?;
        Cert::of(&x, der)
    }

    /// The first certificate of the file at `path`.
    pub fn read(path: &std::path::Path) -> Result<Cert> {
        Cert::parse(&read::certificate(path)?)
            .with_context(|| format!("`{}` is not a usable certificate", path.display()))
    }

    fn of(x: &X509Certificate<'_>, der: &CertificateDer<'_>) -> Result<Cert> {
        let bc = x.basic_constraints().ok().flatten().map(|b| b.value);
        let first =
            |it: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue<'_>>| {
                it.next()
                    .and_then(|a| a.as_str().ok())
                    .map(|s| printable(s).into_owned())
            };
        Ok(Cert {
            der: der.clone().into_owned(),
            subject: printable(&x.subject().to_string()).into_owned(),
            issuer: printable(&x.issuer().to_string()).into_owned(),
            self_signed: x.subject().as_raw() == x.issuer().as_raw(),
            common_name: first(&mut x.subject().iter_common_name()),
            organization: first(&mut x.subject().iter_organization()),
            serial: x
                .tbs_certificate
                .raw_serial()
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect(),
            alt_names: alt_names(x),
            public_key: PublicKeyInfo::of(x.public_key()),
            public_key_raw: x.public_key().subject_public_key.data.to_vec(),
            is_ca: bc.is_some_and(|b| b.ca),
            path_len: bc.and_then(|b| b.path_len_constraint),
            key_usage: key_usage(x),
            has_key_usage: matches!(x.key_usage(), Ok(Some(_))),
            extended_key_usage: extended_key_usage(x),
            unknown_critical_extensions: x
                .extensions()
                .iter()
                .filter(|e| {
                    e.critical
                        && matches!(
                            e.parsed_extension(),
                            ParsedExtension::UnsupportedExtension { .. }
                                | ParsedExtension::Unparsed
                        )
                })
                .map(|e| read::extension_name(&e.oid))
                .collect(),
            not_before: time_of(x.validity().not_before)?,
            not_after: time_of(x.validity().not_after)?,
            fingerprint: sha256_hex(der),
        })
    }

    /// The role its extensions give it: a CA (basicConstraints CA:TRUE), a server or a client
    /// (exactly one of serverAuth and clientAuth); None for anything else.
    pub fn role(&self) -> Option<Role> {
        let has = |p: &str| self.extended_key_usage.iter().any(|e| e == p);
        match (self.is_ca, has("serverAuth"), has("clientAuth")) {
            (true, _, _) => Some(Role::Ca),
            (false, true, false) => Some(Role::Server),
            (false, false, true) => Some(Role::Client),
            _ => None,
        }
    }

    /// Whether it may sign certificates: a CA whose keyUsage, if it has one, has keyCertSign.
    pub fn may_sign_certificates(&self) -> bool {
        !self.has_key_usage || self.key_usage.contains(&"keyCertSign")
    }

    pub fn key_type(&self) -> Option<KeyType> {
        self.public_key.key_type
    }

    /// The subjectAltNames otelpki can issue, in order.
    pub fn sans(&self) -> impl Iterator<Item = &San> {
        self.alt_names.iter().filter_map(|n| match n {
            AltName::San(san) => Some(san),
            _ => None,
        })
    }

    /// The DNS names and IP addresses, printable, in the certificate's order: the names a TLS
    /// client matches and an `issue` command repeats.
    pub fn host_names(&self) -> Vec<String> {
        self.sans()
            .filter_map(|san| match san {
                San::Dns(d) => Some(printable(d).into_owned()),
                San::Ip(ip) => Some(ip.to_string()),
                _ => None,
            })
            .collect()
    }

    /// Whether the public half of a private key (`public_key_raw`, as rcgen's
    /// `PublicKeyData::der_bytes` gives it) is this certificate's: the one key-match test.
    pub fn matches_key(&self, public_key_raw: &[u8]) -> bool {
        public_key_raw == self.public_key_raw.as_slice()
    }
}

fn time_of(t: x509_parser::time::ASN1Time) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(t.timestamp()).context("certificate date out of range")
}

fn alt_names(x: &X509Certificate<'_>) -> Vec<AltName> {
    let Ok(Some(san)) = x.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .map(|gn| match gn {
            GeneralName::DNSName(d) => AltName::San(San::Dns(d.to_string())),
            GeneralName::IPAddress(b) => match ip_from_bytes(b) {
                Some(ip) => AltName::San(San::Ip(ip)),
                None => AltName::BadIp(hex_colon(b)),
            },
            GeneralName::URI(u) => AltName::San(San::Uri(u.to_string())),
            GeneralName::RFC822Name(e) => AltName::San(San::Email(e.to_string())),
            other => AltName::Other(printable(&other.to_string()).into_owned()),
        })
        .collect()
}

fn key_usage(x: &X509Certificate<'_>) -> Vec<&'static str> {
    let Ok(Some(ku)) = x.key_usage() else {
        return Vec::new();
    };
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

fn extended_key_usage(x: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(eku)) = x.extended_key_usage() else {
        return Vec::new();
    };
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

/// An IP address from the bytes of an X.509 name (4 or 16 bytes).
pub fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => <[u8; 4]>::try_from(b).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(b).ok().map(IpAddr::from),
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose, SanType,
    };

    /// A self-signed certificate from `params`, parsed.
    fn made(params: CertificateParams) -> (Cert, KeyPair) {
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        (Cert::parse(cert.der()).unwrap(), key)
    }

    fn leaf(eku: &[ExtendedKeyUsagePurpose]) -> CertificateParams {
        let mut p = CertificateParams::new(vec!["a.example".into()]).unwrap();
        p.extended_key_usages = eku.to_vec();
        p
    }

    #[test]
    fn the_role_is_read_from_basic_constraints_and_the_one_purpose() {
        use ExtendedKeyUsagePurpose::{ClientAuth, CodeSigning, ServerAuth};
        let role = |p| made(p).0.role();
        let mut ca = leaf(&[ServerAuth]);
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        assert_eq!(role(ca), Some(Role::Ca));
        assert_eq!(role(leaf(&[ServerAuth])), Some(Role::Server));
        assert_eq!(role(leaf(&[ClientAuth])), Some(Role::Client));
        assert_eq!(role(leaf(&[ServerAuth, ClientAuth])), None);
        assert_eq!(role(leaf(&[CodeSigning])), None);
        assert_eq!(role(leaf(&[])), None);
    }

    #[test]
    fn may_sign_certificates_only_without_key_usage_or_with_key_cert_sign() {
        let mut p = leaf(&[]);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let (open, _) = made(p.clone());
        assert!(!open.has_key_usage && open.may_sign_certificates());
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let (no_sign, _) = made(p.clone());
        assert!(no_sign.has_key_usage && !no_sign.may_sign_certificates());
        assert_eq!(no_sign.key_usage, vec!["digitalSignature"]);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let (signs, _) = made(p);
        assert!(signs.may_sign_certificates());
        assert_eq!(signs.key_usage, vec!["keyCertSign", "cRLSign"]);
    }

    #[test]
    fn names_keep_their_kind_and_order() {
        let mut p = leaf(&[]);
        p.subject_alt_names = vec![
            SanType::IpAddress("::1".parse().unwrap()),
            SanType::DnsName("b.example".try_into().unwrap()),
            SanType::URI("spiffe://x/y".try_into().unwrap()),
            SanType::Rfc822Name("ops@example.com".try_into().unwrap()),
            SanType::IpAddress("10.0.0.5".parse().unwrap()),
        ];
        p.distinguished_name.push(DnType::CommonName, "the cn");
        p.distinguished_name
            .push(DnType::OrganizationName, "the org");
        let (c, _) = made(p);
        let sans: Vec<String> = c.sans().map(San::to_string).collect();
        assert_eq!(
            sans,
            [
                "::1",
                "b.example",
                "uri:spiffe://x/y",
                "email:ops@example.com",
                "10.0.0.5"
            ]
        );
        assert_eq!(c.host_names(), ["::1", "b.example", "10.0.0.5"]);
        assert_eq!(c.common_name.as_deref(), Some("the cn"));
        assert_eq!(c.organization.as_deref(), Some("the org"));
        assert!(c.self_signed);
        assert_eq!(c.subject, c.issuer);
    }

    #[test]
    fn ip_addresses_are_4_or_16_bytes_and_hex_is_colon_separated() {
        assert_eq!(
            ip_from_bytes(&[10, 0, 0, 5]),
            Some("10.0.0.5".parse().unwrap())
        );
        assert_eq!(ip_from_bytes(&[0; 16]), Some("::".parse().unwrap()));
        assert_eq!(ip_from_bytes(&[1, 2, 3]), None);
        assert_eq!(ip_from_bytes(&[0; 5]), None);
        assert_eq!(hex_colon(&[0xab, 0x01]), "AB:01");
    }

    #[test]
    fn the_key_matches_only_its_own_certificate() {
        let (c, key) = made(leaf(&[]));
        let other = KeyPair::generate().unwrap();
        assert!(c.matches_key(key.public_key_raw()));
        assert!(!c.matches_key(other.public_key_raw()));
        assert_eq!(c.key_type(), Some(KeyType::EcdsaP256));
        assert_eq!(c.public_key.algorithm, "ECDSA P-256");
        assert_eq!(c.public_key.bits, Some(256));
    }

    #[test]
    fn serial_validity_and_fingerprint_are_the_certificates() {
        let mut p = leaf(&[]);
        p.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x01, 0xab, 0xcd]));
        p.not_before = time::macros::datetime!(2030-01-02 03:04:05 UTC);
        p.not_after = time::macros::datetime!(2031-01-02 03:04:05 UTC);
        let key = KeyPair::generate().unwrap();
        let der = p.self_signed(&key).unwrap().der().clone();
        let c = Cert::parse(&der).unwrap();
        assert_eq!(c.serial, "01ABCD");
        assert_eq!(c.not_before, p.not_before);
        assert_eq!(c.not_after, p.not_after);
        assert_eq!(c.fingerprint, sha256_hex(&der));
        assert_eq!(c.fingerprint.len(), 32 * 3 - 1);
        assert!(Cert::parse(&CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x01])).is_err());
    }

    #[test]
    fn curves_are_named() {
        assert_eq!(curve_name("1.2.840.10045.3.1.7"), "P-256");
        assert_eq!(curve_name("1.3.132.0.34"), "P-384");
        assert_eq!(curve_name("1.3.132.0.35"), "P-521");
        assert_eq!(curve_name("1.3.132.0.10"), "secp256k1");
        assert_eq!(curve_name("1.2.3"), "1.2.3");
    }
}
