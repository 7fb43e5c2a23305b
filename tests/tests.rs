//! One integration test binary (it links once). Each module is one concern.

mod common;

/// `apply`: created / renewed / unchanged, --dry-run, --seed, spec errors naming line and key,
/// a thousand clients in one run.
mod apply;
/// inspect, verify, check, probe: each failure produced for real and diagnosed (issue 4).
mod check;
/// Every command's happy path, --help examples, and every refusal of bad input.
mod cli;
/// The real OpenTelemetry Collector loads `config collector` as rendered: gateway, agent,
/// exporter names, rotation (issue 11).
mod collector;
/// `otelpki config`: every target renders from a real DIR, parses, and carries the real
/// paths, names and bytes; snapshots of each target.
mod config;
/// Key custody (issue 13): CSR signing, the encrypted CA key, PKCS#12 keystore and truststore,
/// judged by OpenSSL, rustls, Go, Java and Python's cryptography.
mod custody;
/// Modes, overwrite refusal, --force, the race for a name, no leftovers.
mod files;
/// `fixtures`: seeded output reproducible and pinned; the good set passes and each bad
/// fixture fails for its stated reason in rustls and openssl.
mod fixtures;
/// Go's crypto/tls (the Collector's TLS stack) judges the certificates and the fixtures, and
/// `probe` diagnoses a Go server.
mod go;
/// The OpenTelemetry Go SDK, configured only by `config env`, exports to the real Collector;
/// the refusals made for real (issue 11).
mod gosdk;
/// Hostile input (issue 9): hostile paths and certificate fields in every config target,
/// names refused, no terminal escapes, FIFOs and devices refused, clock edges, and every
/// command with hostile arguments.
mod hostile;
/// The OpenTelemetry Java SDK (autoconfigure, the agent, the declarative loader) exports with
/// `config env`, `config java` and `config declarative`, or fails for the stated reason.
mod java;
/// The openssl CLI judges the certificates: verify -purpose, s_server/s_client mTLS.
mod openssl;
/// `probe`'s empty OTLP export judged by real servers: nginx checking client certificates
/// over HTTP, proxying OTLP/HTTP and OTLP/gRPC (issue 14).
mod probe;
/// Racing writers and writers killed at every step (issue 9): the PKI stays whole, judged by
/// OpenSSL and rustls.
mod races;
/// Renewal and CA rotation (issue 12): renew, rotate-ca with every key type, kill tests of
/// each step, and a steady sender through all of them on the real Collector.
mod rotation;
/// The real OpenTelemetry SDKs (Python, Node) export a span over mTLS with otelpki's certificates.
mod sdk;
/// rustls judges the certificates: mTLS handshakes per key type, and the refusals.
mod tls;
