//! The entry points of the fuzz targets (`fuzz/`, through the `fuzzing` feature): the code that
//! reads untrusted input, called as the commands call it. Nothing here may panic, whatever the
//! bytes. Not an API: it exists for the fuzzer and for the bounded mutation loop below, which
//! runs the same harness in `cargo test` on machines without nightly.

use std::path::Path;

use time::OffsetDateTime;

use crate::{endpoint, inspect, read, san};

/// The reading path of every command: PEM/DER certificates, bundles and keys as `inspect`
/// reads and describes them (text and JSON), and `read::certificates_from` as
/// verify/check/probe use it.
pub fn read_cert(data: &[u8], now: OffsetDateTime) {
    let path = Path::new("fuzz-input");
    if let Ok(items) = read::contents_from(path, data) {
        for entry in inspect::items_of(path, &items, now).unwrap_or_default() {
            if let inspect::Content::Certificate(info) = entry.content {
                let mut text = String::new();
                info.text(&mut text, "");
                let _ = serde_json::to_string(&info);
            }
        }
    }
    let _ = read::certificates_from(path, data);
}

/// The parsers of user-given names: `--san` values and endpoint URLs, and what is made of them.
pub fn parse_names(text: &str) {
    if let Ok(san) = san::parse(text) {
        let _ = san.to_rcgen();
        let _ = san.to_string();
    }
    if let Ok(ep) = endpoint::parse(text) {
        let _ = ep.to_string();
        let _ = ep.https_url(4317, None);
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::engine;
    use crate::key::{KeyType, PrivateKey};
    use crate::model::Role;
    use crate::profile::{self, Spec};

    fn spec(cn: &str, sans: &[&str]) -> Spec {
        let (not_before, not_after) = profile::validity(OffsetDateTime::now_utc(), 30);
        Spec {
            cn: cn.into(),
            org: Some("MyCompany".into()),
            sans: sans
                .iter()
                .map(|s| san::parse(s).unwrap().to_rcgen().unwrap())
                .collect(),
            not_before,
            not_after,
            serial: profile::random_serial().unwrap(),
            key_type: KeyType::Rsa2048,
        }
    }

    /// The reading path and the parsers under a bounded, seeded mutation loop: flips,
    /// truncations, insertions and splices of real PEM and DER (an RSA CA, a server with DNS
    /// and IP SANs, a client key). Nothing may panic.
    #[test]
    fn reading_path_survives_mutations() {
        let (ca, issuer) =
            engine::make_ca(&spec("OTel CA", &[]), KeyType::Rsa2048.generate().unwrap()).unwrap();
        let server_key = KeyType::Rsa2048.generate().unwrap();
        let server = engine::make_leaf(
            Role::Server,
            &spec("localhost", &["localhost", "127.0.0.1", "::1"]),
            &server_key,
            &issuer,
        )
        .unwrap();
        let client_key = KeyType::Rsa2048.generate().unwrap().pkcs8_pem();
        let mut seeds: Vec<Vec<u8>> = Vec::new();
        for pem_text in [&ca.cert_pem, &server.cert_pem, &client_key] {
            let der = pem::parse(pem_text.as_bytes()).unwrap().into_contents();
            seeds.push(pem_text.as_bytes().to_vec());
            seeds.push(der);
        }
        let words = [
            "localhost",
            "*.example.com",
            "uri:spiffe://x/y",
            "email:a@b.c",
            "[::1]",
            "https://h:4317/v1/traces",
            "10.0.0.5",
        ];
        let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let now = OffsetDateTime::now_utc();
        let started = Instant::now();
        let mut iterations = 0;
        while iterations < 4000 && started.elapsed() < Duration::from_secs(20) {
            iterations += 1;
            let seed = &seeds[(next() % seeds.len() as u64) as usize];
            let mut m = seed.clone();
            for _ in 0..=(next() % 4) {
                if m.is_empty() {
                    break;
                }
                let at = (next() % m.len() as u64) as usize;
                match next() % 5 {
                    0 => m[at] ^= 1 << (next() % 8),
                    1 => m.truncate(at),
                    2 => m.insert(at, next() as u8),
                    3 => {
                        let other = &seeds[(next() % seeds.len() as u64) as usize];
                        let from = (next() % other.len() as u64) as usize;
                        m.splice(at..at, other[from..].iter().take(64).copied());
                    }
                    _ => m[at] = [0x00, 0x30, 0x80, 0xff, b'-'][(next() % 5) as usize],
                }
            }
            read_cert(&m, now);
            let mut w = words[(next() % words.len() as u64) as usize]
                .as_bytes()
                .to_vec();
            if !w.is_empty() {
                let at = (next() % w.len() as u64) as usize;
                w[at] = (next() % 128) as u8;
            }
            parse_names(&String::from_utf8_lossy(&w));
        }
        assert!(iterations >= 1000, "only {iterations} iterations in 20 s");
    }
}
