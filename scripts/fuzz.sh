#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time each (not part of CI: it needs the nightly
# toolchain and minutes of CPU). Installs cargo-fuzz (pinned) on first use. A crash stops the run and
# leaves the input under fuzz/artifacts/<target>/; reproduce with
#   cargo +nightly fuzz run --fuzz-dir fuzz <target> fuzz/artifacts/<target>/<crash-file>
# Usage: scripts/fuzz.sh [seconds per target, default 60] [target ...]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/pins.sh
source scripts/pins.sh
seconds=${1:-60}
shift || true
if ! cargo install --list | grep -q "^cargo-fuzz v$CARGO_FUZZ_VERSION:"; then
  cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi
targets=("$@")
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(cargo +nightly fuzz list --fuzz-dir fuzz)
fi

# Seeds: small valid inputs of each kind, so the fuzzer starts from real documents.
mkdir -p fuzz/corpus/config_toml fuzz/corpus/json_bodies fuzz/corpus/page_forms fuzz/corpus/ltx_decode
printf 'data_dir = "data"\nlisten = "127.0.0.1:8080"\ndomain = ["a.example"]\npublic_url = "https://a.example"\n[acme]\nemail = "a@b.example"\n[http]\nmax_body_bytes = 1024\n[sessions]\nidle_timeout = "14d"\n' \
  >fuzz/corpus/config_toml/seed-basic.toml
printf '{"email":"a@b.example","password":"correct horse battery","display_name":"A"}' >fuzz/corpus/json_bodies/signup.json
printf '{"entries":[{"title":"Intro","encore":0,"is_tape":true}]}' >fuzz/corpus/json_bodies/setlist.json
printf '{"artist_id":1,"venue_id":2,"starts_at":"2031-06-01T20:00:00Z"}' >fuzz/corpus/json_bodies/show.json
printf 'csrf=x&artist_id=1&venue_id=2&starts_at=2031-06-01T20%%3A00&title=T&status=upcoming' >fuzz/corpus/page_forms/show
printf 'csrf=x&setlist=Intro%%0Atape%%3A+X%%0AEncore%%3A%%0A*+Last+%%7C+cover%%3A+Y' >fuzz/corpus/page_forms/setlist
printf 'name=Hall&city=Leeds&country=GB&timezone=Europe%%2FLondon&latitude=53.8&longitude=-1.5' >fuzz/corpus/page_forms/venue
printf 'title=Song&duration=3%%3A45&popularity=10&is_live=1' >fuzz/corpus/page_forms/song
printf 'LTX1' >fuzz/corpus/ltx_decode/magic

for t in "${targets[@]}"; do
  echo "==> fuzzing $t for ${seconds}s"
  status=0
  cargo +nightly fuzz run --fuzz-dir fuzz "$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 \
    >"fuzz/$t.log" 2>&1 || status=$?
  grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs|SUMMARY|thread .* panicked)' "fuzz/$t.log" || true
  if ((status != 0)); then
    tail -n 40 "fuzz/$t.log"
    echo "fuzz target $t found a crash: see fuzz/$t.log and fuzz/artifacts/$t/"
    exit 1
  fi
done
echo "fuzzing done: ${#targets[@]} targets, ${seconds}s each"
