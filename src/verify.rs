//! `verify`: one certificate against a CA, judged by `judge` (chain, purpose, host, validity,
//! key match), as text or JSON.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rustls::pki_types::ServerName;
use serde::Serialize;
use time::OffsetDateTime;

use crate::cert::Cert;
use crate::inspect::CertInfo;
use crate::judge::{Anchors, Leaf, Reissue, ca_findings, judge, key_finding, purpose_of};
use crate::model::{Purpose, Role};
use crate::read;
use crate::report::Verdict;

/// `verify`.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// The certificate (a PEM bundle may add intermediates after it).
    pub cert: PathBuf,
    /// CA certificate(s) to verify against; None: DIR/ca.crt.
    pub ca: Option<PathBuf>,
    /// The host name or IP clients connect to.
    pub host: Option<String>,
    /// None: what the certificate's extKeyUsage says.
    pub purpose: Option<Purpose>,
    /// A private key that must belong to the certificate.
    pub key: Option<PathBuf>,
}

/// What `verify --json` reports besides the findings.
#[derive(Serialize)]
pub struct Details {
    certificate: CertInfo,
    ca: String,
    purpose: Option<Purpose>,
    host: Option<String>,
    key: Option<String>,
}

pub fn run(dir: &Path, args: &VerifyOptions) -> Result<Verdict<Details>> {
    let now = OffsetDateTime::now_utc();
    let chain = read::certificates(&args.cert)?;
    let ca_path = args.ca.clone().unwrap_or_else(|| dir.join("ca.crt"));
    if args.ca.is_none() && !ca_path.exists() {
        bail!(
            "no CA to verify against: `{}` does not exist; pass --ca FILE (the CA the other side trusts)",
            ca_path.display()
        );
    }
    let anchors = Anchors::load(&ca_path)?;
    let host = match &args.host {
        Some(h) => Some(
            ServerName::try_from(h.trim_start_matches('[').trim_end_matches(']').to_string())
                .map_err(|_| {
                    anyhow::anyhow!("--host `{h}` is not a valid host name or IP address")
                })?,
        ),
        None => None,
    };
    let cert = Cert::parse(&chain[0]).with_context(|| format!("`{}`", args.cert.display()))?;
    let info = CertInfo::of(&cert, now);
    let purpose = args.purpose.or_else(|| purpose_of(&cert));
    let role = match purpose {
        Some(p) => p.role(),
        None if info.sans.is_empty() => Role::Client,
        None => Role::Server,
    };
    let leaf = Leaf {
        about: args.cert.display().to_string(),
        cert: &cert,
        intermediates: &chain[1..],
        role,
        reissue: Reissue::of(&args.cert, &cert).with_ca(&anchors.path),
    };
    let mut findings = ca_findings(&anchors, now, None, &[])?;
    if info.is_ca && args.purpose.is_none() && args.host.is_none() {
        // A CA given as CERT: judge it as a CA (done above), not as a leaf.
        if !anchors.certs.contains(&chain[0]) {
            findings.extend(ca_findings(
                &Anchors {
                    path: args.cert.clone(),
                    certs: vec![chain[0].clone()],
                },
                now,
                None,
                &[],
            )?);
        }
    } else {
        findings.extend(judge(&leaf, &anchors, purpose, host.as_ref(), now)?);
    }
    if let Some(key_path) = &args.key {
        let key = read::key_pair(key_path)?;
        findings.extend(key_finding(&leaf, key_path, &key)?);
    }

    let mut text = format!(
        "{}: \"{}\", issued by \"{}\"\n",
        leaf.about, info.subject, info.issuer
    );
    text.push_str(&format!("  names:    {}\n", info.names_text()));
    text.push_str(&format!(
        "  valid:    until {} ({})\n",
        crate::inspect::when(info.not_after),
        info.validity_text()
    ));
    let mut checked = vec![format!("chain to {}", anchors.shown())];
    if let Some(p) = purpose {
        checked.push(format!("purpose {}", p.eku()));
    }
    if let Some(h) = &args.host {
        checked.push(format!("name `{h}`"));
    }
    if let Some(k) = &args.key {
        checked.push(format!("key `{}`", k.display()));
    }
    text.push_str(&format!("  checked:  {}\n", checked.join(", ")));
    let details = Details {
        certificate: info,
        ca: ca_path.display().to_string(),
        purpose,
        host: args.host.clone(),
        key: args.key.as_ref().map(|k| k.display().to_string()),
    };
    Ok(Verdict {
        details,
        text,
        findings,
    })
}
