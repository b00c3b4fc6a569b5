#!/usr/bin/env bash
# Browser tests: creates an admin with `mysetlist admin create-user`, starts `mysetlist serve --demo` on
# a free loopback port with a temp data dir, drives Debian's Chromium with playwright-core
# (tests/browser/live-vote.mjs, live-lock.mjs, not-found.mjs, no-js-vote.mjs, account.mjs, share.mjs, then status-pages.mjs), stops the server.
# Needs: chromium (scripts/install-test-deps.sh), node >= 20 and npm. Never downloads a browser.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/fixture.sh
source scripts/lib/fixture.sh
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
cleanup() {
  fixture_stop
  rm -rf "$data"
}
trap cleanup EXIT
admin_email="admin@example.org"
admin_password="browser-test-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
FIXTURE_ADMIN_EMAIL=$admin_email FIXTURE_ADMIN_PASSWORD=$admin_password FIXTURE_ADMIN_NAME="Browser Admin" \
  fixture_start "$bin" "$data" --demo
base=$FIXTURE_BASE
log=$FIXTURE_LOG

export BASE_URL="$base" SCREENSHOT_DIR="${SCREENSHOT_DIR:-$target/browser-test}"
export ADMIN_EMAIL="$admin_email" ADMIN_PASSWORD="$admin_password"
for t in live-vote live-lock not-found no-js-vote account share status-pages; do
  if ! timeout 120 node "tests/browser/$t.mjs"; then
    echo "--- $t failed; server log"; tail -50 "$log"
    exit 1
  fi
done
