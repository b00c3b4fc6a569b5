//! Applying one LTX file to the live database while readers use it.
//!
//! The standby keeps its database in WAL mode, like the primary, and writes each LTX file's
//! pages through SQLite itself: `INSERT INTO sqlite_dbpage(pgno, data)` for every page, then
//! `INSERT INTO sqlite_dbpage(pgno, data) VALUES (commit + 1, NULL)` when the database shrank,
//! all in one `BEGIN IMMEDIATE … COMMIT` on the applier's own connection. `sqlite_dbpage` hands
//! the raw pages to the pager, so the transaction is an ordinary SQLite write transaction:
//!
//! * readers never see a half-applied file: WAL readers keep the snapshot their read
//!   transaction started with, and the next read transaction sees the whole file (SQLite's
//!   MVCC, the same guarantee the primary's readers get);
//! * readers are never blocked, and there is no cache to invalidate by hand: a commit changes
//!   the WAL index, which every connection checks when it starts a read; a changed schema
//!   cookie (page 1) makes other connections reload the schema;
//! * a crash mid-apply loses the transaction, not the database; applying a file twice gives
//!   the same pages (page images are absolute), so the sidecar may lag but never lead;
//! * promotion needs no journal-mode switch: the copy is already a WAL database.
//!
//! The rejected alternative — rollback-journal mode, `BEGIN EXCLUSIVE` to drain readers, raw
//! `pwrite`s at page offsets, and bumping the file change counter by hand — blocks every reader
//! for each apply, tears the file if the process dies mid-write, and must switch journal modes
//! (which needs all other connections closed) on every promotion and step-down.
//!
//! `sqlite_dbpage` is compiled in only with `SQLITE_ENABLE_DBPAGE_VTAB`: `.cargo/config.toml`
//! and `nix/package.nix` set `LIBSQLITE3_FLAGS` for the bundled SQLite, and [`Applier::open`]
//! fails with a message saying so if a build lacks it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, params};

use crate::replicate::ltx::{self, Decoder, Header};
use crate::replicate::{ReplicateError, Txid};

/// WAL size (frames) past which the applier checkpoints after an apply.
const CHECKPOINT_FRAMES: i64 = 1000;

/// The applier's connection to the live database.
pub struct Applier {
    conn: Connection,
    path: PathBuf,
    page_size: u32,
}

/// What one apply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub header: Header,
    pub pages: u32,
}

