"""zypper parsing, over --xmlout list-updates, list-patches and patch info captured on the lab."""
import pytest
from ansible_collections.fleetpatch.patching.plugins.module_utils import _zypper
from replay import ReplayRunner, fixture, replay_backend


def backend(scenario, monkeypatch):
    return replay_backend(_zypper, _zypper.ZypperBackend, scenario, monkeypatch)


def test_security_wave_has_exact_patches(monkeypatch):
    updates = backend("zypper-security", monkeypatch).updates()
    by = {u["name"]: u for u in updates}
    assert sorted(by) == ["fp-agent", "fp-clock", "fp-crypto", "fp-firmware", "fp-tools"]
    crypto = by["fp-crypto"]
    assert (crypto["installed_version"], crypto["available_version"]) == ("1.0-1", "1.0-2")
    assert crypto["classification"] == "security" and crypto["severity"] == "critical"
    assert crypto["advisories"] == ["FPSA-2025:0101"]
    assert crypto["cves"] == ["CVE-2025-10001", "CVE-2025-10002"]
    assert crypto["issued"] == "2025-03-04"
    firmware = by["fp-firmware"]
    assert firmware["reboot_suggested"] is True and firmware["severity"] == "important"
    assert by["fp-clock"]["classification"] == "enhancement"   # an optional patch
    assert by["fp-clock"]["available_version"] == "1:2.5-1"
    assert by["fp-tools"]["classification"] == "bugfix"


def test_newest_version_covers_every_older_patch(monkeypatch):
    updates = backend("zypper-fixed", monkeypatch).updates()
    crypto = {u["name"]: u for u in updates}["fp-crypto"]
    assert crypto["available_version"] == "1.0-3"
    assert crypto["advisories"] == ["FPSA-2025:0101", "FPSA-2025:0303"]
    assert crypto["issued"] == "2025-05-03"


def test_baseline_has_no_updates(monkeypatch):
    assert backend("zypper-baseline", monkeypatch).updates() == []


def test_patch_info_maps_patches_to_packages():
    fixes = _zypper.parse_patch_info(fixture("zypper-fixed", "patch-info")[0])
    assert fixes["FPSA-2025:0303"] == [("fp-crypto", "1.0-3")]
    assert fixes["FPSA-2025:0101"] == [("fp-crypto", "1.0-2")]


def test_multi_package_conflicts_list():
    text = """<?xml version='1.0'?><stream><message type="info">Name        : SUSE-2025-42
Conflicts   : [2]
    libfoo1.x86_64 &lt; 1.2-3
    foo-tools &lt; 1.2-3
Summary     : x
</message></stream>"""
    assert _zypper.parse_patch_info(text) == {"SUSE-2025-42": [("libfoo1", "1.2-3"), ("foo-tools", "1.2-3")]}


def test_list_patches_filters_on_status():
    text = """<?xml version='1.0'?><stream><update-status><update-list>
<update kind="patch" name="A" status="needed" category="security" severity="critical"/>
<update kind="patch" name="B" status="applied" category="security" severity="critical"/>
<update kind="patch" name="C" status="not-needed" category="bugfix" severity="none"/>
</update-list></update-status></stream>"""
    assert sorted(_zypper.parse_list_patches(text)) == ["A"]


def test_non_xml_output_is_malformed(monkeypatch):
    monkeypatch.setattr(_zypper, "wait_for_locks", lambda *a, **k: None)
    argv = ("zypper", "--non-interactive", "--xmlout", "list-updates")
    runner = ReplayRunner("zypper-security", {argv: (0, "System management is locked\n", "")})
    with pytest.raises(Exception, match="unexpected output from zypper"):
        _zypper.ZypperBackend(runner).updates()
