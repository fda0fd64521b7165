"""The package manager is the oracle: what the backends report must equal what apt, dnf and zypper
say, and an answer that is incomplete must never read as compliant. Fixtures are real output:
apt-real-bookworm from a Debian 12 machine on the real archive (tests/lab/capture_fixtures.py
this-machine), the failure cases from the lab hosts with a dead or missing repository."""
import json
import os
import re

import pytest
from ansible_collections.fleetpatch.patching.plugins.module_utils import _apt, _commands, _dnf, _record, _zypper
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError
from replay import FIXTURES, ReplayRunner, apt_replay_backend, fixture

# Written independently of the backend's parser: `Inst NAME [OLD] (NEW ORIGINS [ARCH])`.
ORACLE_INST = re.compile(r"^Inst (?P<name>[^ :]+)(?::(?P<qual>\S+))? \[(?P<old>[^\]]+)\] \((?P<new>\S+) (?P<origins>.*) \[(?P<arch>[^\]]+)\]\)")


def read(*parts):
    with open(os.path.join(FIXTURES, *parts)) as f:
        return f.read()


apt_backend = apt_replay_backend


def oracle_dist_upgrade(scenario):
    """{(name, arch): (installed, candidate, origins)} from apt-get --simulate dist-upgrade."""
    found = {}
    for line in read(scenario, "oracle-dist-upgrade.stdout").splitlines():
        match = ORACLE_INST.match(line)
        if match:
            found[(match.group("name"), match.group("arch"))] = (match.group("old"), match.group("new"),
                                                                 match.group("origins"))
    return found


# --- apt on a real Debian 12 host ----------------------------------------------------------

def test_real_host_updates_equal_what_apt_would_install(tmp_path, monkeypatch):
    updates = apt_backend("apt-real-bookworm", tmp_path, monkeypatch).updates()
    ours = dict(((u["name"], u["arch"]), (u["installed_version"], u["available_version"])) for u in updates)
    oracle = dict((key, value[:2]) for key, value in oracle_dist_upgrade("apt-real-bookworm").items())
    assert len(oracle) > 50
    assert ours == oracle


def test_multi_arch_same_libraries_are_not_dropped(tmp_path, monkeypatch):
    """dpkg calls them libssl3:amd64, apt answers under libssl3: the lookup must still match."""
    installed = _apt.parse_dpkg_query(read("apt-real-bookworm", "dpkg-query.stdout"), "amd64")
    multi_arch = set(line.split("\t")[1].split(":")[0] for line in read("apt-real-bookworm", "dpkg-query.stdout").splitlines()
                     if ":amd64\t" in line)
    assert multi_arch, "the fixture must hold Multi-Arch: same packages"
    updates = apt_backend("apt-real-bookworm", tmp_path, monkeypatch).updates()
    updated_multi_arch = [u["name"] for u in updates if u["name"] in multi_arch]
    oracle_multi_arch = [name for name, _arch in oracle_dist_upgrade("apt-real-bookworm") if name in multi_arch]
    assert oracle_multi_arch and sorted(updated_multi_arch) == sorted(oracle_multi_arch)
    assert all(":" not in p["query_name"] for p in installed if p["arch"] in ("amd64", "all"))


def test_security_fix_whose_candidate_is_a_point_release_is_security(tmp_path, monkeypatch):
    """unattended-upgrades installs the security version when the candidate comes from another
    pocket: the update is a security update (openssh-client deb12u6 -> security deb12u9, point
    release deb12u10 on the captured host)."""
    updates = apt_backend("apt-real-bookworm", tmp_path, monkeypatch).updates()
    policy = _apt.parse_policy(read("apt-real-bookworm", "policy.stdout"))
    behind = [u for u in updates if u.get("security_version")]
    assert behind, "the captured host has a security fix behind a point release"
    for update in behind:
        entry = policy[update["name"]]
        security_origins = [o for o in entry["origins"][update["security_version"]] if "security" in o[1]]
        candidate_origins = entry["origins"][update["available_version"]]
        assert security_origins and not any("security" in o[1] for o in candidate_origins)
        assert update["classification"] == "security"
        assert _apt.compare_deb(update["installed_version"], update["security_version"]) < 0
        assert _apt.compare_deb(update["security_version"], update["available_version"]) < 0


