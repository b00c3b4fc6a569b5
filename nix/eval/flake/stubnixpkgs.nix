# A stand-in for the nixpkgs and rust-overlay inputs: nixpkgs' real lib, stub packages that record
# their arguments (from nix-eval-kit), rust-bin reading the toolchain file's channel as its version.
{
  libPath,
  nixpkgsRustc,
}:
let
  lib0 = import libPath;
  # fileset.toSource would copy into the store (Debian's Nix 2.8 cannot); keep the file list instead.
  lib = lib0 // {
    fileset = lib0.fileset // {
      toSource =
        { root, fileset }:
        {
          outPath = "/nix/store/00000000000000000000000000000000-source";
          files = map (p: lib0.removePrefix (toString root + "/") (toString p)) (lib0.fileset.toList fileset);
        };
    };
  };
  fakeDrv =
    name: extra:
    lib.fix (
      self:
      {
        type = "derivation";
        inherit name;
        outPath = "/nix/store/00000000000000000000000000000000-${name}";
        drvPath = "/nix/store/00000000000000000000000000000000-${name}.drv";
        meta = { };
        overrideAttrs = f: self // f self // { overridden = true; };
      }
      // extra
    );
  rustc =
    if nixpkgsRustc == null then
      throw "the flake uses nixpkgs' rustc, whose version at the pinned revision is not confirmed (nix/eval/flake/pins.nix)"
    else
      fakeDrv "rustc-${nixpkgsRustc}" { version = nixpkgsRustc; };
  mkPkgs =
    system: overlays:
    let
      base =
        self:
        {
          inherit lib system;
          path = "/nix/store/00000000000000000000000000000000-nixpkgs";
          callPackage = lib.callPackageWith self;
          buildPackages = self;
          pkgsStatic = self // {
            isStatic = true;
          };
          stdenv = {
            hostPlatform = { inherit system; };
            buildPlatform = {
              inherit system;
              canExecute = _: true;
            };
          };
          stdenvNoCC = self.stdenv // {
            mkDerivation =
              a:
              fakeDrv "${a.pname}-${a.version}" {
                attrs = a;
                inherit (a) version;
                meta = a.meta;
              };
          };
          inherit rustc;
          rust-analyzer = fakeDrv "rust-analyzer" { };
          makeRustPlatform =
            { cargo, rustc }:
            {
              buildRustPackage =
                a:
                fakeDrv "${a.pname}-${a.version}" {
                  attrs = a;
                  inherit (a) version pname;
                  passthru = a.passthru or { };
                  tests = (a.passthru or { }).tests or { };
                  toolchain = rustc.name;
                  meta = a.meta;
                };
            };
          runCommand = name: a: script: fakeDrv name { inherit script; };
          writeShellApplication = a: fakeDrv a.name { meta.mainProgram = a.name; };
          writeShellScript = name: text: fakeDrv name { };
          writeShellScriptBin = name: text: fakeDrv name { meta.mainProgram = name; };
          writeText = name: text: fakeDrv name { };
          mkShell = a: fakeDrv "shell" { attrs = a; };
          fetchurl = a: fakeDrv "src" { inherit (a) url hash; };
          unzip = fakeDrv "unzip" { };
          litestream = fakeDrv "litestream-0.5.17" {
            version = "0.5.17";
            meta.mainProgram = "litestream";
          };
          dockerTools = {
            fakeNss = fakeDrv "fake-nss" { override = a: fakeDrv "fake-nss" { args = a; }; };
            caCertificates = fakeDrv "ca-certificates" { };
            buildLayeredImage = a: fakeDrv "image-${a.name}" { args = a; };
          };
          testers.runNixOSTest = a: fakeDrv "vm-test-run-${a.name}" { test = a; };
          python3.withPackages = f: fakeDrv "python3-env" { };
          formats = (import ../pkgs.nix { inherit lib; }).formats;
        }
        // lib.genAttrs [
          "sqlite"
          "curl"
          "jq"
          "openssl"
          "pebble"
          "iproute2"
          "shellcheck"
          "nixfmt"
          "file"
          "coreutils"
          "gnugrep"
          "gnused"
        ] (n: fakeDrv n { });
      pkgs = lib.fix (lib.extends (lib.composeManyExtensions overlays) base);
    in
    pkgs
    // {
      appendOverlays = more: mkPkgs system (overlays ++ more);
    };
in
{
  inherit lib;
  legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] (s: mkPkgs s [ ]);
  # rust-overlay
  rustOverlay = final: prev: {
    rust-bin.fromRustupToolchainFile =
      path:
      let
        channel = (builtins.fromTOML (builtins.readFile path)).toolchain.channel;
      in
      fakeDrv "rust-minimal-${channel}" { version = channel; };
  };
}
