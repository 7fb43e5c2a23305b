//! The whole command-line interface (docs/commands.md), as clap derive types. No logic here: doc
//! comments are the help, and values are parsed into domain types (`KeyType`, `San`). The
//! `From` impls at the end turn the parsed flags into each command's plain options; nothing
//! else in the library knows clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use std::str::FromStr;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};

use crate::encrypt::PassphraseOptions;
use crate::endpoint::{self, Endpoint};
use crate::key::KeyType;
use crate::model::{self, Protocol, Purpose, Window};
use crate::san::{self, San};
use crate::seed;
use crate::text;
use crate::{apply, check, config, export, fixtures, inspect, issue, probe, renew, rotate, verify};
use time::OffsetDateTime;

#[derive(Debug, Parser)]
#[command(
    name = "otelpki",
    version,
    about = "A private PKI for OpenTelemetry: CA, Collector server certificates, client certificates for mTLS",
    after_help = "Quick start:\n  otelpki init                    # ./certs: ca, server (localhost, 127.0.0.1, ::1), client my-application\n  otelpki issue server --san otel-collector.observability.svc\n  otelpki issue client --cn checkout-service --name checkout\n\nExit codes: 0 ok, 1 a check found a problem, 2 usage or input error.\n\n\"The article\" in the examples is \"How to Configure OTLP Export with TLS/mTLS for Any\nLanguage\", whose openssl recipe (a CA, a Collector certificate, a client certificate) otelpki replaces."
)]
pub struct Cli {
    /// Directory holding the PKI (ca.crt, ca.key, server.crt, ...)
    #[arg(
        long,
        global = true,
        env = "OTELPKI_DIR",
        default_value = "certs",
        value_name = "DIR"
    )]
    pub dir: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a CA, a server certificate and a client certificate in one go
    #[command(
        after_help = "Example (the whole PKI the article builds with openssl, in one step):\n  otelpki init\n  otelpki init --san otel-collector.observability.svc --san localhost --client my-application --client checkout"
    )]
    Init(InitArgs),

    /// Create the certificate authority (ca.crt, ca.key) that signs every certificate
    #[command(
        after_help = "Example:\n  otelpki init-ca --cn \"OTel CA\" --org MyCompany\n  OTELPKI_CA_PASSPHRASE=... otelpki init-ca --encrypt-key   # ca.key encrypted at rest"
    )]
    InitCa(InitCaArgs),

    /// Issue a server or client certificate signed by the CA
    #[command(subcommand)]
    Issue(Issue),

    /// Render the configuration that wires the certificates in: Collector, SDK env file,
    /// Java agent flags, Kubernetes Secrets, cert-manager resources
    #[command(
        subcommand,
        after_help = "Example (after `otelpki init`, the article's Collector and application):\n  otelpki config collector > otel-collector-config.yaml\n  otelpki config env > sdk.env"
    )]
    Config(Config),
    /// Write a good and a bad certificate set for tests, with a manifest (fixtures.json)
    #[command(
        long_about = "Write a good and a bad certificate set for tests, with a manifest (fixtures.json).\n\n\
Good: ca, server (localhost, 127.0.0.1, ::1), client. Bad: expired-server, not-yet-valid-server, \
wrong-name-server, foreign-client (signed by foreign-ca.crt), no-clientauth-client, \
self-signed-server; each differs from its good twin in one way. With --seed and --now (or \
SOURCE_DATE_EPOCH) the files are byte-for-byte the same on every run and machine.",
        after_help = "Example (certificates for a test suite, the same on every CI run):\n  otelpki --dir tests/certs fixtures --seed my-tests --now 2025-01-01T00:00:00Z\n  openssl verify -attime 1735689600 -CAfile tests/certs/ca.crt tests/certs/expired-server.crt   # fails: expired"
    )]
    Fixtures(FixturesArgs),

    /// Create or renew the whole PKI declared in a TOML spec (default ./otelpki.toml)
    #[command(
        long_about = "Create or renew the whole PKI declared in a TOML spec (default ./otelpki.toml).\n\n\
Creates what is missing, re-issues what expires within renew_before_days or no longer matches \
the spec (SANs, CN, organisation, key type, CA), leaves the rest alone, and prints per pair of \
files: created, renewed or unchanged.",
        after_help = "Example (a Collector and two applications; see examples/otelpki.toml):\n  [ca]\n  cn = \"OTel CA\"\n  [[server]]\n  sans = [\"otel-collector.observability.svc\", \"localhost\"]\n  [[client]]\n  cn = \"checkout-service\"\n  [[client]]\n  cn = \"my-application\"\n\n  otelpki --dir certs apply otelpki.toml --dry-run\n  otelpki --dir certs apply otelpki.toml"
    )]
    Apply(ApplyArgs),

    /// Re-issue leaf certificates that are due (or those named): new keys, same names
    #[command(
        long_about = "Re-issue leaf certificates: new keys, same file names, SANs, CN, O and key type.\n\n\
Without NAME, every leaf that expires within --within (default 30d) or is no longer signed by \
the current signer (the first certificate of ca.crt). No SDK re-reads its certificate files: \
--exec runs a command once after any renewal (OTELPKI_RENEWED lists the names) to restart \
them. Exit 0 also when nothing was due, so it fits cron and systemd timers.",
        after_help = "Example (daily from cron or a systemd timer; restart what reads the files):\n  otelpki renew --exec 'systemctl restart my-application'\n  otelpki renew server                  # now, whatever its expiry\n  otelpki renew --within 60d --dry-run --json\n\nExit codes: 0 done (also when nothing was due), 2 unusable input or a failed --exec."
    )]
    Renew(RenewArgs),

    /// Rotate the CA in stages with a trust bundle: start, switch, finish (and status)
    #[command(
        subcommand,
        long_about = "Rotate the CA in stages, with ca.crt as a trust bundle, so no consumer ever \
distrusts a certificate it is shown:\n  start   new CA as ca-next.*; ca.crt = old + new (old still signs)\n  \
switch  new CA signs; ca.crt = new + old; every leaf re-issued; old pair kept as ca-previous.*\n  \
finish  ca.crt = new alone; ca-previous.* removed (refused while a leaf is under the old CA)\n\
Each step is one atomic transition under the directory's lock; re-running a step completes it.",
        after_help = "Example (the whole rotation; restart the SDKs between the steps):\n  otelpki rotate-ca start\n  otelpki rotate-ca switch --exec 'systemctl restart my-application'\n  otelpki rotate-ca finish\n  otelpki rotate-ca status"
    )]
    RotateCa(RotateCa),

    /// Show what certificate and key files contain (describes only; `verify` judges)
    #[command(
        after_help = "Example (what the Collector will present, and its key):\n  otelpki inspect certs/server.crt certs/server.key\n  otelpki inspect /etc/otel/certs/ca.crt --json\n\nKeys are shown by type, size and public-key SHA-256 (equal to their certificate's), never their contents."
    )]
    Inspect(InspectArgs),

    /// Verify a certificate against the CA: chain, purpose, host name or IP, validity, key
    #[command(
        after_help = "Example (the Collector's certificate, for the name the SDKs connect to):\n  otelpki verify certs/server.crt --host otel-collector.observability.svc --key certs/server.key\n  otelpki verify certs/client.crt --purpose client\n\nExit codes: 0 good, 1 problems found (each with the command that fixes it), 2 unusable input."
    )]
    Verify(VerifyArgs),

    /// Check the whole PKI directory, and an OTLP endpoint URL against it
    #[command(
        after_help = "Example (before pointing the SDKs at the article's Collector; and daily from cron):\n  otelpki check --endpoint https://otel-collector.observability.svc:4317\n  otelpki check --expires-within 30d || notify-the-team\n\nExit codes: 0 all good, 1 problems found (each with the command that fixes it), 2 unusable input.\nDoes not connect anywhere; `probe` does."
    )]
    Check(CheckArgs),

    /// Connect to a live OTLP endpoint as an exporter does (TLS handshake, then an empty export) and explain the result
    #[command(
        after_help = "Example (the article's Collector, with mTLS; a Collector behind nginx):\n  otelpki probe https://otel-collector.observability.svc:4317 --cert certs/client.crt --key certs/client.key\n  otelpki probe https://otel.example.com/otlp --protocol http --cert certs/client.crt --key certs/client.key\n  otelpki probe localhost:4318 --ca certs/ca.crt --tls-only\n\nExit codes: 0 the export was accepted (with --tls-only: the handshake went through), 1 problems found\n(each with the way to fix it), 2 unusable input.\nSends no telemetry: after the handshake it sends an empty export (no spans) the way the SDK\ndoes for the protocol, OTLP/HTTP POST /v1/traces or OTLP/gRPC TraceService/Export, and\nexplains the answer (a proxy's client-certificate check, a wrong path or port, auth, a down\nupstream). --tls-only stops after the handshake."
    )]
    Probe(ProbeArgs),

    /// Write PKCS#12 files for Java and .NET: a keystore (key, certificate, CA) or a truststore
    #[command(
        subcommand,
        after_help = "Example (the article's application on a JVM, with only a keystore and a truststore):\n  OTELPKI_P12_PASSWORD=... otelpki export p12 --name client\n  OTELPKI_P12_PASSWORD=... otelpki export truststore\n  java -Djavax.net.ssl.keyStore=certs/client.p12 -Djavax.net.ssl.trustStore=certs/truststore.p12 ..."
    )]
    Export(Export),

    /// Print the shell completion script for bash, zsh, fish, elvish or powershell
    #[command(
        after_help = "Example (install it once, then Tab completes commands, flags, key types and config targets):\n  otelpki completions bash > ~/.local/share/bash-completion/completions/otelpki\n  otelpki completions zsh > \"${fpath[1]}/_otelpki\"\n  otelpki completions fish > ~/.config/fish/completions/otelpki.fish"
    )]
    Completions(CompletionsArgs),

    /// Complete or clear what an interrupted otelpki left in DIR (every writing command does
    /// this first; `check` reports the need)
    #[command(
        after_help = "Example (after a writer was killed; check reported interrupted-write):\n  otelpki recover          # in ./certs; --dir DIR for another\n  otelpki check"
    )]
    Recover,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Certificate, bundle or key files (PEM or DER)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Print JSON (the shape is documented in docs/checking.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The certificate (a PEM bundle may add intermediates after it)
    #[arg(value_name = "CERT")]
    pub cert: PathBuf,

    /// CA certificate(s) to verify against (default: DIR/ca.crt)
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,

    /// Host name or IP address clients connect to; must be one of the certificate's SANs
    #[arg(long, value_name = "NAME|IP")]
    pub host: Option<String>,

    /// What the certificate must be usable for (default: what its extKeyUsage says)
    #[arg(long, value_parser = purpose())]
    pub purpose: Option<Purpose>,

    /// Private key that must belong to the certificate
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,

    /// Print JSON (the shape is documented in docs/checking.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The OTLP endpoint the SDKs or an agent Collector will use, e.g. https://otel-collector:4317
    #[arg(long, value_name = "URL", value_parser = endpoint::parse)]
    pub endpoint: Option<Endpoint>,

    /// The endpoint's protocol, as in OTEL_EXPORTER_OTLP_PROTOCOL (default: from its path)
    #[arg(long, value_parser = protocol(), requires = "endpoint")]
    pub protocol: Option<Protocol>,

    /// Report certificates that expire within this time: e.g. 30d, 12h, 2w
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = model::parse_window)]
    pub expires_within: Window,

    /// Print JSON (the shape is documented in docs/checking.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The endpoint: https://HOST:PORT, or HOST:PORT
    #[arg(value_name = "URL", value_parser = endpoint::parse)]
    pub url: Endpoint,

    /// CA certificate(s) the server's certificate must chain to (default: DIR/ca.crt)
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,

    /// Client certificate to present (mTLS)
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,

    /// The client certificate's private key
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,

    /// The protocol of the empty export, as in OTEL_EXPORTER_OTLP_PROTOCOL (default: from the
    /// URL's path, else the port: 4317 gRPC, 4318 HTTP; else HTTP, the spec's default)
    #[arg(long, value_parser = protocol())]
    pub protocol: Option<Protocol>,

    /// Stop after the TLS handshake: send no OTLP export
    #[arg(long, conflicts_with = "protocol")]
    pub tls_only: bool,

    /// Seconds to wait for the connection and for each answer
    #[arg(long, value_name = "SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=120))]
    pub timeout: u64,

    /// Print JSON (the shape is documented in docs/checking.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FixturesArgs {
    /// Derive every key and serial number from this text: the same seed and time give the
    /// same files (not for production keys: anyone with the seed has them)
    #[arg(long, value_name = "TEXT")]
    pub seed: Option<String>,

    /// Issue at this time instead of now (RFC 3339); default SOURCE_DATE_EPOCH, else the clock
    #[arg(long, value_name = "RFC3339", value_parser = seed::parse_now)]
    pub now: Option<OffsetDateTime>,

    /// Key type of every certificate (with --seed: ecdsa-p256, ecdsa-p384 or ed25519)
    #[arg(long, value_parser = key_type(), default_value = "ecdsa-p256")]
    pub key_type: KeyType,

    /// Replace existing files
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The spec: the CA, servers, clients, validity and renew-before
    #[arg(default_value = "otelpki.toml", value_name = "SPEC")]
    pub spec: PathBuf,

    /// Derive new keys and serial numbers from this text (reproducible; not for production keys)
    #[arg(long, value_name = "TEXT")]
    pub seed: Option<String>,

    /// Issue at this time instead of now (RFC 3339); default SOURCE_DATE_EPOCH, else the clock
    #[arg(long, value_name = "RFC3339", value_parser = seed::parse_now)]
    pub now: Option<OffsetDateTime>,

    /// Show what would be created or renewed, and write nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Print what was done to each pair as JSON (shape in docs/apply.md)
    #[arg(long)]
    pub json: bool,

    /// Let a new CA key type replace the CA at once (every consumer must take the new ca.crt
    /// at the same moment); without it, a CA key change is refused: use `rotate-ca`
    #[arg(long)]
    pub replace_ca: bool,

    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Names and IPs of the Collector's server certificate (repeatable, or a comma list)
    #[arg(long, value_name = "NAME_OR_IP", value_delimiter = ',', value_parser = san::parse,
          default_values_t = default_server_sans())]
    pub san: Vec<San>,

    /// Common name of a client certificate to issue (repeatable); with several, each
    /// client's files are named after its CN
    #[arg(long = "client", value_name = "CN", default_value = "my-application", value_parser = text::parse_name)]
    pub clients: Vec<String>,

    /// Organisation (O) for every certificate
    #[arg(long, value_parser = text::parse_name)]
    pub org: Option<String>,

    /// Key type for the CA and every certificate
    #[arg(long, value_parser = key_type(), default_value = "ecdsa-p256")]
    pub key_type: KeyType,

    /// Replace existing files
    #[arg(long)]
    pub force: bool,
}

