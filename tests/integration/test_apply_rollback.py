"""patch_apply, patch_rollback and health_check on the lab's apt, dnf and zypper hosts."""
import subprocess
import time

import pytest
from conftest import ansible_playbook, first_host, on_host, run_lab, task_results

MANAGERS = ("apt", "dnf", "zypper")
PACKAGE_LIST = {"apt": ["dpkg-query", "-W", "-f", "${Package} ${Version} ${db:Status-Abbrev}\\n"],
                "dnf": ["rpm", "-qa", "--qf", "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n"],
                "zypper": ["rpm", "-qa", "--qf", "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n"]}
PACKAGE_DB = {"apt": "/var/lib/dpkg/status", "dnf": "/var/lib/rpm/rpmdb.sqlite", "zypper": "/var/lib/rpm/rpmdb.sqlite"}


def packages(host):
    """The full installed package list, read without fleetpatch: name -> every version the
    database lists (an interrupted rpm transaction leaves two)."""
    listed = {}
    for line in on_host(host, *PACKAGE_LIST[host.pkg_mgr]).stdout.splitlines():
        name, version = line.split(" ", 1)
        listed.setdefault(name, []).append(version)
    return dict((name, ",".join(sorted(versions))) for name, versions in listed.items())


def changed(before, after):
    return sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))


def run(inventory, hosts, step, check=True, extra_args=(), **variables):
    variables["step"] = step
    rc, out = ansible_playbook("apply.yml", inventory, limit=",".join(h.name for h in hosts),
                               extra_vars=variables, check=check, extra_args=extra_args)
    return task_results(out, {"apply": "Apply", "rollback": "Roll back", "health": "Health"}[step])


def refresh(hosts):
    for host in hosts:
        if host.pkg_mgr == "zypper":
            on_host(host, "zypper", "-n", "-q", "refresh")


@pytest.fixture()
def lab(fresh_lab, fleet):
    """Every test starts from freshly provisioned hosts."""
    run_lab("reset")
    return fresh_lab, [first_host(fleet, m) for m in MANAGERS]


def test_security_only_installs_exactly_the_security_fixes(lab):
    inventory, hosts = lab
    run_lab("stage", "security")
    before = dict((h.name, packages(h)) for h in hosts)
    results = run(inventory, hosts, "apply", apply_args={"security_only": True})
    for host in hosts:
        assert changed(before[host.name], packages(host)) == ["fp-crypto", "fp-firmware"], host.name
        result = results[host.name]
        assert sorted(c["name"] for c in result["changes"]) == ["fp-crypto", "fp-firmware"]
        journal = on_host(host, "sh", "-c", "cat /var/lib/fleetpatch/journal/%s.json" % result["journal"]).stdout
        assert '"status": "applied"' in journal and '"fp-crypto": "1.0-1"' in journal
    # a second apply changes nothing
    again = run(inventory, hosts, "apply", apply_args={"security_only": True})
    assert all(not again[h.name]["changed"] and again[h.name]["journal"] is None for h in hosts)


def test_manifest_pins_exact_versions_while_newer_exist(lab):
    inventory, hosts = lab
    run_lab("stage", "fixed")        # fp-crypto 1.0-3 is offered
    refresh(hosts)
    before = dict((h.name, packages(h)) for h in hosts)
    results = run(inventory, hosts, "apply", apply_args={"manifest": {"fp-crypto": "1.0-2", "fp-tools": "2.1-1"}})
    for host in hosts:
        assert changed(before[host.name], packages(host)) == ["fp-crypto", "fp-tools"]
        assert {c["name"]: c["after"] for c in results[host.name]["changes"]} == {"fp-crypto": "1.0-2", "fp-tools": "2.1-1"}
    # a manifest that does not name a new dependency is refused before anything changes
    before = dict((h.name, packages(h)) for h in hosts)
    results = run(inventory, hosts, "apply", check=False, apply_args={"manifest": {"fp-agent": "1.1-1"}})
    for host in hosts:
        assert results[host.name]["failed"] and "beyond the promotion manifest" in results[host.name]["msg"]
        assert "fp-agent-plugins" in results[host.name]["msg"]
        assert packages(host) == before[host.name]


def test_failing_install_is_rolled_back_to_the_journal(lab):
    inventory, hosts = lab
    run_lab("stage", "broken")
    refresh(hosts)
    before = dict((h.name, packages(h)) for h in hosts)
    results = run(inventory, hosts, "apply", check=False)
    for host in hosts:
        result = results[host.name]
        assert result["failed"] and result["journal"], (host.name, result.get("msg"))
        assert "fp-db" in result["msg"] or "fp-db" in result.get("stderr", "") + result.get("stdout", "")
    rolled = run(inventory, hosts, "rollback")
    for host in hosts:
        assert rolled[host.name]["changed"] is True
        assert packages(host) == before[host.name], host.name        # every package, not only fp-*
        journal = on_host(host, "sh", "-c", "cat /var/lib/fleetpatch/journal/*.json").stdout
        assert '"status": "rolled_back"' in journal
    again = run(inventory, hosts, "rollback")
    assert all(again[h.name]["changed"] is False for h in hosts)     # idempotent


