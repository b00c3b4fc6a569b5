//! Builds LTX files from the live database: incremental files from new WAL frames, and full
//! snapshots from the database file overlaid with the WAL.
//!
//! Reading the database file directly is safe because the shipper is the only process that
//! checkpoints, and it never copies a frame into the database file before that frame is in
//! S3: a page not found in the shipped part of the WAL is, in the database file, exactly as of
//! the shipped position.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use super::error::ReplicateError;
use super::ltx::{self, Encoder, Header, PageEncoding};
use super::wal;

/// Reads page `pgno` of the database file; pages past its end read as zeros (as SQLite sees them).
pub fn read_db_page(db: &File, pgno: u32, buf: &mut [u8]) -> io::Result<()> {
    let offset = (u64::from(pgno) - 1) * buf.len() as u64;
    let mut done = 0;
    while done < buf.len() {
        match db.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf[done..].fill(0);
    Ok(())
}

fn encode_err(e: ltx::LtxError) -> ReplicateError {
    ReplicateError::encode("an LTX file", e)
}

/// The database as of a shipped position: each page read from its WAL frame when listed in
/// `wal_pages` (the shipped frames of one WAL generation), else from the database file. The
/// shipper's digest, the LTX builders here and `verify` all read pages through it.
#[derive(Clone, Copy)]
pub(crate) struct PageSource<'a> {
    db: &'a File,
    wal: Option<&'a File>,
    wal_pages: &'a BTreeMap<u32, u64>,
}

/// No WAL frames: every page comes from the database file.
static NO_WAL_PAGES: BTreeMap<u32, u64> = BTreeMap::new();

impl<'a> PageSource<'a> {
    pub(crate) fn new(db: &'a File, wal: Option<&'a File>, wal_pages: &'a BTreeMap<u32, u64>) -> Self {
        PageSource { db, wal, wal_pages }
    }

    /// The database file alone (a restored copy, or a fully checkpointed database).
    pub(crate) fn file_only(db: &'a File) -> Self {
        PageSource { db, wal: None, wal_pages: &NO_WAL_PAGES }
    }

    /// Reads page `pgno` into `buf` (one page long).
    pub(crate) fn read(&self, pgno: u32, buf: &mut [u8]) -> io::Result<()> {
        match self.frame(pgno) {
            Some((w, off)) => wal::read_page(w, off, buf),
            None => read_db_page(self.db, pgno, buf),
        }
    }

    /// [`PageSource::read`], with an error that names the frame or page that failed.
    fn read_named(&self, pgno: u32, buf: &mut [u8]) -> Result<(), ReplicateError> {
        match self.frame(pgno) {
            Some((w, off)) => wal::read_page(w, off, buf)
                .map_err(|e| ReplicateError::io(format!("read WAL frame at {off} (page {pgno})"), e)),
            None => read_db_page(self.db, pgno, buf)
                .map_err(|e| ReplicateError::io(format!("read database page {pgno}"), e)),
        }
    }

    fn frame(&self, pgno: u32) -> Option<(&'a File, u64)> {
        match (self.wal_pages.get(&pgno), self.wal) {
            (Some(&off), Some(w)) => Some((w, off)),
            _ => None,
        }
    }
}

/// Encodes the given pages, read from `source`.
fn encode(
    header: Header,
    encoding: PageEncoding,
    pgnos: impl Iterator<Item = u32>,
    source: PageSource<'_>,
) -> Result<Vec<u8>, ReplicateError> {
    let mut enc = Encoder::new(header, encoding).map_err(encode_err)?;
    let mut buf = vec![0u8; header.page_size as usize];
    for pgno in pgnos {
        source.read_named(pgno, &mut buf)?;
        enc.encode_page(pgno, &buf).map_err(encode_err)?;
    }
    enc.finish().map_err(encode_err)
}

/// Every page `1..=commit` (but the lock page): a snapshot, or a "reset" L0 file.
pub fn build_full(
    header: Header,
    encoding: PageEncoding,
    db: &File,
    wal_file: Option<&File>,
    wal_pages: &BTreeMap<u32, u64>,
) -> Result<Vec<u8>, ReplicateError> {
    build_full_from(header, encoding, PageSource::new(db, wal_file, wal_pages))
}

/// [`build_full`] reading from `source`.
pub(crate) fn build_full_from(
    header: Header,
    encoding: PageEncoding,
    source: PageSource<'_>,
) -> Result<Vec<u8>, ReplicateError> {
    let lock = ltx::lock_pgno(header.page_size);
    let pgnos = (1..=header.commit).filter(move |&p| p != lock);
    encode(header, encoding, pgnos, source)
}

/// The pages changed in the WAL, plus every page the database grew by since `prev_commit`
/// that the WAL does not hold (Litestream's "walgrowth" pages): without them a restore
/// would lack pages below the new commit size.
pub fn build_incremental(
    header: Header,
    encoding: PageEncoding,
    db: &File,
    wal_file: &File,
    wal_pages: &BTreeMap<u32, u64>,
    prev_commit: u32,
) -> Result<Vec<u8>, ReplicateError> {
    let lock = ltx::lock_pgno(header.page_size);
    let mut pgnos: Vec<u32> = wal_pages.keys().copied().filter(|&p| p <= header.commit).collect();
    if header.commit > prev_commit {
        pgnos.extend((prev_commit + 1..=header.commit).filter(|p| *p != lock && !wal_pages.contains_key(p)));
        pgnos.sort_unstable();
    }
    encode(header, encoding, pgnos.into_iter(), PageSource::new(db, Some(wal_file), wal_pages))
}
