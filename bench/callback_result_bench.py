"""Benchmark: what reading one task result costs the compliance callback, per result, in the
controller's main process (ansible-core 2.19), for a host patch record of N updates.

    python bench/callback_result_bench.py [--updates 50] [--repeat 300] [--rounds 3]

copy:        Ansible's own per-callback copy (as_callback_task_result), paid for every callback
             that implements the hook, whatever it reads: the floor, not ours to save;
native:      copy + `result._result`, Ansible's native-typed second copy (what the callback read
             until it had result_data());
result_data: copy + compliance.result_data(), which finds the copy plain and reads it as it is;
tagged:      the same for a small set_fact result with tagged values (result_data() falls back to
             `_result`): what the check costs when it does not pay off.
Rounds are short batches that alternate the variants, so that a busy machine weighs on all of them
alike; the figures are the fastest batch (the least disturbed) and the median batch, per result.
Results go to bench/results/.
"""
import argparse
import datetime
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "support"))
sys.path.insert(0, os.path.join(REPO, ".build", "collections"))

from ansible._internal._datatag._tags import Origin  # noqa: E402
from ansible.executor.task_result import _RawTaskResult  # noqa: E402
from ansible.inventory.host import Host  # noqa: E402
from ansible.playbook.task import Task  # noqa: E402
from ansible_collections.fleetpatch.patching.plugins.callback import compliance  # noqa: E402
import synthetic_fleet  # noqa: E402


def raw_result(action, data):
    task = Task()
    task.action = action
    return _RawTaskResult(Host("web1"), task, data, {})


def per_result(raw, read, repeat):
    started = time.perf_counter()
    for _each in range(repeat):
        read(raw.as_callback_task_result())
    return (time.perf_counter() - started) / repeat * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=20, help="results per batch")
    parser.add_argument("--rounds", type=int, default=40, help="batches per variant")
    args = parser.parse_args()
    _host, _ring, events = next(iter(synthetic_fleet.fleet(1, args.updates, seed=1)))
    action, result, _failed, _unreachable = events[0]
    record = raw_result(action, json.loads(json.dumps(result)))      # as a module's JSON reply decodes
    tagged = raw_result("ansible.builtin.set_fact", {"ansible_facts": {"patch_outcome": {
        "status": Origin(description="set_fact").tag("patched"), "ring": "test",
        "changes": Origin(description="set_fact").tag([{"name": "openssl", "before": "1", "after": "2"}])}}})
    variants = {
        "copy": (record, lambda r: r),
        "native": (record, lambda r: r._result),
        "result_data": (record, compliance.result_data),
        "tagged_native": (tagged, lambda r: r._result),
        "tagged_result_data": (tagged, compliance.result_data),
    }
    times = dict((name, []) for name in variants)
    for _round in range(args.rounds):
        for name, (raw, read) in variants.items():
            times[name].append(per_result(raw, read, args.repeat))
    fastest = dict((name, round(min(values), 4)) for name, values in times.items())
    median = dict((name, round(statistics.median(values), 4)) for name, values in times.items())
    out = {"when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "updates": args.updates, "repeat": args.repeat, "rounds": args.rounds,
           "ms_per_result_fastest": fastest, "ms_per_result_median": median,
           "beyond_ansibles_copy_ms_fastest": dict(
               (name, round(fastest[name] - fastest["copy"], 4)) for name in ("native", "result_data")),
           "result_data_to_native_ratio": dict(fastest=round(fastest["result_data"] / fastest["native"], 3),
                                               median=round(median["result_data"] / median["native"], 3)),
           "load": os.getloadavg()}
    path = os.path.join(HERE, "results", "callback_result-%d-%s.json" % (args.updates, out["when"].replace(":", "")))
    with open(path, "w") as stream:
        json.dump(out, stream, indent=2)
    print(json.dumps(out, indent=2))
    print("saved", path)


if __name__ == "__main__":
    main()
