#!/usr/bin/env bash
# Benchmark of issue 5, in-place: how long the proxy is down during an
# in-place upgrade, and how much of that is not the migrations themselves
# (the provider's overhead; goal <= 1 s). Figures, not a pass/fail test.
#
# Setup, per run (RUNS, default 3), everything real and on 127.0.0.1:
#   - `sandbox up --layout in-place --rate 0`: PostgreSQL, cluster X
#     (kongsim FROM_VERSION, bootstrapped); Y's addresses are X's, so Y
#     starts where X ran, as a node upgraded in place does;
#   - examples/upgrades/in_place, the shipped configuration, driven by
#     Terraform 1.15.5 with the provider from the local mirror; hooks
#     stop_x = `sandbox stop-x`, start_y = `sandbox start-y`; migrations
#     through kongsim's `kong migrations` CLI, wrapped by timed_cli.sh so
#     the CLI's own run time is known too;
#   - `terraform apply -var target_phase=prepared` (freeze, backup: before
#     the downtime, not measured);
#   - `sandbox probe` on X's proxy port (which becomes Y's): a GET every
#     10 ms, each on a fresh connection; then
#     `terraform apply -var target_phase=finished`: stop_x, migrations_up,
#     migrations_finish, start_y, wait_ready_y in one apply;
#   - the probe's downtime window (first failed probe -> first successful
#     probe after it) against the history the apply recorded.
#
# Why the prober targets the proxy port directly rather than HAProxy: the
# window then is exactly the time no Kong process serves that port. Through
# HAProxy it would also hold HAProxy's health-check delays (a server is
# marked down, and back up, only after `fall`/`rise` checks), which are the
# load balancer's settings, not the provider's.
#
# Usage: benches/upgrade/in_place.sh    Environment: RUNS, PROBE_INTERVAL_MS
# (default 10), and lib.sh's PROFILE, FROM_VERSION, TO_VERSION, BENCH_DIR.
set -euo pipefail
exec </dev/null
# shellcheck source=benches/upgrade/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS="${RUNS:-3}"
PROBE_INTERVAL_MS="${PROBE_INTERVAL_MS:-10}"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number, not $RUNS"
WORK="$BENCH_DIR/in-place"
CONFIG="$ROOT/examples/upgrades/in_place"

# The example's variables, from the sandbox's env.json. JSON, so no value
# needs HCL quoting.
write_tfvars() {
  python3 - "$SANDBOX_DIR/env.json" "$SANDBOX" "$TO_VERSION" "$2" >"$1" <<'PY'
import json, sys
env, sandbox, to_version = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
timed_cli = [sys.argv[4] + "/benches/upgrade/timed_cli.sh", env["dir"] + "/../cli-times.log"]
pg, x, y = env["postgres"], env["cluster_x"], env["cluster_y"]
assert y["proxy_url"] == x["proxy_url"], "the sandbox is not in the in-place layout"
print(json.dumps({
    "allow_downtime": True,
    "to_version": to_version,
    "x_admin_url": x["admin_url"],
    "y_admin_url": y["admin_url"],
    "y_status_url": y["status_url"],
    "pg_host": pg["host"],
    "pg_port": pg["port"],
    "pg_user": pg["user"],
    "pg_password": pg["password"],
    "pg_database": pg["database"],
    "kong_cli": timed_cli + [env["kongsim_bin"], "--kong-version", to_version],
    "backup_dir": env["backup_dir"],
    "stop_x_command": [sandbox, "stop-x", "--dir", env["dir"]],
    "start_y_command": [sandbox, "start-y", "--dir", env["dir"]],
}, indent=2))
PY
}

one_run() {
  local run="$1" run_dir="$WORK/run-$1"
  log "run $run/$RUNS: starting the sandbox (kongsim $FROM_VERSION as X, in-place layout)"
  start_sandbox "$run_dir/sandbox" --layout in-place --rate 0
  local wd="$run_dir/terraform"
  mkdir -p "$wd"
  cp "$CONFIG"/*.tf "$wd/"
  write_tfvars "$wd/terraform.tfvars.json" "$ROOT"
  tf_quiet "$wd/init.log" -chdir="$wd" init -input=false -no-color
  log "run $run/$RUNS: apply target_phase=prepared (freeze, backup; not measured)"
  tf_quiet "$wd/apply-prepared.log" -chdir="$wd" apply -auto-approve -input=false -no-color \
    -var target_phase=prepared

  local proxy
  proxy="$(sandbox_env cluster_x.proxy_url)"
  start_helper "$run_dir/probe.log" "answers; probing" \
    probe --url "$proxy/bench" --interval-ms "$PROBE_INTERVAL_MS" --out "$run_dir/probe.json"
  local probe_pid="$HELPER_PID"
  log "run $run/$RUNS: apply target_phase=finished under the probe (the downtime window)"
  local started
  started="$(now_ns)"
  tf_quiet "$wd/apply-finished.log" -chdir="$wd" apply -auto-approve -input=false -no-color \
    -var target_phase=finished
  local took
  took="$(seconds_since "$started")"
  # The apply returns after wait_ready_y, well after Y's proxy first
  # answered; a little more probing shows it stays up.
  sleep 0.2
  stop_helper "$probe_pid"
  "$TERRAFORM" -chdir="$wd" show -json >"$run_dir/state.json"
  stop_sandbox

  echo "Run $run/$RUNS (apply target_phase=finished took $took s wall time):"
  python3 "$FIGURES" in-place "$run_dir"
}

rm -rf "$WORK"
mkdir -p "$WORK"
build_and_mirror "$WORK/mirror"
echo "In-place upgrade $FROM_VERSION -> $TO_VERSION: examples/upgrades/in_place, Terraform 1.15.5, $PROFILE builds, probe every $PROBE_INTERVAL_MS ms on the proxy port"
run_dirs=()
for run in $(seq "$RUNS"); do
  one_run "$run"
  run_dirs+=("$WORK/run-$run")
done
echo
python3 "$FIGURES" in-place-summary "${run_dirs[@]}"
