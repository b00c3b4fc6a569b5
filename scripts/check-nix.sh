#!/usr/bin/env bash
# Static checks of the Nix side that need no nixpkgs (nixpkgs cannot be fetched in CI):
#   - every .nix file parses (nix-instantiate --parse, Debian's nix-bin),
#   - flake.lock is a version 7 lock with a pinned nixpkgs,
#   - the shell scripts the VM tests and mirrors use pass shellcheck.
# Exits non-zero on the first kind of failure, after reporting every file that failed.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in nix-instantiate jq shellcheck; do
  command -v "$tool" >/dev/null || {
    echo "check-nix: $tool is missing; run scripts/install-test-deps.sh" >&2
    exit 2
  }
done

# Debian's nix-bin warns on every call that the nixbld group does not exist; nothing is built here.
export NIX_CONFIG='build-users-group ='

failed=0
count=0
broken=0
while IFS= read -r -d '' file; do
  count=$((count + 1))
  if ! err=$(nix-instantiate --parse "$file" 2>&1 >/dev/null); then
    echo "check-nix: $file does not parse:" >&2
    echo "$err" >&2
    broken=$((broken + 1))
    failed=1
  fi
done < <(find . \( -path ./target -o -path ./.git -o -path ./data \) -prune -o -name '*.nix' -type f -print0 | sort -z)
((count > 0)) || {
  echo "check-nix: no .nix files found" >&2
  exit 1
}
echo "check-nix: $((count - broken)) of $count .nix files parse"

lock_ok=$(jq -r '
  .version == 7
  and .nodes.root.inputs.nixpkgs == "nixpkgs"
  and (.nodes.nixpkgs.locked | .type == "github" and .owner == "NixOS" and .repo == "nixpkgs"
       and (.rev | test("^[0-9a-f]{40}$")) and (.narHash | startswith("sha256-")))
' flake.lock 2>&1) || lock_ok="unreadable: $lock_ok"
if [[ $lock_ok != true ]]; then
  echo "check-nix: flake.lock is not a version 7 lock with a pinned nixpkgs ($lock_ok)" >&2
  failed=1
else
  echo "check-nix: flake.lock pins nixpkgs $(jq -r '.nodes.nixpkgs.locked.rev' flake.lock)"
fi

mapfile -t scripts < <(find vm-tests scripts -name '*.sh' -type f | sort)
if ((${#scripts[@]})); then
  if shellcheck -x "${scripts[@]}"; then
    echo "check-nix: ${#scripts[@]} shell scripts pass shellcheck"
  else
    failed=1
  fi
fi

exit "$failed"
