"""Benchmark: the compliance callback's host entries and its spill file's round trip, alone (the
parts of bench/compliance_pipeline_bench.py's run that grow with the fleet's updates, issue 17
item 5 and issue 21 item 4).

    .venv/bin/python bench/host_entries_bench.py [--hosts 10000] [--updates 50] [--runs 3] [--against PATH]

Each round runs a child process per collections path (this checkout's .build/collections, then
--against's, alternating) that feeds a synthetic fleet's results (tests/support/synthetic_fleet.py)
to HostObservations, stashes them in a spill file (_report/spill.py) as the callback does, then,
host by host as _report/run.py does, reads them back (Spill.restored) and builds the entry
(model.host_entry). Timed in CPU seconds (time.process_time: the machine may be shared):
  stash      Spill.stash after each result (the results' updates and changes into the file)
  restored   Spill.restored per host (read back)
  host_entry model.host_entry per host (shape, check, states, counts)
digest: a SHA-256 of every entry's JSON text; the same for every path, or the entries differ.
Prints one JSON object per child, then a summary; nothing is written.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
COLLECTIONS = os.path.join(REPO, ".build", "collections")
# the controller's time: every path decides SLA breaches by the same day
CLOCK = "2026-11-25T12:00:00Z"


def child(collections, hosts, updates):
    sys.path[:0] = [collections, os.path.join(REPO, "tests", "support")]
    import synthetic_fleet
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model, spill as _spill

    observations = {}
    timing = {"stash": 0.0, "restored": 0.0, "host_entry": 0.0}
    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory() as workdir:
        spill = _spill.Spill(os.path.join(workdir, "spill.sqlite"))
        for host, dummy_ring, events in synthetic_fleet.fleet(hosts, updates):
            obs = observations[host] = model.HostObservations(host, clock=lambda: CLOCK)
            for action, payload, failed, unreachable in events:
                obs.observe(action, payload, action, failed=failed, unreachable=unreachable)
                before = time.process_time()
                spill.stash(obs)
                timing["stash"] += time.process_time() - before
        for name in sorted(observations):
            before = time.process_time()
            full = spill.restored(observations[name])
            between = time.process_time()
            entry = model.host_entry(full)
            timing["restored"] += between - before
            timing["host_entry"] += time.process_time() - between
            digest.update(json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        spill.remove()
    result = dict((key, round(value, 2)) for key, value in timing.items())
    result.update(total=round(sum(timing.values()), 2), digest=digest.hexdigest()[:16])
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10000)
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--against", action="append", default=[],
                        help="another collections path to measure in the same rounds (an older checkout)")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.hosts, args.updates)
    paths = [COLLECTIONS] + args.against
    rounds = []
    for number in range(args.runs):
        for path in paths:
            proc = subprocess.run([sys.executable, __file__, "--child", path, "--hosts", str(args.hosts),
                                   "--updates", str(args.updates)], capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise SystemExit("%s failed:\n%s\n%s" % (path, proc.stdout, proc.stderr))
            result = dict(json.loads(proc.stdout), collections=path, round=number + 1)
            rounds.append(result)
            print(json.dumps(result), file=sys.stderr)
    summary = {"benchmark": "host_entries", "hosts": args.hosts, "updates_per_host": args.updates,
               "load": os.getloadavg(), "rounds": rounds,
               "best_total": dict((path, min(r["total"] for r in rounds if r["collections"] == path)) for path in paths),
               "same_entries": len(set(r["digest"] for r in rounds)) == 1}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
