# The NixOS module under lib.evalModules, for realistic configurations and for the ones that must fail.
#   nix-instantiate --eval --strict --json nix/eval/eval.nix -A scenarios.acme
# Each scenario gives the failed assertions, the settings as JSON, the firewall ports and the rendered
# systemd unit (nixos/lib/systemd-lib.nix's rendering of serviceConfig and environment).
{
  libPath ? ../../../shared/nix-eval-kit/nixpkgs-lib/lib,
}:
let
  lib = import libPath;
  pkgs = import ./pkgs.nix { inherit lib; };
  # nixos/lib/utils.nix
  escapeSystemdExecArg =
    arg:
    let
      s =
        if builtins.isPath arg then
          "${arg}"
        else if builtins.isString arg then
          arg
        else if builtins.isInt arg || builtins.isFloat arg || lib.isDerivation arg then
          toString arg
        else
          throw "escapeSystemdExecArg only allows strings, paths, numbers and derivations";
    in
    lib.replaceStrings [ "%" "$" ] [ "%%" "$$" ] (builtins.toJSON s);
  utils.escapeSystemdExecArgs = lib.concatMapStringsSep " " escapeSystemdExecArg;
  # nixos/lib/systemd-lib.nix
  toOption =
    x:
    if x == true then
      "true"
    else if x == false then
      "false"
    else
      toString x;
  attrsToSection =
    as:
    lib.concatStrings (
      lib.concatLists (
        lib.mapAttrsToList (
          name: value: map (x: "${name}=${toOption x}\n") (if lib.isList value then value else [ value ])
        ) as
      )
    );
  eval =
    modules:
    lib.evalModules {
      modules = [
        (import ./stubs.nix { inherit lib; })
        {
          systemd.package = pkgs.systemd;
          _module.args = { inherit pkgs utils; };
        }
      ]
      ++ modules;
    };
  render =
    cfg:
    let
      s = cfg.systemd.services.mysetlist;
    in
    "[Unit]\nDescription=${s.description}\n"
    + lib.concatMapStrings (u: "Wants=${u}\n") s.wants
    + lib.concatMapStrings (u: "After=${u}\n") s.after
    + "\n[Service]\n"
    + lib.concatStrings (
      lib.mapAttrsToList (n: v: "Environment=${builtins.toJSON "${n}=${v}"}\n") s.environment
    )
    + attrsToSection s.serviceConfig;
  report =
    modules:
    let
      cfg = (eval modules).config;
      enabled = cfg.systemd.services ? mysetlist;
    in
    {
      failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) cfg.assertions);
      settingsJSON = builtins.toJSON (cfg.services.mysetlist.settings or null);
      firewall = cfg.networking.firewall.allowedTCPPorts;
      hosts = cfg.networking.hosts;
      unit = if enabled then render cfg else null;
      manageScript = lib.concatMapStrings (p: p.text or "") cfg.environment.systemPackages;
      tmpfiles = cfg.systemd.tmpfiles.rules;
      users = lib.attrNames cfg.users.users;
      services = lib.mapAttrs (_: s: s.serviceConfig.ExecStart or null) cfg.systemd.services;
    };
  module = ../../nixos/module.nix;
  base = {
    services.mysetlist.enable = true;
    services.mysetlist.package = pkgs.mysetlist;
  };
  # The flake's own outputs (flake.nix against the stub inputs evalflake.nix uses): its modules are
  # imported as a user imports them, so a change to flake.nix is what this checks.
  flake =
    let
      stub = import ./flake/stubnixpkgs.nix {
        inherit libPath;
        inherit (import ./flake/pins.nix) nixpkgsRustc;
      };
      self = (import ../../flake.nix).outputs {
        inherit self;
        nixpkgs = stub;
        rust-overlay.overlays.default = stub.rustOverlay;
      };
    in
    self;
in
{
  inherit eval report;
  scenarios = {
    plain = report [
      module
      base
    ];
    acme = report [
      module
      base
      {
        services.mysetlist.openFirewall = true;
        services.mysetlist.settings = {
          domain = [ "vote.example.org" ];
          acme.email = "ops@example.org";
        };
      }
    ];
    s3Secrets = report [
      module
      base
      {
        services.mysetlist.secretFiles = {
          replication.access_key_id = "/run/secrets/s3-key-id";
          replication.secret_access_key = "/run/secrets/s3-secret";
          metrics.token = "/run/secrets/metrics-token";
        };
        services.mysetlist.settings.replication = {
          url = "s3://my-bucket/mysetlist";
          endpoint = "https://s3.example.net";
          region = "eu-central-1";
          ack = "replicated";
        };
      }
    ];
    standby = report [
      module
      base
      {
        networking.hostName = "vote2";
        services.mysetlist.secretFiles.replication.secret_access_key = "/run/secrets/s3-secret";
        services.mysetlist.settings = {
          role = "standby";
          replication.url = "s3://my-bucket/mysetlist";
        };
      }
    ];
    # README, "Behind a reverse proxy": nginx terminates TLS, the app listens on loopback.
    proxy = report [
      module
      base
      {
        services.mysetlist.settings = {
          listen = "127.0.0.1:8080";
          public_url = "https://vote.example.org";
          http.trusted_proxies = [ "127.0.0.1/32" ];
          metrics.listen = "0.0.0.0:9464";
          metrics.allow = [ "10.0.0.0/8" ];
        };
        services.mysetlist.openMetricsFirewall = true;
      }
    ];
    outsideVarLib = report [
      module
      base
      { services.mysetlist.settings.data_dir = "/srv/mysetlist"; }
    ];
    # Both module names imported, as a flake user might: one definition of the package.
    bothModules = report [
      flake.nixosModules.default
      flake.nixosModules.mysetlist
      { services.mysetlist.enable = true; }
    ];
    # Must fail, each with its own message.
    badDataDir = report [
      module
      base
      # A system directory (configuration, not state): the module must refuse it.
      { services.mysetlist.settings.data_dir = "/etc/mysetlist"; }
    ];
    relativeDataDir = report [
      module
      base
      { services.mysetlist.settings.data_dir = "data"; }
    ];
    storeEnv = report [
      module
      base
      { services.mysetlist.environmentFile = "/nix/store/abc-secrets.env"; }
    ];
    storeSecret = report [
      module
      base
      { services.mysetlist.secretFiles.metrics.token = ./pkgs.nix; }
    ];
    unknownSecret = report [
      module
      base
      { services.mysetlist.secretFiles.replication.url = "/run/secrets/url"; }
    ];
    fileInSettings = report [
      module
      base
      { services.mysetlist.settings.replication.secret_access_key_file = "/run/secrets/s3-secret"; }
    ];
  };
}
