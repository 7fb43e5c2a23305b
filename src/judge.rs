//! The judge: every judgement otelpki makes of a certificate, each in one place, used by
//! `verify`, `check`, `probe`, `apply`, `config`, `renew` and `rotate-ca`. The chain, the
//! purpose (extKeyUsage) and the host name or IP are judged by rustls-webpki, the verifier rustls
//! uses (`judge`, `chain`, `signed_by`, `covers`); validity now (`validity`, `ca_findings`);
//! whether a key belongs to a certificate (`key_finding`, by `Cert::matches_key`). Each problem
//! becomes a `Finding` whose fix is the otelpki command that issues a correct certificate
//! (`Reissue`).
//!
//! ```
//! use otelpki::cert::Cert;
//! use otelpki::judge::{self, Anchors};
//! use otelpki::model::Purpose;
//!
//! let dir = std::env::temp_dir().join(format!("otelpki-judge-doc-{}", std::process::id()));
//! let now = time::OffsetDateTime::now_utc();
//! otelpki::fixtures::generate(&dir, Some("judge example"), now)?;
//! let ca = Anchors::load(&dir.join("ca.crt"))?;
//! let trust: Vec<_> = ca
//!     .certs
//!     .iter()
//!     .map(|c| webpki::anchor_from_trusted_cert(c).map(|a| a.to_owned()))
//!     .collect::<Result<_, _>>()?;
//! // the good server certificate chains to the CA as a server, not as a client
//! let server = Cert::read(&dir.join("server.crt"))?;
//! assert!(judge::chain(&server, &trust, Purpose::Server, now).is_ok());
//! assert!(judge::chain(&server, &trust, Purpose::Client, now).is_err());
//! // the expired one does not, now
//! let expired = Cert::read(&dir.join("expired-server.crt"))?;
//! assert!(judge::chain(&expired, &trust, Purpose::Server, now).is_err());
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

use anyhow::Result;
use rcgen::KeyPair;
use rustls::pki_types::TrustAnchor;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use time::OffsetDateTime;
use webpki::{EndEntityCert, KeyUsage};

use crate::cert::Cert;
use crate::inspect::{CertInfo, Validity};
use crate::model::date;
use crate::profile::Role;
use crate::read;
use crate::report::{self, Code, Finding};

use crate::model::Purpose;

/// The webpki usage that a purpose asks of a chain.
fn usage(p: Purpose) -> KeyUsage {
    match p {
        Purpose::Server => KeyUsage::server_auth(),
        Purpose::Client => KeyUsage::client_auth(),
    }
}

/// The purpose a certificate's extKeyUsage states, if exactly one of the two.
pub fn purpose_of(cert: &Cert) -> Option<Purpose> {
    let has = |p: &str| cert.extended_key_usage.iter().any(|e| e == p);
    match (has("serverAuth"), has("clientAuth")) {
        (true, false) => Some(Purpose::Server),
        (false, true) => Some(Purpose::Client),
        _ => None,
    }
}

/// Accepts any extKeyUsage (a malformed one still fails): to learn whether the chain is good
/// when the purpose is not.
struct AnyPurpose;

impl webpki::ExtendedKeyUsageValidator for AnyPurpose {
    fn validate(&self, iter: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        for id in iter {
            id?;
        }
        Ok(())
    }
}

/// The certificates of a CA file, used as trust anchors.
pub struct Anchors {
    pub path: PathBuf,
    pub certs: Vec<CertificateDer<'static>>,
}

impl Anchors {
    /// Reads the CA file; a file that cannot be a trust anchor is an input error.
    pub fn load(path: &Path) -> Result<Anchors> {
        let certs = read::certificates(path)?;
        for c in &certs {
            webpki::anchor_from_trusted_cert(c).map_err(|e| {
                anyhow::anyhow!(
                    "`{}` cannot be used as a CA: rustls/webpki refuses it ({e:?})",
                    path.display()
                )
            })?;
        }
        Ok(Anchors {
            path: path.to_path_buf(),
            certs,
        })
    }

