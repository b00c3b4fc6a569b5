# Pieces shared by the VM tests: the API client, an S3 node, a server node and Python helpers.
{
  pkgs,
  # nixos/module.nix
  mysetlistModule,
  # the package under test (the flake's static build)
  mysetlist,
  # a Litestream 0.5.x binary (nix/litestream.nix)
  litestream,
}:
let
  inherit (pkgs) lib;

  # The S3 node runs moto's server (python3Packages.moto with its `server` and `s3` extras): nixpkgs
  # marks MinIO for removal in 26.05, and moto enforces the conditional writes the replication and the
  # lease rely on (a PUT with `If-None-Match: *` on an existing key, or with a stale `If-Match` ETag,
  # gets 412). It is what the runnable mirrors (vm-tests/mirror/lib.sh, start_s3) run too. moto keeps
  # the bucket in memory and does not check signatures: enough for a test bucket on a private network.
  motoServer = pkgs.python3.withPackages (
    ps: [ ps.moto ] ++ ps.moto.optional-dependencies.server ++ ps.moto.optional-dependencies.s3
  );
in
rec {
  client = pkgs.writeShellApplication {
    name = "mysetlist-client";
    runtimeInputs = [
      pkgs.curl
      pkgs.jq
      pkgs.coreutils
      pkgs.gnugrep
      pkgs.gnused
    ];
    text = builtins.readFile ./client.sh;
  };

  inherit litestream;

  s3 = {
    accessKey = "mysetlist-test";
    secretKey = "mysetlist-test-secret";
    bucket = "mysetlist";
    port = 9000;
    # As seen from the other nodes (the test driver puts every node's name in /etc/hosts).
    endpoint = "http://s3:9000";
    region = "us-east-1";
  };

  # The S3 node. `s3-bucket.service` is active once the bucket exists.
  s3Node =
    { pkgs, ... }:
    {
      systemd.services.moto-s3 = {
        description = "S3 test server (moto)";
        wantedBy = [ "multi-user.target" ];
        serviceConfig = {
          ExecStart = "${motoServer}/bin/moto_server -H 0.0.0.0 -p ${toString s3.port}";
          DynamicUser = true;
          Restart = "on-failure";
        };
      };
      networking.firewall.allowedTCPPorts = [ s3.port ];

      systemd.services.s3-bucket = {
        description = "Create the test bucket";
        wantedBy = [ "multi-user.target" ];
        requires = [ "moto-s3.service" ];
        after = [ "moto-s3.service" ];
        path = [ pkgs.curl ];
        serviceConfig = {
          Type = "oneshot";
          RemainAfterExit = true;
        };
        # moto takes about a second to accept requests: retry, bounded.
        script = ''
          for _ in $(seq 1 60); do
            if curl -fsS -X PUT http://127.0.0.1:${toString s3.port}/${s3.bucket}; then exit 0; fi
            sleep 1
          done
          echo "bucket ${s3.bucket} could not be created within 60 s" >&2
          exit 1
        '';
      };
    };

  # `replication` settings pointing at the S3 node, under PREFIX. The secret key comes from a secret
  # file handed over as a systemd credential (serverNode writes it), as it would in production.
  replication = prefix: {
    url = "s3://${s3.bucket}/${prefix}";
    inherit (s3) endpoint region;
    force_path_style = true;
    access_key_id = s3.accessKey;
  };

  # The litestream restore URL for PREFIX and the environment it needs.
  litestreamUrl =
    prefix:
    "s3://${s3.bucket}/${prefix}?endpoint=${s3.endpoint}&region=${s3.region}&forcePathStyle=true";
  litestreamEnv = "AWS_ACCESS_KEY_ID=${s3.accessKey} AWS_SECRET_ACCESS_KEY=${s3.secretKey}";

  # A node running services.mysetlist on 0.0.0.0:8080 (public URL http://NAME:8080), with the client,
  # sqlite3 and litestream installed. `settings` and `extraFlags` are merged into the service's.
  serverNode =
    {
      settings ? { },
      extraFlags ? [ ],
    }:
    { config, ... }:
    {
      imports = [ mysetlistModule ];
      services.mysetlist = {
        enable = true;
        package = mysetlist;
        openFirewall = true;
        inherit extraFlags;
        # Root-only (0400), as a real secret would be: the service reads it as a credential.
        secretFiles.replication.secret_access_key = "/etc/mysetlist/s3-secret";
        settings = lib.recursiveUpdate {
          listen = "0.0.0.0:8080";
          # A default: a test with a domain sets its own public URL.
          public_url = lib.mkDefault "http://${config.networking.hostName}:8080";
          log.level = "info,mysetlist=debug";
        } settings;
      };
      environment.etc."mysetlist/s3-secret" = {
        mode = "0400";
        text = s3.secretKey;
      };
      environment.systemPackages = [
        client
        litestream
        pkgs.sqlite
        pkgs.curl
        pkgs.jq
      ];
      virtualisation.memorySize = 1024;
    };

  # Python helpers prepended to every test script.
  pythonHelpers = ''
    import shlex


    def client_cmd(base, *args, cacert=None):
        """The shell command running mysetlist-client against BASE with ARGS."""
        words = ["mysetlist-client"] + (["--cacert", cacert] if cacert else []) + [base, *args]
        return " ".join(shlex.quote(str(w)) for w in words)


    def api(machine, base, *args, cacert=None):
        """Runs mysetlist-client on MACHINE; returns its output without the trailing newline."""
        return machine.succeed(client_cmd(base, *args, cacert=cacert)).strip()


    def wait_ready(machine, base, timeout=120):
        machine.wait_until_succeeds(client_cmd(base, "wait-ready", "5"), timeout=timeout)


    def wait_votes(machine, base, show, song, expected, timeout=60):
        """Polls until BASE reports EXPECTED votes for SONG on SHOW."""
        machine.wait_until_succeeds(
            f'test "$({client_cmd(base, "votes", show, song)})" = {int(expected)}', timeout=timeout
        )
  '';
}
