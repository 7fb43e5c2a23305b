//! `check`: the whole PKI directory (every pair matches, every leaf chains to ca.crt for its
//! purpose, nothing expired or expiring within the window) and, with `--endpoint`, the
//! article's troubleshooting cases for the URL the SDKs will use: a host the server certificate
//! does not cover, `http://` with a TLS setup, a missing scheme or port, the other protocol's port.
//! Nothing is contacted; `probe` does that.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;
use time::OffsetDateTime;

use crate::cert::Cert;
use crate::endpoint::{Endpoint, GRPC_PORT, HTTP_PORT, Protocol, Scheme, protocol_name};
use crate::inspect::{CertInfo, Validity};
use crate::judge::{self, Anchors, Leaf, Reissue};
use crate::model::date;
use crate::model::{Purpose, Window};
use crate::pki::{self, Entry};
use crate::profile::Role;
use crate::read;
use crate::report::{self, Code, Finding, Verdict};
use crate::store;

/// One certificate of the directory in `check --json`.
#[derive(Serialize)]
pub struct Checked {
    file: String,
    role: Option<Role>,
    subject: String,
    names: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    not_after: OffsetDateTime,
    days_left: i64,
    key: Option<String>,
}

/// `check`.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// The OTLP endpoint the SDKs will use.
    pub endpoint: Option<Endpoint>,
    /// The endpoint's protocol; None: from its path.
    pub protocol: Option<Protocol>,
    /// Report certificates that expire within this time.
    pub expires_within: Window,
}

/// What `check --json` reports besides the findings.
#[derive(Serialize)]
pub struct Details {
    dir: String,
    expires_within: String,
    endpoint: Option<String>,
    /// `encrypted` or `plain` for DIR/ca.key, null if there is none.
    ca_key: Option<&'static str>,
    /// The CA rotation's phase (`rotate-ca status`): none, started or switched.
    rotation: Option<crate::rotate::Phase>,
    certificates: Vec<Checked>,
}

