# shellcheck shell=bash
# Shared by benches/upgrade/*.sh (sourced, not run): building, the mirror,
# one sandbox at a time, Terraform, and the background helpers (`sandbox
# probe`, `sandbox load`) a benchmark starts and stops.
#
# Environment: PROFILE=debug|release (default debug; release builds the
# provider, kongsim and the sandbox with `cargo build --release` first),
# FROM_VERSION / TO_VERSION (default 3.5.0 -> 3.6.1), BENCH_DIR (default
# target/bench-upgrade), CARGO_TARGET_DIR.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PROFILE="${PROFILE:-debug}"
FROM_VERSION="${FROM_VERSION:-3.5.0}"
TO_VERSION="${TO_VERSION:-3.6.1}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BENCH_DIR="${BENCH_DIR:-$TARGET_DIR/bench-upgrade}"
BIN_DIR="$TARGET_DIR/$PROFILE"
SANDBOX="$BIN_DIR/sandbox"
TERRAFORM="$ROOT/.tools/bin/terraform-1.15.5"
# shellcheck disable=SC2034 # used by the scripts that source this file
FIGURES="$ROOT/benches/upgrade/figures.py"

export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
unset TF_LOG TF_LOG_PROVIDER TF_LOG_PATH TF_PLUGIN_CACHE_DIR TF_DATA_DIR TF_CLI_ARGS \
  TF_CLI_ARGS_plan TF_CLI_ARGS_apply

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Builds what the benchmark runs, in $PROFILE, and puts the provider into a
# mirror under $1; exports TF_CLI_CONFIG_FILE.
build_and_mirror() {
  local mirror_dir="$1"
  case "$PROFILE" in
    debug) local flags=() ;;
    release) local flags=(--release) ;;
    *) die "PROFILE must be debug or release, not $PROFILE" ;;
  esac
  [[ -x $TERRAFORM ]] || die "$TERRAFORM missing: run scripts/install-terraform.sh (make terraform)"
  log "building the provider, kongsim and the sandbox ($PROFILE)"
  cargo build "${flags[@]}" --quiet --manifest-path "$ROOT/Cargo.toml" \
    -p terraform-provider-kong -p kongsim -p sandbox
  TF_CLI_CONFIG_FILE="$("$ROOT/scripts/mirror.sh" --dir "$mirror_dir" --profile "$PROFILE")"
  export TF_CLI_CONFIG_FILE
}

# --- the sandbox: one at a time, stopped on exit whatever the exit ---------

SANDBOX_DIR=""
SANDBOX_PID=""
start_sandbox() {
  SANDBOX_DIR="$1"
  shift
  rm -rf "$SANDBOX_DIR"
  mkdir -p "$SANDBOX_DIR"
  "$SANDBOX" up --dir "$SANDBOX_DIR" --from "$FROM_VERSION" --to "$TO_VERSION" "$@" \
    >"$SANDBOX_DIR/up.log" 2>&1 &
  SANDBOX_PID=$!
  local deadline=$((SECONDS + 120))
  until [[ -f $SANDBOX_DIR/env.json ]]; do
    if ! kill -0 "$SANDBOX_PID" 2>/dev/null; then
      cat "$SANDBOX_DIR/up.log" >&2
      SANDBOX_PID=""
      die "the sandbox did not start"
    fi
    ((SECONDS < deadline)) || { cat "$SANDBOX_DIR/up.log" >&2; die "the sandbox did not start within 120 s"; }
    sleep 0.1
  done
}

stop_sandbox() {
  if [[ -n $SANDBOX_PID ]]; then
    "$SANDBOX" down --dir "$SANDBOX_DIR" >/dev/null || log "sandbox down failed; see $SANDBOX_DIR/up.log"
    wait "$SANDBOX_PID" 2>/dev/null || true
    SANDBOX_PID=""
  fi
}

sandbox_env() { "$SANDBOX" env --dir "$SANDBOX_DIR" "$1"; }

# --- background helpers: started by us, stopped by their pid ---------------

HELPER_PIDS=()
HELPER_PID=""
# start_helper LOG READY_PATTERN ARGS...: runs `sandbox ARGS...` in the
# background with its output in LOG, waits until LOG matches READY_PATTERN,
# and sets HELPER_PID (not printed: a command substitution would make the
# helper a grandchild we cannot wait for).
start_helper() {
  local log_file="$1" ready="$2"
  shift 2
  "$SANDBOX" "$@" >"$log_file" 2>&1 &
  local pid=$!
  HELPER_PIDS+=("$pid")
  local deadline=$((SECONDS + 30))
  until grep -qs -- "$ready" "$log_file"; do
    kill -0 "$pid" 2>/dev/null || { cat "$log_file" >&2; die "sandbox $1 exited"; }
    ((SECONDS < deadline)) || { cat "$log_file" >&2; die "sandbox $1 did not get ready within 30 s"; }
    sleep 0.05
  done
  # shellcheck disable=SC2034 # read by the caller
  HELPER_PID="$pid"
}

# SIGTERM, then wait: the helper writes its figures as it stops.
stop_helper() {
  local pid="$1"
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local kept=()
  for p in "${HELPER_PIDS[@]}"; do [[ $p == "$pid" ]] || kept+=("$p"); done
  HELPER_PIDS=("${kept[@]}")
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in "${HELPER_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  stop_sandbox
  ((rc == 0)) || log "failed (exit $rc); logs and Terraform working directories are in $BENCH_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Terraform ---------------------------------------------------------------

# tf_quiet LOG ARGS...: runs Terraform with its output in LOG, shown only on
# failure.
tf_quiet() {
  local log_file="$1"
  shift
  if ! "$TERRAFORM" "$@" >"$log_file" 2>&1; then
    cat "$log_file" >&2
    die "terraform $* failed (log: $log_file)"
  fi
}

now_ns() { date +%s%N; }
seconds_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
