"""AWX job slicing in the history store: the slices of one sliced job (one job template run as a
workflow job of N slice jobs, each with its own awx_job_id and the workflow job's id) are appended
concurrently, each by its own callback, and read as one logical run - one trend point over every
slice's hosts, one run for logical_run() - while each host's last known state stays its own latest
assessment. On a real SQLite file and a real PostgreSQL server (FLEETPATCH_TEST_POSTGRES_URL)."""
import datetime
import multiprocessing

import pytest
from ansible_collections.fleetpatch.patching.plugins.plugin_utils import _awx_job
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import fleet_view as _fleet_view
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._inventory import compliance_groups as rules
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore
from test_history_store import entry, report, update
from test_history_store import location, postgres_location  # noqa: F401  pylint: disable=unused-import

NOW = datetime.datetime(2026, 11, 20, 12, 0, tzinfo=datetime.timezone.utc)
WORKFLOW_JOB, TEMPLATE = 45, 7
GROUP = "awx-workflow-45-template-7"
# AWX slices an inventory by host name: slice n of 3 gets hosts[n-1::3] (Inventory.get_sliced_hosts)
HOSTS = ["web%02d" % n for n in range(1, 10)]
SLICES = dict((n, HOSTS[n - 1::3]) for n in (1, 2, 3))


def awx_vars(job_id, workflow_job_id=WORKFLOW_JOB, template_id=TEMPLATE):
    """What AWX passes a slice job (awx_meta_vars): its own job id, the sliced workflow job's id and
    name (the template's name), launch type workflow; no slice number."""
    return {"awx_job_id": job_id, "awx_job_launch_type": "workflow", "awx_workflow_job_id": workflow_job_id,
            "awx_workflow_job_name": "fleetpatch assess", "awx_job_template_id": template_id,
            "awx_job_template_name": "fleetpatch assess", "awx_user_name": "alice"}


def slice_report(number, ended_at="2026-11-20T10:0%d:00Z", compliant=("web01", "web05")):
    hosts = [entry(h, *([] if h in compliant else [update("openssl", "3.0.%d" % n)]),
                   status="compliant" if h in compliant else "non_compliant", assessed_at="2026-11-20T10:00:00Z",
                   ring="pilot" if h < "web05" else "production")
             for n, h in enumerate(SLICES[number])]
    rep = report("slice-%d" % number, ended_at % number, *hosts, started_at="2026-11-20T09:59:00Z")
    rep["run"]["awx"] = _awx_job.job_metadata(awx_vars(100 + number))
    return rep


def _append_slice(location, number):
    with HistoryStore.open(location) as store:
        store.append_run(slice_report(number))


def earlier_run(store):
    """An ordinary run before the sliced job: every host non-compliant."""
    store.append_run(report("r0", "2026-11-10T10:00:00Z", *[entry(h, update("openssl", "3.0.0")) for h in HOSTS]))


def test_three_slices_appended_concurrently_are_one_run(location):
    with HistoryStore.open(location) as store:
        earlier_run(store)
    context = multiprocessing.get_context("spawn")      # each slice a fresh interpreter, as AWX's slice jobs are
    writers = [context.Process(target=_append_slice, args=(location, n)) for n in SLICES]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
    assert [writer.exitcode for writer in writers] == [0, 0, 0]

    with HistoryStore.open(location) as store:
        runs = store.runs()
        assert sorted(r["run_id"] for r in runs) == ["r0", "slice-1", "slice-2", "slice-3"]
        assert set(r["group"] for r in runs if r["run_id"] != "r0") == {GROUP}
        assert [r["awx"]["job_template_id"] for r in runs if r["awx"]] == [TEMPLATE] * 3
        assert store.logical_run("slice-2") == store.logical_run(GROUP) == ["slice-1", "slice-2", "slice-3"]
        assert store.logical_run("r0") == ["r0"] and store.logical_run("nothing") == []

        trend = store.trend()
        # one point for the sliced job, over all nine hosts (not three points of three hosts each)
        assert [(p["run_id"], p["hosts"]) for p in trend] == [("r0", 9), ("slice-3", 9)]
        sliced = trend[-1]
        assert sliced["ended_at"] == "2026-11-20T10:03:00Z" and sliced["status"] == "completed"
        assert (sliced["by_status"]["compliant"], sliced["by_status"]["non_compliant"]) == (2, 7)
        assert sliced["compliant_percent"] == 22.2
        assert sliced["by_ring"] == {"pilot": {"hosts": 4, "compliant_percent": 25.0},
                                     "production": {"hosts": 5, "compliant_percent": 20.0}}
        assert sliced["open"]["security"] == 7
        # a slice's own report: the trend before it leaves its sibling slices out, stored or not
        assert [p["run_id"] for p in store.trend(before_run_id="slice-2")] == ["r0"]
        assert [p["run_id"] for p in store.trend(before_run_id="slice-4", awx=_awx_job.job_metadata(
            awx_vars(104)))] == ["r0"]
        assert [p["run_id"] for p in store.trend(limit=1)] == ["slice-3"]

        # each host once, from its own slice
        latest = store.latest_hosts()
        assert [h["host"] for h in latest] == HOSTS
        assert dict((h["host"], h["run_id"]) for h in latest) == dict(
            (host, "slice-%d" % n) for n, hosts in SLICES.items() for host in hosts)
        assert set(h["run_id"] for h in store.last_assessed().values()) == {"slice-1", "slice-2", "slice-3"}

        # the compliance inventory's groups and the fleet view cover every slice's hosts
        snap = rules.snapshot(store.location, NOW, latest, store.last_assessed(), store.sla_breaches(NOW))
        members = rules.group_members(rules.host_states(snap, HOSTS, NOW, 7))
        assert members[rules.COMPLIANT] == ["web01", "web05"]
        assert members[rules.NONCOMPLIANT] == [h for h in HOSTS if h not in ("web01", "web05")]
        assert members[rules.STALE] == []
        after = report("r9", "2026-11-20T11:00:00Z", entry("web02", status="compliant",
                                                           assessed_at="2026-11-20T11:00:00Z"))
        fleet = _fleet_view.fleet_state(store, after, HOSTS, NOW)
        assert fleet["never_assessed"] == [] and len(fleet["hosts"]) == 9
        assert fleet["since_previous"] == {"new": 0, "resolved": 1}       # web02's openssl, from slice 2


