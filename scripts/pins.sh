# shellcheck shell=bash
# shellcheck disable=SC2034 # every name here is read by the scripts that source this file
# The version of every tool the scripts install or run, in one place. Sourced by scripts/*.sh,
# bench/pinned.sh and vm-tests/mirror/lib.sh; apt packages are Debian 12's own and not pinned here.
# The Rust tests find these tools under $TOOLS_DIR by the directory names below
# (tests/replicate_support/mod.rs, tests/api/mail.rs), and nix/litestream.nix packages the same
# Litestream release for the NixOS VM tests: change a version, change them too.

TOOLS_DIR="${MYSETLIST_TOOLS_DIR:-$HOME/.cache/mysetlist-tools}"

# S3 servers: s3s-fs (the Rust tests) and moto (the VM-test mirrors, as vm-tests/common.nix).
S3S_FS_VERSION=0.14.1
MOTO_VERSION=5.2.1
CARGO_AUDIT_VERSION=0.22.2
CARGO_FUZZ_VERSION=0.13.1

# The real Litestream: the current release, the older frame-only reader, and v0.3 (generations
# layout), which ships in an npm package of its own.
LITESTREAM_VERSION=0.5.17
LITESTREAM_OLDER_VERSION=0.5.15
LITESTREAM_V3_VERSION=0.3.13
LITESTREAM_V3_NPM=@flydotio/litestream-linux-x64@1.0.1
LITESTREAM_BIN="$TOOLS_DIR/ls-$LITESTREAM_VERSION/bin/litestream"

# A real SMTP server for the mail tests, and its one dependency that needs a pin.
AIOSMTPD_VERSION=1.4.6
ATPUBLIC_VERSION=5.1

SCHEMATHESIS_VERSION=4.32.5
LIGHTHOUSE_VERSION=12.8.2