impl Applier {
    /// Opens the applier's connection to a WAL database (normally a restored copy).
    pub fn open(path: &Path) -> Result<Applier, ReplicateError> {
        let sqlite = |what: &str| {
            let what = format!("{what} ({})", path.display());
            move |e| ReplicateError::Sqlite { context: what, source: e }
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(sqlite("open the standby's applier connection"))?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(sqlite("configure the applier"))?;
        let mode: String =
            conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(sqlite("set WAL mode"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(ReplicateError::Config(format!("{} cannot use WAL mode (got {mode})", path.display())));
        }
        // FULL: an apply is on disk before the sidecar says it happened. No checkpoint on commit
        // or close: this module checkpoints, and a standby's WAL is harmless to keep.
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0;")
            .map_err(sqlite("configure the applier"))?;
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(sqlite("configure the applier"))?;
        let has_dbpage: bool = conn
            .query_row("SELECT count(*) > 0 FROM pragma_module_list WHERE name = 'sqlite_dbpage'", [], |r| r.get(0))
            .map_err(sqlite("list SQLite modules"))?;
        if !has_dbpage {
            return Err(ReplicateError::Config(
                "this build's SQLite lacks the sqlite_dbpage virtual table, which a standby needs to apply \
                 replicated pages: build with LIBSQLITE3_FLAGS=-DSQLITE_ENABLE_DBPAGE_VTAB (.cargo/config.toml sets it)"
                    .into(),
            ));
        }
        let page_size: u32 = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).map_err(sqlite("read page_size"))?;
        Ok(Applier { conn, path: path.to_path_buf(), page_size })
    }

    /// Applies one verified LTX file (`data`, the object at `key`) in one transaction on top of
    /// a copy that holds TXID `after`. A snapshot (TXID 1) must hold every page; it replaces the
    /// whole database.
    ///
    /// The file must continue the copy: start at or before `after + 1` and end after `after`.
    /// Page images are absolute, so a file the copy already holds would put older images of its
    /// pages back under the readers (a state that never existed), and a file past a gap would
    /// skip changes; both are refused as a history that does not continue (a re-sync).
    pub fn apply(&mut self, key: &str, data: &[u8], after: u64) -> Result<Applied, ReplicateError> {
        let corrupt = |e: ltx::LtxError| ReplicateError::corrupt(key, e);
        let mut dec = Decoder::new(data).map_err(corrupt)?;
        let h = *dec.header();
        if h.max_txid <= after || h.min_txid > after + 1 {
            return Err(ReplicateError::Plan(format!(
                "{key} holds TXIDs {}-{}, which do not continue a copy at {}",
                Txid(h.min_txid),
                Txid(h.max_txid),
                Txid(after)
            )));
        }
        if h.page_size != self.page_size {
            return Err(ReplicateError::Config(format!(
                "{key} has {}-byte pages but {} uses {}-byte pages; restore the standby afresh",
                h.page_size,
                self.path.display(),
                self.page_size
            )));
        }
        let sqlite =
            |what: &'static str| move |e| ReplicateError::Sqlite { context: format!("{what} ({key})"), source: e };
        let pages = self.in_transaction(key, "apply", |conn| {
            let mut pages = 0u32;
            let mut page = vec![0u8; h.page_size as usize];
            {
                let mut put = conn
                    .prepare_cached("INSERT INTO sqlite_dbpage(pgno, data) VALUES (?1, ?2)")
                    .map_err(sqlite("prepare the page write"))?;
                while let Some(pgno) = dec.next_page(&mut page).map_err(corrupt)? {
                    put.execute(params![pgno, &page[..]]).map_err(sqlite("write a page"))?;
                    pages += 1;
                }
            }
            // Verifies the file checksum before anything commits.
            dec.finish().map_err(corrupt)?;
            if h.is_snapshot() {
                let lock = ltx::lock_pgno(h.page_size);
                let expected = h.commit - u32::from(h.commit >= lock);
                if pages != expected {
                    return Err(ReplicateError::corrupt(
                        key,
                        format!("snapshot holds {pages} pages, the database has {expected}"),
                    ));
                }
            }
            truncate_to(conn, h.commit, key)?;
            Ok(pages)
        })?;
        Ok(Applied { header: h, pages })
    }

    /// Replaces the whole live database with the database at `source` (a copy rebuilt beside it,
    /// see [`super::controller`]'s re-sync) in one transaction: readers go from the old state
    /// straight to the new one, never through anything in between. `source` is a separate file
    /// that nothing else in this process has open. Returns the pages written.
    pub fn replace_with(&mut self, source: &Path) -> Result<u32, ReplicateError> {
        let shown = source.display().to_string();
        let key = shown.as_str();
        let sqlite =
            |what: &'static str| move |e| ReplicateError::Sqlite { context: format!("{what} ({key})"), source: e };
        let src =
            Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(sqlite("open the rebuilt copy"))?;
        let page_size: u32 =
            src.query_row("PRAGMA page_size", [], |r| r.get(0)).map_err(sqlite("read the copy's page_size"))?;
        if page_size != self.page_size {
            return Err(ReplicateError::Config(format!(
                "the rebuilt copy has {page_size}-byte pages but {} uses {}-byte pages; restore the standby afresh",
                self.path.display(),
                self.page_size
            )));
        }
        let count: u32 =
            src.query_row("PRAGMA page_count", [], |r| r.get(0)).map_err(sqlite("read the copy's page_count"))?;
        self.in_transaction(key, "swap", |conn| {
            let mut pages = 0u32;
            {
                let mut read = src
                    .prepare("SELECT pgno, data FROM sqlite_dbpage ORDER BY pgno")
                    .map_err(sqlite("read the copy"))?;
                let mut put = conn
                    .prepare_cached("INSERT INTO sqlite_dbpage(pgno, data) VALUES (?1, ?2)")
                    .map_err(sqlite("prepare the page write"))?;
                let mut rows = read.query([]).map_err(sqlite("read the copy"))?;
                while let Some(row) = rows.next().map_err(sqlite("read a page of the copy"))? {
                    let pgno: u32 = row.get(0).map_err(sqlite("read a page of the copy"))?;
                    let data: Vec<u8> = row.get(1).map_err(sqlite("read a page of the copy"))?;
                    put.execute(params![pgno, data]).map_err(sqlite("write a page"))?;
                    pages += 1;
                }
            }
            truncate_to(conn, count, key)?;
            Ok(pages)
        })
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction: committed (then a passive checkpoint) when
    /// it succeeds, rolled back when it or the commit fails, so readers see all of it or none.
    fn in_transaction<T>(
        &mut self,
        key: &str,
        what: &str,
        body: impl FnOnce(&Connection) -> Result<T, ReplicateError>,
    ) -> Result<T, ReplicateError> {
        let failed =
            |step: &str, e| ReplicateError::Sqlite { context: format!("{step} the {what} ({key})"), source: e };
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| failed("begin", e))?;
        match body(&self.conn) {
            Ok(value) => {
                self.conn.execute_batch("COMMIT").map_err(|e| {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    failed("commit", e)
                })?;
                self.maybe_checkpoint();
                Ok(value)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Keeps the standby's WAL small. PASSIVE never waits for readers; the WAL restarts from
    /// its beginning once a checkpoint completed.
    fn maybe_checkpoint(&self) {
        let frames: Result<(i64, i64, i64), _> =
            self.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)));
        if let Ok((_, log, _)) = frames
            && log > CHECKPOINT_FRAMES * 8
        {
            // A WAL that keeps growing means readers always hold old snapshots: wait for them.
            if let Err(e) = self.conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(())) {
                tracing::debug!(error = %e, "standby WAL restart checkpoint did not complete");
            }
        }
    }

