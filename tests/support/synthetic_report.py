"""Compliance report documents built the way the callback builds them, from synthetic_fleet's task
results through _report_model, for renderer tests and bench/render_bench.py."""

from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model

import synthetic_fleet

STATUSES = model.HOST_STATUSES
HOSTILE_TITLE = "<script>alert(1)</script>"
# With this seed the hostile title (pkg000 on host00000) stays missing and is the host's most
# urgent update, so the dashboard's drill-down shows it; with others it is installed or held back.
HOSTILE_SEED = 2


def trend_points(runs, hosts):
    """`runs` earlier runs, a day apart, compliance rising to this run's; the third one aborted."""
    points = []
    for index in range(runs):
        compliant = int(hosts * (0.02 + 0.02 * index))
        failed = max(hosts // 50, 0)
        by_status = dict((s, 0) for s in STATUSES)
        by_status.update(compliant=compliant, failed=failed, non_compliant=hosts - compliant - failed)
        points.append({"run_id": "r%02d" % index, "ended_at": "2026-11-%02dT10:00:00Z" % (10 + index),
                       "status": "aborted" if index == 2 else "completed", "hosts": hosts,
                       "compliant_percent": round(100.0 * compliant / hosts, 1) if hosts else 100.0,
                       "by_status": by_status})
    return points


def host_entries(hosts, updates, hostile=False, seed=1):
    entries = []
    for host, ring, events in synthetic_fleet.fleet(hosts, updates, seed=seed, hostile=hostile):
        observations = model.HostObservations(host)
        observations.ring = ring
        for action, result, failed, unreachable in events:
            observations.observe(action, result, "task %s" % action, failed, unreachable)
        entries.append(model.host_entry(observations, failed=any(e[2] for e in events)))
    return entries


def hostile_update(report):
    """(host, update) carrying the hostile title, checked to be open (missing) on that host."""
    for host in report["hosts"]:
        for update in host["updates"]:
            if (update.get("title") or "").startswith(HOSTILE_TITLE):
                assert update["state"] == "missing", "synthetic_fleet changed: pick another HOSTILE_SEED"
                return host, update
    raise AssertionError("no hostile title in the report")


def build(hosts=200, updates=50, hostile=False, aborted_by=None, check_mode=False, trend_runs=8, seed=None):
    if seed is None:
        seed = HOSTILE_SEED if hostile else 1
    run = {"run_id": "r-synthetic", "started_at": "2026-11-25T10:00:00Z", "ended_at": "2026-11-25T10:05:00Z",
           "playbooks": ["rollout.yml"], "check_mode": check_mode, "controller": "controller.example.com",
           "ansible_version": "2.19.14", "collection_version": "0.1.0", "aborted_by": aborted_by}
    return model.build_report(run, host_entries(hosts, updates, hostile, seed), trend_points(trend_runs, hosts))


def with_fleet(report, store_path, stale_hosts=5, never_assessed=3):
    """The report with its `fleet` view, from a real SQLite history store at store_path: an earlier
    run a week before (another seed, so updates came and went), with `stale_hosts` hosts seen only
    then, 40 days before, and `never_assessed` inventory hosts no run assessed."""
    import datetime
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import fleet_view as _fleet_view
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore
    hosts = len(report["hosts"])
    old_run = {"run_id": "r-old", "started_at": "2026-10-16T10:00:00Z", "ended_at": "2026-10-16T10:05:00Z",
               "playbooks": ["assess.yml"], "check_mode": False, "controller": "controller.example.com",
               "ansible_version": "2.19.14", "collection_version": "0.1.0", "aborted_by": None}
    retired = [dict(h, host="retired%02d.example.com" % i, assessed_at="2026-10-16T10:00:00Z")
               for i, h in enumerate(report["hosts"][:stale_hosts])]
    week_run = dict(old_run, run_id="r-week", started_at="2026-11-18T10:00:00Z", ended_at="2026-11-18T10:05:00Z")
    with HistoryStore.open(store_path) as store:
        store.append_run(model.build_report(old_run, retired))
        store.append_run(model.build_report(week_run, host_entries(hosts, 50, False, 7)))
        inventory = [h["host"] for h in report["hosts"]] + ["new%02d.example.com" % i for i in range(never_assessed)]
        report["fleet"] = _fleet_view.fleet_state(store, report, inventory,
                                                  datetime.datetime(2026, 11, 25, 10, 5, tzinfo=datetime.timezone.utc))
    return report