fn default_server_sans() -> Vec<San> {
    ["localhost", "127.0.0.1", "::1"]
        .into_iter()
        .filter_map(|s| san::parse(s).ok())
        .collect()
}

#[derive(Debug, Args)]
pub struct InitCaArgs {
    /// Common name of the CA
    #[arg(long, default_value = "OTel CA", value_parser = text::parse_name)]
    pub cn: String,

    /// Organisation (O) of the CA
    #[arg(long, value_parser = text::parse_name)]
    pub org: Option<String>,

    /// Validity in days
    #[arg(long, default_value_t = 3650, value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub days: u32,

    /// Key type
    #[arg(long, value_parser = key_type(), default_value = "ecdsa-p256")]
    pub key_type: KeyType,

    /// Replace an existing ca.crt / ca.key (every certificate it signed stops being trusted)
    #[arg(long)]
    pub force: bool,

    /// Write ca.key encrypted (PKCS#8, AES-256, PBKDF2-SHA256) with the passphrase from
    /// OTELPKI_CA_PASSPHRASE or --passphrase-file; every command that signs then needs it
    #[arg(long)]
    pub encrypt_key: bool,

    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

/// Where the passphrase of an encrypted CA key comes from (never a flag value: process
/// arguments are visible to every user of the machine).
#[derive(Debug, Args)]
pub struct PassphraseArgs {
    /// File holding the CA key's passphrase (one trailing newline ignored); default: the
    /// OTELPKI_CA_PASSPHRASE environment variable
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Issue {
    /// Issue a server certificate (EKU serverAuth), e.g. for a Collector's OTLP receiver
    #[command(
        after_help = "Example (the Collector in the article):\n  otelpki issue server --san otel-collector.observability.svc,localhost\n  otelpki issue server --san otel-gateway.example.internal --san 10.0.0.5 --name gateway\n  otelpki issue server --csr collector.csr --name collector   # the key never leaves the Collector's host"
    )]
    Server(ServerArgs),