    fn trust_anchors(&self) -> Vec<TrustAnchor<'_>> {
        self.certs
            .iter()
            .filter_map(|c| webpki::anchor_from_trusted_cert(c).ok())
            .collect()
    }

    fn subjects(&self) -> Vec<String> {
        self.certs
            .iter()
            .filter_map(|c| Cert::parse(c).ok())
            .map(|c| c.subject)
            .collect()
    }

    pub fn shown(&self) -> String {
        format!("`{}`", self.path.display())
    }
}

/// How to make a correct certificate in place of one: its directory, file stem, names and
/// subject, turned into `otelpki issue ...` commands.
#[derive(Clone, Debug)]
pub struct Reissue {
    pub dir: PathBuf,
    pub stem: String,
    pub cn: Option<String>,
    pub org: Option<String>,
    /// DNS names and IP addresses, in the certificate's order.
    pub names: Vec<String>,
    /// The CA certificate to sign with when `dir` holds no CA pair (`--ca-cert`, with its key
    /// beside it as `--ca-key`).
    pub ca: Option<PathBuf>,
}

impl Reissue {
    /// From the certificate at `path`: its directory and stem, its names and subject.
    pub fn of(path: &Path, cert: &Cert) -> Reissue {
        Reissue {
            dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            stem: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            cn: cert.common_name.clone(),
            org: cert.organization.clone(),
            names: cert.host_names(),
            ca: None,
        }
    }

    /// Signed by the CA at `ca_cert` (key beside it) when the certificate's own directory
    /// holds no CA pair: a fix must not point at a directory that cannot sign.
    pub fn with_ca(mut self, ca_cert: &Path) -> Reissue {
        let own = self.dir.join("ca.crt").exists() && self.dir.join("ca.key").exists();
        if !own && ca_cert.with_extension("key").exists() {
            self.ca = Some(ca_cert.to_path_buf());
        }
        self
    }

    /// For a certificate that is not a file here (a server's, seen by `probe`): written to
    /// DIR/server.crt.
    pub fn remote(dir: &Path, cert: &Cert) -> Reissue {
        // the stem comes from the name: `server`
        Reissue {
            dir: dir.to_path_buf(),
            ..Reissue::of(Path::new("server.crt"), cert)
        }
    }

    /// The command that issues this certificate again as a `role` certificate, with `extra`
    /// added to its names.
    pub fn command(&self, role: Role, extra: Option<&str>) -> String {
        let mut names = self.names.clone();
        if let Some(extra) = extra {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(extra)) {
                names.push(extra.to_string());
            }
        }
        let sans = names.join(",");
        let mut args: Vec<&str> = Vec::new();
        match role {
            Role::Client => {
                args.extend(["issue", "client", "--cn"]);
                args.push(self.cn.as_deref().unwrap_or("my-application"));
                if !names.is_empty() {
                    args.extend(["--san", &sans]);
                }
            }
            _ => {
                args.extend(["issue", "server", "--san"]);
                args.push(if names.is_empty() { "HOST" } else { &sans });
            }
        }
        if let Some(org) = &self.org {
            args.extend(["--org", org]);
        }
        // A stem that is the other role's default (client.crt re-issued as a server
        // certificate) or the CA's is not kept: the new certificate takes its role's default.
        let keep = !matches!(self.stem.as_str(), "" | "ca" | "server" | "client");
        if keep {
            args.extend(["--name", &self.stem]);
        }
        args.push("--force");
        let (ca_cert, ca_key);
        if let Some(ca) = &self.ca {
            ca_cert = ca.display().to_string();
            ca_key = ca.with_extension("key").display().to_string();
            args.extend(["--ca-cert", &ca_cert, "--ca-key", &ca_key]);
        }
        report::command(&self.dir, &args)
    }
}

/// A leaf certificate under judgement.
pub struct Leaf<'a> {
    /// How findings name it: a file, or the server at an endpoint.
    pub about: String,
    /// The leaf, parsed.
    pub cert: &'a Cert,
    /// Any intermediates presented with it.
    pub intermediates: &'a [CertificateDer<'static>],
    /// The role a correct certificate in its place has.
    pub role: Role,
    pub reissue: Reissue,
}

