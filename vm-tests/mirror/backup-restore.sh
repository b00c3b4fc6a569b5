#!/usr/bin/env bash
# Mirror of vm-tests/backup-restore.nix: moto's S3 server on host "s3", as in the VM test. Votes acknowledged with
# ack = "replicated"; the data directory is wiped and the server restarted with restore_if_missing:
# the votes come back. The real litestream 0.5.17 restores the same bucket to an intact database with
# the same votes, and `mysetlist restore` / `backup list` / `backup verify` work.
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need sqlite3
[[ -x $LITESTREAM ]] || fail "litestream 0.5.17 not found at $LITESTREAM (scripts/install-test-deps.sh)"
MYSETLIST=$(mysetlist_binary)
mirror_init backup-restore
host_add s3
host_add server
start_s3 s3
base=http://server:8080
prefix=backup-restore
data=$RUN_DIR/server-data

cat >"$RUN_DIR/server.toml" <<TOML
data_dir = "$data"
listen = "0.0.0.0:8080"
public_url = "$base"

[replication]
url = "s3://$S3_BUCKET/$prefix"
endpoint = "http://s3:9000"
region = "us-east-1"
force_path_style = true
access_key_id = "$S3_ACCESS_KEY"
ack = "replicated"
restore_if_missing = true
sync_interval = "1s"
TOML
# The secret comes from the environment, as in production.
export MYSETLIST_REPLICATION__SECRET_ACCESS_KEY=$S3_SECRET_KEY
cli() { on server "$MYSETLIST" "$@" --config "$RUN_DIR/server.toml"; }

start_server() {
  spawn server server.log "$MYSETLIST" serve --config "$RUN_DIR/server.toml" --demo
  server_pid=$SPAWNED_PID
  wait_for_url server "$base/readyz" 60
}

start_server
cookies=$(client server "$base" signup fan@example.test 'a long and decent passphrase')
show=$(client server "$base" show)
mapfile -t songs < <(client server "$base" songs "$show" | head -n 3)
((${#songs[@]} == 3)) || fail "the demo show has fewer than 3 songs"
# The demo data has votes of its own: remember each count, expect ours on top.
declare -A before
for song in "${songs[@]}"; do before[$song]=$(client server "$base" votes "$show" "$song"); done
for song in "${songs[@]}"; do client server "$base" vote "$cookies" "$show" "$song"; done
log "3 votes acknowledged (ack = replicated)"

cli backup list >"$RUN_DIR/backup-list.txt" || fail "backup list failed"
grep -q '^A restore reaches TXID [0-9a-f]\{16\}$' "$RUN_DIR/backup-list.txt" \
  || fail "backup list does not say which TXID a restore reaches"
cli backup verify || fail "backup verify failed"
log "backup list and verify"

stop_pid "$server_pid" 10 || fail "the server did not stop cleanly on SIGTERM"
rm -rf "$data"
start_server
[[ -s $data/mysetlist.db ]] || fail "no database after the restart"
for song in "${songs[@]}"; do
  [[ $(client server "$base" votes "$show" "$song") == $((before[$song] + 1)) ]] || fail "vote for song $song lost"
done
client server "$base" vote "$cookies" "$show" "${songs[0]}" # the session was restored: toggles off
[[ $(client server "$base" votes "$show" "${songs[0]}") == "${before[${songs[0]}]}" ]] ||
  fail "the session was not restored"
client server "$base" vote "$cookies" "$show" "${songs[0]}"
log "a wiped data directory is restored from the bucket at start"

on server env -u AWS_CA_BUNDLE AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY" \
  "$LITESTREAM" restore -o "$RUN_DIR/litestream.db" \
  "s3://$S3_BUCKET/$prefix?endpoint=http://s3:9000&region=us-east-1&forcePathStyle=true" \
  >"$RUN_DIR/litestream-restore.log" 2>&1 || fail "litestream restore failed (litestream-restore.log)"
[[ $(sqlite3 "$RUN_DIR/litestream.db" 'PRAGMA integrity_check') == ok ]] || fail "litestream's copy is corrupt"
fan_votes="SELECT count(*) FROM votes JOIN users ON users.id = votes.user_id WHERE users.email = 'fan@example.test'"
votes=$(sqlite3 "$RUN_DIR/litestream.db" "$fan_votes")
[[ $votes == 3 ]] || fail "litestream's copy holds $votes of the fan's votes, expected 3"
log "the real litestream restores the bucket"

cli restore --from "s3://$S3_BUCKET/$prefix" -o "$RUN_DIR/restore-check.db" || fail "mysetlist restore failed"
[[ $(sqlite3 "$RUN_DIR/restore-check.db" 'PRAGMA integrity_check') == ok ]] || fail "mysetlist restore: corrupt"
votes=$(sqlite3 "$RUN_DIR/restore-check.db" "$fan_votes")
[[ $votes == 3 ]] || fail "mysetlist restore holds $votes of the fan's votes, expected 3"
log "mysetlist restore writes the same database"

log "PASS backup-restore"
