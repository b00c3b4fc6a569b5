# services.mysetlist: the MySetlist server as a hardened systemd service.
#
# Configuration follows RFC 42: `settings` is rendered to TOML as-is (any key of the config schema may be
# set), with typed options for the keys the module itself depends on. The rendered file is checked at
# build time with `mysetlist check-config`, so a typo fails `nixos-rebuild`, not the running service.
# Secrets never go into `settings` (it lands in the world-readable Nix store): put them in
# `environmentFile` as MYSETLIST_* variables (e.g. MYSETLIST_REPLICATION__SECRET_ACCESS_KEY=...).
{
  config,
  lib,
  pkgs,
  utils,
  ...
}:
let
  inherit (lib)
    mkEnableOption
    mkIf
    mkOption
    types
    ;

  cfg = config.services.mysetlist;
  settingsFormat = pkgs.formats.toml { };

  stateDirectory = lib.removePrefix "/var/lib/" cfg.settings.data_dir;

  # "0.0.0.0:443" -> 443, "[::]:8080" -> 8080
  portOf = address: lib.toInt (lib.last (lib.splitString ":" address));

  configFile = settingsFormat.generate "mysetlist.toml" cfg.settings;

  canRunPackage = pkgs.stdenv.buildPlatform.canExecute pkgs.stdenv.hostPlatform;

  checkedConfigFile =
    if cfg.checkConfig && canRunPackage then
      pkgs.runCommand "mysetlist-checked.toml"
        {
          nativeBuildInputs = [ cfg.package ];
          preferLocalBuild = true;
        }
        ''
          # No MYSETLIST_* variables exist in the build sandbox, so this checks the file alone;
          # secrets from environmentFile are only seen at run time.
          export HOME="$TMPDIR"
          mysetlist check-config --config ${configFile}
          cp ${configFile} "$out"
        ''
    else
      configFile;

  # Runs a subcommand (import, admin, backup, restore, promote, ...) as the service's user, with the same
  # configuration, state directory and secrets. Running the CLI as root instead would leave root-owned
  # files in the state directory that the service can no longer open.
  manage = pkgs.writeShellScriptBin "mysetlist-manage" ''
    exec ${config.systemd.package}/bin/systemd-run \
      --quiet --pipe --pty --wait --collect \
      --service-type=exec \
      --property=DynamicUser=yes \
      --property=User=mysetlist \
      --property=Group=mysetlist \
      --property=StateDirectory=${stateDirectory} \
      --property=UMask=0077 \
      ${lib.optionalString (
        cfg.environmentFile != null
      ) "--property=EnvironmentFile=${toString cfg.environmentFile}"} \
      --setenv=MYSETLIST_CONFIG=${checkedConfigFile} \
      --setenv=MYSETLIST_DATA_DIR=${cfg.settings.data_dir} \
      --working-directory=${cfg.settings.data_dir} \
      -- ${lib.getExe cfg.package} "$@"
  '';