def test_classification_follows_the_security_pocket_for_every_update(tmp_path, monkeypatch):
    """For every update of the real host: security exactly when a security pocket offers a
    version newer than the installed one and not newer than the candidate (u-u 2.9)."""
    updates = apt_backend("apt-real-bookworm", tmp_path, monkeypatch).updates()
    policy = _apt.parse_policy(read("apt-real-bookworm", "policy.stdout"))
    counted = {"security": 0, "other": 0}
    for update in updates:
        entry = policy[update["name"] if update["arch"] in ("amd64", "all") else update["name"] + ":" + update["arch"]]
        offered_by_security = [v for v, origins in entry["origins"].items()
                               if any(o[1].endswith("-security") for o in origins)
                               and _apt.compare_deb(v, update["installed_version"]) > 0]
        newest = max(offered_by_security, key=__import__("functools").cmp_to_key(_apt.compare_deb)) \
            if offered_by_security else None
        expected = newest is not None and _apt.compare_deb(newest, update["available_version"]) <= 0
        assert (update["classification"] == "security") == expected, update
        counted[update["classification"]] += 1
    assert counted["security"] and counted["other"]


NATIVE_AND_FOREIGN_DPKG = (
    "ii \tlibc6:amd64\t2.36-9+deb12u9\tamd64\n"
    "ii \tlibc6:i386\t2.36-9+deb12u9\ti386\n"
    "ii \tdpkg\t1.21.22\tamd64\n"
    "rc \told-tool\t1.0-1\tamd64\n"
    "un \tnever-installed\t\t\n"
)
NATIVE_AND_FOREIGN_POLICY = """libc6:
  Installed: 2.36-9+deb12u9
  Candidate: 2.36-9+deb12u10
  Version table:
     2.36-9+deb12u10 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
 *** 2.36-9+deb12u9 100
        100 /var/lib/dpkg/status
libc6:i386:
  Installed: 2.36-9+deb12u9
  Candidate: 2.36-9+deb12u11
  Version table:
     2.36-9+deb12u11 500
        500 http://deb.debian.org/debian-security bookworm-security/main i386 Packages
 *** 2.36-9+deb12u9 100
        100 /var/lib/dpkg/status
dpkg:
  Installed: 1.21.22
  Candidate: 1.21.22
  Version table:
 *** 1.21.22 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
"""


def test_native_and_foreign_copies_are_both_reported():
    native = _apt.AptBackend.native_arch(None, NATIVE_AND_FOREIGN_DPKG)
    assert native == "amd64"
    installed = _apt.parse_dpkg_query(NATIVE_AND_FOREIGN_DPKG, native)
    assert [(p["name"], p["arch"], p["query_name"]) for p in installed] == [
        ("libc6", "amd64", "libc6"), ("libc6", "i386", "libc6:i386"), ("dpkg", "amd64", "dpkg")]
    updates = _apt.updates_from_policy(installed, _apt.parse_policy(NATIVE_AND_FOREIGN_POLICY), {})
    by = dict((u["arch"], u) for u in updates)
    assert sorted(by) == ["amd64", "i386"]
    assert by["amd64"]["available_version"] == "2.36-9+deb12u10" and by["amd64"]["classification"] == "other"
    assert by["i386"]["available_version"] == "2.36-9+deb12u11" and by["i386"]["classification"] == "security"


def test_packages_a_dpkg_run_left_unfinished_are_counted_and_reported():
    text = ("iU \tfp-crypto\t1.0-2\tall\n"
            "iF \tfp-tools\t2.1-1\tall\n"
            "iHR\tfp-db\t1.0-1\tall\n"
            "ii \tdpkg\t1.21.22\tamd64\n"
            "rc \tfp-gone\t1.0-1\tall\n")
    installed = _apt.parse_dpkg_query(text, "amd64")
    assert [(p["name"], p["state"]) for p in installed] == [
        ("fp-crypto", "unpacked"), ("fp-tools", "half-configured"), ("fp-db", "half-installed"), ("dpkg", "installed")]
    problems = _apt.unfinished(installed)
    assert len(problems) == 3 and "reinstallation required" in problems[2]
    assert all("dpkg --configure -a" in p for p in problems)


