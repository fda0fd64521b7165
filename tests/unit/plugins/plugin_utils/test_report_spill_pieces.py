"""The spill file's pieces (_report/spill.py): the lists taken out of a host's observations come back
as the JSON round trip gave them, for every value a module's result can hold; a str subclass
(Ansible's unsafe text) comes back as its text; a host's hostile text spills like any other."""
import json
import random

import synthetic_fleet
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import spill as _report_spill

CLOCK = "2026-11-25T10:01:00Z"
FACTS = "fleetpatch.patching.patch_facts"


class Unsafe(str):
    """Stands for Ansible's unsafe text: a str subclass, which marshal refuses."""


def observed(updates, changes=None):
    obs = model.HostObservations("h1", clock=lambda: CLOCK)
    obs.observe(FACTS, {"ansible_facts": {"fleetpatch": {"updates": updates, "collected_at": CLOCK}}})
    if changes is not None:
        obs.observe("fleetpatch.patching.patch_apply", {"changes": changes, "record": {"updates": []}})
    return obs


def round_trip(tmp_path, obs):
    spill = _report_spill.Spill.create(str(tmp_path), "r")
    try:
        spill.stash(obs)
        assert isinstance(obs.earlier_updates[0] if obs.earlier_updates else obs.updates, _report_spill.Spilled)
        return spill.restored(obs)
    finally:
        spill.remove()


def test_a_records_updates_come_back_as_the_json_round_trip_gave_them(tmp_path):
    rng = random.Random(7)
    updates = synthetic_fleet.record(rng, "h1", 30)["updates"]
    updates[0].update(title="caf\u00e9 \u2603 <b>", reason=None, sla_breached=True, extra={"a": [1, 2.5, None, True]},
                      installed_version=None, held=False, size=2 ** 70, ratio=-0.0)
    expected = json.loads(json.dumps(updates))
    full = round_trip(tmp_path, observed(updates))
    assert full.updates == expected
    assert [list(u) for u in full.updates] == [list(u) for u in expected]      # the keys' order too
    assert full.updates[0]["size"].__class__ is int and str(full.updates[0]["ratio"]) == "-0.0"


def test_a_str_subclass_in_a_spilled_piece_comes_back_as_the_same_text(tmp_path):
    updates = [{"name": Unsafe("pkg"), "available_version": "2", "title": Unsafe("t\u00e9")}]
    changes = [{"name": Unsafe("pkg"), "before": "1", "after": Unsafe("2")}]
    obs = observed(updates, changes)
    full = round_trip(tmp_path, obs)
    assert full.earlier_updates == [[{"name": "pkg", "available_version": "2", "title": "t\u00e9"}]]
    assert full.changes == [{"name": "pkg", "before": "1", "after": "2"}]
    assert all(v.__class__ is str for u in full.earlier_updates[0] + full.changes for v in u.values())
    assert model.host_entry(full)["changes"] == [{"name": "pkg", "before": "1", "after": "2"}]


def test_a_lone_surrogate_or_nul_a_host_sends_spills_and_its_entry_is_the_in_memory_one(tmp_path):
    """As JSON text, a lone surrogate could not be stored (SQLite's text is UTF-8): the spill file failed
    and every later host's updates stayed in memory. Marshalled, it spills and comes back as it went."""
    hostile = [{"name": "fp-\ud800", "available_version": "2\x00", "title": "\udfff", "advisories": ["A\ud800"],
                "issued": "2026-11-01", "decision": "approved"}]
    expected = model.host_entry(observed(json.loads(json.dumps(hostile))))
    full = round_trip(tmp_path, observed(json.loads(json.dumps(hostile))))
    assert full.updates == hostile
    entry = model.host_entry(full)
    assert entry == expected and entry["updates"][0]["name"] == "fp-\ufffd"


def test_hostile_values_on_one_host_leave_the_next_hosts_entry_intact(tmp_path):
    clean = [{"name": "pkg", "available_version": "2", "issued": "2026-11-01", "severity": "critical",
              "classification": "security", "decision": "approved", "advisories": ["A-1"], "cves": []}]
    hostile = [dict(clean[0], issued="2026-02-30", severity="urgent", title="x\ud800",
                    cves=[None], sla_due=[2026])]
    expected = model.host_entry(observed(json.loads(json.dumps(clean))))
    spill = _report_spill.Spill.create(str(tmp_path), "r")
    try:
        first, second = observed(hostile), observed(json.loads(json.dumps(clean)))
        spill.stash(first)
        spill.stash(second)
        bad = model.host_entry(spill.restored(first))
        good = model.host_entry(spill.restored(second))
    finally:
        spill.remove()
    assert len(bad["data_warnings"]) == 4 and bad["updates"][0]["severity"] == "unknown"
    assert good == expected and good["data_warnings"] == [] and good["updates"][0]["issued"] == "2026-11-01"
