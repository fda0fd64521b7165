"""The AWX workflow of playbooks/awx_configure.yml, run on the lab the way AWX runs it (awx_workflow.py):
each node's job through ansible_runner.run() with the compliance callback enabled beside the runner's
own event callback, the inventory synced through the rings plugin, AWX's extra variables, and each
node's set_stats artifacts passed to the next nodes. The success path installs exactly the test ring's
manifest on pilot and production although a newer version is published while the approval waits; a
failing test ring takes the failure path (the rollback node) and pilot never runs.

Lab time is kept small on purpose (CI's budget): the inventory source is limited to the lab's apt hosts
(AWX's inventory source `limit`: the test ring is lab-apt1; test_rollout.py covers dnf and zypper in the
rings), no reboots, no health checks, one baseline that selects two security updates; the failure path
stops at the test ring. The failure path runs first,
on the freshly reset lab (its rollback leaves the hosts as they were); the success path then patches."""
import json
import os
import subprocess
import sys
import time
import urllib.parse

import pytest
from awx_workflow import (REPO_ROOT, NodeRun, WorkflowDriver, load_configuration, run_concurrently, runner_job,
                          slice_inventory, slice_jobs, sync_inventory, template_id)
from conftest import on_host, run_lab
from test_apply_rollback import packages, refresh

sys.path.insert(0, os.path.join(REPO_ROOT, ".build", "collections"))
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore  # noqa: E402

# The baselines the workflow is launched with (an admin's fleetpatch_awx_baselines), and the job
# variables of every patch template (fleetpatch_awx_patch_vars): no reboot, no health checks.
BASELINES = {"lab-security": {"name": "lab-security", "classifications": ["security"]},
             # only fp-db, whose 1.1-1 in the broken wave fails to install on every manager
             "lab-db": {"name": "lab-db", "include": ["fp-db"],
                        "classifications": ["security", "bugfix", "enhancement", "other"]}}
CONFIG_OVERRIDES = {"fleetpatch_awx_baselines": BASELINES, "fleetpatch_awx_default_baseline": "lab-security",
                    "fleetpatch_awx_patch_vars": {"patch_reboot": "never"},
                    # production in one batch: the batches are test_rollout.py's business
                    "fleetpatch_awx_production_vars": {"fleetpatch_serial": "100%", "fleetpatch_max_fail_percentage": 0}}
# the inventory source's limit: every ring's apt hosts
SOURCE_LIMIT = "lab_apt"
ADMIN = {"id": 1, "username": "admin", "email": "admin@example.invalid", "first_name": "", "last_name": ""}
RINGS_CONFIG = "plugin: fleetpatch.patching.rings\nrings:\n  - {name: test, fraction: 0.0}\n" \
               "  - {name: pilot, fraction: 0.0}\n  - {name: production}\n"


@pytest.fixture(scope="module")
def awx(fresh_lab, tmp_path_factory):
    """The AWX side: the inventory synced from the lab's hosts and a rings configuration, and the
    environment a job gets from the EE (the callback enabled) and the store's credential."""
    root = tmp_path_factory.mktemp("awx")
    (root / "source").mkdir()
    (root / "source" / "awx.rings.yml").write_text(RINGS_CONFIG)
    inventory = str(root / "inventory")
    synced = sync_inventory([fresh_lab, str(root / "source" / "awx.rings.yml")], inventory, limit=SOURCE_LIMIT)
    envvars = {"ANSIBLE_CALLBACKS_ENABLED": "fleetpatch.patching.compliance",
               "FLEETPATCH_REPORT_DIR": str(root / "reports"),
               "FLEETPATCH_STORE": str(root / "history.sqlite"),
               "ANSIBLE_COLLECTIONS_PATH": os.environ.get("ANSIBLE_COLLECTIONS_PATH",
                                                          os.path.join(REPO_ROOT, ".build", "collections"))}
    return {"root": root, "inventory": inventory, "synced": synced, "envvars": envvars,
            "sources": [fresh_lab, str(root / "source" / "awx.rings.yml")]}


def reporting_job(awx, name, reports):
    """runner_job, recording the compliance report each job wrote (<report_dir>/latest after it)."""
    run_job = runner_job(str(awx["root"] / name), awx["inventory"], awx["envvars"])

    def run(template, extra_vars, job):
        result = run_job(template, extra_vars, job)
        latest = awx["root"] / "reports" / "latest"
        reports[job["id"]] = json.loads((latest / "report.json").read_text()) if latest.exists() else None
        if latest.exists():
            os.unlink(latest)     # the next job's report must be its own
        return result
    return run


