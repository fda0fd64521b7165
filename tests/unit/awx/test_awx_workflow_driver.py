"""The AWX workflow driver (tests/integration/awx_workflow.py) without a lab: a fake job runner
records what each node would get, so the merge rules AWX applies are pinned down here."""
import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "integration"))
from awx_workflow import (WorkflowDriver, awx_meta_vars, load_configuration, node_extra_vars,  # noqa: E402
                          slice_inventory, slice_jobs, template_id)

MANIFEST = {"apt": {"openssl": "3.0.16-1~deb12u1"}}


class FakeJobs:
    """run_job for the driver: each template key fails when listed in fail, and emits artifacts."""

    def __init__(self, fail=(), artifacts=None):
        self.fail = set(fail)
        self.artifacts = artifacts or {}
        self.calls = []

    def __call__(self, template, extra_vars, job):
        key = template["name"].split(" ", 1)[1].replace(" ", "_")
        self.calls.append((key, extra_vars, job))
        status = "failed" if key in self.fail else "successful"
        return status, dict(self.artifacts.get(key, {})), None, []


def drive(jobs, approve=True, **kwargs):
    return WorkflowDriver(load_configuration(), jobs, lambda identifier, ancestors: approve, **kwargs).run()


def test_success_path_passes_the_manifest_through_the_approval_to_every_later_node():
    jobs = FakeJobs(artifacts={"patch_test": {"fleetpatch_manifest": MANIFEST},
                               "patch_pilot": {"fleetpatch_manifest": dict(MANIFEST, dnf={"openssl": "1:3.2.4-1.el9"})}})
    driver = drive(jobs)
    assert driver.order == ["patch_test", "approve_pilot", "patch_pilot", "patch_production"]
    assert not driver.failed
    calls = dict((key, extra_vars) for key, extra_vars, job in jobs.calls)
    assert "fleetpatch_manifest" not in calls["patch_test"]          # a root node gets no artifacts
    assert calls["patch_pilot"]["fleetpatch_manifest"] == MANIFEST
    # a node's artifacts replace its ancestors' under the same key (pilot's manifest reaches production)
    assert calls["patch_production"]["fleetpatch_manifest"]["dnf"] == {"openssl": "1:3.2.4-1.el9"}
    assert calls["patch_production"]["fleetpatch_ring"] == "production"
    assert calls["patch_production"]["fleetpatch_max_fail_percentage"] == 0


def test_a_failed_ring_takes_its_failure_path_and_nothing_after_it_runs():
    jobs = FakeJobs(fail={"patch_test"})
    driver = drive(jobs)
    assert driver.order == ["patch_test", "rollback_test"]
    assert [key for key, extra_vars, job in jobs.calls] == ["patch_test", "rollback"]
    assert jobs.calls[1][1]["fleetpatch_ring"] == "test"             # the node's extra_data
    assert not driver.failed                                        # AWX: the failure was handled


def test_a_denied_approval_stops_the_workflow_and_fails_it():
    jobs = FakeJobs(artifacts={"patch_test": {"fleetpatch_manifest": MANIFEST}})
    driver = drive(jobs, approve=False)
    assert driver.order == ["patch_test", "approve_pilot"]
    assert driver.failed


def test_failed_rollback_fails_the_workflow():
    driver = drive(FakeJobs(fail={"patch_pilot", "rollback"}))
    assert driver.order == ["patch_test", "approve_pilot", "patch_pilot", "rollback_pilot"]
    assert driver.failed


def test_precedence_template_then_node_then_artifacts_then_workflow_extra_vars():
    configuration = load_configuration()
    rollback = configuration["templates"]["rollback"]
    node = configuration["nodes"]["rollback_test"]
    merged = node_extra_vars(dict(rollback, extra_vars={"a": "template", "b": "template", "c": "template"}),
                             dict(node, extra_data={"b": "node", "c": "node"}),
                             {"c": "artifact", "d": "artifact", "_ansible_no_log": True}, {"d": "workflow"})
    assert merged == {"a": "template", "b": "node", "c": "artifact", "d": "workflow"}
    # a template that does not ask for variables on launch ignores the node's extra_data
    patch = configuration["templates"]["patch_test"]
    assert node_extra_vars(patch, dict(node, extra_data={"fleetpatch_ring": "pilot"}), {}, {})["fleetpatch_ring"] == "test"


