# Every VM test's node configurations through the module (finds conflicting definitions between
# vm-tests/common.nix and a test file), plus each rendered testScript.
{
  libPath ? ../../../shared/nix-eval-kit/nixpkgs-lib/lib,
}:
let
  lib = import libPath;
  pkgs = import ./pkgs.nix { inherit lib; } // {
    path = ./fakenixpkgs;
  };
  ev = import ./eval.nix { inherit libPath; };
  common = import ../../vm-tests/common.nix {
    inherit pkgs;
    mysetlistModule = ../../nixos/module.nix;
    mysetlist = pkgs.mysetlist;
    litestream = pkgs.mysetlist // {
      name = "litestream-0.5.17";
      meta.mainProgram = "litestream";
    };
  };
  # What the test driver passes as `nodes`: the options other nodes read.
  nodesArg = {
    acme = {
      test-support.acme = {
        caDomain = "acme.test";
        caCert = "/nix/store/00000000000000000000000000000000-ca.cert.pem";
      };
      networking.primaryIPAddress = "192.168.1.1";
    };
    server.networking.primaryIPAddress = "192.168.1.2";
  };
  tests = {
    basic = import ../../vm-tests/basic.nix { inherit pkgs common; };
    acme = import ../../vm-tests/acme.nix { inherit pkgs common; };
    backup-restore = import ../../vm-tests/backup-restore.nix { inherit pkgs common; };
    failover = import ../../vm-tests/failover.nix { inherit pkgs common; };
  };
  node =
    name: m:
    ev.report [
      m
      {
        networking.hostName = name;
        _module.args.nodes = nodesArg;
      }
    ];
  script = t: if builtins.isFunction t.testScript then t.testScript { nodes = nodesArg; } else t.testScript;
in
{
  nodes = lib.mapAttrs (_: t: lib.mapAttrs node t.nodes) tests;
  scripts = lib.mapAttrs (_: script) tests;
  nodeNames = lib.mapAttrs (_: t: lib.attrNames t.nodes) tests;
}
