//! Votes and their counters. Counters change in the same transaction as the vote row.

use rusqlite::{Connection, OptionalExtension, params};

use super::DbError;

/// One voter's vote for a song on a show.
#[derive(Debug, Clone, Copy)]
pub struct Vote<'a> {
    pub show_id: i64,
    pub song_id: i64,
    /// `u<user id>` or a device key.
    pub voter: &'a str,
    /// Set for signed-in voters: their votes count in `votes`, others in `anon_votes`.
    pub user_id: Option<i64>,
    pub ip_hash: Option<&'a [u8]>,
    pub at: i64,
}

/// Moves the song's signed-in or anonymous counter by `delta`.
fn count(conn: &Connection, v: &Vote<'_>, delta: i64) -> Result<(), DbError> {
    let sql = if v.user_id.is_some() {
        "UPDATE show_songs SET votes = votes + ?3 WHERE show_id = ?1 AND song_id = ?2"
    } else {
        "UPDATE show_songs SET anon_votes = anon_votes + ?3 WHERE show_id = ?1 AND song_id = ?2"
    };
    conn.prepare_cached(sql)?.execute([v.show_id, v.song_id, delta])?;
    Ok(())
}

/// Records a vote the caller knows to be absent, and counts it on the show's song.
pub fn cast(conn: &Connection, v: &Vote<'_>) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO votes (show_id, song_id, voter, user_id, ip_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![v.show_id, v.song_id, v.voter, v.user_id, v.ip_hash, v.at])?;
    count(conn, v, 1)
}

/// Removes a vote the caller knows to exist, and uncounts it.
pub fn retract(conn: &Connection, v: &Vote<'_>) -> Result<(), DbError> {
    conn.prepare_cached("DELETE FROM votes WHERE show_id = ?1 AND song_id = ?2 AND voter = ?3")?
        .execute(params![v.show_id, v.song_id, v.voter])?;
    count(conn, v, -1)
}

/// Inserts the vote if absent, deletes it if present. Returns true when the vote now exists.
pub fn toggle(conn: &Connection, v: &Vote<'_>) -> Result<bool, DbError> {
    if exists(conn, v.show_id, v.song_id, v.voter)? {
        retract(conn, v)?;
        return Ok(false);
    }
    cast(conn, v)?;
    Ok(true)
}

/// A song's signed-in and anonymous vote counts on a show; None when the song is not on the show.
pub fn counts(conn: &Connection, show_id: i64, song_id: i64) -> Result<Option<(i64, i64)>, DbError> {
    Ok(conn
        .prepare_cached("SELECT votes, anon_votes FROM show_songs WHERE show_id = ?1 AND song_id = ?2")?
        .query_row([show_id, song_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

pub fn exists(conn: &Connection, show_id: i64, song_id: i64, voter: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM votes WHERE show_id = ?1 AND song_id = ?2 AND voter = ?3")?
        .exists(params![show_id, song_id, voter])?)
}

/// Whose votes to look up, the way each kind is indexed: a signed-in user's through `votes_user`,
/// a device's (`votes.voter`, with no user) through `votes_device_time`. Without statistics the
/// planner would rather take the primary key's `show_id` prefix (every vote of the show), so the
/// device queries hide `show_id` from it; they name no index, so a standby on a newer binary than
/// its leader (a schema before migration 0011) still runs them, through `votes_voter_time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VotesOf<'a> {
    User(i64),
    Device(&'a str),
}

const USER_VOTES_ON_SHOW: &str = "SELECT song_id FROM votes WHERE user_id = ?1 AND show_id = ?2";
// `show_id + 0` keeps the primary key's `show_id` prefix out of the planner's choice.
const DEVICE_VOTES_ON_SHOW: &str =
    "SELECT song_id FROM votes WHERE voter = ?1 AND user_id IS NULL AND show_id + 0 = ?2";
const DEVICE_COUNT_ON_SHOW: &str =
    "SELECT count(*) FROM votes WHERE voter = ?1 AND user_id IS NULL AND show_id + 0 = ?2";
const DEVICE_COUNT_SINCE: &str = "SELECT count(*) FROM votes WHERE voter = ?1 AND user_id IS NULL AND created_at >= ?2";

/// Song ids this voter has voted for on a show.
pub fn voted_songs(conn: &Connection, show_id: i64, voter: VotesOf<'_>) -> Result<Vec<i64>, DbError> {
    let (sql, who): (&str, &dyn rusqlite::ToSql) = match &voter {
        VotesOf::User(id) => (USER_VOTES_ON_SHOW, id),
        VotesOf::Device(key) => (DEVICE_VOTES_ON_SHOW, key),
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let ids = stmt.query_map(params![who, show_id], |r| r.get(0))?.collect::<Result<Vec<i64>, _>>()?;
    Ok(ids)
}

/// A device's votes on a show (the anonymous per-show limit).
pub fn count_by_device_on_show(conn: &Connection, show_id: i64, device: &str) -> Result<i64, DbError> {
    Ok(conn.prepare_cached(DEVICE_COUNT_ON_SHOW)?.query_row(params![device, show_id], |r| r.get(0))?)
}

/// A device's votes since `since` (the anonymous daily limit).
pub fn count_by_device_since(conn: &Connection, device: &str, since: i64) -> Result<i64, DbError> {
    Ok(conn.prepare_cached(DEVICE_COUNT_SINCE)?.query_row(params![device, since], |r| r.get(0))?)
}

pub fn count_anonymous_by_ip_on_show(conn: &Connection, show_id: i64, ip_hash: &[u8]) -> Result<i64, DbError> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM votes WHERE ip_hash = ?1 AND show_id = ?2 AND user_id IS NULL")?
        .query_row(params![ip_hash, show_id], |r| r.get(0))?)
}

pub fn count_anonymous_by_ip_since(conn: &Connection, ip_hash: &[u8], since: i64) -> Result<i64, DbError> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM votes WHERE ip_hash = ?1 AND created_at >= ?2 AND user_id IS NULL")?
        .query_row(params![ip_hash, since], |r| r.get(0))?)
}

