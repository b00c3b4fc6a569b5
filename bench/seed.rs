//! Builds a benchmark database with the application's own migrations: one upcoming "bench" show with
//! its song list, users with live sessions (their cookies are written to a file for the load
//! generators), and optionally millions of historical votes spread over thousands of other shows.
//!
//! The bulk load writes directly with rusqlite in large transactions (journal off, big cache) and
//! keeps every counter consistent with the vote rows (show_songs.votes, shows.vote_total), then
//! switches the file to WAL, as the application expects.
//!
//! cargo run --release --example bench_seed -- --db DIR/app.db --users 10000 --bulk-votes 1000000

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use base64::Engine;
use clap::Parser;
use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

#[derive(Parser)]
struct Args {
    /// Database file to create (must not exist yet)
    #[arg(long)]
    db: PathBuf,
    /// Users with a live session (each gets a cookie in --cookies-out)
    #[arg(long, default_value_t = 10_000)]
    users: i64,
    /// Songs on the bench show's list
    #[arg(long, default_value_t = 50)]
    songs: i64,
    /// Historical votes to add (spread over other shows, 10% on the bench show)
    #[arg(long, default_value_t = 0)]
    bulk_votes: i64,
    /// Also a second upcoming show of the bench artist (id 2, same song list): load on it leaves
    /// show 1's ranking alone (the follower section votes there while watchers time show 1)
    #[arg(long)]
    second_show: bool,
    /// One `session=TOKEN` per line
    #[arg(long)]
    cookies_out: Option<PathBuf>,
    /// One song id of the bench show per line
    #[arg(long)]
    songs_out: Option<PathBuf>,
}

/// Shows in the bulk history get this many songs, each with VOTERS_PER_SONG votes.
const SONGS_PER_BULK_SHOW: i64 = 50;
const VOTERS_PER_SONG: i64 = 20;
const BULK_ARTISTS: i64 = 200;
pub const BENCH_SHOW_SLUG: &str = "bench-artist-bench-hall-2027";

