"""The fault matrix (docs/reliability.md), live on the lab: each test injects a fault a real
rollout meets and asserts what the host, its package database, the journal and the run say
afterwards - never a host half patched, never a damaged database called patched, never a gate
promoting what its ring did not install."""
import glob
import json
import os
import shutil
import signal
import subprocess
import time

import pytest
from conftest import (PLAYBOOKS, REPO_ROOT, ansible_playbook, first_host, lab_hosts, on_host, run_lab,
                      sigterm_when, task_results)
from test_apply_rollback import packages, refresh

from fleetlab import config

ROLLOUT = os.path.join(REPO_ROOT, "playbooks")
# The installer and the slow post-install hook it waits for, per manager (as in test_apply_rollback).
INSTALLER = {"apt": "apt-get install|dpkg|hooks/post-install|sleep 120",
             "dnf": "dnf --assumeyes|hooks/post-install|sleep 120",
             "zypper": "zypper --non-interactive install|hooks/post-install|sleep 120"}
SLOW_HOOK = ("mkdir -p /etc/fleetpatch-lab/hooks && printf '#!/bin/sh\\n[ \"$1\" = fp-crypto ] && sleep 120\\nexit 0\\n' "
             "> /etc/fleetpatch-lab/hooks/post-install && chmod +x /etc/fleetpatch-lab/hooks/post-install")
READ_JOURNALS = ("import glob, json; print(json.dumps([json.load(open(p)) for p in "
                 "sorted(glob.glob('/var/lib/fleetpatch/journal/*.json'))]))")
# Holds the health check after the install (an applied journal exists) so that the test can kill the
# controller between the apply and the health check; before the install it passes at once.
HOLD_AFTER_APPLY = [{"type": "command", "timeout": 300, "argv": [
    "sh", "-c", "if grep -qs '\"status\": \"applied\"' /var/lib/fleetpatch/journal/*.json; then sleep 240; fi"]}]


@pytest.fixture()
def ring(fresh_lab, fleet):
    run_lab("reset")
    return fresh_lab, [first_host(fleet, m) for m in ("apt", "dnf", "zypper")]


def journals(host):
    return json.loads(on_host(host, "python3", "-c", READ_JOURNALS).stdout)


def assert_database_consistent(host):
    """What the package manager itself says: dpkg --audit empty and every package installed (ii);
    rpm lists each package once, and dnf check is clean."""
    listed = packages(host)
    if host.pkg_mgr == "apt":
        assert on_host(host, "dpkg", "--audit").stdout.strip() == "", host.name
        assert not on_host(host, "ls", "/var/lib/dpkg/updates").stdout.strip(), host.name
        assert all(v.split()[1:] == ["ii"] for v in listed.values()), host.name
    else:
        assert not [n for n, v in listed.items() if "," in v], (host.name, listed)
        if host.pkg_mgr == "dnf":
            assert on_host(host, "dnf", "check", check=False).returncode == 0, host.name


def version(listed, name):
    return listed[name].split()[0].split(":", 1)[-1]


def patch(inventory, hosts, check=True, **variables):
    variables.setdefault("patch_health_delay", 1)
    return ansible_playbook("patch_role.yml", inventory, limit=",".join(h.name for h in hosts),
                            extra_vars=variables, check=check)


def outcomes(out):
    return dict((host, result["patch_outcome"]) for host, result in task_results(out, "Report the outcome").items())


def start_patch(inventory, hosts, **variables):
    """The patch role in the background, in its own process group (a controller to kill)."""
    variables.setdefault("patch_health_delay", 1)
    argv = ["ansible-playbook", "-i", inventory, "--limit", ",".join(h.name for h in hosts),
            os.path.join(PLAYBOOKS, "patch_role.yml"), "--extra-vars", json.dumps(variables)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, stdin=subprocess.DEVNULL)


def wait_on_hosts(hosts, argv, what, timeout=180):
    deadline = time.time() + timeout
    for host in hosts:
        while on_host(host, *argv, check=False).returncode != 0:
            assert time.time() < deadline, "%s: %s never happened" % (host.name, what)
            time.sleep(0.5)


