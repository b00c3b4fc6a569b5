//! Aggregates for the admin status page: voting activity over time, upcoming shows with their
//! recent activity, the most wanted songs. Counts come from `votes`, which holds standing votes
//! (a vote taken back is deleted), so "votes in the last hour" means votes cast then and still standing.

use rusqlite::{Connection, params};

use super::DbError;

/// The shows that can hold a vote cast since ?1. A vote is cast only while its show is open, before
/// its `starts_at` (`domain::votes`), so its show starts after ?1, or had its start moved since ?1
/// (every change of `starts_at` sets `updated_at`). Votes have no time index (migration 0012): the
/// windows below read these shows' votes through the primary key's `show_id` prefix.
macro_rules! shows_holding_votes_since {
    () => {
        "SELECT id FROM shows WHERE starts_at > ?1 OR updated_at >= ?1"
    };
}

const ACTIVITY_SINCE: &str = concat!(
    "SELECT count(*), count(DISTINCT voter) FROM votes WHERE show_id IN (",
    shows_holding_votes_since!(),
    ") AND created_at >= ?1"
);

const VOTES_PER_BUCKET: &str = concat!(
    "SELECT (created_at / ?2) * ?2 AS bucket, count(*) FROM votes WHERE show_id IN (",
    shows_holding_votes_since!(),
    ") AND created_at >= ?1 GROUP BY bucket ORDER BY bucket"
);

