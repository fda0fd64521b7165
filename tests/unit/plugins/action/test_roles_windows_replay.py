"""The roles' Windows branch through the real ansible-playbook, without a Windows host.

A stub ansible.windows collection (stub_collections/, first on the collections path) replays the
recorded win_updates / win_reboot / win_hotfix results of fixtures/windows/ in the order the host
variable fleetpatch_test_windows_scenario lists them, and keeps the host's C:\\ drive (journals,
first-seen dates) in a temp directory; the host's connection (ansible.windows.offline) refuses to
run anything. The compliance callback writes its report, checked against its schema.
"""
import glob
import json
import os
import subprocess
import sys

import jsonschema
import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
STUB = os.path.join(HERE, "stub_collections")
COLLECTIONS = os.path.join(REPO, ".build", "collections")
SCHEMA = json.load(open(os.path.join(REPO, "docs", "schemas", "compliance_report.schema.json")))
PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
JOURNAL_DIR = "C:\\ProgramData\\fleetpatch\\journal\\"
POLICY = {"name": "windows-test", "classifications": ["security", "bugfix"],
          "reject": {"advisories": ["KB5034439", "KB890830"]}}
WINDOWS_HOST = {"ansible_connection": "ansible.windows.offline", "ansible_shell_type": "powershell",
                "fleetpatch_pkg_mgr": "windows", "fleetpatch_ring": "win"}


def playbook(tmp_path, roles):
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump([{"name": "Windows replay", "hosts": "all", "gather_facts": False,
                                     "roles": roles}], sort_keys=False))
    return str(path)


def run(tmp_path, scenario, roles, check=False, drive=None, host_vars=None):
    """ansible-playbook of `roles` against win01; returns (rc, json stdout, report, calls, drive)."""
    state = tmp_path / "replay"
    if drive is not None:
        (state / "win01").mkdir(parents=True, exist_ok=True)
        (state / "win01" / "drive.json").write_text(json.dumps(drive))
    host = dict(WINDOWS_HOST, fleetpatch_test_windows_scenario=scenario, **(host_vars or {}))
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump({"all": {"hosts": {"win01": host}}}))
    env = dict(os.environ,
               ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([STUB, COLLECTIONS]),
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
               ANSIBLE_CALLBACKS_ENABLED="fleetpatch.patching.compliance",
               ANSIBLE_RETRY_FILES_ENABLED="false", ANSIBLE_NOCOLOR="1", ANSIBLE_FORKS="1",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
               FLEETPATCH_REPORT_DIR=str(tmp_path / "reports"), FLEETPATCH_STORE=str(tmp_path / "h.sqlite"),
               FLEETPATCH_PRINT_SUMMARY="false", FLEETPATCH_REPLAY_DIR=str(state))
    cmd = [PLAYBOOK, "-i", str(tmp_path / "inventory.yml"), playbook(tmp_path, roles)] + (["--check"] if check else [])
    proc = subprocess.run(cmd, env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=120, check=False)
    assert proc.stdout.lstrip().startswith("{"), proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    reports = [p for p in glob.glob(str(tmp_path / "reports" / "*" / "report.json")) if "latest" not in p]
    assert len(reports) == 1, proc.stderr
    report = json.load(open(reports[0]))
    jsonschema.validate(report, SCHEMA)
    calls_path = state / "win01" / "calls.jsonl"
    calls = [json.loads(line) for line in calls_path.read_text().splitlines()] if calls_path.exists() else []
    drive_path = state / "win01" / "drive.json"
    files = json.loads(drive_path.read_text()) if drive_path.exists() else {}
    return proc.returncode, out, report, calls, files


def results(out, name):
    """win01's results of the tasks named `name`, in order."""
    return [t["hosts"]["win01"] for p in out["plays"] for t in p["tasks"]
            if t["task"]["name"].split(" : ", 1)[-1] == name and "win01" in t["hosts"]]


def outcome(out):
    facts = [r["ansible_facts"]["patch_outcome"] for p in out["plays"] for t in p["tasks"]
             for r in [t["hosts"].get("win01") or {}] if "patch_outcome" in (r.get("ansible_facts") or {})]
    return facts[-1]


def scripted(calls):
    """The replayed (fixture-answered) calls: [(module, fixture)]; the stub marks surprises UNEXPECTED."""
    return [(c["module"], c["fixture"]) for c in calls if c["fixture"]]


def journals(files):
    return [json.loads(v) for k, v in sorted(files.items()) if k.startswith(JOURNAL_DIR)]


def host_entry(report):
    (entry,) = [h for h in report["hosts"] if h["host"] == "win01"]
    return entry


