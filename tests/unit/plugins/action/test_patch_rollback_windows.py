"""patch_rollback on a Windows host: uninstall by KB through win_hotfix, refusing what Windows
cannot uninstall."""
import json

from ansible_collections.fleetpatch.patching.plugins.action.patch_apply import ActionModule as Apply
from ansible_collections.fleetpatch.patching.plugins.action.patch_rollback import ActionModule as Rollback
from windows_replay import Replay, windows_action

JOURNAL_DIR = "C:\\ProgramData\\fleetpatch\\journal\\"


def run(action, args, replay, check_mode=False):
    plugin, task_vars = windows_action(action, args, replay, check_mode=check_mode)
    return plugin.run(task_vars=task_vars)


def applied(replay, names):
    replay.scripts["ansible.windows.win_updates"] = ["search", "install_reboot", "search_after_install"]
    result = run(Apply, {"names": names}, replay)
    assert not result.get("failed"), result
    return result


def test_rollback_uninstalls_each_kb_and_marks_the_journal():
    replay = Replay()
    applied(replay, ["KB5034129", "KB5033920"])
    replay.scripts["ansible.windows.win_hotfix"] = ["hotfix_absent_net", "hotfix_absent_cu"]
    result = run(Rollback, {}, replay)
    replay.assert_done()
    assert replay.module_calls("win_hotfix") == [{"hotfix_kb": "KB5033920", "state": "absent"},
                                                 {"hotfix_kb": "KB5034129", "state": "absent"}]
    assert result["changes"] == [{"name": "KB5033920", "before": "KB5033920", "after": None},
                                 {"name": "KB5034129", "before": "KB5034129", "after": None}]
    assert result["reboot_required"] is True and result["changed"]
    journal = json.loads([v for k, v in replay.files.items() if k.startswith(JOURNAL_DIR)][0])
    assert journal["status"] == "rolled_back"


def test_second_rollback_changes_nothing():
    replay = Replay()
    applied(replay, ["KB5034129", "KB5033920"])
    replay.scripts["ansible.windows.win_hotfix"] = ["hotfix_absent_gone", "hotfix_absent_gone"]
    result = run(Rollback, {}, replay)
    assert result["changed"] is False and result["changes"] == []


def test_check_mode_lists_what_would_be_removed():
    replay = Replay()
    applied(replay, ["KB5034129"])
    result = run(Rollback, {}, replay, check_mode=True)
    assert result["remove"] == ["KB5034129"] and replay.module_calls("win_hotfix") == []


def test_refuses_updates_windows_cannot_uninstall_before_changing_anything():
    replay = Replay()
    applied(replay, ["KB5034129", "KB5034439"])   # the servicing stack update rides along
    # install_reboot installs CU and .NET; mark the SSU installed in the journal as a real run would
    name = [k for k in replay.files if k.startswith(JOURNAL_DIR)][0]
    journal = json.loads(replay.files[name])
    journal["changes"].append({"name": "KB5034439", "before": None, "after": "KB5034439"})
    replay.files[name] = json.dumps(journal)
    result = run(Rollback, {}, replay)
    assert result["failed"] and "Windows cannot uninstall KB5034439 (a servicing stack update is permanent)" in result["msg"]
    assert "nothing was changed" in result["msg"] and replay.module_calls("win_hotfix") == []
    replay.scripts["ansible.windows.win_hotfix"] = ["hotfix_absent_cu"]
    result = run(Rollback, {"windows": {"keep_permanent": True}}, replay)
    assert result["kept"] == ["KB5034439"] and [c["name"] for c in result["changes"]] == ["KB5034129"]


def test_windows_refusal_at_uninstall_is_reported_clearly():
    replay = Replay()
    applied(replay, ["KB5034129"])
    replay.scripts["ansible.windows.win_hotfix"] = ["hotfix_permanent"]
    result = run(Rollback, {}, replay)
    assert result["failed"]
    assert "Windows refused to uninstall KB5034129" in result["msg"] and "is permanent" in result["msg"]


def test_journal_by_id_and_missing_journal():
    replay = Replay()
    result = run(Rollback, {}, replay)
    assert result["failed"] and "holds none" in result["msg"]
    result = run(Rollback, {"journal": "20260101T000000Z-deadbeef"}, replay)
    assert result["failed"] and "Failed to find rollback journal 20260101T000000Z-deadbeef" in result["msg"]
