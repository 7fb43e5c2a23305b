//! The whole command-line interface (DESIGN §2), as clap derive types. No logic here: doc
//! comments are the help, and values are parsed into domain types (`KeyType`, `San`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::key::KeyType;
use crate::san::{self, San};

#[derive(Debug, Parser)]
#[command(
    name = "otelpki",
    version,
    about = "A private PKI for OpenTelemetry: CA, Collector server certificates, client certificates for mTLS",
    after_help = "Quick start:\n  otelpki init                    # ./certs: ca, server (localhost, 127.0.0.1, ::1), client my-application\n  otelpki issue server --san otel-collector.observability.svc\n  otelpki issue client --cn checkout-service --name checkout\n\nExit codes: 0 ok, 1 a check found a problem, 2 usage or input error."
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
    #[command(after_help = "Example:\n  otelpki init-ca --cn \"OTel CA\" --org MyCompany")]
    InitCa(InitCaArgs),

    /// Issue a server or client certificate signed by the CA
    #[command(subcommand)]
    Issue(Issue),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Names and IPs of the Collector's server certificate (repeatable, or a comma list)
    #[arg(long, value_name = "NAME_OR_IP", value_delimiter = ',', value_parser = san::parse,
          default_values_t = default_server_sans())]
    pub san: Vec<San>,

    /// Common name of a client certificate to issue (repeatable); with several, each
    /// client's files are named after its CN
    #[arg(long = "client", value_name = "CN", default_value = "my-application")]
    pub clients: Vec<String>,

    /// Organisation (O) for every certificate
    #[arg(long)]
    pub org: Option<String>,

    /// Key type for the CA and every certificate
    #[arg(long, value_enum, default_value_t = KeyType::EcdsaP256)]
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
    #[arg(long, default_value = "OTel CA")]
    pub cn: String,

    /// Organisation (O) of the CA
    #[arg(long)]
    pub org: Option<String>,

    /// Validity in days
    #[arg(long, default_value_t = 3650, value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub days: u32,

    /// Key type
    #[arg(long, value_enum, default_value_t = KeyType::EcdsaP256)]
    pub key_type: KeyType,

    /// Replace an existing ca.crt / ca.key (every certificate it signed stops being trusted)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum Issue {
    /// Issue a server certificate (EKU serverAuth), e.g. for a Collector's OTLP receiver
    #[command(
        after_help = "Example (the Collector in the article):\n  otelpki issue server --san otel-collector.observability.svc,localhost\n  otelpki issue server --san otel-gateway.example.internal --san 10.0.0.5 --name gateway"
    )]
    Server(ServerArgs),

    /// Issue a client certificate (EKU clientAuth) for an application sending telemetry
    #[command(
        after_help = "Example (the article's client):\n  otelpki issue client --cn my-application --org MyCompany\n  otelpki issue client --cn checkout-service --name checkout"
    )]
    Client(ClientArgs),
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// DNS names and IPs the Collector is reached by (repeatable, or a comma list);
    /// wildcards as *.example.com; uri:... and email:... select those kinds
    #[arg(long, required = true, value_name = "NAME_OR_IP", value_delimiter = ',', value_parser = san::parse)]
    pub san: Vec<San>,

    /// Common name (default: the first DNS name of --san)
    #[arg(long)]
    pub cn: Option<String>,

    #[command(flatten)]
    pub leaf: LeafArgs,

    /// File stem: writes NAME.crt and NAME.key
    #[arg(long, default_value = "server")]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Common name: the application's identity, e.g. my-application
    #[arg(long)]
    pub cn: String,

    /// Optional subjectAltNames (repeatable, or a comma list)
    #[arg(long, value_name = "NAME_OR_IP", value_delimiter = ',', value_parser = san::parse)]
    pub san: Vec<San>,

    #[command(flatten)]
    pub leaf: LeafArgs,

    /// File stem: writes NAME.crt and NAME.key
    #[arg(long, default_value = "client")]
    pub name: String,
}

/// What server and client certificates share.
#[derive(Debug, Args)]
pub struct LeafArgs {
    /// Organisation (O)
    #[arg(long)]
    pub org: Option<String>,

    /// Validity in days (clamped to the CA's expiry)
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub days: u32,

    /// Key type (default: the CA's)
    #[arg(long, value_enum)]
    pub key_type: Option<KeyType>,

    /// Replace existing files
    #[arg(long)]
    pub force: bool,

    /// CA certificate to sign with, e.g. an organisation's intermediate (default: DIR/ca.crt)
    #[arg(long, value_name = "FILE", requires = "ca_key")]
    pub ca_cert: Option<PathBuf>,

    /// CA private key, PKCS#8, PKCS#1 or SEC1 (default: DIR/ca.key)
    #[arg(long, value_name = "FILE", requires = "ca_cert")]
    pub ca_key: Option<PathBuf>,
}
