# `nix flake check`: lint and unit tests in the sandbox, the static build, and every VM test in vm-tests/.
{
  pkgs,
  src,
  cargoToml,
  mysetlist, # the NixOS package (dynamically linked)
  static, # the static package (container image)
  native, # the NixOS package with the unit tests in its check phase
  toolchain, # nix/rust-toolchain.toml's (cargo, clippy, rustfmt)
  litestream,
  mysetlistModule,
}:
let
  inherit (pkgs) lib;

  vmCommon = import ../vm-tests/common.nix {
    inherit
      pkgs
      mysetlistModule
      mysetlist
      litestream
      ;
  };
  vmTest = file: import file {
    inherit pkgs;
    common = vmCommon;
  };
in
{
  unit-tests = native;

  clippy = native.overrideAttrs (old: {
    pname = "mysetlist-clippy";
    nativeBuildInputs = old.nativeBuildInputs ++ [ toolchain ];
    buildPhase = ''
      runHook preBuild
      cargo clippy --offline --all-targets -- -D warnings
      runHook postBuild
    '';
    doCheck = false;
    installPhase = "touch $out";
    dontFixup = true;
  });

  fmt =
    pkgs.runCommand "mysetlist-fmt"
      {
        nativeBuildInputs = [ toolchain ];
      }
      ''
        cp -r ${src} source && chmod -R u+w source && cd source
        export HOME="$TMPDIR"
        cargo fmt --all --check
        touch "$out"
      '';

  # The shipped binary builds, and is really static (no interpreter, no shared libraries).
  static-binary = pkgs.runCommand "mysetlist-static-binary" { nativeBuildInputs = [ pkgs.file ]; } ''
    file -L ${lib.getExe static} | tee /dev/stderr | grep -Eq 'statically linked|static-pie linked'
    touch "$out"
  '';

  vm-basic = vmTest ../vm-tests/basic.nix;
  vm-acme = vmTest ../vm-tests/acme.nix;
  vm-backup-restore = vmTest ../vm-tests/backup-restore.nix;
  vm-failover = vmTest ../vm-tests/failover.nix;
}
