# One server: the service starts (sd_notify READY), runs unprivileged with only CAP_NET_BIND_SERVICE,
# answers /readyz, counts a vote cast through the JSON API, keeps the watchdog fed, and still has the
# vote after the machine reboots.
#
# Data: `mysetlist serve --demo` seeds the demo catalogue (artists, an upcoming show with songs) into an
# empty database; the test finds the show and its songs through the API, so it does not depend on what
# the demo data contains.
{ pkgs, common }:
pkgs.testers.runNixOSTest {
  name = "mysetlist-basic";

  nodes.server =
    { lib, ... }:
    {
      imports = [ (common.serverNode { extraFlags = [ "--demo" ]; }) ];
      # Short, so that the test can watch several watchdog periods go by.
      systemd.services.mysetlist.serviceConfig.WatchdogSec = lib.mkForce "5s";
    };

  testScript = ''
    ${common.pythonHelpers}
    base = "http://server:8080"

    server.start()
    # Type=notify: the unit is only active once the server has sent READY=1.
    server.wait_for_unit("mysetlist.service")
    wait_ready(server, base)

    with subtest("runs as its own unprivileged user with only CAP_NET_BIND_SERVICE"):
        pid = server.succeed("systemctl show -p MainPID --value mysetlist.service").strip()
        user = server.succeed(f"stat -c %U /proc/{pid}").strip()
        assert user == "mysetlist", f"service runs as {user!r}"
        # bit 10 = CAP_NET_BIND_SERVICE, nothing else
        server.succeed(f"grep -E '^CapEff:\\s+0000000000000400$' /proc/{pid}/status")
        server.succeed("stat -c %a /var/lib/private/mysetlist | grep -x 700")
        print(server.succeed("systemd-analyze security mysetlist.service | tail -n 1"))

    with subtest("a vote through the API is counted"):
        cookies = api(server, base, "signup", "fan@example.test", "a long and decent passphrase")
        show = api(server, base, "show")
        song = api(server, base, "songs", show).splitlines()[0]
        before = int(api(server, base, "votes", show, song))  # the demo dataset already has votes
        api(server, base, "vote", cookies, show, song)
        assert int(api(server, base, "votes", show, song)) == before + 1

    with subtest("the watchdog is fed"):
        # This checks elapsed time itself, so it waits: three 5 s watchdog periods with no restart.
        restarts = server.succeed("systemctl show -p NRestarts --value mysetlist.service").strip()
        server.succeed("sleep 16")
        server.succeed("systemctl is-active mysetlist.service")
        assert server.succeed("systemctl show -p MainPID --value mysetlist.service").strip() == pid
        assert server.succeed("systemctl show -p NRestarts --value mysetlist.service").strip() == restarts

    with subtest("the vote survives a reboot"):
        server.shutdown()
        server.start()
        server.wait_for_unit("mysetlist.service")
        wait_ready(server, base)
        assert int(api(server, base, "votes", show, song)) == before + 1
        # The session cookie is still valid: toggling removes the vote.
        api(server, base, "vote", cookies, show, song)
        assert int(api(server, base, "votes", show, song)) == before

    with subtest("SIGTERM stops the server cleanly"):
        server.succeed("systemctl stop mysetlist.service")
        # It exited by itself with status 0 (code 1 = CLD_EXITED), not killed by the signal or a timeout.
        code = server.succeed("systemctl show -p ExecMainCode --value mysetlist.service").strip()
        status = server.succeed("systemctl show -p ExecMainStatus --value mysetlist.service").strip()
        assert (code, status) == ("1", "0"), f"stopped with code {code}, status {status}"
  '';
}