def kill_controller(proc):
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def test_install_and_controller_killed_mid_transaction_next_run_repairs_and_finishes(ring):
    """Faults 1 and 2: the controller (SIGKILL) and the package manager (SIGKILL) die while an
    update's post-install script runs. dpkg is left interrupted, rpm with both versions of the
    package. With patch_resume=block the next run refuses the host with that reason and changes
    nothing; by default it repairs the database before anything else, takes the journal over and
    finishes: every host fully patched, the database consistent, the old journal superseded."""
    inventory, hosts = ring
    run_lab("stage", "security")
    refresh(hosts)
    before = dict((h.name, packages(h)) for h in hosts)
    for host in hosts:
        on_host(host, "sh", "-c", SLOW_HOOK)
    controller = start_patch(inventory, hosts, patch_security_only=True, patch_reboot="never", patch_fail_host=False)
    try:
        wait_on_hosts(hosts, ["pgrep", "-f", "hooks/post-install"], "the slow post-install hook")
        kill_controller(controller)
        for host in hosts:
            on_host(host, "pkill", "-KILL", "-f", INSTALLER[host.pkg_mgr], check=False)
            on_host(host, "rm", "-f", "/etc/fleetpatch-lab/hooks/post-install")
    finally:
        if controller.poll() is None:
            kill_controller(controller)
    damaged = dict((h.name, packages(h)) for h in hosts)
    for host in hosts:
        assert damaged[host.name] != before[host.name], host.name           # left half-patched
        # "failed" when the module outlived its controller and saw the installer die, else "applying"
        assert [(j["status"] in ("applying", "failed"), j["cycle"]) for j in journals(host)] == [(True, "open")]
    assert any("," in v for v in damaged["lab-dnf1"].values())             # rpm holds both versions

    rc, out = patch(inventory, hosts, check=False, patch_security_only=True, patch_reboot="never",
                    patch_resume="block")
    assert rc != 0
    for host in hosts:
        result = task_results(out, "Check the host can be patched now")[host.name]
        assert result["failed"] and "interrupted" in result["msg"], (host.name, result["msg"])
        if host.pkg_mgr == "dnf":       # seen above: both versions in the rpm database
            assert "installed twice" in result["msg"], (host.name, result["msg"])
        assert packages(host) == damaged[host.name], host.name             # blocked: nothing changed

    rc, out = patch(inventory, hosts, check=False, patch_security_only=True, patch_reboot="never")
    assert rc == 0
    results = outcomes(out)
    for host in hosts:
        outcome = results[host.name]
        assert outcome["status"] == "patched" and outcome["resumed"], (host.name, outcome)
        assert not outcome["remaining"], host.name
        warned = task_results(out, "Check the host can be patched now")[host.name]["checks"]
        assert warned["journal"]["status"] == "warn", warned
        listed = packages(host)
        assert (version(listed, "fp-crypto"), version(listed, "fp-firmware")) == ("1.0-2", "1.1-1"), host.name
        assert_database_consistent(host)
        assert [j["status"] for j in journals(host)] == ["superseded", "completed"], host.name
        # the change reported, and a rollback, go back to the versions before the killed run
        assert dict((c["name"], c["before"]) for c in outcome["changes"])["fp-crypto"].split(":")[-1] == "1.0-1"
        assert on_host(host, "cat", "/usr/share/fp-crypto/VERSION").stdout.startswith("fp-crypto 1.0-2")