/// Erasure: a deleted user's votes become anonymous counts (see README "Data protection"):
/// the vote rows go, the counters move from signed-in to anonymous.
pub fn anonymize_user(conn: &Connection, user_id: i64) -> Result<usize, DbError> {
    conn.prepare_cached(
        "UPDATE show_songs SET votes = votes - 1, anon_votes = anon_votes + 1
         WHERE (show_id, song_id) IN (SELECT show_id, song_id FROM votes WHERE user_id = ?1)",
    )?
    .execute([user_id])?;
    Ok(conn.prepare_cached("DELETE FROM votes WHERE user_id = ?1")?.execute([user_id])?)
}

/// Retention: forget the network hash of old votes.
///
/// `INDEXED BY` the partial index of votes that still have a hash: left to itself, the planner chose
/// `votes_time` (dropped since, migration 0012) and walked every old vote (10M votes: 3 s on the
/// writer at every start and every 6 h, with all writes waiting behind it). Through the partial
/// index the cost is the hashed votes only.
pub fn purge_ip_hashes(conn: &Connection, before: i64) -> Result<usize, DbError> {
    Ok(conn.prepare_cached(PURGE_IP_HASHES)?.execute([before])?)
}

const PURGE_IP_HASHES: &str =
    "UPDATE votes INDEXED BY votes_ip_time SET ip_hash = NULL WHERE ip_hash IS NOT NULL AND created_at < ?1";

#[derive(Debug, Clone, serde::Serialize)]
pub struct UserVote {
    pub show_id: i64,
    pub song_id: i64,
    pub created_at: i64,
}

pub fn count_by_user(conn: &Connection, user_id: i64) -> Result<i64, DbError> {
    Ok(conn.prepare_cached("SELECT count(*) FROM votes WHERE user_id = ?1")?.query_row([user_id], |r| r.get(0))?)
}

