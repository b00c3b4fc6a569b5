//! SQLite's POSIX locks belong to the process: closing *any* descriptor of the database file drops
//! every lock the process holds on it, SQLite's included, and another process then takes the
//! database for unused (deletes the live WAL, checkpoints under the writer). These tests check that
//! nothing the server does by itself (health probes, the technical status page) drops them, and that
//! a second process beside a busy server (a shell's sqlite3, a CLI import) loses no acknowledged vote.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use mysetlist::domain::Role;

use crate::helpers::*;
use crate::server_process::{self, ServerProcess};

/// POSIX record locks (`/proc/locks`) that process `pid` holds on `file`.
fn posix_locks_on(pid: u32, file: &Path) -> usize {
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(file).expect("stat the database").ino();
    let table = std::fs::read_to_string("/proc/locks").expect("read /proc/locks");
    table
        .lines()
        .filter(|l| !l.contains("->")) // waiters, not holders
        .filter(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let Some(at) = fields.iter().position(|f| f.matches(':').count() == 2 && !f.ends_with(':')) else {
                return false;
            };
            fields.get(1) == Some(&"POSIX")
                && fields[at - 1] == pid.to_string()
                && fields[at].rsplit(':').next().and_then(|i| i.parse::<u64>().ok()) == Some(inode)
        })
        .count()
}

#[tokio::test]
async fn health_probes_and_status_pages_keep_sqlite_locks() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in("admin@example.org", Role::Admin).await;
    let db = app.dir.path().join("mysetlist.db");
    let pid = std::process::id();
    assert!(admin.get(app.url("/")).send().await.unwrap().status().is_success());
    // In WAL mode every open connection keeps a SHARED lock on the database file after its first read.
    assert!(posix_locks_on(pid, &db) >= 1, "the serving process holds SQLite's lock on the database");
    for path in ["/readyz", "/livez", "/admin/status/technical", "/admin/status", "/readyz"] {
        let status = admin.get(app.url(path)).send().await.unwrap().status();
        assert!(status.is_success(), "{path}: {status}");
        assert!(posix_locks_on(pid, &db) >= 1, "{path} dropped the process's locks on the database file");
    }
    app.stop().await;
}

const CATALOG_HEADER: &str = "kind,name,city,country,timezone,latitude,longitude,slug,mbid,genres,artist,title,\
                              album,duration_s,is_live,is_remix,popularity,venue,starts_at,status\n";
const USERS: usize = 40;
const SONGS: usize = 48;

