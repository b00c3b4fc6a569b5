# ACME against pebble, the way nixpkgs' own ACME tests do it: the `acme` node runs pebble with the test
# CA from nixpkgs (nixos/tests/common/acme/server). That module runs no DNS resolver any more (it fills
# /etc/hosts from security.acme.certs only), so pebble finds the app's domain in the acme node's own
# /etc/hosts, which this test fills (networking.hosts); vm-tests/mirror/acme.sh resolves it the same way. The server obtains a certificate for vote.example.test over TLS-ALPN-01 and
# serves HTTPS itself; the client checks the chain against pebble's issuing root, the HTTP redirect and
# HSTS, and that a restart reuses the stored certificate instead of ordering a new one.
{ pkgs, common }:
let
  domain = "vote.example.test";
  acmeServerModule = pkgs.path + "/nixos/tests/common/acme/server";
in
pkgs.testers.runNixOSTest {
  name = "mysetlist-acme";

  nodes = {
    acme =
      { nodes, ... }:
      {
        imports = [ acmeServerModule ];
        # pebble validates the challenge at the address this node resolves the domain to.
        networking.hosts.${nodes.server.networking.primaryIPAddress} = [ domain ];
      };

    server =
      { config, nodes, ... }:
      {
        imports = [ (common.serverNode { extraFlags = [ "--demo" ]; }) ];
        services.mysetlist.settings = {
          domain = [ domain ];
          public_url = "https://${domain}";
          acme = {
            email = "admin@example.test";
            directory_url = "https://${nodes.acme.test-support.acme.caDomain}/dir";
            # pebble's API listener is signed by the nixpkgs test CA
            ca_file = "${nodes.acme.test-support.acme.caCert}";
            challenge = "tls-alpn-01";
          };
        };
        networking.hosts.${config.networking.primaryIPAddress} = [ domain ];
        networking.hosts.${nodes.acme.networking.primaryIPAddress} = [
          nodes.acme.test-support.acme.caDomain
        ];
      };

    client =
      { nodes, ... }:
      {
        networking.hosts.${nodes.acme.networking.primaryIPAddress} = [
          nodes.acme.test-support.acme.caDomain
        ];
        networking.hosts.${nodes.server.networking.primaryIPAddress} = [ domain ];
        # To fetch pebble's issuing root from its management API over HTTPS.
        security.pki.certificateFiles = [ nodes.acme.test-support.acme.caCert ];
        environment.systemPackages = [
          pkgs.curl
          pkgs.openssl
          common.client
        ];
      };
  };

  testScript =
    { nodes, ... }:
    let
      caDomain = nodes.acme.test-support.acme.caDomain;
    in
    ''
      ${common.pythonHelpers}
      domain = "${domain}"
      base = f"https://{domain}"
      root = "/tmp/pebble-root.pem"

      def served_certificate():
          """SHA-256 fingerprint of the leaf certificate the server presents."""
          return client.succeed(
              f"openssl s_client -connect {domain}:443 -servername {domain} </dev/null 2>/dev/null"
              " | openssl x509 -noout -fingerprint -sha256"
          ).strip()

      acme.start()
      acme.wait_for_unit("pebble.service")
      acme.wait_for_open_port(443)

      server.start()
      client.start()
      server.wait_for_unit("mysetlist.service")

      with subtest("the client fetches pebble's issuing root"):
          # A new root is generated every time pebble starts; it is not the test CA.
          client.wait_until_succeeds(f"curl -fsS -o {root} https://${caDomain}:15000/roots/0", timeout=60)

      with subtest("the server obtains a certificate and serves a chain that verifies"):
          client.wait_until_succeeds(f"curl -fsS --cacert {root} -o /dev/null {base}/readyz", timeout=180)
          client.succeed(
              f"openssl s_client -connect {domain}:443 -servername {domain} -CAfile {root}"
              f" -verify_return_error -verify_hostname {domain} </dev/null"
          )
          issuer = client.succeed(
              f"openssl s_client -connect {domain}:443 -servername {domain} </dev/null 2>/dev/null"
              " | openssl x509 -noout -issuer"
          )
          assert "pebble" in issuer.lower(), issuer

      with subtest("plain HTTP redirects to HTTPS and HTTPS sends HSTS"):
          redirect = client.succeed(
              f"curl -sS -o /dev/null -w '%{{http_code}} %{{redirect_url}}' 'http://{domain}/shows?page=2'"
          ).strip()
          assert redirect == f"308 {base}/shows?page=2", redirect
          client.succeed(
              f"curl -fsS --cacert {root} -D - -o /dev/null {base}/"
              " | grep -i '^strict-transport-security: max-age='"
          )

      with subtest("a vote over HTTPS is counted"):
          cookies = api(client, base, "signup", "fan@example.test", "a long and decent passphrase", cacert=root)
          show = api(client, base, "show", cacert=root)
          song = api(client, base, "songs", show, cacert=root).splitlines()[0]
          before = int(api(client, base, "votes", show, song, cacert=root))  # the demo data has votes
          api(client, base, "vote", cookies, show, song, cacert=root)
          assert int(api(client, base, "votes", show, song, cacert=root)) == before + 1

      with subtest("a restart reuses the stored certificate"):
          before = served_certificate()
          server.systemctl("restart mysetlist.service")
          server.wait_for_unit("mysetlist.service")
          client.wait_until_succeeds(f"curl -fsS --cacert {root} -o /dev/null {base}/readyz", timeout=60)
          assert served_certificate() == before, "a new certificate was ordered after a restart"
    '';
}
