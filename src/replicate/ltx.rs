//! LTX file codec (superfly/ltx format version 3, magic `LTX1`), as Litestream 0.5 writes it.
//!
//! Hand-written because no usable crate exists (`litetx` implements the older LiteFS-era
//! format). Layout, all integers big-endian:
//!
//! ```text
//! header   100 bytes  "LTX1" flags page_size commit min_txid max_txid timestamp_ms
//!                     pre_apply_checksum wal_offset wal_size wal_salt1 wal_salt2 node_id, 20 zero bytes
//! pages    per page, ascending pgno, never the lock page:
//!            frame encoding: pgno u32 | flags u16 = 0      | one LZ4 frame
//!            block encoding: pgno u32 | flags u16 = 0x0001 | csize u32 | raw LZ4 block
//!          end marker: 6 zero bytes
//! index    per page uvarint(pgno) uvarint(offset of its page header) uvarint(bytes incl. header),
//!          uvarint(0), then u64 = length of the varint section
//! trailer  post_apply_checksum u64, file_checksum u64
//! ```
//!
//! The file checksum is CRC-64 with Go's ISO table (`crc::CRC_64_GO_ISO`) over the header,
//! each page header (plus the size word in block encoding), the **uncompressed** page, the end
//! marker, the index, and the post-apply checksum; it is stored with bit 63 set.
//! The decoder checks everything a Go decoder checks and also that the index matches the pages.

use crc::{CRC_64_GO_ISO, Crc, Digest};

use super::lz4;

pub const MAGIC: &[u8; 4] = b"LTX1";
pub const HEADER_SIZE: usize = 100;
pub const PAGE_HEADER_SIZE: usize = 6;
pub const TRAILER_SIZE: usize = 16;
/// The only defined header flag: the rolling database checksums are not tracked.
pub const HEADER_FLAG_NO_CHECKSUM: u32 = 1 << 1;
/// Page header flag: a 4-byte size follows and the data is a raw LZ4 block.
pub const PAGE_FLAG_SIZE: u16 = 1 << 0;
/// Set on every stored checksum so that a valid checksum is never zero.
pub const CHECKSUM_FLAG: u64 = 1 << 63;
const PENDING_BYTE: u64 = 0x4000_0000;

static CRC64: Crc<u64> = Crc::<u64>::new(&CRC_64_GO_ISO);

/// How page data is compressed inside an LTX file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PageEncoding {
    /// One LZ4 frame per page, page flags 0: readable by every Litestream 0.5.x.
    #[default]
    Frame,
    /// Size-prefixed raw LZ4 block, page flag 0x1: Litestream ≥ 0.5.16 only.
    Block,
}

/// An LTX file that does not follow the format. The caller adds which object it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LtxError {
    #[error("not an LTX file (bad magic)")]
    BadMagic,
    #[error("file is truncated: {0}")]
    Truncated(&'static str),
    #[error("invalid header: {0}")]
    InvalidHeader(String),
    #[error("invalid page: {0}")]
    InvalidPage(String),
    #[error("invalid page index: {0}")]
    InvalidIndex(String),
    #[error("invalid trailer: {0}")]
    InvalidTrailer(String),
    #[error("file checksum mismatch: stored {stored:#018x}, computed {computed:#018x}")]
    ChecksumMismatch { stored: u64, computed: u64 },
}

/// The SQLite lock page (the page holding byte offset 2^30), which LTX files never contain.
pub fn lock_pgno(page_size: u32) -> u32 {
    (PENDING_BYTE / u64::from(page_size)) as u32 + 1
}

pub fn is_valid_page_size(size: u32) -> bool {
    (512..=65536).contains(&size) && size.is_power_of_two()
}

/// The 100-byte LTX header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    pub flags: u32,
    pub page_size: u32,
    /// Database size in pages after this file is applied.
    pub commit: u32,
    pub min_txid: u64,
    pub max_txid: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    pub pre_apply_checksum: u64,
    /// WAL byte range this file was built from (0 for compactions and snapshots without WAL).
    pub wal_offset: i64,
    pub wal_size: i64,
    pub wal_salt1: u32,
    pub wal_salt2: u32,
    pub node_id: u64,
}

