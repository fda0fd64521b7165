"""An update's shape in the report (model._shape), its order among the host's updates and its
counts: what the faster end of a run (issue 17 item 5) must keep as it was."""
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model

FIELDS = ["name", "arch", "installed_version", "available_version", "classification", "severity", "advisories",
          "title", "cves", "issued", "first_seen", "decision", "reason", "sla_due", "sla_breached"]


def entry(*updates, changes=None):
    obs = model.HostObservations("h", clock=lambda: "2026-11-25T10:00:00Z")
    obs.observe("fleetpatch.patching.patch_facts", {"ansible_facts": {"fleetpatch": {
        "updates": list(updates), "installed_count": 10}}})
    return model.host_entry(obs)


def test_a_field_a_record_lacks_takes_its_place_after_those_it_has():
    shaped = model._shape({"reason": "r", "name": 7, "repository": "main", "held": True, "cves": ("CVE-1",)})
    assert list(shaped) == ["reason", "name", "held", "cves"] + [f for f in FIELDS if f not in ("reason", "name", "cves")]
    shaped.pop("sla_breached")          # HostValues.update() decides it
    assert shaped == {"reason": "r", "name": "7", "cves": ["CVE-1"], "held": True, "arch": None,
                      "installed_version": None, "available_version": "", "classification": "other",
                      "severity": "unknown", "advisories": [], "title": None, "issued": None, "first_seen": None,
                      "decision": "approved", "sla_due": None}
    whole = dict((field, None) for field in FIELDS)
    assert list(model._shape(dict(whole))) == FIELDS


def test_updates_are_ordered_by_name_then_arch_whatever_the_arch():
    host = entry({"name": "b", "arch": "amd64"}, {"name": "a", "arch": "i386"}, {"name": "a", "arch": None},
                 {"name": "a", "arch": "amd64"}, {"name": "c"})
    assert [(u["name"], u["arch"]) for u in host["updates"]] == [
        ("a", None), ("a", "amd64"), ("a", "i386"), ("b", "amd64"), ("c", None)]


def test_the_counts_add_up_by_state_severity_classification_and_breach():
    def update(name, **fields):
        return dict({"name": name, "available_version": "2", "sla_due": "2026-12-01"}, **fields)
    host = entry(update("a", severity="critical", classification="security", sla_due="2026-11-01"),
                 update("b", severity="critical", classification="bugfix"),
                 update("c", severity="low", classification="security", sla_due="2026-11-01"),
                 update("d", severity="low", classification="bugfix"),
                 update("e", severity="critical", decision="deferred", sla_due="2026-11-01"),
                 update("f", decision="blocked", sla_due="2026-11-24"), update("g", decision="not_applicable"))
    assert host["counts"] == {"installed": 5, "installed_pending_reboot": 0, "missing": 5, "failed": 0,
                              "deferred": 1, "rejected": 0, "not_applicable": 1, "critical_non_compliant": 2,
                              "security_non_compliant": 2, "other_non_compliant": 2, "sla_breached": 3}