    /// Issue a client certificate (EKU clientAuth) for an application sending telemetry
    #[command(
        after_help = "Example (the article's client):\n  otelpki issue client --cn my-application --org MyCompany\n  otelpki issue client --cn checkout-service --name checkout\n  otelpki issue client --csr checkout.csr --name checkout   # signs the application's own key"
    )]
    Client(ClientArgs),
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// DNS names and IPs the Collector is reached by (repeatable, or a comma list);
    /// wildcards as *.example.com; uri:... and email:... select those kinds
    /// (with --csr: default the CSR's names)
    #[arg(long, required_unless_present = "csr", value_name = "NAME_OR_IP", value_delimiter = ',', value_parser = san::parse)]
    pub san: Vec<San>,

    /// Common name (default: the first DNS name of --san)
    #[arg(long, value_parser = text::parse_name)]
    pub cn: Option<String>,

    #[command(flatten)]
    pub leaf: LeafArgs,

    /// File stem: writes NAME.crt and NAME.key (with --csr, NAME.crt only)
    #[arg(long, default_value = "server")]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Common name: the application's identity, e.g. my-application (with --csr: default the
    /// CSR's CN)
    #[arg(long, required_unless_present = "csr", value_parser = text::parse_name)]
    pub cn: Option<String>,

    /// Optional subjectAltNames (repeatable, or a comma list)
    #[arg(long, value_name = "NAME_OR_IP", value_delimiter = ',', value_parser = san::parse)]
    pub san: Vec<San>,

    #[command(flatten)]
    pub leaf: LeafArgs,

    /// File stem: writes NAME.crt and NAME.key (with --csr, NAME.crt only)
    #[arg(long, default_value = "client")]
    pub name: String,
}