# --- a refresh that did not refresh --------------------------------------------------------

def refresh_answer(case, rc):
    return {("apt-get", "update", "--quiet"): (rc, read("apt-refresh-failed", case + ".stdout"),
                                               read("apt-refresh-failed", case + ".stderr"))}


def test_apt_refresh_with_an_unreachable_source_is_incomplete(tmp_path, monkeypatch):
    backend = apt_backend("apt-security", tmp_path, monkeypatch, refresh_answer("dead", 0))
    assert backend.refresh() is False
    # one unreachable source made apt fail the other sources on the same host: each is named
    failed = [line for line in read("apt-refresh-failed", "dead.stderr").splitlines() if "Failed to fetch" in line]
    assert len(failed) >= 2 and len(backend.incomplete) == len(failed)
    assert any("http://127.0.0.1:9/debian" in p and "Connection refused" in p for p in backend.incomplete)
    assert all(p.startswith("W: Failed to fetch") for p in backend.incomplete)


def test_apt_refresh_with_a_missing_index_is_incomplete_not_a_crash(tmp_path, monkeypatch):
    backend = apt_backend("apt-security", tmp_path, monkeypatch, refresh_answer("missing", 100))
    assert backend.refresh() is False
    assert backend.incomplete == [
        "E: Failed to fetch http://127.0.0.1:8089/nothere/dists/bookworm/main/binary-amd64/Packages "
        "404 File not found [IP: 127.0.0.1 8089]"]


def test_apt_sources_that_cannot_be_read_fail_with_apts_first_error(tmp_path, monkeypatch):
    stderr = ("E: Conflicting values set for option Trusted regarding source http://127.0.0.1:8089/apt/main/ bookworm\n"
              "E: The list of sources could not be read.\n")
    backend = apt_backend("apt-security", tmp_path, monkeypatch, {("apt-get", "update", "--quiet"): (100, "", stderr)})
    with pytest.raises(PatchError, match="rc=100: E: Conflicting values set for option Trusted"):
        backend.refresh()


@pytest.mark.parametrize("on_incomplete", ["fail", "unknown"])
def test_an_incomplete_answer_is_never_compliant(on_incomplete, tmp_path, monkeypatch):
    """The baseline wave has no update: with a dead source that would read as compliant."""
    backend = apt_backend("apt-baseline", tmp_path, monkeypatch, refresh_answer("dead", 0))
    monkeypatch.setattr(_record._host, "kernel_status", lambda root: (None, None, None))
    if on_incomplete == "fail":
        with pytest.raises(PatchError, match="answer is incomplete.*127.0.0.1:9/debian"):
            _record.assess(backend, record_first_seen=False)
        return
    record = _record.assess(backend, record_first_seen=False, on_incomplete="unknown")
    assert record["updates"] == [] and record["status"] == "unknown"
    assert record["cache_refreshed"] is False and record["incomplete"] == backend.incomplete != []


# --- dnf and zypper ------------------------------------------------------------------------

def test_dnf_names_every_repository_it_skipped():
    failures = _dnf.repository_failures(read("dnf-repo-failed", "makecache.stderr"))
    assert sorted(failures) == ["dead", "dead2"]
    assert "Couldn't connect to server" in failures["dead"] and "Status code: 404" in failures["dead2"]


def test_dnf_query_with_a_repository_down_is_incomplete(monkeypatch):
    monkeypatch.setattr(_dnf, "wait_for_locks", lambda *a, **k: None)
    strict = ("dnf", "--quiet", "--assumeno", "--setopt=skip_if_unavailable=False", "repoquery", "--upgrades",
              "--latest-limit=1", "--queryformat", _dnf.REPOQUERY_FORMAT)
    tolerant = strict[:3] + ("--setopt=skip_if_unavailable=True",) + strict[4:]
    answers = {strict: (1, "", read("dnf-repo-failed", "repoquery.stderr")),
               tolerant: (0, fixture("dnf-security", "repoquery")[0], "")}
    tolerant_queries = dict((k[:3] + ("--setopt=skip_if_unavailable=True",) + k[4:], v)
                            for k, v in ReplayRunner("dnf-security").recorded.items() if k[:1] == ("dnf",))
    answers.update(tolerant_queries)
    backend = _dnf.DnfBackend(ReplayRunner("dnf-security", answers))
    updates = backend.updates()
    assert updates and backend.incomplete == [
        "dnf: repository 'dead' was not refreshed: Cannot download repomd.xml: Cannot download "
        "repodata/repomd.xml: All mirrors were tried"]


