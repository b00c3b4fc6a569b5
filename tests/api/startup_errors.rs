//! Start-up failures: a bad data directory or a corrupt database stops `Application::build` with an
//! error that names the path, and nothing on disk is overwritten.
//!
//! Tests run as root, and root ignores permission bits, so "a directory we cannot write" is not made
//! with chmod 0555 (root would write there anyway). `/proc` is used instead: it exists, is a directory,
//! and refuses new files for every user, root included.

use mysetlist::app::Application;

use crate::helpers::test_config;

async fn build_error(dir: &std::path::Path) -> String {
    let _ = rustls::crypto::ring::default_provider().install_default();
    match Application::build(test_config(dir, &[]), false).await {
        Ok(_) => panic!("the app started with data_dir = {}", dir.display()),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn a_data_dir_that_is_a_file_is_named_in_the_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-directory");
    std::fs::write(&file, b"some bytes").unwrap();
    let err = build_error(&file).await;
    assert!(err.contains(&file.display().to_string()), "{err}");
    assert!(err.contains("not a directory"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"some bytes", "the file is left alone");
}

#[tokio::test]
async fn a_data_dir_below_a_file_is_named_in_the_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let dir = file.join("data");
    let err = build_error(&dir).await;
    assert!(err.contains(&dir.display().to_string()), "{err}");
    assert!(err.contains("cannot create the data directory"), "{err}");
}

#[tokio::test]
async fn a_read_only_data_dir_is_named_in_the_error() {
    let dir = std::path::Path::new("/proc");
    let err = build_error(dir).await;
    assert!(err.contains("/proc"), "{err}");
    assert!(err.contains("not writable"), "{err}");
}

#[tokio::test]
async fn a_corrupt_database_is_named_and_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("mysetlist.db");
    let garbage: Vec<u8> = (0..64 * 1024).map(|_| rand::random::<u8>()).collect();
    std::fs::write(&db, &garbage).unwrap();
    let err = build_error(tmp.path()).await;
    assert!(err.contains(&db.display().to_string()), "{err}");
    assert!(err.contains("not a database") || err.contains("SQLite"), "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), garbage, "the corrupt file's bytes are unchanged");
    // The server's lock file (`<db>.lock`, empty of data) stays, as lock files do.
    let mut names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "mysetlist.db.lock")
        .collect();
    names.sort();
    assert_eq!(names, ["mysetlist.db"], "no WAL, journal or other file was left behind");
}

#[tokio::test]
async fn a_truncated_database_is_refused_too() {
    // A real database whose tail was cut off (a torn copy): the header is fine, the pages are not.
    let tmp = tempfile::tempdir().unwrap();
    {
        let app = crate::helpers::spawn_app().await;
        app.seed_show(chrono::Duration::days(1), 30).await;
        let src = app.dir.path().join("mysetlist.db");
        let copy = tmp.path().join("mysetlist.db");
        let conn = rusqlite::Connection::open(&src).unwrap();
        conn.execute("VACUUM INTO ?1", [copy.display().to_string()]).unwrap();
        app.stop().await;
    }
    let db = tmp.path().join("mysetlist.db");
    let full = std::fs::read(&db).unwrap();
    let torn = &full[..full.len() / 2];
    std::fs::write(&db, torn).unwrap();
    let err = build_error(tmp.path()).await;
    assert!(err.contains(&db.display().to_string()), "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), torn, "the damaged file's bytes are unchanged");
}

#[tokio::test]
async fn a_listen_address_in_use_names_the_setting() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let config = test_config(tmp.path(), &[("MYSETLIST_LISTEN", &addr)]);
    let err = match Application::build(config, false).await {
        Ok(_) => panic!("bound an address that is in use"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains(&addr) && err.contains("listen"), "{err}");
}

#[tokio::test]
async fn another_programs_sqlite_file_is_refused_by_name_and_left_unmigrated() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("mysetlist.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('kept');").unwrap();
    }
    let err = build_error(tmp.path()).await;
    assert!(err.contains(&db.display().to_string()), "{err}");
    assert!(err.contains("not a MySetlist database"), "{err}");
    let c = rusqlite::Connection::open(&db).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tables, ["notes"], "nothing of ours was created in it");
}