def test_controller_killed_before_the_health_check_a_second_run_waits_the_next_finishes(ring):
    """Faults 3, 4 and 5: a run is between the apply and its health check when a second rollout
    starts on the same hosts; the second is refused by the host's run lock, naming the holder, and
    so is a rollback.
    Then the first controller is killed (SIGKILL, as a lost AWX node): the journal stays applied
    with its cycle open. The next run from this controller sees the lock's owner process is gone,
    takes the lock over, finds the open journal and finishes the cycle (health check, confirm)."""
    inventory, hosts = ring
    run_lab("stage", "security")
    refresh(hosts)
    first = start_patch(inventory, hosts, patch_security_only=True, patch_reboot="never",
                        patch_health_checks=HOLD_AFTER_APPLY, patch_health_retries=1)
    try:
        wait_on_hosts(hosts, ["pgrep", "-f", "slee[p] 240"], "the health check after the apply")
        rc, out = patch(inventory, hosts, check=False, patch_security_only=True, patch_reboot="never")
        assert rc != 0
        for host in hosts:
            refused = task_results(out, "Take over the lock a dead run of this controller left")[host.name]
            assert refused["failed"] and "Another fleetpatch run holds this host" in refused["msg"], refused
            assert "(pid %d)" % first.pid in refused["msg"], refused["msg"]
        # a rollback is refused by the same lock, changing nothing, and releases nothing it did not take
        applied = dict((h.name, packages(h)) for h in hosts)
        rc, out = ansible_playbook(os.path.join(ROLLOUT, "rollback.yml"), inventory, check=False,
                                   limit=",".join(h.name for h in hosts), extra_vars={"fleetpatch_ring": "test"})
        assert rc != 0
        for host in hosts:
            refused = task_results(out, "Take over the lock a dead run of this controller left")[host.name]
            assert refused["failed"] and "(pid %d)" % first.pid in refused["msg"], refused
            assert packages(host) == applied[host.name], host.name
        kill_controller(first)
    finally:
        if first.poll() is None:
            kill_controller(first)
    for host in hosts:
        on_host(host, "pkill", "-f", "slee[p] 240", check=False)
        stuck = journals(host)
        assert [(j["status"], j["cycle"]) for j in stuck] == [("applied", "open")], host.name
        assert on_host(host, "test", "-e", "/var/lib/fleetpatch/run.lock", check=False).returncode == 0
    rc, out = patch(inventory, hosts, check=False, patch_security_only=True, patch_reboot="never")
    assert rc == 0
    results = outcomes(out)
    for host in hosts:
        outcome = results[host.name]
        assert outcome["status"] == "patched" and len(outcome["resumed"]) == 1, (host.name, outcome)
        assert set(c["name"] for c in outcome["changes"]) >= {"fp-crypto", "fp-firmware"}
        assert [j["status"] for j in journals(host)] == ["superseded", "completed"], host.name
        assert on_host(host, "test", "-e", "/var/lib/fleetpatch/run.lock", check=False).returncode != 0
        assert_database_consistent(host)


def test_a_rerun_of_a_patched_ring_promotes_what_it_verified_not_an_empty_manifest(fresh_lab, fleet):
    """Fault 6: the test ring was patched by an earlier run (an AWX node, a rollout stopped at the
    pilot gate). Re-running the whole rollout, the test ring installs nothing; its gate promotes
    what its completed cycles installed, so pilot and production are patched to those versions."""
    run_lab("reset")
    hosts = list(fleet.values())
    run_lab("stage", "security")
    refresh(hosts)
    ansible_playbook(os.path.join(ROLLOUT, "patch_ring.yml"), fresh_lab,
                     extra_vars={"fleetpatch_ring": "test", "patch_security_only": True, "patch_reboot": "never"})
    rc, out = ansible_playbook(os.path.join(ROLLOUT, "rollout.yml"), fresh_lab,
                               extra_vars={"patch_security_only": True, "patch_reboot": "never"})
    assert rc == 0
    summary = task_results(out, "Show what happened per ring")["localhost"]["results"]
    statuses = dict(kv for result in summary for kv in result["msg"].items())
    for host in hosts:
        if host.archive:
            continue
        assert statuses[host.name] == ("unchanged" if host.ring == "test" else "patched"), (host.name, statuses)
        listed = packages(host)
        assert (version(listed, "fp-crypto"), version(listed, "fp-firmware")) == ("1.0-2", "1.1-1"), host.name


