"""The ring rollout on the lab: a broken wave is caught by the test ring and stops at the gate;
a clean wave reaches every ring with exactly the versions the test ring installed, even when a
newer version is published after the test ring passed; a production batch over its fail budget
stops the ring; a host lost mid-ring closes the gate; the whole rollout in check mode changes
nothing."""
import json
import os

import pytest
from conftest import REPO_ROOT, ansible_playbook, on_host, run_lab, task_results
from test_apply_rollback import packages, refresh

PLAYBOOKS = os.path.join(REPO_ROOT, "playbooks")
CHECKS = [{"type": "service", "service": "fp-webapp"},
          {"type": "http", "url": "http://{{ ansible_host }}:8080/", "body_regex": "fp-webapp .* ok"}]


@pytest.fixture()
def fleet_lab(fresh_lab, fleet):
    run_lab("reset")
    return fresh_lab, list(fleet.values())


def version(installed, name):
    """'1.0-2' from apt's '1.0-2 ii ' or rpm's '0:1.0-2'."""
    return installed[name].split()[0].split(":", 1)[-1]


def by_ring(hosts, ring):
    return [h for h in hosts if h.ring == ring]


def boot_ids(hosts):
    return dict((h.name, on_host(h, "cat", "/proc/sys/kernel/random/boot_id").stdout) for h in hosts)


def hosts_that_ran(out, task_name):
    return set(host for play in out["plays"] for task in play["tasks"]
               if task["task"]["name"] == task_name for host in task["hosts"])


def test_broken_wave_stops_at_the_first_gate(fleet_lab):
    """Published as Debian's security archive publishes (the newest version of each package only):
    the versions the hosts ran before are offered nowhere, and the test ring goes back to them from
    the rollback cache patch_apply filled first (each manager's own package cache here)."""
    inventory, hosts = fleet_lab
    run_lab("stage", "broken", "--latest-only")
    refresh(hosts)
    before = dict((h.name, packages(h)) for h in hosts)
    rc, out = ansible_playbook(os.path.join(PLAYBOOKS, "rollout.yml"), inventory, check=False,
                               extra_vars={"patch_health_checks": CHECKS, "patch_health_delay": 1,
                                           "patch_health_retries": 2})
    assert rc != 0
    gate = task_results(out, "Decide")["localhost"]
    assert gate["failed"] and "Gate closed after ring test" in gate["msg"]
    for host in hosts:       # the test ring was rolled back, the other rings never touched
        assert packages(host) == before[host.name], host.name
    restored = task_results(out, "Restore the journal's versions")
    for host in by_ring(hosts, "test"):     # no repository offers any version restored: all came from files
        result = restored[host.name]
        assert result["restore"] and set(result["from_files"]) == set(result["restore"]), (host.name, result)
    assert not any(t for p in out["plays"] if p["play"]["name"] in ("Ring pilot", "Ring production")
                   for t in p["tasks"])


def test_later_rings_install_the_manifest_not_what_is_newest(fleet_lab, tmp_path):
    inventory, hosts = fleet_lab
    run_lab("stage", "security")
    refresh(hosts)
    manifest_file = tmp_path / "manifest.json"
    ansible_playbook(os.path.join(PLAYBOOKS, "patch_ring.yml"), inventory,
                     extra_vars={"fleetpatch_ring": "test", "patch_security_only": True,
                                 "gate_manifest_path": str(manifest_file)})
    manifest = json.loads(manifest_file.read_text())
    assert manifest["apt"] == {"fp-crypto": "1.0-2", "fp-firmware": "1.1-1"}
    assert manifest["dnf"] == manifest["zypper"] == manifest["apt"]
    run_lab("stage", "fixed")            # fp-crypto 1.0-3 appears after the test ring passed
    for ring in ("pilot", "production"):
        ansible_playbook(os.path.join(PLAYBOOKS, "patch_ring.yml"), inventory,
                         extra_vars={"fleetpatch_ring": ring, "fleetpatch_manifest": manifest})
        for host in by_ring(hosts, ring):
            installed = packages(host)
            assert version(installed, "fp-crypto") == "1.0-2", host.name
            assert version(installed, "fp-firmware") == "1.1-1", host.name
            assert version(installed, "fp-tools") == "2.0-1"          # approved, newer, but not in the manifest