impl Leaf<'_> {
    fn fix(&self, extra_name: Option<&str>) -> String {
        self.reissue.command(self.role, extra_name)
    }
}

fn unix(t: OffsetDateTime) -> UnixTime {
    UnixTime::since_unix_epoch(StdDuration::from_secs(
        u64::try_from(t.unix_timestamp()).unwrap_or(0),
    ))
}

fn days_between(a: OffsetDateTime, b: OffsetDateTime) -> String {
    match (b - a).whole_days() {
        0 => "less than a day".into(),
        1 => "1 day".into(),
        n => format!("{n} days"),
    }
}

/// Whether the leaf is valid now: expired and not-yet-valid findings.
pub fn validity(leaf: &Leaf<'_>, info: &CertInfo, now: OffsetDateTime) -> Option<Finding> {
    match info.validity {
        Validity::Valid => None,
        Validity::Expired => Some(Finding::new(
            Code::Expired,
            &leaf.about,
            format!(
                "expired on {} ({} ago); every TLS client and server refuses it",
                date(info.not_after),
                days_between(info.not_after, now)
            ),
            leaf.fix(None),
        )),
        Validity::NotYetValid => Some(Finding::new(
            Code::NotYetValid,
            &leaf.about,
            format!(
                "is not valid before {} (in {}): the clock of this machine or of the one that \
                 issued it is wrong",
                crate::inspect::when(info.not_before),
                days_between(now, info.not_before)
            ),
            format!(
                "correct the clock (e.g. enable NTP: timedatectl set-ntp true), or issue it again:\n{}",
                leaf.fix(None)
            ),
        )),
    }
}

/// Judges `leaf` with rustls-webpki against `anchors` for `purpose` (any, if None) and, if
/// given, `host`: validity now, purpose, chain, name. Each dimension is reported on its own:
/// webpki stops at the first problem, so after an expiry or purpose failure the chain is
/// judged again at a time the leaf was valid, and for any purpose.
pub fn judge(
    leaf: &Leaf<'_>,
    anchors: &Anchors,
    purpose: Option<Purpose>,
    host: Option<&ServerName<'_>>,
    now: OffsetDateTime,
) -> Result<Vec<Finding>> {
    let der = &leaf.cert.der;
    let info = CertInfo::of(leaf.cert, now);
    let mut findings: Vec<Finding> = validity(leaf, &info, now).into_iter().collect();

    let ee = match EndEntityCert::try_from(der) {
        Ok(ee) => ee,
        Err(webpki::Error::UnsupportedCriticalExtension) => {
            findings.push(unknown_critical(leaf, &info));
            return Ok(findings);
        }
        Err(e) => {
            findings.push(Finding::new(
                Code::InvalidCertificate,
                &leaf.about,
                format!(
                    "rustls/webpki cannot use it at all ({e:?}), and other TLS stacks are as strict"
                ),
                leaf.fix(None),
            ));
            return Ok(findings);
        }
    };
    let trust = anchors.trust_anchors();
    let time = unix(now.clamp(info.not_before, info.not_after));
    let intermediates = leaf.intermediates;
    let verify = |purpose: Option<Purpose>| match purpose {
        Some(p) => verify_chain(&ee, &trust, intermediates, time, usage(p)),
        None => verify_chain(&ee, &trust, intermediates, time, AnyPurpose),
    };
    match verify(purpose) {
        Ok(()) => {}
        Err(e) if is_purpose_error(&e) => {
            if let Some(p) = purpose {
                findings.push(wrong_purpose(leaf, &info, p));
            }
            if let Err(e) = verify(None) {
                findings.push(chain_finding(leaf, &info, anchors, &e));
            }
        }
        Err(e) => findings.push(chain_finding(leaf, &info, anchors, &e)),
    }

    if let Some(host) = host {
        if let Err(e) = coverage(&ee, host) {
            findings.push(name_mismatch(leaf, &info, host, &e));
        }
    }
    Ok(findings)
}

