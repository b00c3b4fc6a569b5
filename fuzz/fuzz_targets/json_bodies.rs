//! JSON request bodies: schema check with field names, then the generated parsers, then validation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mysetlist::http::fuzzing::json_bodies(data));
