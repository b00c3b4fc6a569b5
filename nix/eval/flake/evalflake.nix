# The flake's outputs against stub inputs: nix-instantiate --eval --strict --json nix/eval/flake/evalflake.nix
{
  libPath ? ../../../../shared/nix-eval-kit/nixpkgs-lib/lib,
  pins ? import ./pins.nix,
}:
let
  flake = import ../../../flake.nix;
  nixpkgs = import ./stubnixpkgs.nix {
    inherit libPath;
    inherit (pins) nixpkgsRustc;
  };
  rust-overlay.overlays.default = nixpkgs.rustOverlay;
  self = flake.outputs { inherit self nixpkgs rust-overlay; };
  inherit (nixpkgs) lib;
  x86 = self.packages.x86_64-linux;
in
{
  outputs = builtins.attrNames self;
  packages = lib.mapAttrs (_: builtins.attrNames) self.packages;
  checks = lib.mapAttrs (_: cs: lib.mapAttrs (_: c: c.name) cs) self.checks;
  srcFiles = x86.default.attrs.src.files;
  env = x86.default.attrs.env;
  toolchain = x86.default.toolchain;
  staticIsStatic = x86.static.attrs.src.files == x86.default.attrs.src.files;
  passthruTests = builtins.attrNames x86.default.tests;
  imageBinary = x86.image.args.contents or null != null;
  overlayProvides = (nixpkgs.legacyPackages.x86_64-linux.appendOverlays [ self.overlays.default ]).mysetlist.name;
  module = builtins.isAttrs self.nixosModules.default && self.nixosModules.mysetlist == self.nixosModules.default;
  devShell = self.devShells.x86_64-linux.default.name;
  formatter = lib.mapAttrs (_: f: f.name) self.formatter;
}
