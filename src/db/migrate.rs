//! Embedded, append-only migrations, each applied in one transaction and recorded.
//!
//! Before migrating, the file must be ours: empty (new), or marked with [`APPLICATION_ID`], or a
//! database of ours from before the mark (it has the `schema_migrations` table; 0004 marks it).
//! Anything else is another program's SQLite file in the data directory and is refused untouched.

use rusqlite::{Connection, params};

use super::DbError;

/// (name, SQL) in order. Never edit a released entry: append a new one.
pub const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("../../migrations/0001_init.sql")),
    ("0002_setlist_fetches", include_str!("../../migrations/0002_setlist_fetches.sql")),
    ("0003_job_runs_last_success", include_str!("../../migrations/0003_job_runs_last_success.sql")),
    ("0004_application_id", include_str!("../../migrations/0004_application_id.sql")),
    ("0005_accuracy_needs_votes", include_str!("../../migrations/0005_accuracy_needs_votes.sql")),
    ("0006_password_resets", include_str!("../../migrations/0006_password_resets.sql")),
    ("0007_calendars_and_tickets", include_str!("../../migrations/0007_calendars_and_tickets.sql")),
    ("0008_email", include_str!("../../migrations/0008_email.sql")),
    ("0009_artist_media", include_str!("../../migrations/0009_artist_media.sql")),
    ("0010_server_secret", include_str!("../../migrations/0010_server_secret.sql")),
    ("0011_votes_device_index", include_str!("../../migrations/0011_votes_device_index.sql")),
    ("0012_votes_no_time_index", include_str!("../../migrations/0012_votes_no_time_index.sql")),
];

/// `PRAGMA application_id` of a MySetlist database: ASCII "MySL" (set by 0004_application_id.sql).
pub const APPLICATION_ID: i32 = 0x4D79_534C;

/// Refuses a non-empty database that is not ours (see the module comment).
pub fn check_application_id(conn: &Connection) -> Result<(), DbError> {
    let id: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    if id == APPLICATION_ID {
        return Ok(());
    }
    let objects: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
    let ours_before_the_mark: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'",
        [],
        |r| r.get(0),
    )?;
    if objects == 0 || (id == 0 && ours_before_the_mark) {
        return Ok(());
    }
    let path = conn.path().filter(|p| !p.is_empty()).unwrap_or(":memory:");
    Err(DbError::Open {
        path: path.into(),
        message: format!(
            "not a MySetlist database (application_id {id:#x}, expected {APPLICATION_ID:#x}, and no \
             schema_migrations table); refusing to touch it: move it out of the data directory"
        ),
    })
}

pub fn migrate(conn: &mut Connection) -> Result<(), DbError> {
    migrate_to(conn, MIGRATIONS)
}

fn migrate_to(conn: &mut Connection, migrations: &[(&str, &str)]) -> Result<(), DbError> {
    check_application_id(conn)?;
    let err = |name: &str, e: rusqlite::Error| DbError::Migration { name: name.into(), message: e.to_string() };
    let applied = recorded_migrations(conn, "refusing to start")?;
    for (name, sql) in migrations {
        if applied.iter().any(|a| a == name) {
            continue;
        }
        let tx = conn.transaction().map_err(|e| err(name, e))?;
        apply_one(&tx, name, sql)?;
        tx.commit().map_err(|e| err(name, e))?;
    }
    Ok(())
}

/// Applies the pending migrations inside the caller's transaction (all of them commit or none
/// does): a new leader's barrier commit, which runs in the writer's group commit.
pub fn migrate_within(conn: &Connection) -> Result<(), DbError> {
    check_application_id(conn)?;
    let applied = recorded_migrations(conn, "refusing to lead")?;
    for (name, sql) in MIGRATIONS.iter().filter(|(n, _)| !applied.iter().any(|a| a == n)) {
        apply_one(conn, name, sql)?;
    }
    Ok(())
}

/// The migrations recorded in the database (the record table created if missing); refuses a
/// database migrated by a newer binary.
fn recorded_migrations(conn: &Connection, refusal: &str) -> Result<Vec<String>, DbError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .map_err(|e| DbError::Migration { name: "schema_migrations".into(), message: e.to_string() })?;
    let applied = applied_migrations(conn)?;
    if let Some(unknown) = applied.iter().find(|a| !MIGRATIONS.iter().any(|(n, _)| n == *a)) {
        return Err(DbError::Migration {
            name: unknown.clone(),
            message: format!("the database was migrated by a newer version of mysetlist; {refusal}"),
        });
    }
    Ok(applied)
}

