"""Benchmark: the history store (SQLite) with a large fleet's compliance report.

    .venv/bin/python bench/history_store_bench.py [--hosts 10000] [--updates 50] [--runs 2]

Builds a synthetic report (tests/support/synthetic_fleet.py; not timed), appends it --runs times
as successive runs into a fresh SQLite file, then times what readers do: open + latest_hosts()
(the compliance inventory plugin, which must stay under 2 s for 10,000 hosts), sla_breaches(),
first_seen() for every host, trend() and get_report(). Peak memory: the process's peak RSS, and
the Python allocations of one extra append traced alone (tracemalloc, in a separate pass so it
does not slow the timed one). Prints one JSON object.
"""
import argparse
import json
import os
import platform
import resource
import sqlite3
import sys
import tempfile
import time
import tracemalloc

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
COLLECTIONS = os.path.join(REPO, ".build", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "fleetpatch", "patching")
if not os.path.exists(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(REPO, LINK)
sys.path[:0] = [COLLECTIONS, os.path.join(REPO, "tests", "support")]

import synthetic_fleet  # noqa: E402
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model as _report_model  # noqa: E402
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore  # noqa: E402


def build_report(hosts, updates, run_id, ended_at):
    entries = []
    for host, ring, events in synthetic_fleet.fleet(hosts, updates):
        observations = _report_model.HostObservations(host)
        observations.ring = ring
        for action, result, failed, unreachable in events:
            observations.observe(action, result, "task", failed, unreachable)
        entries.append(_report_model.host_entry(observations))
    run = {"run_id": run_id, "started_at": "2026-11-25T10:00:00Z", "ended_at": ended_at,
           "playbooks": ["rollout.yml"], "check_mode": False, "controller": "bench", "ansible_version": "2.19",
           "collection_version": "0.1.0", "aborted_by": None}
    return _report_model.build_report(run, entries)


def as_run(report, number):
    """The same fleet as run `number` (the run metadata is all that differs)."""
    run = dict(report["run"], run_id="bench-%03d" % number, ended_at="2026-11-%02dT10:05:00Z" % (number + 1))
    return dict(report, run=run)


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, round(time.perf_counter() - start, 3)


def peak_rss_mb():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def reader_timings(path):
    start = time.perf_counter()
    with HistoryStore.open(path) as store:
        hosts = store.latest_hosts()
        open_and_latest = round(time.perf_counter() - start, 3)
        breaches, sla_seconds = timed(store.sla_breaches, "2026-11-25")
        seen, first_seen_seconds = timed(store.first_seen, [h["host"] for h in hosts])
        trend, trend_seconds = timed(store.trend)
        newest = trend[-1]["run_id"]
        get_report_seconds = timed(store.get_report, newest)[1]
    return {"open_and_latest_hosts_seconds": open_and_latest, "latest_hosts_count": len(hosts),
            "sla_breaches_seconds": sla_seconds, "sla_breaches_count": len(breaches),
            "first_seen_all_hosts_seconds": first_seen_seconds, "first_seen_keys": len(seen),
            "trend_seconds": trend_seconds, "get_report_seconds": get_report_seconds}


def traced_append_mb(report, directory):
    with HistoryStore.open(os.path.join(directory, "traced.sqlite")) as store:
        tracemalloc.start()
        store.append_run(report)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return round(peak / 1024.0 / 1024.0, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10000)
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument("--runs", type=int, default=2, help="successive runs appended (default 2)")
    args = parser.parse_args()

    report, build_seconds = timed(build_report, args.hosts, args.updates, "bench-000", "2026-11-01T10:05:00Z")
    rss_before = peak_rss_mb()
    with tempfile.TemporaryDirectory(prefix="fleetpatch-history-bench-") as directory:
        path = os.path.join(directory, "history.sqlite")
        store, open_seconds = timed(HistoryStore.open, path)
        append_seconds = []
        with store:
            for number in range(args.runs):
                append_seconds.append(timed(store.append_run, as_run(report, number))[1])
        rss_after_appends = peak_rss_mb()
        readers = reader_timings(path)
        database_mb = round(sum(os.path.getsize(os.path.join(directory, n)) for n in os.listdir(directory)
                                if n.startswith("history.sqlite")) / 1024.0 / 1024.0, 1)
        prune_seconds = None
        if args.runs > 1:
            # Retention: every run but the last is history (the last is every host's latest).
            with HistoryStore.open(path) as store:
                pruned, prune_seconds = timed(store.prune, "2100-01-01")
            assert len(pruned) == args.runs - 1, pruned
        traced_mb = traced_append_mb(as_run(report, args.runs), directory)
    print(json.dumps({
        "benchmark": "history_store", "backend": "sqlite", "sqlite_version": sqlite3.sqlite_version,
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "hosts": args.hosts, "updates_per_host": args.updates, "runs": args.runs,
        "update_rows_per_run": sum(len(h["updates"]) for h in report["hosts"]),
        "report_json_mb": round(len(json.dumps(report, separators=(",", ":"))) / 1024.0 / 1024.0, 1),
        "build_report_seconds_untimed_context": build_seconds,
        "open_new_store_seconds": open_seconds, "append_seconds": append_seconds,
        "database_mb_after_runs": database_mb,
        "peak_rss_mb_before_appends": rss_before, "peak_rss_mb_after_appends": rss_after_appends,
        "append_traced_python_peak_mb": traced_mb,
        "readers": readers,
        "prune_all_but_the_latest_run_seconds": prune_seconds,
    }, indent=2))


if __name__ == "__main__":
    main()
