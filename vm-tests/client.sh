#!/usr/bin/env bash
# mysetlist-client: the few HTTP API calls the scenario tests make, kept in one place so that the NixOS
# VM tests (packaged as `mysetlist-client`) and their runnable mirrors (vm-tests/mirror/) agree on the API.
#
# Usage: mysetlist-client [--cacert FILE] BASE_URL COMMAND [ARGS...]
#   BASE_URL is an origin: scheme://host[:port], no path (it is also sent as the Origin header).
#
#   wait-ready [SECONDS]          poll BASE_URL/readyz until it answers 200 (default 60 s)
#   wait-live [SECONDS]           poll BASE_URL/livez until it answers 200 (a standby is live, not ready)
#   signup EMAIL PASSWORD         create an account and sign in; prints the session cookies ("a=b; c=d")
#   show                          prints the id of the first show listed (upcoming shows come first)
#   songs SHOW_ID                 prints the song ids of the show's ranking, one per line
#   vote COOKIES SHOW_ID SONG_ID  toggles the caller's vote for a song; exit 0 on 2xx
#   vote-set COOKIES SHOW_ID SONG_ID   sets the vote (idempotent PUT, safe to retry); exit 0 on 2xx;
#                                 a refusal prints "mysetlist-client: vote-set answered STATUS
#                                 retry-after=V x-mysetlist-role=V" on stderr ("-" when the header is
#                                 absent, STATUS 000 when the connection failed, exit 2)
#   my-votes COOKIES SHOW_ID      prints the song ids the caller voted for on the show, one per line
#   votes SHOW_ID SONG_ID         prints the song's vote count on the show (0 if not ranked)
#   read COOKIES SHOW_ID NODE     one read of each kind, one line each (always exit 0):
#                                 "NODE UNIX_TIME session STATUS TXID SONG,SONG…" (the caller's my_votes)
#                                 "NODE UNIX_TIME ranking STATUS TXID SONG:VOTES,…"
#                                 TIME is when the request started, STATUS 000 a connection failure,
#                                 TXID the x-mysetlist-txid header (hex) or "-", the values "-" unless 200
#   read-loop COOKIES SHOW_ID NODE LOG STOP_FILE [ROUNDS]   `read` over and over, appending to LOG,
#                                 until STOP_FILE exists or after ROUNDS rounds (default 100000)
#
# The API contract this relies on. The first three lines are documented in config-schema.md; the two
# reads marked (*) are what these tests assume the JSON API offers:
#   GET  /readyz                                           200 once the database answers
#   POST /api/v1/auth/signup {email,password,display_name} 2xx (no session)
#   POST /api/v1/auth/login {email,password}               2xx + Set-Cookie (session)
#   POST /api/v1/shows/{show_id}/songs/{song_id}/vote      toggle; session cookie + same-origin Origin
#   PUT  /api/v1/shows/{show_id}/songs/{song_id}/vote      set (idempotent); same
#   GET  /livez                                            200 while the process serves
#   GET  /api/v1/shows/{id} with the session cookie        {"my_votes":[song_id, …], …}
#   (*) GET /api/v1/shows                 {"items":[{"id":…}, …]} or a bare array of shows
#   (*) GET /api/v1/shows/{id}/ranking    {"items":[{"song_id":…,"votes":N}, …]} or a bare array
# Write requests send `Origin: BASE_URL` (the server checks Origin on JSON). Cookies are passed as a
# header, not through a cookie jar, so a Secure flag does not hide them from plain-HTTP test URLs.
set -euo pipefail

die() {
  echo "mysetlist-client: $*" >&2
  exit 2
}

