//! The parsers of user-given names: `--san` values and endpoint URLs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        otelpki::fuzzing::parse_names(text);
    }
});
