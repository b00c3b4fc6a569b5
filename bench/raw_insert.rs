//! The baseline for the vote benchmark: a single thread writing the same rows a vote writes (the
//! vote row, its song counter, the show's total and trend) straight through rusqlite, on a database
//! seeded like the application's, opened with the application's own pragmas (WAL,
//! synchronous=NORMAL). Two loops: one commit per vote, and one commit per --batch votes.
//!
//! cargo run --release --example bench_raw_insert -- --db seeded.db --rows 200000

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use mysetlist::config::Synchronous;
use mysetlist::db::{ConnectionOptions, open_connection};
use rusqlite::{Connection, params};

#[derive(Parser)]
struct Args {
    /// A database made by bench_seed (its users and bench show are used)
    #[arg(long)]
    db: PathBuf,
    /// Votes per loop
    #[arg(long, default_value_t = 200_000)]
    rows: i64,
    /// Votes per transaction in the batched loop
    #[arg(long, default_value_t = 1000)]
    batch: i64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let opts = ConnectionOptions {
        synchronous: Synchronous::Normal,
        busy_timeout: Duration::from_secs(5),
        external_checkpoints: false,
    };
    let conn = open_connection(&args.db, &opts, false)?;
    let songs: Vec<i64> = conn
        .prepare("SELECT song_id FROM show_songs WHERE show_id = 1")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let users: i64 = conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
    anyhow::ensure!(!songs.is_empty() && users > 0, "{} was not made by bench_seed", args.db.display());
    // Two disjoint sets of (user, song) pairs so neither loop hits a row the other wrote.
    let pairs = users * songs.len() as i64;
    anyhow::ensure!(2 * args.rows <= pairs, "--rows {} needs at least {} user x song pairs", args.rows, 2 * args.rows);
    conn.execute("DELETE FROM votes WHERE show_id = 1", [])?;

    let per_row = run(&conn, &songs, 0, args.rows, 1)?;
    let batched = run(&conn, &songs, args.rows, args.rows, args.batch)?;
    println!("raw_per_row_commit_per_s {:.0}", args.rows as f64 / per_row.as_secs_f64());
    println!("raw_batched_per_s {:.0}", args.rows as f64 / batched.as_secs_f64());
    println!("raw_batch_size {}", args.batch);
    Ok(())
}

/// Writes `rows` votes starting at pair index `first`, committing every `batch` votes.
fn run(conn: &Connection, songs: &[i64], first: i64, rows: i64, batch: i64) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let n = songs.len() as i64;
    let mut in_tx = 0;
    for i in first..first + rows {
        if in_tx == 0 {
            conn.execute_batch("BEGIN IMMEDIATE")?;
        }
        let user = 1 + i / n;
        let song = songs[(i % n) as usize];
        let now = chrono::Utc::now().timestamp();
        conn.prepare_cached(
            "INSERT INTO votes (show_id, song_id, voter, user_id, ip_hash, created_at) VALUES (1, ?1, ?2, ?3, NULL, ?4)",
        )?
        .execute(params![song, format!("u{user}"), user, now])?;
        conn.prepare_cached("UPDATE show_songs SET votes = votes + 1 WHERE show_id = 1 AND song_id = ?1")?
            .execute([song])?;
        conn.prepare_cached(
            "UPDATE shows SET trend_score = trend_score + 1, trend_at = ?1, vote_total = vote_total + 1 WHERE id = 1",
        )?
        .execute([now])?;
        in_tx += 1;
        if in_tx == batch {
            conn.execute_batch("COMMIT")?;
            in_tx = 0;
        }
    }
    if in_tx > 0 {
        conn.execute_batch("COMMIT")?;
    }
    Ok(started.elapsed())
}