/// The sequence of the report: a server under votes, `/readyz`, a shell opening the database, a CLI
/// import beside it, then kill -9: nothing acknowledged lost, the WAL never deleted, integrity ok.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_process_beside_a_busy_server_loses_no_acknowledged_vote() {
    // Seed a show and signed-in fans in-process, then serve the same directory from the real binary.
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::days(7), SONGS).await;
    let mut tokens = Vec::new();
    for i in 0..USERS {
        let user = app.user(&format!("fan{i}@example.org"), Role::User).await;
        tokens.push(app.domain().create_session(&user).await.unwrap().token);
    }
    let on_show: Vec<i64> = {
        let db = app.db();
        let mut stmt = db.prepare("SELECT song_id FROM show_songs WHERE show_id = ?1").unwrap();
        stmt.query_map([show.show_id], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    };
    assert!(on_show.len() >= 3, "the seeded show has songs to vote on: {on_show:?}");
    let dir = app.stop_keeping_dir().await;
    let db = dir.path().join("mysetlist.db");
    let wal = dir.path().join("mysetlist.db-wal");

    let mut cmd = server_process::command(server_process::binary(), dir.path());
    cmd.arg("serve").env("MYSETLIST_RATE_LIMIT__VOTES_PER_MINUTE", "1000000");
    let server = ServerProcess::start(cmd);
    let plain = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    assert!(plain.get(server.url("/")).send().await.unwrap().status().is_success());
    assert!(posix_locks_on(server.pid(), &db) >= 1, "the server holds SQLite's lock on the database");
    assert_eq!(plain.get(server.url("/readyz")).send().await.unwrap().status(), 200);
    assert!(posix_locks_on(server.pid(), &db) >= 1, "/readyz dropped the server's locks");

    // What `sqlite3 mysetlist.db 'select count(*) from users'` does: open, read, close.
    {
        let shell = rusqlite::Connection::open(&db).unwrap();
        let users: i64 = shell.query_row("SELECT count(*) FROM users", [], |r| r.get(0)).unwrap();
        assert_eq!(users as usize, USERS);
    }
    assert!(wal.exists(), "closing a second process's connection deleted the live WAL");

    // Fans vote while a CLI import writes the same database.
    let voters: Vec<_> = tokens
        .iter()
        .map(|token| {
            let cookie = format!("{}={token}", mysetlist::http::session_cookie_name(false));
            let (client, base, songs, show_id) = (plain.clone(), server.url(""), on_show.clone(), show.show_id);
            tokio::spawn(async move {
                let mut acknowledged = 0;
                for song in songs {
                    let r = client
                        .post(format!("{base}/api/v1/shows/{show_id}/songs/{song}/vote"))
                        .header(reqwest::header::COOKIE, &cookie)
                        .send()
                        .await;
                    let r = r.expect("the server answers");
                    let status = r.status();
                    let body: serde_json::Value = r.json().await.unwrap_or_default();
                    assert!(status == 200 && body["voted"] == true, "vote refused: {status} {body}");
                    acknowledged += 1;
                }
                acknowledged
            })
        })
        .collect();
    let fixture = dir.path().join("catalog.csv");
    let mut csv = String::from(CATALOG_HEADER);
    csv.push_str("artist,Hollow Pines,,,,,,,,folk,,,,,,,,,,\n");
    for i in 0..200 {
        csv.push_str(&format!("song,,,,,,,,,,Hollow Pines,Track {i},,,,,,,,\n"));
    }
    std::fs::write(&fixture, csv).unwrap();
    let import = server_process::command(server_process::binary(), dir.path())
        .args(["import", "catalog", "--file"])
        .arg(&fixture)
        .stderr(Stdio::piped())
        .output()
        .expect("run the import");
    assert!(import.status.success(), "import beside the server: {}", String::from_utf8_lossy(&import.stderr));
    let mut acknowledged = 0;
    for v in voters {
        acknowledged += v.await.unwrap();
    }
    assert_eq!(acknowledged, USERS * on_show.len(), "every vote is acknowledged");
    assert!(wal.exists(), "the live WAL is still there");
    assert!(posix_locks_on(server.pid(), &db) >= 1, "the server still holds its lock");

    drop(server); // SIGKILL: no shutdown, no final checkpoint
    let conn = rusqlite::Connection::open(&db).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let votes: i64 = conn.query_row("SELECT count(*) FROM votes", [], |r| r.get(0)).unwrap();
    assert_eq!(votes as usize, acknowledged, "acknowledged votes survive kill -9");
    let imported: i64 = conn
        .query_row(
            "SELECT count(*) FROM songs JOIN artists a ON a.id = songs.artist_id WHERE a.name = 'Hollow Pines'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(imported, 200, "the import beside the server is in the database");
}

#[tokio::test]
async fn commands_that_replace_or_migrate_refuse_beside_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = server_process::command(server_process::binary(), dir.path());
    cmd.arg("serve");
    let server = ServerProcess::start(cmd);
    for args in [&["migrate"][..], &["serve"][..]] {
        let out = server_process::command(server_process::binary(), dir.path())
            .args(args)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} ran beside the server");
        assert!(
            stderr.contains(&format!("a mysetlist server (process {}) is running on this database", server.pid())),
            "{args:?}: {stderr}"
        );
    }
    let ready = reqwest::get(server.url("/readyz")).await.unwrap().status();
    assert_eq!(ready, 200, "the server kept serving");
    server.stop();
}