pub fn run(dir: &Path, args: &CheckOptions) -> Result<Verdict<Details>> {
    let now = OffsetDateTime::now_utc();
    let found = pki::scan_all(dir)?;
    let entries = found.entries;
    let window = &args.expires_within;
    let mut findings = Vec::new();
    let mut checked = Vec::new();
    let mut text = String::new();

    let reissue_all: Vec<String> = entries
        .iter()
        .filter(|e| e.role != Some(Role::Ca))
        .map(|e| {
            let (r, role) = reissue_of(e);
            r.command(role, None)
        })
        .collect();
    findings.extend(
        found
            .unreadable
            .iter()
            .map(|bad| unreadable_finding(dir, bad, &reissue_all)),
    );
    let ca_path = dir.join("ca.crt");
    let ca_unreadable = found.unreadable.iter().any(|bad| bad.path == ca_path);
    let anchors = if entries.iter().any(|e| e.cert_path == ca_path) {
        let anchors = Anchors::load(&ca_path)?;
        findings.extend(judge::ca_findings(
            &anchors,
            now,
            Some((window.duration, &window.text)),
            &reissue_all,
        )?);
        Some(anchors)
    } else if ca_unreadable {
        None
    } else {
        findings.push(Finding::new(
            Code::NoCa,
            dir.display().to_string(),
            "has no ca.crt, so nothing here can be verified (the Collector's client_ca_file and \
             the SDKs' OTEL_EXPORTER_OTLP_CERTIFICATE need it)",
            no_ca_fix(dir, &entries, &reissue_all),
        ));
        None
    };

    for entry in &entries {
        // read and parsed once, by the scan
        let info = CertInfo::of(&entry.cert, now);
        text.push_str(&line(entry, &info));
        checked.push(Checked {
            file: entry.cert_path.display().to_string(),
            role: entry.role,
            subject: info.subject.clone(),
            names: info.sans.iter().map(|n| n.to_string()).collect(),
            not_after: info.not_after,
            days_left: info.days_left,
            key: entry
                .key_exists
                .then(|| entry.key_path.display().to_string()),
        });
        if entry.role == Some(Role::Ca) {
            if entry.cert_path != ca_path {
                let other = Anchors::load(&entry.cert_path)?;
                findings.extend(judge::ca_findings(
                    &other,
                    now,
                    Some((window.duration, &window.text)),
                    &[],
                )?);
            }
            continue;
        }
        let (reissue, role) = reissue_of(entry);
        let leaf = Leaf {
            about: entry.cert_path.display().to_string(),
            cert: &entry.cert,
            intermediates: &entry.chain[1..],
            role,
            reissue,
        };
        let purpose = match entry.role {
            Some(Role::Server) => Some(Purpose::Server),
            Some(Role::Client) => Some(Purpose::Client),
            _ => {
                findings.push(Finding::new(
                    Code::NoPurpose,
                    &leaf.about,
                    format!(
                        "is neither a server nor a client certificate: it has {}; a leaf needs \
                         exactly one of serverAuth and clientAuth",
                        if info.extended_key_usage.is_empty() {
                            "no extKeyUsage".to_string()
                        } else {
                            format!("extKeyUsage {}", info.extended_key_usage.join(", "))
                        }
                    ),
                    leaf.reissue.command(role, None),
                ));
                None
            }
        };
        match &anchors {
            Some(anchors) => findings.extend(judge::judge(&leaf, anchors, purpose, None, now)?),
            None => findings.extend(judge::validity(&leaf, &info, now)),
        }
        if info.validity == Validity::Valid && info.not_after < now + window.duration {
            findings.push(Finding::new(
                Code::Expiring,
                &leaf.about,
                format!(
                    "expires on {}, in {} days (within {})",
                    date(info.not_after),
                    info.days_left,
                    window.text
                ),
                leaf.reissue.command(role, None),
            ));
        }
        findings.extend(key_findings(entry, &leaf)?);
    }

    let have_ca = entries.iter().any(|e| e.cert_path == ca_path);
    findings.extend(directory_findings(dir, &reissue_all, have_ca)?);

    let ca_key_path = dir.join("ca.key");
    let ca_key = if !ca_key_path.exists() {
        None
    } else if crate::encrypt::is_encrypted(&ca_key_path) {
        // Reading it needs the passphrase, which `check` never asks for (it runs from cron).
        text.push_str(&format!(
            "{}  encrypted CA key (PKCS#8): not decrypted by check, so its match with ca.crt \
             is not checked here\n",
            ca_key_path.display()
        ));
        Some("encrypted")
    } else {
        Some("plain")
    };
    let rotation = if have_ca {
        match rotation_findings(dir) {
            Ok((phase, line, found)) => {
                text.push_str(&line);
                findings.extend(found);
                Some(phase)
            }
            Err(e) => {
                findings.push(Finding::new(
                    Code::RotationUnreadable,
                    dir.display().to_string(),
                    format!("the CA rotation's files cannot be read: {e:#}"),
                    format!(
                        "restore them, or see what is there with:\n{}",
                        report::command(dir, &["rotate-ca", "status"])
                    ),
                ));
                None
            }
        }
    } else {
        None
    };
    if let Some(ep) = &args.endpoint {
        let servers: Vec<&Entry> = pki::of_role(&entries, Role::Server).collect();
        findings.extend(endpoint_findings(dir, ep, args.protocol, &servers)?);
        text.push_str(&format!("endpoint {ep}\n"));
    }
    let details = Details {
        dir: dir.display().to_string(),
        expires_within: window.text.clone(),
        endpoint: args.endpoint.as_ref().map(|e| e.to_string()),
        ca_key,
        rotation,
        certificates: checked,
    };
    Ok(Verdict {
        details,
        text,
        findings,
    })
}

