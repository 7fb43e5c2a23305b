//! The reading path of every command: PEM/DER certificates, bundles and keys as `inspect`
//! reads and describes them, and `read::certificates_from` as verify/check/probe use it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    otelpki::fuzzing::read_cert(data, time::OffsetDateTime::UNIX_EPOCH);
});
