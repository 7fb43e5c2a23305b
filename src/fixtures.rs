//! `otelpki fixtures` (docs/fixtures.md): a good certificate set and a bad one for testing failure
//! paths, with `fixtures.json` describing every file. Each bad fixture is a good twin built by
//! the same profile code with exactly one deviation, written on the line that makes it.
//! With a seed and a fixed clock the output is byte-for-byte reproducible (see `seed.rs`).
//!
//! A test suite can make its certificates at test time instead of committing them: see
//! [`generate`], and [`custom`] for a case the set lacks.

pub mod custom;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::{ExtendedKeyUsagePurpose, Issuer, SanType};
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::cert::Cert;
use crate::engine::{self, Plan, Signed};
use crate::issue;
use crate::key::{KeyType, PrivateKey};
use crate::profile::{self, Role, Spec};
use crate::report::Render;
use crate::seed::{self, Key, Source};
use crate::store::{self, Output};

/// Validity of the fixture CA and of the good leaves.
pub const CA_DAYS: u32 = 3650;
pub const LEAF_DAYS: u32 = 365;
/// How far the expired and the not-yet-valid server are moved out of the good window: one
/// validity period and a day, so they stay bad for the whole year the good set is valid.
pub const SHIFT: Duration = Duration::days(LEAF_DAYS as i64 + 1);
/// The names of the good server: what a Collector on this machine is reached by.
pub const SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// The only name of the wrong-name server (`.example` is reserved, RFC 2606).
pub const WRONG_NAME: &str = "wrong-host.example";
pub const CLIENT_CN: &str = "my-application";
pub const CA_CN: &str = "otelpki fixtures CA";
pub const FOREIGN_CA_CN: &str = "otelpki foreign CA";
/// The manifest's file name.
pub const MANIFEST: &str = "fixtures.json";

/// Whether a fixture should be accepted or rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Set {
    Good,
    Bad,
}

/// What a verifier (rustls/webpki, `openssl verify`) says about a fixture at `Manifest::now`,
/// checked for its role against `ca.crt` and, for a server, the name `localhost`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    /// Accepted.
    Pass,
    /// notAfter is in the past (openssl: "certificate has expired").
    Expired,
    /// notBefore is in the future (openssl: "certificate is not yet valid").
    NotYetValid,
    /// No SAN matches localhost, 127.0.0.1 or ::1 (openssl: "hostname mismatch").
    NameMismatch,
    /// Signed by a CA that ca.crt is not (openssl: "unable to get local issuer certificate").
    UnknownIssuer,
    /// extKeyUsage lacks the role's purpose (openssl: "unsuitable certificate purpose").
    WrongPurpose,
    /// Signed by its own key (openssl: "self-signed certificate").
    SelfSigned,
}

/// One certificate of the set, with its key if one is written. Paths are relative to the
/// directory the set was written to.
#[derive(Clone, Debug, Serialize)]
pub struct Fixture {
    /// File stem: `expired-server` for expired-server.crt and expired-server.key.
    pub name: String,
    pub set: Set,
    pub role: Role,
    pub cert: String,
    pub key: Option<String>,
    /// The certificate that signed this one (itself for a CA or a self-signed certificate).
    pub issuer: String,
    pub common_name: String,
    /// SANs as written to the certificate (DNS names and IP addresses).
    pub names: Vec<String>,
    pub expect: Expect,
    /// What the file is for, and for a bad one the failure it triggers.
    pub purpose: String,
    /// SHA-256 of the DER certificate, as `openssl x509 -fingerprint -sha256` prints it.
    pub sha256: String,
    /// Serial number, hexadecimal.
    pub serial: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
}

/// `fixtures.json`: the whole set.
#[derive(Clone, Debug, Serialize)]
pub struct Manifest {
    /// Version of this format.
    pub format: u32,
    /// The time the set was issued at; verify at this time (or within the good set's validity).
    #[serde(with = "time::serde::rfc3339")]
    pub now: OffsetDateTime,
    /// True if keys and serials came from a seed (the files are reproducible).
    pub seeded: bool,
    pub key_type: KeyType,
    pub fixtures: Vec<Fixture>,
}

