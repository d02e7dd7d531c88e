#!/usr/bin/env bash
# Puts a built terraform-provider-kong into a Terraform filesystem mirror
# (unpacked layout, accepted by Terraform 0.13 and later) and writes a CLI
# configuration that installs kong-upgrades/kong from that mirror and every
# other provider as usual:
#
#   DIR/providers/registry.terraform.io/kong-upgrades/kong/VERSION/linux_amd64/terraform-provider-kong_vVERSION
#   DIR/terraformrc
#
# Prints the CLI configuration's path on stdout, so callers can do
#   export TF_CLI_CONFIG_FILE="$(scripts/mirror.sh)"
#
# Usage: scripts/mirror.sh [--dir DIR] [--binary PATH] [--profile debug|release]
#   --dir      where the mirror and its CLI configuration go (default .tools/mirror)
#   --binary   provider executable (default target/PROFILE/terraform-provider-kong)
#   --profile  cargo profile to take the binary from (default debug)
# Environment: CARGO_TARGET_DIR is honoured like cargo does.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.tools/mirror"
PROFILE=debug
BINARY=""

while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) DIR="${2:?--dir needs a path}"; shift 2 ;;
    --binary) BINARY="${2:?--binary needs a path}"; shift 2 ;;
    --profile) PROFILE="${2:?--profile needs a name}"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "mirror: unknown argument: $1" >&2; exit 2 ;;
  esac
done

HOSTNAME_=registry.terraform.io
NAMESPACE=kong-upgrades
TYPE=kong
OS_ARCH=linux_amd64

# The provider's version is the root crate's [package] version.
VERSION="$(awk '
  /^\[/ { in_package = ($0 == "[package]") }
  in_package && /^version *= *"/ { gsub(/^version *= *"|".*$/, ""); print; exit }
' "$ROOT/Cargo.toml")"
[[ -n $VERSION ]] || { echo "mirror: no [package] version in $ROOT/Cargo.toml" >&2; exit 1; }

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BINARY="${BINARY:-$TARGET_DIR/$PROFILE/terraform-provider-$TYPE}"
[[ -x $BINARY ]] || {
  echo "mirror: $BINARY not found; build it first (cargo build -p terraform-provider-kong)" >&2
  exit 1
}

mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
MIRROR="$DIR/providers"
PACKAGE_DIR="$MIRROR/$HOSTNAME_/$NAMESPACE/$TYPE/$VERSION/$OS_ARCH"
mkdir -p "$PACKAGE_DIR"
# Replace, never overwrite in place: a running Terraform may still execute
# the previous binary. Debug info is dropped (symbols stay): Terraform hashes
# the package on every command, and a debug build is ~150 MB of mostly DWARF.
if ! objcopy --strip-debug "$BINARY" "$PACKAGE_DIR/.terraform-provider-$TYPE.tmp" 2>/dev/null; then
  cp "$BINARY" "$PACKAGE_DIR/.terraform-provider-$TYPE.tmp"
fi
mv -f "$PACKAGE_DIR/.terraform-provider-$TYPE.tmp" "$PACKAGE_DIR/terraform-provider-${TYPE}_v$VERSION"

SOURCE="$HOSTNAME_/$NAMESPACE/$TYPE"
cat >"$DIR/terraformrc" <<EOF
# Written by scripts/mirror.sh: $SOURCE comes from the local mirror,
# everything else from its usual origin.
disable_checkpoint = true

provider_installation {
  filesystem_mirror {
    path    = "$MIRROR"
    include = ["$SOURCE"]
  }
  direct {
    exclude = ["$SOURCE"]
  }
}
EOF
printf '%s\n' "$DIR/terraformrc"
