#!/usr/bin/env bash
# Mirror of vm-tests/failover.nix: moto's S3 server on "s3", a primary, a standby and a client, each its own
# network namespace; ack = "replicated", lease_ttl = 5s. Scenarios, each printing a RESULT line:
#
#   follow     votes acknowledged by the primary reach the standby, which serves reads, refuses writes
#              (503 + Retry-After + x-mysetlist-role: standby) and is live but not ready
#   kill9      the primary is killed (SIGKILL, power cut) under vote load: the standby takes over;
#              RTO = kill -> first write accepted by the standby; loss = acknowledged votes missing
#   rejoin     the old primary restarts (role = primary): the lease is taken, so it follows
#   partition  the new leader is cut off (link down) under load: the other node takes over; once
#              reconnected the old leader refuses writes and follows
#   promote    `mysetlist promote` on the follower under load: planned switch-over, no write lost
#   restart    the follower restarts (SIGTERM, start): it resumes from its copy and keeps following
#   s3-outage  S3 is cut off from both nodes under load: the leader stops leading, both keep serving
#              reads; after S3 comes back one node leads again with every acknowledged vote
#
# "Accepts writes" = a signup through the node succeeds. Loss is checked per (voter, song): every vote
# a node acknowledged (PUT answered 2xx) must be in the new leader's `my_votes` for that voter.
#
# Through all of it a reader on the client reads both nodes over and over (`mysetlist-client
# read-loop`): a signed-in reader fan's votes (set once at the start) and the ranking, logging every
# read to reads.log; the script marks each kill, stop, start, cut and reconnect in markers.log; the vote
# load logs every refused write to refused.log. At the end vm-tests/read_check.py fails the run if, on
# any node process, a session read was refused (401/403) or returned other votes than the reader fan's,
# a song's count or x-mysetlist-txid went back, or a write was refused other than with 503 +
# Retry-After + x-mysetlist-role (a connection failure counts only while the node was down or cut
# off); it prints each node's longest read-unavailable window while it was up.
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

MYSETLIST=$(mysetlist_binary)
LOST_VOTES=$(lost_votes_binary)
mirror_init failover
host_add s3
host_add primary
host_add standby
host_add client
start_s3 s3
p=http://primary:8080
s=http://standby:8080
password='a long and decent passphrase'
export MYSETLIST_REPLICATION__SECRET_ACCESS_KEY=$S3_SECRET_KEY
TTL=5
now() { date +%s.%N; }

write_config() { # NAME ROLE
  cat >"$RUN_DIR/$1.toml" <<TOML
data_dir = "$RUN_DIR/$1-data"
listen = "0.0.0.0:8080"
public_url = "http://$1:8080"
role = "$2"

[rate_limit]
# The write probes and the vote load all come from the client's one address.
signups_per_hour = 100000
votes_per_minute = 100000

[replication]
url = "s3://$S3_BUCKET/failover"
endpoint = "http://s3:9000"
region = "us-east-1"
force_path_style = true
access_key_id = "$S3_ACCESS_KEY"
ack = "replicated"
sync_interval = "1s"

[failover]
lease_ttl = "${TTL}s"
# No node_id: as on the VM test's nodes, each server is named after its host (uname(2) inside its own
# UTS namespace, with /proc/sys hidden by a ProcSubset=pid /proc; see as_host in lib.sh).
TOML
}
write_config primary primary
write_config standby standby
declare -A PID=()
# "NODE EVENT TIME" for the read check: down (about to be killed or stopped), up (about to be started),
# cut (about to be cut off the network), heal (reconnected).
mark() { echo "$1 $2 $(now)" >>"$RUN_DIR/markers.log"; }
start_node() { # NAME [FLAGS...]
  local name=$1
  shift
  mark "$name" up
  as_host "$name"
  spawn "$name" "$name.log" "${AS_HOST[@]}" "$MYSETLIST" serve --config "$RUN_DIR/$name.toml" "$@"
  PID[$name]=$SPAWNED_PID
}

since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
result() { printf 'RESULT %s\n' "$*" | tee -a "$RUN_DIR/results.txt"; }

probe=0
accepts_writes() { # BASE: a signup through BASE succeeds
  probe=$((probe + 1))
  client client "$1" signup "probe$probe@example.test" "$password" >/dev/null 2>&1
}
votes_are() { [[ $(client client "$1" votes "$2" "$3") == "$4" ]]; }
http_code() { on client curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true; }

