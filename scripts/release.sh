#!/usr/bin/env bash
# Builds the release artifacts in the layout the Terraform Registry (and any
# provider network mirror) expects, into target/dist/ (or $DIST_DIR):
#
#   terraform-provider-kong_VERSION_linux_amd64.zip   holds terraform-provider-kong_vVERSION
#   terraform-provider-kong_VERSION_manifest.json     protocol_versions ["6.0"]
#   terraform-provider-kong_VERSION_SHA256SUMS        sha256sum of the two above
#   terraform-registry-manifest.json                  the manifest under its repo name
#
# The zip is reproducible (fixed timestamps and modes). Afterwards both
# Terraform cores install the zip from a packed filesystem mirror and read
# the provider's schema, so a broken artifact never leaves this script.
# Signing SHA256SUMS (the registry's .sig) needs the release key and is left
# to the publishing pipeline.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIST="${DIST_DIR:-$ROOT/target/dist}"
NAME=kong
PROJECT="terraform-provider-$NAME"
OS_ARCH=linux_amd64

VERSION="$(awk '
  /^\[/ { in_package = ($0 == "[package]") }
  in_package && /^version *= *"/ { gsub(/^version *= *"|".*$/, ""); print; exit }
' "$ROOT/Cargo.toml")"
[[ -n $VERSION ]] || { echo "release: no [package] version in Cargo.toml" >&2; exit 1; }

log() { printf 'release: %s\n' "$*" >&2; }

log "building $PROJECT $VERSION (release profile)"
cargo build --release -p "$PROJECT" --manifest-path "$ROOT/Cargo.toml"
BINARY="${CARGO_TARGET_DIR:-$ROOT/target}/release/$PROJECT"

rm -rf "$DIST"
mkdir -p "$DIST"
ZIP="${PROJECT}_${VERSION}_${OS_ARCH}.zip"
MANIFEST="${PROJECT}_${VERSION}_manifest.json"
SUMS="${PROJECT}_${VERSION}_SHA256SUMS"

# Timestamps come from the last commit when there is one, so rebuilding the
# same commit gives the same bytes.
EPOCH="$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 315532800)"
python3 - "$BINARY" "$DIST/$ZIP" "${PROJECT}_v${VERSION}" "$EPOCH" <<'PY'
import sys, time, zipfile
binary, out, member, epoch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
info = zipfile.ZipInfo(member, date_time=time.gmtime(max(epoch, 315532800))[:6])
info.external_attr = 0o100755 << 16
info.compress_type = zipfile.ZIP_DEFLATED
with open(binary, "rb") as f, zipfile.ZipFile(out, "w") as z:
    z.writestr(info, f.read(), compresslevel=9)
PY

printf '{\n  "version": 1,\n  "metadata": {\n    "protocol_versions": ["6.0"]\n  }\n}\n' >"$DIST/terraform-registry-manifest.json"
cp "$DIST/terraform-registry-manifest.json" "$DIST/$MANIFEST"
(cd "$DIST" && sha256sum "$ZIP" "$MANIFEST" >"$SUMS")

# Install the zip the way users' Terraform would: from a packed mirror.
CHECK="$(mktemp -d)"
trap 'rm -rf "$CHECK"' EXIT
PACKAGE_DIR="$CHECK/mirror/registry.terraform.io/kong-upgrades/$NAME"
mkdir -p "$PACKAGE_DIR" "$CHECK/work"
cp "$DIST/$ZIP" "$PACKAGE_DIR/"
cat >"$CHECK/terraformrc" <<EOF
disable_checkpoint = true
provider_installation {
  filesystem_mirror {
    path    = "$CHECK/mirror"
    include = ["registry.terraform.io/kong-upgrades/$NAME"]
  }
}
EOF
cat >"$CHECK/work/main.tf" <<EOF
terraform {
  required_providers {
    $NAME = {
      source  = "kong-upgrades/$NAME"
      version = "$VERSION"
    }
  }
}
EOF
for tf in "$ROOT"/.tools/bin/terraform-1.15.5 "$ROOT"/.tools/bin/terraform-1.0.3; do
  [[ -x $tf ]] || { log "skipping the install check: $tf missing (scripts/install-terraform.sh)"; continue; }
  rm -rf "$CHECK/work/.terraform" "$CHECK/work/.terraform.lock.hcl"
  (
    cd "$CHECK/work"
    export TF_CLI_CONFIG_FILE="$CHECK/terraformrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
    unset TF_PLUGIN_CACHE_DIR TF_DATA_DIR
    "$tf" init -input=false -no-color >/dev/null
    "$tf" providers schema -json | grep -q "\"registry.terraform.io/kong-upgrades/$NAME\""
  ) || { log "$(basename "$tf") cannot install or run $ZIP"; exit 1; }
  log "$(basename "$tf") installs and runs $ZIP"
done

log "artifacts in $DIST:"
(cd "$DIST" && ls -l) >&2
cat "$DIST/$SUMS"