impl Manifest {
    /// The fixture whose file stem is `name` (`server`, `expired-server`, ...).
    pub fn get(&self, name: &str) -> Option<&Fixture> {
        self.fixtures.iter().find(|f| f.name == name)
    }
}

/// How to generate a set.
#[derive(Clone, Debug)]
pub struct Options {
    /// Derive every key and serial from this text (reproducible output); None: OS random.
    pub seed: Option<String>,
    /// The issuing time; the good set is valid from a minute before it for `LEAF_DAYS`.
    pub now: OffsetDateTime,
    pub key_type: KeyType,
    /// Replace existing files.
    pub force: bool,
}

/// Writes the good and the bad set and `fixtures.json` into `dir` (created if missing), with
/// ECDSA P-256 keys, and returns the manifest. With `seed`, every key and serial is derived
/// from it and the files are byte-for-byte the same for the same `seed` and `now`; with None,
/// keys come from the OS random source. The good set is valid from a minute before `now` for
/// `LEAF_DAYS`. Refuses to replace existing files (see `generate_with` for every option).
///
/// ```
/// # fn main() -> anyhow::Result<()> {
/// use otelpki::fixtures::{self, Expect};
///
/// let dir = tempfile::tempdir()?;
/// let now = time::OffsetDateTime::now_utc();
/// let manifest = fixtures::generate(dir.path(), Some("my-test-suite"), now)?;
///
/// let server = manifest.get("server").expect("the good server");
/// assert_eq!(server.names, ["localhost", "127.0.0.1", "::1"]);
/// let _cert_pem = std::fs::read(dir.path().join(&server.cert))?;
/// let expired = manifest.get("expired-server").expect("a bad server");
/// assert_eq!(expired.expect, Expect::Expired);
/// assert!(expired.not_after < now);
/// # Ok(())
/// # }
/// ```
pub fn generate(dir: &Path, seed: Option<&str>, now: OffsetDateTime) -> Result<Manifest> {
    generate_with(
        dir,
        &Options {
            seed: seed.map(str::to_string),
            now,
            key_type: KeyType::EcdsaP256,
            force: false,
        },
    )
}

/// `generate` with every option.
pub fn generate_with(dir: &Path, opts: &Options) -> Result<Manifest> {
    let (manifest, outputs) = build(dir, opts)?;
    let lock = store::lock(dir)?;
    let mut plan = Plan::new();
    for out in outputs {
        plan.file(out, opts.force);
    }
    plan.execute_or_hint(
        &lock,
        "pass --force to regenerate the fixtures, or --dir for another directory",
    )?;
    Ok(manifest)
}

