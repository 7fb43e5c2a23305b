//! One integration test binary (it links once). Each module is one concern.

mod common;

/// Every command's happy path, --help examples, and every refusal of bad input.
mod cli;
/// Modes, overwrite refusal, --force, the race for a name, no leftovers.
mod files;
/// The openssl CLI judges the certificates: verify -purpose, s_server/s_client mTLS.
mod openssl;
/// The real OpenTelemetry SDKs (Python, Node) export a span over mTLS with otelpki's certificates.
mod sdk;
/// rustls judges the certificates: mTLS handshakes per key type, and the refusals.
mod tls;
