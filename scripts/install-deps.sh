#!/usr/bin/env bash
# Installs the Debian packages the tests, the demo and the Terraform installer
# need, and nothing that is already there. Safe to run any number of times.
#
# The real components (PostgreSQL, haproxy, nginx, Prometheus, sshd) are run
# by the tests as plain processes on 127.0.0.1, each in its own temp dir, so
# this script makes sure the packages do NOT leave system services running:
# service starts are refused through policy-rc.d while installing, and any
# service a freshly installed package still managed to start is stopped.
#
# Needs root (or passwordless sudo) only when something is missing.
set -euo pipefail

PACKAGES=(
  postgresql haproxy nginx prometheus openssh-server openssh-client wrk
  gcc libc6-dev binutils make python3 python3-pip ca-certificates openssl time gnupg
  shellcheck
)
# Services Debian's maintainer scripts would start for the packages above.
declare -A SERVICE_OF=(
  [postgresql]=postgresql [haproxy]=haproxy [nginx]=nginx
  [prometheus]=prometheus [openssh-server]=ssh
)

log() { printf 'install-deps: %s\n' "$*" >&2; }

is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  log "all packages present"
  exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { log "error: need root to install: ${missing[*]}"; exit 1; }
  SUDO=(sudo -n)
fi

# Refuse service starts during the install unless the machine already has a
# policy (container images usually do). Removed again on exit.
POLICY=/usr/sbin/policy-rc.d
created_policy=false
if [[ ! -e $POLICY ]]; then
  printf '#!/bin/sh\n# installed by install-deps.sh for the duration of apt-get\nexit 101\n' |
    "${SUDO[@]}" tee "$POLICY" >/dev/null
  "${SUDO[@]}" chmod 0755 "$POLICY"
  created_policy=true
fi
remove_policy() { if $created_policy; then "${SUDO[@]}" rm -f "$POLICY"; fi; }
trap remove_policy EXIT

log "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
  --no-install-recommends -o Dpkg::Options::=--force-confdef \
  -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null

# Belt and braces for machines where a service manager ignored the policy.
if [[ -d /run/systemd/system ]]; then
  for pkg in "${missing[@]}"; do
    service="${SERVICE_OF[$pkg]:-}"
    [[ -n $service ]] || continue
    if systemctl is-active --quiet "$service" 2>/dev/null; then
      log "stopping system service $service started by the package install"
      "${SUDO[@]}" systemctl stop "$service" || true
    fi
  done
fi
log "done"
