#!/usr/bin/env bash
# `make demo`: a Kong upgrade as infrastructure code, in a local sandbox.
#
#   1. installs what is missing (Debian packages, Terraform 1.15.5), builds the
#      workspace, and puts the fresh provider into a filesystem mirror;
#   2. starts the sandbox (tools/sandbox): PostgreSQL, cluster X (kongsim, the
#      project's Kong test double, at the old version), HAProxy in front of X
#      and of Y's future address, and a load generator (200 req/s);
#   3. stage A: `data "kong_node"` reads cluster X (examples/demo/node);
#   4. stage B: a blue-green upgrade X -> Y with `kong_upgrade`
#      (examples/demo), one `terraform apply` per phase: prepared, migrated,
#      serving 50, serving 100, finished, completed; after each, what happened
#      and the load totals so far.
#
# Everything it writes goes under .sandbox/ (git-ignored): Terraform working
# directories and state, the mirror, logs. The sandbox is stopped on exit,
# whatever the exit. Runs unattended; exits non-zero on a real failure.
#
# Environment: FROM_VERSION / TO_VERSION (default 3.5.0 -> 3.6.1);
# DEMO_VERBOSE=1 prints Terraform's whole plans (otherwise the planned steps,
# with the full plan saved beside the state); CARGO_TARGET_DIR is honoured.
set -euo pipefail
exec </dev/null

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DIR="$ROOT/.sandbox"
TF_DIR="$DIR/terraform"
TERRAFORM="$ROOT/.tools/bin/terraform-1.15.5"
SANDBOX="${CARGO_TARGET_DIR:-$ROOT/target}/debug/sandbox"
FROM_VERSION="${FROM_VERSION:-3.5.0}"
TO_VERSION="${TO_VERSION:-3.6.1}"
# phase and weight_y of each apply of stage B
PHASES=("prepared 0" "migrated 0" "serving 50" "serving 100" "finished 100" "completed 100")

export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1

DEMO_VERBOSE="${DEMO_VERBOSE:-0}"
if [[ -t 1 ]]; then
  BOLD=$'\e[1m' RESET=$'\e[0m' COLOR=()
else
  BOLD="" RESET="" COLOR=(-no-color)
fi
heading() { printf '\n%s==> %s%s\n' "$BOLD" "$*" "$RESET"; }
log() { printf 'demo: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
tf() { "$TERRAFORM" "$@"; }

UP_PID=""
stop_sandbox() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $UP_PID ]]; then
    heading "Stopping the sandbox"
    "$SANDBOX" down --dir "$DIR" || log "sandbox down failed; see $DIR/up.log"
    wait "$UP_PID" 2>/dev/null || true
    grep -h '^sandbox stopped' "$DIR/up.log" || true
  fi
  if ((rc != 0)); then
    log "failed (exit $rc); logs and Terraform working directories are in $DIR"
  fi
  exit "$rc"
}
trap stop_sandbox EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

setup() {
  heading "Installing what is missing and building"
  scripts/install-deps.sh
  scripts/install-terraform.sh
  cargo build --workspace
  [[ -x $SANDBOX ]] || die "$SANDBOX was not built"
}

start_sandbox() {
  heading "Starting the sandbox (Kong $FROM_VERSION as cluster X; $TO_VERSION will be Y)"
  # A sandbox left running by an earlier run holds ports and processes.
  if [[ -f $DIR/up.pid ]]; then "$SANDBOX" down --dir "$DIR" || true; fi
  rm -rf "$DIR"
  mkdir -p "$TF_DIR"
  TF_CLI_CONFIG_FILE="$(scripts/mirror.sh --dir "$DIR/mirror")"
  export TF_CLI_CONFIG_FILE
  "$SANDBOX" up --dir "$DIR" --from "$FROM_VERSION" --to "$TO_VERSION" >"$DIR/up.log" 2>&1 &
  UP_PID=$!
  local deadline=$((SECONDS + 120))
  until [[ -f $DIR/env.json ]]; do
    if ! kill -0 "$UP_PID" 2>/dev/null; then
      cat "$DIR/up.log" >&2
      UP_PID=""
      die "the sandbox did not start"
    fi
    ((SECONDS < deadline)) || { cat "$DIR/up.log" >&2; die "the sandbox did not start within 120 s"; }
    sleep 0.2
  done
  sed -n '/^sandbox is up/,$p' "$DIR/up.log"
}

# init in a working directory; its output only on failure.
tf_init() {
  local wd="$1"
  if ! tf -chdir="$wd" init -input=false -no-color >"$wd/init.log" 2>&1; then
    cat "$wd/init.log" >&2
    die "terraform init failed in $wd"
  fi
  echo "terraform init: kong-upgrades/kong from the local mirror ($(grep -o 'Installed kong-upgrades/kong v[^ ]*' "$wd/init.log" | head -n 1 || echo 'cached'))"
}