/// The CA rotation (docs/rotation.md): its phase as a line of text, and as findings the leaves still
/// under the old CA once the new one signs, and a step whose last removals were interrupted.
fn rotation_findings(dir: &Path) -> Result<(crate::rotate::Phase, String, Vec<Finding>)> {
    use crate::rotate::Phase;
    let status = crate::rotate::status_of(dir)?;
    let mut findings = Vec::new();
    let line = match status.phase {
        Phase::None => String::new(),
        phase => format!(
            "CA rotation in progress: {}; next: {}\n",
            if phase == Phase::Started {
                "started (ca.crt = old + new; the old CA signs)"
            } else {
                "switched (ca.crt = new + old; the new CA signs)"
            },
            status.next_step.clone().unwrap_or_default()
        ),
    };
    if status.phase == Phase::Switched {
        for name in &status.under_old_ca {
            findings.push(Finding::new(
                Code::LeafUnderOldCa,
                dir.join(format!("{name}.crt")).display().to_string(),
                "is signed by the old CA, which `rotate-ca finish` removes from ca.crt: once \
                 finished, no consumer would trust it",
                format!(
                    "renew it under the new CA (then restart what uses it):\n{}",
                    report::command(dir, &["renew", name])
                ),
            ));
        }
    }
    if let Some(step) = status.interrupted {
        findings.push(Finding::new(
            Code::RotationInterrupted,
            dir.display().to_string(),
            format!(
                "an interrupted `rotate-ca {step}` left files it had made obsolete (its change \
                 itself is complete)"
            ),
            format!(
                "run the step again to complete it:\n{}",
                report::command(dir, &["rotate-ca", step])
            ),
        ));
    }
    Ok((status.phase, line, findings))
}

/// How to get a CA into a directory that has none: `init` where it is empty; where it holds
/// certificates or a lone ca.key, `init` would refuse them, so a new CA (replacing the lone
/// key) and each certificate issued again under it.
fn no_ca_fix(dir: &Path, entries: &[Entry], reissue_all: &[String]) -> String {
    let ca_key = dir.join("ca.key").exists();
    if entries.is_empty() && !ca_key {
        return report::command(dir, &["init"]);
    }
    let init_ca = if ca_key {
        report::command(dir, &["init-ca", "--force"])
    } else {
        report::command(dir, &["init-ca"])
    };
    let mut steps = vec![
        "restore ca.crt from a backup; or make a new CA and issue every certificate again:"
            .to_string(),
        init_ca,
    ];
    steps.extend(reissue_all.iter().cloned());
    steps.join("\n")
}

/// What the certificates alone do not show: the CA's key (present, readable, matching the
/// first certificate of ca.crt, the signer), keys without their certificate, and what an
/// interrupted writer left behind.
fn directory_findings(
    dir: &Path,
    reissue_all: &[String],
    have_ca_crt: bool,
) -> Result<Vec<Finding>> {
    let mut findings = Vec::new();
    let ca_key = dir.join("ca.key");
    if have_ca_crt {
        findings.extend(ca_key_finding(dir, &ca_key, reissue_all)?);
    }
    // Every *.key has its *.crt (an interrupted `init`, a certificate moved away).
    let mut orphans: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "key"))
                .filter(|p| !p.with_extension("crt").exists())
                // a lone ca.key is the `no-ca` finding's
                .filter(|p| !p.ends_with("ca.key"))
                .collect()
        })
        .unwrap_or_default();
    orphans.sort();
    for key in orphans {
        let stem = key
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let fix = format!(
            "a private key alone is of no use: issue its certificate again (a new pair) or \
             remove it:\n{}\n{}",
            report::command(
                dir,
                &["issue", "client", "--cn", "...", "--name", &stem, "--force"]
            ),
            report::command(
                dir,
                &[
                    "issue", "server", "--san", "...", "--name", &stem, "--force"
                ]
            )
        );
        findings.push(Finding::new(
            Code::CertMissing,
            key.display().to_string(),
            format!(
                "has no certificate beside it (`{}`): an interrupted command, or a certificate \
                 moved away",
                key.with_extension("crt").display()
            ),
            fix,
        ));
    }
    if !store::writer_active(dir) {
        let left = store::leftovers(dir)?;
        let recover = report::command(dir, &["recover"]);
        for record in &left.commits {
            findings.push(Finding::new(
                Code::InterruptedWrite,
                record.display().to_string(),
                "an otelpki command was stopped while it replaced files: until it is completed, \
                 some of them are new and some old (a key may not match its certificate)",
                format!("complete it (every command that writes in the directory does this first):\n{recover}"),
            ));
        }
        if !left.temporaries.is_empty() {
            findings.push(Finding::new(
                Code::StrayTemporary,
                dir.display().to_string(),
                format!(
                    "holds {} temporary file(s) of an otelpki command that was stopped ({}); they \
                     may hold private keys",
                    left.temporaries.len(),
                    left.temporaries
                        .iter()
                        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                format!("remove them (every command that writes in the directory does this first):\n{recover}"),
            ));
        }
    }
    Ok(findings)
}