pub fn by_user(conn: &Connection, user_id: i64) -> Result<Vec<UserVote>, DbError> {
    let mut stmt =
        conn.prepare_cached("SELECT show_id, song_id, created_at FROM votes WHERE user_id = ?1 ORDER BY created_at")?;
    let rows = stmt
        .query_map([user_id], |r| Ok(UserVote { show_id: r.get(0)?, song_id: r.get(1)?, created_at: r.get(2)? }))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::plan_of;

    #[test]
    fn retention_purge_reads_only_votes_that_still_have_a_network_hash() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::db::migrate(&mut c).unwrap();
        let plan = plan_of(&c, PURGE_IP_HASHES);
        assert!(plan.contains("votes_ip_time"), "{plan}");
        assert_eq!(purge_ip_hashes(&c, i64::MAX).unwrap(), 0);
    }

    /// Each lookup by voter goes through the index of its kind of voter, never a scan of a show's
    /// votes (a popular show has hundreds of thousands), and a signed-in vote is in no device index.
    #[test]
    fn lookups_by_voter_use_the_index_of_their_kind_and_signed_in_votes_skip_the_device_index() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::db::migrate(&mut c).unwrap();
        for (sql, index) in [
            (USER_VOTES_ON_SHOW, "votes_user"),
            (DEVICE_VOTES_ON_SHOW, "votes_device_time"),
            (DEVICE_COUNT_ON_SHOW, "votes_device_time"),
            (DEVICE_COUNT_SINCE, "votes_device_time"),
        ] {
            let plan = plan_of(&c, sql);
            assert!(plan.contains(&format!("INDEX {index} (")), "{sql}: {plan}");
        }
        // A standby on a newer binary than its leader may run them on the schema before 0011.
        let old = Connection::open_in_memory().unwrap();
        for (_, sql) in &crate::db::MIGRATIONS[..10] {
            old.execute_batch(sql).unwrap();
        }
        for sql in [DEVICE_VOTES_ON_SHOW, DEVICE_COUNT_ON_SHOW, DEVICE_COUNT_SINCE] {
            let plan = plan_of(&old, sql);
            assert!(plan.contains("INDEX votes_voter_time ("), "{sql}: {plan}");
        }
        let device_index: String =
            c.query_row("SELECT sql FROM sqlite_schema WHERE name = 'votes_device_time'", [], |r| r.get(0)).unwrap();
        assert!(device_index.ends_with("WHERE user_id IS NULL"), "{device_index}");
        // The rows only: no user, show or song rows behind them.
        c.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        let signed_in = Vote { show_id: 1, song_id: 2, voter: "u7", user_id: Some(7), ip_hash: None, at: 5 };
        let device = Vote { show_id: 1, song_id: 2, voter: "dabc", user_id: None, ip_hash: Some(b"net"), at: 5 };
        c.execute_batch("INSERT INTO show_songs (show_id, song_id, added_at) VALUES (1, 2, 0)").unwrap();
        cast(&c, &signed_in).unwrap();
        cast(&c, &device).unwrap();
        assert_eq!(voted_songs(&c, 1, VotesOf::User(7)).unwrap(), vec![2]);
        assert_eq!(voted_songs(&c, 1, VotesOf::Device("dabc")).unwrap(), vec![2]);
        assert_eq!(voted_songs(&c, 1, VotesOf::Device("u7")).unwrap(), Vec::<i64>::new(), "a user is no device");
        assert_eq!(count_by_device_on_show(&c, 1, "dabc").unwrap(), 1);
        assert_eq!(count_by_device_since(&c, "dabc", 6).unwrap(), 0);
    }
}

/// One song a user voted for, with its show, for "my votes".
#[derive(Debug, Clone)]
pub struct Pick {
    pub show_id: i64,
    pub show_slug: String,
    pub artist: String,
    pub venue: String,
    pub starts_at: i64,
    pub timezone: String,
    pub song: String,
    /// Performed at the show (a non-tape entry of its actual setlist).
    pub played: bool,
    /// The show's actual setlist is in.
    pub has_setlist: bool,
}

/// A user's picks, newest show first (one indexed read through `votes_user`).
pub fn picks_by_user(conn: &Connection, user_id: i64) -> Result<Vec<Pick>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.id, s.slug, a.name, v.name, s.starts_at, v.timezone, so.title,
                EXISTS (SELECT 1 FROM setlist_entries e
                        WHERE e.show_id = vo.show_id AND e.song_id = vo.song_id AND e.is_tape = 0),
                EXISTS (SELECT 1 FROM setlist_entries e WHERE e.show_id = vo.show_id)
         FROM votes vo
         JOIN shows s ON s.id = vo.show_id
         JOIN artists a ON a.id = s.artist_id
         JOIN venues v ON v.id = s.venue_id
         JOIN songs so ON so.id = vo.song_id
         WHERE vo.user_id = ?1
         ORDER BY s.starts_at DESC, s.id, so.title COLLATE NOCASE",
    )?;
    let rows = stmt.query_map([user_id], |r| {
        Ok(Pick {
            show_id: r.get(0)?,
            show_slug: r.get(1)?,
            artist: r.get(2)?,
            venue: r.get(3)?,
            starts_at: r.get(4)?,
            timezone: r.get(5)?,
            song: r.get(6)?,
            played: r.get(7)?,
            has_setlist: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