def test_a_ring_passes_on_the_package_managers_it_did_not_cover(fresh_lab, fleet):
    """Fault 7: an AWX pilot node whose hosts all run apt re-emitted only apt, and production's
    RPM hosts got an empty manifest. The gate passes on what it received, with what it adds."""
    run_lab("reset")
    received = {"apt": {"fp-crypto": "1.0-2"}, "dnf": {"fp-crypto": "1.0-2"}, "zypper": {"fp-crypto": "1.0-2"}}
    pilot = [h for h in fleet.values() if h.ring == "pilot"]
    run_lab("stage", "security")
    refresh(pilot)
    rc, out = ansible_playbook(os.path.join(ROLLOUT, "patch_ring.yml"), fresh_lab,
                               extra_vars={"fleetpatch_ring": "pilot", "fleetpatch_manifest": received,
                                           "patch_reboot": "never"},
                               env={"ANSIBLE_SHOW_CUSTOM_STATS": "1"})      # what AWX reads: set_stats
    assert rc == 0
    assert set(h.pkg_mgr for h in pilot) == {"apt"}
    emitted = out["global_custom_stats"]["fleetpatch_manifest"]
    assert emitted == received, emitted


@pytest.mark.parametrize("extra, message", [
    ({"fleetpatch_ring": "pilto"}, "ring 'pilto' has no hosts; rings known: pilot, production, test"),
    ({"fleetpatch_manifest": ["fp-crypto=1.0-2"]}, "fleetpatch_manifest must map each package manager"),
    ({"fleetpatch_manifest": {"fp-crypto": "1.0-2"}}, "fleetpatch_manifest must map each package manager"),
    ({"fleetpatch_serial": -1}, "fleetpatch_serial must be a number of hosts above 0"),
    ({"fleetpatch_serial": "150%"}, "fleetpatch_serial must be a number of hosts above 0"),
    ({"fleetpatch_max_fail_percentage": 101}, "fleetpatch_max_fail_percentage must be 0 to 100"),
    ({"fleetpatch_targets": "nosuchhost"}, "has no hosts matching fleetpatch_targets=nosuchhost"),
])
def test_bad_rollout_input_fails_before_any_host_is_touched(lab_up, extra, message):
    """Fault 8: input that used to fail only at a gate, after hosts were patched ("0/0 hosts
    succeeded"), or be accepted and misread, fails at the start, naming the problem."""
    rc, out = ansible_playbook(os.path.join(ROLLOUT, "patch_ring.yml"), lab_up, check=False, extra_vars=extra)
    assert rc != 0
    assert set(out["stats"]) == {"localhost"}, out["stats"]           # no host was contacted
    failed = [r for play in out["plays"] for task in play["tasks"] for r in task["hosts"].values() if r.get("failed")]
    assert failed and message in failed[0]["msg"], failed[0]["msg"]


