//! Applies LTX files, in restore-plan order, onto a database file.
//!
//! Writing each file's pages in order gives the same result as Litestream's merge of all the
//! files (the newest version of every page wins, pages beyond the final commit size are cut
//! off), without holding more than one file in memory. Each file is fully verified (format,
//! page order, LZ4 checksums, CRC-64 file checksum); the caller writes into a temporary file
//! and throws it away on any error, so a bad object never reaches the target.

use std::fs::File;
use std::os::unix::fs::FileExt;

use super::error::ReplicateError;
use super::ltx::{self, Decoder, Header};
use super::txid::Txid;

/// A database file being rebuilt from LTX files.
pub struct PageWriter {
    file: File,
    /// Description of the file for error messages.
    what: String,
    page_size: u32,
    commit: u32,
    txid: u64,
    /// Pages written so far, to prove the result is complete (only for fresh restores).
    written: Option<Vec<u64>>,
}

impl PageWriter {
    /// A writer for a fresh database: the first file must be a snapshot (TXID 1).
    pub fn new(file: File, what: impl Into<String>) -> PageWriter {
        PageWriter { file, what: what.into(), page_size: 0, commit: 0, txid: 0, written: Some(Vec::new()) }
    }

    /// A writer continuing an existing database that is at `txid`.
    pub fn resume(file: File, what: impl Into<String>, page_size: u32, commit: u32, txid: u64) -> Self {
        PageWriter { file, what: what.into(), page_size, commit, txid, written: None }
    }

    pub fn txid(&self) -> u64 {
        self.txid
    }

    pub fn commit(&self) -> u32 {
        self.commit
    }

    /// Verifies `data` (the object at `key`) and writes its pages.
    pub fn apply(&mut self, key: &str, data: &[u8]) -> Result<Header, ReplicateError> {
        let corrupt = |e: ltx::LtxError| ReplicateError::corrupt(key, e);
        let mut dec = Decoder::new(data).map_err(corrupt)?;
        let h = *dec.header();
        if self.txid == 0 && !h.is_snapshot() {
            return Err(ReplicateError::Plan(format!(
                "{key} starts at TXID {}; a restore must start with a snapshot (TXID 1)",
                Txid(h.min_txid)
            )));
        }
        if self.txid != 0 && (h.min_txid > self.txid + 1 || h.max_txid <= self.txid) {
            return Err(ReplicateError::Plan(format!(
                "{key} covers TXIDs {}-{}, which does not continue TXID {}",
                Txid(h.min_txid),
                Txid(h.max_txid),
                Txid(self.txid)
            )));
        }
        if self.page_size != 0 && h.page_size != self.page_size {
            return Err(ReplicateError::corrupt(
                key,
                format!("page size {} differs from the earlier files' {}", h.page_size, self.page_size),
            ));
        }
        self.page_size = h.page_size;
        let ps = u64::from(h.page_size);
        let mut page = vec![0u8; h.page_size as usize];
        while let Some(pgno) = dec.next_page(&mut page).map_err(corrupt)? {
            self.file
                .write_all_at(&page, (u64::from(pgno) - 1) * ps)
                .map_err(|e| ReplicateError::io(format!("write page {pgno} to {}", self.what), e))?;
            if let Some(bits) = &mut self.written {
                let i = (pgno - 1) as usize;
                if bits.len() <= i / 64 {
                    bits.resize(i / 64 + 1, 0);
                }
                bits[i / 64] |= 1 << (i % 64);
            }
        }
        dec.finish().map_err(corrupt)?;
        self.commit = h.commit;
        self.txid = h.max_txid;
        Ok(h)
    }

    /// Cuts the file to the final size, checks every page is present, and syncs it.
    pub fn finish(self) -> Result<File, ReplicateError> {
        let lock = ltx::lock_pgno(self.page_size.max(512));
        if let Some(bits) = &self.written {
            for pgno in 1..=self.commit {
                let i = (pgno - 1) as usize;
                let present = bits.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0);
                if !present && pgno != lock {
                    return Err(ReplicateError::Plan(format!(
                        "page {pgno} of {} is in none of the restored files (incomplete backup)",
                        self.commit
                    )));
                }
            }
        }
        self.file
            .set_len(u64::from(self.commit) * u64::from(self.page_size))
            .map_err(|e| ReplicateError::io(format!("truncate {}", self.what), e))?;
        self.file.sync_all().map_err(|e| ReplicateError::io(format!("fsync {}", self.what), e))?;
        Ok(self.file)
    }
}
