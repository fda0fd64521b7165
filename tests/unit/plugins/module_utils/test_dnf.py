"""dnf parsing, over repoquery, updateinfo list/info and rpm output captured on the lab (dnf 4.14)."""
import pytest
from ansible_collections.fleetpatch.patching.plugins.module_utils import _dnf
from replay import ReplayRunner, fixture, replay_backend


def backend(scenario, monkeypatch):
    return replay_backend(_dnf, _dnf.DnfBackend, scenario, monkeypatch)


def test_security_wave_has_exact_advisories(monkeypatch):
    updates = backend("dnf-security", monkeypatch).updates()
    by = {u["name"]: u for u in updates}
    assert sorted(by) == ["fp-agent", "fp-clock", "fp-crypto", "fp-firmware", "fp-tools"]
    crypto = by["fp-crypto"]
    assert (crypto["installed_version"], crypto["available_version"]) == ("1.0-1", "1.0-2")
    assert crypto["classification"] == "security" and crypto["severity"] == "critical"
    assert crypto["advisories"] == ["FPSA-2025:0101"]
    assert crypto["cves"] == ["CVE-2025-10001", "CVE-2025-10002"]
    assert crypto["issued"] == "2025-03-04"
    assert crypto["repository"] == "fleetlab"
    assert by["fp-firmware"]["severity"] == "important" and by["fp-firmware"]["cves"] == ["CVE-2025-10003"]
    assert by["fp-tools"]["classification"] == "bugfix" and by["fp-tools"]["severity"] == "unknown"
    assert by["fp-clock"]["classification"] == "enhancement"
    assert by["fp-clock"]["available_version"] == "1:2.5-1"
    assert by["fp-agent"]["advisories"] == ["FPBA-2025:0105"]


def test_newest_version_covers_every_older_advisory(monkeypatch):
    updates = backend("dnf-fixed", monkeypatch).updates()
    by = {u["name"]: u for u in updates}
    crypto = by["fp-crypto"]
    assert crypto["available_version"] == "1.0-3"
    assert crypto["advisories"] == ["FPSA-2025:0101", "FPSA-2025:0303"]
    assert crypto["severity"] == "critical"          # the highest of the two
    assert crypto["cves"] == ["CVE-2025-10001", "CVE-2025-10002", "CVE-2025-30001"]
    assert crypto["issued"] == "2025-05-03"          # the newest advisory dates the update
    assert by["fp-db"]["advisories"] == ["FPBA-2025:0201", "FPBA-2025:0301"]
    assert by["fp-webapp"]["severity"] == "moderate"


def test_baseline_has_no_updates(monkeypatch):
    assert backend("dnf-baseline", monkeypatch).updates() == []


def test_updateinfo_info_blocks():
    infos = _dnf.parse_updateinfo_info(fixture("dnf-security", "updateinfo-info")[0])
    assert sorted(infos) == ["FPBA-2025:0102", "FPBA-2025:0105", "FPEA-2025:0104", "FPSA-2025:0101", "FPSA-2025:0103"]
    assert infos["FPSA-2025:0101"]["title"] == "Critical: fp-crypto security update"
    assert infos["FPSA-2025:0101"]["cves"] == ["CVE-2025-10001", "CVE-2025-10002"]


def test_info_with_issued_and_reboot_fields():
    text = """===============================================================================
  Important: kernel security update
===============================================================================
  Update ID: RHSA-2025:1234
       Type: security
    Updated: 2025-02-01 10:00:00
     Issued: 2025-01-30 08:00:00
       CVEs: CVE-2025-1111
   Severity: Important
     Reboot: yes
"""
    info = _dnf.parse_updateinfo_info(text)["RHSA-2025:1234"]
    assert info["issued"] == "2025-01-30"
    assert info["reboot_suggested"] is True
    assert info["severity"] == "important"


@pytest.mark.parametrize("text, expected", [
    ("fp-clock-1:2.5-1.noarch", ("fp-clock", "1:2.5-1", "noarch")),
    ("kernel-core-5.14.0-427.el9.x86_64", ("kernel-core", "5.14.0-427.el9", "x86_64")),
    ("not-a-nevra", None),
])
def test_nevra(text, expected):
    assert _dnf.parse_nevra(text) == expected


