#!/usr/bin/env bash
# Issue 20's table by cores: the app pinned to N cores (taskset), the load generator pinned to the
# others, for each N in BENCH_CORES: durable votes (closed loop), vote latency at a fixed rate, the
# cached show page and the ranking JSON (closed loop); raw rusqlite on one core is the baseline of
# the votes. Only this repository's own static programs run (no wrk, no nginx), so the script runs
# as is on a bare many-core machine with the static release build carried along.
#
#   BENCH_BIN_DIR      where `mysetlist` and the `bench_*` programs are (they may also be in its
#                      examples/); default target/x86_64-unknown-linux-gnu/release
#   BENCH_CORES        app core counts (default "2 4 8"); needs more cores than the largest
#   BENCH_DURATION     measured seconds per closed-loop run (default 10, after 2 s of warm-up)
#   BENCH_CONNECTIONS  closed-loop connections (default 128)
#   BENCH_USERS        users with sessions (default 10000)
#   BENCH_VOTE_RATE    fixed vote rate of the latency run (default 5000/s)
#   BENCH_OUT          also write the table (markdown) to this file
#
# Prints one markdown table; every row of one N comes from the same app process and database.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/fixture.sh
source scripts/lib/fixture.sh

BIN_DIR=${BENCH_BIN_DIR:-target/x86_64-unknown-linux-gnu/release}
CORES=${BENCH_CORES:-2 4 8}
DURATION=${BENCH_DURATION:-10}
CONNECTIONS=${BENCH_CONNECTIONS:-128}
USERS=${BENCH_USERS:-10000}
VOTE_RATE=${BENCH_VOTE_RATE:-5000}

log() { printf '==> %s\n' "$*" >&2; }
die() { echo "bench-cores: $*" >&2; exit 2; }
kv() { awk -v k="$1" '$1==k {print $2}' "$2"; }
program() { # program NAME: the path of a bench program or of the app
  local p
  for p in "$BIN_DIR/$1" "$BIN_DIR/examples/$1"; do [[ -x $p ]] && { echo "$p"; return; }; done
  die "no $1 in $BIN_DIR or $BIN_DIR/examples (build: cargo build --release --locked --target x86_64-unknown-linux-gnu --bin mysetlist --examples, with RUSTFLAGS='-C target-feature=+crt-static')"
}

for tool in taskset curl python3 nproc getconf; do command -v "$tool" >/dev/null || die "needs $tool"; done
BIN=$(program mysetlist) SEED=$(program bench_seed) LOAD=$(program bench_load) RAW=$(program bench_raw_insert)
TOTAL=$(nproc)
HZ=$(getconf CLK_TCK)
for n in $CORES; do
  ((n >= 1 && n < TOTAL)) || die "the app on $n cores leaves none of the $TOTAL for the load generator"
done

TMP=$(mktemp -d -t mysetlist-bench-cores.XXXXXX)
cleanup() {
  fixture_stop
  rm -rf "$TMP"
}
trap cleanup EXIT

