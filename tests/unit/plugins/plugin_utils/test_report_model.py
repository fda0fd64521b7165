"""The report model: what a run's results make of each host, and the fleet summary."""
import json
import os
import sys

import jsonschema
import pytest

from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
sys.path.insert(0, os.path.join(REPO, "tests", "support"))
import synthetic_fleet  # noqa: E402

SCHEMA = json.load(open(os.path.join(REPO, "docs", "schemas", "compliance_report.schema.json")))
RUN = {"run_id": "r1", "started_at": "2026-11-25T10:00:00Z", "ended_at": "2026-11-25T10:05:00Z",
       "playbooks": ["rollout.yml"], "check_mode": False, "controller": "c", "ansible_version": "2.19",
       "collection_version": "0.1.0", "aborted_by": None}


def update(name, decision="approved", severity="important", classification="security", version="2"):
    return {"name": name, "arch": "amd64", "installed_version": "1", "available_version": version,
            "classification": classification, "severity": severity, "advisories": ["A-" + name], "cves": [],
            "issued": None, "first_seen": "2026-11-01", "repository": "r", "reboot_suggested": False,
            "decision": decision, "reason": decision, "sla_due": None, "sla_breached": False}


def record(*updates, reboot=False):
    return {"pkg_mgr": "apt", "distribution": "Debian", "version": "12", "kernel_running": "6.1",
            "collected_at": "2026-11-25T10:00:00Z", "installed_count": 100, "updates": list(updates),
            "reboot_required": reboot, "reboot_reasons": ["kernel"] if reboot else [], "policy": "default"}


def observe(host, *events):
    obs = model.HostObservations(host)
    for action, result, failed in events:
        obs.observe(action, result, "task", failed=failed)
    return obs


FACTS = "fleetpatch.patching.patch_facts"
APPLY = "fleetpatch.patching.patch_apply"


def test_assessed_host_counts_its_missing_and_held_back_updates():
    facts = record(update("a"), update("b", severity="critical"), update("c", decision="deferred"),
                   update("d", decision="rejected"), update("e", decision="not_applicable"))
    entry = model.host_entry(observe("h", (FACTS, {"ansible_facts": {"fleetpatch": facts}}, False)))
    assert entry["status"] == "non_compliant"
    assert entry["counts"] == {"installed": 98, "deferred": 1, "installed_pending_reboot": 0,
                               "rejected": 1, "missing": 2, "failed": 0, "not_applicable": 1,
                               "critical_non_compliant": 1, "security_non_compliant": 2,
                               "other_non_compliant": 0, "sla_breached": 0}
    assert [u["state"] for u in entry["updates"]] == ["missing", "missing", "deferred", "rejected", "not_applicable"]


def test_installed_updates_come_from_the_record_seen_before_the_apply():
    before = record(update("a"), update("b"), reboot=False)
    after = record(update("b", version="3", decision="deferred"), reboot=True)     # a installed; b's newer is held
    entry = model.host_entry(observe(
        "h", (FACTS, {"ansible_facts": {"fleetpatch": before}}, False),
        (APPLY, {"changes": [{"name": "a", "before": "1", "after": "2"}, {"name": "b", "before": "1", "after": "2"}],
                 "journal": "j1", "record": after, "targets": {"a": "2", "b": "2"}}, False)))
    states = dict(((u["name"], u["available_version"]), u["state"]) for u in entry["updates"])
    assert states == {("a", "2"): "installed", ("b", "3"): "deferred"}
    assert entry["status"] == "pending_reboot" and entry["counts"]["installed_pending_reboot"] == 1
    assert entry["journal"] == "j1" and entry["reboot_required"] and entry["reboot_reasons"] == ["kernel"]


def test_a_reboot_settles_the_pending_reboot():
    after = record(reboot=True)
    entry = model.host_entry(observe(
        "h", (APPLY, {"changes": [], "record": after}, False), ("ansible.builtin.reboot", {"rebooted": True}, False)))
    assert (entry["status"], entry["rebooted"], entry["reboot_required"]) == ("compliant", True, False)


def test_a_rolled_back_host_fails_every_update_it_tried():
    facts = record(update("a"), update("b"), update("c"))
    entry = model.host_entry(observe(
        "h", (FACTS, {"ansible_facts": {"fleetpatch": facts}}, False),
        (APPLY, {"msg": "Failed to install with apt", "changes": [{"name": "a", "before": "1", "after": "2"}],
                 "targets": {"a": "2", "b": "2"}, "journal": "j2"}, True),
        ("fleetpatch.patching.patch_rollback", {"changes": []}, False),
        ("ansible.builtin.set_fact", {"ansible_facts": {"patch_outcome": {"status": "rolled_back", "rolled_back": True,
                                                                          "ring": "test"}}}, False)))
    assert entry["status"] == "rolled_back" and entry["ring"] == "test" and entry["journal"] == "j2"
    assert dict((u["name"], u["state"]) for u in entry["updates"]) == {"a": "failed", "b": "failed", "c": "missing"}
    assert entry["failure"] == {"task": "task", "message": "Failed to install with apt"}
    assert (entry["counts"]["failed"], entry["counts"]["missing"]) == (2, 1)


@pytest.mark.parametrize("unreachable, failed, outcome, expected", [
    (True, False, None, "unreachable"),
    (False, True, None, "failed"),
    (False, False, "failed", "failed"),
    (False, False, None, "unknown"),
])
def test_hosts_without_a_clean_run(unreachable, failed, outcome, expected):
    obs = model.HostObservations("h")
    if unreachable:
        obs.observe("ansible.builtin.ping", {"msg": "ssh: connect refused"}, "Ping", unreachable=True)
    if outcome:
        obs.observe("ansible.builtin.set_fact", {"ansible_facts": {"patch_outcome": {"status": outcome}}}, "t")
    entry = model.host_entry(obs, failed=failed)
    assert entry["status"] == expected
    if unreachable:
        assert entry["failure"] == {"task": "Ping", "message": "ssh: connect refused"}


