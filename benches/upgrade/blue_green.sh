#!/usr/bin/env bash
# Benchmark of issue 5, blue-green: failed requests during a whole
# blue-green upgrade under load (goal 0). Figures, not a pass/fail test.
#
# Setup, everything real and on 127.0.0.1:
#   - `sandbox up --rate 0`: PostgreSQL, cluster X (kongsim FROM_VERSION,
#     bootstrapped), HAProxy in front of X and of Y's future address (both
#     health-checked; no retries or redispatch, so every failure counts);
#   - `sandbox load`: RATE (default 200) GETs per second through HAProxy,
#     started right before the first apply and stopped right after the last,
#     so the figures cover the upgrade and nothing else;
#   - examples/demo (the `make demo` configuration) driven by Terraform
#     1.15.5 with the provider from the local mirror, one apply per phase:
#     prepared, migrated, serving 50, serving 100, finished, completed (X
#     stopped by the decommission_x hook at the end).
#
# Usage: benches/upgrade/blue_green.sh    Environment: RATE, and lib.sh's
# PROFILE, FROM_VERSION, TO_VERSION, BENCH_DIR.
set -euo pipefail
exec </dev/null
# shellcheck source=benches/upgrade/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RATE="${RATE:-200}"
[[ $RATE =~ ^[1-9][0-9]*$ ]] || die "RATE must be a positive number, not $RATE"
WORK="$BENCH_DIR/blue-green"
PHASES=("prepared 0" "migrated 0" "serving 50" "serving 100" "finished 100" "completed 100")

rm -rf "$WORK"
mkdir -p "$WORK"
build_and_mirror "$WORK/mirror"
log "starting the sandbox (kongsim $FROM_VERSION as X; $TO_VERSION will be Y)"
start_sandbox "$WORK/sandbox" --rate 0
wd="$WORK/terraform"
mkdir -p "$wd"
cp "$ROOT"/examples/demo/*.tf "$SANDBOX_DIR/terraform.tfvars" "$wd/"
tf_quiet "$wd/init.log" -chdir="$wd" init -input=false -no-color

frontend="$(sandbox_env haproxy.frontend_url)"
start_helper "$WORK/load.log" "load: sending" \
  load --url "$frontend/demo" --rate "$RATE" --out "$WORK/load.json"
load_pid="$HELPER_PID"
: >"$WORK/phases.tsv"
for step in "${PHASES[@]}"; do
  read -r phase weight <<<"$step"
  log "apply target_phase=$phase weight_y=$weight"
  started="$(now_ns)"
  tf_quiet "$wd/apply-$phase-$weight.log" -chdir="$wd" apply -auto-approve -input=false -no-color \
    -var "target_phase=$phase" -var "weight_y=$weight"
  printf '%s\t%s\t%s\n' "$phase" "$weight" "$(seconds_since "$started")" >>"$WORK/phases.tsv"
done
stop_helper "$load_pid"
[[ "$("$TERRAFORM" -chdir="$wd" output -raw phase)" == completed ]] ||
  die "the upgrade did not reach phase completed"
stop_sandbox

echo "Blue-green upgrade $FROM_VERSION -> $TO_VERSION: examples/demo, Terraform 1.15.5, $PROFILE builds, $RATE req/s through HAProxy"
python3 "$FIGURES" blue-green "$WORK/load.json" "$WORK/phases.tsv"