ASSESS = {"role": "fleetpatch.patching.assess", "vars": {"assess_policy": POLICY}}
PATCH = {"role": "fleetpatch.patching.patch", "vars": {"patch_policy": POLICY}}


def test_assess_then_patch_with_reboot(tmp_path):
    scenario = {"win_updates": ["search", "search", "install_reboot", "search_after_install"],
                "win_reboot": ["reboot_ok"]}
    rc, out, report, calls, files = run(tmp_path, scenario, [ASSESS, PATCH])
    assert rc == 0, out["stats"]
    assert scripted(calls) == [("win_updates", "search"), ("win_updates", "search"),
                               ("win_updates", "install_reboot"), ("win_updates", "search_after_install"),
                               ("win_reboot", "reboot_ok")]
    # the role ran no Python module on the host: every call went to ansible.windows
    assert all(c["module"] in ("win_updates", "win_reboot", "slurp", "win_file", "win_copy") for c in calls)
    (install,) = [c["args"] for c in calls if c["args"].get("state") == "installed"]
    assert install["accept_list"] == ["^KB5033920$", "^KB5034129$"] and install["reboot"] is False
    assert [c["args"] for c in calls if c["module"] == "win_reboot"] == [{"reboot_timeout": 600}]

    (summary,) = [r["ansible_facts"]["assess_summary"] for r in results(out, "Summarise the host")]
    assert summary["status"] == "non_compliant" and summary["pkg_mgr"] == "windows"
    assert sorted(summary["approved"]) == ["KB5033920", "KB5034129"]
    skipped = results(out, "Check the host can be patched now")
    assert skipped and skipped[0].get("skipped"), "patch_preflight must not run on a Windows host"
    assert results(out, "Reboot the Windows host")[0]["rebooted"] is True
    assert all(r.get("skipped") for r in results(out, "Reboot the host"))      # the POSIX reboot
    result = outcome(out)
    assert result["status"] == "patched" and result["rebooted"] is True and result["rolled_back"] is False
    assert [c["name"] for c in result["changes"]] == ["KB5033920", "KB5034129"] and result["ring"] == "win"

    # on the host: the journal win_copy wrote (read back by slurp), and first-seen dates that round-trip
    (journal,) = journals(files)
    assert journal["id"] == result["journal"] and journal["status"] == "applied" and journal["pkg_mgr"] == "windows"
    first_seen = [c for c in calls if c["module"] == "slurp" and c["args"]["src"].endswith("first_seen.json")]
    assert len(first_seen) == 3 and "C:\\ProgramData\\fleetpatch\\first_seen.json" in files

    entry = host_entry(report)
    assert entry["pkg_mgr"] == "windows" and entry["ring"] == "win" and entry["policy"] == "windows-test"
    assert entry["status"] == "compliant" and entry["rebooted"] is True and entry["journal"] == journal["id"]
    states = dict((u["name"], (u["state"], u["advisories"])) for u in entry["updates"])
    assert states == {"KB5033920": ("installed", ["KB5033920"]), "KB5034129": ("installed", ["KB5034129"]),
                      "KB890830": ("rejected", ["KB890830"]), "KB2267602": ("not_applicable", ["KB2267602"])}
    assert entry["counts"]["missing"] == 0 and entry["counts"]["rejected"] == 1
    assert entry["counts"]["not_applicable"] == 1
    assert report["summary"]["by_status"]["compliant"] == 1 and report["run"]["check_mode"] is False


def test_check_mode_searches_only(tmp_path):
    scenario = {"win_updates": ["search", "search"]}
    rc, out, report, calls, files = run(tmp_path, scenario, [ASSESS, PATCH], check=True)
    assert rc == 0, out["stats"]
    assert scripted(calls) == [("win_updates", "search"), ("win_updates", "search")]
    assert files == {}, "check mode wrote to the host"
    assert not [c for c in calls if c["module"] in ("win_copy", "win_reboot", "win_hotfix")]
    result = outcome(out)
    assert result["status"] == "patched" and result["journal"] is None and result["rebooted"] is False
    assert [c["name"] for c in result["changes"]] == ["KB5033920", "KB5034129"]
    entry = host_entry(report)
    assert report["run"]["check_mode"] is True and entry["pkg_mgr"] == "windows"
    assert entry["status"] == "non_compliant" and entry["counts"]["missing"] == 2
    assert entry["counts"]["security_non_compliant"] == 1


