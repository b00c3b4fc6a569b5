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
use super::txid::Txid;

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

mod decode;
mod encode;
#[cfg(test)]
mod tests;

pub use decode::{Decoder, decode_all};
pub use encode::Encoder;

/// `%016x-%016x.ltx`, the file name Litestream uses for a TXID range.
pub fn file_name(min_txid: u64, max_txid: u64) -> String {
    format!("{}-{}.ltx", Txid(min_txid), Txid(max_txid))
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