impl Header {
    /// A file holding TXID 1 holds the whole database.
    pub fn is_snapshot(&self) -> bool {
        self.min_txid == 1
    }

    pub fn no_checksum(&self) -> bool {
        self.flags & HEADER_FLAG_NO_CHECKSUM != 0
    }

    /// The rules of Go's `Header.Validate`.
    pub fn validate(&self) -> Result<(), LtxError> {
        let bad = |m: String| Err(LtxError::InvalidHeader(m));
        if self.flags & !HEADER_FLAG_NO_CHECKSUM != 0 {
            return bad(format!("unknown flags {:#010x}", self.flags));
        }
        if !is_valid_page_size(self.page_size) {
            return bad(format!("invalid page size {}", self.page_size));
        }
        if self.min_txid == 0 || self.max_txid == 0 {
            return bad("transaction ids must be non-zero".into());
        }
        if self.min_txid > self.max_txid {
            return bad(format!("transaction ids out of order: {} > {}", self.min_txid, self.max_txid));
        }
        if self.wal_offset < 0 || self.wal_size < 0 {
            return bad("negative WAL offset or size".into());
        }
        if (self.wal_salt1 != 0 || self.wal_salt2 != 0) && self.wal_offset == 0 {
            return bad("WAL salt set without WAL offset".into());
        }
        if self.wal_offset == 0 && self.wal_size != 0 {
            return bad("WAL size set without WAL offset".into());
        }
        if self.is_snapshot() || self.no_checksum() {
            if self.pre_apply_checksum != 0 {
                return bad("pre-apply checksum must be zero".into());
            }
        } else if self.pre_apply_checksum & CHECKSUM_FLAG == 0 {
            return bad("pre-apply checksum required".into());
        }
        Ok(())
    }

    pub fn to_bytes(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        b[0..4].copy_from_slice(MAGIC);
        b[4..8].copy_from_slice(&self.flags.to_be_bytes());
        b[8..12].copy_from_slice(&self.page_size.to_be_bytes());
        b[12..16].copy_from_slice(&self.commit.to_be_bytes());
        b[16..24].copy_from_slice(&self.min_txid.to_be_bytes());
        b[24..32].copy_from_slice(&self.max_txid.to_be_bytes());
        b[32..40].copy_from_slice(&self.timestamp_ms.to_be_bytes());
        b[40..48].copy_from_slice(&self.pre_apply_checksum.to_be_bytes());
        b[48..56].copy_from_slice(&self.wal_offset.to_be_bytes());
        b[56..64].copy_from_slice(&self.wal_size.to_be_bytes());
        b[64..68].copy_from_slice(&self.wal_salt1.to_be_bytes());
        b[68..72].copy_from_slice(&self.wal_salt2.to_be_bytes());
        b[72..80].copy_from_slice(&self.node_id.to_be_bytes());
        b
    }

    /// Parses (without validating) the header at the start of `b`.
    pub fn parse(b: &[u8]) -> Result<Header, LtxError> {
        if b.len() < HEADER_SIZE {
            return Err(LtxError::Truncated("header"));
        }
        if &b[0..4] != MAGIC {
            return Err(LtxError::BadMagic);
        }
        let u32_at = |o: usize| u32::from_be_bytes(b[o..o + 4].try_into().expect("4 bytes"));
        let u64_at = |o: usize| u64::from_be_bytes(b[o..o + 8].try_into().expect("8 bytes"));
        Ok(Header {
            flags: u32_at(4),
            page_size: u32_at(8),
            commit: u32_at(12),
            min_txid: u64_at(16),
            max_txid: u64_at(24),
            timestamp_ms: u64_at(32) as i64,
            pre_apply_checksum: u64_at(40),
            wal_offset: u64_at(48) as i64,
            wal_size: u64_at(56) as i64,
            wal_salt1: u32_at(64),
            wal_salt2: u32_at(68),
            node_id: u64_at(72),
        })
    }
}

