//! `KeyType`: the one place that knows the six key types: their CLI names, the rcgen
//! signature algorithm each one signs with, and how a key of that type is generated.

use anyhow::{Context, Result};
use rcgen::{KeyPair, RsaKeySize, SignatureAlgorithm, SigningKey};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// ECDSA on P-256 with SHA-256: accepted by every OpenTelemetry SDK (the default)
    EcdsaP256,
    /// ECDSA on P-384 with SHA-384
    EcdsaP384,
    /// Ed25519: not usable by the Java SDK, .NET, or gRPC-core based SDKs
    Ed25519,
    /// RSA 2048-bit, signatures with SHA-256
    Rsa2048,
    /// RSA 3072-bit, signatures with SHA-256
    Rsa3072,
    /// RSA 4096-bit, signatures with SHA-256 (slow to generate)
    Rsa4096,
}

/// Printed whenever an Ed25519 key is made: the stacks that cannot use one
/// (the SDKs' own documentation of their TLS settings). The quoted failures are the ones observed in
/// tests/sdk.rs: the real Collector's words when a gRPC-core client connects to its Ed25519
/// certificate, and a gRPC-core server's.
pub const ED25519_WARNING: &str = "warning: Ed25519 keys do not work everywhere: the OpenTelemetry \
Java SDK and .NET cannot load them, and gRPC-core based SDKs (Python, C++, Ruby, PHP) fail the TLS \
handshake against an Ed25519 server certificate (the Collector logs \"peer doesn't support any of \
the certificate's signature algorithms\"; a gRPC-core server, NO_COMMON_SIGNATURE_ALGORITHMS), as a \
gRPC-core server does with an Ed25519 client certificate; use --key-type ecdsa-p256 unless every \
client is known to support Ed25519";

impl std::str::FromStr for KeyType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        KeyType::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = KeyType::ALL.iter().map(|k| k.name()).collect();
                format!("`{s}` is not a key type; use one of {}", names.join(", "))
            })
    }
}

impl KeyType {
    /// What each key type is, for `--help`.
    pub fn describe(self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => {
                "ECDSA on P-256 with SHA-256: accepted by every OpenTelemetry SDK (the default)"
            }
            KeyType::EcdsaP384 => "ECDSA on P-384 with SHA-384",
            KeyType::Ed25519 => {
                "Ed25519: not usable by the Java SDK, .NET, or gRPC-core based SDKs"
            }
            KeyType::Rsa2048 => "RSA 2048-bit, signatures with SHA-256",
            KeyType::Rsa3072 => "RSA 3072-bit, signatures with SHA-256",
            KeyType::Rsa4096 => "RSA 4096-bit, signatures with SHA-256 (slow to generate)",
        }
    }

    pub const ALL: [KeyType; 6] = [
        KeyType::EcdsaP256,
        KeyType::EcdsaP384,
        KeyType::Ed25519,
        KeyType::Rsa2048,
        KeyType::Rsa3072,
        KeyType::Rsa4096,
    ];

    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::EcdsaP384 => "ecdsa-p384",
            KeyType::Ed25519 => "ed25519",
            KeyType::Rsa2048 => "rsa-2048",
            KeyType::Rsa3072 => "rsa-3072",
            KeyType::Rsa4096 => "rsa-4096",
        }
    }

    /// The algorithm a key of this type signs with: SHA-256 for P-256 and RSA,
    /// SHA-384 for P-384 (the profiles, src/profile.rs).
    pub fn algorithm(self) -> &'static SignatureAlgorithm {
        match self {
            KeyType::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyType::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            KeyType::Ed25519 => &rcgen::PKCS_ED25519,
            KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => &rcgen::PKCS_RSA_SHA256,
        }
    }

    pub fn is_rsa(self) -> bool {
        matches!(self, KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096)
    }

    /// A new key from the operating system's random source.
    pub fn generate(self) -> Result<KeyPair> {
        let key = match self {
            KeyType::Rsa2048 => KeyPair::generate_rsa_for(self.algorithm(), RsaKeySize::_2048),
            KeyType::Rsa3072 => KeyPair::generate_rsa_for(self.algorithm(), RsaKeySize::_3072),
            KeyType::Rsa4096 => KeyPair::generate_rsa_for(self.algorithm(), RsaKeySize::_4096),
            _ => KeyPair::generate_for(self.algorithm()),
        };
        key.with_context(|| format!("could not generate a {} key", self.name()))
    }

    /// The key type of a certificate's public key, if it is one otelpki issues.
    pub fn of_spki(spki: &SubjectPublicKeyInfo<'_>) -> Option<KeyType> {
        match spki.parsed().ok()? {
            PublicKey::RSA(rsa) => match rsa.key_size() {
                2048 => Some(KeyType::Rsa2048),
                3072 => Some(KeyType::Rsa3072),
                4096 => Some(KeyType::Rsa4096),
                _ => None,
            },
            PublicKey::EC(point) => match point.key_size() {
                256 => Some(KeyType::EcdsaP256),
                384 => Some(KeyType::EcdsaP384),
                _ => None,
            },
            PublicKey::Unknown(_)
                if spki.algorithm.algorithm == x509_parser::oid_registry::OID_SIG_ED25519 =>
            {
                Some(KeyType::Ed25519)
            }
            _ => None,
        }
    }
}

