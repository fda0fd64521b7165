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
import time

import pytest
from awx_workflow import REPO_ROOT, WorkflowDriver, load_configuration, runner_job, sync_inventory
from conftest import on_host, run_lab
from test_apply_rollback import packages, refresh

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
    return {"root": root, "inventory": inventory, "synced": synced, "envvars": envvars}


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
    assert approvals == [("approve_pilot", {"fleetpatch_manifest": manifest})]
    assert runs["patch_pilot"].extra_vars["fleetpatch_manifest"] == manifest
    assert runs["patch_pilot"].artifacts["fleetpatch_manifest"] == manifest
    assert runs["patch_production"].extra_vars["fleetpatch_manifest"] == manifest
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
        # the report knows which AWX job it was, from the variables AWX passed
        assert (report["run"]["awx"]["job_id"], report["run"]["awx"]["workflow_job_name"], report["run"]["awx"]["user_name"]) == (
            run.extra_vars["awx_job_id"], "fleetpatch rollout", "admin")
