"""Bad input and broken hosts, live on the lab: a repository that is down or missing, metadata that
does not parse, a root that is missing or a file, a dpkg run left unfinished, a time zone other
than UTC. Each ends with a clear error naming the cause or, when asked, status unknown: never a
traceback, never a silent "compliant"."""
import os
import shutil
import subprocess

import pytest
from conftest import ansible_playbook, first_host, on_host, run_lab, task_results

from fleetlab import config

DEAD_APT = "deb [trusted=yes] http://127.0.0.1:9/debian bookworm main\n"
DEAD_REPO = "[dead]\nname=dead\nbaseurl=http://127.0.0.1:9/rpm\nenabled=1\nautorefresh=1\ngpgcheck=0\n"
REPO_FILES = {"apt": "/etc/apt/sources.list.d/dead.list", "dnf": "/etc/yum.repos.d/dead.repo",
              "zypper": "/etc/zypp/repos.d/dead.repo"}


def facts(inventory, host, check=True, env=None, **args):
    _rc, out = ansible_playbook("patch_facts.yml", inventory, limit=host.name, extra_vars={"facts_args": args},
                                check=check, env=env)
    return task_results(out, "Patch facts")[host.name]


@pytest.fixture(scope="module")
def hosts(fresh_lab, fleet):
    # the baseline wave: no update anywhere, so a lost repository would read as compliant
    run_lab("stage", "baseline")
    return {m: first_host(fleet, m) for m in ("apt", "dnf", "zypper")}


@pytest.fixture
def dead_repository(hosts):
    for manager, host in hosts.items():
        on_host(host, "sh", "-c", "cat > %s" % REPO_FILES[manager] + " <<'EOF'\n%sEOF" % (
            DEAD_APT if manager == "apt" else DEAD_REPO))
    yield
    for manager, host in hosts.items():
        on_host(host, "rm", "-f", REPO_FILES[manager])
        on_host(host, "sh", "-c", "rm -rf /var/cache/dnf/dead-* /var/cache/zypp/raw/dead /var/cache/zypp/solv/dead")


@pytest.mark.parametrize("manager", ["apt", "dnf", "zypper"])
def test_a_repository_down_fails_naming_it(fresh_lab, hosts, dead_repository, manager):
    result = facts(fresh_lab, hosts[manager], check=False)
    assert result.get("failed") is True, result
    assert "answer is incomplete" in result["msg"] and "Traceback" not in result["msg"]
    assert ("127.0.0.1:9" in result["msg"]) if manager == "apt" else ("'dead'" in result["msg"]), result["msg"]


@pytest.mark.parametrize("manager", ["apt", "dnf", "zypper"])
def test_a_repository_down_is_unknown_when_tolerated(fresh_lab, hosts, dead_repository, manager):
    result = facts(fresh_lab, hosts[manager], on_incomplete="unknown")
    record = result["ansible_facts"]["fleetpatch"]
    assert record["status"] == "unknown" and record["cache_refreshed"] is False
    assert record["incomplete"] and any("Incomplete answer" in w for w in result.get("warnings", []))