def assert_events_complete(run):
    """The runner's event stream of a job is whole and clean beside the compliance callback."""
    events = run.events
    kinds = [event["event"] for event in events]
    # one stats event; after it only the compliance callback's summary (it runs after the runner's callback)
    assert kinds.count("playbook_on_stats") == 1, run.identifier
    after_stats = events[kinds.index("playbook_on_stats") + 1:]
    assert all(event["event"] == "verbose" for event in after_stats), (run.identifier, kinds[-5:])
    assert "## fleetpatch compliance: run " in "".join(event.get("stdout", "") for event in after_stats)
    counters = [event["counter"] for event in events]
    assert counters == list(range(1, len(events) + 1)), (run.identifier, counters[:5], counters[-5:])
    assert any(event["event"] == "playbook_on_start" for event in events)
    job_events = os.path.join(run.runner.config.artifact_dir, "job_events")
    assert len(os.listdir(job_events)) == len(events)
    warnings = [line for event in events for line in event.get("stdout", "").splitlines() if "[WARNING]" in line]
    assert not warnings, (run.identifier, warnings)


def assert_report_artifact(run, report):
    """The job's set_stats artifacts name the report the compliance callback wrote for it (what a later
    node or a notification reads), beside the manifest, and the files are there."""
    location = run.artifacts["fleetpatch_report"]
    assert location["run_id"] == report["run"]["run_id"], (run.identifier, location)
    assert os.path.dirname(location["json"]) == location["dir"], location
    for path in (location["json"], location["html"]):
        assert os.path.isfile(path), (run.identifier, path)
    with open(location["json"]) as handle:
        assert json.load(handle)["run"]["awx"]["job_id"] == run.extra_vars["awx_job_id"]


def installed_version(host, name):
    listed = packages(host).get(name)
    return listed and listed.split()[0].split(":", 1)[-1]


def test_failing_test_ring_takes_the_failure_path(awx, fleet):
    hosts = list(fleet.values())
    run_lab("stage", "broken")
    refresh(hosts)
    before = dict((h.name, packages(h)) for h in hosts)
    reports = {}
    started = time.monotonic()
    driver = WorkflowDriver(load_configuration(CONFIG_OVERRIDES), reporting_job(awx, "failure", reports),
                            approve=lambda identifier, ancestors: pytest.fail("the approval was reached"),
                            workflow_extra_vars={"fleetpatch_baseline": "lab-db"}, user=ADMIN).run()
    print("AWX failure path: %.1f s" % (time.monotonic() - started))
    assert driver.order == ["patch_test", "rollback_test"], driver.order
    runs = driver.finished
    assert runs["patch_test"].status == "failed" and runs["rollback_test"].status == "successful"
    assert not driver.failed          # AWX: a failure with a failure path that succeeded
    gate = [e for e in runs["patch_test"].events if e["event"] == "runner_on_failed"
            and e["event_data"].get("task") == "Decide"]
    assert gate and "Gate closed after ring test" in gate[0]["event_data"]["res"]["msg"]
    assert runs["rollback_test"].extra_vars["fleetpatch_ring"] == "test"      # the node's extra_data
    test_hosts = set(awx["synced"]["fleetpatch_ring_test"]["hosts"])
    for run in runs.values():
        assert_events_complete(run)
        report = reports[run.extra_vars["awx_job_id"]]
        assert report and set(h["host"] for h in report["hosts"]) == test_hosts, (run.identifier, report and report["hosts"])
        assert_report_artifact(run, report)
    # the failed job's artifacts reach its failure path: the rollback node knows where the report is
    assert runs["rollback_test"].extra_vars["fleetpatch_report"] == runs["patch_test"].artifacts["fleetpatch_report"]
    for host in hosts:                # the test ring is back where it was; pilot and production untouched
        assert packages(host) == before[host.name], host.name
    assert on_host(next(h for h in hosts if h.ring == "pilot"), "true").returncode == 0


