//! Artists.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::DbError;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Artist {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub mbid: Option<String>,
    pub image_url: Option<String>,
    pub genres: String,
    /// The uploaded picture and its thumbnail: names under `/media/` (see `db::media`).
    pub image: Option<String>,
    pub thumb: Option<String>,
    pub bio: String,
    /// External links, one "label url" per line (checked by the domain).
    pub links: String,
}

#[derive(Debug, Clone, Default)]
pub struct NewArtist {
    pub name: String,
    pub slug: String,
    pub mbid: Option<String>,
    pub image_url: Option<String>,
    pub genres: String,
    pub bio: String,
    pub links: String,
}

const COLUMNS: &str = "id, name, slug, mbid, image_url, genres, image, thumb, bio, links";

fn from_row(r: &Row) -> rusqlite::Result<Artist> {
    Ok(Artist {
        id: r.get(0)?,
        name: r.get(1)?,
        slug: r.get(2)?,
        mbid: r.get(3)?,
        image_url: r.get(4)?,
        genres: r.get(5)?,
        image: r.get(6)?,
        thumb: r.get(7)?,
        bio: r.get(8)?,
        links: r.get(9)?,
    })
}

pub fn insert(conn: &Connection, a: &NewArtist, now: i64) -> Result<i64, DbError> {
    conn.prepare_cached(
        "INSERT INTO artists (name, slug, mbid, image_url, genres, bio, links, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?7, ?8, ?6, ?6)",
    )?
    .execute(params![a.name, a.slug, a.mbid, a.image_url, a.genres, now, a.bio, a.links])?;
    Ok(conn.last_insert_rowid())
}

pub fn update(conn: &Connection, id: i64, a: &NewArtist, now: i64) -> Result<bool, DbError> {
    let n = conn
        .prepare_cached(
            "UPDATE artists SET name = ?2, slug = ?3, mbid = ?4, image_url = ?5, genres = ?6, updated_at = ?7,
             bio = ?8, links = ?9 WHERE id = ?1",
        )?
        .execute(params![id, a.name, a.slug, a.mbid, a.image_url, a.genres, now, a.bio, a.links])?;
    Ok(n == 1)
}

/// Sets (or, with None, removes) an artist's uploaded picture and thumbnail (media names).
pub fn set_picture(conn: &Connection, id: i64, picture: Option<(&str, &str)>, now: i64) -> Result<bool, DbError> {
    let (image, thumb) = picture.unzip();
    let n = conn
        .prepare_cached("UPDATE artists SET image = ?2, thumb = ?3, updated_at = ?4 WHERE id = ?1")?
        .execute(params![id, image, thumb, now])?;
    Ok(n == 1)
}

pub fn delete(conn: &Connection, id: i64) -> Result<bool, DbError> {
    Ok(conn.prepare_cached("DELETE FROM artists WHERE id = ?1")?.execute([id])? == 1)
}

pub fn by_id(conn: &Connection, id: i64) -> Result<Option<Artist>, DbError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM artists WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

pub fn by_slug(conn: &Connection, slug: &str) -> Result<Option<Artist>, DbError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM artists WHERE slug = ?1"))?
        .query_row([slug], from_row)
        .optional()?)
}

pub fn by_mbid(conn: &Connection, mbid: &str) -> Result<Option<Artist>, DbError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM artists WHERE mbid = ?1"))?
        .query_row([mbid], from_row)
        .optional()?)
}

pub fn by_name(conn: &Connection, name: &str) -> Result<Option<Artist>, DbError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM artists WHERE name = ?1 COLLATE NOCASE ORDER BY id LIMIT 1"))?
        .query_row([name], from_row)
        .optional()?)
}

/// Whether the catalog holds no artist yet.
pub fn none_yet(conn: &Connection) -> Result<bool, DbError> {
    Ok(conn.query_row("SELECT count(*) FROM artists", [], |r| r.get::<_, i64>(0))? == 0)
}

pub fn list(conn: &Connection, limit: i64, offset: i64) -> Result<Vec<Artist>, DbError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM artists ORDER BY name LIMIT ?1 OFFSET ?2"))?;
    let rows = stmt.query_map([limit, offset], from_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn slug_exists(conn: &Connection, slug: &str) -> Result<bool, DbError> {
    Ok(conn.prepare_cached("SELECT 1 FROM artists WHERE slug = ?1")?.exists([slug])?)
}

pub fn follow(conn: &Connection, user_id: i64, artist_id: i64, now: i64) -> Result<bool, DbError> {
    let n = conn
        .prepare_cached("INSERT OR IGNORE INTO follows (user_id, artist_id, created_at) VALUES (?1, ?2, ?3)")?
        .execute(params![user_id, artist_id, now])?;
    Ok(n == 1)
}

pub fn unfollow(conn: &Connection, user_id: i64, artist_id: i64) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached("DELETE FROM follows WHERE user_id = ?1 AND artist_id = ?2")?
        .execute([user_id, artist_id])?
        == 1)
}

pub fn is_followed(conn: &Connection, user_id: i64, artist_id: i64) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM follows WHERE user_id = ?1 AND artist_id = ?2")?
        .exists([user_id, artist_id])?)
}

pub fn followed_by(conn: &Connection, user_id: i64) -> Result<Vec<Artist>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.id, a.name, a.slug, a.mbid, a.image_url, a.genres, a.image, a.thumb, a.bio, a.links FROM follows f
         JOIN artists a ON a.id = f.artist_id WHERE f.user_id = ?1 ORDER BY a.name",
    )?;
    let rows = stmt.query_map([user_id], from_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