/// Every certificate, key and the manifest, in memory.
fn build(dir: &Path, opts: &Options) -> Result<(Manifest, Vec<Output>)> {
    let src = Source::new(opts.seed.as_deref());
    src.check_key_type(opts.key_type)?;
    let now = seed::clock(Some(opts.now))?;
    let mut set = SetBuilder {
        dir,
        src: &src,
        key_type: opts.key_type,
        outputs: Vec::new(),
        fixtures: Vec::new(),
    };

    let (not_before, not_after) = profile::validity(now, CA_DAYS);
    let ca_spec = Spec {
        cn: CA_CN.into(),
        org: None,
        sans: Vec::new(),
        not_before,
        not_after,
        serial: [0; 16],
        key_type: opts.key_type,
    };
    let (not_before, not_after) = profile::validity(now, LEAF_DAYS);
    let server = Spec {
        cn: SERVER_NAMES[0].into(),
        sans: sans(&SERVER_NAMES)?,
        not_before,
        not_after,
        ..ca_spec.clone()
    };
    let client = Spec {
        cn: CLIENT_CN.into(),
        sans: Vec::new(),
        ..server.clone()
    };

    // The good set.
    let ca = set.ca(
        "ca",
        &ca_spec,
        true,
        good(
            "the CA of the good set: what the Collector (client_ca_file) and the SDKs \
         (OTEL_EXPORTER_OTLP_CERTIFICATE) trust",
        ),
    )?;
    let about = good(format!(
        "server for {}, signed by ca.crt: accepted",
        SERVER_NAMES.join(", ")
    ));
    set.leaf("server", Role::Server, &server, &ca, about)?;
    let about = good(format!(
        "client \"{CLIENT_CN}\" (clientAuth), signed by ca.crt: accepted by a server trusting ca.crt"
    ));
    set.leaf("client", Role::Client, &client, &ca, about)?;

    // The bad set: each is a good twin with one deviation, on the line marked `deviation`.
    let expired = shifted(&server, -SHIFT); // deviation: validity a year and a day earlier
    let about = bad(
        Expect::Expired,
        format!(
            "the good server a year and a day earlier: expired on {}, rejected as expired",
            issue::date(expired.not_after)
        ),
    );
    set.leaf("expired-server", Role::Server, &expired, &ca, about)?;

    let future = shifted(&server, SHIFT); // deviation: validity a year and a day later
    let about = bad(
        Expect::NotYetValid,
        format!(
            "the good server a year and a day later: valid only from {}, rejected as not yet valid",
            issue::date(future.not_before)
        ),
    );
    set.leaf("not-yet-valid-server", Role::Server, &future, &ca, about)?;

    let wrong = renamed(&server, WRONG_NAME)?; // deviation: another name
    let about = bad(
        Expect::NameMismatch,
        format!(
            "the good server issued for {WRONG_NAME} only: rejected for {} (name mismatch)",
            SERVER_NAMES.join(", ")
        ),
    );
    set.leaf("wrong-name-server", Role::Server, &wrong, &ca, about)?;

    let foreign_spec = Spec {
        cn: FOREIGN_CA_CN.into(),
        ..ca_spec.clone()
    };
    let foreign = set.ca(
        "foreign-ca",
        &foreign_spec,
        false,
        bad(
            Expect::UnknownIssuer,
            "a second CA that ca.crt knows nothing of; it signed foreign-client.crt. Trusted in \
         place of ca.crt, it rejects the good server and client (unknown issuer)",
        ),
    )?;
    let about = bad(
        Expect::UnknownIssuer,
        "the good client signed by foreign-ca.crt instead of ca.crt: rejected by a server \
         trusting ca.crt (unknown issuer)",
    );
    set.leaf("foreign-client", Role::Client, &client, &foreign, about)?; // deviation: the issuer

    let name = "no-clientauth-client";
    let mut params = profile::params(Role::Client, &set.with_serial(name, &client)?);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth]; // deviation: serverAuth, not clientAuth
    let about = bad(
        Expect::WrongPurpose,
        "the good client with extKeyUsage serverAuth in place of clientAuth: rejected as a \
         client (unsuitable purpose)",
    );
    set.signed(name, Role::Client, params, Some(&ca), about)?;

    let name = "self-signed-server";
    let params = profile::params(Role::Server, &set.with_serial(name, &server)?);
    let about = bad(
        Expect::SelfSigned,
        "the good server signed by its own key instead of ca.crt: rejected (self-signed, \
         unknown issuer)",
    );
    set.signed(name, Role::Server, params, None, about)?; // deviation: signed by its own key

    let manifest = Manifest {
        format: 1,
        now,
        seeded: src.is_seeded(),
        key_type: opts.key_type,
        fixtures: set.fixtures,
    };
    let mut json = serde_json::to_string_pretty(&manifest).context("cannot write the manifest")?;
    json.push('\n');
    let mut outputs = set.outputs;
    outputs.push(Output::public(dir.join(MANIFEST), json));
    Ok((manifest, outputs))
}

