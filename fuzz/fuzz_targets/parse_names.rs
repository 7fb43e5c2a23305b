//! The parsers of user-given names: `--san` values and endpoint URLs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(san) = otelpki::san::parse(text) {
            let _ = san.to_rcgen();
            let _ = san.to_string();
        }
        if let Ok(ep) = otelpki::endpoint::parse(text) {
            let _ = ep.to_string();
            let _ = ep.https_url(4317, None);
        }
    }
});
