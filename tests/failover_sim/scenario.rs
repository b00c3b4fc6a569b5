//! One seeded run: three nodes, a faulty phase with node events drawn from the seed, then a calm
//! phase in which the cluster must make progress again, then the final comparison.

use std::sync::Arc;
use std::time::Duration;

use mysetlist::config::Role;
use mysetlist::replicate::{AckMode, FaultPlan, MemoryClient};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use super::checks::{self, Checker};
use super::cluster::{Node, NodeState};
use super::workload::{Reachable, Workload};

const STEP: Duration = Duration::from_millis(50);
const FAULTY_PHASE: Duration = Duration::from_secs(30);
const CALM_PHASE_LIMIT: Duration = Duration::from_secs(60);
const RESTART_AFTER_FAILED_START: Duration = Duration::from_secs(1);
/// How long the final leader may take to ship its last commits on a calm bucket.
const SHIP_LIMIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
enum Later {
    Start(usize),
    Heal(usize),
}

struct Run {
    nodes: Vec<Node>,
    bucket: MemoryClient,
    reachable: Reachable,
    later: Vec<(Instant, Later)>,
    events: Vec<String>,
    started: Instant,
}

impl Run {
    fn leader(&self) -> Option<usize> {
        self.nodes.iter().position(|n| n.accepting())
    }

    fn note(&mut self, what: String) {
        let at = self.started.elapsed().as_secs_f64();
        self.events.push(format!("{at:7.2}s {what}"));
    }

    /// Starts finished, failed starts restarted, pending restarts and heals done.
    async fn tend(&mut self) {
        let now = Instant::now();
        for i in 0..self.nodes.len() {
            if let Some(failed) = self.nodes[i].poll_start().await {
                self.note(failed);
                self.later.push((now + RESTART_AFTER_FAILED_START, Later::Start(i)));
            }
        }
        let (due, rest): (Vec<_>, Vec<_>) = self.later.drain(..).partition(|(at, _)| *at <= now);
        self.later = rest;
        for (_, what) in due {
            match what {
                Later::Start(i) if matches!(self.nodes[i].state, NodeState::Down) => {
                    self.note(format!("start {}", self.nodes[i].id));
                    self.nodes[i].start();
                }
                Later::Start(_) => {}
                Later::Heal(i) => {
                    self.note(format!("heal {}", self.nodes[i].id));
                    self.bucket.partition(&self.nodes[i].id, false);
                }
            }
        }
        *self.reachable.lock() = self.nodes.iter().map(|n| (n.id.clone(), n.live().cloned())).collect();
    }

    /// One node event drawn from the seed.
    async fn strike(&mut self, rng: &mut StdRng) {
        let leader = self.leader();
        let follower = (0..self.nodes.len()).find(|i| Some(*i) != leader && self.nodes[*i].live().is_some());
        let secs = |rng: &mut StdRng, a: u64, b: u64| Duration::from_millis(rng.random_range(a * 1000..=b * 1000));
        let now = Instant::now();
        match (rng.random_range(0..5), leader, follower) {
            (0, Some(i), _) => {
                let down = secs(rng, 1, 6);
                self.note(format!("crash leader {} for {down:?}", self.nodes[i].id));
                self.nodes[i].crash().await;
                self.later.push((now + down, Later::Start(i)));
            }
            (1, Some(i), _) => {
                let down = secs(rng, 1, 4);
                self.note(format!("stop leader {} for {down:?}", self.nodes[i].id));
                self.nodes[i].stop().await;
                self.later.push((Instant::now() + down, Later::Start(i)));
            }
            (2, Some(i), _) => {
                let cut = secs(rng, 1, 8);
                self.note(format!("cut leader {} off the bucket for {cut:?}", self.nodes[i].id));
                self.bucket.partition(&self.nodes[i].id, true);
                self.later.push((now + cut, Later::Heal(i)));
            }
            (3, _, Some(i)) => {
                let cut = secs(rng, 1, 5);
                self.note(format!("cut follower {} off the bucket for {cut:?}", self.nodes[i].id));
                self.bucket.partition(&self.nodes[i].id, true);
                self.later.push((now + cut, Later::Heal(i)));
            }
            (4, _, Some(i)) => {
                let down = secs(rng, 1, 4);
                self.note(format!("crash follower {} for {down:?}", self.nodes[i].id));
                self.nodes[i].crash().await;
                self.later.push((now + down, Later::Start(i)));
            }
            _ => self.note("no event (no node in that role)".into()),
        }
    }
}