fn apply_one(conn: &Connection, name: &str, sql: &str) -> Result<(), DbError> {
    let err = |e: rusqlite::Error| DbError::Migration { name: name.into(), message: e.to_string() };
    conn.execute_batch(sql).map_err(err)?;
    conn.execute("INSERT INTO schema_migrations (name, applied_at) VALUES (?1, ?2)", params![name, super::now()])
        .map_err(err)?;
    tracing::info!(migration = name, "applied migration");
    Ok(())
}

pub fn applied_migrations(conn: &Connection) -> Result<Vec<String>, DbError> {
    let mut stmt = conn.prepare("SELECT name FROM schema_migrations ORDER BY name")?;
    let names = stmt.query_map([], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn application_id(c: &Connection) -> i32 {
        c.query_row("PRAGMA application_id", [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn migrating_within_a_transaction_commits_or_rolls_back_as_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Connection::open(dir.path().join("m.db")).unwrap();
        migrate_to(&mut c, &MIGRATIONS[..3]).unwrap();
        let tx = c.transaction().unwrap();
        migrate_within(&tx).unwrap();
        assert_eq!(applied_migrations(&tx).unwrap().len(), MIGRATIONS.len());
        drop(tx); // rolled back: the barrier commit failed
        assert_eq!(applied_migrations(&c).unwrap().len(), 3, "nothing of a failed barrier stays");
        let tx = c.transaction().unwrap();
        migrate_within(&tx).unwrap();
        tx.commit().unwrap();
        assert_eq!(applied_migrations(&c).unwrap().len(), MIGRATIONS.len());
        assert_eq!(application_id(&c), APPLICATION_ID);
    }

    #[test]
    fn a_new_database_is_marked_as_ours() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Connection::open(dir.path().join("new.db")).unwrap();
        migrate(&mut c).unwrap();
        assert_eq!(application_id(&c), APPLICATION_ID);
        migrate(&mut c).expect("migrating again is a no-op");
    }

    #[test]
    fn a_foreign_sqlite_file_is_refused_untouched_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mysetlist.db");
        let mut c = Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine');").unwrap();
        let err = migrate(&mut c).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()) && err.contains("not a MySetlist database"), "{err}");
        let tables: i64 = c.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0)).unwrap();
        assert_eq!(tables, 1, "nothing was created in it");
        assert_eq!(application_id(&c), 0);
        // Another program's mark is refused too, even with a table of that name.
        c.execute_batch("PRAGMA application_id = 42; CREATE TABLE schema_migrations (x);").unwrap();
        assert!(migrate(&mut c).is_err());
    }

    #[test]
    fn a_database_of_ours_from_before_the_mark_gets_it_on_migration() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Connection::open(dir.path().join("old.db")).unwrap();
        migrate_to(&mut c, &MIGRATIONS[..3]).unwrap();
        c.execute_batch("PRAGMA application_id = 0").unwrap();
        migrate(&mut c).unwrap();
        assert_eq!(application_id(&c), APPLICATION_ID);
        assert_eq!(applied_migrations(&c).unwrap().len(), MIGRATIONS.len());
    }

    fn server_secret(c: &Connection) -> Option<Vec<u8>> {
        crate::db::kv::get_setting(c, "server_secret").unwrap()
    }

    #[test]
    fn the_schema_comes_with_a_random_server_secret_that_later_migrations_keep() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Connection::open(dir.path().join("a.db")).unwrap();
        let mut b = Connection::open(dir.path().join("b.db")).unwrap();
        migrate(&mut a).unwrap();
        migrate(&mut b).unwrap();
        let secret = server_secret(&a).expect("a new database holds its secret before any other write");
        assert_eq!(secret.len(), 32);
        assert_ne!(Some(secret.clone()), server_secret(&b), "each database draws its own");
        // A database whose secret the application created before the schema did keeps it.
        let mut old = Connection::open(dir.path().join("old.db")).unwrap();
        migrate_to(&mut old, &MIGRATIONS[..9]).unwrap();
        crate::db::kv::set_setting(&old, "server_secret", &[7u8; 32]).unwrap();
        migrate(&mut old).unwrap();
        assert_eq!(server_secret(&old), Some(vec![7u8; 32]));
    }
}