/// ca.key is there, readable, and the key of the signer (the first certificate of ca.crt).
fn ca_key_finding(dir: &Path, ca_key: &Path, reissue_all: &[String]) -> Result<Option<Finding>> {
    let about = ca_key.display().to_string();
    let again = || {
        let mut steps = vec![report::command(dir, &["init-ca", "--force"])];
        steps.extend(reissue_all.iter().cloned());
        steps.join("\n")
    };
    let new_ca = || {
        format!(
            "restore the CA's key from a backup; without it nothing new can be signed. Or make \
             a new CA and issue every certificate again:\n{}",
            again()
        )
    };
    if !ca_key.exists() {
        return Ok(Some(Finding::new(
            Code::CaKeyMissing,
            about,
            "is missing: ca.crt can verify certificates, but no new certificate can be issued or \
             renewed",
            new_ca(),
        )));
    }
    let encrypted = read::contents(ca_key).is_ok_and(|items| {
        items
            .iter()
            .any(|i| matches!(i, read::Item::EncryptedPrivateKey))
    });
    if encrypted {
        // encrypted PKCS#8: its match is checked when it is used, with the passphrase
        return Ok(None);
    }
    let key = match read::key_pair(ca_key) {
        Ok(key) => key,
        Err(e) => {
            return Ok(Some(Finding::new(
                Code::CaKeyUnreadable,
                about,
                format!("cannot be used as the CA's key: {e:#}"),
                new_ca(),
            )));
        }
    };
    if Cert::read(&dir.join("ca.crt"))?.matches_key(key.public_key_raw()) {
        return Ok(None);
    }
    Ok(Some(Finding::new(
        Code::CaKeyMismatch,
        about,
        "is not the key of the first certificate in ca.crt (the signer): nothing signed with it \
         would verify",
        format!(
            "put the CA's own key back (from a backup), or make a new CA and issue every \
             certificate again:\n{}",
            again()
        ),
    )))
}

/// A `*.crt` of the directory that is not a certificate: named, with what is wrong with it.
/// `check` goes on with the rest, so one stray file does not hide the other findings.
fn unreadable_finding(dir: &Path, bad: &pki::Unreadable, reissue_all: &[String]) -> Finding {
    let fix = if bad.name() == "ca" {
        let mut steps = vec![
            "restore it from a backup; or make a new CA:".to_string(),
            report::command(dir, &["init-ca", "--force"]),
            "then issue every certificate again and redistribute ca.crt:".into(),
        ];
        steps.extend(reissue_all.iter().cloned());
        steps.join("\n")
    } else {
        let again = |role: &str, who: &str| {
            report::command(
                dir,
                &["issue", role, who, "...", "--name", &bad.name(), "--force"],
            )
        };
        format!(
            "every *.crt in {} is read as a certificate: move the file away if it is not one;\n\
             if it was one, issue it again as a server or a client:\n{}\n{}",
            dir.display(),
            again("server", "--san"),
            again("client", "--cn")
        )
    };
    Finding::new(
        Code::CertUnreadable,
        bad.path.display().to_string(),
        format!("cannot be read as a certificate: {:#}", bad.error),
        fix,
    )
}

