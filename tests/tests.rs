//! One integration test binary (it links once). Each module is one concern.

/// `otelpki config`: every target renders from a real DIR, parses, and carries the real
/// paths, names and bytes; snapshots of each target.
mod config;
