//! `init`, `init-ca`, `issue server`, `issue client`: load and check the issuer, build a
//! `Spec` (validity clamped to the CA), sign with the profile of `profile.rs`, hand the files
//! to `store.rs`, and say what was written, where, and until when.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use time::OffsetDateTime;

use crate::encrypt::{self, PassphraseOptions, PassphraseSource};
use crate::engine::{
    Ca, Plan, Signed, clamp_to_ca, load_ca, make_ca, make_leaf, pair_paths, with_hint,
};
use crate::key::{ED25519_WARNING, KeyType};
use crate::profile::{self, Role, Spec};
use crate::report::Render;
use crate::san::San;
use crate::store::{self, Output};

/// `init`: a CA, a server certificate and client certificates in one go.
#[derive(Clone, Debug)]
pub struct InitOptions {
    /// Names and IPs of the server certificate.
    pub san: Vec<San>,
    /// Common names of the client certificates.
    pub clients: Vec<String>,
    pub org: Option<String>,
    pub key_type: KeyType,
    pub force: bool,
}

/// `init-ca`.
#[derive(Clone, Debug)]
pub struct InitCaOptions {
    pub cn: String,
    pub org: Option<String>,
    pub days: u32,
    pub key_type: KeyType,
    pub force: bool,
    /// Write ca.key encrypted with the passphrase.
    pub encrypt_key: bool,
    pub passphrase: PassphraseOptions,
}

/// `issue server`.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub san: Vec<San>,
    pub cn: Option<String>,
    pub leaf: LeafOptions,
    /// File stem: NAME.crt and NAME.key.
    pub name: String,
}

/// `issue client`.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub cn: Option<String>,
    pub san: Vec<San>,
    pub leaf: LeafOptions,
    /// File stem: NAME.crt and NAME.key.
    pub name: String,
}

/// What server and client certificates share.
#[derive(Clone, Debug)]
pub struct LeafOptions {
    pub org: Option<String>,
    pub days: u32,
    /// None: the CA's.
    pub key_type: Option<KeyType>,
    pub force: bool,
    /// The CA to sign with (both or neither); default DIR/ca.crt and DIR/ca.key.
    pub ca_cert: Option<PathBuf>,
    pub ca_key: Option<PathBuf>,
    pub passphrase: PassphraseOptions,
}

/// A pair that `init`, `init-ca` or `issue` wrote.
#[derive(Clone, Debug)]
pub struct Written {
    /// e.g. `a server certificate for localhost, 127.0.0.1`.
    pub what: String,
    pub key_type: KeyType,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub not_after: OffsetDateTime,
}

/// What `init`, `init-ca` and `issue` say: what was written, where, and until when; then
/// lines of advice.
#[derive(Clone, Debug)]
pub struct Issued {
    pub pairs: Vec<Written>,
    pub notes: Vec<String>,
}

impl Render for Issued {
    fn text(&self) -> String {
        let mut s = String::new();
        for p in &self.pairs {
            s.push_str(&format!(
                "Created {} ({}), valid until {}\n",
                p.what,
                p.key_type,
                date(p.not_after)
            ));
            s.push_str(&format!("  certificate: {}\n", p.cert.display()));
            s.push_str(&format!(
                "  key:         {}  (mode 0600; keep it private)\n",
                p.key.display()
            ));
        }
        for note in &self.notes {
            s.push_str(note);
            s.push('\n');
        }
        s
    }
}

pub use crate::model::date;

/// A file stem given with --name (or a client CN in `init`): a plain file name, not `ca`.
pub fn file_stem(name: &str) -> Result<&str> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !ok {
        bail!(
            "`{}` cannot be a file name; use letters, digits, '.', '_' and '-', such as gateway",
            crate::text::printable(name)
        );
    }
    if name == "ca" {
        bail!("the name `ca` is the CA's own files; choose another --name");
    }
    Ok(name)
}

pub(crate) fn warn_key_type(kt: KeyType) {
    if kt == KeyType::Ed25519 {
        eprintln!("{ED25519_WARNING}");
    }
}