/// What server and client certificates share.
#[derive(Debug, Args)]
pub struct LeafArgs {
    /// Organisation (O)
    #[arg(long, value_parser = text::parse_name)]
    pub org: Option<String>,

    /// Validity in days (clamped to the CA's expiry)
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub days: u32,

    /// Key type (default: the CA's)
    #[arg(long, value_parser = key_type(), conflicts_with = "csr")]
    pub key_type: Option<KeyType>,

    /// Sign this certificate signing request (PEM or DER) instead of making a key: the key
    /// stays on the host that made it. Only its CN and SANs are taken (flags override them),
    /// never its requested extensions; writes NAME.crt only
    #[arg(long, value_name = "FILE")]
    pub csr: Option<PathBuf>,

    /// Replace existing files
    #[arg(long)]
    pub force: bool,

    /// CA certificate to sign with, e.g. an organisation's intermediate (default: DIR/ca.crt)
    #[arg(long, value_name = "FILE", requires = "ca_key")]
    pub ca_cert: Option<PathBuf>,

    /// CA private key, PKCS#8 (encrypted or not), PKCS#1 or SEC1 (default: DIR/ca.key)
    #[arg(long, value_name = "FILE", requires = "ca_cert")]
    pub ca_key: Option<PathBuf>,

    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

#[derive(Debug, Subcommand)]
pub enum Config {
    /// The Collector's OTLP receiver (gRPC 4317, HTTP 4318) with TLS and mTLS; with
    /// --gateway, an agent Collector that also exports to a gateway over mTLS
    #[command(
        after_help = "Example (the gateway Collector of the article, and an agent sending to it):\n  otelpki config collector > otel-collector-config.yaml\n  otelpki config collector --mount-path /etc/otel/certs --out otel-collector-config.yaml\n  otelpki config collector --gateway https://otel-gateway.example.internal:4317 --client agent\n  otelpki config collector --collector-version 0.143.0   # exporter names otlp/otlphttp"
    )]
    Collector(CollectorArgs),

    /// An env file for the OpenTelemetry SDKs: OTEL_EXPORTER_OTLP_ENDPOINT (https://),
    /// _PROTOCOL, _CERTIFICATE, _CLIENT_KEY, _CLIENT_CERTIFICATE
    #[command(
        after_help = "Example (the article's application, with its client certificate):\n  otelpki config env > sdk.env && docker run --env-file sdk.env my-application\n  otelpki config env --client checkout --endpoint otel-collector.observability.svc --protocol http"
    )]
    Env(EndpointArgs),

    /// The Java agent's -Dotel.exporter.otlp.* flags, and the same as environment variables
    #[command(
        after_help = "Example:\n  otelpki config java --client checkout --endpoint https://otel-collector.observability.svc:4317"
    )]
    Java(EndpointArgs),

    /// kubernetes.io/tls Secrets (tls.crt, tls.key, ca.crt) for the server and each client;
    /// the output holds private keys and is written with mode 0600
    #[command(
        after_help = "Example:\n  otelpki config k8s --namespace observability --out secrets.yaml && kubectl apply -f secrets.yaml"
    )]
    K8s(K8sArgs),

    /// Hand issuance and rotation to cert-manager: a Secret with the CA pair, an Issuer,
    /// and a Certificate per server and client; the output holds the CA key (mode 0600)
    #[command(
        after_help = "Example:\n  otelpki config cert-manager --namespace observability --out cert-manager.yaml && kubectl apply -f cert-manager.yaml"
    )]
    CertManager(K8sArgs),

    /// An OpenTelemetry declarative configuration file (OTEL_CONFIG_FILE): OTLP exporters for
    /// traces, metrics and logs with a tls block (ca_file, cert_file, key_file)
    #[command(
        after_help = "Example (the article's application, configured by one file):\n  otelpki config declarative --out otel-config.yaml && OTEL_CONFIG_FILE=otel-config.yaml java -jar app.jar\n  otelpki config declarative --client checkout --endpoint otel-collector.observability.svc --protocol http"
    )]
    Declarative(EndpointArgs),
}

