#!/usr/bin/env bash
# Mirror of vm-tests/basic.nix with real processes in network namespaces: the server starts and reports
# READY=1 over sd_notify, /readyz answers 200, a vote cast through the API is counted, WATCHDOG=1 keeps
# coming, SIGTERM stops it cleanly within 10 s, and the vote is still there after a restart ("reboot").
# The systemd hardening checks of the VM test (user, capabilities) have no equivalent here.
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

MYSETLIST=$(mysetlist_binary)
mirror_init basic
host_add server
base=http://server:8080

cat >"$RUN_DIR/server.toml" <<TOML
data_dir = "$RUN_DIR/server-data"
listen = "0.0.0.0:8080"
public_url = "$base"
TOML

notify_socket "$RUN_DIR/notify.sock" notify.log
start_server() {
  # As systemd would run it: NOTIFY_SOCKET for READY=1, WATCHDOG_USEC asking for pings (every 1 s).
  spawn server server.log env NOTIFY_SOCKET="$RUN_DIR/notify.sock" WATCHDOG_USEC=2000000 \
    "$MYSETLIST" serve --config "$RUN_DIR/server.toml" --demo
  server_pid=$SPAWNED_PID
}
# How many READY=1 / WATCHDOG=1 datagrams have arrived (re-read at every poll).
readies() { grep -c '^READY=1' "$RUN_DIR/notify.log" || true; }
watchdogs() { grep -c '^WATCHDOG=1' "$RUN_DIR/notify.log" || true; }
readies_at_least() { (($(readies) >= $1)); }
watchdogs_at_least() { (($(watchdogs) >= $1)); }

start_server
wait_until 60 readies_at_least 1
wait_for_url server "$base/readyz" 30
log "started: READY=1 sent, /readyz answers"

cookies=$(client server "$base" signup fan@example.test 'a long and decent passphrase')
show=$(client server "$base" show)
song=$(client server "$base" songs "$show" | head -n 1)
before=$(client server "$base" votes "$show" "$song") # the demo dataset already has votes
client server "$base" vote "$cookies" "$show" "$song"
[[ $(client server "$base" votes "$show" "$song") == $((before + 1)) ]] || fail "the vote was not counted"
log "a vote through the API is counted"

seen=$(watchdogs)
wait_until 10 watchdogs_at_least $((seen + 3))
kill -0 "$server_pid" || fail "the server died"
log "WATCHDOG=1 keeps coming"

stop_pid "$server_pid" 10 && status=0 || status=$?
[[ $status == 0 ]] || fail "SIGTERM: the server exited with status $status (124: not within 10 s)"
log "SIGTERM: clean exit within 10 s"

start_server
wait_until 60 readies_at_least 2
wait_for_url server "$base/readyz" 30
[[ $(client server "$base" votes "$show" "$song") == $((before + 1)) ]] || fail "the vote did not survive a restart"
client server "$base" vote "$cookies" "$show" "$song" # the session survived too: this removes the vote
[[ $(client server "$base" votes "$show" "$song") == "$before" ]] || fail "the session did not survive a restart"
log "vote and session survive a restart"

log "PASS basic"
