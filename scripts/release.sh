#!/usr/bin/env bash
# Builds the release in the layouts Terraform installs from, into
# target/dist/ (or $DIST_DIR):
#
#   terraform-provider-kong_VERSION_OS_ARCH.zip        one per platform, holds terraform-provider-kong_vVERSION[.exe]
#   terraform-provider-kong_VERSION_manifest.json      protocol_versions ["6.0"]
#   terraform-provider-kong_VERSION_SHA256SUMS         sha256sum of every zip and the manifest
#   terraform-provider-kong_VERSION_SHA256SUMS.sig     binary detached GPG signature of SHA256SUMS
#   terraform-provider-kong_VERSION_signing-key.asc    the ASCII-armoured public key that made it
#   terraform-registry-manifest.json                   the manifest under its repository name
#   mirror/registry.terraform.io/kong-upgrades/kong/   provider network mirror: index.json,
#                                                      VERSION.json (zh: hashes) and the zips
#
# That is what the public registry ingests from a GitHub release, what a
# private registry's download endpoint points at, and what a static HTTPS
# server publishes as a network mirror
# (https://developer.hashicorp.com/terraform/internals/provider-network-mirror-protocol).
#
# Usage:
#   scripts/release.sh                  build this machine's platform, package it, finish
#   scripts/release.sh package OS_ARCH BINARY
#                                       only zip BINARY as OS_ARCH into DIST (one per runner)
#   scripts/release.sh finish           manifest, SHA256SUMS over every zip in DIST,
#                                       signature, public key, mirror layout, install check
# Environment:
#   GPG_FINGERPRINT   the release key (an RSA key: Terraform 1.0 rejects ed25519 keys);
#                     GNUPGHOME is honoured as gpg does; GPG_PASSPHRASE unlocks it
#   UNSIGNED=1        make an unsigned release (no .sig, no key): registries refuse it
#   DIST_DIR          output directory (default target/dist)
#   PROVIDER_BINARY   package this binary instead of building the release profile
#   PYTHON            python interpreter for zipping (default python3)
#
# Zips are reproducible (fixed timestamps and modes). `finish` installs the
# native zip with both Terraform cores from a packed filesystem mirror and
# reads the provider's schema, so a broken artifact never leaves this script.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIST="${DIST_DIR:-$ROOT/target/dist}"
NAME=kong
PROJECT="terraform-provider-$NAME"
SOURCE_ADDRESS="registry.terraform.io/kong-upgrades/$NAME"
PYTHON="${PYTHON:-python3}"

log() { printf 'release: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

VERSION="$(awk '
  /^\[/ { in_package = ($0 == "[package]") }
  in_package && /^version *= *"/ { gsub(/^version *= *"|".*$/, ""); print; exit }
' "$ROOT/Cargo.toml")"
[[ -n $VERSION ]] || die "no [package] version in Cargo.toml"
PREFIX="${PROJECT}_${VERSION}"
MANIFEST="${PREFIX}_manifest.json"
SUMS="${PREFIX}_SHA256SUMS"
KEY_FILE="${PREFIX}_signing-key.asc"

# This machine's platform in Terraform's OS_ARCH spelling.
native_os_arch() {
  local os arch
  case "$(uname -s)" in
    Linux) os=linux ;; Darwin) os=darwin ;; MINGW* | MSYS* | CYGWIN*) os=windows ;;
    *) die "unsupported OS $(uname -s)" ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;;
    *) die "unsupported architecture $(uname -m)" ;;
  esac
  printf '%s_%s\n' "$os" "$arch"
}

