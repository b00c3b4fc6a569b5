#!/usr/bin/env bash
# Benchmarks that need the app and the load generator on separate cores (a machine with 16 or more):
# the app pinned with taskset to APP_CORES, every load program to the remaining cores. Uses only the
# static release binaries (scripts/bench.sh builds them) and bash, so it runs on a bare machine.
#   bench/pinned.sh                 # all sections, results as `section key value` lines on stdout
# Settings: BIN_DIR (default target/x86_64-unknown-linux-gnu/release), OUT (a folder for logs),
# USERS (10000), SLOWLORIS (5000), SSE_CLIENTS (10000), APP_CORE_SETS ("0-1 0-7"), LOAD_CORES (8 to the last).
set -euo pipefail
BIN_DIR=${BIN_DIR:-target/x86_64-unknown-linux-gnu/release}
EX=$BIN_DIR/examples
OUT=${OUT:-$(mktemp -d)}
USERS=${USERS:-10000}
SLOWLORIS=${SLOWLORIS:-5000}
SSE_CLIENTS=${SSE_CLIENTS:-10000}
SLUG=bench-artist-bench-hall-2027
PORT=18080
ADDR=127.0.0.1:$PORT
ulimit -n "$(ulimit -Hn)"
CORES=$(nproc)
LOAD_CORES=${LOAD_CORES:-"8-$((CORES - 1))"}
APP_CORE_SETS=${APP_CORE_SETS:-"0-1 0-7"}
TMP=$(mktemp -d)
trap 'kill "${APP:-0}" 2>/dev/null || true; rm -rf "$TMP"' EXIT
log() { printf '==> %s\n' "$*" >&2; }
result() { printf '%s %s\n' "$1" "$2"; }

ready() { # plain bash HTTP: no curl needed
  local line
  { exec 3<>"/dev/tcp/127.0.0.1/$PORT"; } 2>/dev/null || return 1
  printf 'GET /readyz HTTP/1.0\r\n\r\n' >&3
  read -r line <&3 || true
  exec 3>&-
  [[ $line == *" 200 "* ]]
}
start_app() { # start_app CORES [VAR=value ...]
  local cores=$1
  shift
  env MYSETLIST_DATA_DIR="$TMP/data" MYSETLIST_LISTEN="$ADDR" MYSETLIST_LOG__LEVEL=warn \
    MYSETLIST_RATE_LIMIT__VOTES_PER_MINUTE=1000000000 MYSETLIST_HTTP__MAX_CONNECTIONS_PER_ADDRESS=0 \
    MYSETLIST_HTTP__MAX_LIVE_STREAMS_PER_ADDRESS=0 "$@" \
    taskset -c "$cores" "$BIN_DIR/mysetlist" serve 2>>"$OUT/app.log" >/dev/null &
  APP=$!
  for _ in $(seq 1 400); do ready && return 0; sleep 0.05; done
  log "the app did not become ready"
  exit 1
}
stop_app() { kill "$APP" 2>/dev/null || true; wait "$APP" 2>/dev/null || true; }
load() { # load NAME ARGS...: bench_load on the load cores, output kept
  local name=$1
  shift
  taskset -c "$LOAD_CORES" "$EX/bench_load" --addr "$ADDR" "$@" >"$OUT/$name.txt"
  sed "s/^/$name /" "$OUT/$name.txt"
}

log "machine: $CORES cores; seeding $USERS users"
mkdir -p "$TMP/data"
"$EX/bench_seed" --db "$TMP/data/mysetlist.db" --users "$USERS" --bulk-votes 0 \
  --cookies-out "$TMP/cookies.txt" --songs-out "$TMP/songs.txt" >"$OUT/seed.txt"

for cores in $APP_CORE_SETS; do
  log "app on cores $cores"
  start_app "$cores"
  load "page_signed_out_app$cores" --method GET --path "/shows/$SLUG" --rate 0 --duration 8 --warmup 2 --connections 128
  load "page_signed_in_app$cores" --method GET --path "/shows/$SLUG" --cookies "$TMP/cookies.txt" --rate 0 --duration 8 --warmup 2 --connections 128
  load "votes_closed_app$cores" --method POST --path "/api/v1/shows/1/songs/{song}/vote" --cookies "$TMP/cookies.txt" \
    --songs "$TMP/songs.txt" --rate 0 --duration 8 --warmup 2 --connections 128
  load "votes_5000_app$cores" --method POST --path "/api/v1/shows/1/songs/{song}/vote" --cookies "$TMP/cookies.txt" \
    --songs "$TMP/songs.txt" --rate 5000 --duration 8 --warmup 2 --connections 32
  stop_app
done

log "live updates: $SSE_CLIENTS watchers, app on 0-1"
start_app 0-1
taskset -c "$LOAD_CORES" "$EX/bench_sse" --addr "$ADDR" --clients "$SSE_CLIENTS" --rounds 20 --cookies "$TMP/cookies.txt" \
  --songs "$TMP/songs.txt" --server-pid "$APP" >"$OUT/sse.txt"
sed 's/^/sse_app0-1 /' "$OUT/sse.txt"
stop_app

log "slowloris: $SLOWLORIS half-sent requests from 25 addresses, app on 0-1 with the default per-address cap"
start_app 0-1 MYSETLIST_HTTP__MAX_CONNECTIONS_PER_ADDRESS=256
load page_calm --method GET --path "/shows/$SLUG" --cookies "$TMP/cookies.txt" --rate 500 --duration 8 --warmup 2 --connections 16
taskset -c "$LOAD_CORES" "$EX/bench_slowloris" --addr "$ADDR" --connections "$SLOWLORIS" --sources 25 --duration 18 \
  >"$OUT/slowloris.txt" &
LORIS=$!
sleep 5 # the attack reaches its size
load page_under_slowloris --method GET --path "/shows/$SLUG" --cookies "$TMP/cookies.txt" --rate 500 --duration 8 --warmup 2 --connections 16
wait "$LORIS"
sed 's/^/slowloris /' "$OUT/slowloris.txt"
result app_rss_kb "$(awk '/VmRSS/ {print $2}' "/proc/$APP/status")"
stop_app
log "done"
