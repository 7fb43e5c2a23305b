//! otelpki: a private PKI for OpenTelemetry. The binary is a thin dispatcher over these
//! modules; `fixtures` is also meant to be used from other crates' tests.

pub mod apply;
pub mod cert;
pub mod check;
pub mod cli;
pub mod config;
pub mod csr;
pub mod encrypt;
pub mod endpoint;
pub mod engine;
pub mod export;
pub mod fixtures;
pub mod inspect;
pub mod issue;
pub mod judge;
pub mod key;
pub mod model;
pub mod pki;
pub mod probe;
pub mod profile;
pub mod read;
pub mod render;
pub mod renew;
pub mod report;
pub mod rotate;
pub mod san;
pub mod seed;
pub mod store;
pub mod text;
pub mod verify;
