"""The report's location in a job's set_stats artifacts (playbooks/report_location.yml, the
report_location lookup), through ansible-runner as AWX runs a job: the artifact names the files the
compliance callback wrote in that run, survives a play that fails after it, and sits beside the
gate's fleetpatch_manifest without replacing it."""
import json
import os
import sys

import ansible_runner
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
MANIFEST = {"apt": {"fp-crypto": "1.0-2"}}


def run_job(tmp_path, callback=True, formats=None, fail=False):
    inventory = {"all": {"hosts": {"web1": dict(LOCAL)}}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    plays = [
        {"name": "Publish", "ansible.builtin.import_playbook": os.path.join(REPO, "playbooks", "report_location.yml")},
        {"name": "Work", "hosts": "all", "gather_facts": False, "tasks": [
            {"name": "Health", "fleetpatch.patching.health_check": {
                "checks": [{"name": "true", "type": "command", "argv": ["true"]}], "retries": 1, "delay": 0}}]},
        # the gate's set_stats, as roles/gate emits the manifest
        {"name": "Gate", "hosts": "localhost", "gather_facts": False, "tasks": [
            {"name": "Manifest", "ansible.builtin.set_stats": {"data": {"fleetpatch_manifest": MANIFEST}}},
            {"name": "Closed gate", "ansible.builtin.fail": {"msg": "gate closed"}, "when": fail}]},
    ]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(plays, sort_keys=False))
    envvars = {"ANSIBLE_COLLECTIONS_PATH": os.path.join(REPO, ".build", "collections"),
               "FLEETPATCH_REPORT_DIR": str(tmp_path / "reports"), "FLEETPATCH_STORE": str(tmp_path / "h.sqlite"),
               "FLEETPATCH_PRINT_SUMMARY": "false", "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp")}
    if callback:
        envvars["ANSIBLE_CALLBACKS_ENABLED"] = "fleetpatch.patching.compliance"
    if formats:
        envvars["FLEETPATCH_REPORT_FORMATS"] = formats
    (tmp_path / "job").mkdir()
    runner = ansible_runner.run(private_data_dir=str(tmp_path / "job"), ident="42", playbook=str(tmp_path / "play.yml"),
                                inventory=str(tmp_path / "inventory.yml"), envvars=envvars, quiet=True)
    stats = [e for e in runner.events if e["event"] == "playbook_on_stats"]
    assert len(stats) == 1, runner.stdout.read()
    # what AWX stores as the job's artifacts, also on disk under artifacts/<ident>/job_events
    on_disk = [json.load(open(os.path.join(runner.config.artifact_dir, "job_events", name)))
               for name in os.listdir(os.path.join(runner.config.artifact_dir, "job_events"))]
    assert [e["event_data"]["artifact_data"] for e in on_disk if e["event"] == "playbook_on_stats"] == [
        stats[0]["event_data"]["artifact_data"]]
    return runner, stats[0]["event_data"]["artifact_data"]


def test_the_artifact_names_the_report_the_callback_wrote(tmp_path):
    runner, artifacts = run_job(tmp_path)
    assert runner.status == "successful", runner.stdout.read()
    assert artifacts["fleetpatch_manifest"] == MANIFEST          # not replaced
    location = artifacts["fleetpatch_report"]
    assert sorted(location) == ["dir", "html", "json", "run_id"]
    with open(location["json"]) as handle:
        report = json.load(handle)
    assert report["run"]["run_id"] == location["run_id"]
    assert [h["host"] for h in report["hosts"]] == ["web1"]
    assert os.path.dirname(location["json"]) == location["dir"] == str(tmp_path / "reports" / location["run_id"])
    assert os.path.isfile(location["html"])


def test_a_failed_job_still_names_its_report(tmp_path):
    runner, artifacts = run_job(tmp_path, fail=True, formats="json")
    assert runner.status == "failed"
    location = artifacts["fleetpatch_report"]
    assert os.path.isfile(location["json"]) and location["html"] is None
    assert artifacts["fleetpatch_manifest"] == MANIFEST


def test_without_the_callback_no_location(tmp_path):
    runner, artifacts = run_job(tmp_path, callback=False)
    assert runner.status == "successful"
    assert artifacts == {"fleetpatch_manifest": MANIFEST}
    assert not os.path.exists(str(tmp_path / "reports"))
