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

  # MinIO is a test fixture on the VMs' private network. nixpkgs marks it insecure because upstream
  # stopped maintaining the community server; that does not matter for a throwaway test bucket, and it
  # is the S3 server in nixpkgs that implements the conditional writes (If-None-Match / If-Match) the
  # replication and lease code rely on.
  permitted =
    package:
    package.overrideAttrs (old: {
      meta = (old.meta or { }) // {
        knownVulnerabilities = [ ];
      };
    });
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

  # The S3 node. `minio-bucket.service` is active once the bucket exists.
  s3Node =
    { pkgs, ... }:
    {
      services.minio = {
        enable = true;
        package = permitted pkgs.minio;
        listenAddress = ":${toString s3.port}";
        consoleAddress = "127.0.0.1:9001";
        browser = false;
        inherit (s3) region;
        rootCredentialsFile = pkgs.writeText "minio-credentials" ''
          MINIO_ROOT_USER=${s3.accessKey}
          MINIO_ROOT_PASSWORD=${s3.secretKey}
        '';
      };
      networking.firewall.allowedTCPPorts = [ s3.port ];

      systemd.services.minio-bucket = {
        description = "Create the test bucket";
        wantedBy = [ "multi-user.target" ];
        requires = [ "minio.service" ];
        after = [ "minio.service" ];
        path = [ (permitted pkgs.minio-client) ];
        environment = {
          HOME = "/root"; # mc keeps its configuration under $HOME/.mc
          MC_HOST_s3 = "http://${s3.accessKey}:${s3.secretKey}@127.0.0.1:${toString s3.port}";
        };
        serviceConfig = {
          Type = "oneshot";
          RemainAfterExit = true;
        };
        # MinIO accepts connections a moment before it accepts requests: retry, bounded.
        script = ''
          for _ in $(seq 1 60); do
            if mc mb --ignore-existing s3/${s3.bucket}; then exit 0; fi
            sleep 1
          done
          echo "bucket ${s3.bucket} could not be created within 60 s" >&2
          exit 1
        '';
      };
    };

  # `replication` settings pointing at the S3 node, under PREFIX. The secret key comes from the
  # environment file (serverNode writes it), as it would in production.
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
        # /etc/mysetlist/secrets.env is a copy (mode 0400), not a store symlink target path.
        environmentFile = "/etc/mysetlist/secrets.env";
        settings = lib.recursiveUpdate {
          listen = "0.0.0.0:8080";
          public_url = "http://${config.networking.hostName}:8080";
          log.level = "info,mysetlist=debug";
        } settings;
      };
      environment.etc."mysetlist/secrets.env" = {
        mode = "0400";
        text = ''
          MYSETLIST_REPLICATION__SECRET_ACCESS_KEY=${s3.secretKey}
        '';
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
