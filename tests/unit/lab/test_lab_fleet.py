"""The extra fleet of `lab up --hosts N` (tests/lab/fleetlab/fleet.py): addresses, rings, its own
inventory, and the lab inventory the tests use left as it was."""
import json

import pytest
import yaml
from fleetlab import cli, config, fleet, golden, inventory
from fleetlab.util import LabError


def test_addresses_fill_a_third_octet_then_move_to_the_next():
    found = fleet.addresses(600, net="127.0.2")
    assert found[:2] == ["127.0.2.1", "127.0.2.2"]
    assert found[249] == "127.0.2.250"
    assert found[250] == "127.0.3.1"
    assert found[599] == "127.0.4.100"
    assert len(set(found)) == 600


def test_addresses_refuse_a_lab_hosts_address_a_bad_net_and_an_overflow():
    with pytest.raises(LabError, match="127.0.0.101 is a lab host's"):
        fleet.addresses(150, net="127.0.0", reserved={"127.0.0.101"})
    for bad in ("10.0.2", "127.0", "127.0.x"):
        with pytest.raises(LabError, match="three octets"):
            fleet.addresses(1, net=bad)
    with pytest.raises(LabError, match="do not fit"):
        fleet.addresses(251, net="127.0.255")


def test_a_hundred_fleet_hosts_collide_with_no_lab_host():
    hosts = fleet.fleet(100)
    lab = {h.address for h in config.fleet() + config.archive_hosts()}
    assert [h.name for h in hosts[:2]] == ["lab-fleet001", "lab-fleet002"] and hosts[-1].name == "lab-fleet100"
    assert len({h.address for h in hosts}) == 100
    assert not lab & {h.address for h in hosts}
    assert not {h.name for h in config.fleet() + config.archive_hosts()} & {h.name for h in hosts}
    # their own directories: `lab reset` deletes config.HOSTS_DIR, never these
    assert all(h.dir.startswith(fleet.FLEET_HOSTS_DIR + "/") for h in hosts)
    assert not fleet.FLEET_HOSTS_DIR.startswith(config.HOSTS_DIR + "/")
    with pytest.raises(LabError, match="0 to 999"):
        fleet.fleet(1000)
    assert fleet.fleet(0) == []


@pytest.mark.parametrize("count,expected", [(1, (1, 0, 0)), (3, (1, 1, 1)), (25, (2, 8, 15)),
                                            (100, (10, 30, 60))])
def test_rings_spread_a_tenth_in_test_and_about_three_tenths_in_pilot(count, expected):
    rings = fleet.rings(count)
    assert len(rings) == count
    assert tuple(rings.count(r) for r in config.RINGS) == expected


def test_the_fleet_inventory_puts_each_host_in_one_ring_group_under_lab_fleet():
    hosts = fleet.fleet(25)
    inv = yaml.safe_load(fleet.render_inventory(hosts))
    rings = inv["all"]["children"][fleet.GROUP]["children"]
    assert set(rings) == {"fleetpatch_ring_%s" % r for r in config.RINGS}
    members = [name for group in rings.values() for name in group["hosts"]]
    assert sorted(members) == sorted(h.name for h in hosts)
    for h in hosts:
        assert h.name in rings["fleetpatch_ring_%s" % h.ring]["hosts"]
        assert inv["all"]["hosts"][h.name] == {"ansible_host": h.address, "fleetpatch_ring": h.ring,
                                               "fleetpatch_pkg_mgr": "apt", "fleetlab_pkg_mgr": "apt"}
    # its own known_hosts: `lab up` rewrites the lab's with the seven hosts only
    assert fleet.FLEET_KNOWN_HOSTS in inv["all"]["vars"]["ansible_ssh_common_args"]
    assert config.KNOWN_HOSTS not in inv["all"]["vars"]["ansible_ssh_common_args"]


def test_the_lab_inventory_the_tests_use_holds_no_fleet_host():
    text = inventory.render(config.fleet())
    inv = yaml.safe_load(text)
    assert "lab-fleet" not in text and fleet.GROUP not in text
    assert set(inv["all"]["hosts"]) == {h.name for h in config.fleet()}
    assert fleet.FLEET_INVENTORY != config.INVENTORY


def test_up_takes_hosts_only_when_asked():
    p = cli.parser()
    assert p.parse_args(["up"]).hosts is None
    assert p.parse_args(["up", "--hosts", "25"]).hosts == 25
    with pytest.raises(SystemExit):
        p.parse_args(["reset", "--hosts", "3"])


def test_hosts_on_disk_keep_the_address_and_ring_they_were_made_with(tmp_path, monkeypatch):
    monkeypatch.setattr(fleet, "FLEET_HOSTS_DIR", str(tmp_path))
    assert fleet.on_disk() == []
    for name, data in (("lab-fleet002", {"address": "127.0.9.2", "ring": "pilot", "image": "x"}),
                       ("lab-fleet001", {"address": "127.0.9.1", "ring": "test", "image": "x"})):
        (tmp_path / name).mkdir()
        (tmp_path / name / "host.json").write_text(json.dumps(data))
    (tmp_path / "unrelated").mkdir()
    found = fleet.on_disk()
    assert [(h.name, h.address, h.ring) for h in found] == [("lab-fleet001", "127.0.9.1", "test"),
                                                            ("lab-fleet002", "127.0.9.2", "pilot")]
    assert found[0].dir == str(tmp_path / "lab-fleet001")


def test_no_fleet_without_a_current_provisioned_copy_of_the_template(tmp_path, monkeypatch):
    monkeypatch.setattr(golden, "GOLDEN_DIR", str(tmp_path))
    with pytest.raises(LabError, match="no current provisioned copy of lab-apt1"):
        fleet._image("/nonexistent-base")
    (tmp_path / "lab-apt1").mkdir()
    (tmp_path / "lab-apt1.key").write_text("an older key\n")
    with pytest.raises(LabError, match="no current provisioned copy"):
        fleet._image("/nonexistent-base")
