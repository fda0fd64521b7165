"""Benchmark: the report's fleet views over a long history (issue 18's target: 10,000 hosts x 90
daily runs, the fleet views drawn in under 5 s and under 1 GiB).

    .venv/bin/python bench/fleet_views_bench.py [--hosts 10000] [--updates 10] [--runs 90] [--store PATH]

Builds a SQLite history store of --runs daily runs of a synthetic fleet (tests/support/
synthetic_fleet.py; not timed; kept and reused with --store), then, in a fresh child process per
step so that each peak RSS is its own, times what the end of a run adds for the views:
  baseline     open the store and read every host's latest entry and last assessment (what the
               compliance inventory plugin reads: the floor any fleet view pays)
  fleet_state  _fleet_view.fleet_state(): last known state, stale and never-assessed hosts,
               new/resolved since each host's previous assessment, mean time to remediate
  render       the HTML dashboard of the newest run with its fleet view, and report.updates.csv
Prints one JSON object (seconds, peak RSS in MiB, ratios to the baseline).
"""
import argparse
import datetime
import io
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
COLLECTIONS = os.path.join(REPO, ".build", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "fleetpatch", "patching")
if not os.path.exists(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(REPO, LINK)
sys.path[:0] = [COLLECTIONS, os.path.join(REPO, "tests", "support")]

import synthetic_fleet  # noqa: E402
from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import utc_stamp  # noqa: E402
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model as _report_model  # noqa: E402
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore  # noqa: E402

# After the synthetic fleet's first-seen dates (October and November 2026), so remediation times count.
FIRST_DAY = datetime.datetime(2026, 11, 10, 10, 0, tzinfo=datetime.timezone.utc)


def build_report(hosts, updates, number):
    """Run `number` (a day after the one before): the synthetic fleet, seeded per run so that
    updates come and go between runs, as the clock of each run sees it."""
    ended = FIRST_DAY + datetime.timedelta(days=number)
    at = utc_stamp(ended - datetime.timedelta(minutes=5))
    entries = []
    for host, ring, events in synthetic_fleet.fleet(hosts, updates, seed=1 + number % 7):
        observations = _report_model.HostObservations(host, clock=lambda: at)
        observations.ring = ring
        for action, result, failed, unreachable in events:
            observations.observe(action, result, "task", failed, unreachable)
        entries.append(_report_model.host_entry(observations))
    run = {"run_id": "bench-%03d" % number, "started_at": utc_stamp(ended - datetime.timedelta(minutes=20)),
           "ended_at": utc_stamp(ended), "playbooks": ["rollout.yml"], "check_mode": False, "controller": "bench",
           "ansible_version": "2.19", "collection_version": "0.1.0", "aborted_by": None}
    return _report_model.build_report(run, entries)


def build_store(path, hosts, updates, runs):
    started = time.perf_counter()
    for number in range(runs):
        report = build_report(hosts, updates, number)
        # Opened and closed per run, as each run's callback does: closing copies the run's
        # write-ahead log into the database (the store leaves checkpoints to close).
        with HistoryStore.open(path) as store:
            store.append_run(report)
    return round(time.perf_counter() - started, 1)


def peak_rss_mb():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def measure(step, path, hosts, updates, runs):
    """One step in this (child) process: prints {seconds, peak_rss_mb}."""
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import fleet_view as _fleet_view
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import dashboard_html as _render_html
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import updates_csv as _render_updates_csv
    report = None
    if step != "baseline":
        report = build_report(hosts, updates, runs)       # the run being reported (not timed)
    now = FIRST_DAY + datetime.timedelta(days=runs)
    inventory = ["host%05d.example.com" % i for i in range(hosts + 50)]      # 50 never assessed
    started = time.perf_counter()
    with HistoryStore.open(path) as store:
        if step == "baseline":
            store.latest_hosts()
            store.last_assessed()
        else:
            report["fleet"] = _fleet_view.fleet_state(store, report, inventory, now)
    if step == "render":
        started = time.perf_counter()        # the fleet state is fleet_state's; this times the drawing
        _render_html.render(report)
        _render_updates_csv.write(report, io.StringIO())
    seconds = time.perf_counter() - started
    extra = {}
    if report is not None and "fleet" in report:
        fleet = report["fleet"]
        extra = {"hosts_known": len(fleet["hosts"]), "never_assessed": len(fleet["never_assessed"]),
                 "since_previous": fleet["since_previous"], "mttr_days": fleet["mttr_days"]}
    print(json.dumps(dict({"seconds": round(seconds, 3), "peak_rss_mb": peak_rss_mb()}, **extra)))


def child(step, args, path):
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--measure", step, "--store", path,
                          "--hosts", str(args.hosts), "--updates", str(args.updates), "--runs", str(args.runs)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10000)
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--runs", type=int, default=90)
    parser.add_argument("--store", help="keep the store here (reused when it exists)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.store, args.hosts, args.updates, args.runs)
        return
    path = args.store or os.path.join(tempfile.mkdtemp(prefix="fleet-views-bench-"), "history.sqlite")
    build_seconds = None if os.path.exists(path) else build_store(path, args.hosts, args.updates, args.runs)
    steps = dict((step, child(step, args, path)) for step in ("baseline", "fleet_state", "render"))
    base = steps["baseline"]["seconds"] or 0.001
    print(json.dumps({
        "bench": "fleet_views", "hosts": args.hosts, "updates_per_host": args.updates, "runs": args.runs,
        "store_mb": round(os.path.getsize(path) / 1048576.0, 1), "store_build_seconds": build_seconds,
        "python": platform.python_version(), "steps": steps,
        "fleet_state_vs_baseline": round(steps["fleet_state"]["seconds"] / base, 2),
        "views_seconds": round(steps["fleet_state"]["seconds"] + steps["render"]["seconds"], 3),
    }, indent=1))


if __name__ == "__main__":
    main()
