use super::*;

fn page(seed: u32, size: usize) -> Vec<u8> {
    (0..size).map(|i| ((i as u32).wrapping_mul(31) ^ seed) as u8).collect()
}

fn header(min: u64, max: u64, commit: u32) -> Header {
    Header {
        flags: HEADER_FLAG_NO_CHECKSUM,
        page_size: 4096,
        commit,
        min_txid: min,
        max_txid: max,
        timestamp_ms: 1_795_727_139_541,
        ..Header::default()
    }
}

fn encode(h: Header, enc: PageEncoding, pages: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut e = Encoder::new(h, enc).unwrap();
    for (pgno, data) in pages {
        e.encode_page(*pgno, data).unwrap();
    }
    e.finish().unwrap()
}

#[test]
fn crc_is_go_iso() {
    assert_eq!(CRC64.checksum(b"123456789"), 0xb90956c775a41001);
}

#[test]
fn header_bytes_match_a_real_litestream_l0_header() {
    // Header of a real Litestream 0.5.17 L0 file (reference/ltx-format.md).
    let h = Header {
        flags: 2,
        page_size: 4096,
        commit: 189,
        min_txid: 2,
        max_txid: 2,
        timestamp_ms: 1_795_727_139_541,
        pre_apply_checksum: 0,
        wal_offset: 16512,
        wal_size: 234_840,
        wal_salt1: 0xa6d3_709c,
        wal_salt2: 0x6a7f_2c75,
        node_id: 0,
    };
    let expected: [u8; 80] = [
        0x4c, 0x54, 0x58, 0x31, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0xbd, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01, 0xa2,
        0x19, 0xad, 0xa2, 0xd5, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x40, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x95, 0x58, 0xa6, 0xd3, 0x70, 0x9c, 0x6a, 0x7f, 0x2c, 0x75,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    let b = h.to_bytes();
    assert_eq!(&b[..80], &expected[..]);
    assert_eq!(&b[80..], &[0u8; 20]);
    assert_eq!(Header::parse(&b).unwrap(), h);
    h.validate().unwrap();
}

#[test]
fn round_trip_both_encodings() {
    for enc in [PageEncoding::Frame, PageEncoding::Block] {
        let pages: Vec<(u32, Vec<u8>)> = (1..=5).map(|p| (p, page(p, 4096))).collect();
        let file = encode(header(1, 1, 5), enc, &pages);
        let mut got = Vec::new();
        let h = decode_all(&file, |pgno, data| {
            got.push((pgno, data.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(h, header(1, 1, 5));
        assert_eq!(got, pages);
        // Page header flags are what each Litestream generation expects.
        let flags = u16::from_be_bytes([file[104], file[105]]);
        assert_eq!(flags, if enc == PageEncoding::Block { 1 } else { 0 });
    }
}

#[test]
fn frame_pages_start_with_pierrec_frame_header() {
    let file = encode(header(1, 1, 1), PageEncoding::Frame, &[(1, page(1, 4096))]);
    assert_eq!(&file[100..113], &[0, 0, 0, 1, 0, 0, 0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7]);
}

#[test]
fn index_offsets_and_size_field_are_consistent() {
    let pages: Vec<(u32, Vec<u8>)> = vec![(2, page(2, 4096)), (7, page(7, 4096))];
    let file = encode(header(3, 3, 9), PageEncoding::Block, &pages);
    // The u64 before the trailer is the varint section's length.
    let n = file.len();
    let idx_len = u64::from_be_bytes(file[n - 24..n - 16].try_into().unwrap()) as usize;
    let mut p = n - 24 - idx_len;
    assert_eq!(read_uvarint(&file, &mut p).unwrap(), 2);
    assert_eq!(read_uvarint(&file, &mut p).unwrap(), 100);
}

#[test]
fn checksum_mismatch_is_detected() {
    let pages: Vec<(u32, Vec<u8>)> = (1..=3).map(|p| (p, page(p, 4096))).collect();
    let mut file = encode(header(1, 1, 3), PageEncoding::Frame, &pages);
    let n = file.len();
    file[n - 1] ^= 1;
    assert!(matches!(decode_all(&file, |_, _| Ok(())), Err(LtxError::ChecksumMismatch { .. })));
    // A flipped byte in the header is caught by the file checksum too.
    let mut file = encode(header(1, 1, 3), PageEncoding::Block, &pages);
    file[34] ^= 1; // timestamp
    assert!(matches!(decode_all(&file, |_, _| Ok(())), Err(LtxError::ChecksumMismatch { .. })));
}

#[test]
fn corrupt_page_data_is_detected() {
    let pages: Vec<(u32, Vec<u8>)> = (1..=3).map(|p| (p, page(p, 4096))).collect();
    for enc in [PageEncoding::Frame, PageEncoding::Block] {
        let mut file = encode(header(1, 1, 3), enc, &pages);
        file[130] ^= 0x55;
        assert!(decode_all(&file, |_, _| Ok(())).is_err(), "{enc:?}");
    }
}

#[test]
fn truncation_is_detected() {
    let pages: Vec<(u32, Vec<u8>)> = (1..=3).map(|p| (p, page(p, 4096))).collect();
    let file = encode(header(1, 1, 3), PageEncoding::Frame, &pages);
    for cut in [50, 150, file.len() / 2, file.len() - 10, file.len() - 1] {
        assert!(decode_all(&file[..cut], |_, _| Ok(())).is_err(), "cut {cut}");
    }
}

#[test]
fn encoder_enforces_page_rules() {
    let mut e = Encoder::new(header(1, 1, 3), PageEncoding::Frame).unwrap();
    assert!(e.encode_page(2, &page(2, 4096)).is_err()); // snapshot must start at 1
    e.encode_page(1, &page(1, 4096)).unwrap();
    assert!(e.finish().is_err()); // snapshot missing pages 2..3
    let mut e = Encoder::new(header(4, 4, 3), PageEncoding::Frame).unwrap();
    e.encode_page(2, &page(2, 4096)).unwrap();
    assert!(e.encode_page(2, &page(2, 4096)).is_err());
    assert!(e.encode_page(4, &page(4, 4096)).is_err()); // beyond commit
    let mut h = header(4, 4, 300_000);
    let lock = lock_pgno(4096);
    assert_eq!(lock, 262_145);
    h.commit = lock + 1;
    let mut e = Encoder::new(h, PageEncoding::Block).unwrap();
    assert!(e.encode_page(lock, &page(0, 4096)).is_err());
}

#[test]
fn header_validation_rules() {
    let mut h = header(1, 1, 1);
    h.flags = 1;
    assert!(h.validate().is_err());
    let mut h = header(2, 1, 1);
    assert!(h.validate().is_err());
    h = header(1, 1, 1);
    h.wal_salt1 = 5;
    assert!(h.validate().is_err());
    h.wal_offset = 32;
    h.validate().unwrap();
    h.page_size = 1000;
    assert!(h.validate().is_err());
}

#[test]
fn file_names() {
    assert_eq!(file_name(1, 0x1f), "0000000000000001-000000000000001f.ltx");
    assert_eq!(parse_file_name("0000000000000001-000000000000001f.ltx"), Some((1, 0x1f)));
    assert_eq!(parse_file_name("0000000000000001-000000000000001F.ltx"), None);
    assert_eq!(parse_file_name("1-2.ltx"), None);
    assert_eq!(parse_file_name("0000000000000001-000000000000001f.ltx.tmp"), None);
}