def test_corrupt_updateinfo_is_reported_not_dropped(fresh_lab, hosts):
    """dnf only logs a truncated updateinfo.xml to hawkey.log and goes on without advisories."""
    host = hosts["dnf"]
    # the security wave's repository, its updateinfo.xml cut off mid-element (built on the
    # controller, where createrepo-c is, into the host's file system)
    repo = os.path.join(host.root, "srv", "corrupt")
    shutil.rmtree(repo, ignore_errors=True)
    shutil.copytree(os.path.join(config.REPOS_DIR, "wave-1", "rpm"), repo)
    subprocess.run(["modifyrepo_c", "--remove", "updateinfo", os.path.join(repo, "repodata")], check=True,
                   capture_output=True)
    cut = os.path.join(repo, "updateinfo.xml")
    with open(cut, "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<updates>\n  <update from="x" status="stable" type="security">\n'
                '    <id>FPSA-CUT</id>\n')
    subprocess.run(["modifyrepo_c", "--mdtype=updateinfo", cut, os.path.join(repo, "repodata")], check=True,
                   capture_output=True)
    os.unlink(cut)
    on_host(host, "sh", "-c", "sed -i s/enabled=1/enabled=0/ /etc/yum.repos.d/fleetlab.repo; printf "
            "'[corrupt]\\nname=corrupt\\nbaseurl=file:///srv/corrupt\\nenabled=1\\ngpgcheck=0\\nmetadata_expire=0\\n' "
            "> /etc/yum.repos.d/corrupt.repo")
    try:
        failed = facts(fresh_lab, host, check=False)
        assert failed.get("failed") is True and "repo_updateinfoxml" in failed["msg"], failed
        record = facts(fresh_lab, host, on_incomplete="unknown")["ansible_facts"]["fleetpatch"]
        assert record["updates"], "the corrupt repository still offers the security wave's packages"
        assert record["status"] in ("unknown", "non_compliant")
        assert any("repo_updateinfoxml" in p for p in record["incomplete"])
    finally:
        on_host(host, "sh", "-c", "rm -rf /etc/yum.repos.d/corrupt.repo /srv/corrupt /var/cache/dnf/corrupt*; "
                "sed -i s/enabled=0/enabled=1/ /etc/yum.repos.d/fleetlab.repo")


@pytest.mark.parametrize("root, expected", [("/srv/no-such-image", "does not exist"),
                                            ("/etc/hostname", "is not a directory"),
                                            ("/tmp", "holds no rpm database")])
def test_a_bad_root_is_refused_and_never_created(fresh_lab, hosts, root, expected):
    for manager in ("dnf", "zypper"):
        result = facts(fresh_lab, hosts[manager], check=False, root=root)
        assert result.get("failed") is True and expected in result["msg"], result
        assert on_host(hosts[manager], "test", "-e", "/srv/no-such-image", check=False).returncode == 1


def test_an_unfinished_dpkg_run_is_never_compliant(fresh_lab, hosts):
    host = hosts["apt"]
    # unpack without configuring: dpkg state iU, as a run killed between the two steps leaves
    on_host(host, "sh", "-c", "cd /tmp && apt-get -q download fp-tools=2.0-1 >/dev/null && "
            "dpkg --unpack /tmp/fp-tools_2.0-1_all.deb >/dev/null")
    try:
        result = facts(fresh_lab, host)
        record = result["ansible_facts"]["fleetpatch"]
        assert record["status"] == "unknown"
        assert any(p.startswith("dpkg: fp-tools 2.0-1 (all) is unpacked") for p in record["unfinished"])
        assert any("Unfinished transaction" in w for w in result.get("warnings", []))
    finally:
        on_host(host, "dpkg", "--configure", "-a")


def test_dates_are_utc_whatever_the_host_time_zone(fresh_lab, hosts):
    """dnf 4 prints advisory dates in local time: at UTC-11 the fp-crypto advisory of 2025-03-04
    00:00 UTC reads 2025-03-03 unless the module asks in UTC."""
    run_lab("stage", "security")
    host = hosts["dnf"]
    try:
        on_host(host, "ln", "-sf", "/usr/share/zoneinfo/Pacific/Pago_Pago", "/etc/localtime")
        result = facts(fresh_lab, host)
        issued = dict((u["name"], u["issued"]) for u in result["ansible_facts"]["fleetpatch"]["updates"])
        # updateinfo.xml says 2025-03-04 00:00:00 (UTC) for the fp-crypto advisory
        assert issued["fp-crypto"] == "2025-03-04"
    finally:
        on_host(host, "ln", "-sf", "/usr/share/zoneinfo/Etc/UTC", "/etc/localtime")
        run_lab("stage", "baseline")


@pytest.mark.parametrize("manager", ["apt", "dnf", "zypper"])
def test_preflight_fails_the_repositories_check_when_one_is_down(fresh_lab, hosts, dead_repository, manager):
    _rc, out = ansible_playbook("preflight.yml", fresh_lab, limit=hosts[manager].name, check=False)
    check = task_results(out, "Preflight")[hosts[manager].name]["checks"]["repositories"]
    assert check["status"] == "fail" and "not refreshed" in check["reason"], check