curl_opts=(--silent --show-error --connect-timeout 3 --max-time 15)
if [[ ${1-} == --cacert ]]; then
  [[ $# -ge 2 ]] || die "--cacert needs a file"
  curl_opts+=(--cacert "$2")
  shift 2
fi
[[ $# -ge 2 ]] || die "usage: mysetlist-client [--cacert FILE] BASE_URL COMMAND [ARGS...]"
base=${1%/}
command=$2
shift 2

# GET a JSON document; fails with the status and body on anything but 200.
get_json() {
  local path=$1 body status
  body=$(mktemp)
  status=$(curl "${curl_opts[@]}" -o "$body" -w '%{http_code}' -H 'Accept: application/json' "$base$path") || {
    rm -f "$body"
    die "GET $path: connection failed"
  }
  if [[ $status != 200 ]]; then
    echo "mysetlist-client: GET $path answered $status: $(head -c 500 "$body")" >&2
    rm -f "$body"
    exit 1
  fi
  cat "$body"
  rm -f "$body"
}

# The list inside a response: either the document itself (an array) or its "items".
items='if type == "array" then . else .items end'

# The value of header NAME in the dumped headers FILE, or "-".
header() {
  local value
  value=$(grep -i "^$1:" "$2" | head -n 1 | sed -E 's/^[^:]*:[[:space:]]*//' | tr -d '\r' || true)
  printf '%s\n' "${value:--}"
}

# One GET of PATH (with COOKIES unless empty) as a line "NODE TIME KIND STATUS TXID VALUES", VALUES
# being the body through the jq FILTER (see `read`). Short timeouts: a hung node is a failed read.
read_one() { # NODE KIND PATH COOKIES FILTER
  local node=$1 kind=$2 path=$3 cookies=$4 filter=$5 started status txid values body headers
  body=$(mktemp)
  headers=$(mktemp)
  started=$(date +%s.%N)
  status=$(curl "${curl_opts[@]}" --max-time 3 -o "$body" -D "$headers" -w '%{http_code}' \
    -H 'Accept: application/json' ${cookies:+-H "Cookie: $cookies"} "$base$path" 2>/dev/null || true)
  [[ $status =~ ^[0-9]{3}$ ]] || status=000
  txid=$(header x-mysetlist-txid "$headers")
  values=-
  if [[ $status == 200 ]]; then
    values=$(jq -r "$filter" "$body" 2>/dev/null || echo invalid-json)
    values=${values:--}
  fi
  rm -f "$body" "$headers"
  printf '%s %s %s %s %s %s\n' "$node" "$started" "$kind" "$status" "$txid" "$values"
}

read_both() { # COOKIES SHOW_ID NODE
  read_one "$3" session "/api/v1/shows/$2" "$1" '(.my_votes // []) | map(tostring) | sort | join(",")'
  read_one "$3" ranking "/api/v1/shows/$2/ranking" "" \
    "[($items)[] | \"\\(.song_id):\\(.votes)\"] | join(\",\")"
}

case $command in
wait-ready)
  timeout=${1:-60}
  deadline=$((SECONDS + timeout))
  until [[ $(curl "${curl_opts[@]}" -o /dev/null -w '%{http_code}' "$base/readyz" 2>/dev/null || true) == 200 ]]; do
    ((SECONDS < deadline)) || die "$base/readyz did not answer 200 within ${timeout}s"
    sleep 0.2
  done
  ;;

wait-live)
  timeout=${1:-60}
  deadline=$((SECONDS + timeout))
  until [[ $(curl "${curl_opts[@]}" -o /dev/null -w '%{http_code}' "$base/livez" 2>/dev/null || true) == 200 ]]; do
    ((SECONDS < deadline)) || die "$base/livez did not answer 200 within ${timeout}s"
    sleep 0.2
  done
  ;;

signup)
  [[ $# -eq 2 ]] || die "usage: signup EMAIL PASSWORD"
  # Sign-up answers 202 alike for new and taken addresses and starts no session: sign in after it.
  headers=$(mktemp)
  payload=$(jq -cn --arg email "$1" --arg password "$2" '{email: $email, password: $password, display_name: ($email | split("@")[0])}')
  login=$(jq -cn --arg email "$1" --arg password "$2" '{email: $email, password: $password}')
  status=$(curl "${curl_opts[@]}" -o /dev/null -w '%{http_code}' \
    -H 'Content-Type: application/json' -H "Origin: $base" \
    --data "$payload" "$base/api/v1/auth/signup") || {
    rm -f "$headers"
    die "signup: connection failed"
  }
  if [[ $status != 2?? ]]; then
    rm -f "$headers"
    echo "mysetlist-client: signup answered $status" >&2
    exit 1
  fi
  status=$(curl "${curl_opts[@]}" -o /dev/null -D "$headers" -w '%{http_code}' \
    -H 'Content-Type: application/json' -H "Origin: $base" \
    --data "$login" "$base/api/v1/auth/login") || {
    rm -f "$headers"
    die "signup: sign-in connection failed"
  }
  cookies=$(grep -i '^set-cookie:' "$headers" | sed -E 's/^[^:]*:[[:space:]]*([^;]*).*/\1/' | tr -d '\r' | paste -sd ';' - | sed 's/;/; /g')
  rm -f "$headers"
  if [[ $status != 2?? ]]; then
    echo "mysetlist-client: sign-in after signup answered $status" >&2
    exit 1
  fi
  [[ -n $cookies ]] || die "sign-in answered $status but set no cookie"
  printf '%s\n' "$cookies"
  ;;

show)
  id=$(get_json /api/v1/shows | jq -r "($items) | first | .id // empty")
  [[ -n $id ]] || die "GET /api/v1/shows listed no show"
  printf '%s\n' "$id"
  ;;

songs)
  [[ $# -eq 1 ]] || die "usage: songs SHOW_ID"
  get_json "/api/v1/shows/$1/ranking" | jq -r "($items)[] | .song_id"
  ;;

vote)
  [[ $# -eq 3 ]] || die "usage: vote COOKIES SHOW_ID SONG_ID"
  status=$(curl "${curl_opts[@]}" -o /dev/null -w '%{http_code}' -X POST \
    -H "Cookie: $1" -H "Origin: $base" -H 'Content-Type: application/json' --data '{}' \
    "$base/api/v1/shows/$2/songs/$3/vote") || die "vote: connection failed"
  if [[ $status != 2?? ]]; then
    echo "mysetlist-client: vote answered $status" >&2
    exit 1
  fi
  ;;

vote-set)
  [[ $# -eq 3 ]] || die "usage: vote-set COOKIES SHOW_ID SONG_ID"
  headers=$(mktemp)
  status=$(curl "${curl_opts[@]}" -o /dev/null -D "$headers" -w '%{http_code}' -X PUT \
    -H "Cookie: $1" -H "Origin: $base" "$base/api/v1/shows/$2/songs/$3/vote") || {
    rm -f "$headers"
    die "vote-set answered 000 retry-after=- x-mysetlist-role=- (connection failed)"
  }
  if [[ $status != 2?? ]]; then
    echo "mysetlist-client: vote-set answered $status retry-after=$(header retry-after "$headers")" \
      "x-mysetlist-role=$(header x-mysetlist-role "$headers")" >&2
    rm -f "$headers"
    exit 1
  fi
  rm -f "$headers"
  ;;

my-votes)
  [[ $# -eq 2 ]] || die "usage: my-votes COOKIES SHOW_ID"
  body=$(mktemp)
  status=$(curl "${curl_opts[@]}" -o "$body" -w '%{http_code}' -H 'Accept: application/json' -H "Cookie: $1" \
    "$base/api/v1/shows/$2") || {
    rm -f "$body"
    die "my-votes: connection failed"
  }
  if [[ $status != 200 ]]; then
    echo "mysetlist-client: GET /api/v1/shows/$2 answered $status" >&2
    rm -f "$body"
    exit 1
  fi
  jq -r '.my_votes[]' "$body"
  rm -f "$body"
  ;;

votes)
  [[ $# -eq 2 ]] || die "usage: votes SHOW_ID SONG_ID"
  get_json "/api/v1/shows/$1/ranking" |
    jq -r --arg song "$2" "[($items)[] | select((.song_id | tostring) == \$song) | .votes] | first // 0"
  ;;

read)
  [[ $# -eq 3 ]] || die "usage: read COOKIES SHOW_ID NODE"
  read_both "$@"
  ;;

read-loop)
  [[ $# -eq 5 || $# -eq 6 ]] || die "usage: read-loop COOKIES SHOW_ID NODE LOG STOP_FILE [ROUNDS]"
  rounds=${6:-100000}
  for ((round = 0; round < rounds; round++)); do
    [[ -e $5 ]] && break
    read_both "$1" "$2" "$3" >>"$4"
    sleep 0.05
  done
  ;;

*)
  die "unknown command: $command"
  ;;
esac