fn sans(names: &[&str]) -> Result<Vec<SanType>> {
    names
        .iter()
        .map(|n| crate::san::parse(n).map_err(anyhow::Error::msg)?.to_rcgen())
        .collect()
}

/// `spec` for `name` only (CN and SAN), as `issue server --san NAME` makes it.
fn renamed(spec: &Spec, name: &str) -> Result<Spec> {
    Ok(Spec {
        cn: name.into(),
        sans: sans(&[name])?,
        ..spec.clone()
    })
}

/// `spec` with its whole validity window moved by `by`.
fn shifted(spec: &Spec, by: Duration) -> Spec {
    Spec {
        not_before: spec.not_before + by,
        not_after: spec.not_after + by,
        ..spec.clone()
    }
}

/// What the manifest says of a fixture.
struct About {
    set: Set,
    expect: Expect,
    purpose: String,
}

fn good(purpose: impl Into<String>) -> About {
    About {
        set: Set::Good,
        expect: Expect::Pass,
        purpose: purpose.into(),
    }
}

fn bad(expect: Expect, purpose: impl Into<String>) -> About {
    About {
        set: Set::Bad,
        expect,
        purpose: purpose.into(),
    }
}

/// A CA of the set and the file its certificate is written to.
struct SetCa {
    issuer: Issuer<'static, Key>,
    file: String,
}

/// Collects the outputs and manifest entries; keys and serials come from `src`, labelled by
/// the fixture's name.
struct SetBuilder<'a> {
    dir: &'a Path,
    src: &'a Source,
    key_type: KeyType,
    outputs: Vec<Output>,
    fixtures: Vec<Fixture>,
}

impl SetBuilder<'_> {
    fn with_serial(&self, name: &str, spec: &Spec) -> Result<Spec> {
        Ok(Spec {
            serial: self.src.serial(&format!("fixtures/{name}"))?,
            ..spec.clone()
        })
    }

    fn key(&self, name: &str) -> Result<Key> {
        self.src.key(self.key_type, &format!("fixtures/{name}"))
    }

    /// A self-signed CA; its key is written only if `write_key`.
    fn ca(&mut self, name: &str, spec: &Spec, write_key: bool, about: About) -> Result<SetCa> {
        let spec = self.with_serial(name, spec)?;
        let (signed, issuer) = engine::make_ca(&spec, self.key(name)?)?;
        let file = format!("{name}.crt");
        self.add(name, Role::Ca, &signed, write_key, &file, about)?;
        Ok(SetCa { issuer, file })
    }

    /// A leaf of `role` for `spec`, signed by `ca`, through `engine::make_leaf`.
    fn leaf(
        &mut self,
        name: &str,
        role: Role,
        spec: &Spec,
        ca: &SetCa,
        about: About,
    ) -> Result<()> {
        let spec = self.with_serial(name, spec)?;
        let signed = engine::make_leaf(role, &spec, &self.key(name)?, &ca.issuer)?;
        self.add(name, role, &signed, true, &ca.file, about)
    }

    /// Signs `params` as they are (a profile's params with a deviation); `ca` None means
    /// self-signed.
    fn signed(
        &mut self,
        name: &str,
        role: Role,
        params: rcgen::CertificateParams,
        ca: Option<&SetCa>,
        about: About,
    ) -> Result<()> {
        let key = self.key(name)?;
        let signed = Signed {
            cert_pem: match ca {
                Some(ca) => engine::sign(&params, &key, &ca.issuer)?,
                None => engine::self_sign(&params, &key)?,
            },
            key_pem: key.pkcs8_pem(),
        };
        let issuer_file = match ca {
            Some(ca) => ca.file.clone(),
            None => format!("{name}.crt"),
        };
        self.add(name, role, &signed, true, &issuer_file, about)
    }

    fn add(
        &mut self,
        name: &str,
        role: Role,
        signed: &Signed,
        write_key: bool,
        issuer: &str,
        about: About,
    ) -> Result<()> {
        let cert = format!("{name}.crt");
        let key = format!("{name}.key");
        if write_key {
            self.outputs
                .push(Output::key(self.dir.join(&key), signed.key_pem.clone()));
        }
        self.outputs.push(Output::public(
            self.dir.join(&cert),
            signed.cert_pem.clone(),
        ));
        let der = pem::parse(&signed.cert_pem)
            .context("cannot read back a certificate just made")?
            .into_contents();
        let made = Cert::parse(&der.into())?;
        self.fixtures.push(Fixture {
            name: name.to_string(),
            set: about.set,
            role,
            key: write_key.then_some(key),
            issuer: issuer.to_string(),
            names: made.host_names(),
            expect: about.expect,
            purpose: about.purpose,
            serial: made.serial.to_ascii_lowercase(),
            not_before: made.not_before,
            not_after: made.not_after,
            sha256: made.fingerprint,
            common_name: made.common_name.unwrap_or_default(),
            cert,
        });
        Ok(())
    }
}

