"""Unit tests of the lab's pure parts: the catalog, the fleet layout, the generated metadata."""
import xml.etree.ElementTree as ET

import pytest
import yaml
from fleetlab import catalog, config, debs, inventory, rpms


def test_waves_by_name_or_number():
    assert catalog.wave_number("security") == 1
    assert catalog.wave_number("3") == 3
    with pytest.raises(ValueError, match="unknown wave 'nine'.*baseline, security, regression, broken, fixed"):
        catalog.wave_number("nine")
    with pytest.raises(ValueError):
        catalog.wave_number("5")


def test_the_regression_wave_breaks_a_service_and_nothing_fails_to_install():
    """The demo's first wave: only a health check after patching can catch it (issue 14)."""
    regression = [v for v in catalog.VERSIONS if v.wave == catalog.wave_number("regression")]
    assert [v.package for v in regression if v.breaks_service] == ["fp-webapp"]
    assert not any(v.fails_install for v in catalog.VERSIONS if v.wave <= catalog.wave_number("regression"))


def test_catalog_covers_every_scenario_the_issue_asks_for():
    staged = [v for v in catalog.VERSIONS if v.wave > 0]
    assert any(v.advisory and v.advisory.kind == "security" and v.advisory.cves for v in staged)
    assert any(v.advisory and v.advisory.kind == "bugfix" for v in staged)
    assert any(v.requires_reboot for v in staged)
    assert any(v.fails_install for v in staged)
    assert any(v.breaks_service for v in staged)
    assert any(v.epoch for v in staged)
    new_packages = {v.package for v in staged} - set(catalog.BASELINE_PACKAGES)
    assert any(set(v.depends) & new_packages for v in staged)


def test_every_update_is_newer_within_its_package():
    seen = {}
    for v in sorted(catalog.VERSIONS, key=lambda v: v.wave):
        key = (v.epoch, tuple(int(x) for x in v.version.split(".")), int(v.release))
        assert key > seen.get(v.package, (-1,)), v
        seen[v.package] = key


def test_fleet_spreads_managers_and_rings():
    hosts = config.fleet(6)
    assert len({h.address for h in hosts}) == 6
    assert {h.pkg_mgr for h in hosts if h.ring == "test"} == {"apt", "dnf", "zypper"}
    assert {h.ring for h in hosts} == set(config.RINGS)
    with pytest.raises(ValueError, match="at least 3"):
        config.fleet(2)


def test_inventory_has_ring_groups_and_hosts_that_rely_on_detection():
    hosts = config.fleet(6)
    inv = yaml.safe_load(inventory.render(hosts))
    groups = inv["all"]["children"]["lab"]["children"]
    assert set(groups["fleetpatch_ring_test"]["hosts"]) == {"lab-apt1", "lab-dnf1", "lab-zypper1"}
    # the test ring relies on detection for every manager (issue 14), the other apt hosts set it
    for name in ("lab-apt1", "lab-dnf1", "lab-zypper1"):
        assert "fleetpatch_pkg_mgr" not in inv["all"]["hosts"][name]
    assert inv["all"]["hosts"]["lab-apt2"]["fleetpatch_pkg_mgr"] == "apt"
    assert inv["all"]["hosts"]["lab-dnf1"]["fleetlab_pkg_mgr"] == "dnf"
    assert sum(len(g["hosts"]) for name, g in groups.items() if name.startswith("fleetpatch_ring_")) == 6


def test_updateinfo_is_valid_xml_with_escaped_text_and_cves():
    v = catalog.Version("fp-x", "1.0", "2", 1, description="a <b>bold</b> & risky fix",
                        advisory=catalog.Advisory("FPSA-1", "security", "Critical", "<script>x</script>",
                                                  cves=("CVE-2025-1",), reboot_suggested=True))
    root = ET.fromstring(rpms.updateinfo_xml([v]))
    update = root.find("update")
    assert update.get("type") == "security"
    assert update.findtext("title") == "<script>x</script>"
    assert update.findtext("description") == "a <b>bold</b> & risky fix"
    assert [r.get("id") for r in update.iter("reference")] == ["CVE-2025-1"]
    assert update.find(".//reboot_suggested").text == "True"


def test_apt_sources_name_both_pockets():
    lines = debs.sources_list("http://127.0.0.1:1").splitlines()
    assert lines == ["deb [trusted=yes] http://127.0.0.1:1/apt/main bookworm main",
                     "deb [trusted=yes] http://127.0.0.1:1/apt/security bookworm-security main"]


def test_staging_dates_the_wave_now(tmp_path, monkeypatch):
    """Hosts refresh with If-Modified-Since (whole seconds): a staged wave must look new even
    when it was built in the same second as the one the hosts saw last."""
    import os
    import time

    from fleetlab import repos
    monkeypatch.setattr(config, "REPOS_DIR", str(tmp_path))
    monkeypatch.setattr(repos, "CURRENT", str(tmp_path / "current"))
    monkeypatch.setattr(repos, "STAGED_AT", str(tmp_path / ".staged-at"))
    release = tmp_path / "wave-1" / "apt" / "Release"
    release.parent.mkdir(parents=True)
    release.write_text("x")
    os.utime(release, (1000, 1000))
    before = time.time()
    repos.stage(1)
    assert os.readlink(tmp_path / "current") == "wave-1"
    assert release.stat().st_mtime >= before - 1
    assert repos.current_wave() == 1
    first = release.stat().st_mtime
    repos.stage(1)                      # again within the same second: still a later second
    assert release.stat().st_mtime >= first + 1


def test_latest_only_keeps_the_newest_version_of_each_package():
    published = catalog.latest_only(catalog.versions_up_to(4))
    newest = dict((v.package, v) for v in published)
    assert len(newest) == len(published)            # one version per package
    assert (newest["fp-crypto"].version, newest["fp-crypto"].release) == ("1.0", "3")
    assert all(v.wave == max(w.wave for w in catalog.VERSIONS if w.package == v.package and w.wave <= 4)
               for v in published)
    # the baseline's versions are gone once a package has an update
    assert not [v for v in published if v.wave == 0 and v.package == "fp-crypto"]


def test_a_failed_halt_is_seen_in_the_console_written_since_the_stop(tmp_path):
    from fleetlab import hosts
    console = tmp_path / "console.log"
    console.write_bytes(b"earlier boot\n[DEPEND] Dependency failed for halt.target - System Halt.\n")
    paths = {"console": str(console)}
    since = hosts._console_size(paths)
    assert hosts._halt_failed(paths, 0) and not hosts._halt_failed(paths, since)
    with open(str(console), "ab") as f:
        f.write(b"Starting systemd-halt.service\n[DEPEND] Dependency failed for halt.target - System Halt.\n")
    assert hosts._halt_failed(paths, since)
    assert not hosts._halt_failed({"console": str(tmp_path / "missing")}, 0)


def test_two_changing_lab_commands_run_one_after_the_other(tmp_path, monkeypatch):
    """A `lab up` racing another lab command provisioned guests twice (apt-get against apt-get in
    one host). The second changing command waits until the first has finished."""
    import threading
    import time

    from fleetlab import cli
    monkeypatch.setattr(config, "STATE", str(tmp_path))
    events = []

    def command(name, hold):
        with cli.one_at_a_time():
            events.append(name + " start")
            time.sleep(hold)
            events.append(name + " end")

    first = threading.Thread(target=command, args=("first", 0.5))
    first.start()
    time.sleep(0.1)
    command("second", 0)
    first.join()
    assert events == ["first start", "first end", "second start", "second end"]
    assert set(cli.CHANGING_COMMANDS) == {"up", "down", "stage", "reset"}
