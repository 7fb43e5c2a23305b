//! `otelpki config TARGET` (docs/config.md): what a PKI directory holds (`pki::scan`) turned into
//! the context of one template, rendered by `render`, printed or written through `store`.
//! The facts behind every choice here are the SDKs' and the Collector's documented TLS settings,
//! summed up in docs/config.md.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use serde::Serialize;

use crate::issue;
use crate::key::{ED25519_WARNING, KeyType};
use crate::pki::{self, Entry};
use crate::profile::Role;
use crate::read;
use crate::render::{self, Template};
use crate::report::Render;
use crate::store::{self, AlreadyExists, Output};

use crate::model::Protocol;

/// The first Collector release whose OTLP exporters are `otlp_grpc` and `otlp_http`
/// (`otlp` and `otlphttp` stay as deprecated aliases).
pub const EXPORTER_RENAME: (u64, u64) = (0, 144);

/// A certificate and its key, as the templates see them.
#[derive(Clone, Debug, Serialize)]
pub struct Pair {
    /// File stem: `server`.
    pub name: String,
    /// Where the consumer finds the certificate (absolute, or under --mount-path).
    pub cert: String,
    pub key: String,
    pub common_name: String,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
    /// `ecdsa-p256`, ...; none for a key type otelpki does not make.
    pub key_type: Option<KeyType>,
    /// Expiry as a date: 2027-11-25.
    pub not_after: String,
}

/// The CA certificate, as the templates see it.
#[derive(Clone, Debug, Serialize)]
pub struct Ca {
    pub cert: String,
    pub common_name: String,
    pub not_after: String,
}

#[derive(Debug, Serialize)]
pub struct CollectorContext {
    /// The PKI directory (absolute).
    pub dir: String,
    pub ca: Ca,
    pub server: Pair,
    /// client_ca_file on the receivers.
    pub mtls: bool,
    pub reload_interval: String,
    pub receivers: Vec<Receiver>,
    pub exporter_names: ExporterNames,
    /// An agent Collector's exporter to its gateway, with --gateway.
    pub gateway: Option<Gateway>,
}

#[derive(Debug, Serialize)]
pub struct Receiver {
    /// `grpc` or `http`: the key under `protocols:`.
    pub protocol: String,
    pub endpoint: String,
}

#[derive(Debug, Serialize)]
pub struct ExporterNames {
    pub grpc: String,
    pub http: String,
    /// Names of Collector v0.144.0 and later.
    pub current: bool,
    /// As given with --collector-version.
    pub collector_version: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Gateway {
    /// The exporter's component id, e.g. `otlp_grpc/gateway`.
    pub exporter: String,
    pub protocol: Protocol,
    pub endpoint: String,
    pub client: Pair,
}

/// `config env`, `config java` and `config declarative`.
#[derive(Debug, Serialize)]
pub struct SdkContext {
    pub dir: String,
    pub endpoint: String,
    /// `grpc` or `http/protobuf`.
    pub protocol: String,
    /// `grpc` or `http`.
    pub transport: Protocol,
    pub ca: Ca,
    pub client: Pair,
}

#[derive(Debug, Serialize)]
pub struct K8sContext {
    pub dir: String,
    pub namespace: String,
    /// The first server's Secret, for the mounting example.
    pub server_secret: String,
    pub secrets: Vec<TlsSecret>,
}

/// One kubernetes.io/tls Secret; the data is base64 of the files' bytes.
#[derive(Debug, Serialize)]
pub struct TlsSecret {
    pub name: String,
    pub role: Role,
    /// The pair it holds: `server` for server.crt and server.key.
    pub source: String,
    pub common_name: String,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
    pub not_after: String,
    pub tls_crt: String,
    pub tls_key: String,
    pub ca_crt: String,
}

#[derive(Debug, Serialize)]
pub struct CertManagerContext {
    pub dir: String,
    pub namespace: String,
    pub ca: CaSecret,
    pub issuer: String,
    pub certificates: Vec<Certificate>,
}

#[derive(Debug, Serialize)]
pub struct CaSecret {
    pub name: String,
    pub common_name: String,
    pub not_after: String,
    pub tls_crt: String,
    pub tls_key: String,
}

/// One cert-manager Certificate, mirroring a certificate of DIR.
#[derive(Debug, Serialize)]
pub struct Certificate {
    pub name: String,
    pub secret_name: String,
    pub role: Role,
    pub source: String,
    pub common_name: String,
    pub organization: Option<String>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
    pub usages: Vec<String>,
    pub duration: String,
    pub renew_before: String,
    /// `ECDSA`, `RSA` or `Ed25519`.
    pub algorithm: String,
    /// Bits; none for Ed25519.
    pub size: Option<u32>,
}

/// `config TARGET`: which template, with its options.
#[derive(Clone, Debug)]
pub enum Target {
    Collector(CollectorOptions),
    Env(EndpointOptions),
    Java(EndpointOptions),
    K8s(K8sOptions),
    CertManager(K8sOptions),
    Declarative(EndpointOptions),
}

/// What every target shares: where the templates come from and where the output goes.
#[derive(Clone, Debug)]
pub struct RenderOptions {
    /// The team's own templates; None: the built-in ones.
    pub templates: Option<PathBuf>,
    /// Write to this file instead of standard output.
    pub out: Option<PathBuf>,
    /// Replace `out`.
    pub force: bool,
}

/// `config collector`.
#[derive(Clone, Debug)]
pub struct CollectorOptions {
    /// The server certificate's file stem; None: the only one, or `server`.
    pub server: Option<String>,
    pub no_mtls: bool,
    /// An agent Collector's gateway: https:// URL or host[:port].
    pub gateway: Option<String>,
    /// The agent's client certificate for the gateway, as a file stem.
    pub client: Option<String>,
    /// The gateway exporter's protocol.
    pub protocol: Protocol,
    pub collector_version: Option<String>,
    /// A Go duration.
    pub reload_interval: String,
    /// Where the Collector sees DIR's files; None: DIR's absolute path.
    pub mount_path: Option<PathBuf>,
    pub render: RenderOptions,
}

/// `config env`, `config java`, `config declarative`: an application's view.
#[derive(Clone, Debug)]
pub struct EndpointOptions {
    /// The client certificate's file stem; None: the only one, or `client`.
    pub client: Option<String>,
    /// The server certificate that names the default endpoint host.
    pub server: Option<String>,
    /// The Collector's OTLP endpoint; None: from the server certificate.
    pub endpoint: Option<String>,
    pub protocol: Protocol,
    /// Where the application sees DIR's files; None: DIR's absolute path.
    pub mount_path: Option<PathBuf>,
    pub render: RenderOptions,
}

/// `config k8s` and `config cert-manager`.
#[derive(Clone, Debug)]
pub struct K8sOptions {
    pub namespace: String,
    pub render: RenderOptions,
}

/// What `config` outputs: the rendered text, or nothing when it went to `--out`.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub text: String,
}

