#!/usr/bin/env bash
# Replication benchmark: commit throughput without replication (baseline, same run), with
# local-ack and with replicated-ack shipping to a local s3s-fs, printed as ratios, plus the
# replicated-ack wait latency and restore speed. BENCH_COMMITS sets the commits per run.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --release --test replicate_bench -- --ignored --nocapture --test-threads=1
