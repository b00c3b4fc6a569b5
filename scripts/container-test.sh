#!/usr/bin/env bash
# Container end to end: builds the static binary and the image (Containerfile, podman, no registry),
# runs it, waits for /readyz, checks it runs as the non-root user and that its HEALTHCHECK passes, casts
# a vote through the API, then sends SIGTERM and asserts the server exits with status 0 within 10 s.
#
# Traffic stays on 127.0.0.1 (the container's port 8080 is published on a free loopback port).
# podman on this kind of machine (cgroup v1 hybrid) needs `--runtime runc` and explicit ulimits. Without
# systemd, podman cannot schedule the periodic health check (it says so on stderr, which is kept out of
# the way unless `run` fails); the test runs the check once itself.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CLIENT=$ROOT/vm-tests/client.sh
# shellcheck source=scripts/lib/fixture.sh
source "$ROOT/scripts/lib/fixture.sh"
TARGET=x86_64-unknown-linux-gnu
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BINARY=$TARGET_DIR/$TARGET/release/mysetlist
STOP_WITHIN=10 # seconds
run_id=$$-$RANDOM
image=localhost/mysetlist:test-$run_id
name=mysetlist-test-$run_id
context=$(mktemp -d "${TMPDIR:-/tmp}/mysetlist-container.XXXXXX")

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
fail() {
  log "FAIL: $*"
  exit 1
}
for tool in cargo podman curl jq python3 file; do
  command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-test-deps.sh)"
done

podman_() { podman --runtime runc "$@"; }
cleanup() {
  local status=$?
  if ((status != 0)) && podman_ container exists "$name" 2>/dev/null; then
    log "container logs:"
    podman_ logs --tail 50 "$name" >&2 || true
  fi
  podman_ rm -f -v "$name" >/dev/null 2>&1 || true
  podman_ rmi -f "$image" >/dev/null 2>&1 || true
  rm -rf "$context"
  exit "$status"
}
trap cleanup EXIT

log "building the static binary"
(cd "$ROOT" && RUSTFLAGS='-C target-feature=+crt-static' cargo build --quiet --locked --release \
  --target "$TARGET" --bin mysetlist)
file -L "$BINARY" | grep -Eq 'statically linked|static-pie linked' || fail "$BINARY is not static: $(file -L "$BINARY")"

log "building the image"
# The build context holds exactly what the Containerfile copies (layout described there).
mkdir -p "$context/target/$TARGET/release" "$context/target/container/rootfs/etc/ssl/certs" \
  "$context/target/container/rootfs/tmp" "$context/target/container/volume/data"
cp "$BINARY" "$context/target/$TARGET/release/mysetlist"
cp /etc/ssl/certs/ca-certificates.crt "$context/target/container/rootfs/etc/ssl/certs/"
chmod 1777 "$context/target/container/rootfs/tmp"
chmod 0700 "$context/target/container/volume/data"
cp "$ROOT/Containerfile" "$ROOT/.containerignore" "$context/"
podman_ build --quiet --format docker --tag "$image" --file "$context/Containerfile" "$context" >/dev/null

port=$(free_port)
base=http://127.0.0.1:$port
log "running it on $base"
podman_ run --detach --name "$name" \
  --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 \
  --publish "127.0.0.1:$port:8080" \
  --env MYSETLIST_PUBLIC_URL="$base" \
  "$image" serve --demo >/dev/null 2>"$context/run.err" || {
  cat "$context/run.err" >&2
  fail "podman run failed"
}
"$CLIENT" "$base" wait-ready 60

user=$(podman_ top "$name" user | awk 'NR == 2 { print $1 }')
[[ $user == 65532 ]] || fail "the server runs as user '$user', expected 65532"
podman_ healthcheck run "$name" >/dev/null || fail "the HEALTHCHECK (/mysetlist health) failed"
log "ready, running as 65532, health check passes"

cookies=$("$CLIENT" "$base" signup fan@example.test 'a long and decent passphrase')
show=$("$CLIENT" "$base" show)
song=$("$CLIENT" "$base" songs "$show" | head -n 1)
before=$("$CLIENT" "$base" votes "$show" "$song") # the demo dataset already has votes
"$CLIENT" "$base" vote "$cookies" "$show" "$song"
votes=$("$CLIENT" "$base" votes "$show" "$song")
[[ $votes == $((before + 1)) ]] || fail "the vote was not counted (votes = $votes, before = $before)"
log "a vote through the API is counted"

podman_ kill --signal TERM "$name" >/dev/null
started=$SECONDS
exit_code=$(timeout "$STOP_WITHIN" podman --runtime runc wait "$name") ||
  fail "the server did not exit within ${STOP_WITHIN}s of SIGTERM"
[[ $exit_code == 0 ]] || fail "the server exited with status $exit_code after SIGTERM"
log "SIGTERM: exit status 0 after $((SECONDS - started))s"

log "PASS container"