impl Render for Rendered {
    fn text(&self) -> String {
        self.text.clone()
    }
}

/// Runs `config TARGET`.
pub fn run(dir: &Path, target: &Target) -> Result<Rendered> {
    match target {
        Target::Collector(args) => {
            let ctx = collector_context(&Pki::open(dir, args.mount_path.as_deref())?, args)?;
            emit(Template::Collector, &ctx, &args.render, false)
        }
        Target::Env(args) => {
            let ctx = sdk_context(&Pki::open(dir, args.mount_path.as_deref())?, args)?;
            if ctx.client.key_type == Some(KeyType::Ed25519) {
                eprintln!("{ED25519_WARNING}");
            }
            emit(Template::Env, &ctx, &args.render, false)
        }
        Target::Java(args) => {
            let pki = Pki::open(dir, args.mount_path.as_deref())?;
            let ctx = sdk_context(&pki, args)?;
            java_can_load(&pki, &ctx.client)?;
            emit(Template::Java, &ctx, &args.render, false)
        }
        Target::Declarative(args) => {
            let ctx = sdk_context(&Pki::open(dir, args.mount_path.as_deref())?, args)?;
            if ctx.client.key_type == Some(KeyType::Ed25519) {
                eprintln!("{ED25519_WARNING}");
            }
            emit(Template::Declarative, &ctx, &args.render, false)
        }
        Target::K8s(args) => {
            let ctx = k8s_context(&Pki::open(dir, None)?, args)?;
            emit(Template::K8s, &ctx, &args.render, true)
        }
        Target::CertManager(args) => {
            let ctx = cert_manager_context(&Pki::open(dir, None)?, args)?;
            emit(Template::CertManager, &ctx, &args.render, true)
        }
    }
}

/// A scanned PKI directory and the directory its consumer sees it as.
struct Pki {
    /// DIR, canonical.
    dir: PathBuf,
    /// What paths in the output start with: DIR, or --mount-path.
    base: PathBuf,
    entries: Vec<Entry>,
}

impl Pki {
    fn open(dir: &Path, mount_path: Option<&Path>) -> Result<Pki> {
        let canonical = fs::canonicalize(dir).with_context(|| {
            format!(
                "cannot read the PKI directory `{}`; create one with `otelpki --dir {} init`",
                dir.display(),
                dir.display()
            )
        })?;
        let base = match mount_path {
            Some(m) if !m.is_absolute() => bail!(
                "--mount-path `{}` must be an absolute path, such as /etc/otel/certs",
                m.display()
            ),
            Some(m) => m.to_path_buf(),
            None => canonical.clone(),
        };
        let entries = pki::scan(&canonical)?;
        Ok(Pki {
            dir: canonical,
            base,
            entries,
        })
    }

