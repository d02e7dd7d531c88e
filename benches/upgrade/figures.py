#!/usr/bin/env python3
"""Figures of the upgrade benchmarks (benches/upgrade), from what the runs
left on disk:

  figures.py in-place RUN_DIR          one in-place run: RUN_DIR/probe.json
                                       (`sandbox probe`), RUN_DIR/state.json
                                       (`terraform show -json`),
                                       RUN_DIR/cli-times.log (timed_cli.sh);
                                       prints the run's figures, writes
                                       RUN_DIR/figures.json
  figures.py in-place-summary RUN_DIR...
                                       median / min / max over runs
  figures.py blue-green LOAD_JSON PHASES_TSV
                                       requests / failed / req/s of a
                                       `sandbox load` report, and how long
                                       each apply took ("phase weight seconds")

Times are wall-clock milliseconds: the probe stamps each probe when it is
sent, the provider stamps each history entry (RFC 3339, millisecond
precision) when the step starts and ends, on the same machine.
"""

import json
import statistics
import sys
from datetime import datetime
from pathlib import Path

OVERHEAD_GOAL_S = 1.0


def unix_ms(rfc3339):
    return round(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1000)


def history_of(state):
    """The kong_upgrade's history: step id -> (started ms, finished ms, entry)."""
    resources = state.get("values", {}).get("root_module", {}).get("resources", [])
    for resource in resources:
        if resource.get("type") == "kong_upgrade":
            steps = {}
            for entry in resource["values"].get("history") or []:
                steps[entry["step"]] = (unix_ms(entry["started_at"]), unix_ms(entry["finished_at"]), entry)
            return steps
    sys.exit("figures: no kong_upgrade in the state")


def cli_times(path):
    """`kong migrations up|finish` runs timed by timed_cli.sh: phase -> ms."""
    times = {}
    if not path.exists():
        return times
    for line in path.read_text().splitlines():
        start, end, _rc, command = line.split(" ", 3)
        words = command.split()
        if "migrations" in words:
            phase = words[words.index("migrations") + 1]
            times[phase] = times.get(phase, 0) + round((float(end) - float(start)) * 1000)
    return times


def seconds(ms):
    return ms / 1000.0


