"""The rollback cache on the lab's real apt, dnf and zypper hosts, and on the real-archive host:
going back when no repository offers the versions the hosts ran before. `lab stage WAVE
--latest-only` re-publishes a wave with only the newest version of each package, as Debian's
security archive does. The tests of this module go on from each other's state (one reset)."""
import base64
import json

import pytest
from conftest import ansible_playbook, first_host, on_host, run_lab, task_results
from test_apply_rollback import MANAGERS, packages, refresh, run

from fleetlab import config

CACHE = "/var/lib/fleetpatch/rollback-cache"
# Snapshot hooks that record their calls: the lab hosts have no snapshot tool.
SNAPSHOT_LOG = "/var/tmp/fleetpatch-snapshots"
SNAPSHOT_HOOK = ["sh", "-c", 'echo "take $FLEETPATCH_PACKAGES" >> %s; echo snap-1' % SNAPSHOT_LOG]
SNAPSHOT_ROLLBACK_HOOK = ["sh", "-c", 'echo "rollback $FLEETPATCH_SNAPSHOT_ID $FLEETPATCH_JOURNAL_ID" >> %s' % SNAPSHOT_LOG]


@pytest.fixture(scope="module")
def lab(fresh_lab, fleet):
    return fresh_lab, [first_host(fleet, m) for m in MANAGERS]


def refresh_lists(hosts):
    """What the repository now offers, as each manager sees it (dnf's metadata never goes stale here)."""
    refresh(hosts)
    for host in hosts:
        if host.pkg_mgr == "apt":
            on_host(host, "apt-get", "-qq", "update")


def offered(host, name):
    """Every version of name the host's package manager offers from a repository (its own words)."""
    if host.pkg_mgr == "apt":
        lines = on_host(host, "apt-cache", "madison", name).stdout.splitlines()
        return set(line.split("|")[1].strip() for line in lines if "|" in line)
    if host.pkg_mgr == "dnf":
        out = on_host(host, "dnf", "-q", "repoquery", "--showduplicates", "--qf", "%{EPOCH}:%{VERSION}-%{RELEASE}",
                      name).stdout
        return set(v[2:] if v.startswith("0:") else v for v in out.split())
    out = on_host(host, "zypper", "-n", "-q", "search", "-s", "--match-exact", name, check=False).stdout
    rows = [[cell.strip() for cell in line.split("|")] for line in out.splitlines() if line.count("|") >= 5]
    return set(row[3] for row in rows if row[1] == name and row[5] != "(System Packages)")


def journal(host, journal_id):
    return json.loads(on_host(host, "cat", "/var/lib/fleetpatch/journal/%s.json" % journal_id).stdout)


