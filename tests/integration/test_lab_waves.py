"""The staged waves offer what later features are tested against, on all three managers:
security and bugfix advisories, an epoch, a new dependency, a reboot-requiring update, an install
that fails and an update that breaks its service. Checked with the package managers' own tools."""
import re

import pytest
from conftest import first_host, on_host, run_lab


@pytest.fixture(scope="module")
def security_wave(fresh_lab, fleet):
    run_lab("stage", "security")
    hosts = {m: first_host(fleet, m) for m in ("apt", "dnf", "zypper")}
    # zypper keeps repository metadata for 10 minutes unless told to refresh
    on_host(hosts["zypper"], "zypper", "--non-interactive", "--quiet", "refresh")
    return hosts


def test_apt_sees_the_security_pocket_epoch_and_new_dependency(security_wave):
    host = security_wave["apt"]
    on_host(host, "apt-get", "-qq", "update")
    plan = on_host(host, "apt-get", "-s", "dist-upgrade").stdout
    assert "Inst fp-crypto [1.0-1] (1.0-2 Debian-Security:12/bookworm-security [all])" in plan
    assert "Inst fp-firmware [1.0-1] (1.1-1 Debian-Security:12/bookworm-security [all])" in plan
    assert "Inst fp-tools [2.0-1] (2.1-1 Debian:12/bookworm [all])" in plan
    assert "Inst fp-clock [3.0-1] (1:2.5-1 Debian:12/bookworm [all])" in plan
    assert "Inst fp-agent-plugins (1.0-1 Debian:12/bookworm [all])" in plan   # new package


def test_dnf_sees_advisories_with_severity_cves_and_dates(security_wave):
    host = security_wave["dnf"]
    listing = on_host(host, "dnf", "-q", "updateinfo", "list").stdout
    assert re.search(r"FPSA-2025:0101\s+Critical/Sec\.\s+fp-crypto-1\.0-2\.noarch", listing)
    assert re.search(r"FPBA-2025:0102\s+bugfix\s+fp-tools-2\.1-1\.noarch", listing)
    assert re.search(r"FPEA-2025:0104\s+enhancement\s+fp-clock-1:2\.5-1\.noarch", listing)
    info = on_host(host, "dnf", "-q", "updateinfo", "info", "FPSA-2025:0101").stdout
    assert "CVE-2025-10001" in info and "CVE-2025-10002" in info
    assert "2025-03-04" in info
    check = on_host(host, "dnf", "-q", "check-update", check=False)
    assert check.returncode == 100   # dnf's "updates available"


def test_zypper_sees_patches_with_category_severity_and_restart(security_wave):
    host = security_wave["zypper"]
    xml = on_host(host, "zypper", "--non-interactive", "--xmlout", "list-patches").stdout
    assert re.search(r'name="FPSA-2025:0101"[^>]*category="security" severity="critical"', xml)
    assert re.search(r'name="FPSA-2025:0103"[^>]*category="security" severity="important"[^>]*restart="true"', xml)
    assert re.search(r'name="FPBA-2025:0102"[^>]*category="bugfix"', xml)
    assert 'id="CVE-2025-10003"' in xml


def test_reboot_requiring_update_is_visible_to_each_manager(security_wave):
    apt, dnf, zypper = security_wave["apt"], security_wave["dnf"], security_wave["zypper"]
    on_host(apt, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-qq", "-y", "install", "fp-firmware")
    assert "fp-firmware" in on_host(apt, "cat", "/run/reboot-required.pkgs").stdout
    assert on_host(dnf, "dnf", "-q", "needs-restarting", "-r", check=False).returncode == 0
    on_host(dnf, "dnf", "-q", "-y", "upgrade", "fp-firmware")
    assert on_host(dnf, "dnf", "-q", "needs-restarting", "-r", check=False).returncode == 1
    assert on_host(zypper, "zypper", "needs-rebooting", check=False).returncode == 0
    on_host(zypper, "zypper", "--non-interactive", "update", "fp-firmware")
    assert on_host(zypper, "zypper", "needs-rebooting", check=False).returncode == 102


def test_new_dependency_is_pulled_in_on_rpm_hosts(security_wave):
    for manager in ("dnf", "zypper"):
        host = security_wave[manager]
        if manager == "dnf":
            on_host(host, "dnf", "-q", "-y", "upgrade", "fp-agent")
        else:
            on_host(host, "zypper", "--non-interactive", "update", "fp-agent")
        installed = on_host(host, "rpm", "-q", "fp-agent", "fp-agent-plugins").stdout.split()
        assert installed == ["fp-agent-1.1-1.noarch", "fp-agent-plugins-1.0-1.noarch"], manager


def test_going_back_a_wave_is_seen_by_apt(security_wave):
    """apt ignores a Release older than the one it has; staging re-dates the wave it publishes."""
    host = security_wave["apt"]
    run_lab("stage", "fixed")
    on_host(host, "apt-get", "-qq", "update")
    assert "Candidate: 1.0-3" in on_host(host, "apt-cache", "policy", "fp-crypto").stdout
    run_lab("stage", "security")
    on_host(host, "apt-get", "-qq", "update")
    assert "Candidate: 1.0-2" in on_host(host, "apt-cache", "policy", "fp-crypto").stdout
