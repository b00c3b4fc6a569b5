//! Reader for SQLite's write-ahead log, the shipper's only source of changes.
//!
//! A WAL file is a 32-byte header followed by frames of a 24-byte header and one page. Every
//! frame carries the header's two salts and a running checksum over the header and all
//! frames before it, so a frame is valid only if its salts match and the checksum chain
//! holds; the first frame that fails marks the end of the log (SQLite itself reads it the
//! same way). A frame with a non-zero "commit" field ends a transaction and gives the database
//! size in pages; frames after the last commit frame are an unfinished transaction and are
//! never shipped.
//!
//! When SQLite restarts the log after a full checkpoint it writes a new header with new salts
//! and overwrites the file from the start. A [`WalPos`] therefore names its generation by the
//! salts, and a position is only meaningful while the header still carries them.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

pub const WAL_HEADER_SIZE: u64 = 32;
pub const FRAME_HEADER_SIZE: u64 = 24;
const MAGIC_LE: u32 = 0x377f_0682;
const MAGIC_BE: u32 = 0x377f_0683;
const WAL_VERSION: u32 = 3_007_000;

/// The WAL file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalHeader {
    /// Checksum words are big-endian (magic 0x377f0683) rather than little-endian.
    pub big_endian: bool,
    pub page_size: u32,
    pub checkpoint_seq: u32,
    pub salt1: u32,
    pub salt2: u32,
    /// The header's own checksum, which seeds the frame checksum chain.
    pub checksum: (u32, u32),
}

impl WalHeader {
    pub fn frame_size(&self) -> u64 {
        FRAME_HEADER_SIZE + u64::from(self.page_size)
    }

    /// The position before the first frame of this generation.
    pub fn start(&self) -> WalPos {
        WalPos { salt1: self.salt1, salt2: self.salt2, offset: WAL_HEADER_SIZE, checksum: self.checksum }
    }
}

/// A position just after a commit frame (or the header) in one WAL generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalPos {
    pub salt1: u32,
    pub salt2: u32,
    /// Byte offset of the next frame.
    pub offset: u64,
    /// Running checksum after the last frame before `offset`.
    pub checksum: (u32, u32),
}

impl WalPos {
    pub fn same_generation(&self, h: &WalHeader) -> bool {
        self.salt1 == h.salt1 && self.salt2 == h.salt2
    }
}

/// SQLite's WAL checksum over 8-byte units, continuing from `s`.
pub fn checksum(big_endian: bool, mut s: (u32, u32), b: &[u8]) -> (u32, u32) {
    debug_assert!(b.len().is_multiple_of(8));
    for c in b.chunks_exact(8) {
        let (x, y) = if big_endian {
            (
                u32::from_be_bytes(c[0..4].try_into().expect("4 bytes")),
                u32::from_be_bytes(c[4..8].try_into().expect("4 bytes")),
            )
        } else {
            (
                u32::from_le_bytes(c[0..4].try_into().expect("4 bytes")),
                u32::from_le_bytes(c[4..8].try_into().expect("4 bytes")),
            )
        };
        s.0 = s.0.wrapping_add(x).wrapping_add(s.1);
        s.1 = s.1.wrapping_add(y).wrapping_add(s.0);
    }
    s
}

fn be32(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes(b[o..o + 4].try_into().expect("4 bytes"))
}

/// Reads the header. `None` if the file is shorter than a header or the header is not valid
/// (SQLite may be rewriting it), an error for anything that is not a WAL at all.
pub fn read_header(file: &File) -> io::Result<Option<WalHeader>> {
    let mut b = [0u8; WAL_HEADER_SIZE as usize];
    match file.read_exact_at(&mut b, 0) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let big_endian = match be32(&b, 0) {
        MAGIC_BE => true,
        MAGIC_LE => false,
        0 => return Ok(None),
        m => {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("not a SQLite WAL file (magic {m:#010x})")));
        }
    };
    let stored = (be32(&b, 24), be32(&b, 28));
    if checksum(big_endian, (0, 0), &b[..24]) != stored {
        return Ok(None);
    }
    let version = be32(&b, 4);
    if version != WAL_VERSION {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("unsupported WAL version {version}")));
    }
    let page_size = be32(&b, 8);
    if !super::ltx::is_valid_page_size(page_size) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("WAL header has invalid page size {page_size}"),
        ));
    }
    Ok(Some(WalHeader {
        big_endian,
        page_size,
        checkpoint_seq: be32(&b, 12),
        salt1: be32(&b, 16),
        salt2: be32(&b, 20),
        checksum: stored,
    }))
}

/// The committed frames found by a scan.
#[derive(Debug, Clone)]
pub struct WalScan {
    /// Latest committed frame (its byte offset) for every page, pages beyond `commit` dropped.
    pub pages: BTreeMap<u32, u64>,
    /// Position after the last commit frame read (equal to the start if none).
    pub end: WalPos,
    /// Database size in pages after the last commit read, if any commit was read.
    pub commit: Option<u32>,
    /// Number of committed frames read.
    pub frames: u64,
}