# Fails before any build when a signed release cannot be made.
require_signing_key() {
  [[ ${UNSIGNED:-} == 1 ]] && return
  [[ -n ${GPG_FINGERPRINT:-} ]] ||
    die "GPG_FINGERPRINT is not set: registries install only signed releases (UNSIGNED=1 to make an unsigned one)"
  command -v gpg >/dev/null || die "gpg not found (scripts/install-deps.sh installs gnupg)"
  local algorithm
  algorithm="$(gpg --batch --with-colons --list-secret-keys "$GPG_FINGERPRINT" 2>/dev/null |
    awk -F: '$1 == "sec" { print $4; exit }' || true)"
  [[ -n $algorithm ]] || die "no secret key $GPG_FINGERPRINT in ${GNUPGHOME:-~/.gnupg}"
  # OpenPGP algorithm 1 is RSA; Terraform 1.0 refuses others, e.g. ed25519
  # ("unsupported feature: public key type: 22").
  [[ $algorithm == 1 ]] || die "key $GPG_FINGERPRINT is not RSA (OpenPGP algorithm $algorithm): Terraform 1.0 cannot verify it"
}

# package OS_ARCH BINARY: DIST/PREFIX_OS_ARCH.zip holding the binary under
# the name Terraform runs.
package() {
  local os_arch="$1" binary="$2" member="${PROJECT}_v${VERSION}"
  [[ -f $binary ]] || die "$binary not found"
  [[ $os_arch == windows_* ]] && member+=.exe
  mkdir -p "$DIST"
  # Timestamps come from the last commit when there is one, so rebuilding
  # the same commit gives the same bytes.
  local epoch
  epoch="$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 315532800)"
  "$PYTHON" - "$binary" "$DIST/${PREFIX}_${os_arch}.zip" "$member" "$epoch" <<'PY'
import sys, time, zipfile
binary, out, member, epoch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
info = zipfile.ZipInfo(member, date_time=time.gmtime(max(epoch, 315532800))[:6])
info.external_attr = 0o100755 << 16
info.compress_type = zipfile.ZIP_DEFLATED
with open(binary, "rb") as f, zipfile.ZipFile(out, "w") as z:
    z.writestr(info, f.read(), compresslevel=9)
PY
  log "packaged $os_arch"
}

zips() { (cd "$DIST" && ls "${PREFIX}"_*_*.zip 2>/dev/null) || true; }

write_manifests() {
  printf '{\n  "version": 1,\n  "metadata": {\n    "protocol_versions": ["6.0"]\n  }\n}\n' >"$DIST/terraform-registry-manifest.json"
  cp "$DIST/terraform-registry-manifest.json" "$DIST/$MANIFEST"
}

write_sums() {
  # shellcheck disable=SC2046 # one word per zip name, none has spaces
  (cd "$DIST" && sha256sum $(zips) "$MANIFEST" >"$SUMS")
}

# A binary signature: every Terraform core rejects an armoured one ("tag byte
# does not have MSB set").
sign_sums() {
  rm -f "$DIST/$SUMS.sig" "$DIST/$KEY_FILE"
  if [[ ${UNSIGNED:-} == 1 ]]; then
    log "UNSIGNED=1: no signature; registries will refuse this release"
    return
  fi
  local passphrase=()
  if [[ -n ${GPG_PASSPHRASE:-} ]]; then
    passphrase=(--pinentry-mode loopback --passphrase-fd 0)
  fi
  gpg --batch --yes "${passphrase[@]}" --local-user "$GPG_FINGERPRINT" --detach-sign \
    --output "$DIST/$SUMS.sig" "$DIST/$SUMS" <<<"${GPG_PASSPHRASE:-}"
  gpg --batch --armor --export "$GPG_FINGERPRINT" >"$DIST/$KEY_FILE"
  gpg --batch --verify "$DIST/$SUMS.sig" "$DIST/$SUMS" 2>/dev/null ||
    die "the signature just made does not verify"
  log "signed $SUMS with $GPG_FINGERPRINT"
}

