//! Song catalogs and the songs on a show's prediction list.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::DbError;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Song {
    pub id: i64,
    pub artist_id: i64,
    pub title: String,
    pub album: String,
    pub duration_s: Option<i64>,
    pub is_live: bool,
    pub is_remix: bool,
    pub popularity: i64,
}

#[derive(Debug, Clone, Default)]
pub struct NewSong {
    pub artist_id: i64,
    pub title: String,
    pub album: String,
    pub duration_s: Option<i64>,
    pub is_live: bool,
    pub is_remix: bool,
    pub popularity: i64,
}

const COLUMNS: &str = "id, artist_id, title, album, duration_s, is_live, is_remix, popularity";

fn from_row(r: &Row) -> rusqlite::Result<Song> {
    Ok(Song {
        id: r.get(0)?,
        artist_id: r.get(1)?,
        title: r.get(2)?,
        album: r.get(3)?,
        duration_s: r.get(4)?,
        is_live: r.get(5)?,
        is_remix: r.get(6)?,
        popularity: r.get(7)?,
    })
}

pub fn insert(conn: &Connection, s: &NewSong, now: i64) -> Result<i64, DbError> {
    conn.prepare_cached(
        "INSERT INTO songs (artist_id, title, album, duration_s, is_live, is_remix, popularity, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![s.artist_id, s.title, s.album, s.duration_s, s.is_live, s.is_remix, s.popularity, now])?;
    Ok(conn.last_insert_rowid())
}

pub fn update(conn: &Connection, id: i64, s: &NewSong) -> Result<bool, DbError> {
    let n = conn
        .prepare_cached(
            "UPDATE songs SET title = ?2, album = ?3, duration_s = ?4, is_live = ?5, is_remix = ?6, popularity = ?7
             WHERE id = ?1",
        )?
        .execute(params![id, s.title, s.album, s.duration_s, s.is_live, s.is_remix, s.popularity])?;
    Ok(n == 1)
}

pub fn delete(conn: &Connection, id: i64) -> Result<bool, DbError> {
    Ok(conn.prepare_cached("DELETE FROM songs WHERE id = ?1")?.execute([id])? == 1)
}

pub fn by_id(conn: &Connection, id: i64) -> Result<Option<Song>, DbError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM songs WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

pub fn by_title(conn: &Connection, artist_id: i64, title: &str) -> Result<Option<Song>, DbError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM songs WHERE artist_id = ?1 AND title = ?2 COLLATE NOCASE"))?
        .query_row(params![artist_id, title], from_row)
        .optional()?)
}

pub fn catalog(conn: &Connection, artist_id: i64) -> Result<Vec<Song>, DbError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM songs WHERE artist_id = ?1 ORDER BY popularity DESC, title COLLATE NOCASE"
    ))?;
    let rows = stmt.query_map([artist_id], from_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The most popular studio songs (no live or remix tracks): used to seed a new show's list.
pub fn popular_studio(conn: &Connection, artist_id: i64, limit: i64) -> Result<Vec<Song>, DbError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM songs WHERE artist_id = ?1 AND is_live = 0 AND is_remix = 0
         ORDER BY popularity DESC, id LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![artist_id, limit], from_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// One ranked entry of a show's prediction list.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct RankedSong {
    pub song_id: i64,
    pub title: String,
    pub album: String,
    pub votes: i64,
    pub anon_votes: i64,
}

/// The ranking: one indexed read of the counters kept in the vote transaction. None when the show
/// does not exist (the same statement tells, so the JSON ranking needs no second lookup).
pub fn ranking(conn: &Connection, show_id: i64) -> Result<Option<Vec<RankedSong>>, DbError> {
    // From the show outwards: no row at all means no show; a show without songs gives one row of NULLs.
    let mut stmt = conn.prepare_cached(
        "SELECT ss.song_id, s.title, s.album, ss.votes, ss.anon_votes FROM shows sh
         LEFT JOIN show_songs ss ON ss.show_id = sh.id LEFT JOIN songs s ON s.id = ss.song_id
         WHERE sh.id = ?1
         ORDER BY ss.votes + ss.anon_votes DESC, ss.votes DESC, ss.added_at, s.title",
    )?;
    let mut rows = stmt.query([show_id])?;
    let mut show_exists = false;
    let mut songs = Vec::new();
    while let Some(r) = rows.next()? {
        show_exists = true;
        let Some(song_id) = r.get::<_, Option<i64>>(0)? else { continue };
        songs.push(RankedSong { song_id, title: r.get(1)?, album: r.get(2)?, votes: r.get(3)?, anon_votes: r.get(4)? });
    }
    Ok(show_exists.then_some(songs))
}

/// The songs of a show's artist not yet on its list, by title (at most 500).
pub fn addable_to_show(conn: &Connection, show_id: i64) -> Result<Vec<Song>, DbError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM songs
         WHERE artist_id = (SELECT artist_id FROM shows WHERE id = ?1)
           AND id NOT IN (SELECT song_id FROM show_songs WHERE show_id = ?1)
         ORDER BY title COLLATE NOCASE LIMIT 500"
    ))?;
    let rows = stmt.query_map([show_id], from_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// How many songs a show's list holds.
pub fn count_on_show(conn: &Connection, show_id: i64) -> Result<i64, DbError> {
    Ok(conn.prepare_cached("SELECT count(*) FROM show_songs WHERE show_id = ?1")?.query_row([show_id], |r| r.get(0))?)
}

/// Adds a song to a show's list; false if it was already there.
pub fn add_to_show(
    conn: &Connection,
    show_id: i64,
    song_id: i64,
    added_by: Option<i64>,
    now: i64,
) -> Result<bool, DbError> {
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO show_songs (show_id, song_id, added_by, added_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![show_id, song_id, added_by, now])?;
    Ok(n == 1)
}

/// A song a user put on a show's list (their data: in the export, unlinked at erasure).
#[derive(Debug, Clone, serde::Serialize)]
pub struct AddedSong {
    pub show_id: i64,
    pub show: String,
    pub song_id: i64,
    pub song: String,
    pub added_at: i64,
}

pub fn added_by_user(conn: &Connection, user_id: i64) -> Result<Vec<AddedSong>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT ss.show_id, sh.slug, ss.song_id, so.title, ss.added_at FROM show_songs ss
         JOIN shows sh ON sh.id = ss.show_id JOIN songs so ON so.id = ss.song_id
         WHERE ss.added_by = ?1 ORDER BY ss.added_at, ss.show_id, ss.song_id",
    )?;
    let rows = stmt
        .query_map([user_id], |r| {
            Ok(AddedSong {
                show_id: r.get(0)?,
                show: r.get(1)?,
                song_id: r.get(2)?,
                song: r.get(3)?,
                added_at: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn remove_from_show(conn: &Connection, show_id: i64, song_id: i64) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached("DELETE FROM show_songs WHERE show_id = ?1 AND song_id = ?2")?
        .execute([show_id, song_id])?
        == 1)
}