    fn dir_str(&self) -> Result<String> {
        utf8(&self.dir)
    }

    /// Where the consumer finds `path` (a file of DIR).
    fn seen(&self, path: &Path) -> Result<String> {
        let file = path
            .file_name()
            .ok_or_else(|| anyhow!("`{}` is not a file", path.display()))?;
        utf8(&self.base.join(file))
    }

    fn ca(&self) -> Result<&Entry> {
        self.entries
            .iter()
            .find(|e| e.name == "ca" && e.role == Some(Role::Ca))
            .ok_or_else(|| {
                anyhow!(
                    "`{}` holds no CA certificate (ca.crt); create the PKI with `otelpki --dir {} init`",
                    self.dir.display(),
                    self.dir.display()
                )
            })
    }

    fn ca_view(&self) -> Result<Ca> {
        let ca = self.ca()?;
        Ok(Ca {
            cert: self.seen(&ca.cert_path)?,
            common_name: ca.common_name.clone().unwrap_or_default(),
            not_after: issue::date(ca.not_after),
        })
    }

    /// The server or client certificate named `wanted`, or else the only one of its role,
    /// or else the one with the default stem (`server`, `client`).
    fn pick(&self, role: Role, wanted: Option<&str>) -> Result<&Entry> {
        let (what, flag, default, fix) = match role {
            Role::Server => (
                "server",
                "--server",
                "server",
                "otelpki issue server --san otel-collector.example.com",
            ),
            Role::Client => (
                "client",
                "--client",
                "client",
                "otelpki issue client --cn my-application",
            ),
            Role::Ca => ("CA", "", "ca", "otelpki init-ca"),
        };
        let dir = self.dir.display();
        if let Some(name) = wanted {
            let entry = self
                .entries
                .iter()
                .find(|e| e.name == name)
                .ok_or_else(|| anyhow!("`{dir}` has no `{name}.crt` (given with {flag})"))?;
            if entry.role != Some(role) {
                bail!(
                    "`{}` is not a {what} certificate ({flag} {name})",
                    entry.cert_path.display()
                );
            }
            return Ok(entry);
        }
        let found: Vec<&Entry> = pki::of_role(&self.entries, role).collect();
        match found.as_slice() {
            [] => bail!("`{dir}` holds no {what} certificate; issue one with `{fix}`"),
            [one] => Ok(one),
            several => several
                .iter()
                .find(|e| e.name == default)
                .copied()
                .ok_or_else(|| {
                    let names: Vec<&str> = several.iter().map(|e| e.name.as_str()).collect();
                    anyhow!(
                        "`{dir}` holds several {what} certificates ({}); choose one with {flag} NAME",
                        names.join(", ")
                    )
                }),
        }
    }

    /// A pair whose key must be there too.
    fn pair(&self, entry: &Entry) -> Result<Pair> {
        if !entry.key_exists {
            bail!(
                "`{}` is missing beside `{}`",
                entry.key_path.display(),
                entry.cert_path.display()
            );
        }
        Ok(Pair {
            name: entry.name.clone(),
            cert: self.seen(&entry.cert_path)?,
            key: self.seen(&entry.key_path)?,
            common_name: entry.common_name.clone().unwrap_or_default(),
            dns_names: entry.dns_names.clone(),
            ip_addresses: entry.ip_addresses.clone(),
            key_type: entry.key_type,
            not_after: issue::date(entry.not_after),
        })
    }

    /// The server and client certificates, and a warning for each other certificate.
    fn leaves(&self) -> Vec<&Entry> {
        let mut leaves = Vec::new();
        for e in &self.entries {
            match e.role {
                Some(Role::Server | Role::Client) => leaves.push(e),
                // ca.crt, and the next / previous CA of a rotation (`rotate-ca`)
                Some(Role::Ca) if matches!(e.name.as_str(), "ca" | "ca-next" | "ca-previous") => {}
                _ => eprintln!(
                    "warning: skipping `{}`: neither a server nor a client certificate",
                    e.cert_path.display()
                ),
            }
        }
        // servers first, then clients; by name within each (the order of `scan`)
        leaves.sort_by_key(|e| e.role != Some(Role::Server));
        leaves
    }
}

fn utf8(path: &Path) -> Result<String> {
    path.to_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("`{}` is not a UTF-8 path", path.display()))
}

