#!/usr/bin/env bash
# Mirror of vm-tests/failover.nix: s3s-fs on "s3", a primary, a standby and a client, each its own
# network namespace. Votes acknowledged by the primary reach the standby; the primary is killed
# (power cut) and the standby takes over with every acknowledged vote; the old primary comes back as a
# follower; the new leader is cut off (link down) and the other node takes over; once reconnected the
# old leader refuses writes and follows. "Accepts writes" = a signup through the node succeeds.
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

MYSETLIST=$(mysetlist_binary)
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

write_config() { # NAME ROLE
  cat >"$RUN_DIR/$1.toml" <<TOML
data_dir = "$RUN_DIR/$1-data"
listen = "0.0.0.0:8080"
public_url = "http://$1:8080"
role = "$2"

[replication]
url = "s3://$S3_BUCKET/failover"
endpoint = "http://s3:9000"
region = "us-east-1"
force_path_style = true
access_key_id = "$S3_ACCESS_KEY"
ack = "replicated"
sync_interval = "1s"

[failover]
lease_ttl = "5s"
node_id = "$1"
TOML
}
write_config primary primary
write_config standby standby
start_node() { # NAME [FLAGS...]
  local name=$1
  shift
  spawn "$name" "$name.log" "$MYSETLIST" serve --config "$RUN_DIR/$name.toml" "$@"
}

probe=0
accepts_writes() { # BASE: a signup through BASE succeeds
  probe=$((probe + 1))
  client client "$1" signup "probe$probe@example.test" "$password" >/dev/null 2>&1
}
votes_are() { [[ $(client client "$1" votes "$2" "$3") == "$4" ]]; }

start_node primary --demo
wait_for_url client "$p/readyz" 60
start_node standby
wait_for_url client "$s/readyz" 60

cookies=$(client client "$p" signup fan@example.test "$password")
show=$(client client "$p" show)
mapfile -t songs < <(client client "$p" songs "$show" | head -n 4)
((${#songs[@]} == 4)) || fail "the demo show has fewer than 4 songs"
for song in "${songs[@]:0:2}"; do client client "$p" vote "$cookies" "$show" "$song"; done
for song in "${songs[@]:0:2}"; do wait_until 60 votes_are "$s" "$show" "$song" 1; done
! accepts_writes "$s" || fail "the standby accepted a write while the primary holds the lease"
log "votes acknowledged by the primary reach the standby, which refuses writes"

crash primary
wait_until 90 accepts_writes "$s"
for song in "${songs[@]:0:2}"; do votes_are "$s" "$show" "$song" 1 || fail "acknowledged vote for $song lost"; done
client client "$s" vote "$cookies" "$show" "${songs[2]}" # the old primary's session still works
votes_are "$s" "$show" "${songs[2]}" 1 || fail "vote on the new leader not counted"
log "after the primary's crash the standby took over with every acknowledged vote"

start_node primary --demo
wait_for_url client "$p/readyz" 60
! accepts_writes "$p" || fail "the old primary accepted a write although the lease is taken"
wait_until 60 votes_are "$p" "$show" "${songs[2]}" 1
log "the old primary came back as a follower"

block standby
wait_until 90 accepts_writes "$p"
for song in "${songs[@]:0:3}"; do votes_are "$p" "$show" "$song" 1 || fail "acknowledged vote for $song lost"; done
client client "$p" vote "$cookies" "$show" "${songs[3]}"
unblock standby
! accepts_writes "$s" || fail "the partitioned leader still accepts writes after its lease lapsed"
wait_until 60 votes_are "$s" "$show" "${songs[3]}" 1
! accepts_writes "$s" || fail "the old leader accepts writes"
log "a partitioned leader stepped down; the other node took over"

log "PASS failover"
