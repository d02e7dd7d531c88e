#!/usr/bin/env bash
# `make bench-upgrade`: the upgrade benchmarks, one after the other, each
# with its figures (see in_place.sh, blue_green.sh and freeze_scale.rs for
# the method).
#
# Environment: PROFILE=debug|release (default debug), RUNS (in-place runs,
# default 3), PROBE_INTERVAL_MS (default 10), RATE (blue-green load, default
# 200 req/s), FROM_VERSION / TO_VERSION, BENCH_DIR (default
# target/bench-upgrade: logs, states and the raw figures of every run),
# FREEZE_SIZES (entities for the freeze benchmark, default 10000,50000).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
"$HERE/in_place.sh"
echo
"$HERE/blue_green.sh"
echo
# The freeze at scale: always release builds (a benchmark of the provider's
# code, with kongsim fast enough to serve 50,000 entities).
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" -p kongsim
KONGSIM_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/kongsim" \
  cargo bench --quiet --manifest-path "$ROOT/Cargo.toml" --bench freeze_scale
