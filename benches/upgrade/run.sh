#!/usr/bin/env bash
# `make bench-upgrade`: both benchmarks of issue 5, one after the other,
# each with its figures (see in_place.sh and blue_green.sh for the method).
#
# Environment: PROFILE=debug|release (default debug), RUNS (in-place runs,
# default 3), PROBE_INTERVAL_MS (default 10), RATE (blue-green load, default
# 200 req/s), FROM_VERSION / TO_VERSION, BENCH_DIR (default
# target/bench-upgrade: logs, states and the raw figures of every run).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$HERE/in_place.sh"
echo
"$HERE/blue_green.sh"
