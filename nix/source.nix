# The crate's sources, and nothing else: editing the Nix files, the README or the ops/ directory must not
# rebuild the binary. Optional paths use maybeMissing so the filter works before they exist.
{ lib }:
lib.fileset.toSource {
  root = ../.;
  fileset = lib.fileset.unions (
    [
      ../Cargo.toml
      ../Cargo.lock
      ../src
      ../askama.toml # template directories: without it no template compiles
      ../bench # the [[example]] targets (clippy --all-targets, fmt)
    ]
    ++ map lib.fileset.maybeMissing [
      ../build.rs
      ../assets # embedded by rust-embed at compile time
      ../migrations # embedded SQL migrations
      ../tests
      ../benches
      ../examples
      ../README.md # the crate may include_str! it for docs
      ../rustfmt.toml
      ../.rustfmt.toml
      ../clippy.toml
    ]
  );
}
