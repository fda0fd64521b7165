"""patch_facts on the lab's real apt, dnf and zypper hosts: the exact staged updates with their
classification, severity, CVEs, dates and reboot flags; reboot detection; first-seen dates;
check mode; the package-manager lock; and records valid against the published schema."""
import json
import os
import subprocess
import time

import jsonschema
import pytest
from conftest import REPO_ROOT, ansible_playbook, first_host, lab_hosts, on_host, run_lab, task_results
from fleetlab import config

with open(os.path.join(REPO_ROOT, "docs", "schemas", "host_patch_record.schema.json")) as f:
    SCHEMA = json.load(f)

EXPECTED_SECURITY_WAVE = {
    # name: (installed, available, classification on apt, on dnf/zypper, severity, advisories, cves, issued)
    "fp-agent": ("1.0-1", "1.1-1", "other", "bugfix", "unknown", ["FPBA-2025:0105"], [], "2025-03-08"),
    "fp-clock": ("3.0-1", "1:2.5-1", "other", "enhancement", "unknown", ["FPEA-2025:0104"], [], "2025-03-07"),
    "fp-crypto": ("1.0-1", "1.0-2", "security", "security", "critical", ["FPSA-2025:0101"],
                  ["CVE-2025-10001", "CVE-2025-10002"], "2025-03-04"),
    "fp-firmware": ("1.0-1", "1.1-1", "security", "security", "important", ["FPSA-2025:0103"],
                    ["CVE-2025-10003"], "2025-03-06"),
    "fp-tools": ("2.0-1", "2.1-1", "other", "bugfix", "unknown", ["FPBA-2025:0102"], [], "2025-03-05"),
}


def patch_facts(inventory, hosts, check=True, **args):
    rc, out = ansible_playbook("patch_facts.yml", inventory, limit=",".join(h.name for h in hosts),
                               extra_vars={"facts_args": args}, check=check)
    return task_results(out, "Patch facts")


@pytest.fixture(scope="module")
def hosts(fresh_lab, fleet):
    run_lab("stage", "security")
    return {m: first_host(fleet, m) for m in ("apt", "dnf", "zypper")}


def lab_feed(tmp_path, **options):
    """The lab's Debian security data (tests/lab/fleetlab/advisories.py), as the repository server
    publishes it for the staged wave."""
    base = "%s/advisories/" % config.REPO_URL
    return dict({"debian_tracker": base + "tracker.json", "debian_advisories": [base + "DSA-list"],
                 "cache_dir": str(tmp_path / "feed-cache"), "max_age": 3600, "timeout": 10, "required": True}, **options)


def test_exact_updates_on_every_manager(fresh_lab, hosts, tmp_path):
    # apt hosts get their advisories from the lab's advisory feed, joined on the controller: the
    # same advisories, CVEs, severities and dates as the dnf and zypper hosts read from updateinfo
    results = patch_facts(fresh_lab, hosts.values(), advisory_feed=lab_feed(tmp_path))
    for manager, host in hosts.items():
        record = results[host.name]["ansible_facts"]["fleetpatch"]
        jsonschema.validate(record, SCHEMA)
        assert record["pkg_mgr"] == manager
        assert record["cache_refreshed"] is True
        updates = {u["name"]: u for u in record["updates"]}
        assert sorted(updates) == sorted(EXPECTED_SECURITY_WAVE), manager
        for name, (old, new, apt_class, rpm_class, severity, advisories, cves, issued) in EXPECTED_SECURITY_WAVE.items():
            u = updates[name]
            assert (u["installed_version"], u["available_version"]) == (old, new), (manager, name)
            if manager == "apt" and apt_class != "security":
                # Debian's security data has no bugfix or enhancement advisories: apt knows the pocket only
                assert (u["classification"], u["severity"], u["advisories"], u["cves"], u["issued"]) == \
                    (apt_class, "unknown", [], [], None), name
                assert u["repository"] == "Debian:bookworm/main"
            elif manager == "apt":
                assert (u["classification"], u["severity"], u["advisories"], u["cves"], u["issued"]) == \
                    (rpm_class, severity, advisories, cves, issued), (manager, name)
                assert u["repository"] == "Debian-Security:bookworm-security/main"
                assert (u["source_package"], u["installed_source_version"], u["source_version"]) == (name, old, new)
            else:
                assert (u["classification"], u["severity"], u["advisories"], u["cves"], u["issued"]) == \
                    (rpm_class, severity, advisories, cves, issued), (manager, name)
            assert u["first_seen"] == time.strftime("%Y-%m-%d", time.gmtime())
            assert u["decision"] == "approved"
        # zypper carries the advisory's reboot flag; dnf 4 does not print it
        assert updates["fp-firmware"]["reboot_suggested"] is (manager == "zypper")
        assert record["status"] == "non_compliant"
        assert record["counts"]["security_non_compliant"] == 2
        assert record["counts"]["critical_non_compliant"] == 1
        if manager == "apt":
            feed = record["advisory_feed"]
            assert (feed["warning"], feed["release"], feed["joined"], feed["without_source"]) == (None, "bookworm", 2, 0)
            assert record["codename"] == "bookworm"
        else:
            assert "advisory_feed" not in record