    /// Copies every WAL frame into the database file and empties the WAL, waiting (bounded)
    /// for readers of older snapshots. Promotion needs this: the shipper then continues the
    /// TXID sequence with the database file alone as the shipped state.
    pub fn checkpoint_truncate(&self, within: Duration) -> Result<(), ReplicateError> {
        let deadline = std::time::Instant::now() + within;
        // Each attempt waits for readers at most this long; the loop bounds the whole.
        let _ = self.conn.busy_timeout(Duration::from_millis(200));
        let result = self.checkpoint_truncate_until(deadline, within);
        let _ = self.conn.busy_timeout(Duration::from_secs(10));
        result
    }

    fn checkpoint_truncate_until(&self, deadline: std::time::Instant, within: Duration) -> Result<(), ReplicateError> {
        loop {
            let r: Result<(i64, i64, i64), _> =
                self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)));
            match r {
                Ok((0, _, _)) => return Ok(()),
                Ok(_) | Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(busy) => {
                    return Err(ReplicateError::Busy(format!(
                        "could not empty the WAL within {within:?} (readers busy: {busy:?})"
                    )));
                }
                Err(e) => return Err(ReplicateError::Sqlite { context: "checkpoint (TRUNCATE)".into(), source: e }),
            }
        }
    }
}

/// Cuts the database back to `pages` pages when it is longer. Must be the last write of its
/// transaction: `sqlite_dbpage` truncates at commit time.
fn truncate_to(conn: &Connection, pages: u32, key: &str) -> Result<(), ReplicateError> {
    let failed = |what: &str, e| ReplicateError::Sqlite { context: format!("{what} ({key})"), source: e };
    let live: u32 = conn.query_row("PRAGMA page_count", [], |r| r.get(0)).map_err(|e| failed("read page_count", e))?;
    if pages < live {
        conn.execute("INSERT INTO sqlite_dbpage(pgno, data) VALUES (?1, NULL)", [pages + 1])
            .map_err(|e| failed("truncate the database", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAL database holding `rows` rows of `filler` (several pages each hundred rows).
    fn database(path: &Path, rows: i64, filler: &str) -> Connection {
        let c = Connection::open(path).unwrap();
        c.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);").unwrap();
        c.execute(
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?2) \
             INSERT INTO t (id, v) SELECT x, ?1 || x FROM n",
            params![filler.repeat(20), rows],
        )
        .unwrap();
        c
    }

    fn count(c: &Connection) -> i64 {
        c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn replacing_with_a_rebuilt_copy_switches_readers_in_one_step() {
        let dir = tempfile::tempdir().unwrap();
        let (live, copy) = (dir.path().join("live.db"), dir.path().join("copy.db"));
        let _writer = database(&live, 2_000, "old");
        // The rebuilt copy is smaller: the swap must also cut the live file's extra pages.
        drop(database(&copy, 50, "new"));
        let reader = Connection::open(&live).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        assert_eq!(count(&reader), 2_000);

        let mut applier = Applier::open(&live).unwrap();
        let pages = applier.replace_with(&copy).unwrap();
        let copy_pages: u32 =
            Connection::open(&copy).unwrap().query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
        assert_eq!(pages, copy_pages);
        // A read transaction begun before the swap keeps its snapshot whole; the next one sees
        // the copy whole, never a mix.
        assert_eq!(count(&reader), 2_000);
        reader.execute_batch("COMMIT").unwrap();
        assert_eq!(count(&reader), 50);
        let first: String = reader.query_row("SELECT v FROM t WHERE id = 1", [], |r| r.get(0)).unwrap();
        assert!(first.starts_with("new"), "{first}");
        assert_eq!(reader.query_row("PRAGMA page_count", [], |r| r.get::<_, u32>(0)).unwrap(), pages);
        let check: String = reader.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok");
    }

    #[test]
    fn a_copy_with_another_page_size_is_refused_and_nothing_changes() {
        let dir = tempfile::tempdir().unwrap();
        let (live, copy) = (dir.path().join("live.db"), dir.path().join("copy.db"));
        let writer = database(&live, 100, "old");
        let other = Connection::open(&copy).unwrap();
        other.execute_batch("PRAGMA page_size = 8192; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);").unwrap();
        drop(other);
        let err = Applier::open(&live).unwrap().replace_with(&copy).unwrap_err();
        assert!(err.to_string().contains("8192-byte pages"), "{err}");
        assert!(!err.needs_resync(), "a re-sync rebuilds the same page size: restoring afresh is the cure");
        assert_eq!(count(&writer), 100);
    }

    /// An LTX file (no checksums) holding every page of `db` as TXIDs `min..=max`.
    fn ltx_of(db: &Path, min: u64, max: u64) -> Vec<u8> {
        let c = Connection::open(db).unwrap();
        let page_size: u32 = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        let mut st = c.prepare("SELECT pgno, data FROM sqlite_dbpage ORDER BY pgno").unwrap();
        let pages: Vec<(u32, Vec<u8>)> =
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap();
        let header = Header {
            flags: ltx::HEADER_FLAG_NO_CHECKSUM,
            page_size,
            commit: pages.len() as u32,
            min_txid: min,
            max_txid: max,
            timestamp_ms: 1_795_727_139_541,
            ..Header::default()
        };
        let mut enc = ltx::Encoder::new(header, ltx::PageEncoding::Frame).unwrap();
        for (pgno, data) in &pages {
            enc.encode_page(*pgno, data).unwrap();
        }
        enc.finish().unwrap()
    }

    #[test]
    fn a_file_that_does_not_continue_the_copy_is_refused_and_nothing_changes() {
        let dir = tempfile::tempdir().unwrap();
        let (live, older) = (dir.path().join("live.db"), dir.path().join("older.db"));
        let reader = database(&live, 300, "new");
        drop(database(&older, 20, "old"));
        let mut applier = Applier::open(&live).unwrap();
        // TXIDs 1-3 again on a copy at 5: older page images under the readers. Refused.
        let stale = ltx_of(&older, 1, 3);
        let err = applier.apply("db/0009/stale.ltx", &stale, 5).unwrap_err();
        assert!(err.needs_resync() && err.to_string().contains("do not continue"), "{err}");
        // TXIDs 8-9 on a copy at 5: 6 and 7 would be skipped. Refused.
        let gap = ltx_of(&older, 8, 9);
        let err = applier.apply("db/0001/gap.ltx", &gap, 5).unwrap_err();
        assert!(err.to_string().contains("0000000000000008"), "{err}");
        assert_eq!(count(&reader), 300, "the copy is unchanged");
        // The snapshot continues a copy at 0 (the first apply): it replaces everything.
        let applied = applier.apply("db/0009/snapshot.ltx", &stale, 0).unwrap();
        assert_eq!(applied.header.max_txid, 3);
        assert_eq!(count(&reader), 20);
    }
}