def test_success_path_installs_the_test_rings_manifest_everywhere(awx, fleet):
    hosts = list(fleet.values())
    run_lab("stage", "security")
    refresh(hosts)
    approvals = []

    def approve(identifier, ancestors):
        # While the approval waits, a newer fp-crypto (1.0-3) is published: pilot and production must
        # still install the manifest's 1.0-2.
        approvals.append((identifier, ancestors))
        run_lab("stage", "fixed")
        refresh(hosts)
        return True

    reports = {}
    started = time.monotonic()
    driver = WorkflowDriver(load_configuration(CONFIG_OVERRIDES), reporting_job(awx, "success", reports), approve,
                            workflow_extra_vars={"fleetpatch_baseline": "lab-security"}, user=ADMIN).run()
    print("AWX success path: %.1f s" % (time.monotonic() - started))
    assert driver.order == ["patch_test", "approve_pilot", "patch_pilot", "patch_production"], driver.order
    assert not driver.failed
    runs = driver.finished
    manifest = runs["patch_test"].artifacts["fleetpatch_manifest"]
    assert set(manifest) == {"apt"} and manifest["apt"]["fp-crypto"] == "1.0-2", manifest
    # through the approval node (no job, no artifacts of its own) to pilot, and from pilot to production
    assert approvals == [("approve_pilot", {"fleetpatch_manifest": manifest,
                                            "fleetpatch_report": runs["patch_test"].artifacts["fleetpatch_report"]})]
    assert runs["patch_pilot"].extra_vars["fleetpatch_manifest"] == manifest
    assert runs["patch_pilot"].artifacts["fleetpatch_manifest"] == manifest
    assert runs["patch_production"].extra_vars["fleetpatch_manifest"] == manifest
    # each node's report location replaces its parent's in the next node's variables
    assert runs["patch_pilot"].extra_vars["fleetpatch_report"] == runs["patch_test"].artifacts["fleetpatch_report"]
    assert runs["patch_production"].extra_vars["fleetpatch_report"] == runs["patch_pilot"].artifacts["fleetpatch_report"]
    for ring in ("pilot", "production"):
        for host in (h for h in hosts if h.ring == ring):
            for name, version in manifest["apt"].items():
                assert installed_version(host, name) == version, (host.name, name)
    for identifier in ("patch_test", "patch_pilot", "patch_production"):
        run = runs[identifier]
        assert run.status == "successful" and run.runner.rc == 0, identifier
        assert_events_complete(run)
        assert run.extra_vars["awx_job_template_name"] == "fleetpatch " + identifier.replace("_", " ")
        assert run.extra_vars["awx_workflow_job_name"] == "fleetpatch rollout"
        assert run.extra_vars["awx_user_name"] == "admin"
        # the callback wrote this job's report, with this ring's hosts only
        report = reports[run.extra_vars["awx_job_id"]]
        ring = identifier.split("_", 1)[1]
        ring_hosts = set(awx["synced"]["fleetpatch_ring_" + ring]["hosts"])
        assert report and set(h["host"] for h in report["hosts"]) == ring_hosts, (identifier, report and report["hosts"])
        assert all(h["ring"] == ring for h in report["hosts"])
        assert_report_artifact(run, report)
        # the report knows which AWX job it was, from the variables AWX passed
        assert (report["run"]["awx"]["job_id"], report["run"]["awx"]["workflow_job_name"], report["run"]["awx"]["user_name"]) == (
            run.extra_vars["awx_job_id"], "fleetpatch rollout", "admin")


@pytest.fixture(scope="module")
def postgres_store(tmp_path_factory):
    """A PostgreSQL history store, as the store's credential gives a job: the URL without its password,
    the password in PGPASSWORD. The server: FLEETPATCH_TEST_POSTGRES_URL's, or tests/tools/start-postgres
    (stopped again afterwards when it started it); a schema of its own, dropped afterwards."""
    import psycopg
    started = False
    url = os.environ.get("FLEETPATCH_TEST_POSTGRES_URL")
    if not url:
        proc = subprocess.run([os.path.join(REPO_ROOT, "tests", "tools", "start-postgres")], capture_output=True,
                              text=True, check=True)
        exports = dict(line.split(" ", 1)[1].split("=", 1) for line in proc.stdout.splitlines() if line.startswith("export "))
        url = exports["FLEETPATCH_TEST_POSTGRES_URL"].strip("'\"")
        started = exports.get("FLEETPATCH_TEST_POSTGRES_STARTED", "").strip("'\"") == "1"
    schema = "fleetpatch_slices_%d" % os.getpid()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS %s CASCADE" % schema)
        conn.execute("CREATE SCHEMA %s" % schema)
    parts = urllib.parse.urlsplit(url)
    password = urllib.parse.unquote(parts.password or "")
    netloc = "%s@%s:%d" % (parts.username, parts.hostname, parts.port or 5432)
    query = urllib.parse.urlencode({"options": "-c search_path=%s" % schema}, quote_via=urllib.parse.quote)
    try:
        # url: what a job gets (the password apart); with_password: for this test's own reads
        yield {"url": urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, "")), "password": password,
               "with_password": urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))}
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA %s CASCADE" % schema)
        if started:
            subprocess.run([os.path.join(REPO_ROOT, "tests", "tools", "stop-postgres")], check=False)


