//! The certificate profiles, and nothing else: what a CA, a server and a client certificate
//! contain. Everything that signs a certificate gets its `CertificateParams` from `params`.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyUsagePurpose, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use crate::key::KeyType;

pub use crate::model::Role;

/// What varies between two certificates of the same role.
#[derive(Clone, Debug)]
pub struct Spec {
    pub cn: String,
    pub org: Option<String>,
    pub sans: Vec<SanType>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// 16 bytes; `serial` makes it positive.
    pub serial: [u8; 16],
    /// The type of the subject's key (RSA leaves add keyEncipherment).
    pub key_type: KeyType,
}

/// Clients may be up to a minute ahead of us; a certificate valid "from now" would be
/// rejected by them (notBefore in the future), so every certificate starts a minute ago.
pub const BACKDATE: Duration = Duration::minutes(1);

/// The validity window `[now - 1 min, now + days]`, truncated to whole seconds as X.509 stores it.
pub fn validity(now: OffsetDateTime, days: u32) -> (OffsetDateTime, OffsetDateTime) {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    // `seed::clock` keeps `now` within years where neither end can overflow; saturating is
    // only a guard, never a panic.
    let end = now
        .checked_add(Duration::days(i64::from(days)))
        .unwrap_or(time::PrimitiveDateTime::MAX.assume_utc());
    let start = now
        .checked_sub(BACKDATE)
        .unwrap_or(time::PrimitiveDateTime::MIN.assume_utc());
    (start, end)
}

/// A positive serial number of exactly 16 bytes: the top bit cleared (positive) and the first
/// byte non-zero (so DER keeps all 16 bytes and the value is never zero).
pub fn serial(mut bytes: [u8; 16]) -> [u8; 16] {
    bytes[0] &= 0x7f;
    if bytes[0] == 0 {
        bytes[0] = 0x01;
    }
    bytes
}

/// 16 random bytes from the OS random source, made into a serial by `serial`.
pub fn random_serial() -> anyhow::Result<[u8; 16]> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system random source failed"))?;
    Ok(serial(bytes))
}

pub fn params(role: Role, spec: &Spec) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, spec.cn.as_str());
    if let Some(org) = &spec.org {
        dn.push(DnType::OrganizationName, org.as_str());
    }
    p.distinguished_name = dn;
    p.subject_alt_names = spec.sans.clone();
    p.not_before = spec.not_before;
    p.not_after = spec.not_after;
    p.serial_number = Some(SerialNumber::from_slice(&serial(spec.serial)));
    // keyUsage is always written critical by rcgen (RFC 5280 §4.2.1.3 "SHOULD").
    match role {
        Role::Ca => {
            // pathLen 0: this CA signs leaves only. No extKeyUsage: Go checks EKU down the
            // whole chain, so a CA EKU silently restricts every leaf (otel-tls-facts §0.7).
            p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
            p.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
                KeyUsagePurpose::DigitalSignature,
            ];
        }
        Role::Server | Role::Client => {
            // ExplicitNoCa writes basicConstraints CA:FALSE and a SubjectKeyIdentifier.
            p.is_ca = IsCa::ExplicitNoCa;
            // Python 3.13+ (X509_STRICT) rejects a leaf without AuthorityKeyIdentifier.
            p.use_authority_key_identifier_extension = true;
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            if spec.key_type.is_rsa() {
                // TLS 1.2 RSA key exchange encrypts to the leaf key.
                p.key_usages.push(KeyUsagePurpose::KeyEncipherment);
            }
            // Exactly one purpose per leaf.
            p.extended_key_usages = vec![match role {
                Role::Server => ExtendedKeyUsagePurpose::ServerAuth,
                _ => ExtendedKeyUsagePurpose::ClientAuth,
            }];
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_positive_sixteen_bytes() {
        assert_eq!(serial([0xff; 16])[0], 0x7f);
        assert_eq!(serial([0x80; 16])[0], 0x01);
        assert_eq!(serial([0x00; 16])[0], 0x01);
        let a = random_serial().unwrap();
        let b = random_serial().unwrap();
        assert_ne!(a, b);
        assert!(a[0] > 0 && a[0] < 0x80);
    }
}