def test_an_unreachable_feed_leaves_apt_as_it_was(fresh_lab, hosts, tmp_path):
    host = hosts["apt"]
    feed = lab_feed(tmp_path, debian_tracker="%s/advisories/no-such-file.json" % config.REPO_URL, required=False)
    record = patch_facts(fresh_lab, [host], advisory_feed=feed)[host.name]["ansible_facts"]["fleetpatch"]
    assert "Failed to fetch" in record["advisory_feed"]["warning"] and "404" in record["advisory_feed"]["warning"]
    assert {u["severity"] for u in record["updates"]} == {"unknown"}
    assert not any(u["advisories"] for u in record["updates"])


def test_patch_apply_selects_apt_updates_by_cve_through_the_feed(fresh_lab, hosts, tmp_path):
    """Check mode (nothing installed): the apt host's updates by CVE and advisory, as on dnf."""
    host = hosts["apt"]

    def targets(update_cache=False, **apply_args):
        _rc, out = ansible_playbook("apply.yml", fresh_lab, limit=host.name, extra_args=["--check"],
                                    extra_vars={"apply_args": dict(apply_args, update_cache=update_cache)})
        return task_results(out, "Apply")[host.name]

    assert targets(update_cache=True, cves=["CVE-2025-10001"])["targets"] == {}      # apt metadata knows no CVE
    result = targets(cves=["CVE-2025-10001"], advisory_feed=lab_feed(tmp_path))
    assert result["targets"] == {"fp-crypto": "1.0-2"}
    assert result["advisory_feed"]["joined"] == 2 and result["advisory_feed"]["warning"] is None
    result = targets(advisories=["FPSA-2025:0103"], advisory_feed=lab_feed(tmp_path))
    assert result["targets"] == {"fp-firmware": "1.1-1"}
    updates = dict((u["name"], u) for u in result["record"]["updates"])
    assert (updates["fp-crypto"]["severity"], updates["fp-crypto"]["issued"]) == ("critical", "2025-03-04")


def test_first_seen_is_kept_on_the_host_root_only(hosts):
    for host in hosts.values():
        mode = on_host(host, "stat", "-c", "%a %U", "/var/lib/fleetpatch", "/var/lib/fleetpatch/first_seen.json").stdout
        assert mode.split("\n")[:2] == ["700 root", "600 root"], (host.name, mode)
        seen = json.loads(on_host(host, "cat", "/var/lib/fleetpatch/first_seen.json").stdout)["seen"]
        assert "fp-crypto|%s|1.0-2" % ("all" if host.pkg_mgr == "apt" else "noarch") in seen


def test_approval_delay_counts_from_first_seen_on_apt(fresh_lab, hosts):
    host = hosts["apt"]
    policy = {"approve_after_days": {"unknown": 7}}
    record = patch_facts(fresh_lab, [host], policy=policy)[host.name]["ansible_facts"]["fleetpatch"]
    assert {u["decision"] for u in record["updates"]} == {"deferred"}
    assert record["status"] == "compliant"
    # the host saw these versions ten days ago: the delay has passed
    on_host(host, "sed", "-i", "-E", 's/"[0-9]{4}-[0-9]{2}-[0-9]{2}"/"%s"/' % time.strftime(
        "%Y-%m-%d", time.gmtime(time.time() - 10 * 86400)), "/var/lib/fleetpatch/first_seen.json")
    record = patch_facts(fresh_lab, [host], policy=policy)[host.name]["ansible_facts"]["fleetpatch"]
    assert {u["decision"] for u in record["updates"]} == {"approved"}


def test_check_mode_writes_nothing(fresh_lab, hosts):
    host = hosts["dnf"]
    on_host(host, "rm", "-rf", "/var/lib/fleetpatch")
    rc, out = ansible_playbook("patch_facts.yml", fresh_lab, limit=host.name,
                               extra_vars={"facts_args": {}}, extra_args=["--check"])
    record = task_results(out, "Patch facts")[host.name]["ansible_facts"]["fleetpatch"]
    assert record["cache_refreshed"] is True and len(record["updates"]) == 5
    assert on_host(host, "test", "-e", "/var/lib/fleetpatch", check=False).returncode == 1


def test_reboot_required_is_detected_by_each_manager(fresh_lab, hosts):
    on_host(hosts["apt"], "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-qq", "-y", "install", "fp-firmware")
    on_host(hosts["dnf"], "dnf", "-q", "-y", "upgrade", "fp-firmware")
    on_host(hosts["zypper"], "zypper", "--non-interactive", "--quiet", "update", "fp-firmware")
    results = patch_facts(fresh_lab, hosts.values())
    expected = {"apt": "/run/reboot-required exists (requested by fp-firmware)",
                "dnf": "dnf needs-restarting: core packages updated since boot",
                "zypper": "zypper needs-rebooting"}
    for manager, host in hosts.items():
        record = results[host.name]["ansible_facts"]["fleetpatch"]
        assert record["reboot_required"] is True, manager
        assert any(r.startswith(expected[manager]) for r in record["reboot_reasons"]), record["reboot_reasons"]
        assert record["counts"]["pending_reboot"] == 1