/// What every `config` target shares: where the templates come from and where the output goes.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Render the team's own templates from DIR (same file names: collector.yaml, sdk.env,
    /// java.txt, k8s.yaml, cert-manager.yaml, declarative.yaml)
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,

    /// Write to FILE instead of standard output (never replaces a file without --force)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Replace FILE given with --out
    #[arg(long, requires = "out")]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CollectorArgs {
    /// The server certificate's file stem, if DIR holds several (default: the only one, or `server`)
    #[arg(long, value_name = "NAME")]
    pub server: Option<String>,

    /// Server-only TLS: no client_ca_file, so clients need no certificate
    #[arg(long)]
    pub no_mtls: bool,

    /// Render an agent Collector that exports to this gateway over mTLS (https:// URL or
    /// host[:port]); the gateway's host must be one of its certificate's names
    #[arg(long, value_name = "URL")]
    pub gateway: Option<String>,

    /// The agent's client certificate for --gateway, as a file stem (default: the only one, or `client`)
    #[arg(long, value_name = "NAME", requires = "gateway")]
    pub client: Option<String>,

    /// Exporter protocol for --gateway
    #[arg(long, value_parser = protocol(), default_value = "grpc", requires = "gateway")]
    pub protocol: Protocol,

    /// The Collector's version, e.g. 0.143.0: below 0.144.0 the exporters get their old
    /// names (otlp, otlphttp) instead of otlp_grpc and otlp_http
    #[arg(long, value_name = "VERSION")]
    pub collector_version: Option<String>,

    /// How often the Collector re-reads its certificate and key files (a Go duration)
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub reload_interval: String,

    /// Directory where the Collector sees DIR's files, e.g. /etc/otel/certs in its container
    /// (default: DIR's absolute path)
    #[arg(long, value_name = "PATH")]
    pub mount_path: Option<PathBuf>,

    #[command(flatten)]
    pub render: RenderArgs,
}