# index.json and VERSION.json of the network mirror protocol, the zips
# beside them (VERSION.json's URLs are relative to it).
write_network_mirror() {
  local dir="$DIST/mirror/$SOURCE_ADDRESS"
  rm -rf "$DIST/mirror"
  mkdir -p "$dir"
  printf '{\n  "versions": {\n    "%s": {}\n  }\n}\n' "$VERSION" >"$dir/index.json"
  local zip os_arch entries=()
  for zip in $(zips); do
    cp "$DIST/$zip" "$dir/"
    os_arch="${zip#"${PREFIX}_"}"
    os_arch="${os_arch%.zip}"
    entries+=("$(printf '    "%s": {\n      "url": "%s",\n      "hashes": ["zh:%s"]\n    }' \
      "$os_arch" "$zip" "$(sha256sum "$DIST/$zip" | cut -d' ' -f1)")")
  done
  {
    printf '{\n  "archives": {\n'
    local IFS=$'\n'
    local joined
    joined="$(printf '%s,\n' "${entries[@]}")"
    printf '%s\n' "${joined%,}"
    printf '  }\n}\n'
  } >"$dir/$VERSION.json"
}

# Installs the native zip the way users' Terraform would: from a packed
# filesystem mirror, on each core installed here.
check_install() {
  local zip
  zip="${PREFIX}_$(native_os_arch).zip"
  [[ -f $DIST/$zip ]] || { log "no $zip: install check skipped"; return; }
  local check
  check="$(mktemp -d)"
  # shellcheck disable=SC2064 # expand now: the variable is local
  trap "rm -rf '$check'" EXIT
  mkdir -p "$check/mirror/$SOURCE_ADDRESS" "$check/work"
  cp "$DIST/$zip" "$check/mirror/$SOURCE_ADDRESS/"
  cat >"$check/terraformrc" <<EOF
disable_checkpoint = true
provider_installation {
  filesystem_mirror {
    path    = "$check/mirror"
    include = ["$SOURCE_ADDRESS"]
  }
}
EOF
  cat >"$check/work/main.tf" <<EOF
terraform {
  required_providers {
    $NAME = {
      source  = "kong-upgrades/$NAME"
      version = "$VERSION"
    }
  }
}
EOF
  local tf
  for tf in "$ROOT"/.tools/bin/terraform-1.15.5 "$ROOT"/.tools/bin/terraform-1.0.3; do
    [[ -x $tf ]] || { log "skipping the install check: $tf missing (scripts/install-terraform.sh)"; continue; }
    rm -rf "$check/work/.terraform" "$check/work/.terraform.lock.hcl"
    (
      cd "$check/work"
      export TF_CLI_CONFIG_FILE="$check/terraformrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
      unset TF_PLUGIN_CACHE_DIR TF_DATA_DIR
      "$tf" init -input=false -no-color >/dev/null
      "$tf" providers schema -json | grep -q "\"$SOURCE_ADDRESS\""
    ) || die "$(basename "$tf") cannot install or run $zip"
    log "$(basename "$tf") installs and runs $zip"
  done
}

finish() {
  [[ -n $(zips) ]] || die "no ${PREFIX}_OS_ARCH.zip in $DIST: run \`$0 package\` first"
  require_signing_key
  write_manifests
  write_sums
  sign_sums
  write_network_mirror
  check_install
  log "artifacts in $DIST:"
  (cd "$DIST" && ls -l) >&2
  cat "$DIST/$SUMS"
}

build_native() {
  local binary="${PROVIDER_BINARY:-}"
  if [[ -z $binary ]]; then
    log "building $PROJECT $VERSION (release profile)"
    cargo build --release -p "$PROJECT" --manifest-path "$ROOT/Cargo.toml"
    binary="${CARGO_TARGET_DIR:-$ROOT/target}/release/$PROJECT"
  fi
  rm -rf "$DIST"
  package "$(native_os_arch)" "$binary"
}

case "${1:-all}" in
  package)
    [[ $# -eq 3 ]] || die "usage: $0 package OS_ARCH BINARY"
    package "$2" "$3"
    ;;
  finish) finish ;;
  all)
    require_signing_key
    build_native
    finish
    ;;
  *) die "unknown command $1 (package, finish or none)" ;;
esac