/// `otelpki fixtures` as the command line gives it (the library's options are [`Options`]).
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub seed: Option<String>,
    /// None: SOURCE_DATE_EPOCH, else the clock.
    pub now: Option<OffsetDateTime>,
    pub key_type: KeyType,
    pub force: bool,
}

/// What `otelpki fixtures` says: where the set went, and each file with what it triggers.
#[derive(Debug)]
pub struct Written {
    pub dir: PathBuf,
    pub now: OffsetDateTime,
    pub manifest: Manifest,
}

impl Render for Written {
    fn text(&self) -> String {
        let manifest = &self.manifest;
        let mut s = format!(
            "Wrote {} certificates to {} ({}, issued at {}{}):\n",
            manifest.fixtures.len(),
            self.dir.display(),
            manifest.key_type,
            self.now
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            if manifest.seeded {
                ", reproducible from the seed"
            } else {
                ""
            }
        );
        for f in &manifest.fixtures {
            let files = match &f.key {
                Some(key) => format!("{} {}", f.cert, key),
                None => f.cert.clone(),
            };
            let set = match f.set {
                Set::Good => "good",
                Set::Bad => "bad ",
            };
            s.push_str(&format!(
                "  {set}  {files:<52} {}\n",
                expect_words(f.expect)
            ));
        }
        s.push_str(&format!(
            "  {} lists each file with its purpose, the failure it triggers, its SHA-256 fingerprint and validity.\n",
            self.dir.join(MANIFEST).display()
        ));
        s
    }
}

/// `otelpki fixtures`: generate, and return what was written.
pub fn run(dir: &Path, args: &RunOptions) -> Result<Written> {
    let now = seed::clock(args.now)?;
    Source::new(args.seed.as_deref()).check_key_type(args.key_type)?;
    if args.seed.is_some() && args.now.is_none() && std::env::var_os("SOURCE_DATE_EPOCH").is_none()
    {
        eprintln!(
            "note: the certificates carry the current time; add --now (or SOURCE_DATE_EPOCH) to \
             make the output identical on every run"
        );
    }
    if args.key_type == KeyType::Ed25519 {
        eprintln!("{}", crate::key::ED25519_WARNING);
    }
    let manifest = generate_with(
        dir,
        &Options {
            seed: args.seed.clone(),
            now,
            key_type: args.key_type,
            force: args.force,
        },
    )?;
    Ok(Written {
        dir: dir.to_path_buf(),
        now,
        manifest,
    })
}

fn expect_words(e: Expect) -> &'static str {
    match e {
        Expect::Pass => "accepted",
        Expect::Expired => "rejected: expired",
        Expect::NotYetValid => "rejected: not yet valid",
        Expect::NameMismatch => "rejected: name mismatch",
        Expect::UnknownIssuer => "rejected: unknown issuer",
        Expect::WrongPurpose => "rejected: no clientAuth",
        Expect::SelfSigned => "rejected: self-signed",
    }
}
