"""playbooks/rollout.yml, unchanged, on a mixed fleet: the lab's real Linux hosts and a Windows
host in the test ring. No Windows host can run here, so win01 answers through the stub
ansible.windows collection of tests/unit/plugins/action (recorded win_updates / win_reboot
results, docs/windows.md); the Linux hosts are the lab's. One gate judges both, one manifest
carries both, one report shows both."""
import glob
import json
import os

import jsonschema
import yaml
from conftest import REPO_ROOT, ansible_playbook, run_lab
from test_apply_rollback import packages, refresh

STUB = os.path.join(REPO_ROOT, "tests", "unit", "plugins", "action", "stub_collections")
COLLECTIONS = os.path.join(REPO_ROOT, ".build", "collections")
SCHEMA = json.load(open(os.path.join(REPO_ROOT, "docs", "schemas", "compliance_report.schema.json")))
WINDOWS_HOST = {"ansible_connection": "ansible.windows.offline", "ansible_shell_type": "powershell",
                "fleetpatch_pkg_mgr": "windows",
                # assess, then the test ring's apply (search, install) and the record after it
                "fleetpatch_test_windows_scenario": {
                    "win_updates": ["search", "search", "install_reboot", "search_after_install"]}}


def test_rollout_patches_a_mixed_linux_and_windows_fleet(fresh_lab, fleet, tmp_path):
    run_lab("reset")
    run_lab("stage", "security")
    hosts = list(fleet.values())
    refresh(hosts)
    windows_inventory = tmp_path / "windows.yml"
    windows_inventory.write_text(yaml.safe_dump({"all": {"children": {"fleetpatch_ring_test": {
        "hosts": {"win01": WINDOWS_HOST}}}}}))
    manifest = tmp_path / "manifest.json"
    rc, out = ansible_playbook(
        os.path.join(REPO_ROOT, "playbooks", "rollout.yml"), fresh_lab, check=False,
        extra_args=("-i", str(windows_inventory)),
        extra_vars={"patch_security_only": True, "patch_reboot": "never", "gate_manifest_path": str(manifest)},
        env={"ANSIBLE_COLLECTIONS_PATH": os.pathsep.join([STUB, COLLECTIONS]),
             "FLEETPATCH_REPLAY_DIR": str(tmp_path / "replay"),
             "ANSIBLE_CALLBACKS_ENABLED": "fleetpatch.patching.compliance",
             "FLEETPATCH_REPORT_DIR": str(tmp_path / "reports"), "FLEETPATCH_STORE": str(tmp_path / "h.sqlite"),
             "FLEETPATCH_PRINT_SUMMARY": "false"})
    assert rc == 0, out["stats"]

    # The gates judged the test ring with win01 in it, and the manifest carries both worlds.
    written = json.loads(manifest.read_text())
    assert written["apt"] == {"fp-crypto": "1.0-2", "fp-firmware": "1.1-1"}
    assert written["windows"] == {"KB5034129": "KB5034129"}      # the security KB: patch_security_only
    for host in hosts:                         # every Linux ring got exactly the manifest
        installed = packages(host)
        assert installed["fp-crypto"].split()[0].split(":")[-1] == "1.0-2", host.name

    reports = [p for p in glob.glob(str(tmp_path / "reports" / "*" / "report.json")) if "/latest/" not in p]
    (report,) = [json.load(open(p)) for p in reports]
    jsonschema.validate(report, SCHEMA)
    entries = dict((h["host"], h) for h in report["hosts"])
    assert (entries["win01"]["pkg_mgr"], entries["win01"]["ring"]) == ("windows", "test")
    win01 = entries["win01"]
    assert not win01["rebooted"] and win01["reboot_required"]     # patch_reboot: never, and Windows wants one
    states = dict((u["name"], u["state"]) for u in win01["updates"])
    assert states["KB5034129"] == "installed", states
    # The default baseline approves everything; the recorded search after the install still offers
    # approved updates the security-only run left alone.
    assert not win01["rolled_back"] and win01["status"] == "non_compliant", states
    for host in hosts:                 # security only: no security update is left missing anywhere
        assert entries[host.name]["counts"]["security_non_compliant"] == 0, host.name
        assert not entries[host.name]["rolled_back"], host.name
    gates = [(g["ring"], g["passed"], g["hosts"]) for g in report["run"]["gates"]]
    assert gates == [("test", True, 4), ("pilot", True, 1)]