def test_rollback_restores_from_the_cache_when_no_repository_offers_the_old_versions(lab):
    inventory, hosts = lab
    run_lab("stage", "security")            # offers the baseline versions and their updates
    refresh(hosts)
    for host in hosts:      # the lab's dnf and zypper hosts keep packages (keepcache): make them download
        if host.pkg_mgr != "apt":
            on_host(host, "sh", "-c", "rm -rf /var/cache/dnf/*/packages/* /var/cache/zypp/packages/*")
    before = dict((h.name, packages(h)) for h in hosts)
    applied = run(inventory, hosts, "apply", apply_args={"names": ["fp-crypto", "fp-clock"],
                                                         "snapshot_command": SNAPSHOT_HOOK})
    for host in hosts:
        result = applied[host.name]
        assert result["snapshot"]["id"] == "snap-1" and journal(host, result["journal"])["snapshot"]["id"] == "snap-1"
        files = result["rollback"]["files"]
        assert sorted(files) == ["fp-clock", "fp-crypto"] and result["rollback"]["possible"], (host.name, result["rollback"])
        assert files["fp-crypto"]["version"] == "1.0-1" and files["fp-clock"]["version"] == "3.0-1"
        for entry in files.values():
            # apt keeps what it installed in /var/cache/apt/archives; the rpm hosts download that exact version
            assert entry["source"] == ("package-cache" if host.pkg_mgr == "apt" else "download"), (host.name, entry)
            assert entry["path"].startswith(CACHE + "/")
            assert on_host(host, "sha256sum", entry["path"]).stdout.split()[0] == entry["sha256"]
        assert journal(host, result["journal"])["rollback_files"] == files
        assert on_host(host, "stat", "-c", "%a %U", CACHE).stdout.split() == ["700", "root"]
    run_lab("stage", "security", "--latest-only")
    refresh_lists(hosts)
    for host in hosts:
        # the package manager itself no longer offers what the host ran before
        assert "1.0-1" not in offered(host, "fp-crypto") and "1.0-2" in offered(host, "fp-crypto"), host.name
    rolled = run(inventory, hosts, "rollback", rollback_args={"snapshot_command": SNAPSHOT_ROLLBACK_HOOK})
    for host in hosts:
        calls = on_host(host, "cat", SNAPSHOT_LOG).stdout.splitlines()
        assert calls == ["take fp-clock fp-crypto", "rollback snap-1 %s" % applied[host.name]["journal"]], calls
        assert rolled[host.name]["from_files"] == {"fp-crypto": applied[host.name]["rollback"]["files"]["fp-crypto"]["source"],
                                                   "fp-clock": applied[host.name]["rollback"]["files"]["fp-clock"]["source"]}
        assert packages(host) == before[host.name], host.name       # every package, exactly


def test_a_changed_cached_file_makes_rollback_refuse_before_any_change(lab):
    inventory, hosts = lab
    # The newest fp-crypto only is offered; the earlier journal's file for 1.0-1 is carried over.
    applied = run(inventory, hosts, "apply", apply_args={"names": ["fp-crypto"]})
    for host in hosts:
        entry = applied[host.name]["rollback"]["files"]["fp-crypto"]
        assert entry["version"] == "1.0-1", host.name
        on_host(host, "sh", "-c", "printf x >> %s" % entry["path"])
    before = dict((h.name, packages(h)) for h in hosts)
    refused = run(inventory, hosts, "rollback", check=False)
    for host in hosts:
        msg = refused[host.name]["msg"]
        assert refused[host.name]["failed"] and "fp-crypto 1.0-1: the secured file" in msg, msg
        assert "does not match the journal" in msg and "nothing was changed" in msg
        assert packages(host) == before[host.name]