fn collector_context(pki: &Pki, args: &CollectorOptions) -> Result<CollectorContext> {
    let server = pki.pair(pki.pick(Role::Server, args.server.as_deref())?)?;
    go_duration(&args.reload_interval)?;
    let current = match &args.collector_version {
        None => true,
        Some(v) => collector_version(v)? >= EXPORTER_RENAME,
    };
    let exporter_names = ExporterNames {
        grpc: if current { "otlp_grpc" } else { "otlp" }.into(),
        http: if current { "otlp_http" } else { "otlphttp" }.into(),
        current,
        collector_version: args.collector_version.clone(),
    };
    let gateway = match &args.gateway {
        None => None,
        Some(url) => {
            let client = pki.pair(pki.pick(Role::Client, args.client.as_deref())?)?;
            let kind = match args.protocol {
                Protocol::Grpc => &exporter_names.grpc,
                Protocol::Http => &exporter_names.http,
            };
            Some(Gateway {
                exporter: format!("{kind}/gateway"),
                protocol: args.protocol,
                endpoint: endpoint(url, args.protocol, "--gateway")?.url,
                client,
            })
        }
    };
    let receivers = [Protocol::Grpc, Protocol::Http]
        .into_iter()
        .map(|p| Receiver {
            protocol: p.receiver_key().into(),
            endpoint: format!("0.0.0.0:{}", p.port()),
        })
        .collect();
    Ok(CollectorContext {
        dir: pki.dir_str()?,
        ca: pki.ca_view()?,
        server,
        mtls: !args.no_mtls,
        reload_interval: args.reload_interval.clone(),
        receivers,
        exporter_names,
        gateway,
    })
}

fn sdk_context(pki: &Pki, args: &EndpointOptions) -> Result<SdkContext> {
    let client = pki.pair(pki.pick(Role::Client, args.client.as_deref())?)?;
    // The server certificate names the default host, and lets us warn about a name mismatch.
    let server = match (&args.endpoint, &args.server) {
        (None, _) | (_, Some(_)) => Some(
            pki.pick(Role::Server, args.server.as_deref())
                .context("give the Collector's address with --endpoint")?,
        ),
        (Some(_), None) => pki.pick(Role::Server, None).ok(),
    };
    let endpoint = match &args.endpoint {
        Some(url) => endpoint(url, args.protocol, "--endpoint")?,
        None => {
            let server = server.ok_or_else(|| anyhow!("no server certificate"))?;
            let host = default_host(server)
                .context("the default endpoint is the server certificate's first name")?;
            endpoint(&host, args.protocol, "--endpoint")?
        }
    };
    if let Some(server) = server
        && !names_host(server, &endpoint.host)
    {
        eprintln!(
            "warning: `{}` is not a name of `{}` ({}); the SDK will refuse the Collector's certificate. \
             Use one of its names in --endpoint, or reissue it with this name too: \
             otelpki issue server --san {},{}{} --force",
            endpoint.host,
            server.cert_path.display(),
            server_names(server),
            server_names(server),
            endpoint.host,
            if server.name == "server" {
                String::new()
            } else {
                format!(" --name {}", server.name)
            }
        );
    }
    Ok(SdkContext {
        dir: pki.dir_str()?,
        endpoint: endpoint.url,
        protocol: args.protocol.otel_name().into(),
        transport: args.protocol,
        ca: pki.ca_view()?,
        client,
    })
}

/// The Java SDK reads only unencrypted PKCS#8 keys, and only RSA or EC ones
/// (opentelemetry-java `TlsUtil`; facts §3.4).
fn java_can_load(pki: &Pki, client: &Pair) -> Result<()> {
    let entry = pki.pick(Role::Client, Some(&client.name))?;
    if entry.key_type == Some(KeyType::Ed25519) {
        bail!(
            "`{}` has an Ed25519 key, which the OpenTelemetry Java SDK cannot load (it reads RSA \
             and EC keys only); issue an ECDSA client certificate: \
             otelpki issue client --cn {} --name {} --key-type ecdsa-p256 --force",
            entry.cert_path.display(),
            client.common_name,
            client.name
        );
    }
    if !matches!(
        read::private_key_der(&entry.key_path)?,
        rustls::pki_types::PrivateKeyDer::Pkcs8(_)
    ) {
        bail!(
            "`{}` is not a PKCS#8 key (-----BEGIN PRIVATE KEY-----), the only form the Java SDK \
             reads; convert it: openssl pkcs8 -topk8 -nocrypt -in {} -out {}.pkcs8",
            entry.key_path.display(),
            entry.key_path.display(),
            entry.key_path.display()
        );
    }
    Ok(())
}