/// An application's view: which client certificate, and where the Collector is.
#[derive(Debug, Args)]
pub struct EndpointArgs {
    /// The client certificate's file stem, if DIR holds several (default: the only one, or `client`)
    #[arg(long, value_name = "NAME")]
    pub client: Option<String>,

    /// The server certificate whose first DNS name is the default endpoint host
    /// (default: the only one, or `server`)
    #[arg(long, value_name = "NAME")]
    pub server: Option<String>,

    /// The Collector's OTLP endpoint: https://host[:port] or host[:port]; http:// is refused
    /// (default: https://<first DNS name of the server certificate>:<protocol's port>)
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,

    /// OTLP transport: grpc (port 4317) or http (http/protobuf, port 4318)
    #[arg(long, value_parser = protocol(), default_value = "grpc")]
    pub protocol: Protocol,

    /// Directory where the application sees DIR's files, e.g. /etc/otel/certs in its
    /// container (default: DIR's absolute path)
    #[arg(long, value_name = "PATH")]
    pub mount_path: Option<PathBuf>,

    #[command(flatten)]
    pub render: RenderArgs,
}

#[derive(Debug, Args)]
pub struct K8sArgs {
    /// Namespace of every resource
    #[arg(long, default_value = "observability")]
    pub namespace: String,

    #[command(flatten)]
    pub render: RenderArgs,
}

#[derive(Debug, Subcommand)]
pub enum Export {
    /// NAME.p12: the key, the certificate and the CA (a chain of 2), mode 0600; AES-256-CBC,
    /// PBKDF2-SHA256 and a SHA-256 MAC, which OpenSSL 3 (without -legacy) and Java read
    #[command(
        after_help = "Example (a keystore for a Java application's client certificate):\n  OTELPKI_P12_PASSWORD=... otelpki export p12 --name checkout\n  keytool -list -keystore certs/checkout.p12 -storetype PKCS12"
    )]
    P12(P12Args),

    /// truststore.p12: every CA certificate of ca.crt as a trusted entry Java's KeyStore reads
    #[command(
        after_help = "Example:\n  OTELPKI_P12_PASSWORD=... otelpki export truststore\n  java -Djavax.net.ssl.trustStore=certs/truststore.p12 -Djavax.net.ssl.trustStorePassword=... ..."
    )]
    Truststore(TruststoreArgs),
}

#[derive(Debug, Args)]
pub struct P12Args {
    /// The pair to export: NAME.crt and NAME.key in DIR; writes NAME.p12 (friendly name NAME)
    #[arg(long, value_name = "NAME")]
    pub name: String,

    #[command(flatten)]
    pub password: P12PasswordArgs,
}

#[derive(Debug, Args)]
pub struct TruststoreArgs {
    #[command(flatten)]
    pub password: P12PasswordArgs,
}

/// The PKCS#12 password and overwrite rule every export shares.
#[derive(Debug, Args)]
pub struct P12PasswordArgs {
    /// File holding the password (one trailing newline ignored); default: the
    /// OTELPKI_P12_PASSWORD environment variable
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,

    /// Protect the file with the empty password (for runtimes that cannot be given one)
    #[arg(long, conflicts_with = "password_file")]
    pub empty_password: bool,

    /// Replace an existing file
    #[arg(long)]
    pub force: bool,
}

/// A flag that takes one of `names` (each with its help, shown by `--help` and completed by the
/// shell completions), parsed into the domain type `T`.
fn choice<T>(names: Vec<(&'static str, &'static str)>) -> impl TypedValueParser<Value = T>
where
    T: FromStr<Err = String> + Clone + Send + Sync + 'static,
{
    PossibleValuesParser::new(
        names
            .into_iter()
            .map(|(name, help)| PossibleValue::new(name).help(help)),
    )
    .try_map(|s: String| s.parse::<T>())
}

fn key_type() -> impl TypedValueParser<Value = KeyType> {
    choice(KeyType::ALL.map(|k| (k.name(), k.describe())).to_vec())
}

fn protocol() -> impl TypedValueParser<Value = Protocol> {
    choice(Protocol::NAMES.to_vec())
}

fn purpose() -> impl TypedValueParser<Value = Purpose> {
    choice(Purpose::NAMES.to_vec())
}

#[derive(Debug, Args)]
pub struct RenewArgs {
    /// File stems of the leaves to renew now (server, client, ...); default: every leaf that is due
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,

    /// Renew what expires within this time: e.g. 30d, 12h, 2w
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = model::parse_window)]
    pub within: Window,

    /// Run this shell command once after any renewal, with OTELPKI_RENEWED (the renewed names,
    /// space-separated) and OTELPKI_DIR in its environment
    #[arg(long, value_name = "CMD")]
    pub exec: Option<String>,

    /// Say what would be renewed, and write nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Print what was renewed as JSON (shape in the README)
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

