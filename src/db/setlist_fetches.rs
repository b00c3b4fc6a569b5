//! Bookkeeping of scheduled setlist.fm lookups (table setlist_fetches).

use super::stored_words::stored_as_words;
use rusqlite::{Connection, OptionalExtension, params};

use super::DbError;

/// How a show's last setlist lookup went, stored as its snake_case name (the
/// `setlist_fetches.last_outcome` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LookupOutcome {
    /// The setlist was found and stored.
    Found,
    /// setlist.fm has no setlist for the show (yet).
    NotFound,
    /// The lookup failed, or the setlist it found could not be used or stored.
    Failed,
}

stored_as_words!(LookupOutcome, "setlist lookup outcome", {
    Found => "found",
    NotFound => "not_found",
    Failed => "failed",
});

#[derive(Debug, Clone, PartialEq)]
pub struct SetlistFetch {
    pub attempts: i64,
    pub last_attempt_at: i64,
    pub last_outcome: LookupOutcome,
}

/// Records one lookup of a show's setlist.
pub fn record(conn: &Connection, show_id: i64, outcome: LookupOutcome, now: i64) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO setlist_fetches (show_id, attempts, last_attempt_at, last_outcome) VALUES (?1, 1, ?2, ?3)
         ON CONFLICT(show_id) DO UPDATE SET attempts = attempts + 1, last_attempt_at = ?2, last_outcome = ?3",
    )?
    .execute(params![show_id, now, outcome])?;
    Ok(())
}

pub fn get(conn: &Connection, show_id: i64) -> Result<Option<SetlistFetch>, DbError> {
    Ok(conn
        .prepare_cached("SELECT attempts, last_attempt_at, last_outcome FROM setlist_fetches WHERE show_id = ?1")?
        .query_row([show_id], |r| {
            Ok(SetlistFetch { attempts: r.get(0)?, last_attempt_at: r.get(1)?, last_outcome: r.get(2)? })
        })
        .optional()?)
}