fn k8s_context(pki: &Pki, args: &K8sOptions) -> Result<K8sContext> {
    k8s_name(&args.namespace, "--namespace")?;
    let ca_crt = base64_of(&pki.ca()?.cert_path)?;
    let mut secrets: Vec<TlsSecret> = Vec::new();
    for e in pki.leaves() {
        if !e.key_exists {
            eprintln!(
                "warning: skipping `{}`: its key `{}` is not here",
                e.cert_path.display(),
                e.key_path.display()
            );
            continue;
        }
        let name = format!("otelpki-{}-tls", k8s_name(&e.name, "a file name")?);
        if secrets.iter().any(|s| s.name == name) {
            bail!("two certificates of DIR map to the Secret name `{name}`; rename one");
        }
        secrets.push(TlsSecret {
            name,
            role: e.role.unwrap_or(Role::Client),
            source: e.name.clone(),
            common_name: e.common_name.clone().unwrap_or_default(),
            dns_names: e.dns_names.clone(),
            ip_addresses: e.ip_addresses.clone(),
            not_after: issue::date(e.not_after),
            tls_crt: base64_of(&e.cert_path)?,
            tls_key: base64_of(&e.key_path)?,
            ca_crt: ca_crt.clone(),
        });
    }
    if secrets.is_empty() {
        bail!(
            "`{}` holds no server or client certificate with its key; issue one with `otelpki issue server --san ...`",
            pki.dir.display()
        );
    }
    let server_secret = secrets
        .iter()
        .find(|s| s.role == Role::Server)
        .or(secrets.first())
        .map(|s| s.name.clone())
        .unwrap_or_default();
    Ok(K8sContext {
        dir: pki.dir_str()?,
        namespace: args.namespace.clone(),
        server_secret,
        secrets,
    })
}

fn cert_manager_context(pki: &Pki, args: &K8sOptions) -> Result<CertManagerContext> {
    k8s_name(&args.namespace, "--namespace")?;
    let ca = pki.ca()?;
    if !ca.key_exists {
        bail!(
            "cert-manager signs with the CA's key, and `{}` is not here",
            ca.key_path.display()
        );
    }
    if crate::encrypt::is_encrypted(&ca.key_path) {
        bail!(
            "`{}` is encrypted, and cert-manager reads only an unencrypted key from its Secret; \
             keep this CA with otelpki, or hand cert-manager a CA of its own \
             (`otelpki --dir DIR init-ca` without --encrypt-key)",
            ca.key_path.display()
        );
    }
    let mut certificates: Vec<Certificate> = Vec::new();
    for e in pki.leaves() {
        let role = e.role.unwrap_or(Role::Client);
        let key_type = e.key_type.ok_or_else(|| {
            anyhow!(
                "`{}` has a key type cert-manager is not asked to make here; \
                 otelpki knows ECDSA P-256/P-384, RSA 2048/3072/4096 and Ed25519",
                e.cert_path.display()
            )
        })?;
        let stem = k8s_name(&e.name, "a file name")?;
        let name = format!("otelpki-{stem}");
        if certificates.iter().any(|c| c.name == name) {
            bail!("two certificates of DIR map to the Certificate name `{name}`; rename one");
        }
        let (algorithm, size) = private_key(key_type);
        let (duration, renew_before) = lifetime(e)?;
        certificates.push(Certificate {
            secret_name: format!("{name}-tls"),
            name,
            role,
            source: e.name.clone(),
            common_name: e.common_name.clone().unwrap_or_else(|| e.name.clone()),
            organization: e.organization.clone(),
            dns_names: e.dns_names.clone(),
            ip_addresses: e.ip_addresses.clone(),
            usages: usages(role, key_type),
            duration,
            renew_before,
            algorithm: algorithm.into(),
            size,
        });
    }
    Ok(CertManagerContext {
        dir: pki.dir_str()?,
        namespace: args.namespace.clone(),
        ca: CaSecret {
            name: "otelpki-ca".into(),
            common_name: ca.common_name.clone().unwrap_or_default(),
            not_after: issue::date(ca.not_after),
            // the signer alone (the first certificate of ca.crt): during a rotation ca.crt is a
            // trust bundle, not a chain, and cert-manager's CA issuer refuses a broken chain
            tls_crt: base64::engine::general_purpose::STANDARD
                .encode(crate::rotate::pem_of(&read::certificate(&ca.cert_path)?)),
            tls_key: base64_of(&ca.key_path)?,
        },
        issuer: "otelpki-ca".into(),
        certificates,
    })
}

/// cert-manager's `privateKey.algorithm` and `.size` for our key type (its validation takes
/// RSA sizes from 2048 to 8192, ECDSA 256/384/521, and no size for Ed25519).
fn private_key(kt: KeyType) -> (&'static str, Option<u32>) {
    match kt {
        KeyType::EcdsaP256 => ("ECDSA", Some(256)),
        KeyType::EcdsaP384 => ("ECDSA", Some(384)),
        KeyType::Ed25519 => ("Ed25519", None),
        KeyType::Rsa2048 => ("RSA", Some(2048)),
        KeyType::Rsa3072 => ("RSA", Some(3072)),
        KeyType::Rsa4096 => ("RSA", Some(4096)),
    }
}

/// Our profiles' key usages in cert-manager's words. Its default (digital signature + key
/// encipherment, no EKU) would make a certificate good for neither side, so set them all.
fn usages(role: Role, kt: KeyType) -> Vec<String> {
    let mut u = vec!["digital signature"];
    if kt.is_rsa() {
        u.push("key encipherment");
    }
    u.push(if role == Role::Server {
        "server auth"
    } else {
        "client auth"
    });
    u.into_iter().map(String::from).collect()
}