def test_the_survey_default_and_the_workflows_baseline():
    configuration = load_configuration({"fleetpatch_awx_default_baseline": "security"})
    patch = configuration["templates"]["patch_pilot"]
    node = configuration["nodes"]["patch_pilot"]
    assert node_extra_vars(patch, node, {}, {})["fleetpatch_baseline"] == "security"
    assert node_extra_vars(patch, node, {}, {"fleetpatch_baseline": "security-and-bugfix"})["fleetpatch_baseline"] \
        == "security-and-bugfix"
    # the policy stays a template Ansible evaluates in the job (AWX keeps a job template's Jinja)
    assert patch["extra_vars"]["fleetpatch_policy"] == "{{ fleetpatch_awx_baselines[fleetpatch_baseline] }}"


def test_the_awx_variables_win_over_extra_vars_and_name_the_job():
    jobs = FakeJobs()
    drive(jobs, workflow_extra_vars={"awx_job_id": "forged"}, workflow_job_id=41,
          user={"id": 3, "username": "alice", "email": "a@example.invalid", "first_name": "A", "last_name": "L"})
    key, extra_vars, job = jobs.calls[0]
    assert extra_vars["awx_job_id"] == extra_vars["tower_job_id"] == job["id"]
    assert extra_vars["awx_job_template_name"] == "fleetpatch patch test"
    assert extra_vars["awx_workflow_job_id"] == 41 and extra_vars["awx_workflow_job_name"] == "fleetpatch rollout"
    assert extra_vars["awx_job_launch_type"] == "workflow" and extra_vars["awx_user_name"] == "alice"
    assert "awx_schedule_id" not in extra_vars


@pytest.mark.parametrize("job, present, absent", [
    ({"user": None, "schedule_id": 5, "schedule_name": "monthly"}, {"awx_schedule_id": 5, "tower_schedule_name": "monthly"},
     ["awx_user_name", "awx_workflow_job_id"]),
    ({"user": None, "workflow_job_id": 8, "workflow_job_name": "w", "parent_schedule_id": 5, "parent_schedule_name": "monthly"},
     {"awx_parent_job_schedule_id": 5, "awx_workflow_job_id": 8}, ["awx_schedule_id", "awx_user_id"]),
])
def test_meta_vars_of_scheduled_jobs(job, present, absent):
    base = {"id": 1, "launch_type": "scheduled", "template_id": 2, "template_name": "t", "inventory_id": 3,
            "inventory_name": "i", "project_revision": "abc"}
    meta = awx_meta_vars(dict(base, **job))
    for name, value in present.items():
        assert meta[name] == value
    for name in absent:
        assert name not in meta


def test_slice_jobs_get_awxs_variables_and_no_slice_number():
    """AWX 24 gives each slice job its own job id and the sliced workflow job's id and name (the
    template's); a root node's {job_slice: n} never reaches the extra variables."""
    configuration = load_configuration()
    jobs = slice_jobs(configuration, "assess", 3, {"fleetpatch_baseline": "security"}, workflow_job_id=80,
                      first_job_id=81)
    assert [job["id"] for job, _vars in jobs] == [81, 82, 83]
    for job, extra_vars in jobs:
        assert extra_vars["awx_job_id"] == job["id"] and extra_vars["awx_workflow_job_id"] == 80
        assert extra_vars["awx_workflow_job_name"] == extra_vars["awx_job_template_name"] == "fleetpatch assess"
        assert extra_vars["awx_job_template_id"] == template_id(configuration, "assess")
        assert extra_vars["awx_job_launch_type"] == "workflow" and extra_vars["fleetpatch_baseline"] == "security"
        assert not [key for key in extra_vars if "slice" in key]


def test_slice_inventory_splits_the_hosts_by_name_as_awx_does(tmp_path):
    inventory = {"_meta": {"hostvars": dict(("h%d" % n, {"n": n}) for n in range(1, 8))},
                 "all": {"children": ["ungrouped", "ring"]},
                 "ring": {"hosts": ["h7", "h1", "h2"], "vars": {"x": 1}},
                 "ungrouped": {"hosts": ["h3", "h4", "h5", "h6"]}}
    parts = [slice_inventory(inventory, n, 3, str(tmp_path / ("inv%d" % n))) for n in (1, 2, 3)]
    assert parts == [["h1", "h4", "h7"], ["h2", "h5"], ["h3", "h6"]]
    shown = json.loads(subprocess.run([str(tmp_path / "inv1")], capture_output=True, text=True, check=True).stdout)
    assert shown["ring"] == {"hosts": ["h7", "h1"], "vars": {"x": 1}} and shown["ungrouped"]["hosts"] == ["h4"]
    assert sorted(shown["_meta"]["hostvars"]) == ["h1", "h4", "h7"]
