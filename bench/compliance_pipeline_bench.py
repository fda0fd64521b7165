"""Benchmark: a synthetic run of 10,000 hosts x 50 updates through the compliance callback, the
history store (SQLite, or PostgreSQL) and every renderer, in a child process each so peak memory
is the pipeline's own.

    python bench/compliance_pipeline_bench.py [--hosts N] [--updates N] [--runs N] [--store sqlite|postgres]
                                              [--previous-runs N]

pipeline: the callback receives every result (patch_facts, patch_apply, health_check,
          patch_rollback, unreachable hosts) as Ansible would hand them over (spilling each host's
          updates to its spill file as they arrive), then at the end of the run builds the report
          host by host, writes JSON, HTML, CSV, JUnit and Markdown, and appends it to the store.
baseline: the least any reporter must do with the same results: keep the raw results and
          json.dump them to one file (timed with generating the synthetic fleet, which the
          pipeline's time leaves out, so the ratio flatters the baseline).
Each of --runs rounds runs the baseline, then the pipeline; ratios are per round.
--previous-runs N: the store already holds N earlier runs of the same fleet when the measured run
          appends to it (each a pipeline child of its own, not measured), as every run after an
          operator's first does: the end of the run then reads each host's previous assessment, its
          first-seen dates and the fleet's SLA breaches from the store.
--store postgres: the store is FLEETPATCH_BENCH_POSTGRES_URL, a database of its own, emptied (its
          public schema dropped) before each pipeline run:
            eval "$(FLEETPATCH_TEST_POSTGRES_DATABASE=fleetpatch_bench tests/tools/start-postgres)"
            export FLEETPATCH_BENCH_POSTGRES_URL=$FLEETPATCH_TEST_POSTGRES_URL
          (tests/tools/stop-postgres afterwards, if start-postgres started the server).
FLEETPATCH_BENCH_COLLECTIONS: another collections path to measure (an older checkout, for a
          comparison in the same conditions); default .build/collections.
Targets: issue 17, <= 10 s and <= 1 GiB at 10,000 hosts; issue 21, <= 300 MiB at 10,000 hosts and
<= 1 GiB, <= 120 s at 100,000 hosts. Results go to bench/results/.
"""
import argparse
import datetime
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


COLLECTIONS = os.environ.get("FLEETPATCH_BENCH_COLLECTIONS") or os.path.join(REPO, ".build", "collections")
TARGETS = {10000: {"seconds": 10, "peak_mib": 300}, 100000: {"seconds": 120, "peak_mib": 1024}}


