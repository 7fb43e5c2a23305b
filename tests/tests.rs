//! One integration test binary (it links once). Each module is one concern.

mod common;

/// Every command's happy path, --help examples, and every refusal of bad input.
mod cli;
/// `otelpki config`: every target renders from a real DIR, parses, and carries the real
/// paths, names and bytes; snapshots of each target.
mod config;
/// Modes, overwrite refusal, --force, the race for a name, no leftovers.
mod files;
/// The openssl CLI judges the certificates: verify -purpose, s_server/s_client mTLS.
mod openssl;
/// rustls judges the certificates: mTLS handshakes per key type, and the refusals.
mod tls;