def test_rpm_query_keeps_epochs(monkeypatch):
    packages = backend("dnf-security", monkeypatch).installed()
    assert {"name": "fp-clock", "version": "3.0-1", "arch": "noarch"} in packages
    assert all(p["name"] != "gpg-pubkey" for p in packages)


def test_garbage_from_repoquery_is_malformed(monkeypatch):
    monkeypatch.setattr(_dnf, "wait_for_locks", lambda *a, **k: None)
    argv = ("dnf", "--quiet", "--assumeno", "--setopt=skip_if_unavailable=False", "repoquery", "--upgrades", "--latest-limit=1",
            "--queryformat", _dnf.REPOQUERY_FORMAT)
    runner = ReplayRunner("dnf-security", {argv: (0, "Traceback (most recent call last):\n  boom\n", "")})
    with pytest.raises(Exception, match="unexpected output from dnf"):
        _dnf.DnfBackend(runner).updates()


# No dnf5 runs here (Debian packages dnf 4 only): this sample follows the JSON documented in
# dnf5's advisory(8) man page, not a capture. docs/support.md says so.
DNF5_ADVISORY_INFO = """[
 {"Name": "FEDORA-2025-1", "Title": "openssl security update", "Type": "security", "Severity": "Important",
  "Status": "stable", "Vendor": "Fedora", "Issued": 1741046400, "Description": "x", "Message": "", "Rights": "",
  "references": [{"Title": "CVE-2025-1111", "Id": "CVE-2025-1111", "Type": "cve", "Url": "u"},
                 {"Title": "bug", "Id": "123", "Type": "bugzilla", "Url": "u"}],
  "collections": {"packages": ["openssl-1:3.2.4-1.fc41.x86_64", "openssl-libs-1:3.2.4-1.fc41.x86_64"]}},
 {"Name": "FEDORA-2025-2", "Title": "tzdata", "Type": "bugfix", "Severity": "None", "Issued": "2025-03-10 00:00:00",
  "references": [], "collections": {"packages": ["tzdata-2025b-1.fc41.noarch"]}}
]"""


def test_dnf5_backend_reads_advisory_json(monkeypatch):
    from ansible_collections.fleetpatch.patching.plugins.module_utils._rpm_common import RPM_QUERY_FORMAT
    monkeypatch.setattr(_dnf, "wait_for_locks", lambda *a, **k: None)
    base = ("dnf", "--quiet", "--assumeno", "--setopt=skip_if_unavailable=False")
    answers = {
        base + ("repoquery", "--upgrades", "--latest-limit=1", "--queryformat", _dnf.REPOQUERY_FORMAT + "\\n"): (
            0, "openssl|1|3.2.4|1.fc41|x86_64|updates\ntzdata|0|2025b|1.fc41|noarch|updates\n", ""),
        base + ("advisory", "info", "--json"): (0, DNF5_ADVISORY_INFO, ""),
        base + ("repoquery", "--latest-limit=1", "--whatobsoletes", "openssl,tzdata", "--queryformat",
                _dnf.OBSOLETES_FORMAT + "\\n"): (0, "", ""),
        ("rpm", "--query", "--all", "--queryformat", RPM_QUERY_FORMAT): (
            0, "openssl|1|3.2.2|5.fc41|x86_64\ntzdata|0|2025a|1.fc41|noarch\n", ""),
    }
    updates = _dnf.DnfBackend(ReplayRunner("dnf-baseline", answers), generation=5).updates()
    by = {u["name"]: u for u in updates}
    assert by["openssl"]["advisories"] == ["FEDORA-2025-1"]
    assert by["openssl"]["cves"] == ["CVE-2025-1111"]
    assert by["openssl"]["severity"] == "important" and by["openssl"]["issued"] == "2025-03-04"
    assert by["openssl"]["installed_version"] == "1:3.2.2-5.fc41"
    assert by["tzdata"]["classification"] == "bugfix" and by["tzdata"]["issued"] == "2025-03-10"
    assert by["tzdata"]["installed_version"] == "2025a-1.fc41"