fn verify_chain(
    ee: &EndEntityCert<'_>,
    trust: &[TrustAnchor<'_>],
    intermediates: &[CertificateDer<'_>],
    time: UnixTime,
    usage: impl webpki::ExtendedKeyUsageValidator,
) -> std::result::Result<(), webpki::Error> {
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        trust,
        intermediates,
        time,
        usage,
        None,
        None,
    )
    .map(|_| ())
}

/// Path validation of the leaf `cert` to one of `trust` for `purpose` at `now`, by rustls-webpki:
/// the one chain check (`judge` explains its errors as findings; `apply` turns them into reasons
/// to renew).
pub fn chain(
    cert: &Cert,
    trust: &[TrustAnchor<'_>],
    purpose: Purpose,
    now: OffsetDateTime,
) -> std::result::Result<(), webpki::Error> {
    let ee = EndEntityCert::try_from(&cert.der)?;
    verify_chain(&ee, trust, &[], unix(now), usage(purpose))
}

#[allow(deprecated)]
fn is_purpose_error(e: &webpki::Error) -> bool {
    matches!(
        e,
        webpki::Error::RequiredEkuNotFound
            | webpki::Error::RequiredEkuNotFoundContext(_)
            | webpki::Error::EmptyEkuExtension
    )
}

fn eku_text(info: &CertInfo) -> String {
    if info.extended_key_usage.is_empty() {
        "an empty extKeyUsage".into()
    } else {
        format!("extKeyUsage {}", info.extended_key_usage.join(", "))
    }
}

fn wrong_purpose(leaf: &Leaf<'_>, info: &CertInfo, p: Purpose) -> Finding {
    let what = match p {
        Purpose::Server => "a TLS server (e.g. the Collector's receiver)",
        Purpose::Client => "a TLS client (e.g. an application with mTLS)",
    };
    let fix = leaf.reissue.command(p.role(), None);
    Finding::new(
        Code::WrongPurpose,
        &leaf.about,
        format!(
            "cannot be used by {what}: it has {}, and {} is required",
            eku_text(info),
            p.eku()
        ),
        fix,
    )
}

fn name_mismatch(
    leaf: &Leaf<'_>,
    info: &CertInfo,
    host: &ServerName<'_>,
    e: &webpki::Error,
) -> Finding {
    let host = host.to_str();
    let why = match e {
        webpki::Error::CertNotValidForName(_) => String::new(),
        other => format!(" ({other:?})"),
    };
    let kind = if host.parse::<std::net::IpAddr>().is_ok() {
        "IP address"
    } else {
        "name"
    };
    Finding::new(
        Code::NameMismatch,
        &leaf.about,
        format!(
            "does not cover the {kind} `{host}` that clients connect to{why}; it covers {} \
             (only subjectAltNames count, never the CN)",
            info.names_text()
        ),
        leaf.fix(Some(&host)),
    )
}

fn chain_finding(
    leaf: &Leaf<'_>,
    info: &CertInfo,
    anchors: &Anchors,
    e: &webpki::Error,
) -> Finding {
    use webpki::Error as E;
    let ca = anchors.shown();
    let ca_names = anchors
        .subjects()
        .into_iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let fix = leaf.fix(None);
    match e {
        E::UnknownIssuer => Finding::new(
            Code::UnknownCa,
            &leaf.about,
            format!(
                "is not signed by the CA in {ca}: it was issued by \"{}\", and {ca} holds {ca_names}",
                info.issuer
            ),
            fix,
        ),
        E::InvalidSignatureForPublicKey => Finding::new(
            Code::UnknownCa,
            &leaf.about,
            format!(
                "names \"{}\" as its issuer, like the CA in {ca}, but another key signed it: \
                 the CA was re-created (init-ca --force) after it was issued, or it comes from \
                 another CA of the same name",
                info.issuer
            ),
            fix,
        ),
        E::CaUsedAsEndEntity => Finding::new(
            Code::NotALeaf,
            &leaf.about,
            "is a CA certificate (basicConstraints CA:TRUE), not a server or client certificate",
            fix,
        ),
        E::UnsupportedCriticalExtension => unknown_critical(leaf, info),
        E::CertExpired { not_after, .. } => Finding::new(
            Code::InvalidChain,
            &leaf.about,
            format!(
                "a CA certificate in its chain expired on {}",
                date(from_unix(*not_after))
            ),
            fix,
        ),
        E::CertNotValidYet { not_before, .. } => Finding::new(
            Code::InvalidChain,
            &leaf.about,
            format!(
                "a CA certificate in its chain is not valid before {}",
                date(from_unix(*not_before))
            ),
            fix,
        ),
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => Finding::new(
            Code::InvalidCertificate,
            &leaf.about,
            "is signed with an algorithm rustls/webpki refuses (e.g. SHA-1, or RSA under 2048 bits)",
            fix,
        ),
        other => Finding::new(
            Code::InvalidChain,
            &leaf.about,
            format!("rustls/webpki refuses its chain to {ca}: {other:?}"),
            fix,
        ),
    }
}

fn unknown_critical(leaf: &Leaf<'_>, info: &CertInfo) -> Finding {
    let which = if info.unknown_critical_extensions.is_empty() {
        String::new()
    } else {
        format!(" ({})", info.unknown_critical_extensions.join(", "))
    };
    Finding::new(
        Code::InvalidCertificate,
        &leaf.about,
        format!("has a critical extension TLS stacks do not know{which}; they all refuse it"),
        leaf.fix(None),
    )
}

fn from_unix(t: UnixTime) -> OffsetDateTime {
    i64::try_from(t.as_secs())
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Whether the CA certificate `ca` signed the leaf `leaf` (rustls-webpki path validation with
/// `ca` as the only anchor, for any purpose, at a time within the leaf's validity): how
/// `renew` and `rotate-ca` tell the leaves of the old CA from those of the new one.
pub fn signed_by(leaf: &Cert, ca: &CertificateDer<'_>) -> bool {
    let (Ok(ee), Ok(anchor)) = (
        EndEntityCert::try_from(&leaf.der),
        webpki::anchor_from_trusted_cert(ca),
    ) else {
        return false;
    };
    let at = OffsetDateTime::now_utc().clamp(leaf.not_before, leaf.not_after.max(leaf.not_before));
    verify_chain(&ee, &[anchor], &[], unix(at), AnyPurpose).is_ok()
}

/// Whether the certificate `der` covers `name` (a DNS name, wildcards as TLS clients match
/// them, or an IP address), judged by rustls-webpki as the SDKs' TLS stacks judge it: the one
/// host-coverage test, used by `verify --host`, `check --endpoint` and `config`.
pub fn covers(cert: &Cert, name: &ServerName<'_>) -> bool {
    EndEntityCert::try_from(&cert.der).is_ok_and(|ee| coverage(&ee, name).is_ok())
}

/// The host-coverage test itself, with webpki's reason when the name is not covered.
fn coverage(ee: &EndEntityCert<'_>, name: &ServerName<'_>) -> Result<(), webpki::Error> {
    ee.verify_is_valid_for_subject_name(name)
}

/// A finding if the key at `key_path` does not belong to the leaf.
pub fn key_finding(leaf: &Leaf<'_>, key_path: &Path, key: &KeyPair) -> Result<Option<Finding>> {
    if leaf.cert.matches_key(key.public_key_raw()) {
        return Ok(None);
    }
    Ok(Some(Finding::new(
        Code::KeyMismatch,
        &leaf.about,
        format!(
            "the key `{}` does not belong to it (their public keys differ): a TLS stack refuses \
             to load the pair",
            key_path.display()
        ),
        format!(
            "issue a new pair (certificate and key together):\n{}",
            leaf.fix(None)
        ),
    )))
}

/// Problems of the CA file itself: not a CA, expired, not yet valid, or (with `window`)
/// expiring soon. `reissue_all` are the commands that re-issue what it signed.
pub fn ca_findings(
    anchors: &Anchors,
    now: OffsetDateTime,
    window: Option<(time::Duration, &str)>,
    reissue_all: &[String],
) -> Result<Vec<Finding>> {
    let mut findings = Vec::new();
    let about = anchors.path.display().to_string();
    let dir = anchors.path.parent().unwrap_or(Path::new(""));
    // otelpki makes only DIR/ca.crt; another CA file is renewed by whoever made it.
    let ours = anchors.path.file_name() == Some(std::ffi::OsStr::new("ca.crt"));
    let mut renew = vec![if ours {
        report::command(dir, &["init-ca", "--force"])
    } else {
        format!(
            "renew `{}` where it was made (otelpki creates only DIR/ca.crt: {})",
            anchors.path.display(),
            report::command(Path::new("DIR"), &["init-ca"])
        )
    }];
    if reissue_all.is_empty() {
        renew.push(
            "then issue every server and client certificate again (otelpki issue ... --force)"
                .into(),
        );
    } else {
        renew.push("then issue every certificate it signed again:".into());
        renew.extend(reissue_all.iter().cloned());
    }
    let renew = renew.join("\n");
    for der in &anchors.certs {
        let info = CertInfo::of(&Cert::parse(der)?, now);
        let name = format!("the CA \"{}\"", info.subject);
        if !info.is_ca {
            findings.push(Finding::new(
                Code::NotACa,
                &about,
                format!(
                    "{name} is not a CA certificate (no basicConstraints CA:TRUE): Go, OpenSSL \
                     and Java refuse every certificate that chains to it"
                ),
                format!("create a CA and issue from it:\n{renew}"),
            ));
        }
        match info.validity {
            Validity::Expired => findings.push(Finding::new(
                Code::CaExpired,
                &about,
                format!(
                    "{name} expired on {} ({} ago): Go, OpenSSL and Java refuse every certificate it signed",
                    date(info.not_after),
                    days_between(info.not_after, now)
                ),
                renew.clone(),
            )),
            Validity::NotYetValid => findings.push(Finding::new(
                Code::CaNotYetValid,
                &about,
                format!(
                    "{name} is not valid before {}: a clock is wrong",
                    crate::inspect::when(info.not_before)
                ),
                "correct the clock (e.g. enable NTP: timedatectl set-ntp true)",
            )),
            Validity::Valid => {
                if let Some((w, text)) = window {
                    if info.not_after < now + w {
                        findings.push(Finding::new(
                            Code::CaExpiring,
                            &about,
                            format!(
                                "{name} expires on {}, in {} (within {text}); every certificate it signed stops working then",
                                date(info.not_after),
                                days_between(now, info.not_after)
                            ),
                            renew.clone(),
                        ));
                    }
                }
            }
        }
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine;
    use crate::key::KeyType;
    use crate::profile::{self, Spec};

    /// A CA valid until `not_after`, as the anchors of a `ca.crt`.
    fn anchors(not_after: OffsetDateTime) -> Anchors {
        let spec = Spec {
            cn: "Window CA".into(),
            org: None,
            sans: Vec::new(),
            not_before: not_after - time::Duration::days(100),
            not_after,
            serial: profile::random_serial().unwrap(),
            key_type: KeyType::EcdsaP256,
        };
        let (signed, _) = engine::make_ca(&spec, KeyType::EcdsaP256.generate().unwrap()).unwrap();
        let der = pem::parse(signed.cert_pem.as_bytes())
            .unwrap()
            .into_contents();
        Anchors {
            path: PathBuf::from("certs/ca.crt"),
            certs: vec![CertificateDer::from(der)],
        }
    }

    /// "Expiring within 30 days" means before now + 30 days: a CA that ends exactly then is
    /// not reported, one that ends a second earlier is (the leaves' rule in `check` too).
    #[test]
    fn a_ca_expiring_at_the_end_of_the_window_is_not_within_it() {
        let end = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        let ca = anchors(end);
        let w = time::Duration::days(30);
        let codes = |now: OffsetDateTime| -> Vec<Code> {
            ca_findings(&ca, now, Some((w, "30d")), &[])
                .unwrap()
                .iter()
                .map(|f| f.code)
                .collect()
        };
        assert_eq!(codes(end - w), Vec::<Code>::new());
        assert_eq!(
            codes(end - w + time::Duration::seconds(1)),
            [Code::CaExpiring]
        );
        assert_eq!(codes(end - w - time::Duration::days(1)), Vec::<Code>::new());
    }
}
