"""The policy engine: every decision path, delays, SLAs, counts and status."""
import datetime

import pytest
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError
from ansible_collections.fleetpatch.patching.plugins.module_utils._policy import evaluate, normalize_policy

TODAY = datetime.date(2025, 6, 1)


def update(name="openssl", classification="security", severity="critical", issued=None, first_seen="2025-06-01",
           advisories=(), cves=(), version="3.0.16-1"):
    return {"name": name, "arch": "amd64", "installed_version": "3.0.15-1", "available_version": version,
            "classification": classification, "severity": severity, "advisories": list(advisories),
            "cves": list(cves), "issued": issued, "first_seen": first_seen, "repository": "r",
            "reboot_suggested": False}


def decide(u, policy=None, reboot=False):
    record = evaluate({"installed_count": 10, "updates": [u], "reboot_required": reboot}, policy, now=TODAY)
    return record, record["updates"][0]


def test_default_policy_approves_everything_at_once():
    record, u = decide(update(classification="other", severity="unknown"))
    assert u["decision"] == "approved"
    assert record["status"] == "non_compliant"
    assert record["counts"]["missing"] == 1


@pytest.mark.parametrize("policy, decision, reason", [
    ({"reject": {"cves": ["CVE-1"]}}, "rejected", "rejected by CVE CVE-1"),
    ({"reject": {"advisories": ["DSA-1"]}, "approve": {"advisories": ["DSA-1"]}}, "rejected", "rejected by advisory DSA-1"),
    ({"exclude": ["open*"]}, "rejected", "excluded by pattern open*"),
    ({"include": ["kernel*"]}, "not_applicable", "not matched by any include pattern"),
    ({"pinned": {"openssl": "3.0.15-2"}}, "rejected", "pinned to version 3.0.15-2"),
    ({"pinned": {"openssl": "3.0.16-1"}, "classifications": ["bugfix"]}, "approved", "pinned version 3.0.16-1"),
    ({"classifications": ["bugfix"]}, "not_applicable", "classification security is not in the baseline"),
    ({"classifications": ["bugfix"], "approve": {"names": ["open*"]}}, "approved", "approved explicitly by name openssl"),
    ({"min_severity": "critical"}, "approved", "security update, severity critical"),
])
def test_decision_order(policy, decision, reason):
    _record, u = decide(update(cves=["CVE-1"], advisories=["DSA-1"]), policy)
    assert (u["decision"], u["reason"]) == (decision, reason)


def test_min_severity_and_unknown_severity():
    _r, u = decide(update(severity="moderate"), {"min_severity": "important"})
    assert u["decision"] == "not_applicable" and "below the baseline's important" in u["reason"]
    _r, u = decide(update(severity="unknown"), {"min_severity": "important"})
    assert u["decision"] == "approved"
    _r, u = decide(update(severity="unknown"), {"min_severity": "important", "include_unknown_severity": False})
    assert u["decision"] == "not_applicable"


def test_delay_counts_from_issued_else_first_seen():
    policy = {"approve_after_days": {"critical": 0, "moderate": 7, "default": 14}}
    _r, u = decide(update(severity="moderate", issued="2025-05-30"), policy)
    assert u["decision"] == "deferred" and u["reason"].startswith("approved on 2025-06-06 (7 days after issued")
    _r, u = decide(update(severity="moderate", issued="2025-05-20"), policy)
    assert u["decision"] == "approved"
    _r, u = decide(update(severity="unknown", first_seen="2025-05-25"), policy)
    assert u["decision"] == "deferred" and "2025-06-08" in u["reason"] and "first seen" in u["reason"]
    _r, u = decide(update(severity="critical", first_seen="2025-06-01"), policy)
    assert u["decision"] == "approved"


def test_sla_breach_from_issue_date():
    record, u = decide(update(severity="critical", issued="2025-05-01"), {"sla_days": {"critical": 7}})
    assert u["sla_due"] == "2025-05-08" and u["sla_breached"] is True
    assert record["counts"]["sla_breached"] == 1
    record, u = decide(update(severity="critical", first_seen="2025-05-30"), {"sla_days": 7})
    assert u["sla_due"] == "2025-06-06" and u["sla_breached"] is False


def test_status_and_counts():
    record = evaluate({"installed_count": 3, "reboot_required": True, "updates": [
        update("a", "security", "critical"), update("b", "bugfix", "unknown"),
        update("c", "enhancement", "low")]}, {"classifications": ["security", "bugfix"]}, now=TODAY)
    c = record["counts"]
    assert (c["missing"], c["not_applicable"], c["critical_non_compliant"], c["security_non_compliant"]) == (2, 1, 1, 1)
    assert c["missing_by_classification"] == {"security": 1, "bugfix": 1, "enhancement": 0, "other": 0}
    assert c["pending_reboot"] == 1 and record["status"] == "non_compliant"
    none_missing = evaluate({"installed_count": 3, "reboot_required": True, "updates": []}, None, now=TODAY)
    assert none_missing["status"] == "pending_reboot"
    assert evaluate({"updates": []}, None, now=TODAY)["status"] == "compliant"


def test_evaluate_does_not_modify_its_input():
    u = update()
    record = {"updates": [u]}
    evaluate(record, None, now=TODAY)
    assert "decision" not in u


@pytest.mark.parametrize("policy, message", [
    ({"clasifications": []}, "unknown keys clasifications"),
    ({"classifications": "security"}, "classifications must be a list"),
    ({"classifications": ["sec"]}, "classifications must be a list of"),
    ({"min_severity": "urgent"}, "min_severity must be one of"),
    ({"approve_after_days": -1}, "must not be negative"),
    ({"approve_after_days": {"urgent": 1}}, "unknown severities urgent"),
    ({"sla_days": {"critical": "soon"}}, "sla_days.critical must be a non-negative"),
    ({"approve": {"kb": []}}, "approve must be a mapping with keys"),
    ({"exclude": "kernel*"}, "exclude must be a list"),
    ("security", "expected a mapping"),
])
def test_bad_policies_are_named(policy, message):
    with pytest.raises(PatchError, match=message):
        normalize_policy(policy)
