#!/usr/bin/env bash
# Benchmark of issue 2 (`make bench`; figures, not a pass/fail test):
#
#   1. median wall time of `terraform plan` (Terraform 1.15.5) on a
#      configuration with one `data "kong_node"` read against a kongsim node
#      on 127.0.0.1, over RUNS runs (default 10) after one warm-up;
#   2. the provider's peak RSS during such plans;
#   3. the size of the release binary target/release/terraform-provider-kong.
#
# Method. Everything is built with the release profile (kongsim too, so the
# test double's speed does not weigh on the figure). Timed runs use the real
# provider binary in a filesystem mirror. Peak RSS is measured in a second,
# separate set of RUNS plans whose mirror holds a wrapper script that execs
# `/usr/bin/time -f %M -a -o FILE <real provider>`: GNU time waits for the
# provider and reports its own ru_maxrss (the kernel's high-water mark of
# the resident set, in KiB, exact rather than sampled), one line per
# provider process Terraform starts. The wrapper costs a fork and an exec,
# which is why it is kept out of the timed runs.
#
# Usage: benches/provider/plan_bench.sh      Environment: RUNS, KONG_VERSION,
# CARGO_TARGET_DIR.
set -euo pipefail
exec </dev/null

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUNS="${RUNS:-10}"
KONG_VERSION="${KONG_VERSION:-3.6.1}"
RELEASE="${CARGO_TARGET_DIR:-$ROOT/target}/release"
PROVIDER="$RELEASE/terraform-provider-kong"
TERRAFORM="$ROOT/.tools/bin/terraform-1.15.5"

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number, not $RUNS"
[[ -x $TERRAFORM ]] || die "$TERRAFORM missing: run scripts/install-terraform.sh (make terraform)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time missing: run scripts/install-deps.sh (Debian package time)"

log "building release binaries (cargo build --release -p terraform-provider-kong -p kongsim)"
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" -p terraform-provider-kong -p kongsim

WORK="$(mktemp -d -t kong-plan-bench.XXXXXX)"
KONGSIM_PID=""
cleanup() {
  if [[ -n $KONGSIM_PID ]]; then
    kill "$KONGSIM_PID" 2>/dev/null || true
    wait "$KONGSIM_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_kongsim() {
  ADMIN_URL="http://127.0.0.1:$(free_port)"
  "$RELEASE/kongsim" --kong-version "$KONG_VERSION" serve --database off \
    --admin-listen "${ADMIN_URL#http://}" --status-listen "127.0.0.1:$(free_port)" \
    --proxy-listen "127.0.0.1:$(free_port)" >"$WORK/kongsim.log" 2>&1 &
  KONGSIM_PID=$!
  for _ in $(seq 200); do
    grep -qs 'Kong started' "$WORK/kongsim.log" && return
    kill -0 "$KONGSIM_PID" 2>/dev/null || break
    sleep 0.05
  done
  cat "$WORK/kongsim.log" >&2
  die "kongsim did not start"
}

# A working directory whose mirror holds $2 as the provider; prints the CLI
# configuration's path.
prepare() {
  local name="$1" binary="$2"
  mkdir -p "$WORK/$name"
  cat >"$WORK/$name/main.tf" <<EOF
terraform {
  required_providers {
    kong = {
      source  = "kong-upgrades/kong"
      version = "0.1.0"
    }
  }
}

data "kong_node" "this" {
  admin_url = "$ADMIN_URL"
}

output "kong_version" {
  value = data.kong_node.this.version
}
EOF
  local cli_config
  cli_config="$("$ROOT/scripts/mirror.sh" --dir "$WORK/$name/mirror" --binary "$binary")"
  TF_CLI_CONFIG_FILE="$cli_config" "$TERRAFORM" -chdir="$WORK/$name" init -input=false -no-color >"$WORK/$name/init.log" 2>&1 ||
    { cat "$WORK/$name/init.log" >&2; die "terraform init failed"; }
  printf '%s\n' "$cli_config"
}

PLAN_ARGS=(plan -input=false -no-color)
plan_in() {
  TF_CLI_CONFIG_FILE="$1" "$TERRAFORM" -chdir="$2" "${PLAN_ARGS[@]}"
}

export TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1 TF_INPUT=0
unset TF_LOG TF_LOG_PROVIDER TF_LOG_PATH TF_PLUGIN_CACHE_DIR TF_DATA_DIR TF_CLI_ARGS TF_CLI_ARGS_plan

start_kongsim
TIMED_CONFIG="$(prepare timed "$PROVIDER")"

cat >"$WORK/provider-rss-wrapper" <<EOF
#!/bin/sh
exec /usr/bin/time -f %M -a -o "$WORK/rss-kib" "$PROVIDER" "\$@"
EOF
chmod +x "$WORK/provider-rss-wrapper"
RSS_CONFIG="$(prepare rss "$WORK/provider-rss-wrapper")"

# Warm-up (page cache, kongsim's first requests), not counted; it also
# proves the plan really read the node.
warmup="$(plan_in "$TIMED_CONFIG" "$WORK/timed")"
grep -q "kong_version = \"$KONG_VERSION\"" <<<"$warmup" || {
  printf '%s\n' "$warmup" >&2
  die "the plan did not read Kong $KONG_VERSION from kongsim"
}

log "timing $RUNS plans"
times_us=()
for _ in $(seq "$RUNS"); do
  start=$(date +%s%N)
  plan_in "$TIMED_CONFIG" "$WORK/timed" >/dev/null
  end=$(date +%s%N)
  times_us+=($(((end - start) / 1000)))
done

log "measuring the provider's peak RSS over $RUNS more plans"
plan_in "$RSS_CONFIG" "$WORK/rss" >/dev/null # warm-up
: >"$WORK/rss-kib"
for _ in $(seq "$RUNS"); do
  plan_in "$RSS_CONFIG" "$WORK/rss" >/dev/null
done

mapfile -t sorted < <(printf '%s\n' "${times_us[@]}" | sort -n)
n=${#sorted[@]}
if ((n % 2)); then
  median=${sorted[n / 2]}
else
  median=$(((sorted[n / 2 - 1] + sorted[n / 2]) / 2))
fi
ms() { awk -v us="$1" 'BEGIN { printf "%.1f ms", us / 1000 }'; }
mapfile -t rss < <(sort -n "$WORK/rss-kib")
((${#rss[@]} > 0)) || die "no RSS figures: the wrapper never ran"
peak_kib=${rss[${#rss[@]} - 1]}
launches=$((${#rss[@]} / RUNS))
size=$(stat -c %s "$PROVIDER")

echo "command:  TF_CLI_CONFIG_FILE=<mirror> terraform-1.15.5 ${PLAN_ARGS[*]}"
echo "          (one data \"kong_node\" read of kongsim $KONG_VERSION, DB-less, 127.0.0.1; release builds)"
echo "terraform plan median: $(ms "$median") over $RUNS runs after 1 warm-up (min $(ms "${sorted[0]}"), max $(ms "${sorted[n - 1]}"))"
echo "provider peak RSS:     $(awk -v k="$peak_kib" 'BEGIN { printf "%.1f MiB", k / 1024 }') ($peak_kib KiB; max over ${#rss[@]} provider processes, $launches per plan; GNU time ru_maxrss)"
echo "release binary size:   $(awk -v b="$size" 'BEGIN { printf "%.1f MiB", b / 1048576 }') ($size bytes, $PROVIDER)"