def test_a_host_in_two_runs_of_the_group_counts_once_newest_wins(location):
    """One template run twice in one workflow job (or a slice re-run) is one logical run: a host in
    both counts once, as the newer run saw it."""
    with HistoryStore.open(location) as store:
        store.append_run(slice_report(1))
        again = report("slice-1-again", "2026-11-20T11:00:00Z",
                       entry("web04", status="compliant", assessed_at="2026-11-20T11:00:00Z", ring="pilot"))
        again["run"]["awx"] = _awx_job.job_metadata(awx_vars(200))
        store.append_run(again)
        point, = store.trend()
        assert (point["run_id"], point["hosts"], point["by_status"]["compliant"]) == ("slice-1-again", 3, 2)


def test_runs_of_other_templates_or_workflow_jobs_stay_apart(location):
    with HistoryStore.open(location) as store:
        store.append_run(slice_report(1))
        other = slice_report(2)
        other["run"]["awx"] = _awx_job.job_metadata(awx_vars(102, template_id=8))
        store.append_run(other)
        third = slice_report(3)
        third["run"]["awx"] = _awx_job.job_metadata(awx_vars(103, workflow_job_id=46))
        store.append_run(third)
        plain = report("plain", "2026-11-20T12:00:00Z", entry("web01"))
        plain["run"]["awx"] = _awx_job.job_metadata({"awx_job_id": 300, "awx_job_template_id": TEMPLATE})
        store.append_run(plain)
        assert [(p["run_id"], p["hosts"]) for p in store.trend()] == [
            ("slice-1", 3), ("slice-2", 3), ("slice-3", 3), ("plain", 1)]


def test_run_group_names_the_workflow_job_and_template():
    awx = _awx_job.job_metadata(awx_vars(101))
    assert _awx_job.run_group("r1", awx) == GROUP
    assert _awx_job.group_job(GROUP) == (WORKFLOW_JOB, TEMPLATE)
    assert _awx_job.run_group("r1", None) == "r1"
    assert _awx_job.run_group("r1", _awx_job.job_metadata({"awx_job_id": 5, "awx_job_template_id": 7})) == "r1"
    assert _awx_job.group_job("r1") is None and _awx_job.group_job("awx-workflow-x-template-7") is None


@pytest.mark.parametrize("limit", [1, 2])
def test_the_trend_limit_counts_logical_runs(tmp_path, limit):
    with HistoryStore.open(str(tmp_path / "h.sqlite")) as store:
        earlier_run(store)
        for number in SLICES:
            store.append_run(slice_report(number))
        assert len(store.trend(limit=limit)) == limit
        assert store.trend(limit=limit)[-1]["hosts"] == 9


def test_the_report_of_a_slice_or_of_its_group_covers_every_slice(tmp_path):
    """The compliance_report action (the report role, playbooks/report.yml) asked for one slice's
    run, or for the group's name, draws the whole sliced job: every slice's hosts, as each slice saw
    them, named after the group, its trend ending with the whole job; an ordinary run stays alone."""
    import json
    import os
    import subprocess
    import sys
    store = str(tmp_path / "history.sqlite")
    with HistoryStore.open(store) as opened:
        earlier_run(opened)
        for number in SLICES:
            opened.append_run(slice_report(number))
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(repo, ".build", "collections"), ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    drawn = {}
    for asked in ("slice-2", GROUP, "r0"):
        dest = tmp_path / ("reports-" + asked)
        proc = subprocess.run(
            [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-c", "local", "-m",
             "fleetpatch.patching.compliance_report", "-a",
             json.dumps({"store": store, "run_id": asked, "dest": str(dest), "formats": ["json"]})],
            capture_output=True, text=True, env=env, check=False, stdin=subprocess.DEVNULL, timeout=300)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        (run_dir,) = list(dest.iterdir())
        with open(run_dir / "report.json") as handle:
            drawn[asked] = json.load(handle)
    for asked in ("slice-2", GROUP):
        report = drawn[asked]
        assert report["run"]["run_id"] == GROUP
        assert sorted(h["host"] for h in report["hosts"]) == HOSTS
        assert report["summary"]["by_status"]["compliant"] == 2            # web01 and web05, in two slices
        # the newest slice's earlier points, then the whole job, never a slice alone
        assert [point["run_id"] for point in report["trend"]][-1:] == [GROUP]
        assert not [point for point in report["trend"] if point["run_id"].startswith("slice-")]
        assert report["trend"][-1]["hosts"] == len(HOSTS)
        assert report["run"]["awx"]["workflow_job_id"] == WORKFLOW_JOB
    assert drawn["r0"]["run"]["run_id"] == "r0" and len(drawn["r0"]["hosts"]) == len(HOSTS)
