# shellcheck shell=bash
# Shared scaffolding for the runnable mirrors of the NixOS VM tests (vm-tests/*.nix). Source it:
#
#   . "$(dirname "$0")/lib.sh"
#   mirror_init basic                 # run dir, bridge namespace, cleanup trap (needs root)
#   host_add server                   # a "machine": its own network namespace on the bridge
#   spawn server server.log "$MYSETLIST" serve --config "$RUN_DIR/server.toml"
#   wait_for_url server "http://server:8080/readyz" 60
#   client server http://server:8080 signup fan@example.test 'a long passphrase'
#
# Each host is a network namespace with one interface, eth0 (10.77.0.N/24), cabled to a bridge that
# lives in a namespace of its own, so nothing is added to the machine's own network and concurrent runs
# do not collide (every namespace name carries a per-run id). Hosts resolve each other by name through
# /etc/netns/<namespace>/hosts, which `ip netns exec` mounts over /etc/hosts.
#
# Functions (all bounded; every wait takes a timeout in seconds):
#   mirror_init NAME                  start a run: RUN_ID, RUN_DIR, bridge, EXIT trap
#   host_add NAME                     add a host; its address is $(host_ip NAME)
#   host_alias NAME ALIAS...          extra names resolving to NAME (e.g. vote.example.test)
#   host_ip NAME                      print NAME's address
#   on NAME CMD...                    run CMD inside NAME, in the foreground
#   spawn NAME LOG CMD...             start CMD inside NAME in the background, output to $RUN_DIR/LOG;
#                                     sets SPAWNED_PID
#   stop_pid PID TIMEOUT              SIGTERM PID, wait up to TIMEOUT s for it to exit; returns its exit
#                                     status (124 if it did not exit, after which it is killed)
#   crash NAME                        SIGKILL every process inside NAME (power cut)
#   block NAME / unblock NAME         pull / replug NAME's cable (partition)
#   wait_for_url NAME URL TIMEOUT [CURL_ARGS...]   poll from NAME until URL answers 2xx
#   wait_for_port NAME PORT TIMEOUT   poll until something listens on PORT inside NAME
#   wait_until TIMEOUT CMD...         poll CMD (every 0.2 s) until it succeeds
#   client NAME BASE_URL ARGS...      vm-tests/client.sh (the API client the VM tests use), from NAME
#   start_s3 NAME                     moto's S3 server on NAME:9000 (keys test/test) with bucket
#                                     $S3_BUCKET: the server kind the VM tests run (vm-tests/common.nix)
#   as_host NAME                      sets AS_HOST to a command prefix that runs a command with the
#                                     host's own name (UTS namespace, hostname NAME) and a
#                                     ProcSubset=pid /proc, as systemd runs the NixOS service; it
#                                     exec's, so the PID stays the command's:
#                                     as_host s; spawn s s.log "${AS_HOST[@]}" CMD...
#   notify_socket PATH LOG            listen for sd_notify datagrams on PATH, appending them to LOG
#   mysetlist_binary                  print the path of the binary under test (MYSETLIST_BIN or a
#                                     release build, built if missing)
#   lost_votes_binary                 the same for the failover loss checker (MYSETLIST_TEST_LOST_VOTES)
#   mirror_cleanup                    kill everything started, delete namespaces (runs on EXIT);
#                                     the run dir is kept when the script fails or MIRROR_KEEP=1
set -euo pipefail

MIRROR_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$MIRROR_LIB_DIR/../.." && pwd)
SUBNET_PREFIX=10.77.0
S3_BUCKET=${S3_BUCKET:-mysetlist}
# shellcheck disable=SC2034 # used by the scripts that source this file (moto accepts any key)
S3_ACCESS_KEY="test"
# shellcheck disable=SC2034
S3_SECRET_KEY="test"
# shellcheck source=scripts/pins.sh
source "$REPO_ROOT/scripts/pins.sh"
LITESTREAM=${LITESTREAM:-$LITESTREAM_BIN}

declare -A HOST_NS=() HOST_IP=() HOST_ALIASES=()
HOST_ORDER=()
SPAWNED_PIDS=()
SPAWNED_PID=

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
fail() {
  log "FAIL: $*"
  exit 1
}

need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-test-deps.sh installs the test tools)"
  done
}