stage_a() {
  heading "Stage A: data \"kong_node\" reads cluster X (examples/demo/node)"
  local wd="$TF_DIR/node"
  mkdir -p "$wd"
  cp examples/demo/node/*.tf "$wd/"
  tf_init "$wd"
  local x_admin
  x_admin="$("$SANDBOX" env --dir "$DIR" cluster_x.admin_url)"
  tf -chdir="$wd" apply -auto-approve -input=false "${COLOR[@]}" -var "x_admin_url=$x_admin"
}

stage_migrations() {
  heading "Stage M: the migrations an upgrade to $TO_VERSION would run (examples/migrations-demo, plan only)"
  local wd="$TF_DIR/migrations"
  mkdir -p "$wd"
  cp examples/migrations-demo/*.tf "$wd/"
  cp "$DIR/terraform.tfvars" "$wd/terraform.tfvars"
  tf_init "$wd"
  # Plan only: stage B runs the real upgrade against the same database.
  tf -chdir="$wd" plan -input=false "${COLOR[@]}"
}

# The steps of a saved plan (`terraform show -json` on stdin): what the next
# apply will do, in order, and why; then the planner's warnings.
print_planned_steps() {
  python3 -c '
import json, sys
plan = json.load(sys.stdin)
for change in plan.get("resource_changes", []):
    if change.get("type") != "kong_upgrade":
        continue
    actions = "/".join(change["change"]["actions"])
    after = change["change"].get("after") or {}
    steps = after.get("planned_steps") or []
    address = change["address"]
    print(f"{address}: {actions}, {len(steps)} step(s) planned")
    for number, step in enumerate(steps, 1):
        mark = "  [destructive]" if step.get("destructive") else ""
        action = step.get("action") or step.get("id")
        print(f"  {number}. {action}{mark}")
        why = step.get("why")
        if why:
            print(f"     why: {why}")
    for warning in after.get("warnings") or []:
        print(f"  warning: {warning}")
'
}

# Prints the entries of `history` (JSON on stdin) after the first $1, one
# line each, and writes how many there are now into the file $2.
print_history() {
  python3 -c '
import json, sys
from datetime import datetime
history = json.load(sys.stdin) or []
shown = int(sys.argv[1])
def seconds(entry):
    try:
        start, end = (datetime.fromisoformat(entry[k].replace("Z", "+00:00"))
                      for k in ("started_at", "finished_at"))
        return f"{(end - start).total_seconds():.1f}s"
    except (KeyError, TypeError, ValueError):
        return ""
def text(value, width=160):
    if isinstance(value, (dict, list)):
        value = json.dumps(value, separators=(",", ":"))
    value = " ".join(str(value).split())
    return value if len(value) <= width else value[:width - 3] + "..."
if len(history) <= shown:
    print("  (no new steps)")
for number, entry in enumerate(history[shown:], shown + 1):
    if isinstance(entry, dict) and "step" in entry:
        name, result = entry["step"], entry.get("result") or ""
        detail = text(entry.get("detail") or entry.get("action") or "")
        print(f"  {number:>2}. {name:<30} {result:<6} {seconds(entry):>6}  {detail}")
    else:
        print(f"  {number:>2}. {text(entry)}")
with open(sys.argv[2], "w") as count:
    count.write(f"{len(history)}\n")
' "$1" "$2"
}

stage_b() {
  heading "Stage B: blue-green upgrade $FROM_VERSION -> $TO_VERSION under load (examples/demo)"
  local wd="$TF_DIR/upgrade"
  mkdir -p "$wd"
  cp examples/demo/*.tf "$DIR/terraform.tfvars" "$wd/"
  tf_init "$wd"
  local shown=0 number=0 step phase weight
  for step in "${PHASES[@]}"; do
    read -r phase weight <<<"$step"
    heading "terraform plan -var target_phase=$phase -var weight_y=$weight"
    # A saved plan: the apply runs exactly the steps this plan shows.
    local plan_text="$wd/plan-$((++number))-$phase-$weight.txt"
    if ! tf -chdir="$wd" plan -input=false -no-color -out=phase.tfplan \
      -var "target_phase=$phase" -var "weight_y=$weight" >"$plan_text" 2>&1; then
      cat "$plan_text" >&2
      die "terraform plan failed for target_phase=$phase"
    fi
    if [[ $DEMO_VERBOSE == 1 ]]; then cat "$plan_text"; fi
    tf -chdir="$wd" show -json phase.tfplan | print_planned_steps
    echo "(the whole plan: ${plan_text#"$ROOT/"})"
    heading "terraform apply (target_phase=$phase, weight_y=$weight)"
    # Outputs are summarized below; the raw history would repeat every step.
    tf -chdir="$wd" apply -input=false "${COLOR[@]}" phase.tfplan | sed -u '/Outputs:/,$d'
    heading "What happened (phase now: $(tf -chdir="$wd" output -raw phase))"
    tf -chdir="$wd" output -json history | print_history "$shown" "$wd/history.count"
    shown="$(<"$wd/history.count")"
    "$SANDBOX" status --dir "$DIR"
  done
  summarize_load
}

summarize_load() {
  heading "Load through HAProxy during the whole demo"
  python3 - "$DIR/load.json" <<'PY'
import json, sys
totals = json.load(open(sys.argv[1]))["totals"]
served = ", ".join(f"{c} {n}" for c, n in totals["served_by"].items())
print(f"{totals['requests']} requests, {totals['failed']} failed; served by {served}")
if totals["failed"]:
    print("failures by reason: " + ", ".join(f"{r} {n}" for r, n in totals["failures"].items()))
PY
}

setup
start_sandbox
stage_a
stage_migrations
stage_b
heading "Demo complete"