# writer_ticks PID: CPU time of the app's writer thread so far (clock ticks, user + system).
writer_ticks() {
  local task
  for task in /proc/"$1"/task/*; do
    if [[ $(cat "$task/comm" 2>/dev/null) == db-writer ]]; then
      awk '{print $14 + $15}' "$task/stat" # the name has no space: the fields are where stat(5) says
      return
    fi
  done
  die "no db-writer thread in process $1"
}
writes_so_far() { curl -fsS "$FIXTURE_BASE/metrics" | awk '$1=="mysetlist_db_writes_total" {print $2}'; }

# closed_loop N OUT METHOD PATH [cookies]: the load generator on the cores the app does not have.
closed_loop() {
  local n=$1 out=$2 method=$3 path=$4 cookies=${5:-}
  taskset -c "$n-$((TOTAL - 1))" "$LOAD" --addr "${FIXTURE_BASE#http://}" --method "$method" --path "$path" \
    --songs "$TMP/songs.txt" ${cookies:+--cookies "$cookies"} --rate 0 --connections "$CONNECTIONS" \
    --duration "$DURATION" --warmup 2 >"$out"
  [[ $(kv failed "$out") == 0 ]] || die "$method $path on $n cores: failed requests: $(cat "$out")"
}

log "raw rusqlite on one core (the votes' baseline)"
"$SEED" --db "$TMP/raw.db" --users "$USERS" --bulk-votes 0 >/dev/null 2>&1
taskset -c 0 "$RAW" --db "$TMP/raw.db" --rows 200000 --batch 1000 >"$TMP/raw.txt"
raw_row=$(kv raw_per_row_commit_per_s "$TMP/raw.txt") raw_batch=$(kv raw_batched_per_s "$TMP/raw.txt")

ROWS=()
for n in $CORES; do
  log "the app on cores 0-$((n - 1)), the load generator on $n-$((TOTAL - 1))"
  rm -rf "$TMP/data" && mkdir -p "$TMP/data"
  "$SEED" --db "$TMP/data/mysetlist.db" --users "$USERS" --cookies-out "$TMP/cookies.txt" \
    --songs-out "$TMP/songs.txt" >/dev/null 2>&1
  # shellcheck disable=SC2034 # read by fixture_start
  FIXTURE_ENV=(MYSETLIST_RATE_LIMIT__VOTES_PER_MINUTE=1000000000 MYSETLIST_HTTP__MAX_CONNECTIONS_PER_ADDRESS=0)
  printf '#!/bin/sh\nexec taskset -c 0-%s %s "$@"\n' "$((n - 1))" "$BIN" >"$TMP/app-on-$n"
  chmod +x "$TMP/app-on-$n"
  FIXTURE_LOG=$TMP/app-$n.log FIXTURE_READY_PATH=/readyz FIXTURE_READY_TIMEOUT=30 \
    fixture_start "$TMP/app-on-$n" "$TMP/data"
  page=/shows/bench-artist-bench-hall-2027
  closed_loop "$n" "$TMP/page-$n.txt" GET "$page"
  closed_loop "$n" "$TMP/ranking-$n.txt" GET /api/v1/shows/1/ranking
  # The writer thread's own CPU time over the votes run: per vote, and as a share of one core
  # (near 1.00 the writer is the limit; well below, something else is).
  ticks0=$(writer_ticks "$FIXTURE_PID") writes0=$(writes_so_far) started=$(date +%s.%N)
  closed_loop "$n" "$TMP/votes-$n.txt" POST "/api/v1/shows/1/songs/{song}/vote" "$TMP/cookies.txt"
  ticks1=$(writer_ticks "$FIXTURE_PID") writes1=$(writes_so_far) ended=$(date +%s.%N)
  writer=$(python3 -c "t=($ticks1-$ticks0)/$HZ; print(f'{t*1e6/max($writes1-$writes0,1):.1f} us, {t/($ended-$started):.2f} of a core')")
  taskset -c "$n-$((TOTAL - 1))" "$LOAD" --addr "${FIXTURE_BASE#http://}" --method POST \
    --path "/api/v1/shows/1/songs/{song}/vote" --cookies "$TMP/cookies.txt" --songs "$TMP/songs.txt" \
    --rate "$VOTE_RATE" --duration 10 --warmup 2 --connections 32 >"$TMP/latency-$n.txt"
  metrics=$(curl -fsS "$FIXTURE_BASE/metrics")
  writes=$(awk '$1=="mysetlist_db_writes_total" {print $2}' <<<"$metrics")
  commits=$(awk '$1=="mysetlist_db_commits_total" {print $2}' <<<"$metrics")
  fixture_stop
  votes=$(kv throughput_per_s "$TMP/votes-$n.txt")
  ROWS+=("| $n | $(kv throughput_per_s "$TMP/page-$n.txt") | $(kv throughput_per_s "$TMP/ranking-$n.txt") | $votes | $(python3 -c "print(f'{$votes/$raw_batch:.2f}x')") | $(kv latency_p99_ms "$TMP/latency-$n.txt") ms | $(python3 -c "print(f'{$writes/max($commits,1):.1f}')") | $writer |")
done

{
  echo "Machine: $TOTAL cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "Raw rusqlite on one core, same rows: $raw_row/s one commit per row, $raw_batch/s in batches of 1,000."
  echo "Closed loop: $CONNECTIONS connections, $DURATION s after 2 s of warm-up; latency: $VOTE_RATE votes/s open loop, 10 s."
  echo
  echo "| app cores | cached show page req/s | ranking JSON req/s | durable votes/s | votes / raw batched | vote p99 at $VOTE_RATE/s | votes per commit | writer thread CPU per vote, busy |"
  echo "|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
} | tee "${BENCH_OUT:-/dev/null}"
