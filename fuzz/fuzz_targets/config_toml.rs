//! The configuration parser: any TOML text gives a Config or an error naming the problem, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = mysetlist::config::load_from_toml(Some((text, "fuzz.toml")), &[]);
    }
});
