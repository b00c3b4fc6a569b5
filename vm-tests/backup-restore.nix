# Backup and restore through S3 (moto's server from nixpkgs). Votes are acknowledged with ack = "replicated", so
# each acknowledged vote is in the bucket when the API answers. Then the state directory is wiped and the
# service restarted with replication.restore_if_missing = true: the votes come back. The real
# `litestream restore` (0.5.x) restores the same bucket to an identical, intact database, and the
# operator commands (`backup list`, `backup verify`, `restore`) work through `mysetlist-manage`.
{ pkgs, common }:
let
  prefix = "backup-restore";
  litestream = pkgs.lib.getExe common.litestream;
in
pkgs.testers.runNixOSTest {
  name = "mysetlist-backup-restore";

  nodes = {
    s3 = common.s3Node;
    server = common.serverNode {
      extraFlags = [ "--demo" ];
      settings.replication = common.replication prefix // {
        ack = "replicated";
        restore_if_missing = true;
        sync_interval = "1s";
      };
    };
  };

  testScript = ''
    ${common.pythonHelpers}
    base = "http://server:8080"
    state = "/var/lib/private/mysetlist"  # DynamicUser keeps the StateDirectory here
    restore_url = "${common.litestreamUrl prefix}"

    s3.start()
    s3.wait_for_unit("s3-bucket.service")
    server.start()
    server.wait_for_unit("mysetlist.service")
    wait_ready(server, base)

    with subtest("acknowledged votes"):
        cookies = api(server, base, "signup", "fan@example.test", "a long and decent passphrase")
        show = api(server, base, "show")
        songs = api(server, base, "songs", show).splitlines()[:3]
        assert len(songs) == 3, f"the demo show has fewer than 3 songs: {songs}"
        # The demo data has votes of its own: ours come on top.
        before = {song: int(api(server, base, "votes", show, song)) for song in songs}
        for song in songs:
            api(server, base, "vote", cookies, show, song)
        for song in songs:
            assert int(api(server, base, "votes", show, song)) == before[song] + 1

    with subtest("backup list and verify"):
        listing = server.succeed("mysetlist-manage backup list")
        print(listing)
        assert "A restore reaches TXID " in listing, listing
        server.succeed("mysetlist-manage backup verify")

    with subtest("a wiped state directory is restored from the bucket at start"):
        server.systemctl("stop mysetlist.service")
        server.succeed(f"rm -rf {state}")
        server.systemctl("start mysetlist.service")
        server.wait_for_unit("mysetlist.service")
        wait_ready(server, base)
        server.succeed(f"test -s {state}/mysetlist.db")
        for song in songs:
            assert int(api(server, base, "votes", show, song)) == before[song] + 1, f"vote for song {song} lost"
        # The restored database keeps the session: the same cookie still votes.
        api(server, base, "vote", cookies, show, songs[0])
        assert int(api(server, base, "votes", show, songs[0])) == before[songs[0]]
        api(server, base, "vote", cookies, show, songs[0])

    fan_votes = (
        "SELECT count(*) FROM votes JOIN users ON users.id = votes.user_id"
        " WHERE users.email = 'fan@example.test'"
    )

    with subtest("the real litestream restores the same bucket"):
        server.succeed(f"${common.litestreamEnv} ${litestream} restore -o /tmp/litestream.db '{restore_url}'")
        assert server.succeed("sqlite3 /tmp/litestream.db 'PRAGMA integrity_check'").strip() == "ok"
        votes = int(server.succeed(f"sqlite3 /tmp/litestream.db \"{fan_votes}\""))
        assert votes == len(songs), f"litestream's copy holds {votes} votes, expected {len(songs)}"

    with subtest("mysetlist restore writes the same database to a new file"):
        server.succeed(
            "mysetlist-manage restore --from s3://${common.s3.bucket}/${prefix}"
            " -o /var/lib/mysetlist/restore-check.db"
        )
        # Inspect a copy: opening the file in place as root could leave root-owned -wal/-shm files.
        server.succeed(f"cp {state}/restore-check.db /tmp/restore-check.db && rm -f {state}/restore-check.db*")
        assert server.succeed("sqlite3 /tmp/restore-check.db 'PRAGMA integrity_check'").strip() == "ok"
        votes = int(server.succeed(f"sqlite3 /tmp/restore-check.db \"{fan_votes}\""))
        assert votes == len(songs), f"mysetlist restore holds {votes} votes, expected {len(songs)}"
  '';
}
