# shellcheck shell=bash
# The fixture server of the scripts: `mysetlist serve` on a free loopback port with its own data
# directory, optionally with an admin account made first, waited for until it answers.
#
#   source scripts/lib/fixture.sh
#   FIXTURE_ADMIN_EMAIL=a@example.test FIXTURE_ADMIN_PASSWORD=... fixture_start "$bin" "$data" --demo
#   curl "$FIXTURE_BASE/..."      # http://127.0.0.1:PORT; the server's output is in $FIXTURE_LOG
#   fixture_stop                  # also fine when nothing was started
#
# Settings (variables): FIXTURE_ADMIN_EMAIL and FIXTURE_ADMIN_PASSWORD (an admin is created when
# both are set; FIXTURE_ADMIN_NAME sets its display name), FIXTURE_LOG (default $DATA_DIR/server.log),
# FIXTURE_READY_PATH (default /livez; /readyz waits for the database too), FIXTURE_READY_TIMEOUT
# (seconds, default 10), FIXTURE_ENV (an array of VAR=value settings for this server only). The server
# also inherits the caller's environment: exported MYSETLIST_* settings apply to it.

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# fixture_start BIN DATA_DIR [serve args...]: sets FIXTURE_PID, FIXTURE_BASE and FIXTURE_LOG.
fixture_start() {
  local bin=$1 data=$2 port deadline
  shift 2
  FIXTURE_LOG=${FIXTURE_LOG:-$data/server.log}
  if [[ -n ${FIXTURE_ADMIN_EMAIL:-} && -n ${FIXTURE_ADMIN_PASSWORD:-} ]]; then
    # The password goes through a file that only lives for the command (never on a command line).
    printf '%s' "$FIXTURE_ADMIN_PASSWORD" >"$data/.admin-password"
    MYSETLIST_DATA_DIR="$data" "$bin" admin create-user --email "$FIXTURE_ADMIN_EMAIL" \
      --password-file "$data/.admin-password" --role admin \
      ${FIXTURE_ADMIN_NAME:+--display-name "$FIXTURE_ADMIN_NAME"} >/dev/null
    rm -f "$data/.admin-password"
  fi
  port=$(free_port)
  FIXTURE_BASE="http://127.0.0.1:$port"
  env MYSETLIST_LOG__FORMAT=json ${FIXTURE_ENV[@]+"${FIXTURE_ENV[@]}"} \
    MYSETLIST_DATA_DIR="$data" MYSETLIST_LISTEN="127.0.0.1:$port" "$bin" serve "$@" >>"$FIXTURE_LOG" 2>&1 &
  FIXTURE_PID=$!
  deadline=$((SECONDS + ${FIXTURE_READY_TIMEOUT:-10}))
  until curl -fsS -o /dev/null "$FIXTURE_BASE${FIXTURE_READY_PATH:-/livez}" 2>/dev/null; do
    if ! kill -0 "$FIXTURE_PID" 2>/dev/null; then
      echo "the server exited:" >&2
      cat "$FIXTURE_LOG" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "the server did not answer ${FIXTURE_READY_PATH:-/livez} within ${FIXTURE_READY_TIMEOUT:-10} s:" >&2
      tail -n 50 "$FIXTURE_LOG" >&2
      return 1
    fi
    sleep 0.05
  done
}

fixture_stop() {
  [[ -n ${FIXTURE_PID:-} ]] || return 0
  kill "$FIXTURE_PID" 2>/dev/null || true
  wait "$FIXTURE_PID" 2>/dev/null || true
  FIXTURE_PID=
}