/// `duration` as our certificate's lifetime in whole hours, `renewBefore` a third of it
/// (cert-manager's own default, written out so it is visible).
fn lifetime(e: &Entry) -> Result<(String, String)> {
    let minutes = (e.not_after - e.not_before).whole_minutes();
    let hours = minutes / 60;
    if hours < 1 {
        bail!(
            "`{}` is valid for less than an hour, cert-manager's minimum duration",
            e.cert_path.display()
        );
    }
    let renew = hours * 60 / 3;
    let renew_before = if renew % 60 == 0 {
        format!("{}h", renew / 60)
    } else {
        format!("{}h{}m", renew / 60, renew % 60)
    };
    Ok((format!("{hours}h"), renew_before))
}

fn base64_of(path: &Path) -> Result<String> {
    Ok(base64::engine::general_purpose::STANDARD.encode(read::read_small(path)?))
}

/// A Kubernetes object name part (RFC 1123 label): lower case letters, digits and '-'.
fn k8s_name(s: &str, what: &str) -> Result<String> {
    let name: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let name = name.trim_matches('-').to_string();
    if name.is_empty() || name.len() > 63 || (what == "--namespace" && name != s) {
        bail!(
            "`{s}` ({what}) is not a Kubernetes name: use lower-case letters, digits and '-', at most 63"
        );
    }
    Ok(name)
}

/// An endpoint URL as SDKs and the Collector should get it: always https://, a port.
#[derive(Debug, PartialEq, Eq)]
struct Endpoint {
    /// `https://host:port[/path]`.
    url: String,
    /// The host without brackets, to compare with SANs.
    host: String,
}

/// Parses `https://host[:port][/path]` or `host[:port]`. A missing port is the protocol's
/// (4317 gRPC, 4318 HTTP); `http://` is refused: it is the plaintext that the
/// certificates are for avoiding, and an SDK would not send its client certificate.
fn endpoint(value: &str, protocol: Protocol, flag: &str) -> Result<Endpoint> {
    let v = value.trim();
    let parsed = crate::endpoint::parse(v).map_err(|e| anyhow!("{flag} {e}"))?;
    if parsed.scheme == Some(crate::endpoint::Scheme::Http) {
        bail!(
            "{flag} `{v}` is http://, which sends telemetry in plaintext without the client \
             certificate; use https://{}",
            &v["http://".len()..]
        );
    }
    if v.contains(['?', '#']) {
        bail!("{flag} `{v}`: an OTLP endpoint has no query string or fragment");
    }
    let port = parsed.port.unwrap_or(protocol.port());
    let path = if parsed.path == "/" {
        ""
    } else {
        parsed.path.as_str()
    };
    if protocol == Protocol::Grpc && !path.is_empty() {
        bail!("{flag} `{v}`: a gRPC endpoint has no path (the Java SDK refuses one)");
    }
    if port != protocol.port() && [4317, 4318].contains(&port) {
        eprintln!(
            "warning: {flag} `{v}` uses port {port}, but {} listens on {}",
            crate::endpoint::protocol_name(protocol),
            protocol.port()
        );
    }
    Ok(Endpoint {
        url: format!("https://{}:{port}{path}", parsed.host_in_url()),
        host: parsed.host.clone(),
    })
}

/// The first name of the server certificate that a client can dial: a DNS name that is
/// not a wildcard, else an IP address.
fn default_host(server: &Entry) -> Result<String> {
    if let Some(dns) = server.dns_names.iter().find(|d| !d.starts_with("*.")) {
        return Ok(dns.clone());
    }
    if let Some(ip) = server.ip_addresses.first() {
        return Ok(match ip.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
            _ => ip.clone(),
        });
    }
    bail!(
        "`{}` names no DNS name or IP address to connect to; give --endpoint",
        server.cert_path.display()
    )
}

/// Whether `server` covers `host`, by the one host-coverage test (`judge::covers`).
fn names_host(server: &Entry, host: &str) -> bool {
    let Ok(name) = rustls::pki_types::ServerName::try_from(host.to_string()) else {
        return false;
    };
    crate::judge::covers(&server.cert, &name)
}

fn server_names(server: &Entry) -> String {
    let names: Vec<&str> = server
        .dns_names
        .iter()
        .chain(&server.ip_addresses)
        .map(String::as_str)
        .collect();
    names.join(",")
}

/// `0.143.0`, `v0.143.0` or `0.143` as (major, minor).
fn collector_version(v: &str) -> Result<(u64, u64)> {
    let numbers: Option<Vec<u64>> = v
        .trim()
        .trim_start_matches('v')
        .split('.')
        .map(|p| p.parse().ok())
        .collect();
    match numbers.as_deref() {
        Some([major, minor] | [major, minor, _]) => Ok((*major, *minor)),
        _ => bail!(
            "--collector-version `{v}` is not a version; give the Collector's release, e.g. 0.143.0 \
             (`otelcol --version` prints it)"
        ),
    }
}

