{
  description = "MySetlist: fans vote on the setlist of upcoming shows; a self-hosted appliance on SQLite";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;

      # Linux only: the service is a systemd unit and the binary is linked statically against musl.
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      cargoToml = lib.importTOML ./Cargo.toml;
      src = import ./nix/source.nix { inherit lib; };

      staticPackage =
        pkgs:
        pkgs.pkgsStatic.callPackage ./nix/package.nix {
          inherit src cargoToml;
        };
    in
    {
      packages = forAllSystems (
        pkgs:
        let
          mysetlist = staticPackage pkgs;
        in
        {
          default = mysetlist;
          inherit mysetlist;
          # OCI image: `nix build .#image && podman load < result`
          image = pkgs.callPackage ./nix/image.nix { inherit mysetlist; };
          # Litestream 0.5.x, used by the VM tests and the dev shell.
          litestream = pkgs.callPackage ./nix/litestream.nix { };
        }
      );

      # services.mysetlist, with the package defaulting to this flake's static build.
      nixosModules.default =
        { lib, pkgs, ... }:
        {
          imports = [ ./nixos/module.nix ];
          services.mysetlist.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };
      nixosModules.mysetlist = self.nixosModules.default;

      checks = forAllSystems (
        pkgs:
        import ./nix/checks.nix {
          inherit pkgs src cargoToml;
          mysetlist = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
          litestream = self.packages.${pkgs.stdenv.hostPlatform.system}.litestream;
          mysetlistModule = ./nixos/module.nix;
        }
      );

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [
            pkgs.cargo
            pkgs.rustc
            pkgs.clippy
            pkgs.rustfmt
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
          RUST_SRC_PATH = "${pkgs.rustPlatform.rustLibSrc}";
        };
      });

      # `nix fmt`: nixfmt in the RFC 166 style (the package formerly called nixfmt-rfc-style).
      formatter = forAllSystems (pkgs: pkgs.nixfmt);
    };
}
