"""apt parsing, over `apt-get --simulate dist-upgrade` and dpkg-query output captured on the lab."""
import pytest
from ansible_collections.fleetpatch.patching.plugins.module_utils import _apt
from replay import ReplayRunner, fixture


def test_security_wave_classifies_by_pocket():
    upgrades, new, removals = _apt.parse_simulation(fixture("apt-security", "simulate")[0])
    by_name = {u["name"]: u for u in upgrades}
    assert sorted(by_name) == ["fp-agent", "fp-clock", "fp-crypto", "fp-firmware", "fp-tools"]
    assert by_name["fp-crypto"]["classification"] == "security"
    assert by_name["fp-crypto"]["repository"] == "Debian-Security:12/bookworm-security"
    assert by_name["fp-firmware"]["classification"] == "security"
    assert by_name["fp-tools"]["classification"] == "other"
    assert by_name["fp-tools"]["repository"] == "Debian:12/bookworm"
    assert (by_name["fp-clock"]["installed_version"], by_name["fp-clock"]["available_version"]) == ("3.0-1", "1:2.5-1")
    assert all(u["severity"] == "unknown" and u["arch"] == "all" for u in upgrades)
    assert new == [{"name": "fp-agent-plugins", "version": "1.0-1", "arch": "all"}]
    assert removals == []


def test_fixed_wave_offers_the_newest_versions():
    upgrades, _new, _rem = _apt.parse_simulation(fixture("apt-fixed", "simulate")[0])
    versions = dict((u["name"], u["available_version"]) for u in upgrades)
    assert versions["fp-crypto"] == "1.0-3"
    assert versions["fp-db"] == "1.2-1"
    assert versions["fp-webapp"] == "1.2-1"


def test_baseline_has_no_updates():
    assert _apt.parse_simulation(fixture("apt-baseline", "simulate")[0]) == ([], [], [])


def test_dpkg_query_lists_installed_packages():
    packages = _apt.parse_dpkg_query(fixture("apt-security", "dpkg-query")[0])
    names = dict((p["name"], p["version"]) for p in packages)
    assert names["fp-crypto"] == "1.0-1"
    assert names["fp-clock"] == "3.0-1"
    assert len(packages) > 100


@pytest.mark.parametrize("line, security, repository", [
    # a candidate offered by two origins: the security one decides and is named
    ("Inst openssl [3.0.15-1~deb12u1] (3.0.16-1~deb12u1 Debian:12.9/stable, Debian-Security:12/stable-security [amd64])",
     True, "Debian-Security:12/stable-security"),
    ("Inst libc6 [2.35-0ubuntu3.8] (2.35-0ubuntu3.9 Ubuntu:22.04/jammy-updates, Ubuntu:22.04/jammy-security [amd64]) []",
     True, "Ubuntu:22.04/jammy-security"),
    ("Inst tzdata [2024a-0+deb12u1] (2025b-0+deb12u1 Debian:12.11/stable-updates [all])", False, "Debian:12.11/stable-updates"),
])
def test_origins_decide_security(line, security, repository):
    upgrades, _new, _rem = _apt.parse_simulation(line + "\n")
    assert upgrades[0]["classification"] == ("security" if security else "other")
    assert upgrades[0]["repository"] == repository


def test_removals_are_reported():
    text = "Remv old-thing [1.0-1]\nInst new-thing [1.0] (2.0 Debian:12/bookworm [all])\n"
    upgrades, _new, removals = _apt.parse_simulation(text)
    assert removals == [{"name": "old-thing", "version": "1.0-1"}]
    assert upgrades[0]["name"] == "new-thing"


def test_backend_replays_the_captured_commands(monkeypatch):
    monkeypatch.setattr(_apt, "wait_for_locks", lambda *a, **k: None)
    backend = _apt.AptBackend(ReplayRunner("apt-security"))
    upgrades, extra = backend.updates()
    assert len(upgrades) == 5 and extra["new_packages"][0]["name"] == "fp-agent-plugins"
    assert any(p["name"] == "fp-webapp" for p in backend.installed())


def test_apt_refuses_an_installroot():
    with pytest.raises(Exception, match="does not support root"):
        _apt.AptBackend(None, root="/srv/image")


def test_a_summary_without_inst_lines_is_malformed(monkeypatch):
    monkeypatch.setattr(_apt, "wait_for_locks", lambda *a, **k: None)
    runner = ReplayRunner("apt-security", {tuple(_apt.SIMULATE): (0, "Reading...\n3 upgraded, 0 newly installed\n", "")})
    with pytest.raises(Exception, match="unexpected output from apt-get"):
        _apt.AptBackend(runner).updates()
