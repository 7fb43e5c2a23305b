//! otelpki: a private PKI for OpenTelemetry. The binary is a thin dispatcher over these
//! modules; `fixtures` is also meant to be used from other crates' tests.

pub mod check;
pub mod cli;
pub mod endpoint;
pub mod inspect;
pub mod issue;
pub mod key;
pub mod pki;
pub mod probe;
pub mod profile;
pub mod read;
pub mod report;
pub mod san;
pub mod store;
pub mod verify;
