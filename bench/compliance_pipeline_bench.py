"""Benchmark: a synthetic run of 10,000 hosts x 50 updates through the compliance callback, the
SQLite history store and every renderer, in a child process each so peak memory is the
pipeline's own.

    python bench/compliance_pipeline_bench.py [--hosts N] [--updates N]

pipeline: the callback receives every result (patch_facts, patch_apply, health_check,
          patch_rollback, unreachable hosts) as Ansible would hand them over, then at the end of the
          run builds the report, writes JSON, HTML, CSV, JUnit and Markdown, and appends it to SQLite.
baseline: the least any reporter must do with the same results: keep the raw results and
          json.dump them to one file (timed with generating the synthetic fleet, which the
          pipeline's time leaves out, so the ratio flatters the baseline).
Targets (issue 6): pipeline <= 10 s and <= 1 GiB peak memory. Results go to bench/results/.
"""
import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def child(mode, hosts, updates, workdir):
    sys.path.insert(0, os.path.join(REPO, "tests", "support"))
    sys.path.insert(0, os.path.join(REPO, ".build", "collections"))
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
        plugin._plugin_options.update(report_dir=os.path.join(workdir, "reports"),
                                      store=os.path.join(workdir, "history.sqlite"))
        plugin._run_id = "bench"
        collecting = 0.0        # only the time spent in the callback: generating the fleet is not the pipeline
        for host, dummy_ring, events in synthetic_fleet.fleet(hosts, updates):
            for action, payload, failed, unreachable in events:
                result = Result(host, action, payload)
                before = time.perf_counter()
                if unreachable:
                    stats.increment("dark", host)
                    plugin.v2_runner_on_unreachable(result)
                elif failed:
                    plugin.v2_runner_on_failed(result)
                else:
                    plugin.v2_runner_on_ok(result)
                collecting += time.perf_counter() - before
        finishing = time.perf_counter()
        plugin.v2_playbook_on_stats(stats)
        finishing = time.perf_counter() - finishing
        print(json.dumps({"collect_s": round(collecting, 2), "finish_s": round(finishing, 2)}), file=sys.stderr)
        started = time.perf_counter() - collecting - finishing
    elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sizes = {}
    for root, dummy_dirs, files in os.walk(workdir):
        for name in files:
            sizes[name] = os.path.getsize(os.path.join(root, name))
    print(json.dumps({"seconds": round(elapsed, 2), "peak_mib": round(peak_kib / 1024.0, 1), "bytes": sizes}))


def run_child(mode, hosts, updates):
    with tempfile.TemporaryDirectory() as workdir:
        proc = subprocess.run([sys.executable, __file__, "--child", mode, "--hosts", str(hosts),
                               "--updates", str(updates), "--workdir", workdir],
                              capture_output=True, text=True, check=False)
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
    parser.add_argument("--child")
    parser.add_argument("--workdir")
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.hosts, args.updates, args.workdir)
    baseline = run_child("baseline", args.hosts, args.updates)
    pipeline = run_child("pipeline", args.hosts, args.updates)
    result = {
        "benchmark": "compliance_pipeline",
        "when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "hosts": args.hosts, "updates_per_host": args.updates,
        "baseline": baseline, "pipeline": pipeline,
        "ratio_seconds": round(pipeline["seconds"] / baseline["seconds"], 2),
        "ratio_peak_memory": round(pipeline["peak_mib"] / baseline["peak_mib"], 2),
        "targets": {"seconds": 10, "peak_mib": 1024},
        "met": pipeline["seconds"] <= 10 and pipeline["peak_mib"] <= 1024,
    }
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
    with open(os.path.join(HERE, "results", "compliance_pipeline-%s.json" % stamp), "w") as handle:
        json.dump(result, handle, indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