SLICES = 3


def test_three_slices_of_a_sliced_job_are_one_run_in_postgresql(awx, fleet, postgres_store):
    """The assess template launched with job_slice_count 3 over every lab host: three slice jobs run at
    once through ansible-runner, each with its part of the inventory and its callback appending its run
    to one PostgreSQL store; the store reads them as one run and each host once."""
    configuration = load_configuration(CONFIG_OVERRIDES)
    root = awx["root"] / "sliced"
    root.mkdir()
    whole = sync_inventory(awx["sources"], str(root / "inventory"))
    envvars = dict(awx["envvars"], FLEETPATCH_STORE=postgres_store["url"], PGPASSWORD=postgres_store["password"],
                   FLEETPATCH_REPORT_DIR=str(root / "reports"))
    jobs = slice_jobs(configuration, "assess", SLICES, {"fleetpatch_baseline": "lab-security"}, workflow_job_id=9500,
                      first_job_id=9501, user=ADMIN)
    calls, parts = [], {}
    for job, extra_vars in jobs:
        number = job["slice_number"]
        parts[number] = slice_inventory(whole, number, SLICES, str(root / ("inventory_%d" % number)))
        run_job = runner_job(str(root / "jobs"), str(root / ("inventory_%d" % number)), envvars)
        calls.append(lambda run_job=run_job, job=job, extra_vars=extra_vars:
                     run_job(configuration["templates"]["assess"], extra_vars, job))
    hosts = sorted(h for part in parts.values() for h in part)
    assert hosts == sorted(fleet) and all(parts.values()), parts      # every lab host, in exactly one slice
    started = time.monotonic()
    results = run_concurrently(calls)
    print("AWX sliced job, %d slices at once: %.1f s" % (SLICES, time.monotonic() - started))

    slice_runs = {}
    for (job, extra_vars), (status, artifacts, runner, events) in zip(jobs, results):
        run = NodeRun("slice_%d" % job["slice_number"], status, {}, artifacts, extra_vars, runner, events)
        assert status == "successful" and runner.rc == 0, (run.identifier, runner.stdout.read()[-3000:])
        assert_events_complete(run)
        with open(artifacts["fleetpatch_report"]["json"]) as handle:
            report = json.load(handle)
        assert_report_artifact(run, report)
        assert sorted(h["host"] for h in report["hosts"]) == parts[job["slice_number"]]
        # its trend: no earlier run, and none of its sibling slices (stored before it or not)
        assert [p["run_id"] for p in report["trend"]] == [report["run"]["run_id"]]
        assert (report["run"]["awx"]["workflow_job_id"], report["run"]["awx"]["job_template_id"]) == (
            9500, template_id(configuration, "assess"))
        slice_runs[report["run"]["run_id"]] = report

    with HistoryStore.open(postgres_store["with_password"]) as store:
        runs = store.runs()
        assert sorted(r["run_id"] for r in runs) == sorted(slice_runs)
        group = runs[0]["group"]
        assert set(r["group"] for r in runs) == {group} and group.startswith("awx-workflow-9500-template-")
        assert store.logical_run(group) == [r["run_id"] for r in sorted(
            runs, key=lambda r: (r["ended_at"], r["run_id"]))]
        point, = store.trend()              # one run over every host, not three runs of a third each
        assert point["hosts"] == len(hosts) == sum(point["by_status"].values())
        statuses = dict((h["host"], h["status"]) for report in slice_runs.values() for h in report["hosts"])
        assert point["by_status"]["compliant"] == sum(1 for s in statuses.values() if s == "compliant")
        latest = store.latest_hosts()
        assert [h["host"] for h in latest] == hosts
        assert dict((h["host"], h["status"]) for h in latest) == statuses

    # the compliance inventory over that store: every host, in the group of its own latest assessment
    (root / "fleet.compliance.yml").write_text(
        "plugin: fleetpatch.patching.compliance\nstore: %s\nadd_hosts: true\n" % postgres_store["url"])
    proc = subprocess.run(["ansible-inventory", "-i", str(root / "fleet.compliance.yml"), "--list"], capture_output=True,
                          text=True, check=False, env=dict(os.environ, PGPASSWORD=postgres_store["password"]))
    assert proc.returncode == 0, proc.stderr
    groups = json.loads(proc.stdout)
    assert sorted(groups["_meta"]["hostvars"]) == hosts
    assert not groups.get("fleetpatch_stale", {}).get("hosts")
    for host, status in statuses.items():
        assert groups["_meta"]["hostvars"][host]["fleetpatch_compliance"]["status"] == status
