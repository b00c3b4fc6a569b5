#!/usr/bin/env bash
# Property-based API test: schemathesis (PyPI, pinned, in its own venv) generates requests from
# /openapi.json against `mysetlist serve --demo` on a free loopback port with a temp data dir, signed in
# as an admin so that every operation is reached. Fails on any 5xx and on any response that does not
# match the spec (status code, content type, headers, body schema). Bounded: SCHEMATHESIS_MAX_EXAMPLES
# cases per operation (default 25).
set -euo pipefail
cd "$(dirname "$0")/.."
SCHEMATHESIS_VERSION=4.32.5
TOOLS_DIR="${MYSETLIST_TOOLS_DIR:-$HOME/.cache/mysetlist-tools}"
venv="$TOOLS_DIR/schemathesis-$SCHEMATHESIS_VERSION"
if [[ ! -x $venv/bin/schemathesis ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

target="${CARGO_TARGET_DIR:-target}"
bin="${MYSETLIST_BIN:-$target/debug/mysetlist}"
[[ -n ${MYSETLIST_BIN:-} ]] || cargo build --quiet --bin mysetlist

data="$(mktemp -d)"
log="$data/server.log"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
# Limits off (votes: as high as allowed) so that generated traffic is judged, not throttled.
export MYSETLIST_DATA_DIR="$data" MYSETLIST_LISTEN="127.0.0.1:$port" MYSETLIST_LOG__FORMAT=json \
  MYSETLIST_RATE_LIMIT__LOGINS_PER_MINUTE=0 MYSETLIST_RATE_LIMIT__SIGNUPS_PER_HOUR=0 \
  MYSETLIST_RATE_LIMIT__SEARCH_PER_MINUTE=0 MYSETLIST_RATE_LIMIT__VOTES_PER_MINUTE=1000000
printf '%s' 'schemathesis admin passphrase' >"$data/pw"
"$bin" admin create-user --email admin@schemathesis.test --password-file "$data/pw" --role admin >/dev/null
"$bin" serve --demo >"$log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT
for _ in $(seq 100); do
  curl -fsS "$base/livez" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { echo "server exited:"; cat "$log"; exit 1; }
  sleep 0.1
done
curl -fsS "$base/livez" >/dev/null || { echo "server did not answer within 10 s:"; cat "$log"; exit 1; }

cookie=$(curl -fsS -D - -o /dev/null -H 'content-type: application/json' \
  -d '{"email":"admin@schemathesis.test","password":"schemathesis admin passphrase"}' "$base/api/v1/auth/login" |
  sed -n 's/^set-cookie: \(session=[^;]*\).*/\1/Ip' | head -n1)
[[ -n $cookie ]] || { echo "could not sign in as the admin"; exit 1; }

# Sign-out and erasure would end the admin session that the rest of the run needs.
# positive_data_acceptance is off: rules beyond a schema (password policy, ISO country codes, "you
# cannot ban yourself") rightly answer 422 to schema-valid input; 422 is documented on every operation.
status=0
timeout 900 "$venv/bin/schemathesis" run "$base/openapi.json" \
  --url "$base" \
  --header "Cookie: $cookie" \
  --checks all \
  --exclude-checks positive_data_acceptance \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-25}" \
  --exclude-path-regex '/auth/logout|/me/delete' \
  --seed 1 \
  --no-color || status=$?
if ((status != 0)); then
  echo "--- server log (errors)"
  grep '"level":"ERROR"' "$log" | tail -n 30 || true
  exit "$status"
fi
