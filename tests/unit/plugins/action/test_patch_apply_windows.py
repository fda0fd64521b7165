"""patch_apply on a Windows host: recorded win_updates installs, the journal on the host, the
manifest, and the known win_updates pitfalls."""
import json

from ansible_collections.fleetpatch.patching.plugins.action.patch_apply import ActionModule
from windows_replay import Replay, windows_action

SECURITY = {"policy": {"classifications": ["security"], "reject": {"kbs": ["KB5034439"]}}}
JOURNAL_DIR = "C:\\ProgramData\\fleetpatch\\journal\\"


def apply(args, replay, check_mode=False, diff=False):
    plugin, task_vars = windows_action(ActionModule, args, replay, check_mode=check_mode, diff=diff)
    return plugin.run(task_vars=task_vars)


def journals(replay):
    return [json.loads(v) for k, v in sorted(replay.files.items()) if k.startswith(JOURNAL_DIR)]


def test_install_with_reboot_pending():
    replay = Replay(win_updates=["search", "install_reboot", "search_after_install"])
    result = apply({"policy": {"classifications": ["security", "bugfix"], "reject": {"kbs": ["KB5034439", "KB890830"]}}},
                   replay, diff=True)
    replay.assert_done()
    install = replay.module_calls("win_updates")[1]
    assert install == {"state": "installed", "category_names": ["*"], "reboot": False,
                       "accept_list": ["^KB5033920$", "^KB5034129$"]}
    assert result["targets"] == {"KB5033920": "KB5033920", "KB5034129": "KB5034129"}
    assert result["changes"] == [{"name": "KB5033920", "before": None, "after": "KB5033920"},
                                 {"name": "KB5034129", "before": None, "after": "KB5034129"}]
    assert result["changed"] and result["reboot_required"] is True
    assert result["record"]["status"] == "pending_reboot" or result["record"]["status"] == "non_compliant"
    assert result["record"]["reboot_required"] is True
    assert "KB5034129 KB5034129" in result["diff"]["after"]
    (journal,) = journals(replay)
    assert journal["id"] == result["journal"] and journal["status"] == "applied" and journal["pkg_mgr"] == "windows"
    assert journal["before"] == {"KB5033920": None, "KB5034129": None}
    assert journal["uninstallable"] == {"KB5033920": True, "KB5034129": True}
    assert result["not_selected"]["KB5034439"].startswith("rejected: rejected by advisory KB5034439")


def test_check_mode_plans_and_changes_nothing():
    replay = Replay(win_updates=["search"])
    result = apply(SECURITY, replay, check_mode=True)
    assert [c["name"] for c in result["changes"]] == ["KB5034129"]
    assert result["journal"] is None and result["changed"]
    assert replay.module_calls("win_updates") == [{"state": "searched", "category_names": ["*"]}]
    assert replay.files == {}


def test_nothing_to_do():
    replay = Replay(win_updates=["search_clean"])
    result = apply({}, replay)
    assert result["changed"] is False and result["journal"] is None and result["changes"] == []


def test_failed_update_fails_with_journal_and_partial_changes():
    replay = Replay(win_updates=["search", "install_failure"])
    result = apply({"names": ["KB5034129", "KB5033920"]}, replay)
    assert result["failed"]
    assert "KB5034129: Unknown WUA HRESULT 2148468514 (UNKNOWN 0x800F0922)" in result["msg"]
    assert result["changes"] == [{"name": "KB5033920", "before": None, "after": "KB5033920"}]
    assert result["failed_updates"] == {"KB5034129": "Unknown WUA HRESULT 2148468514 (UNKNOWN 0x800F0922)"}
    (journal,) = journals(replay)
    assert result["journal"] == journal["id"] and journal["status"] == "failed"
    assert journal["changes"] == result["changes"]


def test_succeeded_with_nothing_installed_is_a_failure():
    replay = Replay(win_updates=["search", "install_nothing"])
    result = apply({"names": ["KB5034129"]}, replay)
    assert result["failed"] and "win_updates reported success but did not install it" in result["msg"]
    assert result["changes"] == []


def test_retry_budget_after_reboot_then_reported_failed_not_looped():
    # the CU fails, reboot, fails again, reboot, fails a third time: budget (3 passes) spent
    replay = Replay(win_updates=["search", "install_cu_only_failure", "install_cu_only_failure", "install_cu_only_failure"],
                    win_reboot=["reboot_ok", "reboot_ok"])
    result = apply({"names": ["KB5034129"], "windows": {"reboot": True, "max_passes": 3}}, replay)
    replay.assert_done()
    assert result["failed"] and "KB5034129" in result["msg"]
    assert len(replay.module_calls("win_updates")) == 4 and len(replay.module_calls("win_reboot")) == 2


def test_update_rolled_back_by_reboot_is_reoffered_then_failed():
    replay = Replay(win_updates=["search", "install_cu_only", "install_cu_only"], win_reboot=["reboot_ok"])
    result = apply({"names": ["KB5034129"], "windows": {"reboot": True, "max_passes": 2}}, replay)
    replay.assert_done()
    assert result["failed"] and "offered it again after the reboot" in result["msg"]


def test_failure_fixed_by_a_reboot():
    # fails first (a pending reboot blocks it), installs after the reboot, stays installed after the next
    replay = Replay(win_updates=["search", "install_cu_only_failure", "install_cu_only", "install_none_offered",
                                 "search_after_install"],
                    win_reboot=["reboot_ok", "reboot_ok"])
    result = apply({"names": ["KB5034129"], "windows": {"reboot": True, "max_passes": 3}}, replay)
    replay.assert_done()
    assert not result.get("failed"), result.get("msg")
    assert result["changes"] == [{"name": "KB5034129", "before": None, "after": "KB5034129"}]
    assert result["rebooted"] is True


def test_reboot_timeout_between_passes():
    replay = Replay(win_updates=["search", "install_cu_only_failure"], win_reboot=["reboot_timeout"])
    result = apply({"names": ["KB5034129"], "windows": {"reboot": True}}, replay)
    assert result["failed"] and "Timed out waiting for post-reboot test command" in result["msg"]
    assert journals(replay)[0]["status"] == "failed" and result["journal"]


def test_connection_lost_during_install_is_unreachable_with_journal():
    replay = Replay(win_updates=["search", "install_unreachable"])
    result = apply({"names": ["KB5034129"]}, replay)
    assert result["unreachable"] is True and result["journal"]
    assert "read timeout" in result["msg"]


def test_manifest_installs_exactly_its_kbs():
    replay = Replay(win_updates=["search", "install_cu_only_no_reboot", "search_after_install"])
    result = apply({"manifest": {"KB5034129": "KB5034129", "KB9999999": "KB9999999", "openssl": "3.0.16-1"}}, replay)
    assert result["targets"] == {"KB5034129": "KB5034129"}
    assert replay.module_calls("win_updates")[1]["accept_list"] == ["^KB5034129$"]
    assert "not offered here" in result["not_selected"]["KB9999999"]
    assert "not offered here" in result["not_selected"]["openssl"]      # a mixed fleet's manifest


def test_empty_manifest_installs_nothing():
    replay = Replay(win_updates=["search"])
    result = apply({"manifest": {}}, replay)
    assert result["targets"] == {} and result["changed"] is False
