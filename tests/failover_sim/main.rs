//! A seeded fault simulation of the failover protocol: the real lease, controller, shipper,
//! follower and database code, three nodes in one process, one in-memory bucket whose faults
//! are drawn from the seed (`replicate::storage::MemoryClient`), on tokio's paused clock.
//!
//! After every step (50 ms of simulated time) the invariants of [`checks`] are checked; at the
//! end the bucket is restored and compared with what was acknowledged. A failing seed panics
//! with the command that replays it:
//!
//! ```text
//! MYSETLIST_SIM_SEED=1234 cargo test --test failover_sim -- --nocapture
//! ```
//!
//! `MYSETLIST_SIM_SEEDS=1000..5000` runs a range (what `scripts/soak-failover-sim.sh` does);
//! `MYSETLIST_SIM_LOG=info` prints the nodes' logs.
//! Simulated time is deterministic where the code is async; the database writer and the shipper
//! are threads, so a replay repeats the same faults and events but not every interleaving.

mod checks;
mod cluster;
mod scenario;
mod workload;

use std::ops::Range;

/// Seeds the suite runs by default: enough to cover every event kind in both ack modes.
const DEFAULT_SEEDS: Range<u64> = 1..25;

fn seeds() -> Range<u64> {
    if let Ok(one) = std::env::var("MYSETLIST_SIM_SEED") {
        let seed: u64 = one.trim().parse().expect("MYSETLIST_SIM_SEED must be a number");
        return seed..seed + 1;
    }
    if let Ok(range) = std::env::var("MYSETLIST_SIM_SEEDS") {
        let (a, b) = range.split_once("..").expect("MYSETLIST_SIM_SEEDS must look like 1000..5000");
        return a.trim().parse().expect("range start")..b.trim().parse().expect("range end");
    }
    DEFAULT_SEEDS
}

/// Simulated time moves in steps of this size, and only here.
const TICK: std::time::Duration = std::time::Duration::from_millis(2);
/// Real time per tick: simulated time runs about 40 times faster than real time.
const TICK_REAL: std::time::Duration = std::time::Duration::from_micros(50);

/// Drives the paused clock. tokio's auto-advance (jumping to the next timer when the runtime is
/// idle) does not see timers of the shipper's and the writer's threads, which wait on the runtime
/// through `Handle::block_on`: a run would stall with the shipper asleep. A runtime that always
/// has this task to run never auto-advances; every tick fires whatever timers are due, whichever
/// thread set them. Each tick also lets a little real time pass, so the threads' work (a commit
/// takes about a millisecond) costs tens of simulated milliseconds, not seconds.
async fn tick() {
    loop {
        std::thread::sleep(TICK_REAL);
        tokio::time::advance(TICK).await;
        tokio::task::yield_now().await;
    }
}

#[test]
fn the_failover_protocol_keeps_its_invariants_under_seeded_faults() {
    // MYSETLIST_SIM_LOG=info (or any filter) prints the nodes' logs, for replaying a seed.
    if let Ok(filter) = std::env::var("MYSETLIST_SIM_LOG") {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    }
    let mut failures = Vec::new();
    for seed in seeds() {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().expect("a runtime");
        let outcome = runtime.block_on(async move {
            let ticker = tokio::spawn(tick());
            let outcome = scenario::run(seed).await;
            ticker.abort();
            outcome
        });
        runtime.shutdown_timeout(std::time::Duration::from_secs(5));
        match outcome {
            Ok(summary) => eprintln!("seed {seed}: ok — {summary}"),
            Err(violation) => {
                eprintln!(
                    "seed {seed}: FAILED — {violation}\n  replay: MYSETLIST_SIM_SEED={seed} cargo test --test failover_sim -- --nocapture"
                );
                failures.push(seed);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "invariants broken for seeds {failures:?}; replay one with MYSETLIST_SIM_SEED=<seed> cargo test --test failover_sim -- --nocapture"
    );
}