/// Reads every valid committed frame from `from` to the end of the log, or up to the commit
/// that ends exactly at `until` when given. The caller must hold `from` in the header's
/// generation; frames of another generation end the scan.
pub fn scan(file: &File, hdr: &WalHeader, from: WalPos, until: Option<u64>) -> io::Result<WalScan> {
    let frame_size = hdr.frame_size();
    let len = file.metadata()?.len();
    let mut out = WalScan { pages: BTreeMap::new(), end: from, commit: None, frames: 0 };
    if !from.same_generation(hdr) {
        return Ok(out);
    }
    let mut pending: Vec<(u32, u64)> = Vec::new();
    let mut sum = from.checksum;
    let mut offset = from.offset;
    let mut frame = vec![0u8; frame_size as usize];
    while offset + frame_size <= len && until.is_none_or(|u| offset < u) {
        match file.read_exact_at(&mut frame, offset) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
        if be32(&frame, 8) != hdr.salt1 || be32(&frame, 12) != hdr.salt2 {
            break;
        }
        let s = checksum(hdr.big_endian, sum, &frame[..8]);
        let s = checksum(hdr.big_endian, s, &frame[FRAME_HEADER_SIZE as usize..]);
        if s != (be32(&frame, 16), be32(&frame, 20)) {
            break;
        }
        sum = s;
        let pgno = be32(&frame, 0);
        pending.push((pgno, offset));
        offset += frame_size;
        let commit = be32(&frame, 4);
        if commit != 0 {
            out.frames += pending.len() as u64;
            out.pages.extend(pending.drain(..));
            out.commit = Some(commit);
            out.end = WalPos { salt1: hdr.salt1, salt2: hdr.salt2, offset, checksum: sum };
        }
    }
    if let Some(commit) = out.commit {
        out.pages.retain(|&pgno, _| pgno <= commit);
    }
    Ok(out)
}

/// Reads the page stored in the frame at `frame_offset`.
pub fn read_page(file: &File, frame_offset: u64, buf: &mut [u8]) -> io::Result<()> {
    file.read_exact_at(buf, frame_offset + FRAME_HEADER_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn open(dir: &std::path::Path) -> Connection {
        let c = Connection::open(dir.join("t.db")).unwrap();
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
        c.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        c
    }

    #[test]
    fn checksum_matches_sqlite_header() {
        let dir = tempfile::tempdir().unwrap();
        let c = open(dir.path());
        c.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);").unwrap();
        let f = File::open(dir.path().join("t.db-wal")).unwrap();
        let h = read_header(&f).unwrap().expect("valid header");
        assert_eq!(h.page_size, 4096);
        let s = scan(&f, &h, h.start(), None).unwrap();
        assert_eq!(s.commit, Some(2));
        assert!(s.frames >= 2);
        assert_eq!(s.end.offset, WAL_HEADER_SIZE + s.frames * h.frame_size(), "every frame was committed");
    }

    #[test]
    fn scan_resumes_and_stops_at_commits() {
        let dir = tempfile::tempdir().unwrap();
        let c = open(dir.path());
        c.execute_batch("CREATE TABLE t(x);").unwrap();
        let f = File::open(dir.path().join("t.db-wal")).unwrap();
        let h = read_header(&f).unwrap().unwrap();
        let first = scan(&f, &h, h.start(), None).unwrap();
        for i in 0..200 {
            c.execute("INSERT INTO t VALUES (?1)", [format!("row {i} {}", "x".repeat(200))]).unwrap();
        }
        let rest = scan(&f, &h, first.end, None).unwrap();
        assert!(rest.end.offset > first.end.offset);
        let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
        assert_eq!(rest.commit, Some(pages as u32));
        // A full scan ends where the resumed one ends, with the same checksum.
        let full = scan(&f, &h, h.start(), None).unwrap();
        assert_eq!(full.end, rest.end);
        // `until` stops exactly at an earlier commit boundary.
        let partial = scan(&f, &h, h.start(), Some(first.end.offset)).unwrap();
        assert_eq!(partial.end, first.end);
        // Pages read back from the WAL are real pages: page 1 starts with the SQLite magic.
        let mut buf = vec![0u8; 4096];
        read_page(&f, full.pages[&1], &mut buf).unwrap();
        assert_eq!(&buf[..16], b"SQLite format 3\0");
    }

    #[test]
    fn uncommitted_or_corrupt_frames_end_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let c = open(dir.path());
        c.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);").unwrap();
        drop(c);
        let wal = dir.path().join("t.db-wal");
        // Closing the last connection checkpoints and removes the WAL; rebuild one.
        let c = open(dir.path());
        c.execute_batch("INSERT INTO t VALUES (3); INSERT INTO t VALUES (4);").unwrap();
        let f = File::open(&wal).unwrap();
        let h = read_header(&f).unwrap().unwrap();
        let good = scan(&f, &h, h.start(), None).unwrap();
        assert!(good.frames >= 2);
        // Corrupt the last frame's page: the scan must stop at the commit before it.
        let rw = std::fs::OpenOptions::new().write(true).open(&wal).unwrap();
        let last = good.end.offset - h.frame_size();
        rw.write_all_at(&[0xde, 0xad], last + FRAME_HEADER_SIZE + 100).unwrap();
        let cut = scan(&f, &h, h.start(), None).unwrap();
        assert_eq!(cut.end.offset, last);
        assert!(cut.frames < good.frames);
    }

    #[test]
    fn missing_or_empty_wal_has_no_header() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("empty-wal");
        std::fs::write(&p, b"").unwrap();
        assert_eq!(read_header(&File::open(&p).unwrap()).unwrap(), None);
        std::fs::write(&p, b"definitely not a wal header, 32b").unwrap();
        assert!(read_header(&File::open(&p).unwrap()).is_err());
    }
}
