# services.mysetlist: the MySetlist server as a hardened systemd service.
#
# Configuration follows RFC 42: `settings` is rendered to TOML as-is (any key of the config schema may be
# set), with typed options for the keys the module itself depends on. The rendered file is checked at
# build time with `mysetlist check-config`, so a typo fails `nixos-rebuild`, not the running service.
# Secrets never go into `settings` (it lands in the world-readable Nix store): `secretFiles` hands
# files to the service as systemd credentials (LoadCredential=, read by PID 1 as root, so the file may
# be root-only 0400) and points MYSETLIST_<SECTION>__<KEY>_FILE at them; the build-time check never
# reads them. Modelled on services.forgejo.secrets.
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

  dataDir = cfg.settings.data_dir;
  # Below /var/lib: a StateDirectory owned by a DynamicUser. Elsewhere (a separate disk, /srv/...):
  # a static system user, the directory made by tmpfiles and opened up with ReadWritePaths.
  inStateDir = lib.hasPrefix "/var/lib/" dataDir && lib.removePrefix "/var/lib/" dataDir != "";
  stateDirectory = lib.removePrefix "/var/lib/" dataDir;
  # Where a database must never go: not persistent, not writable, or someone else's.
  forbiddenDataDirs = [
    builtins.storeDir
    "/nix"
    "/etc"
    "/usr"
    "/proc"
    "/sys"
    "/dev"
    "/run"
    "/tmp"
    "/boot"
    "/bin"
  ];
  dataDirAllowed =
    lib.hasPrefix "/" dataDir
    && dataDir != "/"
    && !lib.hasInfix "/../" "${dataDir}/"
    && !lib.any (d: dataDir == d || lib.hasPrefix "${d}/" dataDir) forbiddenDataDirs;

  # The keys src/config/mod.rs (SECRET_KEYS) reads from `<VAR>_FILE`; scripts/check-nix-eval.sh
  # checks that the two lists agree.
  secretKeys = [
    "replication.access_key_id"
    "replication.secret_access_key"
    "metrics.token"
    "import.setlistfm_api_key"
    "alerts.webhook_url"
    "telemetry.sentry_dsn"
    "smtp.password"
  ];
  # secretFiles.<section>.<key> = path  ->  { name = "<section>.<key>"; env; path; }
  secrets = lib.concatLists (
    lib.mapAttrsToList (
      section: keys:
      lib.mapAttrsToList (key: path: {
        name = "${section}.${key}";
        env = "MYSETLIST_${lib.toUpper section}__${lib.toUpper key}_FILE";
        inherit path;
      }) keys
    ) cfg.secretFiles
  );
  unknownSecrets = lib.filter (s: !lib.elem s.name secretKeys) secrets;
  # A path literal (./s3-secret) or a store path is copied to / lives in the world-readable store.
  storeSecrets = lib.filter (
    s: builtins.isPath s.path || lib.hasPrefix builtins.storeDir (toString s.path)
  ) secrets;
  # `<key>_file` inside settings: check-config would read that file in the build sandbox.
  fileKeysInSettings = lib.filter (
    k:
    let
      parts = lib.splitString "." k;
    in
    lib.hasAttrByPath (lib.init parts ++ [ "${lib.last parts}_file" ]) cfg.settings
  ) secretKeys;
  loadCredentials = map (s: "${s.name}:${toString s.path}") secrets;

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
  # Secrets as credentials inside the command, exported the way the service's Environment= does it
  # (%d is not expanded for properties set through systemd-run, so a wrapper reads the directory).
  withCredentials = pkgs.writeShellScript "mysetlist-with-credentials" ''
    ${lib.concatMapStrings (s: ''
      export ${s.env}="$CREDENTIALS_DIRECTORY/${s.name}"
    '') secrets}
    exec ${lib.getExe cfg.package} "$@"
  '';

  # The caller's working directory is the command's (relative paths work) and is writable there;
  # stdin and stdout are the caller's, so `--password-file /dev/stdin < pw` or `-o out.db` work even
  # where the service user cannot read the caller's files (ProtectHome, PrivateTmp).
  manage = pkgs.writeShellScriptBin "mysetlist-manage" ''
    exec ${config.systemd.package}/bin/systemd-run \
      --quiet --pipe --pty --wait --collect \
      --service-type=exec \
      ${
        if inStateDir then
          "--property=DynamicUser=yes --property=StateDirectory=${stateDirectory}"
        else
          "--property=ReadWritePaths=${dataDir}"
      } \
      --property=User=${cfg.user} \
      --property=Group=${cfg.group} \
      --property=UMask=0077 \
      ${lib.optionalString (
        cfg.environmentFile != null
      ) "--property=EnvironmentFile=${toString cfg.environmentFile}"} \
      ${lib.concatMapStringsSep " " (c: "--property=LoadCredential=${c}") loadCredentials} \
      --setenv=MYSETLIST_CONFIG=${checkedConfigFile} \
      --setenv=MYSETLIST_DATA_DIR=${dataDir} \
      --same-dir \
      --property=ReadWritePaths="$PWD" \
      -- ${withCredentials} "$@"
  '';