def test_failed_install_is_rolled_back_with_win_hotfix(tmp_path):
    # KB5034129 fails (0x800F0922), KB5033920 installs: the patch role's rescue uninstalls KB5033920.
    # The search after the rollback reports no pending reboot, win_hotfix does: the role reboots.
    scenario = {"win_updates": ["search", "install_failure", "search"], "win_hotfix": ["hotfix_absent_net"],
                "win_reboot": ["reboot_ok"]}
    patch = {"role": "fleetpatch.patching.patch", "vars": {"patch_names": ["KB5034129", "KB5033920"]}}
    rc, out, report, calls, files = run(tmp_path, scenario, [patch])
    assert rc != 0       # patch_fail_host: the host fails with its outcome
    assert scripted(calls) == [("win_updates", "search"), ("win_updates", "install_failure"),
                               ("win_hotfix", "hotfix_absent_net"), ("win_updates", "search"),
                               ("win_reboot", "reboot_ok")]
    assert [c["args"] for c in calls if c["module"] == "win_hotfix"] == [{"hotfix_kb": "KB5033920", "state": "absent"}]
    result = outcome(out)
    assert result["status"] == "rolled_back" and result["rolled_back"] is True and result["rebooted"] is True
    assert "KB5034129: Unknown WUA HRESULT 2148468514" in result["reason"]
    assert result["changes"] == [{"name": "KB5033920", "before": "KB5033920", "after": None}]
    (journal,) = journals(files)
    assert journal["id"] == result["journal"] and journal["status"] == "rolled_back"
    assert results(out, "Fail the host with its outcome")[0]["failed"]

    entry = host_entry(report)
    assert entry["status"] == "rolled_back" and entry["rolled_back"] is True and entry["journal"] == journal["id"]
    states = dict((u["name"], u["state"]) for u in entry["updates"])
    assert states["KB5034129"] == "failed" and states["KB5033920"] == "failed"
    assert entry["counts"]["failed"] == 2 and entry["failure"]


def _journal(names, uninstallable, titles):
    plan = [{"name": n, "arch": "x64", "before": None, "after": n, "title": titles[n]} for n in names]
    return {"format": 1, "id": "20261125T100000Z-0badc0de", "pkg_mgr": "windows", "run_id": None,
            "created": "2026-11-25T10:00:00Z", "updated": "2026-11-25T10:05:00Z", "status": "applied",
            "before": dict((n, None) for n in names), "plan": plan, "targets": dict((n, n) for n in names),
            "uninstallable": uninstallable, "changes": [{"name": n, "before": None, "after": n} for n in names],
            "rc": 0, "stderr": None, "rolled_back_at": None}


PERMANENT_JOURNAL = _journal(
    ["KB5033920", "KB890830"], {"KB5033920": True, "KB890830": False},
    {"KB5033920": "2024-01 Cumulative Update for .NET Framework 3.5, 4.8 and 4.8.1 (KB5033920)",
     "KB890830": "Windows Malicious Software Removal Tool x64 - v5.120 (KB890830)"})
DRIVE = {JOURNAL_DIR + PERMANENT_JOURNAL["id"] + ".json": json.dumps(PERMANENT_JOURNAL)}


def test_rollback_role_refuses_an_update_windows_cannot_uninstall(tmp_path):
    rc, out, report, calls, files = run(tmp_path, {}, [{"role": "fleetpatch.patching.rollback"}], drive=dict(DRIVE))
    assert rc != 0
    (refused,) = results(out, "Restore the journal's versions")
    assert refused["failed"] and "Windows cannot uninstall KB890830" in refused["msg"]
    assert "nothing was changed" in refused["msg"]
    assert scripted(calls) == [] and files == DRIVE          # no win_hotfix, the journal untouched
    assert host_entry(report)["status"] == "failed"


@pytest.mark.parametrize("options", [{"keep_permanent": True}])
def test_rollback_role_keep_permanent_removes_the_rest_and_reboots(tmp_path, options):
    scenario = {"win_hotfix": ["hotfix_absent_net"], "win_updates": ["search_clean"], "win_reboot": ["reboot_ok"]}
    role = {"role": "fleetpatch.patching.rollback", "vars": {"rollback_windows_options": options}}
    rc, out, report, calls, files = run(tmp_path, scenario, [role], drive=dict(DRIVE))
    assert rc == 0, out["stats"]
    assert scripted(calls) == [("win_hotfix", "hotfix_absent_net"), ("win_updates", "search_clean"),
                               ("win_reboot", "reboot_ok")]
    (rolled,) = results(out, "Restore the journal's versions")
    assert rolled["kept"] == ["KB890830"] and rolled["remove"] == ["KB5033920"]
    (journal,) = journals(files)
    assert journal["status"] == "rolled_back"
    entry = host_entry(report)
    assert entry["pkg_mgr"] == "windows" and entry["rolled_back"] is True
