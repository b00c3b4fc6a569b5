# shellcheck shell=bash
# Section 9 of scripts/bench.sh: a follower serving pages, rankings and live watchers while its
# leader takes votes, both replicating through a local s3s-fs bucket. Sourced by bench.sh, whose
# helpers (start_app, wrk_rps, row, kv, ...) and variables it uses.
#
# Baselines from the same run: the leader's own page and ranking throughput with no votes, and the
# fan-out to watchers on the leader itself. The follower's figure for live watchers is the time from
# a vote's acknowledgement on the leader to every watcher on the follower having the new ranking:
# replication lag (the leader's `sync_interval`, the follower's polling and apply) plus fan-out.
# The background votes go to show 2 so that show 1's ranking changes only with the timed votes.

FOLLOWER_VOTE_RATE=${BENCH_FOLLOWER_VOTE_RATE:-1000}
FOLLOWER_WATCHERS=${BENCH_FOLLOWER_WATCHERS:-2000}
FOLLOWER_SYNC=${BENCH_FOLLOWER_SYNC_INTERVAL:-1s}

# s3s_fs_bin: the pinned s3s-fs, installed into cargo's bin directory when missing.
s3s_fs_bin() {
  local bin=${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs
  if ! cargo install --list | grep -q "^s3s-fs v$S3S_FS_VERSION:"; then
    log "installing s3s-fs $S3S_FS_VERSION"
    cargo install "s3s-fs@$S3S_FS_VERSION" --locked --quiet --features binary >&2
  fi
  echo "$bin"
}

# start_bucket DIR: a local s3s-fs serving DIR with a bucket named "bench"; sets BUCKET_ENV, the
# replication settings that point a server at it (prefix s3://bench/db).
start_bucket() {
  local s3s port deadline
  s3s=$(s3s_fs_bin)
  port=$(free_port)
  mkdir -p "$1/bench"
  "$s3s" --host 127.0.0.1 --port "$port" --access-key bench --secret-key bench-secret-key "$1" \
    >"$1.log" 2>&1 &
  PIDS+=("$!")
  deadline=$((SECONDS + 30))
  until curl -s -o /dev/null "http://127.0.0.1:$port/"; do
    ((SECONDS < deadline)) || { echo "s3s-fs did not start: $(cat "$1.log")" >&2; return 1; }
    sleep 0.1
  done
  BUCKET_ENV="MYSETLIST_REPLICATION__URL=s3://bench/db MYSETLIST_REPLICATION__ENDPOINT=http://127.0.0.1:$port
    MYSETLIST_REPLICATION__FORCE_PATH_STYLE=true MYSETLIST_REPLICATION__ACCESS_KEY_ID=bench
    MYSETLIST_REPLICATION__SECRET_ACCESS_KEY=bench-secret-key"
}

# background_votes OUTFILE SECONDS: signed-in votes on show 2 at FOLLOWER_VOTE_RATE; sets VOTES_PID.
background_votes() {
  "$EX/bench_load" --addr "$LEADER" --method POST --path "/api/v1/shows/2/songs/{song}/vote" \
    --cookies "$TMP/f-cookies.txt" --songs "$TMP/f-songs.txt" --rate "$FOLLOWER_VOTE_RATE" --duration "$2" \
    --warmup 1 --connections 16 >"$1" &
  VOTES_PID=$!
  PIDS+=("$VOTES_PID")
}

# wrk_runs URL [wrk args]: REPEATS wrk runs, their req/s on one line.
wrk_runs() {
  local runs=""
  for _ in $(seq 1 "$REPEATS"); do runs+=" $(wrk_rps "$@")"; done
  echo "$runs"
}

bench_follower() {
  log "follower: pages and live watchers on a follower while the leader takes $FOLLOWER_VOTE_RATE votes/s"
  stop_app # the small database's server: its CPU goes to the two nodes
  local deadline
  start_bucket "$TMP/s3"
  mkdir -p "$TMP/leader" "$TMP/follower"
  "$EX/bench_seed" --db "$TMP/leader/mysetlist.db" --users "$USERS" --second-show \
    --cookies-out "$TMP/f-cookies.txt" --songs-out "$TMP/f-songs.txt"
  local replication="$BUCKET_ENV MYSETLIST_REPLICATION__SYNC_INTERVAL=$FOLLOWER_SYNC"
  START_APP_ENV="$replication MYSETLIST_ROLE=primary MYSETLIST_FAILOVER__NODE_ID=leader" start_app "$TMP/leader"
  LEADER=$APP LEADER_PID=$APP_PID
  # A standby is never ready (only the leader is); it serves once its copy is restored.
  START_APP_READY=/livez START_APP_ENV="$replication MYSETLIST_ROLE=standby MYSETLIST_FAILOVER__NODE_ID=follower" \
    start_app "$TMP/follower"
  FOLLOWER=$APP FOLLOWER_PID=$APP_PID
  deadline=$((SECONDS + 60))
  until curl -fsS -o /dev/null "http://$FOLLOWER/api/v1/shows/1/ranking" 2>/dev/null; do
    ((SECONDS < deadline)) || { echo "the follower never served show 1; see $TMP/app.log" >&2; return 1; }
    sleep 0.2
  done

  local page="/shows/$SLUG" ranking="/api/v1/shows/1/ranking" what path leader_runs follower_idle_runs busy_runs
  local leader_idle follower_idle busy
  for what in page ranking; do
    if [[ $what == page ]]; then path=$page; else path=$ranking; fi
    curl -fsS -o /dev/null "http://$LEADER$path" && curl -fsS -o /dev/null "http://$FOLLOWER$path"
    leader_runs=$(wrk_runs "http://$LEADER$path")
    follower_idle_runs=$(wrk_runs "http://$FOLLOWER$path")
    background_votes "$TMP/f-votes-$what.txt" $((REPEATS * DURATION + 3))
    busy_runs=$(wrk_runs "http://$FOLLOWER$path")
    wait "$VOTES_PID"
    leader_idle=$(echo "$leader_runs" | median) follower_idle=$(echo "$follower_idle_runs" | median)
    busy=$(echo "$busy_runs" | median)
    [[ $(kv failed "$TMP/f-votes-$what.txt") == 0 ]] || { echo "failed votes: $(cat "$TMP/f-votes-$what.txt")" >&2; return 1; }
    row "9. Follower: $what req/s while the leader takes $(fmt "$(kv throughput_per_s "$TMP/f-votes-$what.txt")") votes/s" \
      "$(fmt "$busy")" "leader, no votes $(fmt "$leader_idle")" "$(ratio "$busy" "$leader_idle")" "-" "-" \
      "follower $(echo "$busy_runs" | spread); follower without votes $(fmt "$follower_idle") ($(echo "$follower_idle_runs" | spread)); leader $(echo "$leader_runs" | spread)"
  done

  # Live watchers: the same timed votes and watcher count on the leader (baseline), then on the
  # follower, each while the background votes run.
  for what in leader follower; do
    background_votes "$TMP/f-votes-sse-$what.txt" 300
    "$EX/bench_sse" --addr "$([[ $what == leader ]] && echo "$LEADER" || echo "$FOLLOWER")" --vote-addr "$LEADER" \
      --clients "$FOLLOWER_WATCHERS" --rounds 20 --cookies "$TMP/f-cookies.txt" --songs "$TMP/f-songs.txt" \
      >"$TMP/f-sse-$what.txt"
    kill "$VOTES_PID" 2>/dev/null || true
    wait "$VOTES_PID" 2>/dev/null || true
  done
  local on_leader on_follower
  on_leader=$(kv fanout_p99_ms "$TMP/f-sse-leader.txt") on_follower=$(kv fanout_p99_ms "$TMP/f-sse-follower.txt")
  row "9. Vote ack on the leader -> all $FOLLOWER_WATCHERS watchers on the follower have it, p99" "$on_follower ms" \
    "watchers on the leader $on_leader ms" "$(ratio "$on_follower" "$on_leader")" "-" "-" \
    "p50 $(kv fanout_p50_ms "$TMP/f-sse-follower.txt") vs $(kv fanout_p50_ms "$TMP/f-sse-leader.txt") ms, max $(kv fanout_max_ms "$TMP/f-sse-follower.txt") ms; sync_interval $FOLLOWER_SYNC; $FOLLOWER_VOTE_RATE votes/s on show 2 meanwhile"
  kill "$FOLLOWER_PID" "$LEADER_PID" 2>/dev/null || true
  wait "$FOLLOWER_PID" "$LEADER_PID" 2>/dev/null || true
  start_app "$TMP/small"
}