in
{
  options.services.mysetlist = {
    enable = mkEnableOption "MySetlist, the setlist voting server";

    package = lib.mkPackageOption pkgs "mysetlist" { } // {
      description = ''
        The mysetlist package: `pkgs.mysetlist` (the flake's `overlays.default` provides it). The flake's
        `nixosModules.default` sets it to the flake's build, linked against this nixpkgs.
      '';
    };

    user = mkOption {
      type = types.str;
      default = "mysetlist";
      description = ''
        User the service runs as. A DynamicUser when {option}`settings.data_dir` is below /var/lib, a
        static system user (created by this module) otherwise.
      '';
    };

    group = mkOption {
      type = types.str;
      default = "mysetlist";
      description = "Group the service runs as.";
    };

    secretFiles = mkOption {
      type = types.attrsOf (types.attrsOf types.path);
      default = { };
      example = lib.literalExpression ''
        {
          replication.access_key_id = "/run/secrets/s3-key-id";
          replication.secret_access_key = "/run/secrets/s3-secret";
          metrics.token = "/run/secrets/metrics-token";
        }
      '';
      description = ''
        Secrets read from files, as `<section>.<key> = "/path"` for the configuration's secret keys
        (${lib.concatStringsSep ", " secretKeys}). Each file is handed to the service as a systemd
        credential (`LoadCredential=`, read by the service manager as root, so the file may be owned
        by root with mode 0400) and the server reads it through `MYSETLIST_<SECTION>__<KEY>_FILE`;
        `mysetlist-manage` gets the same. The files are read at run time only, never at build time,
        and must not be in the Nix store.
      '';
    };

    settings = mkOption {
      description = ''
        Configuration written to the TOML file given to `mysetlist serve --config`. Every key of the
        configuration schema is accepted; unknown keys fail the build (the file is checked with
        `mysetlist check-config`). Do not put secrets here (nor `<key>_file` paths, which the build-time
        check cannot read): use {option}`secretFiles`.
      '';
      default = { };
      type = types.submodule {
        freeformType = settingsFormat.type;
        options = {
          data_dir = mkOption {
            type = types.str;
            default = "/var/lib/mysetlist";
            description = ''
              Directory holding the database. Below /var/lib systemd creates it as the service's
              StateDirectory, owned by a dynamic user; anywhere else (a separate disk, /srv/...) the
              module creates it for a static system user and allows writes there (ReadWritePaths).
              Not allowed: relative paths and system directories (/nix, /etc, /run, /tmp, ...).
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
          failover = mkOption {
            default = { };
            description = "Failover settings.";
            type = types.submodule {
              freeformType = settingsFormat.type;
              options.node_id = mkOption {
                type = types.str;
                default = config.networking.hostName;
                defaultText = lib.literalExpression "config.networking.hostName";
                description = ''
                  This node's name in the lease; every node sharing a bucket needs its own. Defaults to
                  the host name, which NixOS hosts already keep unique.
                '';
              };
            };
          };
          metrics = mkOption {
            default = { };
            description = "Metrics settings.";
            type = types.submodule {
              freeformType = settingsFormat.type;
              options.listen = mkOption {
                type = types.str;
                default = "";
                example = "0.0.0.0:9464";
                description = ''
                  Separate listener for `/metrics` (empty: served on the main listener to
                  `metrics.allow`). Opened in the firewall by {option}`openMetricsFirewall`.
                '';
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

    openMetricsFirewall = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Open {option}`settings.metrics.listen`'s port in the firewall (for a Prometheus on another
        host; restrict who may scrape with `settings.metrics.allow` or `secretFiles.metrics.token`).
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
        assertion = dataDirAllowed;
        message = "services.mysetlist.settings.data_dir must be an absolute path outside the system directories (${lib.concatStringsSep ", " forbiddenDataDirs}), e.g. /var/lib/mysetlist or /srv/mysetlist; got ${dataDir}.";
      }
      {
        assertion =
          cfg.environmentFile == null || !lib.hasPrefix builtins.storeDir (toString cfg.environmentFile);
        message = "services.mysetlist.environmentFile (${toString cfg.environmentFile}) is in the Nix store, which every local user can read; point it at a file outside the store, e.g. /run/secrets/mysetlist.env.";
      }
      {
        assertion = storeSecrets == [ ];
        message = "services.mysetlist.secretFiles: ${lib.concatMapStringsSep ", " (s: s.name) storeSecrets} would be read from the Nix store, which every local user can read; give a path outside the store as a string, e.g. \"/run/secrets/s3-secret\".";
      }
      {
        assertion = unknownSecrets == [ ];
        message = "services.mysetlist.secretFiles: ${lib.concatMapStringsSep ", " (s: s.name) unknownSecrets} is not a secret key; the secret keys are ${lib.concatStringsSep ", " secretKeys}.";
      }
      {
        assertion = fileKeysInSettings == [ ];
        message = "services.mysetlist.settings: ${lib.concatMapStringsSep ", " (k: "${k}_file") fileKeysInSettings} names a secret file that the build-time check-config would read in the sandbox, where it does not exist; use services.mysetlist.secretFiles.${lib.head (fileKeysInSettings ++ [ "" ])} = \"/run/secrets/...\" instead.";
      }
    ];

    networking.firewall.allowedTCPPorts =
      lib.optionals cfg.openFirewall (
        if cfg.settings.domain != [ ] then
          [
            (portOf cfg.settings.http_listen)
            (portOf cfg.settings.https_listen)
          ]
        else
          [ (portOf cfg.settings.listen) ]
      )
      ++ lib.optional (cfg.openMetricsFirewall && cfg.settings.metrics.listen != "") (
        portOf cfg.settings.metrics.listen
      );

    environment.systemPackages = [ manage ];

    # Outside /var/lib: a static user owns the directory (a DynamicUser's id may change, and it could
    # not own a directory made beforehand).
    users.users = mkIf (!inStateDir) {
      ${cfg.user} = {
        isSystemUser = true;
        inherit (cfg) group;
        home = dataDir;
      };
    };
    users.groups = mkIf (!inStateDir) { ${cfg.group} = { }; };
    systemd.tmpfiles.rules = mkIf (!inStateDir) [ "d ${dataDir} 0700 ${cfg.user} ${cfg.group} - -" ];

    systemd.services.mysetlist = {
      description = "MySetlist setlist voting server";
      wantedBy = [ "multi-user.target" ];
      # S3 and the ACME directory are reached at start (restore, lease, certificate).
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];

      environment.MYSETLIST_DATA_DIR = dataDir;

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

        LoadCredential = loadCredentials;
        Environment = map (s: "${s.env}=%d/${s.name}") secrets;

        # The server sends READY=1 once it listens and the database is open, and WATCHDOG=1 every
        # WatchdogSec/2 from its event loop: a hung server is restarted, not left half-alive.
        Type = "notify";
        # Before READY=1 a node may restore the whole database from S3 or wait (up to 3 min) for the
        # primary's first backup. While it does, it sends EXTEND_TIMEOUT_USEC every 10 s, so this
        # limit only catches a start that makes no progress at all; it is long enough for a restore
        # without that extension (old builds, a stalled event loop) on a slow link.
        TimeoutStartSec = lib.mkDefault "15min";
        NotifyAccess = "main";
        WatchdogSec = lib.mkDefault "30s";
        Restart = "on-failure";
        RestartSec = "5s";
        # SIGTERM starts a graceful shutdown (drain requests, ship the WAL, release the lease).
        TimeoutStopSec = "30s";

        # A user allocated when the service starts, owning nothing else on the system.
        DynamicUser = inStateDir;
        User = cfg.user;
        Group = cfg.group;
        StateDirectory = mkIf inStateDir stateDirectory;
        StateDirectoryMode = mkIf inStateDir "0700";
        ReadWritePaths = mkIf (!inStateDir) [ dataDir ];
        WorkingDirectory = dataDir;
        # One descriptor per live watcher (the default soft limit is 1024): the server accepts 90 %
        # of this, so 262144 holds the 100,000 watchers of a popular show with room (each ~4 KB).
        LimitNOFILE = 262144;

        # Only capability: bind ports 80 and 443.
        CapabilityBoundingSet = [ "CAP_NET_BIND_SERVICE" ];
        AmbientCapabilities = [ "CAP_NET_BIND_SERVICE" ];
        NoNewPrivileges = true;
        # PrivateUsers stays off: inside a user namespace CAP_NET_BIND_SERVICE would not apply to the
        # host's network namespace, and ports 80/443 could not be bound.

        # Filesystem: everything read-only except the data directory; no home directories, a private
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