def test_looped_or_foreign_results_never_break_an_observation():
    obs = observe("h", ("ansible.builtin.command", {"stdout": "x"}, False), ("x.y.z", "not a dict", False),
                  (FACTS, {"ansible_facts": {"fleetpatch": {"no": "updates"}}}, False))
    assert model.host_entry(obs)["status"] == "unknown"


def test_a_synthetic_fleet_report_is_valid_and_adds_up():
    hosts = []
    for host, ring, events in synthetic_fleet.fleet(300, 20, seed=7, hostile=True):
        obs = model.HostObservations(host)
        obs.ring = ring
        for action, result, failed, unreachable in events:
            obs.observe(action, result, "t", failed, unreachable)
        hosts.append(model.host_entry(obs))
    earlier = {"run_id": "r0", "ended_at": "2026-11-24T10:00:00Z", "status": "completed", "hosts": 300,
               "compliant_percent": 5.0, "by_status": dict((s, 0) for s in model.HOST_STATUSES)}
    report = model.build_report(RUN, hosts, [earlier])
    jsonschema.validate(report, SCHEMA)
    summary = report["summary"]
    assert summary["hosts"] == 300 == sum(summary["by_status"].values())
    assert sum(g["hosts"] for g in summary["by_ring"].values()) == 300
    assert summary["counts"]["missing"] == sum(h["counts"]["missing"] for h in hosts)
    assert sum(summary["missing_by_severity"].values()) == summary["counts"]["missing"] + summary["counts"]["failed"]
    assert summary["compliant_percent"] == round(100.0 * summary["by_status"]["compliant"] / 300, 1)
    assert [p["run_id"] for p in report["trend"]] == ["r0", "r1"]
    assert report["run"]["status"] == "failed"        # the synthetic fleet has unreachable hosts
    assert model.build_report(dict(RUN, aborted_by="SIGTERM"), hosts)["run"]["status"] == "aborted"


@pytest.mark.parametrize("said, expected", [
    ({"possible": True, "gaps": {}}, {"possible": True, "gaps": [], "from_files": []}),
    ({"possible": False, "gaps": {"b": "b 2: no source", "a": "a 1: " + "x" * 400}},
     {"possible": False, "gaps": ["a 1: " + "x" * 295, "b 2: no source"], "from_files": []}),
    ({"possible": "yes", "gaps": ["not", "a", "mapping"]}, {"possible": None, "gaps": [], "from_files": []}),
    (None, {"possible": None, "gaps": [], "from_files": []}),
])
def test_whether_a_change_can_be_rolled_back_is_kept_within_bounds(said, expected):
    result = {"changes": [{"name": "a", "before": "1", "after": "2"}], "journal": "j1", "rollback": said,
              "targets": {"a": "2"}, "record": record()}
    entry = model.host_entry(observe("h", (APPLY, result, False)))
    assert entry["rollback"] == expected
    report = model.build_report(RUN, [entry], [])
    jsonschema.validate(report, SCHEMA)


def test_a_host_that_changed_nothing_says_nothing_about_its_rollback():
    result = {"changes": [], "journal": None, "rollback": None, "record": record()}
    entry = model.host_entry(observe("h", (APPLY, result, False)))
    assert entry["rollback"] is None


def test_a_rollback_says_what_it_restored_from_the_rollback_cache():
    entry = model.host_entry(observe(
        "h", (APPLY, {"changes": [{"name": "a", "before": "1", "after": "2"}], "journal": "j1",
                      "rollback": {"possible": True, "gaps": {}}, "record": record()}, False),
        ("fleetpatch.patching.patch_rollback", {"changed": True, "from_files": {"b": "rebuilt", "a": "download"}}, False)))
    assert entry["rolled_back"] and entry["rollback"] == {"possible": True, "gaps": [], "from_files": ["a", "b"]}
    jsonschema.validate(model.build_report(RUN, [entry], []), SCHEMA)


def test_a_schema_1_document_is_upgraded_and_the_original_left_alone():
    counts_1 = {"installed": 5, "installed_other": 2, "installed_pending_reboot": 0, "installed_rejected": 1,
                "missing": 0, "failed": 0, "not_applicable": 0, "critical_non_compliant": 0,
                "security_non_compliant": 0, "other_non_compliant": 0, "sla_breached": 0}
    old = {"schema_version": 1, "kind": model.KIND, "summary": {"hosts": 1, "counts": dict(counts_1)},
           "hosts": [{"host": "a", "counts": dict(counts_1)}, {"host": "b"}], "trend": []}
    new = model.upgrade(old)
    assert new["schema_version"] == model.SCHEMA_VERSION
    for counts in (new["summary"]["counts"], new["hosts"][0]["counts"]):
        assert sorted(counts) == sorted(model.HOST_COUNT_KEYS)
        assert counts["deferred"] == 2 and counts["rejected"] == 1
    assert new["hosts"][1] == {"host": "b"}                      # no counts: nothing made up
    assert old["schema_version"] == 1 and "installed_other" in old["hosts"][0]["counts"]
    current = dict(new)
    assert model.upgrade(current) is current                     # the current schema: as it is
    assert model.upgrade({"kind": "other", "schema_version": 1}) == {"kind": "other", "schema_version": 1}