/// The cookie value of bench user `i`: deterministic, so runs are repeatable.
fn session_token(i: i64) -> String {
    let digest = Sha256::digest(format!("mysetlist-bench-session-{i}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(!args.db.exists(), "{} exists already; give a new path", args.db.display());
    anyhow::ensure!(args.users >= VOTERS_PER_SONG, "--users must be at least {VOTERS_PER_SONG}");
    anyhow::ensure!((1..=200).contains(&args.songs), "--songs must be 1..=200 (a show's list holds at most 200)");
    let started = Instant::now();
    let mut conn = Connection::open(&args.db)?;
    // Bulk-load settings; the file is switched to WAL at the end.
    conn.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -2000000;
         PRAGMA temp_store = MEMORY; PRAGMA foreign_keys = OFF;",
    )?;
    mysetlist::db::migrate(&mut conn)?;
    let now = chrono::Utc::now().timestamp();

    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO artists (id, name, slug, genres, created_at, updated_at) VALUES (1, 'Bench Artist', 'bench-artist', 'rock', ?1, ?1)",
        [now],
    )?;
    tx.execute(
        "INSERT INTO venues (id, name, slug, city, country, timezone, created_at, updated_at)
         VALUES (1, 'Bench Hall', 'bench-hall', 'Berlin', 'DE', 'Europe/Berlin', ?1, ?1)",
        [now],
    )?;
    tx.execute(
        "INSERT INTO shows (id, artist_id, venue_id, slug, title, starts_at, status, created_at, updated_at)
         VALUES (1, 1, 1, ?1, 'Bench Tour 2027', ?2, 'upcoming', ?3, ?3)",
        params![BENCH_SHOW_SLUG, now + 365 * 86_400, now],
    )?;
    // The bench show's list, plus a few catalog songs not on it (the "add a song" menu).
    let mut song_ids = Vec::new();
    for j in 0..args.songs + 20 {
        tx.execute(
            "INSERT INTO songs (artist_id, title, album, duration_s, popularity, created_at) VALUES (1, ?1, ?2, 215, ?3, ?4)",
            params![format!("Song Number {j:03} (Album Version)"), format!("Record {}", j / 12 + 1), 1000 - j, now],
        )?;
        let id = tx.last_insert_rowid();
        if j < args.songs {
            tx.execute("INSERT INTO show_songs (show_id, song_id, added_at) VALUES (1, ?1, ?2)", params![id, now])?;
            song_ids.push(id);
        }
    }
    if args.second_show {
        tx.execute(
            "INSERT INTO shows (id, artist_id, venue_id, slug, title, starts_at, status, created_at, updated_at)
             VALUES (2, 1, 1, ?1, 'Bench Tour 2027, second night', ?2, 'upcoming', ?3, ?3)",
            params![format!("{BENCH_SHOW_SLUG}-2"), now + 366 * 86_400, now],
        )?;
        tx.execute("INSERT INTO show_songs (show_id, song_id, added_at) SELECT 2, song_id, added_at FROM show_songs WHERE show_id = 1", [])?;
    }
    {
        let mut user = tx.prepare(
            "INSERT INTO users (id, email, display_name, password_hash, role, created_at) VALUES (?1, ?2, ?3, '!', 'user', ?4)",
        )?;
        let mut session = tx.prepare(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
        )?;
        for i in 1..=args.users {
            user.execute(params![i, format!("fan{i}@bench.test"), format!("Fan {i}"), now])?;
            let hash: [u8; 32] = Sha256::digest(session_token(i).as_bytes()).into();
            session.execute(params![&hash[..], i, format!("csrf-{i}"), now, now + 30 * 86_400])?;
        }
    }
    tx.commit()?;

    if args.bulk_votes > 0 {
        bulk_votes(&mut conn, &args, &song_ids, now)?;
    }
    // No ANALYZE: the application never runs it, so its databases have no statistics either.
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL;")?;
    let fk: i64 = conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0))?;
    anyhow::ensure!(fk == 0, "seeded data violates {fk} foreign keys");
    drop(conn);

    if let Some(path) = &args.cookies_out {
        let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
        for i in 1..=args.users {
            writeln!(f, "session={}", session_token(i))?;
        }
    }
    if let Some(path) = &args.songs_out {
        let list: Vec<String> = song_ids.iter().map(i64::to_string).collect();
        std::fs::write(path, list.join("\n") + "\n")?;
    }
    let size = std::fs::metadata(&args.db)?.len();
    eprintln!(
        "seeded {}: {} users with sessions, {} songs on show 1 ({}), {} bulk votes, {:.1} MB, {:.1}s",
        args.db.display(),
        args.users,
        args.songs,
        BENCH_SHOW_SLUG,
        args.bulk_votes,
        size as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// 10% of the votes (at most half of all user x song pairs) go to the bench show, the rest to past
/// and upcoming shows of other artists, VOTERS_PER_SONG per song. Rows go in primary-key order.
fn bulk_votes(conn: &mut Connection, args: &Args, bench_songs: &[i64], now: i64) -> anyhow::Result<()> {
    let started = Instant::now();
    let on_bench = (args.bulk_votes / 10).min(args.users * args.songs / 2);
    let per_show = SONGS_PER_BULK_SHOW * VOTERS_PER_SONG;
    let other_shows = (args.bulk_votes - on_bench + per_show - 1) / per_show;
    let mut remaining = args.bulk_votes - on_bench;
    let year = 365 * 86_400;

    let tx = conn.transaction()?;
    // Other artists, each with a catalog; their shows use the first SONGS_PER_BULK_SHOW songs.
    let mut catalog: Vec<Vec<i64>> = Vec::new();
    for a in 0..BULK_ARTISTS {
        let id = 1000 + a;
        tx.execute(
            "INSERT INTO artists (id, name, slug, genres, created_at, updated_at) VALUES (?1, ?2, ?3, 'pop', ?4, ?4)",
            params![id, format!("History Artist {a}"), format!("history-artist-{a}"), now],
        )?;
        let mut songs = Vec::new();
        for j in 0..SONGS_PER_BULK_SHOW {
            tx.execute(
                "INSERT INTO songs (artist_id, title, album, created_at) VALUES (?1, ?2, 'Greatest Hits', ?3)",
                params![id, format!("History Song {j}"), now],
            )?;
            songs.push(tx.last_insert_rowid());
        }
        catalog.push(songs);
    }
    tx.commit()?;

    // Votes on the bench show: users 1.. vote for every song, in key order (show, song, voter).
    let tx = conn.transaction()?;
    {
        let mut vote = tx.prepare_cached(
            "INSERT INTO votes (show_id, song_id, voter, user_id, created_at) VALUES (1, ?1, ?2, ?3, ?4)",
        )?;
        let voters = on_bench / args.songs.max(1);
        let mut placed = 0;
        for (j, song) in bench_songs.iter().enumerate() {
            let mut n = voters + i64::from((j as i64) < on_bench % args.songs);
            n = n.min(args.users);
            for u in 1..=n {
                vote.execute(params![song, format!("u{u}"), u, now - 86_400 + u])?;
            }
            tx.execute("UPDATE show_songs SET votes = ?1 WHERE show_id = 1 AND song_id = ?2", params![n, song])?;
            placed += n;
        }
        tx.execute("UPDATE shows SET vote_total = ?1 WHERE id = 1", [placed])?;
    }
    tx.commit()?;

    let mut tx = conn.transaction()?;
    for k in 0..other_shows {
        let show_id = 10_000 + k;
        let artist = (k % BULK_ARTISTS) as usize;
        // Half the history is in the past year, the rest over the coming months.
        let starts = now - year + (k * 2 * year) / other_shows.max(1);
        let status = if starts < now { "completed" } else { "upcoming" };
        let votes_here = remaining.min(per_show);
        remaining -= votes_here;
        tx.prepare_cached(
            "INSERT INTO shows (id, artist_id, venue_id, slug, title, starts_at, status, vote_total, created_at, updated_at)
             VALUES (?1, ?2, 1, ?3, '', ?4, ?5, ?6, ?7, ?7)",
        )?
        .execute(params![show_id, 1000 + artist as i64, format!("history-show-{k}"), starts, status, votes_here, now])?;
        for (j, song) in catalog[artist].iter().enumerate() {
            let j = j as i64;
            let n = (votes_here - j * VOTERS_PER_SONG).clamp(0, VOTERS_PER_SONG);
            tx.prepare_cached("INSERT INTO show_songs (show_id, song_id, added_at, votes) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![show_id, song, starts - year / 4, n])?;
            let mut vote = tx.prepare_cached(
                "INSERT INTO votes (show_id, song_id, voter, user_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for t in 0..n {
                // Distinct users per (show, song): VOTERS_PER_SONG consecutive ids modulo the user count.
                let user = 1 + (k * 1009 + j * VOTERS_PER_SONG + t) % args.users;
                vote.execute(params![show_id, song, format!("u{user}"), user, starts - year / 8 + j * 60 + t])?;
            }
        }
        if k % 1000 == 999 {
            tx.commit()?;
            tx = conn.transaction()?;
            eprint!("\r  bulk votes: {} shows of {other_shows}", k + 1);
        }
    }
    tx.commit()?;
    eprintln!(
        "\r  bulk votes: {on_bench} on the bench show, {} on {other_shows} other shows in {:.1}s",
        args.bulk_votes - on_bench,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
