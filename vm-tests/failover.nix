# Warm-standby failover through the S3 lease (ack = "replicated", lease_ttl = 5s). Nodes: s3 (MinIO),
# primary, standby, client. The same scenarios as vm-tests/mirror/failover.sh:
#
#  1. follow: votes acknowledged by the primary appear on the standby, which serves reads, answers
#     writes with 503 + Retry-After + x-mysetlist-role: standby, and is live but not ready.
#  2. kill9: the primary crashes (power cut) under vote load: the standby takes the lease and accepts
#     writes; every acknowledged vote is there, and the primary's session cookies still work.
#  3. rejoin: the old primary boots again: the lease is taken, so it follows and refuses writes.
#  4. partition: the new leader is cut off (block) under load: the other node takes over with every
#     acknowledged vote; after unblock the old leader refuses writes and follows.
#  5. promote: `mysetlist promote` on the follower under load hands over without losing a vote.
#  6. restart: the follower restarts and resumes following from its copy.
#  7. s3-outage: S3 is cut off from both nodes under load: the leader stops leading, both keep serving
#     reads; once S3 is back one node leads again with every acknowledged vote.
#
# A node "accepts writes" when a signup through it succeeds. Loss is checked per (voter, song): every
# vote acknowledged by a node (PUT answered 2xx) must be in the new leader's `my_votes` for that voter.
#
# Through all of it the client reads both nodes over and over (`mysetlist-client read-loop`: a reader
# fan's votes, set once, and the ranking) into /tmp/reads; the script marks each crash, stop, start,
# block and unblock in /tmp/markers; the vote load logs every refused write to /tmp/refused. At the end
# ./read_check.py (shared with the mirror) fails the test if a session read was refused (401/403) or
# returned other votes, a song's count or x-mysetlist-txid went back on one node process, or a write was
# refused other than with 503 + Retry-After + x-mysetlist-role (or a connection failure while the node
# was down or cut off); it prints each node's longest read-unavailable window.
{ pkgs, common }:
let
  prefix = "failover";
  failoverNode =
    {
      role,
      extraFlags ? [ ],
    }:
    common.serverNode {
      inherit extraFlags;
      settings = {
        inherit role;
        # The write probes and the vote load all come from the client's one address.
        rate_limit = {
          signups_per_hour = 100000;
          votes_per_minute = 100000;
        };
        replication = common.replication prefix // {
          ack = "replicated";
          sync_interval = "1s";
        };
        failover.lease_ttl = "5s";
      };
    };

  # vote-load BASE SHOW COOKIES_FILE SONGS_FILE ACKED_FILE STOP_FILE: one loop per line of COOKIES_FILE
  # (a voter) setting its votes on every song over and over, appending "VOTER SONG" to ACKED_FILE for
  # each vote the server acknowledged and "UNIX_TIME NODE STATUS retry-after=V x-mysetlist-role=V" to
  # /tmp/refused for each refusal, until STOP_FILE exists (bounded to 500 rounds).
  voteLoad = pkgs.writeShellScript "vote-load" ''
    set -u
    base=$1 show=$2 cookies=$3 songs=$4 acked=$5 stop=$6
    node=''${base#http://}
    node=''${node%%:*}
    : >"$acked"
    mapfile -t voters <"$cookies"
    mapfile -t list <"$songs"
    for i in "''${!voters[@]}"; do
      (
        for ((round = 0; round < 500; round++)); do
          for song in "''${list[@]}"; do
            [ -e "$stop" ] && exit 0
            if out=$(mysetlist-client "$base" vote-set "''${voters[$i]}" "$show" "$song" 2>&1); then
              echo "$i $song" >>"$acked"
            else
              echo "$(date +%s.%N) $node $(tr '\n' ' ' <<<"''${out##*answered }")" >>/tmp/refused
            fi
          done
        done
      ) &
    done
    wait
  '';
in
pkgs.testers.runNixOSTest {
  name = "mysetlist-failover";

  nodes = {
    s3 = common.s3Node;
    primary = failoverNode {
      role = "primary";
      extraFlags = [ "--demo" ];
    };
    standby = failoverNode { role = "standby"; };
    client = {
      environment.systemPackages = [
        common.client
        pkgs.curl
      ];
    };
  };

  testScript = ''
    ${common.pythonHelpers}
    import itertools
    import time

    ${builtins.readFile ./read_check.py}

    p = "http://primary:8080"
    s = "http://standby:8080"
    password = "a long and decent passphrase"
    probe_ids = itertools.count()


    def write_probe(base):
        """A command that succeeds when a write through BASE succeeds (only the lease holder writes)."""
        return client_cmd(base, "signup", f"probe{next(probe_ids)}@example.test", password)


    def mark(node, event):
        """Marks NODE down (about to be crashed or stopped), up (about to start), cut or heal."""
        client.succeed(f"echo {node} {event} $(date +%s.%N) >> /tmp/markers")


    def http_code(path):
        return client.succeed(f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 {path}").strip()


    def start_load(base, name):
        """Fresh voters sign up on BASE (the leader), so the counts the reader sees climb through every
        switch-over, then set their votes over and over."""
        cookies[:] = [api(client, base, "signup", f"voter{i}-{name}@example.test", password) for i in range(4)]
        client.succeed("rm -f /tmp/cookies")
        for c in cookies:
            client.succeed(f"printf '%s\\n' '{c}' >> /tmp/cookies")
        client.succeed(
            f"rm -f /tmp/stop-load; ${voteLoad} {base} {show} /tmp/cookies /tmp/songs /tmp/acked-{name}"
            " /tmp/stop-load >/dev/null 2>&1 &"
        )
        client.wait_until_succeeds(f"test $(wc -l < /tmp/acked-{name}) -ge 20", timeout=90)


    def stop_load():
        client.succeed("touch /tmp/stop-load")
        client.wait_until_succeeds("! pgrep -f '[v]ote-load'", timeout=60)


    def assert_nothing_lost(base, name):
        """Every acknowledged (voter, song) is in the voter's my_votes on BASE; returns the count."""
        acked = 0
        for i, cookie in enumerate(cookies):
            have = set(api(client, base, "my-votes", cookie, show).split())
            wanted = set(
                client.succeed(f"awk '$1 == {i} {{ print $2 }}' /tmp/acked-{name} | sort -u").split()
            )
            missing = wanted - have
            assert not missing, f"{name}: voter {i} lost acknowledged votes {missing}"
            acked += len(wanted)
        print(f"RESULT {name}: {acked} acknowledged votes, 0 lost")
        return acked


    s3.start()
    s3.wait_for_unit("s3-bucket.service")
    primary.start()
    primary.wait_for_unit("mysetlist.service")
    client.start()
    wait_ready(client, p)
    standby.start()
    standby.wait_for_unit("mysetlist.service")
    # A standby is live (and serves reads) but not ready: /readyz is 200 only on the leader.
    client.wait_until_succeeds(client_cmd(s, "wait-live", "5"), timeout=120)

    show = api(client, p, "show")
    client.wait_until_succeeds(client_cmd(s, "show"), timeout=60)
    songs = api(client, p, "songs", show).splitlines()[:5]
    assert len(songs) >= 4, f"the demo show has fewer than 4 songs: {songs}"
    client.succeed("printf '%s\\n' " + " ".join(songs) + " > /tmp/songs")
    cookies: list[str] = []
    fan = api(client, p, "signup", "fan@example.test", password)

    # The reader fan votes once, then only reads, on both nodes, until the end.
    reader = api(client, p, "signup", "reader@example.test", password)
    reader_votes = sorted([songs[1], songs[3]])
    for song in reader_votes:
        api(client, p, "vote-set", reader, show, song)
    client.wait_until_succeeds(
        f"test \"$({client_cmd(s, 'my-votes', reader, show)} | sort | paste -sd, -)\" = {','.join(reader_votes)}",
        timeout=60,
    )
    client.succeed("rm -f /tmp/reads /tmp/markers /tmp/refused /tmp/stop-reading; touch /tmp/markers /tmp/refused")
    for node, base in (("primary", p), ("standby", s)):
        client.succeed(
            client_cmd(base, "read-loop", reader, show, node, "/tmp/reads", "/tmp/stop-reading", "100000")
            + " >/dev/null 2>&1 &"
        )

    with subtest("follow: votes acknowledged by the primary reach the standby, which refuses writes"):
        api(client, p, "vote-set", fan, show, songs[0])
        wait_votes(client, s, show, songs[0], api(client, p, "votes", show, songs[0]))
        client.fail(write_probe(s))
        headers = client.succeed(
            f"curl -s -o /dev/null -D - -X PUT -H 'Cookie: {fan}' -H 'Origin: {s}'"
            f" {s}/api/v1/shows/{show}/songs/{songs[1]}/vote"
        ).lower()
        assert " 503" in headers.splitlines()[0], headers
        assert "retry-after:" in headers and "x-mysetlist-role: standby" in headers, headers
        assert http_code(f"{p}/readyz") == "200" and http_code(f"{s}/readyz") == "503"
        assert http_code(f"{p}/livez") == "200" and http_code(f"{s}/livez") == "200"
        assert http_code(f"{s}/") == "200"

    with subtest("kill9: the primary crashes under load; the standby takes over with every acknowledged vote"):
        start_load(p, "kill9")
        mark("primary", "down")
        primary.crash()
        t0 = time.monotonic()
        stop_load()
        client.wait_until_succeeds(write_probe(s), timeout=90)
        print(f"RESULT kill9: RTO {time.monotonic() - t0:.1f}s (lease TTL 5s)")
        assert_nothing_lost(s, "kill9")
        # Sessions are in the database too: a cookie issued by the old primary still votes.
        api(client, s, "vote-set", cookies[0], show, songs[1])

    with subtest("rejoin: the old primary comes back as a follower"):
        mark("primary", "up")
        primary.start()
        primary.wait_for_unit("mysetlist.service")
        client.wait_until_succeeds(client_cmd(p, "wait-live", "5"), timeout=120)
        client.fail(write_probe(p))
        api(client, s, "vote-set", fan, show, songs[2])
        wait_votes(client, p, show, songs[2], api(client, s, "votes", show, songs[2]))
        assert http_code(f"{p}/readyz") == "503"

    with subtest("partition: a cut-off leader steps down and the other node takes over"):
        start_load(s, "partition")
        mark("standby", "cut")
        standby.block()
        t0 = time.monotonic()
        client.wait_until_succeeds(write_probe(p), timeout=90)
        print(f"RESULT partition: RTO {time.monotonic() - t0:.1f}s (lease TTL 5s)")
        stop_load()
        assert_nothing_lost(p, "partition")
        api(client, p, "vote-set", fan, show, songs[3])
        standby.unblock()
        mark("standby", "heal")
        # Its lease lapsed while it was cut off, so it must not write, and it follows the new leader.
        client.fail(write_probe(s))
        wait_votes(client, s, show, songs[3], api(client, p, "votes", show, songs[3]))
        client.fail(write_probe(s))

    with subtest("promote: a planned switch-over to the follower loses no write"):
        start_load(p, "promote")
        t0 = time.monotonic()
        standby.succeed("mysetlist-manage promote --timeout 60s")
        print(f"RESULT promote: switch-over took {time.monotonic() - t0:.1f}s")
        stop_load()
        client.succeed(write_probe(s))
        client.fail(write_probe(p))
        assert_nothing_lost(s, "promote")

    with subtest("restart: the follower restarts and resumes following from its copy"):
        mark("primary", "down")
        primary.succeed("systemctl stop mysetlist.service")
        mark("primary", "up")
        primary.succeed("systemctl start mysetlist.service")
        client.wait_until_succeeds(client_cmd(p, "wait-live", "5"), timeout=120)
        primary.succeed("journalctl -u mysetlist.service --since '-2min' | grep -q 'following from it'")
        api(client, s, "vote-set", fan, show, songs[-1])
        wait_votes(client, p, show, songs[-1], api(client, s, "votes", show, songs[-1]))
        client.fail(write_probe(p))

    with subtest("s3-outage: without S3 the leader stops leading, both nodes serve reads; then one leads again"):
        start_load(s, "s3-outage")
        s3.block()
        t0 = time.monotonic()
        client.wait_until_succeeds(
            f"test \"$(curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 {s}/readyz)\" != 200", timeout=60
        )
        stepdown = time.monotonic() - t0
        client.succeed("sleep 5")  # the outage goes on: both nodes serve reads (the reader checks)
        s3.unblock()
        t0 = time.monotonic()
        client.wait_until_succeeds(f"{write_probe(s)} || {write_probe(p)}", timeout=90)
        back = time.monotonic() - t0
        stop_load()
        leader = s if client.execute(write_probe(s))[0] == 0 else p
        print(f"RESULT s3-outage: /readyz left 200 after {stepdown:.1f}s; writes again {back:.1f}s after S3 came back")
        assert_nothing_lost(leader, "s3-outage")

    with subtest("reads: no read went back or was refused a session; every refused write was a clean 503"):
        client.succeed("touch /tmp/stop-reading")
        client.wait_until_succeeds("! pgrep -f '[r]ead-loop'", timeout=60)
        results, problems = check_all(
            client.succeed("cat /tmp/reads"),
            client.succeed("cat /tmp/markers"),
            client.succeed("cat /tmp/refused"),
            set(reader_votes),
        )
        for line in results:
            print(f"RESULT {line}")
        assert not problems, "\n".join(problems[:20])
  '';
}
