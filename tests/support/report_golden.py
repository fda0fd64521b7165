"""A deterministic run of a few hundred synthetic hosts through the compliance callback's end of run
(plugins/plugin_utils/_report/run.finish) with a real SQLite store holding one earlier run: every
report file it writes, byte for byte. The golden digests in
tests/unit/plugins/plugin_utils/fixtures/report_golden.json were taken from the in-memory end of run
(before the spill file), so the test that compares them shows the report files unchanged.

    python tests/support/report_golden.py OUTDIR     # writes the files, prints their digests
"""
import datetime
import hashlib
import json
import os
import sys

import synthetic_fleet

HOSTS = 300
UPDATES = 12
NOW = datetime.datetime(2026, 11, 25, 10, 5, 30, tzinfo=datetime.timezone.utc)
RUN = {"started_at": "2026-11-25T10:00:00Z", "ended_at": "2026-11-25T10:05:00Z", "playbooks": ["rollout.yml"],
       "check_mode": False, "controller": "controller.example.com", "ansible_version": "2.19.0",
       "collection_version": "0.1.0", "aborted_by": None, "awx": None, "awx_url": None,
       "gates": [{"ring": "test", "passed": True, "message": "ring test: 59 of 60 hosts patched", "hosts": 60,
                  "succeeded": 59, "rolled_back": 1, "failed": 0, "unreachable": 0, "manifest": None}]}
OPTIONS = {"formats": ["json", "html", "csv", "junit", "markdown", "updates"], "file_mode": "0600",
           "trend_runs": 30, "store_keep_days": 0, "stale_days": 7}


class _FrozenDatetime(datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return NOW


class _FrozenModule(object):
    """What run.py reads of the datetime module, with now() frozen (the fleet view's clock)."""
    timezone = datetime.timezone
    timedelta = datetime.timedelta


_FrozenModule.datetime = _FrozenDatetime


def observe_fleet(model, run_module, hosts, updates, seed, spill=None):
    """(observations, relevant, rings, stats) as the callback would hold them at the end of the run."""
    from ansible.executor.stats import AggregateStats
    stats = AggregateStats()
    observations, relevant, rings = {}, set(), {}
    for host, ring, events in synthetic_fleet.fleet(hosts, updates, seed=seed, hostile=True):
        obs = observations[host] = model.HostObservations(host, clock=lambda: "2026-11-25T10:01:00Z")
        rings[host] = ring
        for action, payload, failed, unreachable in events:
            obs.observe(action, payload, action.rsplit(".", 1)[-1], failed=failed, unreachable=unreachable)
            if unreachable:
                stats.increment("dark", host)
            elif failed:
                stats.increment("failures", host)
            if run_module.is_fleetpatch(action, payload):
                relevant.add(host)
            if spill is not None:
                spill.stash(obs)
    return observations, relevant, rings, stats


def run_files(workdir, with_spill):
    """Two runs into workdir (the first fills the store), the second's files: {name: bytes}."""
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import run as run_module
    run_module.datetime = _FrozenModule
    options = dict(OPTIONS, report_dir=os.path.join(workdir, "reports"), store=os.path.join(workdir, "h.sqlite"))
    for number, run_id in enumerate(("golden-0", "golden-1")):
        kwargs = {}
        spill = None
        if with_spill:
            from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import spill as _spill
            spill = kwargs["spill"] = _spill.Spill.create(options["report_dir"], run_id)
        observed = observe_fleet(model, run_module, HOSTS, UPDATES, seed=number + 1, spill=spill)
        run = dict(RUN, run_id=run_id)
        if number == 0:
            run.update(started_at="2026-11-18T10:00:00Z", ended_at="2026-11-18T10:05:00Z", gates=[])
        try:
            dummy_report, files, problems = run_module.finish(run, *observed, options=options,
                                                              inventory_hosts=["never.example.com"], **kwargs)
        finally:
            if spill is not None:
                spill.remove()
        assert problems == [], problems
    contents = {}
    for fmt, path in sorted(files.items()):
        with open(path, "rb") as handle:
            # The Markdown names the files by path: the same wherever the run was written.
            contents[os.path.basename(path)] = handle.read().replace(workdir.encode("utf-8"), b"WORKDIR")
    return contents


def digests(contents):
    return dict((name, hashlib.sha256(data).hexdigest()) for name, data in sorted(contents.items()))


if __name__ == "__main__":
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    files = run_files(out, with_spill="--spill" in sys.argv)
    for name, data in files.items():
        with open(os.path.join(out, "golden." + name), "wb") as handle:
            handle.write(data)
    print(json.dumps(digests(files), indent=1, sort_keys=True))