/// The 16-byte trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Trailer {
    pub post_apply_checksum: u64,
    pub file_checksum: u64,
}

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn read_uvarint(b: &[u8], pos: &mut usize) -> Result<u64, LtxError> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let Some(&byte) = b.get(*pos) else {
            return Err(LtxError::Truncated("page index"));
        };
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Ok(v);
        }
    }
    Err(LtxError::InvalidIndex("varint overflows 64 bits".into()))
}

/// Checks the page order rules shared by the encoder and the decoder.
fn check_page_order(header: &Header, prev_pgno: u32, pgno: u32) -> Result<(), LtxError> {
    let lock = lock_pgno(header.page_size);
    if pgno == 0 {
        return Err(LtxError::InvalidPage("page number 0".into()));
    }
    if pgno > header.commit {
        return Err(LtxError::InvalidPage(format!("page {pgno} is beyond the commit size {}", header.commit)));
    }
    if pgno == lock {
        return Err(LtxError::InvalidPage(format!("page {pgno} is the lock page")));
    }
    if header.is_snapshot() {
        let expected = if prev_pgno + 1 == lock { prev_pgno + 2 } else { prev_pgno + 1 };
        if pgno != expected {
            return Err(LtxError::InvalidPage(format!(
                "snapshot pages must be consecutive: page {pgno} follows page {prev_pgno}"
            )));
        }
    } else if pgno <= prev_pgno {
        return Err(LtxError::InvalidPage(format!("pages out of order: page {pgno} follows page {prev_pgno}")));
    }
    Ok(())
}

/// Writes one LTX file into memory.
pub struct Encoder {
    out: Vec<u8>,
    digest: Digest<'static, u64>,
    header: Header,
    encoding: PageEncoding,
    prev_pgno: u32,
    index: Vec<(u32, u64, u64)>,
    scratch: Vec<u8>,
}

impl Encoder {
    pub fn new(header: Header, encoding: PageEncoding) -> Result<Encoder, LtxError> {
        header.validate()?;
        let mut enc = Encoder {
            out: Vec::with_capacity(HEADER_SIZE + 4096),
            digest: CRC64.digest(),
            header,
            encoding,
            prev_pgno: 0,
            index: Vec::new(),
            scratch: Vec::new(),
        };
        enc.write_hashed(&header.to_bytes());
        Ok(enc)
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    fn write_hashed(&mut self, b: &[u8]) {
        self.digest.update(b);
        self.out.extend_from_slice(b);
    }

    /// Appends one page; pages must come in ascending order (all of 1..=commit for snapshots).
    pub fn encode_page(&mut self, pgno: u32, data: &[u8]) -> Result<(), LtxError> {
        if data.len() != self.header.page_size as usize {
            return Err(LtxError::InvalidPage(format!(
                "page {pgno} has {} bytes, expected {}",
                data.len(),
                self.header.page_size
            )));
        }
        check_page_order(&self.header, self.prev_pgno, pgno)?;
        let offset = self.out.len() as u64;
        self.scratch.clear();
        match self.encoding {
            PageEncoding::Frame => {
                let mut ph = [0u8; PAGE_HEADER_SIZE];
                ph[0..4].copy_from_slice(&pgno.to_be_bytes());
                self.write_hashed(&ph);
                lz4::compress_frame(data, &mut self.scratch).map_err(LtxError::InvalidPage)?;
            }
            PageEncoding::Block => {
                lz4::compress_block(data, &mut self.scratch);
                let mut ph = [0u8; PAGE_HEADER_SIZE + 4];
                ph[0..4].copy_from_slice(&pgno.to_be_bytes());
                ph[4..6].copy_from_slice(&PAGE_FLAG_SIZE.to_be_bytes());
                ph[6..10].copy_from_slice(&(self.scratch.len() as u32).to_be_bytes());
                self.write_hashed(&ph);
            }
        }
        // The checksum covers the uncompressed page; the file holds the compressed one.
        self.digest.update(data);
        self.out.extend_from_slice(&self.scratch);
        self.index.push((pgno, offset, self.out.len() as u64 - offset));
        self.prev_pgno = pgno;
        Ok(())
    }

    /// Writes the end marker, page index and trailer and returns the file.
    pub fn finish(mut self) -> Result<Vec<u8>, LtxError> {
        if self.header.is_snapshot() {
            let lock = lock_pgno(self.header.page_size);
            let last_expected = if self.header.commit == lock { lock - 1 } else { self.header.commit };
            if self.prev_pgno != last_expected {
                return Err(LtxError::InvalidPage(format!(
                    "snapshot ends at page {} but the database has {} pages",
                    self.prev_pgno, self.header.commit
                )));
            }
        }
        self.write_hashed(&[0u8; PAGE_HEADER_SIZE]);
        let mut idx = Vec::with_capacity(self.index.len() * 8 + 9);
        for &(pgno, offset, size) in &self.index {
            put_uvarint(&mut idx, u64::from(pgno));
            put_uvarint(&mut idx, offset);
            put_uvarint(&mut idx, size);
        }
        put_uvarint(&mut idx, 0);
        let idx_len = idx.len() as u64;
        idx.extend_from_slice(&idx_len.to_be_bytes());
        self.write_hashed(&idx);
        let post_apply = 0u64;
        self.write_hashed(&post_apply.to_be_bytes());
        let file_checksum = CHECKSUM_FLAG | self.digest.finalize();
        self.out.extend_from_slice(&file_checksum.to_be_bytes());
        Ok(self.out)
    }
}

/// Reads one LTX file held in memory, page by page, verifying as it goes.
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    header: Header,
    digest: Digest<'static, u64>,
    prev_pgno: u32,
    pages: Vec<(u32, u64, u64)>,
    pages_done: bool,
}

