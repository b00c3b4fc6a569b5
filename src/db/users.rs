//! Users.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::DbError;

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: String,
    pub created_at: i64,
    pub banned_at: Option<i64>,
    pub deleted_at: Option<i64>,
}

const COLUMNS: &str = "id, email, display_name, password_hash, role, created_at, banned_at, deleted_at";

fn from_row(r: &Row) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        email: r.get(1)?,
        display_name: r.get(2)?,
        password_hash: r.get(3)?,
        role: r.get(4)?,
        created_at: r.get(5)?,
        banned_at: r.get(6)?,
        deleted_at: r.get(7)?,
    })
}

pub fn insert(
    conn: &Connection,
    email: &str,
    display_name: &str,
    hash: &str,
    role: &str,
    now: i64,
) -> Result<i64, DbError> {
    conn.prepare_cached(
        "INSERT INTO users (email, display_name, password_hash, role, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![email, display_name, hash, role, now])?;
    Ok(conn.last_insert_rowid())
}

pub fn by_id(conn: &Connection, id: i64) -> Result<Option<User>, DbError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

pub fn by_email(conn: &Connection, email: &str) -> Result<Option<User>, DbError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE email = ?1"))?
        .query_row([email], from_row)
        .optional()?)
}

pub fn list(conn: &Connection, limit: i64, offset: i64) -> Result<Vec<User>, DbError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM users WHERE deleted_at IS NULL ORDER BY id LIMIT ?1 OFFSET ?2"
    ))?;
    let rows = stmt.query_map([limit, offset], from_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn set_role(conn: &Connection, id: i64, role: &str) -> Result<bool, DbError> {
    Ok(conn.prepare_cached("UPDATE users SET role = ?2 WHERE id = ?1")?.execute(params![id, role])? == 1)
}

pub fn set_banned(conn: &Connection, id: i64, banned_at: Option<i64>) -> Result<bool, DbError> {
    Ok(conn.prepare_cached("UPDATE users SET banned_at = ?2 WHERE id = ?1")?.execute(params![id, banned_at])? == 1)
}

pub fn set_password(conn: &Connection, id: i64, hash: &str) -> Result<bool, DbError> {
    Ok(conn.prepare_cached("UPDATE users SET password_hash = ?2 WHERE id = ?1")?.execute(params![id, hash])? == 1)
}

/// A new display name and email (the email's unique index refuses one another account has).
pub fn set_profile(conn: &Connection, id: i64, email: &str, display_name: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached("UPDATE users SET email = ?2, display_name = ?3 WHERE id = ?1 AND deleted_at IS NULL")?
        .execute(params![id, email, display_name])?
        == 1)
}

/// Erasure: the row stays only as a tombstone so foreign keys hold; nothing personal remains.
pub fn erase(conn: &Connection, id: i64, now: i64) -> Result<bool, DbError> {
    let n = conn
        .prepare_cached(
            "UPDATE users SET email = 'deleted-' || id || '@invalid', display_name = 'Deleted user',
             password_hash = '', role = 'user', deleted_at = ?2 WHERE id = ?1",
        )?
        .execute(params![id, now])?;
    conn.prepare_cached("DELETE FROM follows WHERE user_id = ?1")?.execute([id])?;
    conn.prepare_cached("UPDATE reports SET reporter_id = NULL WHERE reporter_id = ?1")?.execute([id])?;
    // The songs stay on the shows' lists; who added them goes.
    conn.prepare_cached("UPDATE show_songs SET added_by = NULL WHERE added_by = ?1")?.execute([id])?;
    conn.prepare_cached("DELETE FROM password_resets WHERE user_id = ?1")?.execute([id])?;
    conn.prepare_cached("DELETE FROM calendar_feeds WHERE user_id = ?1")?.execute([id])?;
    conn.prepare_cached("DELETE FROM email_prefs WHERE user_id = ?1")?.execute([id])?;
    conn.prepare_cached("DELETE FROM emails_sent WHERE user_id = ?1")?.execute([id])?;
    Ok(n == 1)
}
