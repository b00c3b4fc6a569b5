//! `verify`: a backup drill. Restores the newest state into a temporary directory (every
//! object checked), runs `PRAGMA integrity_check`, then compares it page by page with the
//! live database at the same TXID.
//!
//! The live database keeps moving while this runs, so the comparison reads the live state
//! (database file overlaid with the committed WAL frames, under a read transaction) and, while
//! it differs, applies LTX files that arrived since and looks again, for up to
//! `VERIFY_CATCH_UP` (a few sync intervals). An idle (or stopped) app compares exactly; one
//! that writes without pause may report [`LiveComparison::LiveAhead`], which is not a failure.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::time::{Duration, Instant};

use crc::{CRC_64_GO_ISO, Crc};
use rusqlite::{Connection, OpenFlags};

use super::apply::PageWriter;
use super::bucket::Store;
use super::error::ReplicateError;
use super::ltx;
use super::options::ReplicatorOptions;
use super::plan::{RestoreTarget, calc_restore_plan};
use super::restore::restore_ltx;
use super::restored::integrity_check;
use super::snapshot::PageSource;
use super::txid::Txid;

static CRC64: Crc<u64> = Crc::<u64>::new(&CRC_64_GO_ISO);

/// How the restored copy compared with the live database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveComparison {
    /// Page for page identical at the reported TXID.
    Identical,
    /// The live database stayed ahead of the backup (it kept committing) during the drill.
    LiveAhead { live_pages: u32, restored_pages: u32 },
}

/// The exact drill, used by [`super::ReplicatorHandle::verify`]: restores precisely `txid`
/// and compares it with the digest the shipper computed for that TXID.
pub(crate) async fn verify_against(
    opts: &ReplicatorOptions,
    txid: Txid,
    page_size: u32,
    pages: u32,
    live_digest: u64,
) -> Result<VerifyReport, ReplicateError> {
    let started = Instant::now();
    let store = Store::new(opts)?;
    let scratch = scratch_dir()?;
    let restored = scratch.path().join("restored.db");
    let files = store.list_all().await?;
    let plan = calc_restore_plan(&files, RestoreTarget::Txid(txid))?;
    let (header, _) = restore_ltx(&store, &plan, &restored, &mut |_| {}).await?;
    let restore_duration = started.elapsed();
    integrity_check(&restored)?;
    let (rpages, rsum) = file_digest(&restored, header.page_size)?;
    if Txid(header.max_txid) != txid || header.page_size != page_size || rpages != pages || rsum != live_digest {
        return Err(ReplicateError::VerifyMismatch {
            txid,
            detail: format!(
                "restored {rpages} pages of {} bytes with digest {rsum:016x}; the live database \
                 at that TXID has {pages} pages of {page_size} bytes with digest {live_digest:016x}",
                header.page_size
            ),
        });
    }
    tracing::info!(
        txid = %txid,
        pages,
        "backup verified: identical to the live database at this TXID"
    );
    Ok(report(txid, page_size, pages, rsum, LiveComparison::Identical, restore_duration, started))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// TXID of the verified state.
    pub txid: Txid,
    pub page_size: u32,
    pub pages: u32,
    /// CRC-64 over the restored pages (comparable between drills at the same TXID).
    pub checksum: u64,
    pub live: LiveComparison,
    pub restore_duration: Duration,
    pub duration: Duration,
}

/// Where a drill restores to, in the system's temporary directory; deleted however the drill ends.
fn scratch_dir() -> Result<tempfile::TempDir, ReplicateError> {
    tempfile::Builder::new()
        .prefix("mysetlist-verify-")
        .tempdir()
        .map_err(|e| ReplicateError::io("create a scratch directory for the restore drill", e))
}

/// CRC-64 over `pgno || page` for pages `1..=pages` (lock page skipped), read by `read`.
pub(crate) fn digest(
    pages: u32,
    page_size: u32,
    mut read: impl FnMut(u32, &mut [u8]) -> std::io::Result<()>,
) -> std::io::Result<u64> {
    let lock = ltx::lock_pgno(page_size);
    let mut d = CRC64.digest();
    let mut buf = vec![0u8; page_size as usize];
    for pgno in 1..=pages {
        if pgno == lock {
            continue;
        }
        read(pgno, &mut buf)?;
        d.update(&pgno.to_be_bytes());
        d.update(&buf);
    }
    Ok(d.finalize())
}

fn file_digest(path: &Path, page_size: u32) -> Result<(u32, u64), ReplicateError> {
    let f = File::open(path).map_err(|e| ReplicateError::io(format!("open {}", path.display()), e))?;
    let len = f.metadata().map_err(|e| ReplicateError::io(format!("stat {}", path.display()), e))?.len();
    let pages = (len / u64::from(page_size)) as u32;
    let source = PageSource::file_only(&f);
    let d = digest(pages, page_size, |p, b| source.read(p, b))
        .map_err(|e| ReplicateError::io(format!("read {}", path.display()), e))?;
    Ok((pages, d))
}

