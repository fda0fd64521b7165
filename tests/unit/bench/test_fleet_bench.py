"""bench/fleet_bench.py's own logic (the parts that decide what is measured and how it is summed
up); the measurements themselves need root and the lab's fleet (make bench-fleet)."""
import json
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(REPO, "bench"))
import fleet_bench  # noqa: E402


def test_fit_of_a_line_is_that_line():
    points = [(n, 8.0 + 4.2 * n) for n in (25, 25, 50, 100)]
    assert fleet_bench.fit(points) == {"per_host": 4.2, "fixed": 8.0, "r2": 1.0}


def test_fit_of_scattered_points_says_so():
    line = fleet_bench.fit([(25, 100.0), (50, 300.0), (100, 350.0)])
    assert 0 < line["r2"] < 1
    assert fleet_bench.fit([(25, 5.0), (50, 5.0)]) == {"per_host": 0.0, "fixed": 5.0, "r2": None}


def test_rounds_rotate_the_order_and_run_every_variant():
    names = list(fleet_bench.ROLLOUT_MATRIX_VARIANTS)
    orders = [fleet_bench.rotated(names, number) for number in range(len(names))]
    assert orders[0] == names
    assert [order[0] for order in orders] == names            # each variant goes first once
    assert all(sorted(order) == sorted(names) for order in orders)


def test_rollout_matrix_changes_one_setting_of_the_rollout_baseline_at_a_time():
    variants = fleet_bench.ROLLOUT_MATRIX_VARIANTS
    base = fleet_bench.settings(variants["baseline"])
    assert base["playbook"] == "rollout" and base["forks"] == 25
    assert base["pipelining"] and base["control_persist"] and not base["callback"]
    changed = {}
    for name, variant in variants.items():
        chosen = fleet_bench.settings(variant)
        changed[name] = {key: chosen[key] for key in chosen if chosen[key] != base[key]}
    assert changed == {"baseline": {}, "forks10": {"forks": 10}, "forks50": {"forks": 50},
                       "no_pipelining": {"pipelining": False}, "no_controlpersist": {"control_persist": False}}


def test_each_variant_takes_hosts_of_its_own():
    unused = ["h%03d" % i for i in range(120)]
    taken, left = fleet_bench.take(unused, 50, ["plain", "compliance"])
    assert taken == {"plain": unused[:50], "compliance": unused[50:100]}
    assert left == unused[100:]
    with pytest.raises(ValueError):
        fleet_bench.take(left, 25, ["plain", "compliance"])


def test_the_first_fleet_is_what_one_round_of_the_largest_phase_takes():
    size = fleet_bench.fleet_size
    assert size(["rollout"], [25, 50, 100], 50, [25, 50, 100], 50) == 350      # 2 variants x 175
    assert size(["rollout-matrix"], [25, 50, 100], 50, [25, 50, 100], 50) == 250  # 5 variants x 50
    assert size(["assess", "matrix"], [25, 50, 100], 50, [25, 50, 100], 50) == 100
    assert size(["matrix"], [25, 50, 100], 60, [25], 50) == 60


def test_summary_ratios_are_taken_within_each_round():
    rounds = [{"plain": {"wall_s": 100.0, "cpu_s": 40.0, "peak_rss_mib": 66.0, "hosts_per_min": 15.0},
               "compliance": {"wall_s": 110.0, "cpu_s": 44.0, "peak_rss_mib": 69.3, "hosts_per_min": 13.6}},
              {"plain": {"wall_s": 200.0, "cpu_s": 40.0, "peak_rss_mib": 66.0, "hosts_per_min": 7.5},
               "compliance": {"wall_s": 200.0, "cpu_s": 40.0, "peak_rss_mib": 69.3, "hosts_per_min": 7.5}}]
    summary = fleet_bench.summarise(rounds, "plain")
    assert summary["compliance"]["ratio_wall_s"] == 1.05       # median of 1.10 and 1.00, not 155/150
    assert summary["compliance"]["ratio_peak_rss_mib"] == 1.05
    assert summary["plain"]["wall_s"] == {"median": 150.0, "min": 100.0, "max": 200.0}
    assert "ratio_wall_s" not in summary["plain"]


def test_recap_counts_every_host():
    log = ["PLAY RECAP *********",
           "lab-fleet001               : ok=41   changed=9    unreachable=0    failed=0    skipped=30   rescued=0    ignored=0",
           "lab-fleet002               : ok=12   changed=0    unreachable=1    failed=0    skipped=3    rescued=0    ignored=0",
           "localhost                  : ok=3    changed=0    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0"]
    assert fleet_bench.recap_hosts(log) == {"lab-fleet001": (41, 0, 0), "lab-fleet002": (12, 0, 1), "localhost": (3, 1, 0)}


def test_rollout_inventory_puts_every_host_in_the_ring(tmp_path):
    hosts = [fleet_bench.labfleet.FleetHost("lab-fleet%03d" % i, "127.0.2.%d" % i, "apt", ring)
             for i, ring in ((1, "test"), (2, "pilot"), (3, "production"))]
    path = fleet_bench.write_inventory(str(tmp_path / "inv.yml"), hosts, ring=fleet_bench.ROLLOUT_RING)
    with open(path) as handle:
        tree = json.loads(handle.read().split("\n", 1)[1])
    rings = tree["all"]["children"]["lab_fleet"]["children"]
    assert sorted(rings["fleetpatch_ring_%s" % fleet_bench.ROLLOUT_RING]["hosts"]) == [h.name for h in hosts]
    assert {h["fleetpatch_ring"] for h in tree["all"]["hosts"].values()} == {fleet_bench.ROLLOUT_RING}


def test_run_environment_carries_each_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("ANSIBLE_PIPELINING", "True")
    monkeypatch.setenv("FLEETPATCH_STORE", "/elsewhere.sqlite")
    rundir = str(tmp_path)
    plain = fleet_bench.run_env(fleet_bench.settings({"pipelining": False}), rundir, "inv.yml")
    assert plain["ANSIBLE_PIPELINING"] == "False" and "ANSIBLE_SSH_ARGS" not in plain
    assert "FLEETPATCH_STORE" not in plain and "ANSIBLE_CALLBACKS_ENABLED" not in plain
    assert plain["ANSIBLE_SSH_CONTROL_PATH_DIR"].startswith(rundir)
    no_master = fleet_bench.run_env(fleet_bench.settings({"control_persist": False}), rundir, "inv.yml")
    assert "ControlMaster=no" in no_master["ANSIBLE_SSH_ARGS"]
    reported = fleet_bench.run_env(fleet_bench.settings({"callback": True}), rundir, "inv.yml")
    assert reported["ANSIBLE_CALLBACKS_ENABLED"] == "fleetpatch.patching.compliance"
    assert reported["FLEETPATCH_STORE"].startswith(rundir)