#[derive(Debug, Subcommand)]
pub enum RotateCa {
    /// Stage 1: make the next CA (ca-next.crt, ca-next.key); ca.crt := old + new
    #[command(
        after_help = "Example (leave RSA-4096 for ECDSA P-256; then restart the SDKs so they load ca.crt):\n  otelpki rotate-ca start --key-type ecdsa-p256\n  otelpki rotate-ca start --cn \"OTel CA 2027\" --days 3650"
    )]
    Start(RotateStartArgs),

    /// Stage 2: the next CA signs; ca.crt := new + old; every leaf in DIR re-issued under it
    #[command(
        after_help = "Example (after every SDK restarted with the start's ca.crt):\n  otelpki rotate-ca switch --exec 'systemctl restart my-application'"
    )]
    Switch(RotateSwitchArgs),

    /// Stage 3: ca.crt := new alone, ca-previous.* removed; refused while a leaf is under the old CA
    #[command(
        after_help = "Example (after every application runs with its re-issued certificate):\n  otelpki rotate-ca finish"
    )]
    Finish(RotateFinishArgs),

    /// The rotation's phase, the leaves still under the old CA, and what each consumer must do
    #[command(
        after_help = "Example:\n  otelpki rotate-ca status\n  otelpki rotate-ca status --json"
    )]
    Status(RotateStatusArgs),
}

#[derive(Debug, Args)]
pub struct RotateStartArgs {
    /// Key type of the new CA (default: the current CA's); a rotation may change it
    #[arg(long, value_parser = key_type())]
    pub key_type: Option<KeyType>,

    /// Common name of the new CA (default: the current CA's, with a generation suffix " G2", " G3", ...)
    #[arg(long, value_parser = text::parse_name)]
    pub cn: Option<String>,

    /// Validity of the new CA in days (default: the current CA's lifetime)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub days: Option<u32>,

    /// Print the resulting status as JSON
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

#[derive(Debug, Args)]
pub struct RotateSwitchArgs {
    /// Run this shell command once after the leaves were re-issued, with OTELPKI_RENEWED and
    /// OTELPKI_DIR in its environment (as `renew --exec`)
    #[arg(long, value_name = "CMD")]
    pub exec: Option<String>,

