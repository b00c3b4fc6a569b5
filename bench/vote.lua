-- wrk script: every request is a signed-in vote (toggle) by a random user for a random song of the
-- bench show. Files come from bench_seed: BENCH_COOKIES (one `session=TOKEN` per line) and
-- BENCH_SONGS (one song id per line); BENCH_SHOW is the show id.
local threads = 0
local cookies, songs, show = {}, {}, "1"

function setup(thread)
  threads = threads + 1
  thread:set("seed", threads)
end

function init(args)
  for line in io.lines(os.getenv("BENCH_COOKIES")) do cookies[#cookies + 1] = line end
  for line in io.lines(os.getenv("BENCH_SONGS")) do songs[#songs + 1] = line end
  show = os.getenv("BENCH_SHOW") or "1"
  math.randomseed(os.time() * 1000 + (seed or 0))
end

function request()
  local cookie = cookies[math.random(#cookies)]
  local song = songs[math.random(#songs)]
  return wrk.format("POST", "/api/v1/shows/" .. show .. "/songs/" .. song .. "/vote", { ["Cookie"] = cookie }, "")
end