in
{
  options.services.mysetlist = {
    enable = mkEnableOption "MySetlist, the setlist voting server";

    package = mkOption {
      type = types.package;
      description = ''
        The mysetlist package. The flake's `nixosModules.default` sets it to the flake's static build.
      '';
    };

    settings = mkOption {
      description = ''
        Configuration written to the TOML file given to `mysetlist serve --config`. Every key of the
        configuration schema is accepted; unknown keys fail the build (the file is checked with
        `mysetlist check-config`). Do not put secrets here: use {option}`environmentFile`.
      '';
      default = { };
      type = types.submodule {
        freeformType = settingsFormat.type;
        options = {
          data_dir = mkOption {
            type = types.str;
            default = "/var/lib/mysetlist";
            description = ''
              Directory holding the database. Must be below /var/lib: systemd creates it as the
              service's StateDirectory, owned by the service's dynamic user.
            '';
          };
          role = mkOption {
            type = types.enum [
              "primary"
              "standby"
            ];
            default = "primary";
            description = "`primary` serves writes; `standby` follows the replica and takes over when the primary's lease expires.";
          };
          listen = mkOption {
            type = types.str;
            default = "127.0.0.1:8080";
            description = "Plain HTTP listener used when no domain is set (for example behind a reverse proxy).";
          };
          domain = mkOption {
            type = types.listOf types.str;
            default = [ ];
            example = [ "vote.example.org" ];
            description = "Public names. When set, the server obtains certificates over ACME and serves HTTPS itself.";
          };
          https_listen = mkOption {
            type = types.str;
            default = "0.0.0.0:443";
            description = "HTTPS listener, used when a domain is set.";
          };
          http_listen = mkOption {
            type = types.str;
            default = "0.0.0.0:80";
            description = "HTTP listener for ACME HTTP-01 challenges and redirects to HTTPS, used when a domain is set.";
          };
          acme = mkOption {
            default = { };
            description = "ACME settings.";
            type = types.submodule {
              freeformType = settingsFormat.type;
              options.email = mkOption {
                type = types.str;
                default = "";
                example = "admin@example.org";
                description = "Contact address given to the ACME CA (expiry and policy notices).";
              };
            };
          };
          replication = mkOption {
            default = { };
            description = "WAL streaming to S3 (Litestream 0.5 layout).";
            type = types.submodule {
              freeformType = settingsFormat.type;
              options.url = mkOption {
                type = types.str;
                default = "";
                example = "s3://my-bucket/mysetlist";
                description = "Replica location; empty turns replication off.";
              };
            };
          };
        };
      };
    };

    environmentFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = "/run/secrets/mysetlist.env";
      description = ''
        File of MYSETLIST_* environment variables for secrets, for example
        `MYSETLIST_REPLICATION__SECRET_ACCESS_KEY=...` or `MYSETLIST_METRICS__TOKEN=...`. Read by systemd
        as root, so it can be mode 0600. It must not be in the Nix store.
      '';
    };

    extraFlags = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "--demo" ];
      description = "Extra arguments for `mysetlist serve`.";
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Open the listener ports in the firewall: {option}`settings.http_listen` and
        {option}`settings.https_listen` when a domain is set, {option}`settings.listen` otherwise.
      '';
    };

    checkConfig = mkOption {
      type = types.bool;
      default = true;
      description = "Check the rendered configuration with `mysetlist check-config` at build time.";
    };
  };

  config = mkIf cfg.enable {
    assertions = [
      {
        assertion = lib.hasPrefix "/var/lib/" cfg.settings.data_dir && stateDirectory != "";
        message = "services.mysetlist.settings.data_dir must be a directory below /var/lib (it is created as the service's StateDirectory); got ${cfg.settings.data_dir}.";
      }
      {
        assertion =
          cfg.environmentFile == null || !lib.hasPrefix builtins.storeDir (toString cfg.environmentFile);
        message = "services.mysetlist.environmentFile (${toString cfg.environmentFile}) is in the Nix store, which every local user can read; point it at a file outside the store, e.g. /run/secrets/mysetlist.env.";
      }
    ];

    networking.firewall.allowedTCPPorts = mkIf cfg.openFirewall (
      if cfg.settings.domain != [ ] then
        [
          (portOf cfg.settings.http_listen)
          (portOf cfg.settings.https_listen)
        ]
      else
        [ (portOf cfg.settings.listen) ]
    );

    environment.systemPackages = [ manage ];

    systemd.services.mysetlist = {
      description = "MySetlist setlist voting server";
      wantedBy = [ "multi-user.target" ];
      # S3 and the ACME directory are reached at start (restore, lease, certificate).
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];

      environment.MYSETLIST_DATA_DIR = cfg.settings.data_dir;

      serviceConfig = {
        ExecStart = utils.escapeSystemdExecArgs (
          [
            (lib.getExe cfg.package)
            "serve"
            "--config"
            "${checkedConfigFile}"
          ]
          ++ cfg.extraFlags
        );
        EnvironmentFile = mkIf (cfg.environmentFile != null) (toString cfg.environmentFile);

        # The server sends READY=1 once it listens and the database is open, and WATCHDOG=1 every
        # WatchdogSec/2 from its event loop: a hung server is restarted, not left half-alive.
        Type = "notify";
        NotifyAccess = "main";
        WatchdogSec = lib.mkDefault "30s";
        Restart = "on-failure";
        RestartSec = "5s";
        # SIGTERM starts a graceful shutdown (drain requests, ship the WAL, release the lease).
        TimeoutStopSec = "30s";

        # A user allocated when the service starts, owning nothing else on the system.
        DynamicUser = true;
        User = "mysetlist";
        Group = "mysetlist";
        StateDirectory = stateDirectory;
        StateDirectoryMode = "0700";
        WorkingDirectory = cfg.settings.data_dir;
        # Many open SSE streams and S3 connections; the default soft limit is 1024.
        LimitNOFILE = 65536;

        # Only capability: bind ports 80 and 443.
        CapabilityBoundingSet = [ "CAP_NET_BIND_SERVICE" ];
        AmbientCapabilities = [ "CAP_NET_BIND_SERVICE" ];
        NoNewPrivileges = true;
        # PrivateUsers stays off: inside a user namespace CAP_NET_BIND_SERVICE would not apply to the
        # host's network namespace, and ports 80/443 could not be bound.

        # Filesystem: everything read-only except the state directory; no home directories, a private
        # /tmp, no devices besides the pseudo devices.
        ProtectSystem = "strict";
        ProtectHome = true;
        PrivateTmp = true;
        PrivateDevices = true;
        DevicePolicy = "closed";
        # Other processes are hidden in /proc, and only /proc/<pid> entries exist.
        ProtectProc = "invisible";
        ProcSubset = "pid";

        ProtectKernelTunables = true;
        ProtectKernelModules = true;
        ProtectKernelLogs = true;
        ProtectControlGroups = true;
        ProtectClock = true;
        ProtectHostname = true;

        # IPv4/IPv6 for clients, S3 and ACME; AF_UNIX for sd_notify and the journal.
        RestrictAddressFamilies = [
          "AF_INET"
          "AF_INET6"
          "AF_UNIX"
        ];
        RestrictNamespaces = true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        LockPersonality = true;
        # No JIT anywhere in the binary, so no writable+executable memory is needed.
        MemoryDenyWriteExecute = true;
        RemoveIPC = true;

        SystemCallArchitectures = "native";
        # What ordinary services use, minus privileged calls (mount, chown, setuid, ...) and resource
        # control (setrlimit, setpriority, sched_setaffinity, ...).
        SystemCallFilter = [
          "@system-service"
          "~@privileged"
          "~@resources"
        ];
        # A filtered call fails with EPERM (and is logged by the server) instead of killing it.
        SystemCallErrorNumber = "EPERM";
        # Database, WAL and certificates are readable by the service user only.
        UMask = "0077";
      };
    };
  };
}
