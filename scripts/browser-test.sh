#!/usr/bin/env bash
# Browser tests: creates an admin with `mysetlist admin create-user`, starts `mysetlist serve --demo` on
# a free loopback port with a temp data dir, drives Debian's Chromium with playwright-core
# (tests/browser/live-vote.mjs, live-lock.mjs, not-found.mjs, no-js-vote.mjs, account.mjs, share.mjs, then status-pages.mjs), stops the server.
# Needs: chromium (scripts/install-test-deps.sh), node >= 20 and npm. Never downloads a browser.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
bin="$target/debug/mysetlist"
cargo build --quiet --bin mysetlist

# Pinned install from the lock file; skipped when node_modules matches it already.
(
  cd tests/browser
  if ! cmp -s package-lock.json node_modules/.installed-lock.json 2>/dev/null; then
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
    cp package-lock.json node_modules/.installed-lock.json
  fi
)

data="$(mktemp -d)"
log="$data/server.log"
admin_email="admin@example.org"
admin_password="browser-test-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
printf '%s' "$admin_password" >"$data/admin-password"
MYSETLIST_DATA_DIR="$data" "$bin" admin create-user --email "$admin_email" --password-file "$data/admin-password" \
  --role admin --display-name "Browser Admin" >/dev/null
rm -f "$data/admin-password"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
MYSETLIST_DATA_DIR="$data" MYSETLIST_LISTEN="127.0.0.1:$port" MYSETLIST_LOG__FORMAT=json \
  "$bin" serve --demo >"$log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT

base="http://127.0.0.1:$port"
for _ in $(seq 100); do
  curl -fsS "$base/livez" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { echo "server exited:"; cat "$log"; exit 1; }
  sleep 0.1
done
curl -fsS "$base/livez" >/dev/null || { echo "server did not answer within 10 s:"; cat "$log"; exit 1; }

export BASE_URL="$base" SCREENSHOT_DIR="${SCREENSHOT_DIR:-$target/browser-test}"
export ADMIN_EMAIL="$admin_email" ADMIN_PASSWORD="$admin_password"
for t in live-vote live-lock not-found no-js-vote account share status-pages; do
  if ! timeout 120 node "tests/browser/$t.mjs"; then
    echo "--- $t failed; server log"; tail -50 "$log"
    exit 1
  fi
done
