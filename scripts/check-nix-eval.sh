#!/usr/bin/env bash
# Evaluates the Nix side with nixpkgs' lib only (no nixpkgs, no network) and runs the real tools behind
# it. nix/eval/ holds the harness (adapted from ../shared/nix-eval-kit, whose nixpkgs-lib it uses).
#   a  the module under lib.evalModules: realistic configurations pass, bad ones fail with their message
#   b  every VM test's node configurations through the module
#   c  the flake's outputs against stub inputs (nix/eval/flake/pins.nix records what is known of them)
#   d  the exact file set nix/source.nix keeps, copied out: cargo build, clippy --all-targets, fmt --check
#   e  the rendered unit: systemd-analyze verify, systemd-analyze security --offline (exposure <= 2.0)
#   f  the rendered settings through `mysetlist check-config`
#   g  each rendered testScript through mypy and pyflakes against the test driver's signatures
#   h  the runnable mirrors mirror the VM tests (node ids, S3 server kind, ACME name resolution)
# SKIP_SOURCE_BUILD=1 skips d (the slow part).
# shellcheck disable=SC2015,SC2016 # ok/bad only print (never fail); single quotes hold literal patterns
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export NIX_CONFIG='build-users-group ='
LIB=${NIXPKGS_LIB:-$ROOT/../shared/nix-eval-kit/nixpkgs-lib/lib}
[[ -d $LIB ]] || { echo "check-nix-eval: nixpkgs lib not found at $LIB" >&2; exit 2; }
for tool in nix-instantiate jq python3 systemd-analyze mypy pyflakes3 cargo; do
  command -v "$tool" >/dev/null || { echo "check-nix-eval: $tool is missing; run scripts/install-test-deps.sh" >&2; exit 2; }