/// `certs/server.crt  server  localhost, 127.0.0.1  until 2027-11-25 (364 days)`
fn line(entry: &Entry, info: &CertInfo) -> String {
    let role = match entry.role {
        Some(Role::Ca) => "CA",
        Some(Role::Server) => "server",
        Some(Role::Client) => "client",
        None => "?",
    };
    let who = match entry.role {
        Some(Role::Server) => info.names_text(),
        _ => format!("\"{}\"", info.subject),
    };
    format!(
        "{}  {role}  {who}  until {} ({})\n",
        entry.cert_path.display(),
        date(info.not_after),
        info.validity_text()
    )
}

/// How to issue `entry` again, and as what.
fn reissue_of(entry: &Entry) -> (Reissue, Role) {
    let role = match entry.role {
        Some(r) => r,
        None if entry.dns_names.is_empty() && entry.ip_addresses.is_empty() => Role::Client,
        None => Role::Server,
    };
    (Reissue::of(&entry.cert_path, &entry.cert), role)
}

/// The pair: the key exists, can be read, and belongs to the certificate.
fn key_findings(entry: &Entry, leaf: &Leaf<'_>) -> Result<Vec<Finding>> {
    let fix = leaf.reissue.command(leaf.role, None);
    if !entry.key_exists {
        return Ok(vec![Finding::new(
            Code::KeyMissing,
            &leaf.about,
            format!(
                "has no key beside it (`{}`): the Collector (key_file) or the SDK (CLIENT_KEY) \
                 needs both",
                entry.key_path.display()
            ),
            format!("issue a new pair:\n{fix}"),
        )]);
    }
    let key = match read::key_pair(&entry.key_path) {
        Ok(k) => k,
        Err(e) => {
            return Ok(vec![Finding::new(
                Code::KeyUnreadable,
                entry.key_path.display().to_string(),
                format!("cannot be used as the key of `{}`: {e:#}", leaf.about),
                format!("issue a new pair:\n{fix}"),
            )]);
        }
    };
    Ok(judge::key_finding(leaf, &entry.key_path, &key)?
        .into_iter()
        .collect())
}

