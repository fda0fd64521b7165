# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

The patch baseline: which available updates a host must install, which wait, which are refused.
Pure code (no I/O, `now` is a parameter) so that the same function decides on the target
(patch_facts, patch_apply) and on the controller (the evaluate_policy filter, the report):
what the report says is what was installed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import fnmatch

from ansible_collections.fleetpatch.patching.plugins.module_utils import _vocabulary
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError
from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import (
    CLASSIFICATIONS, MISSING_DECISIONS, SEVERITY_RANK)

DEFAULT_POLICY = {
    "name": "default",
    "classifications": list(CLASSIFICATIONS),
    "min_severity": None,
    "include_unknown_severity": True,
    "approve_after_days": 0,
    "include": [],
    "exclude": [],
    "pinned": {},
    "approve": {"names": [], "advisories": [], "cves": []},
    "reject": {"names": [], "advisories": [], "cves": []},
    "sla_days": {"critical": 7, "important": 30, "moderate": 90, "low": 180, "unknown": 30},
    # patch_apply installs only what it could secure a rollback file for (_rollback_cache)
    "require_rollback": False,
}
LIST_KEYS = ("names", "advisories", "cves")


def _per_severity(value, key):
    """An int for every severity, or a dict by severity (missing severities: 'default' or 0)."""
    if value is None:
        value = 0
    if isinstance(value, bool):
        raise PatchError("Invalid policy: %s must be a number of days or a mapping by severity" % key)
    if isinstance(value, int):
        if value < 0:
            raise PatchError("Invalid policy: %s must not be negative" % key)
        return dict((s, value) for s in _vocabulary.SEVERITIES)
    if not isinstance(value, dict):
        raise PatchError("Invalid policy: %s must be a number of days or a mapping by severity, got %r" % (key, value))
    unknown = sorted(set(value) - set(SEVERITY_RANK) - {"default"})
    if unknown:
        raise PatchError("Invalid policy: %s has unknown severities %s (use %s or default)"
                         % (key, ", ".join(unknown), ", ".join(_vocabulary.SEVERITIES)))
    result = {}
    for sev in _vocabulary.SEVERITIES:
        days = value.get(sev, value.get("default", 0))
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise PatchError("Invalid policy: %s.%s must be a non-negative number of days, got %r" % (key, sev, days))
        result[sev] = days
    return result


def normalize_policy(policy):
    """Validate a user's policy and fill in defaults. Raises PatchError naming the bad key."""
    if policy is None:
        policy = {}
    if not isinstance(policy, dict):
        raise PatchError("Invalid policy: expected a mapping, got %s" % type(policy).__name__)
    unknown = sorted(set(policy) - set(DEFAULT_POLICY))
    if unknown:
        raise PatchError("Invalid policy: unknown keys %s (known: %s)"
                         % (", ".join(unknown), ", ".join(sorted(DEFAULT_POLICY))))
    result = dict(DEFAULT_POLICY)
    result.update(dict((k, v) for k, v in policy.items() if v is not None))
    classes = result["classifications"]
    if isinstance(classes, str) or not isinstance(classes, list) or not set(classes) <= set(CLASSIFICATIONS):
        raise PatchError("Invalid policy: classifications must be a list of %s, got %r"
                         % (", ".join(CLASSIFICATIONS), classes))
    if result["min_severity"] is not None and result["min_severity"] not in SEVERITY_RANK:
        raise PatchError("Invalid policy: min_severity must be one of %s, got %r"
                         % (", ".join(_vocabulary.SEVERITIES), result["min_severity"]))
    for key in ("include", "exclude"):
        if isinstance(result[key], str) or not isinstance(result[key], list):
            raise PatchError("Invalid policy: %s must be a list of name patterns" % key)
    if not isinstance(result["require_rollback"], bool):
        raise PatchError("Invalid policy: require_rollback must be true or false, got %r" % (result["require_rollback"],))
    if not isinstance(result["pinned"], dict):
        raise PatchError("Invalid policy: pinned must map package names to versions")
    for key in ("approve", "reject"):
        lists = result[key]
        if not isinstance(lists, dict) or not set(lists) <= set(LIST_KEYS):
            raise PatchError("Invalid policy: %s must be a mapping with keys %s" % (key, ", ".join(LIST_KEYS)))
        result[key] = dict((k, [str(x) for x in lists.get(k) or []]) for k in LIST_KEYS)
    result["approve_after_days"] = _per_severity(result["approve_after_days"], "approve_after_days")
    sla = dict(DEFAULT_POLICY["sla_days"])
    if isinstance(result["sla_days"], dict):
        sla.update(result["sla_days"])
        result["sla_days"] = _per_severity(sla, "sla_days")
    else:
        result["sla_days"] = _per_severity(result["sla_days"], "sla_days")
    return result


def parse_date(value):
    """A date from an ISO date or datetime string (None when absent or unreadable)."""
    if not value:
        return None
    text = str(value).strip().replace("T", " ")
    try:
        return datetime.datetime.strptime(text[:10], "%Y-%m-%d").date()
    except ValueError:
        return None


def matching_pattern(name, patterns):
    """The first of the shell-style patterns (fnmatch, case-sensitive) that name matches, or None:
    the one name filter of the baseline and of patch_apply's names/exclude."""
    return next((p for p in patterns if fnmatch.fnmatchcase(name, p)), None)


def _listed(update, lists):
    """(kind, value) when the update is on one of the lists by name, advisory or CVE."""
    if update["name"] in lists["names"] or matching_pattern(update["name"], lists["names"]):
        return "name", update["name"]
    for adv in update.get("advisories") or []:
        if adv in lists["advisories"]:
            return "advisory", adv
    for cve in update.get("cves") or []:
        if cve in lists["cves"]:
            return "CVE", cve
    return None