def test_dnf_metadata_that_libsolv_cannot_parse_is_reported():
    # what dnf 4.14 appended to hawkey.log with a truncated updateinfo.xml (and printed nothing)
    log = ("2026-11-30T23:48:52+0000 INFO === Started libdnf-0.69.0 ===\n"
           "2026-11-30T23:48:52+0000 INFO repo_updateinfoxml: no element found at line 13:0\n")
    assert _dnf.parse_errors_in_log(log) == [("repo_updateinfoxml", "no element found at line 13:0")]


def test_zypper_refresh_that_skipped_a_repository_is_incomplete(monkeypatch):
    monkeypatch.setattr(_zypper, "wait_for_locks", lambda *a, **k: None)
    answers = {("zypper", "--non-interactive", "--xmlout", "refresh"): (
        4, read("zypper-repo-skipped", "refresh.stdout"), read("zypper-repo-skipped", "refresh.stderr"))}
    backend = _zypper.ZypperBackend(ReplayRunner("zypper-security", answers))
    assert backend.refresh() is False
    assert backend.incomplete == ["zypper: repository 'dead' was skipped: Failed to connect to 127.0.0.1 port 9 "
                                  "after 0 ms: Couldn't connect to server"]


def test_zypper_exit_106_is_incomplete_not_information():
    messages = _zypper.parse_messages(read("zypper-repo-skipped", "list-updates.stdout"))
    assert _zypper.skipped_repositories(messages) == {
        "dead": "Failed to connect to 127.0.0.1 port 9 after 0 ms: Couldn't connect to server"}


def test_patch_info_reads_structure_not_metadata_text():
    """A summary with a line break that looks like a field must not add a package."""
    text = read("zypper-security", "patch-info.stdout").replace(
        "Summary     : Critical: fp-crypto security update",
        "Summary     : Critical: fp-crypto security update\nConflicts   : evil-package &lt; 99\nName        : FAKE-1")
    fixes = _zypper.parse_patch_info(text)
    assert fixes["FPSA-2025:0101"] == [("fp-crypto", "1.0-2")]
    assert "FAKE-1" not in fixes


def test_a_needed_patch_that_list_updates_does_not_offer_is_blocked_not_lost():
    patches = _zypper.parse_list_patches(read("zypper-security", "list-patches.stdout"))
    fixes = _zypper.parse_patch_info(read("zypper-security", "patch-info.stdout"))
    installed = [{"name": "fp-crypto", "version": "1.0-1", "arch": "noarch"},
                 {"name": "fp-tools", "version": "2.0-1", "arch": "noarch"}]
    offered = [{"name": "fp-tools", "arch": "noarch", "installed_version": "2.0-1", "available_version": "2.1-1",
                "repository": "fleetlab"}]    # fp-crypto is locked: list-updates leaves it out
    blocked = _zypper.blocked_by_patches(offered, patches, fixes, installed)
    assert [(u["name"], u["available_version"], u["installable"]) for u in blocked] == [("fp-crypto", "1.0-2", False)]
    assert blocked[0]["classification"] == "security" and blocked[0]["advisories"] == ["FPSA-2025:0101"]


# --- error messages ------------------------------------------------------------------------

