"""apt: dpkg-query, `apt-cache policy` over every installed package and the Release files apt
fetched, all captured on the lab (apt-security-archive: a host whose lists also hold the
Debian archive, with its signed InRelease)."""
import json
import os

import pytest
from ansible_collections.fleetpatch.patching.plugins.module_utils import _apt
from replay import FIXTURES, ReplayRunner, apt_replay_backend, fixture


backend = apt_replay_backend


@pytest.mark.parametrize("scenario", ["apt-security", "apt-security-archive"])
def test_security_wave_classifies_by_pocket(scenario, tmp_path, monkeypatch):
    updates = backend(scenario, tmp_path, monkeypatch).updates()
    by = {u["name"]: u for u in updates}
    assert sorted(by) == ["fp-agent", "fp-clock", "fp-crypto", "fp-firmware", "fp-tools"]
    assert by["fp-crypto"]["classification"] == "security"
    assert by["fp-crypto"]["repository"] == "Debian-Security:bookworm-security/main"
    assert by["fp-firmware"]["classification"] == "security"
    assert by["fp-tools"]["classification"] == "other"
    assert by["fp-tools"]["repository"] == "Debian:bookworm/main"
    assert (by["fp-clock"]["installed_version"], by["fp-clock"]["available_version"]) == ("3.0-1", "1:2.5-1")
    assert all(u["severity"] == "unknown" and u["arch"] == "all" and not u.get("held") for u in updates)


def test_fixed_wave_offers_the_newest_versions(tmp_path, monkeypatch):
    updates = backend("apt-fixed", tmp_path, monkeypatch).updates()
    versions = dict((u["name"], u["available_version"]) for u in updates)
    assert (versions["fp-crypto"], versions["fp-db"], versions["fp-webapp"]) == ("1.0-3", "1.2-1", "1.2-1")


def test_baseline_has_no_updates(tmp_path, monkeypatch):
    assert backend("apt-baseline", tmp_path, monkeypatch).updates() == []


def test_dpkg_query_lists_installed_packages():
    packages = _apt.parse_dpkg_query(fixture("apt-security", "dpkg-query")[0])
    names = dict((p["name"], p["version"]) for p in packages)
    assert names["fp-crypto"] == "1.0-1" and names["fp-clock"] == "3.0-1"
    assert len(packages) > 100


def test_signed_inrelease_is_read():
    with open(os.path.join(FIXTURES, "apt-security-archive", "releases.json")) as f:
        releases = json.load(f)
    fields = _apt.parse_release(releases["deb.debian.org_debian_dists_bookworm_InRelease"])
    assert fields["origin"] == "Debian" and fields["codename"] == "bookworm" and fields["label"] == "Debian"


POLICY = """libc6:i386:
  Installed: 2.36-9+deb12u9
  Candidate: 2.36-9+deb12u10
  Version table:
     2.36-9+deb12u10 500
        500 http://deb.debian.org/debian bookworm/main i386 Packages
        500 http://security.debian.org/debian-security bookworm-security/main i386 Packages
 *** 2.36-9+deb12u9 100
        100 /var/lib/dpkg/status
tzdata:
  Installed: 2024a-0+deb12u1
  Candidate: 2025b-0+deb12u1
  Version table:
     2025b-0+deb12u1 500
        500 http://deb.debian.org/debian bookworm-updates/main amd64 Packages
 *** 2024a-0+deb12u1 100
        100 /var/lib/dpkg/status
pinned-down:
  Installed: 2.0-1
  Candidate: 1.0-1
  Version table:
 *** 2.0-1 100
        100 /var/lib/dpkg/status
     1.0-1 990
        990 http://deb.debian.org/debian bookworm/main amd64 Packages
"""
INSTALLED = [
    {"name": "libc6", "query_name": "libc6:i386", "version": "2.36-9+deb12u9", "arch": "i386", "held": True,
     "state": "installed"},
    {"name": "tzdata", "query_name": "tzdata", "version": "2024a-0+deb12u1", "arch": "all", "held": False,
     "state": "installed"},
    {"name": "pinned-down", "query_name": "pinned-down", "version": "2.0-1", "arch": "all", "held": False,
     "state": "installed"},
]


def test_policy_origins_multiarch_holds_and_no_downgrades():
    releases = {"security.debian.org_debian-security_dists_bookworm-security_": {"label": "Debian-Security"},
                "deb.debian.org_debian_dists_bookworm-updates_": {"label": "Debian", "suite": "oldstable-updates"}}
    updates = _apt.updates_from_policy(INSTALLED, _apt.parse_policy(POLICY), releases)
    by = {u["name"]: u for u in updates}
    assert sorted(by) == ["libc6", "tzdata"]          # a lower candidate is no update
    assert by["libc6"]["classification"] == "security" and by["libc6"]["arch"] == "i386"
    assert by["libc6"]["repository"] == "Debian-Security:bookworm-security/main" and by["libc6"]["held"] is True
    assert by["tzdata"]["classification"] == "other" and by["tzdata"]["repository"] == "Debian:bookworm-updates/main"


def test_release_key_matches_apt_file_names():
    assert _apt.release_key("http://127.0.0.1:8089/apt/security", "bookworm-security") == \
        "127.0.0.1:8089_apt_security_dists_bookworm-security_"
    assert _apt.release_key("https://user:pw@repo.example.com/debian/", "stable") == \
        "repo.example.com_debian_dists_stable_"


def test_apt_refuses_an_installroot():
    with pytest.raises(Exception, match="does not support root"):
        _apt.AptBackend(None, root="/srv/image")


def test_policy_output_without_packages_is_malformed(tmp_path, monkeypatch):
    answers = {}
    runner = ReplayRunner("apt-security")
    for key in runner.recorded:
        if key[:2] == ("apt-cache", "policy"):
            answers[key] = (0, "E: something went wrong\n", "")
    with pytest.raises(Exception, match="unexpected output from apt-cache"):
        backend("apt-security", tmp_path, monkeypatch, answers).updates()