def test_health_breaking_update_is_caught_and_rolled_back(lab):
    inventory, hosts = lab
    run_lab("stage", "broken")
    refresh(hosts)
    checks = [{"type": "service", "service": "fp-webapp"},
              {"type": "http", "url": "http://{{ ansible_host }}:8080/", "body_regex": "fp-webapp .* ok"}]
    assert all(r["healthy"] for r in run(inventory, hosts, "health", health_checks=checks).values())
    run(inventory, hosts, "apply", apply_args={"names": ["fp-webapp"]})
    broken = run(inventory, hosts, "health", check=False, health_checks=checks)
    for host in hosts:
        assert broken[host.name]["failed"] and not broken[host.name]["healthy"]
        assert "fp-webapp is failed" in broken[host.name]["msg"] or "no answer" in broken[host.name]["msg"]
    run(inventory, hosts, "rollback")
    healed = run(inventory, hosts, "health", health_checks=checks)
    assert all(healed[h.name]["healthy"] for h in hosts)


def test_check_mode_leaves_the_package_database_byte_identical(lab):
    inventory, hosts = lab
    run_lab("stage", "security")
    sums = dict((h.name, on_host(h, "sha256sum", PACKAGE_DB[h.pkg_mgr]).stdout) for h in hosts)
    results = run(inventory, hosts, "apply", extra_args=["--check", "--diff"])
    for host in hosts:
        assert results[host.name]["changed"] is True and len(results[host.name]["plan"]) == 6   # 5 updates + new dep
        assert on_host(host, "sha256sum", PACKAGE_DB[host.pkg_mgr]).stdout == sums[host.name]
        assert on_host(host, "test", "-d", "/var/lib/fleetpatch/journal", check=False).returncode == 1
        # nothing secured either: where each rollback file would come from is only predicted
        assert on_host(host, "test", "-d", "/var/lib/fleetpatch/rollback-cache", check=False).returncode == 1
        assert set(results[host.name]["rollback"]["predicted"]) >= {"fp-crypto", "fp-firmware"}


def test_rollback_refuses_when_a_version_is_gone(lab):
    inventory, hosts = lab
    run_lab("stage", "security")
    refresh(hosts)
    run(inventory, hosts, "apply", apply_args={"names": ["fp-crypto"]})
    before = {}
    for host in hosts:
        # the journal says 1.0-1; make it a version no repository has
        on_host(host, "sh", "-c", "sed -i 's/\"fp-crypto\": \"1.0-1\"/\"fp-crypto\": \"0.9-1\"/' "
                "/var/lib/fleetpatch/journal/*.json")
        before[host.name] = packages(host)
    results = run(inventory, hosts, "rollback", check=False)
    for host in hosts:
        assert results[host.name]["failed"] and "no repository offers fp-crypto 0.9-1" in results[host.name]["msg"]
        assert packages(host) == before[host.name]


# What to kill on each manager: the installer and the slow post-install hook it waits for.
INSTALLER = {"apt": "apt-get install|dpkg|hooks/post-install|sleep 120",
             "dnf": "dnf --assumeyes|hooks/post-install|sleep 120",
             "zypper": "zypper --non-interactive install|hooks/post-install|sleep 120"}


def test_apply_killed_mid_transaction_recovers_with_rollback(lab):
    """The package manager killed while fp-crypto's post-install script runs: dpkg is left
    interrupted, rpm with old and new versions both in its database. The journal, written first,
    lets rollback finish or repair that and restore every package."""
    inventory, hosts = lab
    run_lab("stage", "security")
    refresh(hosts)
    before = dict((h.name, packages(h)) for h in hosts)
    for host in hosts:
        on_host(host, "sh", "-c", "mkdir -p /etc/fleetpatch-lab/hooks && printf '#!/bin/sh\\n"
                "[ \"$1\" = fp-crypto ] && sleep 120\\nexit 0\\n' > /etc/fleetpatch-lab/hooks/post-install "
                "&& chmod +x /etc/fleetpatch-lab/hooks/post-install")
        argv = ["ansible-playbook", "-i", inventory, "--limit", host.name,
                __file__.rsplit("/", 1)[0] + "/playbooks/apply.yml"]
        apply = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        try:
            deadline = time.time() + 120
            while on_host(host, "pgrep", "-f", "hooks/post-install", check=False).returncode != 0:
                assert time.time() < deadline, "%s: the slow post-install hook never started" % host.name
                time.sleep(0.5)
            on_host(host, "pkill", "-KILL", "-f", INSTALLER[host.pkg_mgr], check=False)
            apply.wait(timeout=120)
        finally:
            apply.kill()
        on_host(host, "rm", "-f", "/etc/fleetpatch-lab/hooks/post-install")
        journal = on_host(host, "sh", "-c", "cat /var/lib/fleetpatch/journal/*.json").stdout
        assert '"status": "applying"' in journal or '"status": "failed"' in journal, host.name
        assert packages(host) != before[host.name], host.name       # left half-patched
    run(inventory, hosts, "rollback")
    for host in hosts:
        assert packages(host) == before[host.name], host.name
        assert on_host(host, "cat", "/usr/share/fp-crypto/VERSION").stdout.startswith("fp-crypto 1.0-1")
    assert on_host(hosts[0], "dpkg", "--audit").stdout.strip() == ""
