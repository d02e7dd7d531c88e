#!/usr/bin/env bash
# Benchmark (figures, not a pass/fail test):
#   - median wall time of `terraform plan` (Terraform 1.15.5) on a
#     configuration with one `kong_node` read, over RUNS runs (default 10),
#     against the Kong stand-in (kongsim) on 127.0.0.1;
#   - the provider's peak RSS across those runs;
#   - the release binary's size.
# Everything is built with the release profile.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${RUNS:-10}"
KONG_VERSION="${KONG_VERSION:-3.4.2}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}/release"
TERRAFORM="$ROOT/.tools/bin/terraform-1.15.5"

log() { printf 'bench: %s\n' "$*" >&2; }
[[ -x $TERRAFORM ]] || { log "$TERRAFORM missing: run scripts/install-terraform.sh"; exit 1; }
[[ -x /usr/bin/time ]] || { log "/usr/bin/time missing: run scripts/install-deps.sh"; exit 1; }

cargo build --release -q -p terraform-provider-kong -p kongsim --manifest-path "$ROOT/Cargo.toml"

WORK="$(mktemp -d)"
KONGSIM_PID=""
cleanup() {
  [[ -n $KONGSIM_PID ]] && kill "$KONGSIM_PID" 2>/dev/null && wait "$KONGSIM_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ADMIN_PORT="$(free_port)"
"$TARGET/kongsim" --kong-version "$KONG_VERSION" serve --database off \
  --admin-listen "127.0.0.1:$ADMIN_PORT" --status-listen "127.0.0.1:$(free_port)" \
  --proxy-listen "127.0.0.1:$(free_port)" >"$WORK/kongsim.log" 2>&1 &
KONGSIM_PID=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$ADMIN_PORT") 2>/dev/null && break
  sleep 0.05
done

# The mirrored "provider" is a wrapper recording the real one's peak RSS.
cat >"$WORK/provider-wrapper" <<EOF
#!/bin/sh
exec /usr/bin/time -f %M -a -o "$WORK/rss-kib" "$TARGET/terraform-provider-kong" "\$@"
EOF
chmod +x "$WORK/provider-wrapper"
CLI_CONFIG="$("$ROOT/scripts/mirror.sh" --dir "$WORK/mirror" --binary "$WORK/provider-wrapper")"

mkdir "$WORK/config"
cat >"$WORK/config/main.tf" <<EOF
terraform {
  required_providers {
    kong = {
      source  = "kong-upgrades/kong"
      version = "0.1.0"
    }
  }
}

data "kong_node" "this" {
  admin_url = "http://127.0.0.1:$ADMIN_PORT"
}

output "kong_version" {
  value = data.kong_node.this.version
}
EOF

cd "$WORK/config"
export TF_CLI_CONFIG_FILE="$CLI_CONFIG" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1 TF_INPUT=0
unset TF_LOG TF_PLUGIN_CACHE_DIR TF_DATA_DIR
"$TERRAFORM" init -input=false -no-color >/dev/null
# Warm-up, not counted; also proves the plan really read the node.
warmup="$("$TERRAFORM" plan -input=false -no-color)"
grep -q "kong_version = \"$KONG_VERSION\"" <<<"$warmup" || {
  log "the plan did not read Kong $KONG_VERSION:"
  printf '%s\n' "$warmup" >&2
  exit 1
}
: >"$WORK/rss-kib"

times=()
for _ in $(seq "$RUNS"); do
  start=$(date +%s%N)
  "$TERRAFORM" plan -input=false -no-color >/dev/null
  end=$(date +%s%N)
  times+=($(((end - start) / 1000)))
done

mapfile -t sorted < <(printf '%s\n' "${times[@]}" | sort -n)
n=${#sorted[@]}
if ((n % 2)); then
  median=${sorted[n / 2]}
else
  median=$(((sorted[n / 2 - 1] + sorted[n / 2]) / 2))
fi
ms() { awk -v us="$1" 'BEGIN { printf "%.1f ms", us / 1000 }'; }
peak_kib=$(sort -n "$WORK/rss-kib" | tail -n 1)
size=$(stat -c %s "$TARGET/terraform-provider-kong")

echo "terraform plan, Terraform 1.15.5, one kong_node read (kongsim $KONG_VERSION), $RUNS runs:"
echo "  median $(ms "$median")  (min $(ms "${sorted[0]}"), max $(ms "${sorted[n - 1]}"))"
echo "provider peak RSS: $(awk -v k="$peak_kib" 'BEGIN { printf "%.1f MiB", k / 1024 }') ($peak_kib KiB, max over the runs)"
echo "release binary size: $(awk -v b="$size" 'BEGIN { printf "%.1f MiB", b / 1048576 }') ($size bytes)"