mirror_init() {
  local name=$1
  [[ $(id -u) == 0 ]] || fail "network namespaces need root"
  need ip curl jq python3
  RUN_ID=ms$(printf '%04x' $((RANDOM)))
  RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mysetlist-mirror-$name.XXXXXX")
  BRIDGE_NS=$RUN_ID-br
  trap mirror_cleanup EXIT
  ip netns add "$BRIDGE_NS"
  ip -n "$BRIDGE_NS" link set lo up
  ip -n "$BRIDGE_NS" link add br0 type bridge
  ip -n "$BRIDGE_NS" link set br0 up
  log "run $RUN_ID: $name, files in $RUN_DIR"
}

host_add() {
  local name=$1 index=$((${#HOST_ORDER[@]} + 1))
  [[ -z ${HOST_NS[$name]-} ]] || fail "host $name exists"
  ((index < 250)) || fail "too many hosts"
  local ns=$RUN_ID-$name port=${RUN_ID}p$index
  ip netns add "$ns"
  # Created directly inside the two namespaces: the machine's own namespace never sees the link.
  ip -n "$BRIDGE_NS" link add "$port" type veth peer name eth0 netns "$ns"
  ip -n "$BRIDGE_NS" link set "$port" master br0
  ip -n "$BRIDGE_NS" link set "$port" up
  ip -n "$ns" addr add "$SUBNET_PREFIX.$index/24" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  HOST_NS[$name]=$ns
  HOST_IP[$name]=$SUBNET_PREFIX.$index
  HOST_ALIASES[$name]=
  HOST_ORDER+=("$name")
  write_hosts_files
}

host_alias() {
  local name=$1
  shift
  [[ -n ${HOST_NS[$name]-} ]] || fail "no host $name"
  HOST_ALIASES[$name]+=" $*"
  write_hosts_files
}

host_ip() {
  [[ -n ${HOST_IP[$1]-} ]] || fail "no host $1"
  printf '%s\n' "${HOST_IP[$1]}"
}

# /etc/netns/<ns>/hosts is bind-mounted over /etc/hosts by `ip netns exec`, at every exec: rewriting
# it makes new names visible to the processes started afterwards.
write_hosts_files() {
  local name content
  content=$(
    printf '127.0.0.1 localhost\n::1 localhost\n'
    for name in "${HOST_ORDER[@]}"; do
      printf '%s %s%s\n' "${HOST_IP[$name]}" "$name" "${HOST_ALIASES[$name]}"
    done
  )
  for name in "${HOST_ORDER[@]}"; do
    mkdir -p "/etc/netns/${HOST_NS[$name]}"
    printf '%s\n' "$content" >"/etc/netns/${HOST_NS[$name]}/hosts"
  done
}

on() {
  local name=$1
  shift
  [[ -n ${HOST_NS[$name]-} ]] || fail "no host $name"
  ip netns exec "${HOST_NS[$name]}" "$@"
}

spawn() {
  local name=$1 logfile=$2
  shift 2
  [[ -n ${HOST_NS[$name]-} ]] || fail "no host $name"
  ip netns exec "${HOST_NS[$name]}" "$@" >>"$RUN_DIR/$logfile" 2>&1 &
  SPAWNED_PID=$!
  SPAWNED_PIDS+=("$SPAWNED_PID")
}

stop_pid() {
  local pid=$1 timeout=$2 deadline status=0
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + timeout))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      return 124
    fi
    sleep 0.1
  done
  wait "$pid" 2>/dev/null || status=$?
  return "$status"
}

crash() {
  local name=$1 pids
  [[ -n ${HOST_NS[$name]-} ]] || fail "no host $name"
  pids=$(ip netns pids "${HOST_NS[$name]}" || true)
  if [[ -n $pids ]]; then
    # shellcheck disable=SC2086 # one pid per word
    kill -KILL $pids 2>/dev/null || true
  fi
  log "crashed $name"
}

block() {
  ip -n "${HOST_NS[$1]:?no host $1}" link set eth0 down
  log "blocked $1"
}

unblock() {
  ip -n "${HOST_NS[$1]:?no host $1}" link set eth0 up
  log "unblocked $1"
}

wait_until() {
  local timeout=$1 deadline
  shift
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "timed out after ${timeout}s waiting for: $*"
    sleep 0.2
  done
}

wait_for_url() {
  local name=$1 url=$2 timeout=$3
  shift 3
  wait_until "$timeout" on "$name" curl -fsS -o /dev/null --connect-timeout 2 --max-time 5 "$@" "$url"
}

wait_for_port() {
  local name=$1 port=$2 timeout=$3
  wait_until "$timeout" on "$name" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
}

client() {
  local name=$1
  shift
  on "$name" "$MIRROR_LIB_DIR/../client.sh" "$@"
}

start_s3() {
  local name=$1 code
  need moto_server
  # moto enforces conditional writes (If-None-Match: *, If-Match) like the S3 the app targets; it
  # keeps buckets in memory and accepts any credentials.
  spawn "$name" s3.log moto_server -H 0.0.0.0 -p 9000
  wait_for_port "$name" 9000 30
  code=$(on "$name" curl -s -o /dev/null -w '%{http_code}' -X PUT "http://127.0.0.1:9000/$S3_BUCKET")
  [[ $code == 200 ]] || fail "moto answered $code when creating bucket $S3_BUCKET"
}

as_host() {
  # shellcheck disable=SC2034,SC2016 # AS_HOST is for the caller; $1/$@ belong to the inner bash
  AS_HOST=(unshare --uts --mount --propagation private -- bash -c
    'hostname "$1" && mount -t proc -o subset=pid,hidepid=invisible proc /proc && shift && exec "$@"'
    as_host "$1")
}

notify_socket() {
  local path=$1 logfile=$2
  python3 - "$path" "$RUN_DIR/$logfile" >>"$RUN_DIR/$logfile.err" 2>&1 <<'PY' &
import socket, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        out.write(sock.recv(4096).decode(errors="replace").replace("\n", " ") + "\n")
PY
  SPAWNED_PIDS+=("$!")
  wait_until 5 test -S "$path"
}

mysetlist_binary() {
  if [[ -n ${MYSETLIST_BIN-} ]]; then
    [[ -x $MYSETLIST_BIN ]] || fail "MYSETLIST_BIN=$MYSETLIST_BIN is not executable"
    printf '%s\n' "$MYSETLIST_BIN"
    return
  fi
  local target=${CARGO_TARGET_DIR:-$REPO_ROOT/target}
  (cd "$REPO_ROOT" && cargo build --quiet --release --bin mysetlist) >&2
  printf '%s\n' "$target/release/mysetlist"
}

# The failover loss checker (examples/lost_votes.rs): MYSETLIST_TEST_LOST_VOTES, else built like the binary.
lost_votes_binary() {
  if [[ -n ${MYSETLIST_TEST_LOST_VOTES-} ]]; then
    [[ -x $MYSETLIST_TEST_LOST_VOTES ]] || fail "MYSETLIST_TEST_LOST_VOTES=$MYSETLIST_TEST_LOST_VOTES is not executable"
    printf '%s\n' "$MYSETLIST_TEST_LOST_VOTES"
    return
  fi
  local target=${CARGO_TARGET_DIR:-$REPO_ROOT/target}
  (cd "$REPO_ROOT" && cargo build --quiet --release --example lost_votes) >&2
  printf '%s\n' "$target/release/examples/lost_votes"
}

mirror_cleanup() {
  local status=$? pid name deadline
  for pid in "${SPAWNED_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  # A few seconds for a graceful exit (a server releases its lease), then the hosts are powered off.
  deadline=$((SECONDS + 5))
  for pid in "${SPAWNED_PIDS[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  done
  for name in "${HOST_ORDER[@]}"; do
    crash "$name" 2>/dev/null || true
    ip netns del "${HOST_NS[$name]}" 2>/dev/null || true
    rm -rf "/etc/netns/${HOST_NS[$name]}"
  done
  [[ -z ${BRIDGE_NS-} ]] || ip netns del "$BRIDGE_NS" 2>/dev/null || true
  rmdir /etc/netns 2>/dev/null || true # only if no other namespace uses it
  for pid in "${SPAWNED_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ -n ${RUN_DIR-} ]]; then
    if ((status != 0)) || [[ ${MIRROR_KEEP-} == 1 ]]; then
      log "kept $RUN_DIR (logs of every process)"
    else
      rm -rf "$RUN_DIR"
    fi
  fi
  exit "$status"
}