done
BIN=${MYSETLIST_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/mysetlist}
[[ -x $BIN ]] || { echo "check-nix-eval: no mysetlist binary at $BIN (cargo build --bin mysetlist)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
ok() { echo "check-nix-eval: ok   $*"; }
bad() { echo "check-nix-eval: FAIL $*" >&2; failed=1; }
ev() { nix-instantiate --eval --strict --json --arg libPath "$LIB" "$@"; }

# ---- a: module scenarios
ev nix/eval/eval.nix -A scenarios >"$work/scenarios.json"
for s in plain acme s3Secrets standby proxy outsideVarLib bothModules; do
  n=$(jq -r ".$s.failedAssertions | length" "$work/scenarios.json")
  if [[ $n == 0 ]]; then ok "a: $s evaluates without a failed assertion"; else bad "a: $s: $(jq -c ".$s.failedAssertions" "$work/scenarios.json")"; fi
done
expect_failure() { # SCENARIO TEXT
  if jq -e --arg t "$2" ".$1.failedAssertions | any(contains(\$t))" "$work/scenarios.json" >/dev/null; then
    ok "a: $1 is rejected ($2)"
  else bad "a: $1 is not rejected with a message containing '$2'"; fi
}
expect_failure badDataDir "settings.data_dir must be an absolute path"
expect_failure relativeDataDir "settings.data_dir must be an absolute path"
expect_failure storeEnv "environmentFile"
expect_failure storeSecret "would be read from the Nix store"
expect_failure unknownSecret "is not a secret key"
expect_failure fileInSettings "use services.mysetlist.secretFiles.replication.secret_access_key"
jq -e '.standby.settingsJSON | fromjson | .failover.node_id == "vote2"' "$work/scenarios.json" >/dev/null &&
  ok "a: failover.node_id defaults to networking.hostName" || bad "a: failover.node_id is not the host name"
jq -e '.s3Secrets.unit | contains("LoadCredential=replication.secret_access_key:/run/secrets/s3-secret") and contains("MYSETLIST_REPLICATION__SECRET_ACCESS_KEY_FILE=%d/replication.secret_access_key")' "$work/scenarios.json" >/dev/null &&
  jq -e '.s3Secrets.manageScript | contains("--property=LoadCredential=replication.secret_access_key:")' "$work/scenarios.json" >/dev/null &&
  ok "a: secret files become credentials, in the unit and in mysetlist-manage" || bad "a: secretFiles are not mapped to LoadCredential/_FILE"
jq -e '.plain.unit | test("TimeoutStartSec=[0-9]+min")' "$work/scenarios.json" >/dev/null && ok "a: TimeoutStartSec is set" || bad "a: no TimeoutStartSec"
jq -e '.outsideVarLib.unit | contains("ReadWritePaths=/srv/mysetlist")' "$work/scenarios.json" >/dev/null && ok "a: a data dir outside /var/lib gets ReadWritePaths" || bad "a: no ReadWritePaths for /srv/mysetlist"
jq -e '.proxy.firewall == [9464]' "$work/scenarios.json" >/dev/null && ok "a: openMetricsFirewall opens the metrics port" || bad "a: metrics port not opened"
jq -e '.plain.manageScript | contains("--same-dir")' "$work/scenarios.json" >/dev/null && ok "a: mysetlist-manage runs in the caller's directory" || bad "a: mysetlist-manage ignores the caller's directory"
# The module's secret keys are the ones the config loader reads from files.
mod_keys=$(grep -oE '^    "[a-z_]+\.[a-z_]+"$' nixos/module.nix | tr -d ' "' | sort)
src_keys=$(sed -n '/^\(pub \)\?const SECRET_KEYS/,/^];/p' src/config/mod.rs | grep -oE '"[a-z_.]+"' | tr -d '"' | sort)
[[ -n $src_keys && $mod_keys == "$src_keys" ]] && ok "a: module's secretKeys == src/config SECRET_KEYS" || bad "a: module secretKeys differ from SECRET_KEYS"

# ---- b: VM test nodes
if ev nix/eval/vmeval.nix -A nodes >"$work/nodes.json" 2>"$work/nodes.err"; then
  if jq -e '[.[][] | .failedAssertions[]] | length == 0' "$work/nodes.json" >/dev/null; then
    ok "b: $(jq '[.[][]] | length' "$work/nodes.json") VM test nodes evaluate"
  else bad "b: failed assertions: $(jq -c '[.[][] | .failedAssertions[]]' "$work/nodes.json")"; fi
else bad "b: VM test nodes do not evaluate: $(tail -n 5 "$work/nodes.err")"; fi

# ---- c: flake outputs
if nix-instantiate --eval --strict --json -E "import ./nix/eval/flake/evalflake.nix { libPath = $LIB; }" >"$work/flake.json" 2>"$work/flake.err"; then
  ok "c: flake outputs evaluate ($(jq -r '.outputs | join(", ")' "$work/flake.json"))"
  want=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
  have=$(jq -r '.toolchain' "$work/flake.json" | sed 's/.*-//')
  printf '%s\n%s\n' "$want" "$have" | sort -V -C && ok "c: toolchain $have >= rust-version $want" || bad "c: toolchain $have < rust-version $want"
  jq -e '.passthruTests | length > 0' "$work/flake.json" >/dev/null && ok "c: passthru.tests point at the VM tests" || bad "c: no passthru.tests"
  jq -e '.srcFiles | index("askama.toml") and index("bench/loadgen.rs")' "$work/flake.json" >/dev/null && ok "c: source has askama.toml and bench/" || bad "c: source misses askama.toml or bench/"
else bad "c: flake outputs do not evaluate: $(grep -m3 -i 'error' "$work/flake.err")"; fi
jq -e '.nodes.nixpkgs.original.ref | test("^nixos-(2[6-9]|[3-9][0-9])\\.(05|11)$")' flake.lock >/dev/null &&
  ok "c: flake.lock follows $(jq -r '.nodes.nixpkgs.original.ref' flake.lock)" || bad "c: flake.lock does not follow a supported nixos channel"

# ---- d: the filtered source builds
if [[ ${SKIP_SOURCE_BUILD-} != 1 ]]; then
  src=$work/source
  mkdir -p "$src"
  jq -r '.srcFiles[]' "$work/flake.json" | while read -r f; do mkdir -p "$src/$(dirname "$f")"; cp "$f" "$src/$f"; done
  flags=$(jq -r '.env.LIBSQLITE3_FLAGS' "$work/flake.json")
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
  if (cd "$src" && LIBSQLITE3_FLAGS=$flags cargo build --locked --quiet --bin mysetlist &&
    LIBSQLITE3_FLAGS=$flags cargo clippy --locked --quiet --all-targets -- -D warnings && cargo fmt --all --check); then
    ok "d: nix/source.nix's file set builds, passes clippy --all-targets and fmt"
  else bad "d: nix/source.nix's file set does not build/lint"; fi
fi

# ---- e + f: rendered unit and settings
for s in plain acme s3Secrets standby proxy outsideVarLib; do
  jq -r ".$s.settingsJSON" "$work/scenarios.json" | python3 nix/eval/json2toml.py >"$work/$s.toml"
  if env -i PATH="$PATH" HOME="$work" "$BIN" check-config --config "$work/$s.toml" >"$work/$s.check" 2>&1; then
    ok "f: $s settings pass check-config"
  else bad "f: $s settings fail check-config: $(tail -n 3 "$work/$s.check")"; fi
  unit=$work/mysetlist-$s.service
  jq -r ".$s.unit" "$work/scenarios.json" |
    sed -E "s#/nix/store/[0-9a-z]{32}-mysetlist-[^/]*/bin/mysetlist#$BIN#; s#/nix/store/[0-9a-z]{32}-mysetlist-checked.toml#$work/$s.toml#" >"$unit"
  if systemd-analyze verify --man=no "$unit" >"$work/$s.verify" 2>&1 && ! grep -qiE 'unknown|invalid|ignoring' "$work/$s.verify"; then
    ok "e: $s unit passes systemd-analyze verify"
  else bad "e: $s unit: $(grep -iE 'unknown|invalid|ignoring|error' "$work/$s.verify" | head -n 3)"; fi
  exposure=$(systemd-analyze security --offline=true "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
  if [[ -n $exposure ]] && awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }'; then ok "e: $s exposure $exposure"; else bad "e: $s exposure ${exposure:-unknown} > 2.0"; fi
done

# ---- g: test scripts
ev nix/eval/vmeval.nix -A scripts >"$work/scripts.json"
ev nix/eval/vmeval.nix -A nodeNames >"$work/names.json"
for t in $(jq -r 'keys[]' "$work/scripts.json"); do
  py=$work/test_$t.py
  { cat nix/eval/prelude.py; jq -r --arg t "$t" '.[$t][] | "\(.): Machine"' "$work/names.json"; jq -r --arg t "$t" '.[$t]' "$work/scripts.json"; } >"$py"
  if MYPYPATH=nix/eval/pystubs mypy --no-error-summary --ignore-missing-imports --cache-dir "$work/mypy" "$py" >"$work/$t.mypy" 2>&1; then
    ok "g: $t testScript passes mypy"; else bad "g: $t testScript: $(head -n 5 "$work/$t.mypy")"; fi
  # pyflakes sees the script alone, with the driver's globals and the machines as builtins.
  jq -r --arg t "$t" '.[$t]' "$work/scripts.json" >"$work/flakes_$t.py"
  builtins="start_all,subtest,machines,driver,log,$(jq -r --arg t "$t" '.[$t] | join(",")' "$work/names.json")"
  if PYFLAKES_BUILTINS=$builtins pyflakes3 "$work/flakes_$t.py" >"$work/$t.flakes" 2>&1; then ok "g: $t testScript passes pyflakes"; else bad "g: $t: $(head -n 5 "$work/$t.flakes")"; fi
done

# ---- h: mirrors mirror the VM tests
vm_ids=$(jq -r '.failover | to_entries[] | select(.value.settingsJSON != "null") | .value.settingsJSON | fromjson | .failover.node_id' "$work/nodes.json" | sort | xargs)
mirror_hosts=$(grep -oE '^write_config [a-z]+' vm-tests/mirror/failover.sh | awk '{print $2}' | sort | xargs)
if [[ $vm_ids == "$mirror_hosts" ]] && ! grep -qE '^node_id' vm-tests/mirror/failover.sh && grep -q 'AS_HOST\[@\]}" "\$MYSETLIST" serve' vm-tests/mirror/failover.sh; then
  ok "h: failover node ids are the host names in both ($vm_ids)"
else bad "h: failover node ids differ: VM [$vm_ids], mirror hosts [$mirror_hosts] (or the mirror sets node_id / does not run as its host)"; fi
if jq -e '[.["backup-restore"].s3.services["moto-s3"], .failover.s3.services["moto-s3"]] | all(. != null and contains("moto_server"))' "$work/nodes.json" >/dev/null &&
  grep -q 'spawn "$name" s3.log moto_server' vm-tests/mirror/lib.sh; then
  ok "h: the VM tests and the mirrors run the same S3 server (moto)"
else bad "h: the VM tests' S3 node and the mirrors' start_s3 run different servers"; fi
if jq -e '.acme.acme.hosts | to_entries | any(.value | index("vote.example.test"))' "$work/nodes.json" >/dev/null &&
  ! grep -qE 'pebble .*-dnsserver|pebble-challtestsrv' vm-tests/mirror/acme.sh && grep -q 'host_alias server "$domain"' vm-tests/mirror/acme.sh; then
  ok "h: pebble resolves the domain through /etc/hosts in both"
else bad "h: ACME name resolution differs between vm-tests/acme.nix and its mirror"; fi

exit "$failed"