impl<'a> Decoder<'a> {
    /// Parses and validates the header.
    pub fn new(buf: &'a [u8]) -> Result<Decoder<'a>, LtxError> {
        let header = Header::parse(buf)?;
        header.validate()?;
        let mut digest = CRC64.digest();
        digest.update(&buf[..HEADER_SIZE]);
        Ok(Decoder { buf, pos: HEADER_SIZE, header, digest, prev_pgno: 0, pages: Vec::new(), pages_done: false })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], LtxError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or(LtxError::Truncated(what))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// Decodes the next page into `data` (page-size bytes) and returns its number, or `None`
    /// at the end of the page block.
    pub fn next_page(&mut self, data: &mut [u8]) -> Result<Option<u32>, LtxError> {
        if self.pages_done {
            return Ok(None);
        }
        if data.len() != self.header.page_size as usize {
            return Err(LtxError::InvalidPage("buffer is not one page".into()));
        }
        let offset = self.pos as u64;
        let ph = self.take(PAGE_HEADER_SIZE, "page header")?;
        self.digest.update(ph);
        let pgno = u32::from_be_bytes(ph[0..4].try_into().expect("4 bytes"));
        let flags = u16::from_be_bytes(ph[4..6].try_into().expect("2 bytes"));
        if pgno == 0 && flags == 0 {
            self.pages_done = true;
            return Ok(None);
        }
        if flags & !PAGE_FLAG_SIZE != 0 {
            return Err(LtxError::InvalidPage(format!("page {pgno} has unknown flags {flags:#06x}")));
        }
        check_page_order(&self.header, self.prev_pgno, pgno)?;
        if flags & PAGE_FLAG_SIZE != 0 {
            let size_word = self.take(4, "page size word")?;
            self.digest.update(size_word);
            let size = u32::from_be_bytes(size_word.try_into().expect("4 bytes")) as usize;
            let block = self.take(size, "page data")?;
            lz4::decompress_block(block, data).map_err(|e| LtxError::InvalidPage(format!("page {pgno}: {e}")))?;
        } else {
            let len = lz4::frame_len(&self.buf[self.pos..])
                .map_err(|e| LtxError::InvalidPage(format!("page {pgno}: {e}")))?;
            let frame = self.take(len, "page data")?;
            lz4::decompress_frame(frame, data).map_err(|e| LtxError::InvalidPage(format!("page {pgno}: {e}")))?;
        }
        self.digest.update(data);
        self.pages.push((pgno, offset, self.pos as u64 - offset));
        self.prev_pgno = pgno;
        Ok(Some(pgno))
    }

    /// Reads the index and trailer after the last page and verifies the file checksum.
    pub fn finish(mut self) -> Result<Trailer, LtxError> {
        if !self.pages_done {
            let mut scratch = vec![0u8; self.header.page_size as usize];
            while self.next_page(&mut scratch)?.is_some() {}
        }
        if self.header.is_snapshot() && self.header.commit > 0 {
            let lock = lock_pgno(self.header.page_size);
            let last = if self.header.commit == lock { lock - 1 } else { self.header.commit };
            if self.prev_pgno != last {
                return Err(LtxError::InvalidPage(format!(
                    "snapshot ends at page {} but the database has {} pages",
                    self.prev_pgno, self.header.commit
                )));
            }
        }
        if self.buf.len() < self.pos + TRAILER_SIZE + 9 {
            return Err(LtxError::Truncated("page index or trailer"));
        }
        let index_start = self.pos;
        let trailer_start = self.buf.len() - TRAILER_SIZE;
        let mut p = index_start;
        let mut entries = Vec::with_capacity(self.pages.len());
        loop {
            let pgno = read_uvarint(self.buf, &mut p)?;
            if pgno == 0 {
                break;
            }
            let offset = read_uvarint(self.buf, &mut p)?;
            let size = read_uvarint(self.buf, &mut p)?;
            entries.push((pgno as u32, offset, size));
            if p > trailer_start {
                return Err(LtxError::Truncated("page index"));
            }
        }
        let varint_len = (p - index_start) as u64;
        if p + 8 != trailer_start {
            return Err(LtxError::InvalidIndex(format!(
                "{} bytes between the index and the trailer",
                trailer_start as i64 - p as i64 - 8
            )));
        }
        let stored_len = u64::from_be_bytes(self.buf[p..p + 8].try_into().expect("8 bytes"));
        if stored_len != varint_len {
            return Err(LtxError::InvalidIndex(format!(
                "index size field says {stored_len} bytes, index has {varint_len}"
            )));
        }
        if entries != self.pages {
            return Err(LtxError::InvalidIndex("index does not match the pages in the file".into()));
        }
        self.digest.update(&self.buf[index_start..trailer_start + 8]);
        let t = &self.buf[trailer_start..];
        let trailer = Trailer {
            post_apply_checksum: u64::from_be_bytes(t[0..8].try_into().expect("8 bytes")),
            file_checksum: u64::from_be_bytes(t[8..16].try_into().expect("8 bytes")),
        };
        if self.header.no_checksum() && trailer.post_apply_checksum != 0 {
            return Err(LtxError::InvalidTrailer("post-apply checksum set although checksums are off".into()));
        }
        if trailer.file_checksum & CHECKSUM_FLAG == 0 {
            return Err(LtxError::InvalidTrailer("file checksum lacks its flag bit".into()));
        }
        let computed = CHECKSUM_FLAG | self.digest.finalize();
        if computed != trailer.file_checksum {
            return Err(LtxError::ChecksumMismatch { stored: trailer.file_checksum, computed });
        }
        Ok(trailer)
    }
}

/// Decodes and verifies a whole file, calling `page` for every page. Returns the header.
pub fn decode_all(buf: &[u8], mut page: impl FnMut(u32, &[u8]) -> Result<(), LtxError>) -> Result<Header, LtxError> {
    let mut dec = Decoder::new(buf)?;
    let header = *dec.header();
    let mut data = vec![0u8; header.page_size as usize];
    while let Some(pgno) = dec.next_page(&mut data)? {
        page(pgno, &data)?;
    }
    dec.finish()?;
    Ok(header)
}

/// `%016x-%016x.ltx`, the file name Litestream uses for a TXID range.
pub fn file_name(min_txid: u64, max_txid: u64) -> String {
    format!("{min_txid:016x}-{max_txid:016x}.ltx")
}

/// Parses `^([0-9a-f]{16})-([0-9a-f]{16})\.ltx$`; other names are not LTX files.
pub fn parse_file_name(name: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(".ltx")?;
    let (a, b) = stem.split_once('-')?;
    let hex16 = |s: &str| {
        (s.len() == 16 && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| u64::from_str_radix(s, 16).ok())
            .flatten()
    };
    Some((hex16(a)?, hex16(b)?))
}

#[cfg(test)]
mod tests {
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
}
