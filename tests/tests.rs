//! One integration test binary (it links once). Each module is one concern.

mod common;

/// inspect, verify, check, probe: each failure produced for real and diagnosed (issue 4).
mod check;
/// Every command's happy path, --help examples, and every refusal of bad input.
mod cli;
/// Modes, overwrite refusal, --force, the race for a name, no leftovers.
mod files;
/// The openssl CLI judges the certificates: verify -purpose, s_server/s_client mTLS.
mod openssl;
/// rustls judges the certificates: mTLS handshakes per key type, and the refusals.
mod tls;