def test_versions_offered_nowhere_are_rebuilt_on_apt_and_blocked_by_require_rollback(lab):
    """fp-crypto 1.0-2 and fp-tools 2.0-1 are offered nowhere (newest versions only) and not in any
    cache: apt rebuilds them with dpkg-repack; dnf and zypper cannot, and the baseline's
    require_rollback leaves those updates out, with the reason, installing nothing."""
    inventory, hosts = lab
    run_lab("stage", "fixed", "--latest-only")
    refresh_lists(hosts)
    for host in hosts:
        on_host(host, "sh", "-c", "rm -rf %s /var/cache/apt/archives/*.deb /var/cache/dnf/*/packages/*.rpm "
                "/var/cache/zypp/packages/*" % CACHE)
    # the preflight knows it before the apply: rebuilt on apt, nothing on dnf and zypper
    _rc, out = ansible_playbook("preflight.yml", inventory, limit=",".join(h.name for h in hosts), check=False,
                                extra_vars={"preflight_args": {"blocking": ["rollback"], "check_repositories": False}})
    preflight = task_results(out, "Preflight")
    for host in hosts:
        check = preflight[host.name]["checks"]["rollback"]
        if host.pkg_mgr == "apt":
            assert check["status"] == "pass" and check["updates"]["fp-crypto"] == {"version": "1.0-2", "source": "rebuilt"}
            assert check["need_mb"] >= 1 and preflight[host.name]["checks"]["disk"]["status"] == "pass"
        else:
            assert preflight[host.name]["failed"] and check["status"] == "fail", check
            assert "fp-crypto 1.0-2" in check["reason"] and check["updates"]["fp-crypto"]["source"] is None
    before = dict((h.name, packages(h)) for h in hosts)
    applied = run(inventory, hosts, "apply", apply_args={"names": ["fp-crypto", "fp-tools"],
                                                         "policy": {"require_rollback": True}})
    for host in hosts:
        result = applied[host.name]
        if host.pkg_mgr == "apt":
            files = result["rollback"]["files"]
            assert dict((n, e["source"]) for n, e in files.items()) == {"fp-crypto": "rebuilt", "fp-tools": "rebuilt"}
            assert "conffiles" in files["fp-crypto"]["note"]
            assert sorted(c["name"] for c in result["changes"]) == ["fp-crypto", "fp-tools"]
        else:
            assert result["changes"] == [] and packages(host) == before[host.name], host.name
            for name in ("fp-crypto", "fp-tools"):
                assert result["not_selected"][name].startswith("rollback not possible (require_rollback)"), result
            assert sorted(result["remaining"]) == ["fp-crypto", "fp-tools"]
    apt = [h for h in hosts if h.pkg_mgr == "apt"]
    rolled = run(inventory, apt, "rollback")
    for host in apt:
        assert rolled[host.name]["from_files"] == {"fp-crypto": "rebuilt", "fp-tools": "rebuilt"}
        assert packages(host) == before[host.name]


def test_retention_prunes_the_files_of_finished_journals(lab):
    inventory, hosts = lab
    host = [h for h in lab[1] if h.pkg_mgr == "apt"][0]
    cached = on_host(host, "ls", CACHE).stdout.split()
    assert cached
    # check mode secures nothing and prunes nothing
    checked = run(inventory, [host], "apply", extra_args=["--check"],
                  apply_args={"names": ["fp-crypto"], "rollback_cache": {"keep_days": 0}})
    assert checked[host.name]["rollback"]["predicted"] == {"fp-crypto": "kept"}
    assert on_host(host, "ls", CACHE).stdout.split() == cached
    # keep_days 0: every journal but an open one gives its files up; the new change secures its own again
    applied = run(inventory, [host], "apply", apply_args={"names": ["fp-crypto"], "rollback_cache": {"keep_days": 0}})
    rollback = applied[host.name]["rollback"]
    assert rollback["cache"]["pruned"]["files"] == len(cached), rollback
    assert rollback["files"]["fp-crypto"]["source"] == "rebuilt"
    names = on_host(host, "ls", "/var/lib/fleetpatch/journal").stdout.split()
    released = [journal(host, n[:-5]) for n in names if n[:-5] != applied[host.name]["journal"]]
    assert released and all(j.get("rollback_files_pruned_at") for j in released if j["status"] == "rolled_back")
    assert on_host(host, "ls", CACHE).stdout.split() == [rollback["files"]["fp-crypto"]["path"].rsplit("/", 1)[1]]


