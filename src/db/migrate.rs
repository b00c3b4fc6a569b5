//! Embedded, append-only migrations, each applied in one transaction and recorded.

use rusqlite::{Connection, params};

use super::DbError;

/// (name, SQL) in order. Never edit a released entry: append a new one.
pub const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("../../migrations/0001_init.sql")),
    ("0002_setlist_fetches", include_str!("../../migrations/0002_setlist_fetches.sql")),
    ("0003_job_runs_last_success", include_str!("../../migrations/0003_job_runs_last_success.sql")),
];

pub fn migrate(conn: &mut Connection) -> Result<(), DbError> {
    let err = |name: &str, e: rusqlite::Error| DbError::Migration { name: name.into(), message: e.to_string() };
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .map_err(|e| err("schema_migrations", e))?;
    let applied = applied_migrations(conn)?;
    if let Some(unknown) = applied.iter().find(|a| !MIGRATIONS.iter().any(|(n, _)| n == *a)) {
        return Err(DbError::Migration {
            name: unknown.clone(),
            message: "the database was migrated by a newer version of mysetlist; refusing to start".into(),
        });
    }
    for (name, sql) in MIGRATIONS {
        if applied.iter().any(|a| a == name) {
            continue;
        }
        let tx = conn.transaction().map_err(|e| err(name, e))?;
        tx.execute_batch(sql).map_err(|e| err(name, e))?;
        tx.execute("INSERT INTO schema_migrations (name, applied_at) VALUES (?1, ?2)", params![name, super::now()])
            .map_err(|e| err(name, e))?;
        tx.commit().map_err(|e| err(name, e))?;
        tracing::info!(migration = name, "applied migration");
    }
    Ok(())
}

pub fn applied_migrations(conn: &Connection) -> Result<Vec<String>, DbError> {
    let mut stmt = conn.prepare("SELECT name FROM schema_migrations ORDER BY name")?;
    let names = stmt.query_map([], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
    Ok(names)
}
