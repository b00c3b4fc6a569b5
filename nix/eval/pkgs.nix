# A stand-in pkgs (from nix-eval-kit): formats.toml with nixpkgs' real type (pkgs/pkgs-lib/formats.nix),
# everything that would build returns a fake store path that records its inputs.
{ lib }:
let
  fakeDrv =
    name: extra:
    {
      type = "derivation";
      inherit name;
      outPath = "/nix/store/00000000000000000000000000000000-${name}";
      meta = { };
    }
    // extra;
in
rec {
  formats.toml =
    { }:
    {
      type =
        let
          valueType =
            lib.types.oneOf [
              lib.types.bool
              lib.types.int
              lib.types.float
              lib.types.str
              lib.types.path
              (lib.types.attrsOf valueType)
              (lib.types.listOf valueType)
            ]
            // {
              description = "TOML value";
            };
        in
        valueType;
      generate = name: value: fakeDrv name { json = builtins.toJSON value; };
    };
  runCommand = name: attrs: script: fakeDrv name { inherit script attrs; };
  writeShellScriptBin = name: text: fakeDrv name { inherit text; meta.mainProgram = name; };
  writeShellScript = name: text: fakeDrv name { inherit text; };
  writeText = name: text: fakeDrv name { inherit text; };
  stdenv = {
    hostPlatform.system = "x86_64-linux";
    buildPlatform = {
      system = "x86_64-linux";
      canExecute = _: true;
    };
  };
  systemd = fakeDrv "systemd-258" { };
  mysetlist = fakeDrv "mysetlist-0.1.0" { meta.mainProgram = "mysetlist"; version = "0.1.0"; };
  python3.withPackages =
    f:
    fakeDrv "python3-env" {
      packages = map (p: p.name) (
        f {
          moto = fakeDrv "moto" {
            optional-dependencies = {
              server = [ (fakeDrv "flask" { }) ];
              s3 = [ (fakeDrv "pyyaml" { }) ];
            };
          };
        }
      );
    };
  runtimeShell = "/nix/store/00000000000000000000000000000000-bash/bin/bash";
  testers.runNixOSTest = args: args;
  path = "/nix/store/00000000000000000000000000000000-nixpkgs";
  writeShellApplication = { name, ... }: fakeDrv name { meta.mainProgram = name; };
  inherit lib;
}
// lib.genAttrs [ "sqlite" "curl" "jq" "openssl" "coreutils" "gnugrep" "gnused" ] (n: {
  type = "derivation";
  name = n;
  outPath = "/nix/store/00000000000000000000000000000000-${n}";
  meta = { };
})
