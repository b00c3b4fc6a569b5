//! Aggregates for the admin views and readiness.

use rusqlite::Connection;

use super::DbError;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Totals {
    pub artists: i64,
    pub venues: i64,
    pub shows: i64,
    pub songs: i64,
    pub users: i64,
    pub votes: i64,
}

pub fn totals(conn: &Connection) -> Result<Totals, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT (SELECT count(*) FROM artists), (SELECT count(*) FROM venues), (SELECT count(*) FROM shows),
                (SELECT count(*) FROM songs), (SELECT count(*) FROM users WHERE deleted_at IS NULL),
                (SELECT coalesce(sum(votes + anon_votes), 0) FROM show_songs)",
        )?
        .query_row([], |r| {
            Ok(Totals {
                artists: r.get(0)?,
                venues: r.get(1)?,
                shows: r.get(2)?,
                songs: r.get(3)?,
                users: r.get(4)?,
                votes: r.get(5)?,
            })
        })?)
}

/// A cheap liveness probe of the write path: a write in a transaction that is rolled back.
pub fn probe_writable(conn: &Connection) -> Result<(), DbError> {
    conn.execute_batch("SAVEPOINT probe; INSERT OR REPLACE INTO app_settings(key, value) VALUES ('probe', x'00'); ROLLBACK TO probe; RELEASE probe;")?;
    Ok(())
}