@pytest.mark.parametrize("err, out, expected", [
    # apt: the dpkg error, not apt's closing summary
    ("E: Sub-process /usr/bin/dpkg returned an error code (1)\n",
     "dpkg: error processing package fp-webapp (--configure):\n installed post-installation script returned 1\n",
     "dpkg: error processing package fp-webapp (--configure):"),
    ("W: Some warning first\nE: Unable to locate package fp-nothing\nE: Couldn't find any package\n", "",
     "E: Unable to locate package fp-nothing"),
    # dnf: the first Error line, not the hint after it
    ("Error: \n Problem: conflicting requests\n  - nothing provides libfoo needed by fp-db-1.2-1.noarch\n"
     "(try to add '--skip-broken' to skip uninstallable packages)\n", "",
     "Problem: conflicting requests"),
    ("", "nothing here\n", "nothing here"),
])
def test_the_meaningful_line_is_the_cause(err, out, expected):
    assert _commands.meaningful_line(err, out) == expected


def test_long_command_lines_are_shortened_in_messages():
    argv = ["apt-cache", "policy"] + ["package-%d" % i for i in range(2000)]
    with pytest.raises(PatchError) as info:
        _commands.CommandRunner.raise_for(argv, "list apt updates", 100, "", "E: boom\n")
    assert len(info.value.msg) < 600 and "(1990 more arguments)" in info.value.msg
    assert len(info.value.cmd) == _commands.ARGS_SHOWN + 1


# --- resolving the approved updates --------------------------------------------------------

def test_apt_names_who_blocks_an_update():
    """Captured on the real-archive host: apt-utils is held, curl is pinned to backports without
    the libcurl4 it needs."""
    text = read("apt-resolve-held", "simulate.stdout")
    blamed = _apt.blame(_apt.parse_unmet(text), {"apt", "curl", "libssl3"})
    assert blamed == {"apt": "apt-utils Depends: apt (= 2.6.1) but 2.6.2 is to be installed",
                      "curl": "Depends: libcurl4 (= 8.14.1-2+deb13u2~bpo13+1) but 7.88.1-10+deb12u15 is to be installed"}


def test_apt_resolution_blocks_what_apt_refuses_and_keeps_the_rest(monkeypatch):
    from replay import ReplayRunner as Runner
    base = ("apt-get", "--simulate", "--quiet", "--option", "Debug::NoLocking=true", "install")
    updates = [
        {"name": "apt", "arch": "amd64", "available_version": "2.6.2"},
        {"name": "curl", "arch": "amd64", "available_version": "8.14.1-2+deb13u2~bpo13+1"},
        {"name": "libssl3", "arch": "amd64", "available_version": "3.0.22-1~deb12u2"},
    ]
    after = ("Inst libssl3 [3.0.20-1~deb12u2] (3.0.22-1~deb12u2 Debian-Security:12/oldstable-security [amd64])\n"
             "Inst libnew1 (1.0-1 Debian:12.12/oldstable [amd64])\n")
    answers = {
        base + ("apt:amd64=2.6.2", "curl:amd64=8.14.1-2+deb13u2~bpo13+1", "libssl3:amd64=3.0.22-1~deb12u2"): (
            100, read("apt-resolve-held", "simulate.stdout"), read("apt-resolve-held", "simulate.stderr")),
        base + ("libssl3:amd64=3.0.22-1~deb12u2",): (0, after, ""),
    }
    backend = _apt.AptBackend(Runner("apt-baseline", answers))
    new_packages, removals = backend.resolve(updates)
    by = dict((u["name"], u) for u in updates)
    assert by["libssl3"]["installable"] is True
    assert by["apt"]["installable"] is False and by["apt"]["blocked_reason"].startswith("apt-utils Depends: apt")
    assert by["curl"]["installable"] is False and "libcurl4" in by["curl"]["blocked_reason"]
    assert new_packages == [{"name": "libnew1", "version": "1.0-1", "arch": "amd64"}]
    assert removals == []