/// A Go duration as the Collector parses `reload_interval`: `1h`, `30m`, `1h30m`, `90s`.
fn go_duration(v: &str) -> Result<()> {
    let mut rest = v;
    let mut ok = !rest.is_empty();
    while ok && !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let unit_len = ["ns", "us", "µs", "ms", "h", "m", "s"]
            .iter()
            .find(|u| rest[digits..].starts_with(*u))
            .map(|u| u.len());
        match unit_len {
            Some(len) if digits > 0 => rest = &rest[digits + len..],
            _ => ok = false,
        }
    }
    if !ok {
        bail!("--reload-interval `{v}` is not a duration; e.g. 1h, 30m, 1h30m");
    }
    Ok(())
}

/// Renders, and returns the text to print, or writes `--out` through `store` (0600 when the
/// output holds keys) and returns nothing to print.
fn emit(
    template: Template,
    ctx: &impl Serialize,
    args: &RenderOptions,
    secret: bool,
) -> Result<Rendered> {
    let text = render::render(template, args.templates.as_deref(), ctx)?;
    let Some(path) = &args.out else {
        return Ok(Rendered { text });
    };
    let out = if secret {
        Output::key(path.clone(), text)
    } else {
        Output::public(path.clone(), text)
    };
    store::publish(&[out], args.force).map_err(|e| match e.downcast_ref::<AlreadyExists>() {
        Some(exists) => anyhow!("{exists}; pass --force to replace it, or choose another --out"),
        None => e,
    })?;
    eprintln!(
        "Wrote {} to {}{}",
        template.file_name(),
        path.display(),
        if secret {
            " (mode 0600: it holds private keys)"
        } else {
            ""
        }
    );
    Ok(Rendered {
        text: String::new(),
    })
}