/// In JSON a key type is its command-line name (`rsa-2048`, not serde's `rsa2048`).
impl serde::Serialize for KeyType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl std::fmt::Display for KeyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A private key otelpki can sign with and write out as PKCS#8 PEM: rcgen's `KeyPair` (from the
/// OS random source, or loaded), or a seeded key of `seed.rs`.
pub trait PrivateKey: SigningKey {
    /// The key as a PKCS#8 PEM (`BEGIN PRIVATE KEY`).
    fn pkcs8_pem(&self) -> String;
}

impl PrivateKey for KeyPair {
    fn pkcs8_pem(&self) -> String {
        pkcs8_pem(self)
    }
}

/// The DER prefix of an Ed25519 private key in PKCS#8 v1 (RFC 8410 §7): version 0, the
/// id-Ed25519 algorithm, and an OCTET STRING holding the 32-byte seed as an OCTET STRING.
pub const ED25519_PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// A private key as PKCS#8 PEM (`BEGIN PRIVATE KEY`), the one form every TLS stack reads.
/// Ed25519 keys are written as PKCS#8 v1: the v2 form (with the public key appended) that
/// aws-lc produces is refused by OpenSSL 3.0 (`openssl pkey`: "unsupported").
pub fn pkcs8_pem(key: &KeyPair) -> String {
    if key.algorithm() == &rcgen::PKCS_ED25519 {
        if let Some(seed) = ed25519_seed(key.serialized_der()) {
            return ed25519_pkcs8_pem(seed);
        }
    }
    key.serialize_pem()
}

/// The PKCS#8 v1 PEM of the Ed25519 key with this 32-byte seed.
pub fn ed25519_pkcs8_pem(seed: &[u8; 32]) -> String {
    let mut der = ED25519_PKCS8_V1_PREFIX.to_vec();
    der.extend_from_slice(seed);
    // LF like every other PEM otelpki writes (pem::encode alone uses CRLF).
    pem::encode_config(
        &pem::Pem::new("PRIVATE KEY", der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// The seed of an Ed25519 PKCS#8 key (v1 or v2): the same 16-byte prefix but for the
/// outer length and the version.
fn ed25519_seed(der: &[u8]) -> Option<&[u8; 32]> {
    let (head, rest) = der.split_at_checked(16)?;
    let same =
        head[0] == 0x30 && head[2..4] == [0x02, 0x01] && head[5..] == ED25519_PKCS8_V1_PREFIX[5..];
    if !same {
        return None;
    }
    rest.get(..32)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ed25519_keys_are_written_as_pkcs8_v1_and_load_back() {
        let key = KeyType::Ed25519.generate().unwrap();
        let pem_text = pkcs8_pem(&key);
        let der = pem::parse(&pem_text).unwrap().into_contents();
        assert_eq!(der.len(), 48);
        assert_eq!(der[4], 0x00, "version 0 (v1)");
        assert!(!pem_text.contains('\r'), "LF line endings");
        let back = KeyPair::try_from(der.as_slice()).unwrap();
        assert_eq!(back.public_key_raw(), key.public_key_raw());
    }

    #[test]
    fn ed25519_seed_takes_only_an_ed25519_pkcs8_key() {
        let seed = [7u8; 32];
        let mut v1 = ED25519_PKCS8_V1_PREFIX.to_vec();
        v1.extend_from_slice(&seed);
        assert_eq!(ed25519_seed(&v1), Some(&seed));
        // aws-lc's v2 form (version 1, the public key appended) gives the same seed
        let key = KeyType::Ed25519.generate().unwrap();
        let v2 = key.serialized_der();
        assert_eq!(v2[4], 0x01, "aws-lc writes v2");
        let from_v2 = ed25519_seed(v2).unwrap();
        assert_eq!(ed25519_pkcs8_pem(from_v2), pkcs8_pem(&key));
        // any other byte of the prefix, or too few bytes, is not an Ed25519 key
        for (at, byte) in [
            (0, 0x31),
            (2, 0x03),
            (3, 0x02),
            (5, 0x31),
            (10, 0x71),
            (15, 0x21),
        ] {
            let mut bad = v1.clone();
            bad[at] = byte;
            assert_eq!(ed25519_seed(&bad), None, "byte {at} = {byte:#x}");
        }
        assert_eq!(ed25519_seed(&v1[..47]), None);
        assert_eq!(ed25519_seed(&v1[..10]), None);
    }

    #[test]
    fn other_keys_are_written_as_they_are() {
        let key = KeyType::EcdsaP256.generate().unwrap();
        assert_eq!(pkcs8_pem(&key), key.serialize_pem());
        assert_eq!(PrivateKey::pkcs8_pem(&key), key.serialize_pem());
        let ed = KeyType::Ed25519.generate().unwrap();
        assert_eq!(PrivateKey::pkcs8_pem(&ed), pkcs8_pem(&ed));
        assert!(pkcs8_pem(&ed).starts_with("-----BEGIN PRIVATE KEY-----\n"));
    }
}
