{
  description = "MySetlist: fans vote on the setlist of upcoming shows; a self-hosted appliance on SQLite";

  # NixOS 26.05 (25.11 is end of life). The Rust toolchain comes from rust-overlay, pinned by
  # nix/rust-toolchain.toml (1.95.0 = Cargo.toml's rust-version): the rustc of the locked 26.05
  # revision could not be confirmed to be >= 1.95 (README, "Building and deploying").
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
  inputs.rust-overlay = {
    url = "github:oxalica/rust-overlay";
    inputs.nixpkgs.follows = "nixpkgs";
  };

  outputs =
    {
      self,
      nixpkgs,
      rust-overlay,
    }:
    let
      inherit (nixpkgs) lib;

      # Linux only: the service is a systemd unit.
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      pkgsFor = lib.genAttrs systems (
        system: nixpkgs.legacyPackages.${system}.appendOverlays [ self.overlays.default ]
      );
      forAllSystems = f: lib.genAttrs systems (system: f pkgsFor.${system});

      cargoToml = lib.importTOML ./Cargo.toml;
      src = import ./nix/source.nix { inherit lib; };

      # The toolchain of nix/rust-toolchain.toml, running on the build machine and targeting the
      # package set's host platform (rust-bin adds the std of stdenv.targetPlatform).
      toolchainFor = pkgs: pkgs.buildPackages.rust-bin.fromRustupToolchainFile ./nix/rust-toolchain.toml;
      buildWith =
        pkgs: args:
        let
          toolchain = toolchainFor pkgs;
        in
        pkgs.callPackage ./nix/package.nix (
          {
            inherit src cargoToml;
            rustc = toolchain;
            rustPlatform = pkgs.makeRustPlatform {
              cargo = toolchain;
              rustc = toolchain;
            };
          }
          // args
        );
    in
    {
      # pkgs.mysetlist (dynamically linked against that nixpkgs), with rust-bin from rust-overlay.
      overlays.default = lib.composeManyExtensions [
        rust-overlay.overlays.default
        (final: prev: {
          mysetlist = buildWith final {
            tests = lib.filterAttrs (name: _: lib.hasPrefix "vm-" name) (
              self.checks.${final.stdenv.hostPlatform.system} or { }
            );
          };
        })
      ];

      packages = forAllSystems (
        pkgs:
        let
          # musl via pkgsStatic, for the container image only.
          static = buildWith pkgs.pkgsStatic { };
        in
        {
          default = pkgs.mysetlist;
          inherit (pkgs) mysetlist;
          inherit static;
          # OCI image: `nix build .#image && podman load < result`
          image = pkgs.callPackage ./nix/image.nix { mysetlist = static; };
          # Litestream 0.5.x, used by the VM tests and the dev shell.
          litestream = pkgs.callPackage ./nix/litestream.nix { };
        }
      );

      # services.mysetlist, with the package defaulting to this flake's build. `key` makes importing
      # both names (or this module twice) one import, not two conflicting package definitions.
      nixosModules.default = {
        key = "mysetlist/nixosModules.default";
        imports = [
          ./nixos/module.nix
          (
            { lib, pkgs, ... }:
            {
              services.mysetlist.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.mysetlist;
            }
          )
        ];
      };
      nixosModules.mysetlist = self.nixosModules.default;

      checks = forAllSystems (
        pkgs:
        import ./nix/checks.nix {
          inherit pkgs src cargoToml;
          mysetlist = pkgs.mysetlist;
          static = self.packages.${pkgs.stdenv.hostPlatform.system}.static;
          native = buildWith pkgs { doCheck = true; };
          toolchain = toolchainFor pkgs;
          litestream = self.packages.${pkgs.stdenv.hostPlatform.system}.litestream;
          mysetlistModule = ./nixos/module.nix;
        }
      );

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [
            (toolchainFor pkgs) # cargo, rustc, clippy, rustfmt 1.95.0
            pkgs.rust-analyzer
            pkgs.sqlite
            pkgs.curl
            pkgs.jq
            pkgs.openssl # test CAs for pebble
            pkgs.pebble
            pkgs.iproute2 # network namespaces for vm-tests/mirror
            pkgs.shellcheck
            pkgs.nixfmt
            self.packages.${pkgs.stdenv.hostPlatform.system}.litestream
          ];
        };
      });

      # `nix fmt`: nixfmt in the RFC 166 style (the package formerly called nixfmt-rfc-style).
      formatter = forAllSystems (pkgs: pkgs.nixfmt);
    };
}