def test_a_real_security_update_is_rolled_back_after_the_archive_dropped_the_old_version(fresh_lab):
    """On the real-archive host: install a real pending security update from bookworm-security,
    then take away every pocket that offers the version it replaced (as the archive does when the
    next point release supersedes it), and roll back from the file secured before the install."""
    archive_hosts = config.archive_hosts()
    if not archive_hosts:
        pytest.skip("FLEETLAB_ARCHIVE_HOSTS=0: no real-archive host in this lab")
    host = archive_hosts[0]
    name = _lone_security_update(host)
    if name is None:
        pytest.skip("the Debian archive has no pending security update for this host that installs alone today")
    sources = on_host(host, "cat", "/etc/apt/sources.list.d/debian.list").stdout
    before = packages(host)
    installed = before[name].split(" ")[0]
    try:
        applied = run(config.ARCHIVE_INVENTORY, [host], "apply", apply_args={"names": [name]})[host.name]
        assert [c["name"] for c in applied["changes"]] == [name]
        entry = applied["rollback"]["files"][name]
        assert entry["version"] == installed and entry["source"] in ("package-cache", "download"), entry
        # only the security pocket is left: the version the host ran before is offered nowhere
        on_host(host, "sh", "-c", "grep -e '-security' /etc/apt/sources.list.d/debian.list > /tmp/security.list && "
                "cp /tmp/security.list /etc/apt/sources.list.d/debian.list && apt-get -q update >/dev/null")
        assert installed not in offered(host, name)
        rolled = run(config.ARCHIVE_INVENTORY, [host], "rollback")[host.name]
        assert rolled["from_files"] == {name: entry["source"]}
        assert packages(host) == before
    finally:
        _restore_sources(host, sources)


def _restore_sources(host, sources):
    encoded = base64.b64encode(sources.encode()).decode()
    on_host(host, "sh", "-c", "echo %s | base64 -d > /etc/apt/sources.list.d/debian.list && apt-get -q update >/dev/null"
            % encoded, check=False)


def _lone_security_update(host):
    """A package of the native architecture with an update from the security pocket that installs
    without touching any other package, or None."""
    native = on_host(host, "dpkg", "--print-architecture").stdout.strip()
    lines = on_host(host, "apt", "list", "--upgradable").stdout.splitlines()
    held = set(on_host(host, "apt-mark", "showhold").stdout.split())
    for line in lines:
        if "-security" not in line or " %s " % native not in line:
            continue
        name = line.split("/", 1)[0]
        if name in held:
            continue
        if on_host(host, "dpkg-query", "-W", "%s:i386" % name, check=False).returncode == 0:
            continue        # a Multi-Arch: same copy for the foreign architecture would go with it
        simulation = on_host(host, "apt-get", "-s", "install", "--only-upgrade", name, check=False)
        if simulation.returncode != 0:
            continue        # apt cannot install it alone (a hold, a pin)
        simulated = simulation.stdout
        if [l for l in simulated.splitlines() if l.startswith("Inst ")] == \
                [l for l in simulated.splitlines() if l.startswith("Inst %s " % name)]:
            return name
    return None


def test_the_preflight_counts_the_room_the_rollback_cache_needs(lab):
    """The state dir has room for its own threshold (50 MB) but not for the rollback files the
    pending updates need on top: the disk check fails, naming it, only when it counts them."""
    inventory, hosts = lab
    host = [h for h in hosts if h.pkg_mgr == "apt"][0]
    run_lab("stage", "security")
    on_host(host, "sh", "-c", "apt-get -qq update && rm -rf %s && mount -t tmpfs -o size=51712k fleetlab-tight-state "
            "/var/lib/fleetpatch" % CACHE)
    try:
        checks = {}
        for check_rollback in (False, True):
            _rc, out = ansible_playbook("preflight.yml", inventory, limit=host.name, check=False, extra_vars={
                "preflight_args": {"blocking": ["disk"], "check_repositories": False, "check_rollback": check_rollback}})
            checks[check_rollback] = task_results(out, "Preflight")[host.name]["checks"]
    finally:
        on_host(host, "umount", "/var/lib/fleetpatch", check=False)
    assert checks[False]["disk"]["status"] == "pass" and "rollback" not in checks[False], checks[False]
    assert checks[True]["rollback"]["status"] == "pass" and checks[True]["rollback"]["need_mb"] >= 1
    assert checks[True]["disk"]["status"] == "fail", checks[True]["disk"]
    assert "/var/lib/fleetpatch has 50 MB free, needs %d MB" % (50 + checks[True]["rollback"]["need_mb"]) \
        in checks[True]["disk"]["reason"]
