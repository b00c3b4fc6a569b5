#!/usr/bin/env bash
# Property-based API test: schemathesis (PyPI, pinned, in its own venv) generates requests from
# /openapi.json against `mysetlist serve --demo` on a free loopback port with a temp data dir, signed in
# as an admin so that every operation is reached. Fails on any 5xx and on any response that does not
# match the spec (status code, content type, headers, body schema). Bounded: SCHEMATHESIS_MAX_EXAMPLES
# cases per operation (default 25).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/pins.sh
source scripts/pins.sh
# shellcheck source=scripts/lib/fixture.sh
source scripts/lib/fixture.sh
venv="$TOOLS_DIR/schemathesis-$SCHEMATHESIS_VERSION"
if [[ ! -x $venv/bin/schemathesis ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

target="${CARGO_TARGET_DIR:-target}"
bin="${MYSETLIST_BIN:-$target/debug/mysetlist}"
[[ -n ${MYSETLIST_BIN:-} ]] || cargo build --quiet --bin mysetlist

data="$(mktemp -d)"
cleanup() {
  fixture_stop
  rm -rf "$data"
}
trap cleanup EXIT
# Limits off (votes: as high as allowed) so that generated traffic is judged, not throttled.
export MYSETLIST_RATE_LIMIT__LOGINS_PER_MINUTE=0 MYSETLIST_RATE_LIMIT__SIGNUPS_PER_HOUR=0 \
  MYSETLIST_RATE_LIMIT__SEARCH_PER_MINUTE=0 MYSETLIST_RATE_LIMIT__VOTES_PER_MINUTE=1000000
FIXTURE_ADMIN_EMAIL=admin@schemathesis.test FIXTURE_ADMIN_PASSWORD='schemathesis admin passphrase' \
  fixture_start "$bin" "$data" --demo
base=$FIXTURE_BASE
log=$FIXTURE_LOG

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