def test_held_lock_fails_naming_the_lock_and_holder(fresh_lab, hosts):
    host = hosts["apt"]
    holder = subprocess.Popen(
        lab_hosts.ssh_argv(host) + [
            "python3 -c 'import fcntl,os,time; fd=os.open(\"/var/lib/dpkg/lock-frontend\", os.O_RDWR); "
            "fcntl.lockf(fd, fcntl.LOCK_EX); print(\"locked\", flush=True); time.sleep(60)'"],
        stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        assert holder.stdout.readline().strip() == "locked"
        rc, out = ansible_playbook("patch_facts.yml", fresh_lab, limit=host.name, check=False,
                                   extra_vars={"facts_args": {"lock_timeout": 2}})
        result = task_results(out, "Patch facts")[host.name]
        assert result["failed"] is True
        assert "Failed to acquire the apt lock: /var/lib/dpkg/lock-frontend is held by pid" in result["msg"]
        assert "python3 -c" in result["msg"]
    finally:
        holder.kill()
        on_host(host, "pkill", "-f", "lock-frontend", check=False)


def test_assess_role_summarises_and_rejects_bad_policy_before_connecting(fresh_lab, hosts, tmp_path):
    rc, out = ansible_playbook(os.path.join(REPO_ROOT, "playbooks", "assess.yml"), fresh_lab,
                               extra_vars={"assess_policy": {"classifications": ["security"]}})
    summary = task_results(out, "Show the fleet summary")
    msg = next(iter(summary.values()))["msg"]
    assert int(msg["hosts"]) == 6 and int(msg["security_missing"]) >= 6
    ghost = tmp_path / "ghost.yml"
    ghost.write_text("all:\n  hosts:\n    ghost:\n      ansible_host: 127.0.0.250\n")
    for bad in ({"classifications": ["securty"]}, {"approve_after_days": "soon"}):
        rc, out = ansible_playbook(os.path.join(REPO_ROOT, "playbooks", "assess.yml"), str(ghost), check=False,
                                   extra_vars={"assess_policy": bad})
        assert rc != 0
        stats = out["stats"]["ghost"]
        assert stats["failures"] == 1 and stats["unreachable"] == 0, stats


def test_installroot_on_dnf_and_zypper(fresh_lab, hosts):
    """root= assesses an image or chroot: its own RPM database, repositories and state."""
    dnf, zypper = hosts["dnf"], hosts["zypper"]
    on_host(dnf, "sh", "-c", "mkdir -p /srv/image/etc/yum.repos.d && cp /etc/yum.repos.d/fleetlab.repo /srv/image/etc/yum.repos.d/")
    # the image has no /bin/sh: its packages' scriptlets cannot run there
    on_host(dnf, "dnf", "-q", "-y", "--installroot=/srv/image", "--releasever=12", "--setopt=tsflags=noscripts",
            "install", "fleetlab-release", "fp-crypto-1.0-1")
    on_host(zypper, "sh", "-c", "mkdir -p /srv/image/etc/zypp/repos.d && cp /etc/zypp/repos.d/fleetlab.repo /srv/image/etc/zypp/repos.d/")
    # zypper has no noscripts switch: rc 107 says a scriptlet failed, the packages are installed
    installed = on_host(zypper, "zypper", "-n", "-q", "--root", "/srv/image", "install", "fleetlab-release",
                        "fp-crypto=1.0-1", check=False)
    assert installed.returncode in (0, 107), installed.stderr
    assert on_host(zypper, "rpm", "--root", "/srv/image", "-q", "fp-crypto").stdout.strip() == "fp-crypto-1.0-1.noarch"
    results = patch_facts(fresh_lab, [dnf, zypper], root="/srv/image")
    for host in (dnf, zypper):
        record = results[host.name]["ansible_facts"]["fleetpatch"]
        jsonschema.validate(record, SCHEMA)
        assert record["root"] == "/srv/image" and record["installed_count"] == 2
        assert [(u["name"], u["available_version"], u["severity"]) for u in record["updates"]] == \
            [("fp-crypto", "1.0-2", "critical")]
        assert record["kernel_running"] is None        # the image runs no kernel
        assert on_host(host, "test", "-f", "/srv/image/var/lib/fleetpatch/first_seen.json", check=False).returncode == 0


def test_assess_role_runs_in_check_mode(fresh_lab, hosts):
    rc, out = ansible_playbook(os.path.join(REPO_ROOT, "playbooks", "assess.yml"), fresh_lab, extra_args=["--check"])
    assert all(stats["failures"] == 0 and stats["changed"] == 0 for stats in out["stats"].values())
