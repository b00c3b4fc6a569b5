//! Which acknowledged votes a node lost, for the shell mirror of the failover VM test
//! (vm-tests/mirror/failover.sh); the rule itself is tests/support/lost_votes.rs, which the failover
//! integration test uses too.
//!
//!   lost_votes ACKED_FILE PRESENT_FILE
//!
//! ACKED_FILE has a line `VOTER SONG [more fields]` for every acknowledged vote, PRESENT_FILE a line
//! `VOTER SONG` for every vote the node has. Prints `ACKNOWLEDGED LOST` (distinct votes) and names
//! each lost vote on stderr.

#[path = "../tests/support/lost_votes.rs"]
mod lost_votes;

use std::collections::BTreeSet;
use std::process::ExitCode;

fn votes(path: &str) -> std::io::Result<Vec<(String, String)>> {
    Ok(std::fs::read_to_string(path)?
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            Some((fields.next()?.to_owned(), fields.next()?.to_owned()))
        })
        .collect())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [acked, present] = args.as_slice() else {
        eprintln!("usage: lost_votes ACKED_FILE PRESENT_FILE");
        return ExitCode::from(2);
    };
    let (acked, present) = match (votes(acked), votes(present)) {
        (Ok(a), Ok(p)) => (a, p.into_iter().collect::<BTreeSet<_>>()),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("lost_votes: {e}");
            return ExitCode::from(2);
        }
    };
    let loss = lost_votes::lost_votes(&acked, |vote| present.contains(vote));
    println!("{} {}", loss.acknowledged, loss.lost.len());
    for (voter, song) in &loss.lost {
        eprintln!("lost: voter {voter}, song {song}");
    }
    ExitCode::SUCCESS
}