/// Digest of the live database's committed state, read through SQLite (`sqlite_dbpage`) under one
/// read transaction, so that no checkpoint moves pages while they are read. Never through a plain
/// descriptor of the file: closing one would drop the locks SQLite holds in this process (see
/// `db_file`), and the command may run in the serving process or beside it.
fn live_digest(live: &Path) -> Result<(u32, u32, u64), ReplicateError> {
    let conn = Connection::open_with_flags(live, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| ReplicateError::sqlite(format!("open {}", live.display()), e))?;
    let page_size: u32 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .map_err(|e| ReplicateError::sqlite("read page_size", e))?;
    conn.execute_batch("BEGIN")
        .and_then(|()| conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(())))
        .map_err(|e| ReplicateError::sqlite("begin a read transaction on the live database", e))?;
    let commit: u32 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .map_err(|e| ReplicateError::sqlite("read page_count", e))?;
    let mut page = conn
        .prepare("SELECT data FROM sqlite_dbpage WHERE pgno = ?1")
        .map_err(|e| ReplicateError::sqlite("read pages through sqlite_dbpage", e))?;
    let d = digest(commit, page_size, |pgno, buf| {
        page.query_row([pgno], |r| {
            let data = r.get_ref(0)?.as_blob()?;
            let n = data.len().min(buf.len());
            buf[..n].copy_from_slice(&data[..n]);
            buf[n..].fill(0);
            Ok(())
        })
        .map_err(std::io::Error::other)
    })
    .map_err(|e| ReplicateError::io("read the live database", e))?;
    drop(page);
    let _ = conn.execute_batch("COMMIT");
    Ok((page_size, commit, d))
}

const VERIFY_CATCH_UP: Duration = Duration::from_secs(20);

/// Runs the drill; see the module docs. Fails on any corrupt object or integrity error.
pub async fn verify(opts: &ReplicatorOptions, live_db: &Path) -> Result<VerifyReport, ReplicateError> {
    opts.validate()?;
    let started = Instant::now();
    let store = Store::new(opts)?;
    let scratch = scratch_dir()?;
    let restored = scratch.path().join("restored.db");
    let files = store.list_all().await?;
    let plan = calc_restore_plan(&files, RestoreTarget::Latest)?;
    let (header, _) = restore_ltx(&store, &plan, &restored, &mut |_| {}).await?;
    let restore_duration = started.elapsed();
    integrity_check(&restored)?;
    let page_size = header.page_size;
    let mut txid = header.max_txid;
    let mut commit = header.commit;

    let deadline = Instant::now() + VERIFY_CATCH_UP;
    let poll = opts.sync_interval.clamp(Duration::from_millis(100), Duration::from_secs(2));
    loop {
        let (rpages, rsum) = file_digest(&restored, page_size)?;
        let live = live_db.to_path_buf();
        let (lps, lpages, lsum) = tokio::task::spawn_blocking(move || live_digest(&live))
            .await
            .map_err(|e| ReplicateError::worker("verify", e))??;
        if lps != page_size {
            return Err(ReplicateError::PageSizeMismatch { live: lps, backup: page_size });
        }
        if lsum == rsum && lpages == rpages {
            tracing::info!(txid = %Txid(txid), pages = rpages, "backup verified against the live database");
            return Ok(report(
                Txid(txid),
                page_size,
                rpages,
                rsum,
                LiveComparison::Identical,
                restore_duration,
                started,
            ));
        }
        if Instant::now() >= deadline {
            tracing::warn!(
                txid = %Txid(txid),
                "backup restores cleanly but the live database kept moving ahead during the drill"
            );
            let live = LiveComparison::LiveAhead { live_pages: lpages, restored_pages: rpages };
            return Ok(report(Txid(txid), page_size, rpages, rsum, live, restore_duration, started));
        }
        tokio::time::sleep(poll).await;
        // Catch up with what was shipped meanwhile.
        let newer: Vec<_> = store
            .list_all()
            .await?
            .into_iter()
            .filter(|f| f.max_txid > txid && f.level < super::bucket::SNAPSHOT_LEVEL)
            .collect();
        if newer.is_empty() {
            continue;
        }
        let mut chain = Vec::new();
        let mut cur = txid;
        while let Some(next) =
            newer.iter().filter(|f| f.min_txid <= cur + 1 && f.max_txid > cur).max_by_key(|f| f.max_txid)
        {
            cur = next.max_txid;
            chain.push(next.clone());
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&restored)
            .map_err(|e| ReplicateError::io(format!("open {}", restored.display()), e))?;
        let mut w = PageWriter::resume(file, restored.display().to_string(), page_size, commit, txid);
        for f in &chain {
            let data = store.get_all(&f.key, f.size, |_| {}).await?;
            w.apply(&f.key, &data)?;
        }
        txid = w.txid();
        commit = w.commit();
        w.finish()?;
        integrity_check(&restored)?;
    }
}

fn report(
    txid: Txid,
    page_size: u32,
    pages: u32,
    checksum: u64,
    live: LiveComparison,
    restore_duration: Duration,
    started: Instant,
) -> VerifyReport {
    VerifyReport { txid, page_size, pages, checksum, live, restore_duration, duration: started.elapsed() }
}
