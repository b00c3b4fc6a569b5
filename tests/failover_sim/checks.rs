//! The invariants, checked after every step and at the end of a run.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use mysetlist::replicate::{self, AckMode, MemoryClient, RestoreTarget};
use tokio::time::Instant;

use super::cluster::{self, Node};
use super::workload::{Acked, highest_acknowledged};

pub struct Checker {
    ack: AckMode,
    /// Per node incarnation: the acknowledged `n` its readers saw; they may never see less.
    floor: HashMap<(String, u32), i64>,
}

impl Checker {
    pub fn new(ack: AckMode) -> Checker {
        Checker { ack, floor: HashMap::new() }
    }

    /// Never two nodes accepting writes at one instant of the simulated clock; and (with
    /// `ack = "replicated"`) no node's readers going back past an acknowledged write they saw.
    pub async fn step(&mut self, nodes: &[Node], acked: &[Acked]) -> Result<(), String> {
        let accepting: Vec<&str> = nodes.iter().filter(|n| n.accepting()).map(|n| n.id.as_str()).collect();
        if accepting.len() > 1 {
            return Err(format!("two nodes accept writes at once: {accepting:?}"));
        }
        if self.ack != AckMode::Replicated {
            return Ok(());
        }
        for node in nodes {
            let Some(live) = node.live() else { continue };
            let seen = highest_acknowledged(&live.db, acked).await;
            if seen < 0 {
                continue; // the read itself failed (database closing): nothing was served
            }
            let floor = self.floor.entry((node.id.clone(), node.incarnation)).or_insert(0);
            if seen < *floor {
                return Err(format!(
                    "{} (start {}) went back in time: its readers saw acknowledged write {floor}, now {seen}",
                    node.id, node.incarnation
                ));
            }
            *floor = (*floor).max(seen);
        }
        Ok(())
    }
}

/// Restores the bucket (no faults) and compares it with what was acknowledged: the writes form
/// a prefix `1..=k`, and every acknowledged write is in it (`replicated`), or missing only as the
/// unshipped end of a leadership that ended before the run did (`local`).
pub async fn restored_matches_acknowledged(
    bucket: &MemoryClient,
    dir: &Path,
    ack: AckMode,
    acked: &[Acked],
    last_leadership_shipped: bool,
    started: Instant,
) -> Result<String, String> {
    let opts = cluster::options(bucket.node("restorer"), ack);
    let out = dir.join("restored.db");
    let report = replicate::restore(&opts, &out, RestoreTarget::Latest, true, |_| {}).await.map_err(|e| {
        let keys: Vec<String> = bucket.snapshot().into_keys().collect();
        format!("the bucket does not restore: {e}; it holds {keys:?}")
    })?;
    let conn = rusqlite::Connection::open(&out).map_err(|e| e.to_string())?;
    let restored: BTreeSet<i64> = match conn.prepare("SELECT n FROM sim_writes ORDER BY n") {
        Ok(mut s) => s
            .query_map([], |r| r.get(0))
            .map_err(|e| e.to_string())?
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?,
        Err(_) => BTreeSet::new(),
    };
    // Writes are sequential and each is acknowledged before the next is sent, so anything missing
    // below the highest restored write was acknowledged and then lost.
    let highest_restored = restored.last().copied().unwrap_or(0);
    let lost: Vec<&Acked> = acked.iter().filter(|a| !restored.contains(&a.n)).collect();
    match ack {
        AckMode::Replicated => {
            if let Some(gap) = (1..=highest_restored).find(|n| !restored.contains(n)) {
                return Err(format!(
                    "the restored writes are not a prefix: {gap} is missing, {} present",
                    restored.len()
                ));
            }
            if !lost.is_empty() {
                return Err(format!("acknowledged writes lost with ack = \"replicated\": {lost:?}"));
            }
        }
        // What a leader acknowledged but had not shipped when it stopped leading (killed, cut
        // off, or its lease lost on a failing bucket) may be lost: Litestream's bound, which is
        // `sync_interval` only while the bucket takes uploads. Shipping is in commit order, so
        // within one leadership (one node, one period of accepting writes) the lost writes are its
        // last ones, and the leader at the end, once it says everything is shipped, loses nothing.
        AckMode::Local => {
            let stints =
                acked.chunk_by(|a, b| a.node == b.node && a.leading_since == b.leading_since).collect::<Vec<_>>();
            for (i, stint) in stints.iter().enumerate() {
                let kept = |a: &Acked| restored.contains(&a.n);
                let last = i + 1 == stints.len() && last_leadership_shipped;
                let first_lost = stint.iter().position(|a| !kept(a));
                let hole = first_lost.and_then(|f| stint[f..].iter().find(|a| kept(a)).map(|k| (&stint[f], k)));
                let since = |at: Instant| at.saturating_duration_since(started).as_secs_f64();
                if let Some((lost_one, kept_later)) = hole {
                    return Err(format!(
                        "write {} (acknowledged by {} at {:.2}s) lost, but the later write {} of the same \
                         leadership is in the bucket: shipping skipped a commit",
                        lost_one.n,
                        lost_one.node,
                        since(lost_one.at),
                        kept_later.n
                    ));
                }
                if let (true, Some(f)) = (last, first_lost) {
                    return Err(format!(
                        "the last leader {} lost write {} (acknowledged at {:.2}s) although it said it shipped it",
                        stint[f].node,
                        stint[f].n,
                        since(stint[f].at)
                    ));
                }
            }
        }
    }
    Ok(format!(
        "{} acknowledged, {} restored at TXID {}, {} lost",
        acked.len(),
        restored.len(),
        report.txid.map_or_else(|| "none (v0.3 layout)".to_string(), |t| t.to_string()),
        lost.len()
    ))
}