# Captured on the real-archive host: zlib1g's security update for amd64, whose i386 sibling
# (Multi-Arch: same, no i386 security index) cannot follow, so apt removes zlib1g:i386 to install it.
ZLIB_REMOVAL = """The following packages will be REMOVED:
  zlib1g:i386
The following packages will be upgraded:
  libexpat1 zlib1g
2 upgraded, 0 newly installed, 1 to remove and 32 not upgraded.
Remv zlib1g:i386 [1:1.2.13.dfsg-1]
Inst zlib1g [1:1.2.13.dfsg-1] (1:1.2.13.dfsg-1+deb12u1 Debian-Security:12/oldstable-security [amd64])
Conf zlib1g (1:1.2.13.dfsg-1+deb12u1 Debian-Security:12/oldstable-security [amd64])
Inst libexpat1 [2.5.0-1+deb12u2] (2.5.0-1+deb12u5 Debian-Security:12/oldstable-security [amd64])
Conf libexpat1 (2.5.0-1+deb12u5 Debian-Security:12/oldstable-security [amd64])
"""
EXPAT_ALONE = """Inst libexpat1 [2.5.0-1+deb12u2] (2.5.0-1+deb12u5 Debian-Security:12/oldstable-security [amd64])
Conf libexpat1 (2.5.0-1+deb12u5 Debian-Security:12/oldstable-security [amd64])
"""


@pytest.mark.parametrize("zlib_name", ["zlib1g", "zlib1g-other"])
def test_an_apt_update_that_removes_a_package_is_blocked_as_unattended_upgrades_keeps_it_back(zlib_name):
    """apt installs zlib1g's update when asked, removing zlib1g:i386; apt-get upgrade and
    unattended-upgrades keep it back. It is blocked (still missing), named with the removal,
    whether the removed package has its name (blamed at once) or not (found by halving), and
    the others are installable with no removal in the record."""
    from replay import ReplayRunner as Runner
    base = ("apt-get", "--simulate", "--quiet", "--option", "Debug::NoLocking=true", "install")
    updates = [{"name": "zlib1g", "arch": "amd64", "available_version": "1:1.2.13.dfsg-1+deb12u1"},
               {"name": "libexpat1", "arch": "amd64", "available_version": "2.5.0-1+deb12u5"}]
    removal = ZLIB_REMOVAL.replace("zlib1g:i386", zlib_name + ":i386")
    answers = {
        base + ("zlib1g:amd64=1:1.2.13.dfsg-1+deb12u1", "libexpat1:amd64=2.5.0-1+deb12u5"): (0, removal, ""),
        base + ("zlib1g:amd64=1:1.2.13.dfsg-1+deb12u1",): (0, removal, ""),
        base + ("libexpat1:amd64=2.5.0-1+deb12u5",): (0, EXPAT_ALONE, ""),
    }
    new_packages, removals = _apt.AptBackend(Runner("apt-baseline", answers)).resolve(updates)
    by = dict((u["name"], u) for u in updates)
    assert by["libexpat1"]["installable"] is True
    assert by["zlib1g"]["installable"] is False
    assert by["zlib1g"]["blocked_reason"] == _apt.REMOVES % (zlib_name + ":i386")
    assert (new_packages, removals) == ([], [])


def test_apt_resolution_sets_aside_what_apt_names_and_asks_about_the_rest_at_once():
    """Captured on the real-archive host: with apt and curl blocked, apt still refuses (held
    apt-utils needs apt 2.6.1, which libapt-pkg6.0 2.6.2 moves) without naming a requested update.
    libapt-pkg6.0 is built from apt's source: set aside, the 29 others are asked about at once.
    Halving took 14 package-manager calls here (19 s); this takes 4 and one apt-cache show."""
    from replay import ReplayRunner as Runner
    with open(os.path.join(FIXTURES, "apt-resolve-source", "updates.json")) as f:
        updates = json.load(f)
    runner = Runner("apt-resolve-source")
    _apt.AptBackend(runner).resolve(updates)
    blocked = dict((u["name"], u["blocked_reason"]) for u in updates if u["installable"] is False)
    assert blocked == {
        "apt": "apt-utils Depends: apt (= 2.6.1) but 2.6.2 is to be installed",
        "apt-utils": _apt.HELD,
        "curl": "Depends: libcurl4 (= 8.14.1-2+deb13u2~bpo13+1) but 7.88.1-10+deb12u15 is to be installed",
        "libapt-pkg6.0": "apt-utils Depends: apt (= 2.6.1) but 2.6.2 is to be installed"}
    assert all(u["installable"] is True for u in updates if u["name"] not in blocked) and len(updates) - len(blocked) == 29
    asked = [c["cmd"] for c in runner.history]
    assert len([c for c in asked if "--simulate" in c]) == 4 and len(asked) == 5
    assert len(set(tuple(c) for c in asked)) == len(asked)      # no question asked twice


