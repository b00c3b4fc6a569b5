# Builds `mysetlist` with buildRustPackage (no crane: one crate, one binary, and buildRustPackage's
# vendoring from Cargo.lock is all this needs). The flake passes `rustPlatform` and `rustc` made from
# the toolchain in nix/rust-toolchain.toml (rust-overlay); with nixpkgs' own they work too once its
# rustc is new enough (the assert below says when it is not).
#
# Called with `pkgs.callPackage` for the NixOS package (dynamically linked against nixpkgs, what
# pkgs.mysetlist and the module use) and with `pkgsStatic.callPackage` for the container image.
# Static route: pkgsStatic targets musl (x86_64-unknown-linux-musl / aarch64-unknown-linux-musl) and links
# everything statically. The alternative, glibc with `-C target-feature=+crt-static` (what the
# Containerfile uses, because rustup cannot fetch the musl target there), is poorly supported in nixpkgs
# (glibc.static, NSS lookups that dlopen at run time) and does not cross-compile to aarch64 as easily.
# musl's malloc is slow under many threads; the Rust side may install mimalloc as the global allocator,
# which builds from source with `cc` and needs nothing here.
{
  lib,
  rustPlatform,
  rustc,
  stdenv,
  src,
  cargoToml,
  # The checks run the unit tests in the sandbox; the shipped package skips them (they ran in the check).
  doCheck ? false,
  # The VM tests, as passthru.tests (the flake fills them in).
  tests ? { },
}:
let
  requiredRust = cargoToml.package.rust-version;
in
assert lib.assertMsg (lib.versionAtLeast rustc.version requiredRust) ''
  mysetlist: Cargo.toml requires rustc >= ${requiredRust} (package.rust-version), but this nixpkgs
  provides rustc ${rustc.version}. Update the nixpkgs input (`nix flake update nixpkgs`) to a revision
  with a newer rustc, or lower rust-version in Cargo.toml if the code builds with ${rustc.version}.
'';
rustPlatform.buildRustPackage {
  pname = "mysetlist";
  inherit (cargoToml.package) version;
  inherit src doCheck;

  cargoLock.lockFile = ../Cargo.lock;

  passthru = { inherit tests; };

  # The standby applies replicated pages through SQLite's sqlite_dbpage table, which the bundled
  # SQLite compiles only with the first flag; the rest leave out features the app never uses.
  # The same string as .cargo/config.toml, which sets it for plain cargo builds (the source filter
  # leaves .cargo/ out).
  env.LIBSQLITE3_FLAGS = "-DSQLITE_ENABLE_DBPAGE_VTAB -USQLITE_ENABLE_FTS3 -USQLITE_ENABLE_FTS3_PARENTHESIS -USQLITE_ENABLE_RTREE -USQLITE_SOUNDEX -USQLITE_ENABLE_LOAD_EXTENSION -DSQLITE_OMIT_LOAD_EXTENSION -USQLITE_ENABLE_DBSTAT_VTAB -USQLITE_ENABLE_STAT4";

  # Unit tests only: the integration tests in tests/ need external programs (S3 server, pebble,
  # litestream) that the VM tests and the runnable mirrors cover.
  cargoTestFlags = [ "--lib" ];

  # Only the server binary; helper binaries (if any) stay out of the closure.
  cargoBuildFlags = [
    "--bin"
    "mysetlist"
  ];

  meta = {
    description = cargoToml.package.description;
    homepage = "https://github.com/mysetlist/mysetlist";
    license = lib.licenses.agpl3Only;
    mainProgram = "mysetlist";
    platforms = lib.platforms.linux;
  };
}
