#!/usr/bin/env bash
# Runs the seeded failover simulation over many seeds (default 1..1001) and prints the ones that
# break an invariant, each with the command that replays it. No servers needed.
#   scripts/soak-failover-sim.sh [FIRST..END]
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-1..1001}"
MYSETLIST_SIM_SEEDS="$seeds" cargo test --test failover_sim -- --nocapture 2>&1 \
  | grep -E '^seed [0-9]+: |replay:|^test result' || true
