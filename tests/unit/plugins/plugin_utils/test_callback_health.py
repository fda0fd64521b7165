"""The compliance callback reads health_check's result, through the real ansible-playbook on
local-connection hosts (issue 14: every health check was recorded as failed, because the
callback took health_check's own `results` list for loop items)."""
import glob
import json
import os
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
CHECKS = {
    "healthy": [{"name": "true", "type": "command", "argv": ["true"]}],
    "sick": [{"name": "selftest", "type": "command", "argv": ["false"]},
             {"name": "true", "type": "command", "argv": ["true"]}],
}


def run_playbook(tmp_path, tasks):
    inventory = {"all": {"hosts": dict((name, dict(LOCAL, checks=checks)) for name, checks in CHECKS.items())}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "play.yml").write_text(yaml.safe_dump(
        [{"name": "Health", "hosts": "all", "gather_facts": False, "tasks": tasks}], sort_keys=False))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
               ANSIBLE_CALLBACKS_ENABLED="fleetpatch.patching.compliance", ANSIBLE_NOCOLOR="1",
               ANSIBLE_RETRY_FILES_ENABLED="false", ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
               FLEETPATCH_REPORT_DIR=str(tmp_path / "reports"), FLEETPATCH_STORE=str(tmp_path / "h.sqlite"),
               FLEETPATCH_PRINT_SUMMARY="false")
    proc = subprocess.run([PLAYBOOK, "-i", str(tmp_path / "inventory.yml"), str(tmp_path / "play.yml")],
                          env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reports = [p for p in glob.glob(str(tmp_path / "reports" / "*" / "report.json")) if "latest" not in p]
    assert len(reports) == 1, proc.stdout + proc.stderr
    with open(reports[0]) as handle:
        return dict((h["host"], h) for h in json.load(handle)["hosts"])


def test_health_is_read_from_health_check_not_taken_for_loop_items(tmp_path):
    hosts = run_playbook(tmp_path, [{"name": "Health checks", "fleetpatch.patching.health_check": {
        "checks": "{{ checks }}", "retries": 1, "delay": 0}, "ignore_errors": True}])
    assert hosts["healthy"]["health"] == {"healthy": True, "failed_checks": []}
    assert hosts["sick"]["health"] == {"healthy": False, "failed_checks": ["selftest"]}


def test_health_checks_in_a_loop_add_up(tmp_path):
    """A failing first item is not undone by a passing last one."""
    hosts = run_playbook(tmp_path, [{"name": "Health checks", "fleetpatch.patching.health_check": {
        "checks": ["{{ item }}"], "retries": 1, "delay": 0}, "loop": "{{ checks }}", "ignore_errors": True}])
    assert hosts["healthy"]["health"] == {"healthy": True, "failed_checks": []}
    assert hosts["sick"]["health"] == {"healthy": False, "failed_checks": ["selftest"]}