/// Contexts covering every branch of every built-in template (render.rs tests them).
#[cfg(test)]
pub(crate) fn sample_contexts() -> Vec<(Template, serde_json::Value)> {
    use serde_json::to_value;
    let pair = |name: &str, kt: KeyType| Pair {
        name: name.into(),
        cert: format!("/etc/otel/certs/{name}.crt"),
        key: format!("/etc/otel/certs/{name}.key"),
        common_name: name.into(),
        dns_names: vec!["localhost".into()],
        ip_addresses: vec!["127.0.0.1".into(), "::1".into()],
        key_type: Some(kt),
        not_after: "2030-01-01".into(),
    };
    let ca = Ca {
        cert: "/etc/otel/certs/ca.crt".into(),
        common_name: "OTel CA".into(),
        not_after: "2035-01-01".into(),
    };
    let mut out = Vec::new();
    for (mtls, gateway, current) in [
        (true, None, true),
        (false, Some(Protocol::Grpc), true),
        (true, Some(Protocol::Http), false),
    ] {
        let names = ExporterNames {
            grpc: if current { "otlp_grpc" } else { "otlp" }.into(),
            http: if current { "otlp_http" } else { "otlphttp" }.into(),
            current,
            collector_version: (!current).then(|| "0.143.0".into()),
        };
        let ctx = CollectorContext {
            dir: "/certs".into(),
            ca: ca.clone(),
            server: pair("server", KeyType::EcdsaP256),
            mtls,
            reload_interval: "1h".into(),
            receivers: vec![Receiver {
                protocol: "grpc".into(),
                endpoint: "0.0.0.0:4317".into(),
            }],
            gateway: gateway.map(|p| Gateway {
                exporter: format!("{}/gateway", names.grpc),
                protocol: p,
                endpoint: "https://gw:4317".into(),
                client: pair("agent", KeyType::EcdsaP256),
            }),
            exporter_names: names,
        };
        out.push((Template::Collector, to_value(ctx).unwrap()));
    }
    for p in [Protocol::Grpc, Protocol::Http] {
        for t in [Template::Env, Template::Java, Template::Declarative] {
            let ctx = SdkContext {
                dir: "/certs".into(),
                endpoint: format!("https://localhost:{}", p.port()),
                protocol: p.otel_name().into(),
                transport: p,
                ca: ca.clone(),
                client: pair("client", KeyType::EcdsaP256),
            };
            out.push((t, to_value(ctx).unwrap()));
        }
    }
    let secret = |role: Role| TlsSecret {
        name: "otelpki-server-tls".into(),
        role,
        source: "server".into(),
        common_name: "localhost".into(),
        dns_names: vec!["localhost".into()],
        ip_addresses: vec![],
        not_after: "2030-01-01".into(),
        tls_crt: "Y2VydA==".into(),
        tls_key: "a2V5".into(),
        ca_crt: "Y2E=".into(),
    };
    let k8s = K8sContext {
        dir: "/certs".into(),
        namespace: "observability".into(),
        server_secret: "otelpki-server-tls".into(),
        secrets: vec![secret(Role::Server), secret(Role::Client)],
    };
    out.push((Template::K8s, to_value(k8s).unwrap()));
    let cert = |role: Role, kt: KeyType, org: Option<&str>| {
        let (algorithm, size) = private_key(kt);
        Certificate {
            name: "otelpki-server".into(),
            secret_name: "otelpki-server-tls".into(),
            role,
            source: "server".into(),
            common_name: "localhost".into(),
            organization: org.map(String::from),
            dns_names: if role == Role::Server {
                vec!["localhost".into()]
            } else {
                vec![]
            },
            ip_addresses: vec!["127.0.0.1".into()],
            usages: usages(role, kt),
            duration: "8760h".into(),
            renew_before: "2920h".into(),
            algorithm: algorithm.into(),
            size,
        }
    };
    let cm = CertManagerContext {
        dir: "/certs".into(),
        namespace: "observability".into(),
        ca: CaSecret {
            name: "otelpki-ca".into(),
            common_name: "OTel CA".into(),
            not_after: "2035-01-01".into(),
            tls_crt: "Y2E=".into(),
            tls_key: "a2V5".into(),
        },
        issuer: "otelpki-ca".into(),
        certificates: vec![
            cert(Role::Server, KeyType::Rsa3072, Some("Acme")),
            cert(Role::Client, KeyType::Ed25519, None),
        ],
    };
    out.push((Template::CertManager, to_value(cm).unwrap()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(v: &str, p: Protocol) -> Result<String> {
        endpoint(v, p, "--endpoint").map(|e| e.url)
    }

    #[test]
    fn endpoints_are_https_with_the_protocols_port() {
        assert_eq!(
            ep("localhost", Protocol::Grpc).unwrap(),
            "https://localhost:4317"
        );
        assert_eq!(
            ep("localhost", Protocol::Http).unwrap(),
            "https://localhost:4318"
        );
        assert_eq!(
            ep("https://gw.example:443", Protocol::Grpc).unwrap(),
            "https://gw.example:443"
        );
        assert_eq!(
            ep("https://gw:4318/otlp", Protocol::Http).unwrap(),
            "https://gw:4318/otlp"
        );
        assert_eq!(ep("[::1]", Protocol::Grpc).unwrap(), "https://[::1]:4317");
        let e = endpoint("https://[::1]:9000/", Protocol::Grpc, "--endpoint").unwrap();
        assert_eq!(
            (e.url.as_str(), e.host.as_str()),
            ("https://[::1]:9000", "::1")
        );
    }

    #[test]
    fn plaintext_and_odd_endpoints_are_refused() {
        let err = ep("http://localhost:4317", Protocol::Grpc).unwrap_err();
        assert!(
            err.to_string().contains("use https://localhost:4317"),
            "{err}"
        );
        assert!(ep("grpc://localhost", Protocol::Grpc).is_err());
        assert!(ep("https://gw:4317/v1", Protocol::Grpc).is_err());
        assert!(ep("https://gw:4318/?a=b", Protocol::Http).is_err());
        assert!(ep("https://u@gw", Protocol::Http).is_err());
        assert!(ep("", Protocol::Http).is_err());
    }

    #[test]
    fn collector_versions() {
        assert_eq!(collector_version("0.143.0").unwrap(), (0, 143));
        assert_eq!(collector_version("v0.144.1").unwrap(), (0, 144));
        assert!(collector_version("0.144").unwrap() >= EXPORTER_RENAME);
        assert!(collector_version("1.0.0").unwrap() >= EXPORTER_RENAME);
        assert!(collector_version("latest").is_err());
        assert!(collector_version("0.x.1").is_err());
    }

    #[test]
    fn go_durations() {
        for ok in ["1h", "30m", "1h30m", "90s", "1.5h", "500ms"] {
            assert!(go_duration(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1", "h", "1 h", "1d", "-1h"] {
            assert!(go_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn usages_follow_the_profiles() {
        assert_eq!(
            usages(Role::Server, KeyType::EcdsaP256),
            ["digital signature", "server auth"]
        );
        assert_eq!(
            usages(Role::Client, KeyType::Rsa2048),
            ["digital signature", "key encipherment", "client auth"]
        );
    }

    #[test]
    fn kubernetes_names() {
        assert_eq!(k8s_name("My_App.v2", "a file name").unwrap(), "my-app-v2");
        assert!(k8s_name("--", "a file name").is_err());
        assert!(k8s_name("Observability", "--namespace").is_err());
        assert_eq!(
            k8s_name("observability", "--namespace").unwrap(),
            "observability"
        );
    }
}