/// Runs seed `seed`; `Ok(summary)` or `Err(the invariant broken, with the events before it)`.
pub async fn run(seed: u64) -> Result<String, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let ack = if seed.is_multiple_of(3) { AckMode::Local } else { AckMode::Replicated };
    let plan = FaultPlan::drawn_from(seed);
    let bucket = MemoryClient::new(plan.clone());
    let nodes = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let role = if i == 0 { Role::Primary } else { Role::Standby };
            Node::new(id, role, dir.path().to_path_buf(), &bucket, ack)
        })
        .collect();
    let mut run = Run {
        nodes,
        bucket: bucket.clone(),
        reachable: Arc::new(Mutex::new(Vec::new())),
        later: Vec::new(),
        events: Vec::new(),
        started: Instant::now(),
    };
    run.note(format!("ack {ack:?}, {plan:?}"));
    for n in &mut run.nodes {
        n.start();
    }
    let result = drive(&mut run, seed, ack, dir.path()).await;
    for n in &mut run.nodes {
        n.crash().await;
    }
    result.map_err(|violation| format!("{violation}\n  events:\n    {}", run.events.join("\n    ")))
}

async fn drive(run: &mut Run, seed: u64, ack: AckMode, dir: &std::path::Path) -> Result<String, String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut checker = Checker::new(ack);
    let workload = Workload::start(run.reachable.clone());
    let acked_max = |w: &Workload| w.acked().last().map_or(0, |a| a.n);

    let faults_end = run.started + FAULTY_PHASE;
    let mut next_event = run.started + Duration::from_millis(rng.random_range(3000..6000));
    while Instant::now() < faults_end {
        run.tend().await;
        if Instant::now() >= next_event {
            run.strike(&mut rng).await;
            next_event = Instant::now() + Duration::from_millis(rng.random_range(1500..4000));
        }
        checker.step(&run.nodes, &workload.acked()).await?;
        tokio::time::sleep(STEP).await;
    }

    // Calm: a perfect bucket, every node reconnected and running. The cluster must recover.
    run.note("calm: no more faults".into());
    run.bucket.calm();
    for i in 0..run.nodes.len() {
        run.bucket.partition(&run.nodes[i].id, false);
        if matches!(run.nodes[i].state, NodeState::Down) {
            run.later.push((Instant::now(), Later::Start(i)));
        }
    }
    run.later.retain(|(_, l)| matches!(l, Later::Start(_)));
    let calm_since = Instant::now();
    let before = acked_max(&workload);
    loop {
        run.tend().await;
        checker.step(&run.nodes, &workload.acked()).await?;
        if acked_max(&workload) > before + 3 && calm_since.elapsed() > Duration::from_secs(2) {
            break;
        }
        if calm_since.elapsed() > CALM_PHASE_LIMIT {
            return Err(format!("no progress within {CALM_PHASE_LIMIT:?} after the faults ended"));
        }
        tokio::time::sleep(STEP).await;
    }
    let acked = workload.stop().await;
    // Wait (bounded) until the node that acknowledged the last write has shipped everything it
    // committed, before the bucket is read. If it stopped leading meanwhile (its replicator is
    // gone), its unshipped writes are lost, which `ack = "local"` allows.
    let last_acker =
        acked.last().and_then(|a| run.nodes.iter().find(|n| n.id == a.node)).and_then(|n| n.live().cloned());
    let mut last_leadership_shipped = false;
    if let Some(node) = last_acker
        && let (Ok(seq), Some(shipper)) = (node.db.flush().await, node.failover.replicator())
    {
        match shipper.wait_durable(seq, SHIP_LIMIT).await {
            Ok(()) => last_leadership_shipped = true,
            Err(e) => run.note(format!("the last leader did not ship its last commits: {e}")),
        }
    }
    checks::restored_matches_acknowledged(&run.bucket, dir, ack, &acked, last_leadership_shipped, run.started).await
}