def child(mode, hosts, updates, workdir, store, run_id="bench"):
    sys.path.insert(0, os.path.join(REPO, "tests", "support"))
    sys.path.insert(0, COLLECTIONS)
    import yaml
    from ansible.executor.stats import AggregateStats
    from ansible_collections.fleetpatch.patching.plugins.callback import compliance
    import synthetic_fleet

    class Quiet(object):
        verbosity = 0

        def warning(self, msg):
            raise SystemExit("callback warning: %s" % msg)

        def display(self, msg, **kwargs):
            pass

        def v(self, msg):
            pass

        vvv = v

    class Named(object):
        def __init__(self, name):
            self.name = name

        def get_name(self):
            return self.name

    class Task(Named):
        _role = None

        def __init__(self, action):
            Named.__init__(self, action.rsplit(".", 1)[-1])
            self.action = self.resolved_action = action

    class Result(object):
        def __init__(self, host, action, payload):
            self._host, self._task, self._result = Named(host), Task(action), payload

    started = time.perf_counter()
    stats = AggregateStats()
    if mode == "baseline":
        kept = []
        for host, dummy_ring, events in synthetic_fleet.fleet(hosts, updates):
            kept.extend({"host": host, "action": event[0], "result": event[1]} for event in events)
        with open(os.path.join(workdir, "results.json"), "w") as handle:
            json.dump(kept, handle)
    else:
        plugin = compliance.CallbackModule(display=Quiet())
        documented = yaml.safe_load(compliance.DOCUMENTATION)["options"]
        plugin._plugin_options = dict((k, v.get("default")) for k, v in documented.items())
        plugin._plugin_options.update(report_dir=os.path.join(workdir, "reports"), store=store)
        plugin._run_id = run_id
        collecting = 0.0        # only the time spent in the callback: generating the fleet is not the pipeline
        collecting_cpu = 0.0    # the same in CPU seconds (time.process_time), which other processes do not inflate
        for host, dummy_ring, events in synthetic_fleet.fleet(hosts, updates):
            for action, payload, failed, unreachable in events:
                result = Result(host, action, payload)
                before, before_cpu = time.perf_counter(), time.process_time()
                if unreachable:
                    stats.increment("dark", host)
                    plugin.v2_runner_on_unreachable(result)
                elif failed:
                    plugin.v2_runner_on_failed(result)
                else:
                    plugin.v2_runner_on_ok(result)
                collecting += time.perf_counter() - before
                collecting_cpu += time.process_time() - before_cpu
        finishing, finishing_cpu = time.perf_counter(), time.process_time()
        plugin.v2_playbook_on_stats(stats)
        finishing, finishing_cpu = time.perf_counter() - finishing, time.process_time() - finishing_cpu
        print(json.dumps({"collect_s": round(collecting, 2), "finish_s": round(finishing, 2),
                          "collect_cpu_s": round(collecting_cpu, 2), "finish_cpu_s": round(finishing_cpu, 2),
                          "pipeline_cpu_s": round(collecting_cpu + finishing_cpu, 2)}), file=sys.stderr)
        started = time.perf_counter() - collecting - finishing
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_kib = usage.ru_maxrss
    sizes = {}
    for root, dummy_dirs, files in os.walk(workdir):
        for name in files:
            sizes[name] = os.path.getsize(os.path.join(root, name))
    # CPU seconds of the whole child (the fleet's generation included; the pipeline's own are in its
    # phases): on a shared machine the wall clock also counts the other processes' turns.
    print(json.dumps({"seconds": round(elapsed, 2), "peak_mib": round(peak_kib / 1024.0, 1),
                      "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2), "bytes": sizes}))


def empty_postgres(url):
    """Drop the store's tables: each pipeline run appends to an empty store, as with SQLite."""
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def run_child(mode, hosts, updates, store_kind, previous_runs=0):
    with tempfile.TemporaryDirectory() as workdir:
        if store_kind == "postgres":
            store = os.environ["FLEETPATCH_BENCH_POSTGRES_URL"]
            if mode == "pipeline":
                empty_postgres(store)
        else:
            store = os.path.join(workdir, "history.sqlite")

        def command(directory, run_id):
            return [sys.executable, __file__, "--child", mode, "--hosts", str(hosts), "--updates", str(updates),
                    "--workdir", directory, "--store-location", store, "--run-id", run_id]
        for number in range(previous_runs if mode == "pipeline" else 0):
            # An earlier run, in a work directory of its own so that only the store is shared.
            earlier = os.path.join(workdir, "previous")
            os.mkdir(earlier)
            proc = subprocess.run(command(earlier, "bench-previous-%d" % number),
                                  capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise SystemExit("a previous run failed:\n%s\n%s" % (proc.stdout, proc.stderr))
            shutil.rmtree(earlier)
        proc = subprocess.run(command(workdir, "bench"), capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit("%s failed:\n%s\n%s" % (mode, proc.stdout, proc.stderr))
        result = json.loads(proc.stdout)
        if proc.stderr.strip():
            result["phases"] = json.loads(proc.stderr.strip().splitlines()[-1])
        return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10000)
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--child")
    parser.add_argument("--workdir")
    parser.add_argument("--store-location")
    parser.add_argument("--run-id", default="bench")
    parser.add_argument("--previous-runs", type=int, default=0,
                        help="how many earlier runs of the same fleet the store holds before the measured run")
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.hosts, args.updates, args.workdir, args.store_location, args.run_id)
    if args.store == "postgres" and not os.environ.get("FLEETPATCH_BENCH_POSTGRES_URL"):
        raise SystemExit("--store postgres: set FLEETPATCH_BENCH_POSTGRES_URL (see the docstring)")
    load_before = os.getloadavg()     # the machine is shared: what else ran, as the bench began
    rounds = []
    for number in range(args.runs):
        baseline = run_child("baseline", args.hosts, args.updates, args.store)
        pipeline = run_child("pipeline", args.hosts, args.updates, args.store, args.previous_runs)
        rounds.append({"baseline": baseline, "pipeline": pipeline,
                       "ratio_seconds": round(pipeline["seconds"] / baseline["seconds"], 2),
                       "ratio_peak_memory": round(pipeline["peak_mib"] / baseline["peak_mib"], 2)})
        print(json.dumps(dict(rounds[-1], round=number + 1)), file=sys.stderr)
    targets = TARGETS.get(args.hosts)
    worst = {"seconds": max(r["pipeline"]["seconds"] for r in rounds),
             "peak_mib": max(r["pipeline"]["peak_mib"] for r in rounds)}
    result = {
        "benchmark": "compliance_pipeline",
        "when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "hosts": args.hosts, "updates_per_host": args.updates, "store": args.store,
        "previous_runs": args.previous_runs,
        "collections": COLLECTIONS, "load_before": load_before, "load_after": os.getloadavg(),
        "rounds": rounds, "worst_pipeline": worst,
        "targets": targets,
        "met": (worst["seconds"] <= targets["seconds"] and worst["peak_mib"] <= targets["peak_mib"])
        if targets else None,
    }
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
    kind = args.store + ("-after-%d" % args.previous_runs if args.previous_runs else "")
    with open(os.path.join(HERE, "results", "compliance_pipeline-%s-%d-%s.json" % (kind, args.hosts, stamp)),
              "w") as handle:
        json.dump(result, handle, indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
