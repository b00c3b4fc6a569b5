# Warm-standby failover through the S3 lease. Nodes: s3 (MinIO), primary, standby, client.
#
#  1. Votes acknowledged by the primary (ack = "replicated") appear on the standby, which serves reads.
#  2. The primary crashes (power cut): the standby takes the lease and accepts writes; every
#     acknowledged vote is there, and the primary's session cookies still work (sessions replicate).
#  3. The old primary boots again: the lease is taken, so it follows and refuses writes.
#  4. The new leader is partitioned (block): it steps down when it can no longer renew the lease, the
#     other node takes over; after unblock the old leader refuses writes and follows.
#
# A node "accepts writes" when a signup through it succeeds; a follower answers a write with a non-2xx
# status (it may redirect or return 503, the test only requires that it does not succeed).
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
        replication = common.replication prefix // {
          ack = "replicated";
          sync_interval = "1s";
        };
        failover.lease_ttl = "5s";
      };
    };
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
      environment.systemPackages = [ common.client ];
    };
  };

  testScript = ''
    ${common.pythonHelpers}
    import itertools

    p = "http://primary:8080"
    s = "http://standby:8080"
    password = "a long and decent passphrase"
    probe_ids = itertools.count()


    def write_probe(base):
        """A command that succeeds when a write through BASE succeeds (only the lease holder writes)."""
        return client_cmd(base, "signup", f"probe{next(probe_ids)}@example.test", password)


    s3.start()
    s3.wait_for_unit("minio-bucket.service")
    primary.start()
    primary.wait_for_unit("mysetlist.service")
    wait_ready(primary, p)
    standby.start()
    standby.wait_for_unit("mysetlist.service")
    client.start()
    wait_ready(client, s)

    with subtest("votes acknowledged by the primary reach the standby"):
        cookies = api(client, p, "signup", "fan@example.test", password)
        show = api(client, p, "show")
        songs = api(client, p, "songs", show).splitlines()[:4]
        assert len(songs) == 4, f"the demo show has fewer than 4 songs: {songs}"
        for song in songs[:2]:
            api(client, p, "vote", cookies, show, song)
        for song in songs[:2]:
            wait_votes(client, s, show, song, 1)
        client.fail(write_probe(s))

    with subtest("the primary crashes: the standby takes over with every acknowledged vote"):
        primary.crash()
        client.wait_until_succeeds(write_probe(s), timeout=90)
        for song in songs[:2]:
            assert api(client, s, "votes", show, song) == "1", f"acknowledged vote for {song} lost"
        # Sessions are in the database too: the cookie issued by the old primary still votes.
        api(client, s, "vote", cookies, show, songs[2])
        assert api(client, s, "votes", show, songs[2]) == "1"

    with subtest("the old primary comes back as a follower"):
        primary.start()
        primary.wait_for_unit("mysetlist.service")
        wait_ready(client, p)
        client.fail(write_probe(p))
        wait_votes(client, p, show, songs[2], 1)

    with subtest("a partitioned leader steps down and the other node takes over"):
        standby.block()
        client.wait_until_succeeds(write_probe(p), timeout=90)
        for song in songs[:3]:
            assert api(client, p, "votes", show, song) == "1", f"acknowledged vote for {song} lost"
        api(client, p, "vote", cookies, show, songs[3])
        standby.unblock()
        # Its lease lapsed while it was cut off, so it must not write, and it follows the new leader.
        client.fail(write_probe(s))
        wait_votes(client, s, show, songs[3], 1)
        client.fail(write_probe(s))
  '';
}
