#!/usr/bin/env bash
# Checks the mirror scaffolding itself (lib.sh) with stand-in processes, so it can be trusted before the
# scenarios run the real server: hosts reach each other by name, a blocked host is unreachable and comes
# back, crash kills everything in a host, stop_pid reports how a process ended, sd_notify datagrams are
# captured, moto serves the bucket and enforces conditional writes, as_host gives a host its own name, and cleanup leaves no namespace behind.
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

mirror_init selftest
host_add alpha
host_add beta
host_alias beta vote.example.test

# A stand-in server on beta.
mkdir -p "$RUN_DIR/www" && echo ok >"$RUN_DIR/www/readyz"
spawn beta http.log python3 -m http.server 8080 --bind 0.0.0.0 --directory "$RUN_DIR/www"
server=$SPAWNED_PID
wait_for_url alpha http://beta:8080/readyz 20
wait_for_url alpha http://vote.example.test:8080/readyz 5
[[ $(on alpha curl -fsS http://beta:8080/readyz) == ok ]] || fail "alpha cannot read beta by name"
[[ $(host_ip beta) == 10.77.0.2 ]] || fail "unexpected address for beta: $(host_ip beta)"
log "hosts reach each other by name"

# The machine's own namespace cannot see the hosts.
if curl -fsS -o /dev/null --max-time 2 "http://$(host_ip beta):8080/readyz" 2>/dev/null; then
  fail "the test network leaks into the machine's namespace"
fi

block beta
if on alpha curl -fsS -o /dev/null --connect-timeout 1 --max-time 2 http://beta:8080/readyz; then
  fail "beta answered while blocked"
fi
unblock beta
wait_for_url alpha http://beta:8080/readyz 20
log "block/unblock partitions and heals"

stop_pid "$server" 5 && status=0 || status=$?
# python's http.server exits on SIGTERM with the signal's status (143)
[[ $status == 143 ]] || fail "stop_pid returned $status, expected 143"
# shellcheck disable=SC2016 # $1 expands in the child shell
spawn beta sleeper.log bash -c 'trap "" TERM; touch "$1"; while :; do sleep 1; done' _ "$RUN_DIR/sleeper.ready"
wait_until 5 test -e "$RUN_DIR/sleeper.ready" # SIGTERM before the trap is set would end it
stop_pid "$SPAWNED_PID" 1 && status=0 || status=$?
[[ $status == 124 ]] || fail "stop_pid on a process ignoring SIGTERM returned $status, expected 124"
log "stop_pid reports the exit status, 124 after its timeout"

spawn beta http.log python3 -m http.server 8080 --bind 0.0.0.0 --directory "$RUN_DIR/www"
wait_for_url alpha http://beta:8080/readyz 20
crash beta
wait_until 5 bash -c "[[ -z \$(ip netns pids $RUN_ID-beta) ]]"
log "crash kills every process in a host"

notify_socket "$RUN_DIR/notify.sock" notify.log
NOTIFY_SOCKET=$RUN_DIR/notify.sock python3 -c '
import os, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
s.sendto(b"WATCHDOG=1", os.environ["NOTIFY_SOCKET"])'
wait_until 5 grep -qx 'WATCHDOG=1' "$RUN_DIR/notify.log"
grep -qx 'READY=1' "$RUN_DIR/notify.log" || fail "READY=1 not captured"
log "sd_notify datagrams are captured"

if command -v moto_server >/dev/null; then
  host_add s3
  start_s3 s3
  # The bucket exists and a create-only PUT is create-only (conditional writes are enforced).
  on alpha curl -fsS -o /dev/null -X PUT --data-binary one -H 'If-None-Match: *' "http://s3:9000/$S3_BUCKET/k"
  code=$(on alpha curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary two -H 'If-None-Match: *' \
    "http://s3:9000/$S3_BUCKET/k")
  [[ $code == 412 ]] || fail "moto answered $code to a second create-only PUT, expected 412"
  log "moto serves on s3:9000 and enforces If-None-Match"
else
  log "moto_server not installed: skipped the S3 check"
fi

# A host's own name comes from uname(2) even where /proc/sys is hidden (ProcSubset=pid).
as_host alpha-node
name=$(on alpha "${AS_HOST[@]}" cat /proc/sys/kernel/hostname 2>/dev/null || true)
[[ -z $name ]] || fail "/proc/sys/kernel/hostname is readable under ProcSubset=pid"
[[ $(on alpha "${AS_HOST[@]}" uname -n) == alpha-node ]] || fail "as_host did not set the host name"
log "as_host: own host name, ProcSubset=pid /proc"

log "PASS selftest ($RUN_ID)"