def in_place(run_dir):
    run_dir = Path(run_dir)
    probe = json.loads((run_dir / "probe.json").read_text())
    state = json.loads((run_dir / "state.json").read_text())
    steps = history_of(state)
    for needed in ("stop_x", "migrations_up", "migrations_finish", "start_y", "wait_ready_y"):
        if needed not in steps:
            sys.exit(f"figures: the history has no {needed} step: {sorted(steps)}")
        if steps[needed][2].get("result") != "ok":
            sys.exit(f"figures: step {needed} did not succeed: {steps[needed][2]}")

    windows = probe["windows"]
    if not windows:
        sys.exit("figures: the probe saw no downtime at all; was it probing the upgraded proxy?")
    if any(w["recovered_unix_ms"] is None for w in windows):
        sys.exit("figures: the proxy did not answer again before the probe stopped")
    first_failure = windows[0]["first_failure_unix_ms"]
    recovered = windows[-1]["recovered_unix_ms"]
    downtime = recovered - first_failure

    def span(step):
        started, finished, _ = steps[step]
        return finished - started

    up_start, up_end, up_entry = steps["migrations_up"]
    fin_start, fin_end, fin_entry = steps["migrations_finish"]
    stop_start, stop_end, _ = steps["stop_x"]
    y_start, y_end, _ = steps["start_y"]
    migrations = span("migrations_up") + span("migrations_finish")
    cli = cli_times(run_dir / "cli-times.log")
    # The downtime, cut at the step boundaries the history records; the
    # parts add up to the whole window.
    parts = [
        ("X refusing until stop_x ended", stop_end - first_failure),
        ("stop_x -> migrations_up", up_start - stop_end),
        ("migrations_up", span("migrations_up")),
        ("migrations_up -> migrations_finish", fin_start - up_end),
        ("migrations_finish", span("migrations_finish")),
        ("migrations_finish -> start_y", y_start - fin_end),
        ("start_y until Y's proxy served", recovered - y_start),
    ]
    figures = {
        "downtime_s": seconds(downtime),
        "migrations_s": seconds(migrations),
        "overhead_s": seconds(downtime - migrations),
        "y_start_to_serving_s": seconds(recovered - y_start),
        "start_y_step_s": seconds(span("start_y")),
        "wait_ready_y_step_s": seconds(span("wait_ready_y")),
        "sigterm_to_refusal_s": seconds(first_failure - stop_start),
        "windows": len(windows),
        "failed_probes": sum(w["failed_probes"] for w in windows),
        "probes": probe["probes"],
        "interval_ms": probe["interval_ms"],
        "served_before": windows[0]["served_before"],
        "served_after": windows[-1]["served_after"],
        "parts_s": {name: seconds(ms) for name, ms in parts},
        "migrations_detail": [up_entry.get("detail", ""), fin_entry.get("detail", "")],
        "cli_s": {phase: seconds(ms) for phase, ms in cli.items()},
    }
    (run_dir / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")

    print(f"  downtime (probe, first failure -> first success): {figures['downtime_s']:.3f} s"
          f" ({figures['failed_probes']} failed probes of {figures['probes']}, every {figures['interval_ms']} ms;"
          f" {figures['served_before']} before, {figures['served_after']} after)")
    if len(windows) > 1:
        print(f"  warning: {len(windows)} separate windows; the downtime spans all of them")
    print(f"  migrations (history migrations_up + migrations_finish):   {figures['migrations_s']:.3f} s")
    if "up" in cli and "finish" in cli:
        cli_total = cli["up"] + cli["finish"]
        print(f"    of which the kong CLI processes ran {seconds(cli_total):.3f} s"
              f" (up {seconds(cli['up']):.3f}, finish {seconds(cli['finish']):.3f});"
              f" the provider's schema_meta reads around them {seconds(migrations - cli_total):.3f} s")
    print(f"  provider overhead (downtime - migrations):                {figures['overhead_s']:.3f} s")
    print(f"  Y: start_y started -> Y's proxy served:                   {figures['y_start_to_serving_s']:.3f} s"
          f" (start_y step {figures['start_y_step_s']:.3f} s, wait_ready_y {figures['wait_ready_y_step_s']:.3f} s)")
    print(f"  stop_x started -> first refused probe:                    {figures['sigterm_to_refusal_s']:.3f} s"
          " (X still served: not downtime)")
    print("  the downtime, step by step:")
    for name, value in figures["parts_s"].items():
        print(f"    {name:<36} {value:7.3f} s")
    for detail in figures["migrations_detail"]:
        print(f"    ({detail})")


def summary(run_dirs):
    runs = [json.loads((Path(d) / "figures.json").read_text()) for d in run_dirs]
    n = len(runs)

    def row(label, values):
        values = sorted(values)
        print(f"  {label:<44} median {statistics.median(values):6.3f} s"
              f"   min {values[0]:6.3f}   max {values[-1]:6.3f}")

    print(f"In-place upgrade {n} run(s):")
    row("downtime (probe)", [r["downtime_s"] for r in runs])
    row("migrations (migrations_up + _finish)", [r["migrations_s"] for r in runs])
    row("provider overhead (downtime - migrations)", [r["overhead_s"] for r in runs])
    row("  of which Y starting (start_y -> served)", [r["y_start_to_serving_s"] for r in runs])
    row("  of which X stopping (refusal -> stop_x end)",
        [r["parts_s"]["X refusing until stop_x ended"] for r in runs])
    row("  of which between steps (3 gaps)",
        [r["parts_s"]["stop_x -> migrations_up"]
         + r["parts_s"]["migrations_up -> migrations_finish"]
         + r["parts_s"]["migrations_finish -> start_y"] for r in runs])
    if all("up" in r["cli_s"] and "finish" in r["cli_s"] for r in runs):
        row("kong CLI processes inside the migrations",
            [r["cli_s"]["up"] + r["cli_s"]["finish"] for r in runs])
    median_overhead = statistics.median(r["overhead_s"] for r in runs)
    verdict = "met" if median_overhead <= OVERHEAD_GOAL_S else "NOT met"
    print(f"  goal: provider overhead <= {OVERHEAD_GOAL_S:.0f} s (median): {verdict}")


def blue_green(load_json, phases_tsv):
    report = json.loads(Path(load_json).read_text())
    totals = report["totals"]
    elapsed = report.get("elapsed_ms", 0) / 1000.0
    rate = totals["requests"] / elapsed if elapsed else 0.0
    served = ", ".join(f"{cluster} {n}" for cluster, n in totals["served_by"].items())
    print("Blue-green upgrade end to end under load:")
    print(f"  requests {totals['requests']}, failed {totals['failed']}, {rate:.1f} req/s"
          f" over {elapsed:.1f} s (target {report['rate_per_s']} req/s through HAProxy)")
    print(f"  served by {served}")
    if totals["failed"]:
        reasons = ", ".join(f"{r} {n}" for r, n in totals["failures"].items())
        print(f"  failures by reason: {reasons}")
    print("  applies:")
    for line in Path(phases_tsv).read_text().splitlines():
        phase, weight, took = line.split("\t")
        print(f"    target_phase={phase:<10} weight_y={weight:<4} {float(took):6.2f} s")
    verdict = "met" if totals["failed"] == 0 else "NOT met"
    print(f"  goal: 0 failed requests: {verdict}")


def main(argv):
    if len(argv) == 2 and argv[0] == "in-place":
        in_place(argv[1])
    elif len(argv) >= 2 and argv[0] == "in-place-summary":
        summary(argv[1:])
    elif len(argv) == 3 and argv[0] == "blue-green":
        blue_green(argv[1], argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