def test_clean_wave_rolls_through_every_ring(fleet_lab):
    inventory, hosts = fleet_lab
    run_lab("stage", "security")
    refresh(hosts)
    before = boot_ids(hosts)
    rc, out = ansible_playbook(os.path.join(PLAYBOOKS, "rollout.yml"), inventory,
                               extra_vars={"patch_security_only": True, "patch_reboot": "never"})
    assert rc == 0
    assert boot_ids(hosts) == before          # fp-crypto asks for a reboot; "never" is honoured
    for host in hosts:
        installed = packages(host)
        assert (version(installed, "fp-crypto"), version(installed, "fp-firmware")) == ("1.0-2", "1.1-1"), host.name
    summary = task_results(out, "Show what happened per ring")["localhost"]["results"]
    assert all(status == "patched" for result in summary for status in result["msg"].values())


def test_production_batch_over_its_fail_budget_stops_the_ring(fleet_lab):
    inventory, hosts = fleet_lab
    production = by_ring(hosts, "production")
    run_lab("stage", "broken")
    refresh(production)
    before = dict((h.name, packages(h)) for h in production)
    rc, out = ansible_playbook(os.path.join(PLAYBOOKS, "patch_ring.yml"), inventory, check=False,
                               extra_vars={"fleetpatch_ring": "production", "fleetpatch_serial": 1,
                                           "fleetpatch_max_fail_percentage": 0, "patch_health_checks": CHECKS,
                                           "patch_health_delay": 1, "patch_health_retries": 2})
    assert rc != 0
    patched = hosts_that_ran(out, "fleetpatch.patching.patch : Install the updates (the journal is written first)")
    assert len(patched) == 1                  # the first batch failed; the second was never started
    first = patched.pop()
    assert task_results(out, "Fail the host with its outcome")[first]["failed"]
    assert "rolled_back" in task_results(out, "Fail the host with its outcome")[first]["msg"]
    assert not hosts_that_ran(out, "fleetpatch.patching.gate : Decide")
    for host in production:                   # one rolled back, the other untouched
        assert packages(host) == before[host.name], host.name


def test_host_lost_mid_ring_is_reported_and_closes_the_gate(fleet_lab):
    inventory, hosts = fleet_lab
    ring = by_ring(hosts, "test")
    run_lab("stage", "security")
    refresh(ring)
    victim = [h for h in ring if h.pkg_mgr == "dnf"][0]
    hook = os.path.join(REPO_ROOT, "tests", "integration", "tasks", "cut_off_hook.yml")
    try:
        rc, out = ansible_playbook(os.path.join(PLAYBOOKS, "patch_ring.yml"), inventory, check=False,
                                   extra_vars={"fleetpatch_ring": "test", "patch_security_only": True,
                                               "patch_reboot": "always", "patch_pre_reboot_tasks": hook,
                                               "fleetpatch_test_cut_off": victim.name})
        assert rc != 0
        assert out["stats"][victim.name]["unreachable"] == 1
        gate = task_results(out, "Decide")["localhost"]
        assert gate["failed"] and "1 unreachable or unfinished" in gate["msg"], gate["msg"]
        # the host that fell short is named with its outcome; those that succeeded are not listed
        assert "1 host(s) fell short: %s (started)." % victim.name in gate["msg"], gate["msg"]
        for other in ring:
            if other is not victim:
                assert other.name not in gate["msg"].split("fell short:")[1], gate["msg"]
    finally:
        run_lab("reset")                      # brings the cut-off host's SSH server back


def test_whole_rollout_in_check_mode_changes_nothing(fleet_lab):
    inventory, hosts = fleet_lab
    run_lab("stage", "security")
    refresh(hosts)
    before = dict((h.name, packages(h)) for h in hosts)
    boots = boot_ids(hosts)
    rc, out = ansible_playbook(os.path.join(PLAYBOOKS, "rollout.yml"), inventory, check=False,
                               extra_args=("--check",))
    assert rc == 0
    summary = task_results(out, "Show what happened per ring")["localhost"]["results"]
    assert all(status == "patched" for result in summary for status in result["msg"].values())
    for host in hosts:
        assert packages(host) == before[host.name], host.name
    assert boot_ids(hosts) == boots


def test_targets_narrow_a_ring_and_its_gate(fleet_lab):
    inventory, hosts = fleet_lab
    run_lab("stage", "security")
    refresh(hosts)
    before = dict((h.name, packages(h)) for h in hosts)
    rc, out = ansible_playbook(os.path.join(PLAYBOOKS, "patch_ring.yml"), inventory,
                               extra_vars={"fleetpatch_ring": "test", "fleetpatch_targets": "lab_apt",
                                           "patch_security_only": True, "patch_reboot": "never"})
    gate = task_results(out, "Decide")["localhost"]
    assert gate["msg"] == "Gate open after ring test: 1/1 hosts succeeded"
    for host in hosts:                 # lab-apt1 is the only apt host in the test ring
        changed = packages(host) != before[host.name]
        assert changed == (host.name == "lab-apt1"), host.name