def test_apt_suspects_are_what_apt_names_its_source_and_what_relates_to_it():
    show = ("Package: libapt-pkg6.0\nSource: apt\nVersion: 2.6.2\nDepends: libc6 (>= 2.34)\n\n"
            "Package: apt-utils\nSource: apt (2.6.1)\nVersion: 2.6.1\n\n"
            "Package: aptitude\nVersion: 0.8\nDepends: libc6, libapt-pkg6.0 (>= 2.6) | apt-utils\n\n"
            "Package: openssl\nVersion: 3\nDepends: libssl3 (>= 3)\n")
    named = _apt.mentioned(_apt.parse_unmet(" apt-utils : Depends: apt (= 2.6.1) but 2.6.2 is to be installed\n"))
    assert named == {"apt-utils", "apt"}
    assert _apt.suspects_of(_apt.parse_show(show), named, {"libapt-pkg6.0", "aptitude", "openssl"}) == {
        "libapt-pkg6.0", "aptitude"}


@pytest.mark.parametrize("bad", [set(), {"u7"}, {"u0", "u63"}, {"u%d" % i for i in range(0, 64, 9)}])
def test_resolution_finds_unnamed_bad_updates_with_few_calls(bad):
    """A package manager that refuses without naming anyone: halving finds exactly the bad ones."""
    from ansible_collections.fleetpatch.patching.plugins.module_utils import _resolution
    updates = [{"name": "u%d" % i} for i in range(64)]
    calls = []

    asked = []

    def simulate(group):
        calls.append(len(group))
        asked.append(tuple(u["name"] for u in group))
        return not any(u["name"] in bad for u in group), "", {}

    _resolution.resolve_updates(updates, simulate, lambda group, out: ([], []), "test")
    assert set(u["name"] for u in updates if u.get("installable") is False) == bad
    assert len(set(asked)) == len(asked)      # no group is asked about twice
    assert all(u["installable"] is True for u in updates if u["name"] not in bad)
    assert len(calls) <= 2 + 2 * max(1, len(bad)) * 7 + _resolution.ROUNDS


def test_a_blocked_update_is_missing_not_approved():
    from ansible_collections.fleetpatch.patching.plugins.module_utils import _policy
    record = {"pkg_mgr": "apt", "installed_count": 3, "updates": [
        {"name": "curl", "arch": "amd64", "installed_version": "1", "available_version": "2",
         "classification": "security", "severity": "unknown", "installable": False,
         "blocked_reason": "Depends: libcurl4 (= 2) but 1 is to be installed"}]}
    decided = _policy.evaluate(record, None, now="2026-12-01")
    update = decided["updates"][0]
    assert update["decision"] == "blocked" and "libcurl4" in update["reason"]
    assert decided["counts"]["missing"] == 1 and decided["counts"]["blocked"] == 1
    assert decided["status"] == "non_compliant" and update["sla_due"]


def test_dnf_obsoleters_are_updates_only_where_their_relation_applies():
    # `dnf repoquery --whatobsoletes ... --qf OBSOLETES_FORMAT` on the realistic repository
    text = "rl-modern|0|2.0|1|noarch|realistic|rl-legacy < 2.0\nrl-newer|0|3.0|1|noarch|realistic|rl-old < 1.0\n" \
           "rl-multi|0|1.0|1|noarch|realistic|rl-a\nrl-b <= 2.0-1\n"
    installed = [{"name": "rl-legacy", "version": "1.0-1", "arch": "noarch"},
                 {"name": "rl-old", "version": "1.5-1", "arch": "noarch"},
                 {"name": "rl-b", "version": "2.0-1", "arch": "noarch"}]
    found = _dnf.obsoleters(_dnf.parse_obsoletes(text), installed)
    assert [(u["name"], u["available_version"], u["obsoletes"]) for u in found] == [
        ("rl-modern", "2.0-1", ["rl-legacy"]), ("rl-multi", "1.0-1", ["rl-b"])]