/// Standing votes cast since `since`, and the distinct voters among them.
pub fn activity_since(conn: &Connection, since: i64) -> Result<(i64, i64), DbError> {
    Ok(conn.prepare_cached(ACTIVITY_SINCE)?.query_row([since], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// Standing votes per time bucket since `since`: (bucket start, votes), oldest first, empty buckets
/// omitted.
pub fn votes_per_bucket(conn: &Connection, since: i64, bucket_secs: i64) -> Result<Vec<(i64, i64)>, DbError> {
    let mut stmt = conn.prepare_cached(VOTES_PER_BUCKET)?;
    let rows = stmt.query_map(params![since, bucket_secs], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ShowActivity {
    pub show_id: i64,
    pub slug: String,
    pub artist: String,
    pub venue: String,
    pub city: String,
    pub timezone: String,
    pub starts_at: i64,
    pub votes_total: i64,
    pub votes_recent: i64,
    pub voters_recent: i64,
}

const UPCOMING_ACTIVITY: &str = "SELECT s.id, s.slug, a.name, v.name, v.city, v.timezone, s.starts_at, s.vote_total,
        (SELECT count(*) FROM votes WHERE show_id = s.id AND created_at >= ?2),
        (SELECT count(DISTINCT voter) FROM votes WHERE show_id = s.id AND created_at >= ?2)
     FROM shows s JOIN artists a ON a.id = s.artist_id JOIN venues v ON v.id = s.venue_id
     WHERE s.starts_at > ?1 AND s.status = 'upcoming' ORDER BY s.starts_at LIMIT ?3";

/// The next `limit` shows still open for voting, with votes and distinct voters since `since`.
pub fn upcoming_activity(conn: &Connection, now: i64, since: i64, limit: i64) -> Result<Vec<ShowActivity>, DbError> {
    let mut stmt = conn.prepare_cached(UPCOMING_ACTIVITY)?;
    let rows = stmt.query_map(params![now, since, limit], |r| {
        Ok(ShowActivity {
            show_id: r.get(0)?,
            slug: r.get(1)?,
            artist: r.get(2)?,
            venue: r.get(3)?,
            city: r.get(4)?,
            timezone: r.get(5)?,
            starts_at: r.get(6)?,
            votes_total: r.get(7)?,
            votes_recent: r.get(8)?,
            voters_recent: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TopSong {
    pub title: String,
    pub artist: String,
    pub votes: i64,
    /// Upcoming shows whose list holds the song.
    pub shows: i64,
}

/// Songs with the most votes summed over all shows still open for voting.
pub fn top_songs(conn: &Connection, now: i64, limit: i64) -> Result<Vec<TopSong>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT so.title, a.name, sum(ss.votes + ss.anon_votes) AS total, count(*)
         FROM show_songs ss JOIN shows s ON s.id = ss.show_id JOIN songs so ON so.id = ss.song_id
         JOIN artists a ON a.id = so.artist_id
         WHERE s.starts_at > ?1 AND s.status = 'upcoming'
         GROUP BY ss.song_id HAVING total > 0 ORDER BY total DESC, so.title LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now, limit], |r| {
        Ok(TopSong { title: r.get(0)?, artist: r.get(1)?, votes: r.get(2)?, shows: r.get(3)? })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::plan_of;
    use crate::db::votes::{Vote, cast};

    const NOW: i64 = 1_000_000;
    const HOUR: i64 = 3_600;

    /// A show starting at `starts_at`, last changed at `updated_at`, with one song (id 1).
    fn show(c: &Connection, id: i64, starts_at: i64, updated_at: i64) {
        c.execute(
            "INSERT INTO shows (id, artist_id, venue_id, slug, starts_at, created_at, updated_at)
             VALUES (?1, 1, 1, 's' || ?1, ?2, 0, ?3)",
            params![id, starts_at, updated_at],
        )
        .unwrap();
        c.execute("INSERT INTO show_songs (show_id, song_id, added_at) VALUES (?1, 1, 0)", [id]).unwrap();
    }

    fn vote(c: &Connection, show_id: i64, voter: &str, at: i64) {
        let v = Vote { show_id, song_id: 1, voter, user_id: None, ip_hash: None, at };
        cast(c, &v).unwrap();
    }

    /// The windows count every standing vote cast in them, on shows still ahead, on shows that have
    /// started since, and on a show whose start was moved before the window after it got votes.
    #[test]
    fn time_windows_count_the_votes_cast_in_them_whatever_became_of_their_show() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::db::migrate(&mut c).unwrap();
        c.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        show(&c, 1, NOW + 10 * HOUR, 0); // ahead
        show(&c, 2, NOW - HOUR / 2, 0); // started half an hour ago
        show(&c, 3, NOW - 30 * HOUR, 0); // started long ago
        show(&c, 4, NOW - 30 * HOUR, NOW - HOUR / 4); // moved into the past a quarter of an hour ago
        vote(&c, 1, "a", NOW - 10); // in the hour
        vote(&c, 1, "b", NOW - 2 * HOUR); // in the day, not the hour
        vote(&c, 2, "a", NOW - HOUR + 60); // in the hour
        vote(&c, 3, "c", NOW - 31 * HOUR); // before both windows
        vote(&c, 4, "d", NOW - HOUR / 3); // in the hour, on the moved show

        assert_eq!(activity_since(&c, NOW - HOUR).unwrap(), (3, 2), "a, a, d in the last hour");
        assert_eq!(activity_since(&c, NOW - 24 * HOUR).unwrap(), (4, 3));
        assert_eq!(activity_since(&c, NOW - 48 * HOUR).unwrap(), (5, 4));
        let hour_start = (NOW - 3 * HOUR) / HOUR * HOUR;
        let per_hour = votes_per_bucket(&c, hour_start, HOUR).unwrap();
        assert_eq!(per_hour.iter().map(|(_, n)| n).sum::<i64>(), 4, "{per_hour:?}");
        assert_eq!(per_hour.last().unwrap(), &(NOW / HOUR * HOUR, 2), "a and d: {per_hour:?}");
    }

    /// Votes have no time index: each window reaches the votes of a show through the primary key's
    /// show prefix, never by reading every vote.
    #[test]
    fn time_windows_read_votes_by_show_never_all_of_them() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::db::migrate(&mut c).unwrap();
        for sql in [ACTIVITY_SINCE, VOTES_PER_BUCKET, UPCOMING_ACTIVITY] {
            let plan = plan_of(&c, sql);
            assert!(plan.contains("SEARCH votes USING PRIMARY KEY (show_id=?)"), "{sql}: {plan}");
            assert!(!plan.contains("SCAN votes"), "{sql}: {plan}");
        }
    }
}
