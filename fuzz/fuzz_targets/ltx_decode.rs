//! The LTX decoder (restore and standby read files other programs wrote): any bytes give pages or an
//! error, never a panic, and a file that decodes passes its own checksums.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mysetlist::replicate::ltx;

fuzz_target!(|data: &[u8]| {
    let _ = ltx::decode_all(data, |_pgno, _page| Ok(()));
    if let Ok(mut d) = ltx::Decoder::new(data) {
        let size = d.header().page_size as usize;
        if ltx::is_valid_page_size(d.header().page_size) {
            let mut page = vec![0u8; size];
            while let Ok(Some(_)) = d.next_page(&mut page) {}
            let _ = d.finish();
        }
    }
    if let Ok(name) = std::str::from_utf8(data) {
        let _ = ltx::parse_file_name(name);
    }
});
