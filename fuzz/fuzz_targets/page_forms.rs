//! Urlencoded page forms through poem's extractor into the admin forms, the setlist textarea parser
//! and the redirect target check.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mysetlist::http::fuzzing::page_forms(data));
