#!/usr/bin/env bash
# The whole test suite, from a bare machine: installs what it needs (pinned, idempotent), then runs
# formatting, lints, the offline vulnerability audit, unit + integration tests (which start and stop
# their own servers: s3s-fs, pebble, litestream), the Nix checks, the VM-test mirrors, the browser test
# and the container test. Fails on the first failing step.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
step() { printf '\n==> %s\n' "$*"; }

step "install test dependencies"
scripts/install-test-deps.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --locked --all-targets -- -D warnings

step "cargo audit (offline, ../shared/advisory-db)"
ADVISORY_DB=${ADVISORY_DB:-$ROOT/../shared/advisory-db}
audit_db=$(mktemp -d)
trap 'rm -rf "$audit_db"' EXIT
cp -r "$ADVISORY_DB/." "$audit_db/"
# Vulnerabilities fail; unmaintained-crate notices are printed as warnings. Ignored ids, each with its
# reason, are in .cargo/audit.toml.
cargo audit --db "$audit_db" --no-fetch
if cargo tree --locked -i openssl-sys --target all >/dev/null 2>&1; then echo "openssl-sys is in the dependency tree"; exit 1; fi

step "cargo test"
cargo test --locked --all-targets

step "Nix files parse; ops rules and dashboard"
scripts/check-nix.sh
scripts/check-ops.sh

# The mirrors and the browser test run the real binary (and the failover mirror the loss checker that
# the failover test shares); copy them so parallel builds cannot swap them.
cargo build --locked --quiet --bin mysetlist --example lost_votes
bin_dir=$(mktemp -d)
MYSETLIST_BIN=$bin_dir/mysetlist MYSETLIST_TEST_LOST_VOTES=$bin_dir/lost_votes
export MYSETLIST_BIN MYSETLIST_TEST_LOST_VOTES
cp "${CARGO_TARGET_DIR:-target}/debug/mysetlist" "$MYSETLIST_BIN"
cp "${CARGO_TARGET_DIR:-target}/debug/examples/lost_votes" "$MYSETLIST_TEST_LOST_VOTES"

step "Nix evaluation: module, VM test nodes, flake, filtered source, unit, settings, test scripts, mirrors"
scripts/check-nix-eval.sh

step "VM-test mirrors (network namespaces, real processes)"
for scenario in vm-tests/mirror/{basic,backup-restore,acme,failover}.sh; do
  "$scenario"
done

step "API conformance (schemathesis against /openapi.json)" && scripts/schemathesis.sh

if [[ -x scripts/browser-test.sh ]]; then
  step "browser test (headless Chromium)"
  scripts/browser-test.sh
fi

step "container (static binary, podman, SIGTERM)"
scripts/container-test.sh

step "all tests passed"
