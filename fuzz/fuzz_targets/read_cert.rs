//! The reading path of every command: PEM/DER certificates, bundles and keys as `inspect`
//! reads and describes them, and `read::certificates_from` as verify/check/probe use it.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz-input");
    if let Ok(items) = otelpki::read::contents_from(path, data) {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        for entry in otelpki::inspect::items_of(path, &items, now).unwrap_or_default() {
            if let otelpki::inspect::Content::Certificate(info) = entry.content {
                let mut text = String::new();
                info.text(&mut text, "");
                let _ = serde_json::to_string(&info);
            }
        }
    }
    let _ = otelpki::read::certificates_from(path, data);
});
