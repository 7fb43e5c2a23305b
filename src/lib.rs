//! otelpki: a private PKI for OpenTelemetry, as a command line (`src/main.rs`, through
//! `dispatch::main`) and, for other crates' tests, a small library:
//!
//! - [`fixtures`]: reproducible sets of good and deliberately bad certificates, with a manifest
//!   saying what each is and what a TLS stack must do with it;
//! - [`cert`]: a certificate parsed once ([`cert::Cert`]);
//! - [`judge`]: the judgements otelpki makes of a certificate (chain, purpose, host coverage,
//!   validity, key match), by rustls-webpki;
//! - [`model`]: the domain types (role, purpose, protocol, the expiry window).
//!
//! ```
//! use otelpki::cert::Cert;
//! use otelpki::fixtures::{self, Expect};
//! use otelpki::judge;
//!
//! let dir = std::env::temp_dir().join(format!("otelpki-doc-{}", std::process::id()));
//! let now = time::OffsetDateTime::now_utc();
//! let manifest = fixtures::generate(&dir, Some("doc example"), now)?;
//! let server = manifest.fixtures.iter().find(|f| f.name == "server").unwrap();
//! assert_eq!(server.expect, Expect::Pass);
//!
//! let cert = Cert::read(&dir.join(&server.cert))?;
//! let localhost = rustls::pki_types::ServerName::try_from("localhost")?;
//! assert!(judge::covers(&cert, &localhost));
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Everything else is the command line's own and private. `main.rs` reaches it through
//! [`dispatch::main`]; the fuzz targets (`fuzz/`) through `fuzzing`, behind the feature of
//! that name.

pub mod cert;
pub mod fixtures;
pub mod judge;
pub mod model;

pub use key::KeyType;
pub use report::{Code, Finding};
pub use san::San;

#[doc(hidden)]
pub mod dispatch;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;

mod apply;
mod check;
mod cli;
mod config;
mod csr;
mod encrypt;
mod endpoint;
mod engine;
mod export;
mod inspect;
mod issue;
mod key;
mod pki;
mod probe;
mod profile;
mod read;
mod render;
mod renew;
mod report;
mod rotate;
mod san;
mod seed;
mod store;
mod text;
mod verify;