    /// Print the resulting status as JSON
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

#[derive(Debug, Args)]
pub struct RotateFinishArgs {
    /// Print the resulting status as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RotateStatusArgs {
    /// Print the status as JSON (shape in the README)
    #[arg(long)]
    pub json: bool,
}

// The parsed flags as the commands' plain options: the only code that knows both.

impl From<&PassphraseArgs> for PassphraseOptions {
    fn from(a: &PassphraseArgs) -> Self {
        PassphraseOptions {
            passphrase_file: a.passphrase_file.clone(),
        }
    }
}

impl From<&InitArgs> for issue::InitOptions {
    fn from(a: &InitArgs) -> Self {
        issue::InitOptions {
            san: a.san.clone(),
            clients: a.clients.clone(),
            org: a.org.clone(),
            key_type: a.key_type,
            force: a.force,
        }
    }
}

impl From<&InitCaArgs> for issue::InitCaOptions {
    fn from(a: &InitCaArgs) -> Self {
        issue::InitCaOptions {
            cn: a.cn.clone(),
            org: a.org.clone(),
            days: a.days,
            key_type: a.key_type,
            force: a.force,
            encrypt_key: a.encrypt_key,
            passphrase: (&a.passphrase).into(),
        }
    }
}

impl From<&LeafArgs> for issue::LeafOptions {
    fn from(a: &LeafArgs) -> Self {
        issue::LeafOptions {
            org: a.org.clone(),
            days: a.days,
            key_type: a.key_type,
            force: a.force,
            ca_cert: a.ca_cert.clone(),
            ca_key: a.ca_key.clone(),
            passphrase: (&a.passphrase).into(),
        }
    }
}

impl From<&ServerArgs> for issue::ServerOptions {
    fn from(a: &ServerArgs) -> Self {
        issue::ServerOptions {
            san: a.san.clone(),
            cn: a.cn.clone(),
            leaf: (&a.leaf).into(),
            name: a.name.clone(),
        }
    }
}

impl From<&ClientArgs> for issue::ClientOptions {
    fn from(a: &ClientArgs) -> Self {
        issue::ClientOptions {
            cn: a.cn.clone(),
            san: a.san.clone(),
            leaf: (&a.leaf).into(),
            name: a.name.clone(),
        }
    }
}

impl From<&RenderArgs> for config::RenderOptions {
    fn from(a: &RenderArgs) -> Self {
        config::RenderOptions {
            templates: a.templates.clone(),
            out: a.out.clone(),
            force: a.force,
        }
    }
}

impl From<&CollectorArgs> for config::CollectorOptions {
    fn from(a: &CollectorArgs) -> Self {
        config::CollectorOptions {
            server: a.server.clone(),
            no_mtls: a.no_mtls,
            gateway: a.gateway.clone(),
            client: a.client.clone(),
            protocol: a.protocol,
            collector_version: a.collector_version.clone(),
            reload_interval: a.reload_interval.clone(),
            mount_path: a.mount_path.clone(),
            render: (&a.render).into(),
        }
    }
}

impl From<&EndpointArgs> for config::EndpointOptions {
    fn from(a: &EndpointArgs) -> Self {
        config::EndpointOptions {
            client: a.client.clone(),
            server: a.server.clone(),
            endpoint: a.endpoint.clone(),
            protocol: a.protocol,
            mount_path: a.mount_path.clone(),
            render: (&a.render).into(),
        }
    }
}

impl From<&K8sArgs> for config::K8sOptions {
    fn from(a: &K8sArgs) -> Self {
        config::K8sOptions {
            namespace: a.namespace.clone(),
            render: (&a.render).into(),
        }
    }
}

impl From<&Config> for config::Target {
    fn from(c: &Config) -> Self {
        match c {
            Config::Collector(a) => config::Target::Collector(a.into()),
            Config::Env(a) => config::Target::Env(a.into()),
            Config::Java(a) => config::Target::Java(a.into()),
            Config::K8s(a) => config::Target::K8s(a.into()),
            Config::CertManager(a) => config::Target::CertManager(a.into()),
            Config::Declarative(a) => config::Target::Declarative(a.into()),
        }
    }
}

impl From<&FixturesArgs> for fixtures::RunOptions {
    fn from(a: &FixturesArgs) -> Self {
        fixtures::RunOptions {
            seed: a.seed.clone(),
            now: a.now,
            key_type: a.key_type,
            force: a.force,
        }
    }
}

impl From<&ApplyArgs> for apply::ApplyOptions {
    fn from(a: &ApplyArgs) -> Self {
        apply::ApplyOptions {
            spec: a.spec.clone(),
            seed: a.seed.clone(),
            now: a.now,
            dry_run: a.dry_run,
            replace_ca: a.replace_ca,
            passphrase: (&a.passphrase).into(),
        }
    }
}

impl From<&P12PasswordArgs> for export::PasswordOptions {
    fn from(a: &P12PasswordArgs) -> Self {
        export::PasswordOptions {
            password_file: a.password_file.clone(),
            empty_password: a.empty_password,
            force: a.force,
        }
    }
}

impl From<&P12Args> for export::P12Options {
    fn from(a: &P12Args) -> Self {
        export::P12Options {
            name: a.name.clone(),
            password: (&a.password).into(),
        }
    }
}

impl From<&TruststoreArgs> for export::TruststoreOptions {
    fn from(a: &TruststoreArgs) -> Self {
        export::TruststoreOptions {
            password: (&a.password).into(),
        }
    }
}

impl From<&RenewArgs> for renew::RenewOptions {
    fn from(a: &RenewArgs) -> Self {
        renew::RenewOptions {
            names: a.names.clone(),
            within: a.within.clone(),
            exec: a.exec.clone(),
            dry_run: a.dry_run,
            json: a.json,
            passphrase: (&a.passphrase).into(),
        }
    }
}

impl From<&RotateStartArgs> for rotate::StartOptions {
    fn from(a: &RotateStartArgs) -> Self {
        rotate::StartOptions {
            key_type: a.key_type,
            cn: a.cn.clone(),
            days: a.days,
            passphrase: (&a.passphrase).into(),
        }
    }
}

impl From<&RotateSwitchArgs> for rotate::SwitchOptions {
    fn from(a: &RotateSwitchArgs) -> Self {
        rotate::SwitchOptions {
            exec: a.exec.clone(),
            json: a.json,
            passphrase: (&a.passphrase).into(),
        }
    }
}

impl From<&InspectArgs> for inspect::InspectOptions {
    fn from(a: &InspectArgs) -> Self {
        inspect::InspectOptions {
            files: a.files.clone(),
        }
    }
}

impl From<&VerifyArgs> for verify::VerifyOptions {
    fn from(a: &VerifyArgs) -> Self {
        verify::VerifyOptions {
            cert: a.cert.clone(),
            ca: a.ca.clone(),
            host: a.host.clone(),
            purpose: a.purpose,
            key: a.key.clone(),
        }
    }
}

impl From<&CheckArgs> for check::CheckOptions {
    fn from(a: &CheckArgs) -> Self {
        check::CheckOptions {
            endpoint: a.endpoint.clone(),
            protocol: a.protocol,
            expires_within: a.expires_within.clone(),
        }
    }
}

impl From<&ProbeArgs> for probe::ProbeOptions {
    fn from(a: &ProbeArgs) -> Self {
        probe::ProbeOptions {
            url: a.url.clone(),
            ca: a.ca.clone(),
            cert: a.cert.clone(),
            key: a.key.clone(),
            protocol: a.protocol,
            tls_only: a.tls_only,
            timeout: a.timeout,
        }
    }
}