fn ca_spec(
    cn: &str,
    org: Option<&str>,
    days: u32,
    key_type: KeyType,
    now: OffsetDateTime,
) -> Result<Spec> {
    let (not_before, not_after) = profile::validity(now, days);
    Ok(Spec {
        cn: cn.to_string(),
        org: org.map(str::to_string),
        sans: Vec::new(),
        not_before,
        not_after,
        serial: profile::random_serial()?,
        key_type,
    })
}

pub(crate) fn leaf_spec(
    cn: String,
    org: Option<&str>,
    sans: &[San],
    days: u32,
    key_type: KeyType,
    ca: &Ca,
    now: OffsetDateTime,
) -> Result<Spec> {
    let (not_before, not_after) = profile::validity(now, days);
    Ok(Spec {
        cn,
        org: org.map(str::to_string),
        sans: sans.iter().map(San::to_rcgen).collect::<Result<_>>()?,
        not_before,
        not_after: clamp_to_ca(not_after, ca),
        serial: profile::random_serial()?,
        key_type,
    })
}

/// CN of a server certificate: --cn, else the first DNS SAN, else the first SAN.
pub fn server_cn(cn: Option<&str>, sans: &[San]) -> String {
    cn.map(str::to_string)
        .or_else(|| {
            sans.iter()
                .find(|s| matches!(s, San::Dns(_)))
                .map(San::to_string)
        })
        .or_else(|| sans.first().map(San::to_string))
        .unwrap_or_default()
}