/// The article's protocol cases for `ep`, and whether the server certificates cover its host.
fn endpoint_findings(
    dir: &Path,
    ep: &Endpoint,
    protocol: Option<Protocol>,
    servers: &[&Entry],
) -> Result<Vec<Finding>> {
    let mut findings = Vec::new();
    let about = format!("endpoint {ep}");
    // What the protocol is, as far as anyone said: --protocol, else the URL's path.
    let stated = protocol.or_else(|| ep.implied_protocol());
    // For wording and fixes, the port may tell too.
    let likely = stated.or(match ep.port {
        Some(GRPC_PORT) => Some(Protocol::Grpc),
        Some(HTTP_PORT) => Some(Protocol::Http),
        _ => None,
    });
    let use_url = |port: u16| ep.fix(dir, port, likely);
    let port = match (ep.port, stated) {
        (Some(p), Some(proto)) if (p == GRPC_PORT || p == HTTP_PORT) && p != proto.port() => {
            let (owner, receiver) = if p == GRPC_PORT {
                ("OTLP/gRPC", "gRPC")
            } else {
                ("OTLP/HTTP", "HTTP")
            };
            findings.push(Finding::new(
                Code::WrongPort,
                &about,
                format!(
                    "port {p} is {owner}'s, but this endpoint is {}: the Collector's {receiver} \
                     receiver cannot answer it",
                    protocol_name(proto),
                ),
                use_url(proto.port()),
            ));
            proto.port()
        }
        (Some(p), _) => p,
        (None, _) => {
            let fix = match likely {
                Some(proto) => use_url(proto.port()),
                None => format!(
                    "set OTEL_EXPORTER_OTLP_ENDPOINT={} for OTLP/gRPC, or {} for OTLP/HTTP",
                    ep.https_url(GRPC_PORT, Some(Protocol::Grpc)),
                    ep.https_url(HTTP_PORT, None)
                ),
            };
            findings.push(Finding::new(
                Code::MissingPort,
                &about,
                "has no port, so SDKs connect to 443 (or 80), but the Collector's OTLP receivers \
                 listen on 4317 (gRPC) and 4318 (HTTP)",
                fix,
            ));
            likely.map(Protocol::port).unwrap_or(GRPC_PORT)
        }
    };
    let https = use_url(port);
    let tls_setup = !servers.is_empty();
    match ep.scheme {
        Some(Scheme::Http) if tls_setup => {
            let symptom = match likely {
                Some(Protocol::Grpc) => {
                    "the gRPC exporter turns TLS off, and the Collector's TLS receiver drops the \
                     plaintext connection"
                }
                Some(_) => {
                    "the SDK sends plaintext HTTP, and the Collector's TLS receiver answers \
                     \"client sent an HTTP request to an HTTPS server\""
                }
                None => "the SDK sends plaintext, and a TLS receiver refuses it",
            };
            findings.push(Finding::new(
                Code::PlaintextScheme,
                &about,
                format!(
                    "`http://` means no TLS, but `{}` holds a server certificate for TLS: {symptom}",
                    dir.display()
                ),
                https.clone(),
            ));
        }
        None => {
            let problem = if likely == Some(Protocol::Grpc) {
                "has no scheme: whether an SDK uses TLS then depends on it and on \
                 OTEL_EXPORTER_OTLP_INSECURE, and the Java SDK refuses the value"
            } else {
                "has no scheme: OTLP/HTTP needs a full URL, and only `https://` turns TLS on"
            };
            findings.push(Finding::new(
                Code::MissingScheme,
                &about,
                problem,
                https.clone(),
            ));
        }
        _ => {}
    }

    let name = ep.server_name().map_err(anyhow::Error::msg)?;
    if servers.is_empty() {
        findings.push(Finding::new(
            Code::NoServerCert,
            &about,
            format!(
                "{} holds no server certificate (extKeyUsage serverAuth) for the Collector to present",
                dir.display()
            ),
            report::command(dir, &["issue", "server", "--san", &ep.host]),
        ));
        return Ok(findings);
    }
    let mut covering = false;
    for s in servers {
        covering |= judge::covers(&s.cert, &name);
    }
    if !covering {
        let main = servers
            .iter()
            .find(|s| s.name == "server")
            .unwrap_or(&servers[0]);
        let info = CertInfo::of(&main.cert, OffsetDateTime::now_utc());
        let listed = servers
            .iter()
            .map(|s| format!("`{}`", s.cert_path.display()))
            .collect::<Vec<_>>()
            .join(", ");
        let problem = if servers.len() == 1 {
            format!(
                "{listed} does not cover the host `{}` (it covers {}): clients refuse the \
                 handshake; only subjectAltNames count, never the CN",
                ep.host,
                info.names_text()
            )
        } else {
            format!(
                "none of {listed} covers the host `{}` (`{}` covers {}): clients refuse the \
                 handshake; only subjectAltNames count, never the CN",
                ep.host,
                main.cert_path.display(),
                info.names_text()
            )
        };
        findings.push(Finding::new(
            Code::NameMismatch,
            &about,
            problem,
            Reissue::of(&main.cert_path, &main.cert).command(Role::Server, Some(&ep.host)),
        ));
    }
    Ok(findings)
}