@pytest.fixture()
def damaged_crypto_package():
    """The security wave serves a damaged fp-crypto 1.0-2 (what a connection dropped mid-download
    or a broken mirror gives): same size, other bytes, so the repository's checksums catch it."""
    wave = os.path.join(config.REPOS_DIR, "wave-1")
    files = glob.glob(os.path.join(wave, "apt", "*", "pool", "fp-crypto_1.0-2_all.deb")) + \
        glob.glob(os.path.join(wave, "rpm", "fp-crypto-1.0-2.noarch.rpm"))
    assert len(files) == 2, files
    saved = {}
    for path in files:
        saved[path] = path + ".fleetlab-test-saved"
        shutil.copy2(path, saved[path])
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.seek(size // 2)
            f.write(b"\0" * min(4096, size - size // 2))
    yield
    for path, copy in saved.items():
        os.replace(copy, path)


def test_a_damaged_download_fails_the_host_unchanged_and_not_labelled_rolled_back(ring, damaged_crypto_package):
    """Fault 9: the download fails its checksum before anything is installed. The host fails
    with the package manager's cause, its packages untouched, its status "failed" (there was
    nothing to roll back), its journal closed, its database consistent."""
    inventory, hosts = ring
    run_lab("stage", "security")
    refresh(hosts)
    before = dict((h.name, packages(h)) for h in hosts)
    rc, out = patch(inventory, hosts, check=False, patch_security_only=True, patch_reboot="never",
                    patch_fail_host=False)
    results = outcomes(out)
    for host in hosts:
        outcome = results[host.name]
        assert outcome["status"] == "failed" and not outcome["rolled_back"], (host.name, outcome)
        assert packages(host) == before[host.name], host.name
        assert not [j for j in journals(host) if j["status"] not in ("rolled_back", "completed", "superseded")]
        assert_database_consistent(host)


def test_a_package_cache_too_small_fails_preflight_naming_it(ring):
    """Fault 10: the download cache (/var/cache/apt/archives, /var/cache/dnf, /var/cache/zypp)
    is on a file system with too little room: preflight checks it by default and names it, so the
    install never starts rather than failing half-way."""
    inventory, hosts = ring
    caches = {"apt": "/var/cache/apt/archives", "dnf": "/var/cache/dnf", "zypper": "/var/cache/zypp"}
    for host in hosts:
        on_host(host, "sh", "-c", "mkdir -p %s && mount -t tmpfs -o size=2m fleetlab-small-cache %s"
                % (caches[host.pkg_mgr], caches[host.pkg_mgr]))
    try:
        _rc, out = ansible_playbook("preflight.yml", inventory, limit=",".join(h.name for h in hosts), check=False)
    finally:
        for host in hosts:
            on_host(host, "umount", caches[host.pkg_mgr], check=False)
    for host in hosts:
        result = task_results(out, "Preflight")[host.name]
        assert result["failed"] and "disk" in result["blocked_by"], result
        assert "%s has 2 MB free, needs 500 MB" % caches[host.pkg_mgr] in result["checks"]["disk"]["reason"]


# The post-install hook hangs the first time only (a script waiting on a service that later answers):
# the bound stops the install, and the rollback's repair runs the script again, which then returns.
HANG_ONCE_HOOK = ("mkdir -p /etc/fleetpatch-lab/hooks && printf '#!/bin/sh\\n[ \"$1\" = fp-crypto ] || exit 0\\n"
                  "[ -e /run/fp-hung-once ] && exit 0\\ntouch /run/fp-hung-once\\nsleep 120\\n' "
                  "> /etc/fleetpatch-lab/hooks/post-install && chmod +x /etc/fleetpatch-lab/hooks/post-install")


def test_a_hung_maintainer_script_is_stopped_by_the_transaction_timeout_and_rolled_back(ring):
    """Fault 27: a maintainer script (a scriptlet on rpm) hangs. patch_transaction_timeout stops the
    install with every process it started, naming the chain that hung; the rollback repairs the
    database (running the script again) and restores the journal's versions: the host ends fully
    rolled back, its database consistent, nothing of the hung script left running."""
    inventory, hosts = ring
    run_lab("stage", "security")
    refresh(hosts)
    before = dict((h.name, packages(h)) for h in hosts)
    for host in hosts:
        on_host(host, "sh", "-c", HANG_ONCE_HOOK)
    try:
        rc, out = patch(inventory, hosts, check=False, patch_security_only=True, patch_reboot="never",
                        patch_fail_host=False, patch_transaction_timeout=20)
    finally:
        for host in hosts:
            on_host(host, "rm", "-f", "/etc/fleetpatch-lab/hooks/post-install", "/run/fp-hung-once")
    results = outcomes(out)
    for host in hosts:
        outcome = results[host.name]
        assert outcome["status"] == "rolled_back", (host.name, outcome["reason"], outcome)
        assert "did not finish within 20 seconds (transaction_timeout)" in outcome["reason"], outcome["reason"]
        hung = outcome["reason"].split("still running then: ")[1]
        assert "hooks/post-install fp-crypto > sleep 120" in hung, (host.name, hung)
        assert packages(host) == before[host.name], host.name
        assert_database_consistent(host)
        assert [j["status"] for j in journals(host)] == ["rolled_back"], host.name
        assert on_host(host, "pgrep", "-f", "slee[p] 120", check=False).returncode != 0, host.name


def test_a_full_state_dir_fails_the_host_before_anything_is_installed(ring):
    """Fault 29: the state dir (/var/lib/fleetpatch) is full, so no rollback journal can be written.
    With preflight and the run lock off (they would refuse the host first, naming the disk), the
    install never starts: a change without a journal could not be rolled back."""
    inventory, hosts = ring
    run_lab("stage", "security")
    refresh(hosts)
    before = dict((h.name, packages(h)) for h in hosts)
    for host in hosts:
        on_host(host, "sh", "-c", "mkdir -p /var/lib/fleetpatch && mount -t tmpfs -o size=64k fleetlab-full-state "
                "/var/lib/fleetpatch && (dd if=/dev/zero of=/var/lib/fleetpatch/filler bs=4k 2>/dev/null; true)")
    try:
        _rc, out = patch(inventory, hosts, check=False, patch_security_only=True, patch_reboot="never",
                         patch_fail_host=False, patch_preflight=False, patch_run_lock=False)
    finally:
        for host in hosts:
            on_host(host, "umount", "/var/lib/fleetpatch", check=False)
    results = outcomes(out)
    for host in hosts:
        outcome = results[host.name]
        assert outcome["status"] == "failed" and not outcome["rolled_back"], (host.name, outcome)
        # the first write to the state dir fails: the first-seen dates, before the journal
        assert outcome["reason"].startswith("Failed to record first-seen dates in /var/lib/fleetpatch/"), outcome
        assert "No space left on device" in outcome["reason"], (host.name, outcome["reason"])
        assert packages(host) == before[host.name], host.name
        assert_database_consistent(host)


def cut_power_during_the_reboot(host, results):
    """Wait for the pre-reboot hook's mark, then for the host to stop answering (its shutdown has
    begun), then cut its power and switch it on again a few seconds later."""
    try:
        wait_on_hosts([host], ["test", "-e", "/run/fleetpatch-test-rebooting"], "the pre-reboot hook")
        deadline = time.time() + 60
        while on_host(host, "true", check=False).returncode == 0:
            assert time.time() < deadline, "%s never went down for its reboot" % host.name
            time.sleep(0.2)
        lab_hosts.cut_power(host)
        time.sleep(3)
        lab_hosts.boot(host)
        lab_hosts.wait_for_ssh(host)
        results[host.name] = "power cut and restored"
    except Exception as exc:    # reported by the test, not lost in the thread
        results[host.name] = "%s: %s" % (type(exc).__name__, exc)


def test_power_lost_during_the_reboot_the_host_comes_back_and_its_cycle_completes(ring):
    """Fault 30: a host loses power while it reboots after patching (the container's init is killed:
    every process dies at once), then is switched on again. The reboot task sees the new boot id,
    the health check passes and the cycle completes: patched, journal completed, database consistent."""
    import threading
    inventory, hosts = ring
    run_lab("stage", "security")
    refresh(hosts)
    booted = dict((h.name, lab_hosts.boot_id(h)) for h in hosts)
    hook = os.path.join(REPO_ROOT, "tests", "integration", "tasks", "power_loss_hook.yml")
    controller = start_patch(inventory, hosts, patch_security_only=True, patch_reboot="always",
                             patch_pre_reboot_tasks=hook)
    cuts = {}
    threads = [threading.Thread(target=cut_power_during_the_reboot, args=(h, cuts)) for h in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=400)
    try:
        assert controller.wait(timeout=600) == 0
    finally:
        if controller.poll() is None:
            kill_controller(controller)
    assert cuts == dict((h.name, "power cut and restored") for h in hosts), cuts
    for host in hosts:
        assert lab_hosts.boot_id(host) != booted[host.name], host.name
        listed = packages(host)
        assert (version(listed, "fp-crypto"), version(listed, "fp-firmware")) == ("1.0-2", "1.1-1"), host.name
        assert_database_consistent(host)
        assert [(j["status"], j["cycle"]) for j in journals(host)] == [("completed", "closed")], host.name
        assert on_host(host, "test", "-e", "/var/lib/fleetpatch/run.lock", check=False).returncode != 0


def cancel_when(inventory, env, marker, **variables):
    """The test ring's patch_ring.yml, cancelled (SIGTERM) one second after its output shows marker."""
    argv = ["ansible-playbook", "-i", inventory, os.path.join(ROLLOUT, "patch_ring.yml"),
            "--extra-vars", json.dumps(dict({"fleetpatch_ring": "test"}, **variables))]
    return sigterm_when(argv, env, marker, delay=1)


def test_sigterm_during_the_reboot_then_during_the_gate_the_next_runs_finish_and_promote(ring, tmp_path):
    """Faults 31 and 32: an AWX cancel (SIGTERM to ansible-playbook) while the test ring reboots after
    patching, then, on the next run, while its gate soaks. Each cancelled run leaves an aborted
    report; the cancel during the reboot leaves each journal applied with its cycle open, which the
    next run finishes (health check, confirm); the cancel during the gate promotes nothing; the run
    after that installs nothing and its gate promotes what the ring verified."""
    from test_compliance_report import callback_env, load_report
    inventory, hosts = ring
    run_lab("stage", "security")
    refresh(hosts)
    variables = {"patch_security_only": True, "patch_health_delay": 1,
                 "gate_manifest_path": str(tmp_path / "manifest.json")}
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", **callback_env(tmp_path / "reports", tmp_path / "history.sqlite",
                                                               FLEETPATCH_RUN_ID="cancel-reboot"))
    rc, seen = cancel_when(inventory, env, "TASK [fleetpatch.patching.patch : Reboot the host]",
                           patch_reboot="always", **variables)
    assert rc != 0
    report = load_report(tmp_path / "reports", "cancel-reboot")
    assert (report["run"]["status"], report["run"]["aborted_by"]) == ("aborted", "SIGTERM")
    for host in hosts:
        lab_hosts.wait_for_ssh(host)        # the reboot goes on without the controller
        assert [(j["status"], j["cycle"]) for j in journals(host)] == [("applied", "open")], host.name
        assert_database_consistent(host)
    assert not os.path.exists(variables["gate_manifest_path"])

    env["FLEETPATCH_RUN_ID"] = "cancel-gate"
    rc, seen = cancel_when(inventory, env, "TASK [fleetpatch.patching.gate : Soak before judging]",
                           patch_reboot="never", gate_soak_seconds=120, **variables)
    assert rc != 0
    report = load_report(tmp_path / "reports", "cancel-gate")
    assert (report["run"]["status"], report["run"]["aborted_by"]) == ("aborted", "SIGTERM")
    assert not os.path.exists(variables["gate_manifest_path"]), "a cancelled gate promoted"
    for host in hosts:          # the ring's play finished the interrupted cycle before the gate
        assert [j["status"] for j in journals(host)] == ["superseded", "completed"], (host.name, journals(host))
        assert on_host(host, "test", "-e", "/var/lib/fleetpatch/run.lock", check=False).returncode != 0

    rc, out = ansible_playbook(os.path.join(ROLLOUT, "patch_ring.yml"), inventory,
                               extra_vars=dict({"fleetpatch_ring": "test", "patch_reboot": "never"}, **variables))
    assert rc == 0
    with open(variables["gate_manifest_path"]) as handle:
        manifest = json.load(handle)
    for host in hosts:
        assert manifest[host.pkg_mgr] == {"fp-crypto": "1.0-2", "fp-firmware": "1.1-1"}, manifest
        listed = packages(host)
        assert (version(listed, "fp-crypto"), version(listed, "fp-firmware")) == ("1.0-2", "1.1-1"), host.name
        assert_database_consistent(host)
