# What is known about the pinned inputs, in one place (the flake stub reads it).
{
  # nixpkgs f5c082a40f7571c266e74e80ae2e68aadd8a9fc7 is nixos-26.05 ("26.05.10620.f5c082a40f75 (Yarara)"),
  # locked with this narHash in the public flake.lock of Afonenko-QCL-NEGF/qcl-negf-platform. Its rustc
  # could not be read (pkgs/development/compilers/rust at that rev was not available), so it is null:
  # the stub's pkgs.rustc.version throws, and the flake must not build with nixpkgs' rustc.
  nixpkgsRustc = null;
  # rust-overlay 13139aefa973f3d96c60c0fbab801de058ae25ca (oxidecomputer/omicron's flake.lock,
  # lastModified 2026-07-01) carries manifests/stable/1.95.0.nix; the toolchain version is
  # nix/rust-toolchain.toml's channel.
}