def _age_base(update):
    """The date approval delays and SLAs count from: the advisory's issue date, else the day
    this host first saw the version offered."""
    issued = parse_date(update.get("issued"))
    if issued:
        return issued, "issued"
    first_seen = parse_date(update.get("first_seen"))
    if first_seen:
        return first_seen, "first seen"
    return None, None


def decide(update, policy, today):
    """(decision, reason) for one update under a normalized policy."""
    name = update["name"]
    listed = _listed(update, policy["reject"])
    if listed:
        return "rejected", "rejected by %s %s" % listed
    pattern = matching_pattern(name, policy["exclude"])
    if pattern:
        return "rejected", "excluded by pattern %s" % pattern
    if update.get("held"):
        return "rejected", "held by the package manager (apt-mark hold)"
    if policy["include"] and not matching_pattern(name, policy["include"]):
        return "not_applicable", "not matched by any include pattern"
    if name in policy["pinned"]:
        pin = str(policy["pinned"][name])
        if update.get("available_version") != pin:
            return "rejected", "pinned to version %s" % pin
        return "approved", "pinned version %s" % pin
    listed = _listed(update, policy["approve"])
    if listed:
        return "approved", "approved explicitly by %s %s" % listed
    classification = update.get("classification") or "other"
    if classification not in policy["classifications"]:
        return "not_applicable", "classification %s is not in the baseline" % classification
    severity = update.get("severity") or "unknown"
    minimum = policy["min_severity"]
    if minimum is not None:
        if severity == "unknown":
            if not policy["include_unknown_severity"]:
                return "not_applicable", "severity unknown and the baseline requires %s or higher" % minimum
        elif SEVERITY_RANK[severity] > SEVERITY_RANK[minimum]:
            return "not_applicable", "severity %s is below the baseline's %s" % (severity, minimum)
    delay = policy["approve_after_days"][severity]
    base, basis = _age_base(update)
    if delay:
        start = base or today
        approve_on = start + datetime.timedelta(days=delay)
        if today < approve_on:
            return "deferred", "approved on %s (%d days after %s for %s severity)" % (
                approve_on.isoformat(), delay, basis or "today", severity)
    return "approved", "%s update, severity %s" % (classification, severity)


def _today(now):
    """now: None (the current UTC date), a date, a datetime or an ISO date string."""
    if now is None:
        return datetime.datetime.now(datetime.timezone.utc).date()
    if isinstance(now, datetime.datetime):
        return now.date()
    if isinstance(now, datetime.date):
        return now
    parsed = parse_date(now)
    if parsed is None:
        raise PatchError("Invalid date for now: %r (expected YYYY-MM-DD)" % (now,))
    return parsed


def evaluate(record, policy=None, now=None):
    """Decide every update of a host patch record; set its counts, SLA flags and status.
    Returns a new record; the input is not modified."""
    policy = normalize_policy(policy)
    today = _today(now)
    result = dict(record)
    updates = []
    for original in record.get("updates") or []:
        update = dict(original)
        decision, reason = decide(update, policy, today)
        if decision == "approved" and update.get("installable") is False:
            decision, reason = "blocked", "approved, but %s cannot install it: %s" % (
                record.get("pkg_mgr") or "the package manager", update.get("blocked_reason") or "no reason given")
        update["decision"] = decision
        update["reason"] = reason
        update["sla_due"] = None
        update["sla_breached"] = False
        if decision in MISSING_DECISIONS:
            base, _basis = _age_base(update)
            due = (base or today) + datetime.timedelta(days=policy["sla_days"][update.get("severity") or "unknown"])
            update["sla_due"] = due.isoformat()
            update["sla_breached"] = today > due
        updates.append(update)
    result["updates"] = updates
    result["policy"] = policy["name"]
    result["counts"] = count(result)
    result["status"] = status(result)
    return result


def count(record):
    """SSM-style counts of a decided record."""
    updates = record.get("updates") or []
    # a blocked update is missing too: the baseline wants it and the host does not have it
    missing = [u for u in updates if u.get("decision") in MISSING_DECISIONS]

    def tally(key, values, default):
        return dict((v, sum(1 for u in missing if (u.get(key) or default) == v)) for v in values)

    counts = dict(record.get("counts") or {})
    counts.update({
        "installed": record.get("installed_count", 0),
        "available": len(updates),
        "missing": len(missing),
        "blocked": sum(1 for u in updates if u.get("decision") == "blocked"),
        "deferred": sum(1 for u in updates if u.get("decision") == "deferred"),
        "rejected": sum(1 for u in updates if u.get("decision") == "rejected"),
        "not_applicable": sum(1 for u in updates if u.get("decision") == "not_applicable"),
        "missing_by_severity": tally("severity", _vocabulary.SEVERITIES, "unknown"),
        "missing_by_classification": tally("classification", CLASSIFICATIONS, "other"),
        "critical_non_compliant": sum(1 for u in missing if u.get("severity") == "critical"),
        "security_non_compliant": sum(1 for u in missing if u.get("classification") == "security"),
        "sla_breached": sum(1 for u in missing if u.get("sla_breached")),
        "pending_reboot": 1 if record.get("reboot_required") else 0,
    })
    return counts


def status(record):
    """non_compliant when an approved update is missing (true even if the answer is incomplete);
    else unknown when the package manager's answer is incomplete or a transaction was left
    unfinished: nothing proves the host compliant then."""
    if record["counts"]["missing"]:
        return "non_compliant"
    if record.get("incomplete") or record.get("unfinished"):
        return "unknown"
    if record.get("reboot_required"):
        return "pending_reboot"
    return "compliant"
