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
    ReplicateError::Plan(format!("building an LTX file failed: {e}"))
}

/// Encodes the given pages, each read from its WAL frame when listed in `wal_pages`, else
/// from the database file.
fn encode(
    header: Header,
    encoding: PageEncoding,
    pgnos: impl Iterator<Item = u32>,
    db: &File,
    wal_file: Option<&File>,
    wal_pages: &BTreeMap<u32, u64>,
) -> Result<Vec<u8>, ReplicateError> {
    let mut enc = Encoder::new(header, encoding).map_err(encode_err)?;
    let mut buf = vec![0u8; header.page_size as usize];
    for pgno in pgnos {
        match (wal_pages.get(&pgno), wal_file) {
            (Some(&off), Some(w)) => wal::read_page(w, off, &mut buf)
                .map_err(|e| ReplicateError::io(format!("read WAL frame at {off} (page {pgno})"), e))?,
            _ => read_db_page(db, pgno, &mut buf)
                .map_err(|e| ReplicateError::io(format!("read database page {pgno}"), e))?,
        }
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
    let lock = ltx::lock_pgno(header.page_size);
    let pgnos = (1..=header.commit).filter(move |&p| p != lock);
    encode(header, encoding, pgnos, db, wal_file, wal_pages)
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
    encode(header, encoding, pgnos.into_iter(), db, Some(wal_file), wal_pages)
}
