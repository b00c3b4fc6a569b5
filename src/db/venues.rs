//! Venues.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::DbError;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Venue {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub city: String,
    pub country: String,
    pub timezone: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

#[derive(Debug, Clone, Default)]
pub struct NewVenue {
    pub name: String,
    pub slug: String,
    pub city: String,
    pub country: String,
    pub timezone: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

const COLUMNS: &str = "id, name, slug, city, country, timezone, latitude, longitude";

pub(crate) fn from_row(r: &Row) -> rusqlite::Result<Venue> {
    Ok(Venue {
        id: r.get(0)?,
        name: r.get(1)?,
        slug: r.get(2)?,
        city: r.get(3)?,
        country: r.get(4)?,
        timezone: r.get(5)?,
        latitude: r.get(6)?,
        longitude: r.get(7)?,
    })
}

pub fn insert(conn: &Connection, v: &NewVenue, now: i64) -> Result<i64, DbError> {
    conn.prepare_cached(
        "INSERT INTO venues (name, slug, city, country, timezone, latitude, longitude, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
    )?
    .execute(params![v.name, v.slug, v.city, v.country, v.timezone, v.latitude, v.longitude, now])?;
    Ok(conn.last_insert_rowid())
}

pub fn update(conn: &Connection, id: i64, v: &NewVenue, now: i64) -> Result<bool, DbError> {
    let n = conn
        .prepare_cached(
            "UPDATE venues SET name = ?2, slug = ?3, city = ?4, country = ?5, timezone = ?6, latitude = ?7,
             longitude = ?8, updated_at = ?9 WHERE id = ?1",
        )?
        .execute(params![id, v.name, v.slug, v.city, v.country, v.timezone, v.latitude, v.longitude, now])?;
    Ok(n == 1)
}

pub fn delete(conn: &Connection, id: i64) -> Result<bool, DbError> {
    Ok(conn.prepare_cached("DELETE FROM venues WHERE id = ?1")?.execute([id])? == 1)
}

pub fn by_id(conn: &Connection, id: i64) -> Result<Option<Venue>, DbError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM venues WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

pub fn by_slug(conn: &Connection, slug: &str) -> Result<Option<Venue>, DbError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM venues WHERE slug = ?1"))?
        .query_row([slug], from_row)
        .optional()?)
}

pub fn by_name_city(conn: &Connection, name: &str, city: &str) -> Result<Option<Venue>, DbError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM venues WHERE name = ?1 COLLATE NOCASE AND city = ?2 COLLATE NOCASE LIMIT 1"
        ))?
        .query_row([name, city], from_row)
        .optional()?)
}

pub fn list(conn: &Connection, limit: i64, offset: i64) -> Result<Vec<Venue>, DbError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM venues ORDER BY name LIMIT ?1 OFFSET ?2"))?;
    let rows = stmt.query_map([limit, offset], from_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn slug_exists(conn: &Connection, slug: &str) -> Result<bool, DbError> {
    Ok(conn.prepare_cached("SELECT 1 FROM venues WHERE slug = ?1")?.exists([slug])?)
}
