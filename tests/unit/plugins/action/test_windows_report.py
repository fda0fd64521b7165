"""Replayed Windows results through the compliance report model: the same counts and drill-down
as a Linux host, and a report valid against docs/schemas/compliance_report.schema.json."""
import json
import os

import jsonschema

from ansible_collections.fleetpatch.patching.plugins.action.patch_apply import ActionModule as Apply
from ansible_collections.fleetpatch.patching.plugins.action.patch_facts import ActionModule as Facts
from ansible_collections.fleetpatch.patching.plugins.action.patch_rollback import ActionModule as Rollback
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model
from windows_replay import Replay, windows_action

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
SCHEMA = json.load(open(os.path.join(REPO, "docs", "schemas", "compliance_report.schema.json")))
RUN = {"run_id": "r1", "started_at": "2026-11-25T10:00:00Z", "ended_at": "2026-11-25T10:05:00Z",
       "playbooks": ["rollout.yml"], "check_mode": False, "controller": "c", "ansible_version": "2.19",
       "collection_version": "0.1.0", "aborted_by": None}
POLICY = {"classifications": ["security", "bugfix"], "reject": {"kbs": ["KB5034439"]}}


def run(action, args, replay):
    plugin, task_vars = windows_action(action, args, replay)
    return plugin.run(task_vars=task_vars)


def test_patched_windows_host_in_the_report():
    replay = Replay(win_updates=["search", "search", "install_reboot", "search_after_install"])
    obs = model.HostObservations("win01")
    obs.observe("fleetpatch.patching.patch_facts", run(Facts, {"policy": POLICY}, replay))
    applied = run(Apply, {"policy": POLICY, "names": ["KB5034129", "KB5033920"]}, replay)
    obs.observe("fleetpatch.patching.patch_apply", applied)
    obs.observe("ansible.builtin.set_fact", {"ansible_facts": {"patch_outcome": {
        "status": "patched", "ring": "test", "changes": applied["changes"], "journal": applied["journal"],
        "rebooted": True, "rolled_back": False, "reason": ""}}})
    entry = model.host_entry(obs)
    report = model.build_report(RUN, [entry])
    jsonschema.validate(report, SCHEMA)
    states = dict((u["name"], u["state"]) for u in entry["updates"])
    assert states["KB5034129"] == "installed" and states["KB5033920"] == "installed"
    assert states["KB890830"] == "missing" and states["KB2267602"] == "not_applicable"
    assert entry["pkg_mgr"] == "windows" and entry["ring"] == "test" and entry["rebooted"]
    assert entry["counts"]["missing"] == 1 and entry["status"] == "non_compliant"
    titles = dict((u["name"], u["title"]) for u in entry["updates"])
    assert "(KB5034129)" in titles["KB5034129"]


def test_failed_and_rolled_back_windows_host_in_the_report():
    replay = Replay(win_updates=["search", "install_failure"], win_hotfix=["hotfix_absent_net"])
    obs = model.HostObservations("win02")
    failed = run(Apply, {"names": ["KB5034129", "KB5033920"]}, replay)
    obs.observe("fleetpatch.patching.patch_apply", failed, failed=True)
    rolled = run(Rollback, {"journal": failed["journal"]}, replay)
    obs.observe("fleetpatch.patching.patch_rollback", rolled)
    obs.observe("ansible.builtin.set_fact", {"ansible_facts": {"patch_outcome": {
        "status": "rolled_back", "ring": "test", "changes": rolled["changes"], "journal": failed["journal"],
        "rebooted": False, "rolled_back": True, "reason": failed["msg"]}}})
    entry = model.host_entry(obs)
    jsonschema.validate(model.build_report(RUN, [entry]), SCHEMA)
    assert entry["status"] == "rolled_back" and entry["journal"] == failed["journal"]
    assert [c["name"] for c in rolled["changes"]] == ["KB5033920"]