pub(crate) fn names(sans: &[San]) -> String {
    sans.iter()
        .map(San::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn written(
    what: &str,
    dir: &Path,
    stem: &str,
    key_type: KeyType,
    not_after: OffsetDateTime,
) -> Written {
    let (cert, key) = pair_paths(dir, stem);
    Written {
        what: what.to_string(),
        key_type,
        cert,
        key,
        not_after,
    }
}

pub fn init_ca(dir: &Path, args: &InitCaOptions) -> Result<Issued> {
    let outputs_hint =
        "pass --force to replace the CA (every certificate it signed stops being trusted)";
    let (crt, key) = pair_paths(dir, "ca");
    // The passphrase first: without it, nothing is generated or written (not even DIR).
    let pass = if args.encrypt_key {
        let source = PassphraseSource::new(args.passphrase.passphrase_file.as_deref());
        Some(source.get("--encrypt-key")?)
    } else {
        None
    };
    let lock = store::lock(dir)?;
    store::refuse_existing(&[Output::key(key, ""), Output::public(crt, "")], args.force)
        .map_err(|e| with_hint(e, outputs_hint))?;
    warn_key_type(args.key_type);
    let spec = ca_spec(
        &args.cn,
        args.org.as_deref(),
        args.days,
        args.key_type,
        OffsetDateTime::now_utc(),
    )?;
    let (mut signed, _) = make_ca(&spec, args.key_type.generate()?)?;
    if let Some(pass) = &pass {
        signed.key_pem = encrypt::encrypt_pem(&signed.key_pem, pass)?;
    }
    let mut plan = Plan::new();
    let (crt, key) = pair_paths(dir, "ca");
    plan.pair(&crt, &key, &signed, args.force);
    plan.execute_or_hint(&lock, outputs_hint)?;
    let pairs = vec![written(
        &format!("the CA \"{}\"", args.cn),
        dir,
        "ca",
        args.key_type,
        spec.not_after,
    )];
    let mut notes = Vec::new();
    if let Some(pass) = &pass {
        notes.push(format!(
            "  ca.key is encrypted (PKCS#8, AES-256-CBC, PBKDF2-SHA256) with the passphrase from {}; \
             every command that signs needs it",
            pass.origin()
        ));
    }
    notes.push(
        "  ca.crt is what the Collector (client_ca_file) and every SDK (OTEL_EXPORTER_OTLP_CERTIFICATE) trust."
            .to_string(),
    );
    Ok(Issued { pairs, notes })
}

/// The CA a leaf is signed by: --ca-cert/--ca-key, or DIR/ca.crt + DIR/ca.key.
pub(crate) fn issuer_for(dir: &Path, leaf: &LeafOptions, now: OffsetDateTime) -> Result<Ca> {
    let pass = PassphraseSource::new(leaf.passphrase.passphrase_file.as_deref());
    match (&leaf.ca_cert, &leaf.ca_key) {
        (Some(cert), Some(key)) => load_ca(cert, key, now, &pass),
        _ => {
            let (crt, key) = pair_paths(dir, "ca");
            if !crt.exists() || !key.exists() {
                bail!(
                    "no CA in `{}` ({} missing); create one with `otelpki --dir {} init-ca`, or pass \
                     --ca-cert FILE --ca-key FILE",
                    dir.display(),
                    if crt.exists() {
                        key.display()
                    } else {
                        crt.display()
                    },
                    dir.display()
                );
            }
            load_ca(&crt, &key, now, &pass)
        }
    }
}

/// The way out of an "already exists" for a leaf (shared with `csr`).
pub(crate) fn leaf_hint(role: Role) -> String {
    format!(
        "pass --force to replace it, or --name to issue another {} certificate",
        if role == Role::Server {
            "server"
        } else {
            "client"
        }
    )
}

fn issue_leaf(
    dir: &Path,
    role: Role,
    cn: String,
    sans: &[San],
    leaf: &LeafOptions,
    name: &str,
) -> Result<Issued> {
    let stem = file_stem(name)?;
    let hint = leaf_hint(role);
    let (crt, key) = pair_paths(dir, stem);
    let now = OffsetDateTime::now_utc();
    // A CA from elsewhere (--ca-cert) is judged before DIR is touched, and so is a DIR that
    // does not exist (it holds no CA): a refused command creates nothing.
    let outside = if leaf.ca_cert.is_some() || !dir.is_dir() {
        Some(issuer_for(dir, leaf, now)?)
    } else {
        None
    };
    let lock = store::lock(dir)?;
    store::refuse_existing(
        &[
            Output::key(key.clone(), ""),
            Output::public(crt.clone(), ""),
        ],
        leaf.force,
    )
    .map_err(|e| with_hint(e, &hint))?;
    let ca = match outside {
        Some(ca) => ca,
        None => issuer_for(dir, leaf, now)?,
    };
    let key_type = leaf.key_type.or(ca.key_type).unwrap_or(KeyType::EcdsaP256);
    warn_key_type(key_type);
    let spec = leaf_spec(cn, leaf.org.as_deref(), sans, leaf.days, key_type, &ca, now)?;
    let signed = make_leaf(role, &spec, &key_type.generate()?, &ca.issuer)?;
    let mut plan = Plan::new();
    plan.pair(&crt, &key, &signed, leaf.force);
    plan.execute_or_hint(&lock, &hint)?;
    let what = match role {
        Role::Server => format!("a server certificate for {}", names(sans)),
        _ => format!("a client certificate for \"{}\"", spec.cn),
    };
    Ok(Issued {
        pairs: vec![written(&what, dir, stem, key_type, spec.not_after)],
        notes: Vec::new(),
    })
}

/// `issue server` (with `--csr`, `csr::server` signs instead).
pub fn server(dir: &Path, args: &ServerOptions) -> Result<Issued> {
    let cn = server_cn(args.cn.as_deref(), &args.san);
    issue_leaf(dir, Role::Server, cn, &args.san, &args.leaf, &args.name)
}

/// `issue client` (with `--csr`, `csr::client` signs instead).
pub fn client(dir: &Path, args: &ClientOptions) -> Result<Issued> {
    if args.cn.as_deref().is_some_and(|cn| cn.trim().is_empty()) {
        bail!("--cn cannot be empty; give the application's name, e.g. --cn my-application");
    }
    let Some(cn) = args.cn.clone() else {
        bail!("--cn is required: give the application's name, e.g. --cn my-application");
    };
    issue_leaf(dir, Role::Client, cn, &args.san, &args.leaf, &args.name)
}

/// `init`: CA, server and clients, all checked before anything is written and published
/// together.
pub fn init(dir: &Path, args: &InitOptions) -> Result<Issued> {
    let now = OffsetDateTime::now_utc();
    let mut clients: Vec<&str> = Vec::new();
    for cn in &args.clients {
        if clients.contains(&cn.as_str()) {
            bail!("--client `{cn}` is given twice");
        }
        clients.push(cn);
    }
    let stems: Vec<&str> = if clients.len() == 1 {
        vec!["client"]
    } else {
        clients
            .iter()
            .map(|cn| file_stem(cn))
            .collect::<Result<_>>()?
    };
    if stems.contains(&"server") {
        bail!(
            "a client named `server` would overwrite the server certificate; choose another --client"
        );
    }
    let hint = "pass --force to replace the whole PKI, or --dir for a new one";
    let mut outputs_planned = vec![pair_paths(dir, "ca"), pair_paths(dir, "server")];
    outputs_planned.extend(stems.iter().map(|s| pair_paths(dir, s)));
    let placeholders: Vec<Output> = outputs_planned
        .iter()
        .flat_map(|(c, k)| [Output::key(k.clone(), ""), Output::public(c.clone(), "")])
        .collect();
    let lock = store::lock(dir)?;
    store::refuse_existing(&placeholders, args.force).map_err(|e| with_hint(e, hint))?;
    warn_key_type(args.key_type);

    let ca_cn = "OTel CA";
    let ca_spec = ca_spec(ca_cn, args.org.as_deref(), 3650, args.key_type, now)?;
    let (ca_signed, issuer) = make_ca(&ca_spec, args.key_type.generate()?)?;
    let ca = Ca {
        issuer,
        cn: ca_cn.into(),
        not_after: ca_spec.not_after,
        key_type: Some(args.key_type),
    };
    let mut plan = Plan::new();
    let pair = |plan: &mut Plan, stem: &str, signed: &Signed| {
        let (crt, key) = pair_paths(dir, stem);
        plan.pair(&crt, &key, signed, args.force);
    };
    pair(&mut plan, "ca", &ca_signed);

    let server_spec = leaf_spec(
        server_cn(None, &args.san),
        args.org.as_deref(),
        &args.san,
        365,
        args.key_type,
        &ca,
        now,
    )?;
    let server = make_leaf(
        Role::Server,
        &server_spec,
        &args.key_type.generate()?,
        &ca.issuer,
    )?;
    pair(&mut plan, "server", &server);
    let mut client_specs = Vec::new();
    for (cn, stem) in clients.iter().zip(&stems) {
        let spec = leaf_spec(
            cn.to_string(),
            args.org.as_deref(),
            &[],
            365,
            args.key_type,
            &ca,
            now,
        )?;
        let signed = make_leaf(Role::Client, &spec, &args.key_type.generate()?, &ca.issuer)?;
        pair(&mut plan, stem, &signed);
        client_specs.push((spec, *stem));
    }
    plan.execute_or_hint(&lock, hint)?;

    let mut pairs = vec![
        written(
            &format!("the CA \"{ca_cn}\""),
            dir,
            "ca",
            args.key_type,
            ca_spec.not_after,
        ),
        written(
            &format!("a server certificate for {}", names(&args.san)),
            dir,
            "server",
            args.key_type,
            server_spec.not_after,
        ),
    ];
    for (spec, stem) in &client_specs {
        pairs.push(written(
            &format!("a client certificate for \"{}\"", spec.cn),
            dir,
            stem,
            args.key_type,
            spec.not_after,
        ));
    }
    let d = dir.display();
    let notes = vec![
        String::new(),
        "Next:".to_string(),
        format!(
            "  otelpki --dir {d} config collector   # the Collector's OTLP receiver with TLS + mTLS"
        ),
        format!(
            "  otelpki --dir {d} config env         # OTEL_EXPORTER_OTLP_* for your applications"
        ),
        format!("  otelpki --dir {d} check              # verify the whole directory"),
    ];
    Ok(Issued { pairs, notes })
}