# ---- vote load: each voter sets its votes over and over (idempotent PUT) and records every ack
voters=4
declare -a cookies=()
LOAD_PIDS=()
# Fresh voters sign up on the first BASE (the leader), so that the counts the reader sees climb through
# every switch-over; each sets its votes over and over, on the first of the BASEs that acknowledges, appending
# "VOTER SONG UNIX_TIME" to ACKED_FILE for every acknowledged vote and "UNIX_TIME NODE STATUS
# retry-after=V x-mysetlist-role=V" to refused.log for every refusal (the time the answer came).
load_start() { # ACKED_FILE BASE [BASE...]
  local acked=$1 i out
  shift
  for ((i = 0; i < voters; i++)); do
    cookies[i]=$(client client "$1" signup "voter$i-${acked##*/}@example.test" "$password")
  done
  rm -f "$RUN_DIR/stop-load"
  : >"$acked"
  LOAD_PIDS=()
  for ((i = 0; i < voters; i++)); do
    (
      for ((round = 0; round < 500; round++)); do
        for song in "${songs[@]}"; do
          [[ -e $RUN_DIR/stop-load ]] && exit 0
          for base in "$@"; do
            if out=$(client client "$base" vote-set "${cookies[$i]}" "$show" "$song" 2>&1); then
              echo "$i $song $(now)" >>"$acked"
              break
            fi
            node=${base#http://}
            echo "$(now) ${node%%:*} $(tr '\n' ' ' <<<"${out##*answered }")" >>"$RUN_DIR/refused.log"
          done
        done
      done
    ) &
    LOAD_PIDS+=("$!")
  done
}
load_stop() {
  touch "$RUN_DIR/stop-load"
  local pid
  for pid in "${LOAD_PIDS[@]}"; do wait "$pid" || true; done
  LOAD_PIDS=()
}
acked_at_least() { (($(wc -l <"$1") >= $2)); }
acked_after() { awk -v t="$2" '$3 > t { found = 1 } END { exit !found }' "$1"; }
# The longest time no write was acknowledged, after T0 (seconds): the switch-over's write downtime.
write_gap() { # ACKED_FILE T0
  awk -v t0="$2" '$3 >= t0 { print $3 }' "$1" | sort -n |
    awk 'NR > 1 && $1 - prev > gap { gap = $1 - prev } { prev = $1 } END { printf "%.2f", gap }'
}
# Prints "ACKNOWLEDGED LOST": distinct acknowledged (voter, song) pairs, and those missing on BASE
# (named on stderr); the rule is the failover integration test's (examples/lost_votes.rs).
count_lost() { # BASE ACKED_FILE
  local present=$2.present i
  : >"$present"
  for ((i = 0; i < voters; i++)); do
    client client "$1" my-votes "${cookies[$i]}" "$show" | sed "s/^/$i /" >>"$present"
  done
  "$LOST_VOTES" "$2" "$present"
}

# ---------------------------------------------------------------------------------------- start
start_node primary --demo
wait_for_url client "$p/readyz" 60
start_node standby
wait_for_url client "$s/livez" 60
show=$(client client "$p" show)
wait_until 30 client client "$s" show
mapfile -t songs < <(client client "$p" songs "$show" | head -n 5)
((${#songs[@]} >= 4)) || fail "the demo show has fewer than 4 songs"
fan=$(client client "$p" signup fan@example.test "$password")

# ---- reader: a fan who votes once, then only reads, on both nodes until the end
reader=$(client client "$p" signup reader@example.test "$password")
reader_votes=("${songs[1]}" "${songs[3]}")
for song in "${reader_votes[@]}"; do client client "$p" vote-set "$reader" "$show" "$song"; done
expected=$(printf '%s\n' "${reader_votes[@]}" | sort | paste -sd, -)
reader_sees() { [[ $(client client "$1" my-votes "$reader" "$show" | sort | paste -sd, -) == "$expected" ]]; }
wait_until 30 reader_sees "$s"
: >"$RUN_DIR/reads.log"
: >"$RUN_DIR/refused.log"
READER_PIDS=()
for node in primary standby; do
  spawn client "reader-$node.log" "$MIRROR_LIB_DIR/../client.sh" "http://$node:8080" read-loop "$reader" "$show" \
    "$node" "$RUN_DIR/reads.log" "$RUN_DIR/stop-reading" 100000
  READER_PIDS+=("$SPAWNED_PID")
done

# ---------------------------------------------------------------------------------------- follow
t0=$(now)
client client "$p" vote-set "$fan" "$show" "${songs[0]}"
wait_until 30 votes_are "$s" "$show" "${songs[0]}" "$(client client "$p" votes "$show" "${songs[0]}")"
lag=$(since "$t0")
! accepts_writes "$s" || fail "the standby accepted a write while the primary holds the lease"
headers=$(on client curl -s -o /dev/null -D - -X PUT -H "Cookie: $fan" -H "Origin: $s" \
  "$s/api/v1/shows/$show/songs/${songs[1]}/vote" | tr -d '\r')
grep -q '^HTTP/1.1 503' <<<"$headers" || fail "a write on the standby did not answer 503: $headers"
grep -qi '^retry-after:' <<<"$headers" || fail "no Retry-After on the standby's 503"
grep -qi '^x-mysetlist-role: standby' <<<"$headers" || fail "no x-mysetlist-role: standby header"
[[ $(http_code "$p/readyz") == 200 && $(http_code "$s/readyz") == 503 ]] || fail "/readyz: 200 only on the leader"
[[ $(http_code "$p/livez") == 200 && $(http_code "$s/livez") == 200 ]] || fail "/livez: 200 on both nodes"
[[ $(http_code "$s/") == 200 ]] || fail "the standby does not serve the home page"
result "follow: a vote acknowledged by the primary was visible on the standby after ${lag}s; standby refuses writes (503, Retry-After, role header), /readyz 200 only on the leader"

# ---------------------------------------------------------------------------------------- kill9
load_start "$RUN_DIR/acked-kill9" "$p"
wait_until 60 acked_at_least "$RUN_DIR/acked-kill9" 20
mark primary down
crash primary
t0=$(now)
load_stop
wait_until 60 accepts_writes "$s"
rto=$(since "$t0")
read -r acked lost < <(count_lost "$s" "$RUN_DIR/acked-kill9")
((acked > 0)) || fail "no vote was acknowledged under load"
result "kill9: RTO ${rto}s (lease TTL ${TTL}s), ${acked} acknowledged votes, ${lost} lost"
((lost == 0)) || fail "$lost acknowledged votes lost after kill -9"
client client "$s" vote-set "${cookies[0]}" "$show" "${songs[1]}" # the old primary's session still works

# ---------------------------------------------------------------------------------------- rejoin
t0=$(now)
start_node primary --demo
wait_for_url client "$p/livez" 60
! accepts_writes "$p" || fail "the old primary accepted a write although the lease is taken"
client client "$s" vote-set "$fan" "$show" "${songs[2]}"
wait_until 60 votes_are "$p" "$show" "${songs[2]}" "$(client client "$s" votes "$show" "${songs[2]}")"
[[ $(http_code "$p/readyz") == 503 ]] || fail "the rejoined old primary reports ready"
result "rejoin: the old primary came back as a follower (following after $(since "$t0")s) and refuses writes"

# ---------------------------------------------------------------------------------------- partition
load_start "$RUN_DIR/acked-partition" "$s"
wait_until 60 acked_at_least "$RUN_DIR/acked-partition" 20
mark standby cut
block standby
t0=$(now)
wait_until 90 accepts_writes "$p"
rto=$(since "$t0")
load_stop
read -r acked lost < <(count_lost "$p" "$RUN_DIR/acked-partition")
result "partition: RTO ${rto}s (lease TTL ${TTL}s), ${acked} acknowledged votes, ${lost} lost"
((lost == 0)) || fail "$lost acknowledged votes lost in the partition"
client client "$p" vote-set "$fan" "$show" "${songs[3]}"
unblock standby
mark standby heal
! accepts_writes "$s" || fail "the partitioned leader still accepts writes after its lease lapsed"
wait_until 60 votes_are "$s" "$show" "${songs[3]}" "$(client client "$p" votes "$show" "${songs[3]}")"
! accepts_writes "$s" || fail "the old leader accepts writes"
result "partition: after reconnecting, the old leader refuses writes and follows"

# ---------------------------------------------------------------------------------------- promote
load_start "$RUN_DIR/acked-promote" "$p" "$s"
wait_until 60 acked_at_least "$RUN_DIR/acked-promote" 20
t0=$(now)
as_host standby
on standby "${AS_HOST[@]}" "$MYSETLIST" promote --config "$RUN_DIR/standby.toml" --timeout 60s >>"$RUN_DIR/promote.log" 2>&1 ||
  fail "mysetlist promote failed: $(cat "$RUN_DIR/promote.log")"
switch=$(since "$t0")
# Writes go on (to whichever node acknowledges) until some land after the switch.
wait_until 30 acked_after "$RUN_DIR/acked-promote" "$(now)"
load_stop
accepts_writes "$s" || fail "the promoted standby does not accept writes"
! accepts_writes "$p" || fail "the old leader still accepts writes after the hand-over"
read -r acked lost < <(count_lost "$s" "$RUN_DIR/acked-promote")
gap=$(write_gap "$RUN_DIR/acked-promote" "$t0")
result "promote: write downtime ${gap}s (the command took ${switch}s), ${acked} acknowledged votes, ${lost} lost"
((lost == 0)) || fail "$lost acknowledged votes lost in the planned switch-over"

# ---------------------------------------------------------------------------------------- restart
mark primary down
stop_pid "${PID[primary]}" 20 || fail "the follower did not stop cleanly on SIGTERM"
logged=$(wc -l <"$RUN_DIR/primary.log")
t0=$(now)
start_node primary
wait_for_url client "$p/livez" 60
client client "$s" vote-set "$fan" "$show" "${songs[4]:-${songs[0]}}"
song=${songs[4]:-${songs[0]}}
wait_until 60 votes_are "$p" "$show" "$song" "$(client client "$s" votes "$show" "$song")"
tail -n "+$((logged + 1))" "$RUN_DIR/primary.log" | grep -q 'following from it' || fail "the restarted follower did not resume from its copy"
! accepts_writes "$p" || fail "the restarted follower accepts writes"
result "restart: the follower resumed from its copy and was following again after $(since "$t0")s"

# ---------------------------------------------------------------------------------------- s3-outage
not_ready() { [[ $(http_code "$1/readyz") != 200 ]]; }
load_start "$RUN_DIR/acked-s3-outage" "$s" "$p"
wait_until 60 acked_at_least "$RUN_DIR/acked-s3-outage" 20
block s3
t0=$(now)
wait_until 30 not_ready "$s"
stepdown=$(since "$t0")
sleep "$TTL" # the outage goes on: both nodes serve reads (the reader checks) and refuse writes
unblock s3
t0=$(now)
leader=
# wait_until calls it in this shell, so it sets leader.
some_node_leads() { if accepts_writes "$s"; then leader=$s; elif accepts_writes "$p"; then leader=$p; else return 1; fi; }
wait_until 90 some_node_leads
back=$(since "$t0")
load_stop
read -r acked lost < <(count_lost "$leader" "$RUN_DIR/acked-s3-outage")
result "s3-outage: the leader's /readyz left 200 ${stepdown}s after S3 was cut off; writes accepted again ${back}s after S3 came back (${leader#http://}), ${acked} acknowledged votes, ${lost} lost"
((lost == 0)) || fail "$lost acknowledged votes lost in the S3 outage"

# ---------------------------------------------------------------------------------------- reads
touch "$RUN_DIR/stop-reading"
for pid in "${READER_PIDS[@]}"; do stop_pid "$pid" 10 || true; done
python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import read_check; sys.exit(read_check.main(sys.argv[2:]))' \
  "$MIRROR_LIB_DIR/.." "$RUN_DIR/reads.log" "$RUN_DIR/markers.log" "$RUN_DIR/refused.log" "$expected" \
  >"$RUN_DIR/read-check.out" 2>"$RUN_DIR/read-check.err" || checked=$?
grep '^RESULT ' "$RUN_DIR/read-check.out" | sed 's/^RESULT //' | while read -r line; do result "$line"; done
((${checked:-0} == 0)) ||
  fail "the read and write checks failed ($(wc -l <"$RUN_DIR/read-check.err") lines in read-check.err), first: $(head -n 5 "$RUN_DIR/read-check.err")"

log "PASS failover"
cat "$RUN_DIR/results.txt" >&2
