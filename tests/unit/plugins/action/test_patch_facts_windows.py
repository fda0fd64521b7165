"""patch_facts on a Windows host: recorded win_updates searches become the host patch record."""
import json
import os

import jsonschema

from ansible_collections.fleetpatch.patching.plugins.action.patch_facts import ActionModule
from windows_replay import Replay, windows_action

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
SCHEMA = json.load(open(os.path.join(REPO, "docs", "schemas", "host_patch_record.schema.json")))
FACTS = {"hostname": "WIN01", "distribution": "Microsoft Windows Server 2022 Datacenter",
         "distribution_version": "10.0.20348.0", "kernel": "10.0.20348.0"}


def assess(args=None, replay=None, check_mode=False):
    replay = replay or Replay(win_updates=["search"])
    plugin, task_vars = windows_action(ActionModule, args or {}, replay, check_mode=check_mode, facts=FACTS)
    return plugin.run(task_vars=task_vars), replay


def test_search_becomes_the_record():
    result, replay = assess()
    record = result["ansible_facts"]["fleetpatch"]
    jsonschema.validate(record, SCHEMA)
    assert replay.module_calls("win_updates") == [{"state": "searched", "category_names": ["*"]}]
    by_name = dict((u["name"], u) for u in record["updates"])
    assert sorted(by_name) == ["KB2267602", "KB5033920", "KB5034129", "KB5034439", "KB890830"]   # hidden Edge left out
    assert by_name["KB5034129"]["classification"] == "security"
    assert by_name["KB5034129"]["advisories"] == ["KB5034129"]
    assert by_name["KB5033920"]["classification"] == "bugfix"          # "Updates"
    assert by_name["KB890830"]["classification"] == "bugfix"           # "Update Rollups"
    assert by_name["KB2267602"]["classification"] == "other"           # "Definition Updates"
    assert by_name["KB5034439"]["uninstallable"] is False              # servicing stack
    assert by_name["KB5034129"]["uninstallable"] is True
    assert all(u["severity"] == "unknown" for u in record["updates"])  # win_updates gives no MSRC severity
    assert record["pkg_mgr"] == "windows" and record["os_family"] == "Windows"
    assert record["distribution"] == "Microsoft Windows Server 2022 Datacenter"
    assert record["status"] == "non_compliant" and record["counts"]["security_non_compliant"] == 2
    assert result["changed"] is False


def test_policy_by_kb_and_classification():
    result, dummy = assess({"policy": {"classifications": ["security"], "reject": {"kbs": ["5034439"]},
                                       "approve": {"advisories": ["KB2267602"]}}})
    decisions = dict((u["name"], u["decision"]) for u in result["ansible_facts"]["fleetpatch"]["updates"])
    assert decisions == {"KB5034129": "approved", "KB5034439": "rejected", "KB2267602": "approved",
                         "KB5033920": "not_applicable", "KB890830": "not_applicable"}


def test_first_seen_kept_on_the_host_makes_delays_work():
    replay = Replay(win_updates=["search", "search"])
    first, dummy = assess({"policy": {"approve_after_days": 7}}, replay)
    path = "C:\\ProgramData\\fleetpatch\\first_seen.json"
    seen = json.loads(replay.files[path])["seen"]
    seen = dict((k, "2000-01-01") for k in seen)          # seen long ago
    replay.files[path] = json.dumps({"format": 1, "seen": seen})
    second, dummy = assess({"policy": {"approve_after_days": 7}}, replay)
    assert set(u["decision"] for u in first["ansible_facts"]["fleetpatch"]["updates"]) == {"deferred"}
    assert set(u["decision"] for u in second["ansible_facts"]["fleetpatch"]["updates"]) == {"approved"}
    assert second["ansible_facts"]["fleetpatch"]["updates"][0]["first_seen"] == "2000-01-01"


def test_check_mode_writes_nothing():
    result, replay = assess(check_mode=True)
    assert replay.files == {}
    assert result["ansible_facts"]["fleetpatch"]["counts"]["available"] == 5


def test_pending_reboot_and_clean_host():
    result, dummy = assess({"policy": {"classifications": ["security"]}}, Replay(win_updates=["search_pending_reboot"]))
    record = result["ansible_facts"]["fleetpatch"]
    assert record["status"] == "pending_reboot" and record["reboot_required"] is True
    assert record["reboot_reasons"] == ["Windows Update reports a pending reboot"]
    result, dummy = assess(replay=Replay(win_updates=["search_clean"]))
    assert result["ansible_facts"]["fleetpatch"]["status"] == "compliant"


def test_search_failure_and_connection_loss():
    replay = Replay(win_updates=["install_unreachable"])
    result, dummy = assess(replay=replay)
    assert result["unreachable"] is True and "unreachable" in result["msg"]


def test_invalid_policy_and_root_fail_cleanly():
    result, dummy = assess({"policy": {"classifications": "security"}})
    assert result["failed"] and result["msg"].startswith("Invalid policy: classifications")
    result, dummy = assess({"root": "/mnt"}, Replay())
    assert result["failed"] and "root" in result["msg"]
    result, dummy = assess({"bogus": 1}, Replay())
    assert result["failed"] and "bogus" in result["msg"]


def test_posix_host_runs_the_module_unchanged(monkeypatch):
    replay = Replay()
    plugin, task_vars = windows_action(ActionModule, {"pkg_mgr": "apt"}, replay)
    plugin._connection._shell.SHELL_FAMILY = "sh"
    plugin._connection.has_native_async = False
    plugin._connection._shell.tmpdir = None
    seen = {}

    def execute(module_name=None, module_args=None, task_vars=None, wrap_async=False):
        seen.update(module_name=module_name, module_args=module_args, wrap_async=wrap_async)
        return {"changed": False, "ansible_facts": {"fleetpatch": {"pkg_mgr": "apt"}}}

    monkeypatch.setattr(plugin, "_execute_module", execute)
    result = plugin.run(task_vars=task_vars)
    assert seen == {"module_name": None, "module_args": None, "wrap_async": 0}   # the task's own module and args
    assert result["ansible_facts"]["fleetpatch"]["pkg_mgr"] == "apt"
    assert replay.calls == []
