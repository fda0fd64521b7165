# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compliance report document (docs/schemas/compliance_report.schema.json), built from what a
run saw of each host. Private to this collection: may change without notice.

The callback feeds a HostObservations per host as results arrive; build_report turns them into the
document every renderer and the history store work from. Nothing here does I/O.
"""

from __future__ import annotations

import collections
import operator
from typing import Any, Callable, Iterable, Sequence

from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import (
    HOST_STATUSES, MISSING_DECISIONS, OPEN_STATES, REPORTED_CLASSIFICATIONS, SEVERITIES, utc_stamp)
from ansible_collections.fleetpatch.patching.plugins.plugin_utils import _host_values

# 2: the counts of updates the baseline defers or rejects are `deferred` and `rejected`; schema 1 called
# them installed_other and installed_rejected, AWS SSM's names for installed packages, which they are not.
SCHEMA_VERSION = 2
KIND = "fleetpatch_compliance_report"
HOST_COUNT_KEYS = ("installed", "installed_pending_reboot", "missing", "failed", "deferred", "rejected",
                   "not_applicable", "critical_non_compliant", "security_non_compliant",
                   "other_non_compliant", "sla_breached")
# What each schema renamed: {from_version: {old count key: new count key}}, for upgrade().
COUNT_RENAMES = {1: {"installed_other": "deferred", "installed_rejected": "rejected"}}


def _renamed_counts(entry, renames):
    """entry (a host entry or the summary) with its counts' keys renamed; anything else as it is."""
    if not isinstance(entry, dict) or not isinstance(entry.get("counts"), dict):
        return entry
    return dict(entry, counts=dict((renames.get(key, key), value) for key, value in entry["counts"].items()))


def upgrade(report: Any) -> Any:
    """A report document of an older schema_version as the current schema writes it (a new dict;
    the argument is left alone). Reports stored or written by an earlier release (schema 1) are read
    through here, so that every reader sees one set of names. A document that is not a compliance
    report, or of an unknown or newer version, is returned as it is: the caller's checks refuse it."""
    if not isinstance(report, dict) or report.get("kind") != KIND:
        return report
    version = report.get("schema_version")
    if not isinstance(version, int) or version not in COUNT_RENAMES:
        return report
    upgraded = dict(report)
    while version in COUNT_RENAMES:
        renames = COUNT_RENAMES[version]
        upgraded["summary"] = _renamed_counts(upgraded.get("summary"), renames)
        if isinstance(upgraded.get("hosts"), list):
            upgraded["hosts"] = [_renamed_counts(host, renames) for host in upgraded["hosts"]]
        version += 1
    upgraded["schema_version"] = version
    return upgraded


def utc_now() -> str:
    """The controller's time, as every timestamp of the report is written."""
    return utc_stamp()


def short_action(action: str | None) -> str:
    """fleetpatch.patching.patch_apply -> patch_apply; ansible.builtin.reboot -> reboot."""
    return (action or "").rsplit(".", 1)[-1]


class HostObservations(object):
    """Everything a run learned about one host, in the order it learned it."""

    def __init__(self, host: str, clock: Callable[[], str] | None = None) -> None:
        """clock: a function giving the controller's time as "YYYY-MM-DDTHH:MM:SSZ" (utc_now; a
        test that builds a past run passes its own)."""
        self.host = host
        self.clock = clock or utc_now
        # What the host says is checked on arrival, and judged by the controller's clock.
        self.values = _host_values.HostValues(host, self.clock()[:10])
        self.ring = None
        self.record = None           # the newest host patch record, without its updates
        self.updates = []            # the newest record's updates, in the report's shape
        self.earlier_updates = []    # the updates lists of the records before the newest
        self.changes = []
        self.tried = set()           # package names the run tried to install
        self.journal = None
        self.rollback = None         # whether the change can be rolled back (rollback_summary)
        self.from_files = []         # what a rollback restored from the rollback cache
        self.rebooted = False
        self.rolled_back = False
        self.health = None
        self.failure = None
        self.unreachable = False
        self.outcome_status = None

    def observe(self, action: str | None, result: Any, task_name: str = "", failed: bool = False, unreachable: bool = False,
                same_task: bool = False) -> None:
        """Take in one task result (already censored for no_log by Ansible). same_task: another
        item of the loop whose previous item was observed last (health checks add up)."""
        result = result if isinstance(result, dict) else {}
        name = short_action(action)
        if unreachable:
            self.unreachable = True
            self.failure = {"task": task_name, "message": str(result.get("msg") or "unreachable")}
            return
        if failed:
            self.failure = {"task": task_name, "message": str(result.get("msg") or "failed")}
        facts = result.get("ansible_facts") or {}
        record = facts.get("fleetpatch") if name == "patch_facts" else result.get("record")
        if isinstance(record, dict) and record.get("updates") is not None:
            self._take_record(record)
        if name == "patch_apply":
            # A failed apply reports what it changed before the failure, and what it tried.
            self.changes = checked_changes(self.values, result.get("changes"))
            targets = result.get("targets")
            self.tried.update(str(n) for n in (targets if isinstance(targets, (dict, list)) else ()))
            self.journal = result.get("journal") or self.journal
            if result.get("journal") or result.get("rollback"):
                self.rollback = rollback_summary(result.get("rollback"))
        elif name == "patch_rollback" and not failed:
            self.rolled_back = True
            if isinstance(result.get("from_files"), dict):
                self.from_files = sorted(str(n)[:ROLLBACK_GAP_CHARS] for n in result["from_files"])[:ROLLBACK_GAPS_SHOWN]
        elif name == "health_check":
            health = {"healthy": result.get("healthy") is True,
                      "failed_checks": [str(c) for c in result.get("failed_checks") or []]}
            if same_task and self.health is not None:
                health = {"healthy": self.health["healthy"] and health["healthy"],
                          "failed_checks": self.health["failed_checks"] + health["failed_checks"]}
            self.health = health
        elif name in ("reboot", "win_reboot") and result.get("rebooted"):
            self.rebooted = True
        outcome = facts.get("patch_outcome")
        if isinstance(outcome, dict):
            self._take_outcome(outcome)

    def _take_record(self, record):
        # The updates are kept as they came, not copied: at 10,000 hosts they are most of the run's
        # memory, and copying them while the run goes on would also wake the garbage collector for
        # nothing. They are put in the report's shape once, at the end (host_updates).
        self.record = self.values.record(
            dict((k, v) for k, v in record.items() if k not in ("updates", "installed")), received_at=self.clock())
        if self.updates:
            self.earlier_updates.append(self.updates)
        self.updates = [u for u in record.get("updates") or () if isinstance(u, dict)]
        self.ring = record.get("ring") or self.ring

    def _take_outcome(self, outcome):
        self.outcome_status = outcome.get("status") or self.outcome_status
        self.rolled_back = self.rolled_back or bool(outcome.get("rolled_back"))
        self.rebooted = self.rebooted or bool(outcome.get("rebooted"))
        self.journal = _host_values.text(outcome.get("journal")) or self.journal
        self.ring = _host_values.text(outcome.get("ring")) or self.ring
        if outcome.get("changes") and not self.changes:
            self.changes = checked_changes(self.values, outcome["changes"])


# A host's words about its rollback cache are data: kept to these bounds.
ROLLBACK_GAPS_SHOWN = 20
ROLLBACK_GAP_CHARS = 300


def rollback_entry(obs: HostObservations) -> dict[str, Any] | None:
    """The host entry's rollback: rollback_summary of the apply, and the packages a rollback took
    from the rollback cache (from_files); null when the run neither changed nor rolled back."""
    if obs.rollback is None and not obs.from_files:
        return None
    return dict(obs.rollback or rollback_summary(None), from_files=list(obs.from_files))


def rollback_summary(secured: Any) -> dict[str, Any]:
    """{possible, gaps} from patch_apply's `rollback` result: possible is true when every version the
    change replaced is secured, false with the gaps, null when the host said nothing usable (the
    cache disabled, a Windows host, a malformed answer)."""
    if not isinstance(secured, dict) or not isinstance(secured.get("possible"), bool):
        return {"possible": None, "gaps": []}
    gaps = secured.get("gaps") if isinstance(secured.get("gaps"), dict) else {}
    return {"possible": secured["possible"],
            "gaps": [str(gaps[name])[:ROLLBACK_GAP_CHARS] for name in sorted(gaps, key=str)][:ROLLBACK_GAPS_SHOWN]}


# The fields of an update in the report, in the order a record that lacks them gets them (_shape).
_SHAPE_ORDER = ("name", "arch", "installed_version", "available_version", "classification", "severity", "advisories",
                "title", "cves", "issued", "first_seen", "decision", "reason", "sla_due", "sla_breached")
_SHAPE_KEYS = frozenset(_SHAPE_ORDER)


def _shape(update):
    """Put an update of a host patch record in the report's shape, in place: the callback owns the
    results by the end of the run, and a copy of half a million updates is what must be avoided."""
    if not update.keys() >= _SHAPE_KEYS:
        # A field the record lacks takes its place first, as null (the value a missing field is read
        # as below). perf: a record's update has them all, and is then shaped with plain subscripts:
        # _shape took 4.2 of the end of the run's 66.9 s under cProfile at 10,000 hosts x 50
        # (bench/compliance_pipeline_bench.py, /tmp/prof-639.txt).
        for key in _SHAPE_ORDER:
            if key not in update:
                update[key] = None
    update["name"] = str(update["name"])
    update["available_version"] = str(update["available_version"] or "")
    # A field left out (None or "") takes its default here; any other value, a falsy number, list or
    # mapping included, is left for HostValues.update to check and warn about: never read as a word
    # of the vocabulary ([] as the classification "other") nor as ids (a string as its letters).
    if not update["classification"] and _host_values.absent(update["classification"]):
        update["classification"] = "other"
    if not update["severity"] and _host_values.absent(update["severity"]):
        update["severity"] = "unknown"
    if update["advisories"].__class__ is not list:
        update["advisories"] = _ids(update["advisories"])
    if update["cves"].__class__ is not list:
        update["cves"] = _ids(update["cves"])
    if not update["decision"] and _host_values.absent(update["decision"]):
        update["decision"] = "approved"
    if not update["reason"] and _host_values.absent(update["reason"]):
        update["reason"] = ""
    # sla_breached: HostValues.update() decides it by the controller's date.
    # Record fields the report does not carry (its schema lists what it does): a tenth of the size
    # of a 10,000-host report.json.
    update.pop("repository", None)
    update.pop("reboot_suggested", None)
    return update


def _ids(value: Any) -> Any:
    """An update's advisories or cves as a list when they are a list in another shape (a tuple), none
    when left out; anything else as it came, for HostValues.ids to refuse with a warning."""
    if _host_values.absent(value):
        return []
    return list(value) if value.__class__ is tuple else value


def name_arch_key(update: dict[str, Any]) -> tuple[str, str | None]:
    """(name, arch) of an update as a checked update has them, for any update a host sent: an earlier
    record's updates are not checked unless the run takes one, and a list where the arch belongs is
    no dictionary key."""
    return (_host_values.text(str(update.get("name"))), _host_values.text(update.get("arch")))


def checked_changes(host_values: _host_values.HostValues, changes: Any) -> list[dict[str, str | None]]:
    """A host's changes ({name, before, after}, text or null each): what is no list of mappings is
    none, with a warning; every value is text, whatever the host sent."""
    if not changes:
        return []
    if not isinstance(changes, list):
        host_values.warn("", "changes", changes, "taken as none")
        return []
    text = _host_values.text
    kept = [{"name": text(str(c.get("name"))), "before": text(c.get("before")), "after": text(c.get("after"))}
            for c in changes if isinstance(c, dict)]
    if len(kept) < len(changes):
        host_values.warn("", "changes", changes, "what is no mapping left out")
    return kept


# The vocabulary's tuples as sets, for the membership test each update takes
_MISSING_DECISIONS = frozenset(MISSING_DECISIONS)
_NAME_ARCH = operator.itemgetter("name", "arch")
# What host_counts reads of an update, counted by distinct combination (a few dozen a host)
_COUNTED = operator.itemgetter("state", "severity", "classification", "sla_breached")
_OPEN_STATES = frozenset(OPEN_STATES)


def host_updates(obs: HostObservations) -> list[dict[str, Any]]:
    """The host's updates after the run, each with its state."""
    check = obs.values.update
    entries = [check(_shape(u)) for u in obs.updates]
    for entry in entries:
        decision = entry["decision"]
        entry["state"] = "missing" if decision in _MISSING_DECISIONS else decision
    if obs.changes:
        # An update the run installed is gone from the newest record; take it from the record seen before.
        listed = set(map(_NAME_ARCH, entries))      # the newest record's updates, shaped in place
        seen = {}                # (name, arch) -> the update as last seen in an earlier record
        for updates in obs.earlier_updates:
            try:
                # perf: the names as they came, as hashable as they nearly always are: name_arch_key for
                # every earlier update cost 1.5 of the end of the run's 50 s under cProfile at 10,000
                # hosts x 50 (bench/compliance_pipeline_bench.py)
                seen.update(((u.get("name"), u.get("arch")), u) for u in updates)
            except TypeError:   # a list where a name or an arch belongs
                seen.update((name_arch_key(u), u) for u in updates)
        seen_by_name = {}
        for key, update in seen.items():
            if key not in listed:
                seen_by_name.setdefault(key[0], []).append((key, update))
        for change in obs.changes:
            for key, update in seen_by_name.get(change.get("name"), ()):
                if key in listed:
                    continue
                if obs.rolled_back:
                    entries.append(dict(check(_shape(update)), state="failed"))
                elif str(update.get("available_version")) == str(change.get("after")):
                    entries.append(dict(check(_shape(update)), state="installed"))
                listed.add(key)
    if obs.rolled_back:
        # Rolled back: what the run tried to install is failed, not merely missing.
        tried = obs.tried | set(c.get("name") for c in obs.changes)
        for entry in entries:
            if entry["state"] == "missing" and entry["name"] in tried:
                entry["state"] = "failed"
    try:
        # perf: a C key (host_counts says what it was worth); where it meets an arch that is not text
        # beside another on one name, the comparison fails and the Python key orders them as it always
        # did (sorted() leaves entries as they were)
        entries = sorted(entries, key=_NAME_ARCH)
    except TypeError:
        entries.sort(key=lambda e: (e["name"], e["arch"] or ""))
    return entries


def host_counts(record: dict[str, Any] | None, updates: list[dict[str, Any]], reboot_pending: bool) -> dict[str, int]:
    # perf: one C pass counts the updates by what is read of them; the sums run over the distinct
    # combinations. With host_updates' C sort key and single pass over states, and the date memo and
    # marshalled spill before them (not measured alone): stash + restored + host_entry 4.09-4.71 ->
    # 2.05-2.29 CPU s at 2,000 hosts x 50 against 639587d (bench/host_entries_bench.py, load 35)
    by_state = collections.Counter()
    critical = security = other = breached = 0
    for (state, severity, classification, sla_breached), count in collections.Counter(map(_COUNTED, updates)).items():
        by_state[state] += count
        if state in _OPEN_STATES:
            if severity == "critical":
                critical += count
            if classification == "security":
                security += count
            if severity != "critical" and classification != "security":
                other += count
            if sla_breached:
                breached += count
    installed_now = by_state["installed"]
    installed_count = int((record or {}).get("installed_count") or 0)
    return {
        "installed": max(installed_count - by_state["missing"] - by_state["failed"], 0),
        "installed_pending_reboot": installed_now if reboot_pending else 0,
        "missing": by_state["missing"],
        "failed": by_state["failed"],
        "deferred": by_state["deferred"],
        "rejected": by_state["rejected"],
        "not_applicable": by_state["not_applicable"],
        "critical_non_compliant": critical,
        "security_non_compliant": security,
        "other_non_compliant": other,
        "sla_breached": breached,
    }


def host_status(obs: HostObservations, counts: dict[str, int], reboot_pending: bool, failed: bool) -> str:
    if obs.unreachable:
        return "unreachable"
    if obs.rolled_back or obs.outcome_status == "rolled_back":
        return "rolled_back"
    if failed or obs.outcome_status == "failed":
        return "failed"
    if obs.record is None:
        return "unknown"
    if counts["missing"] or counts["failed"]:
        return "non_compliant"
    if obs.record.get("status") == "unknown":
        return "unknown"     # the package manager's answer was incomplete: never compliant
    if reboot_pending:
        return "pending_reboot"
    return "compliant"


def host_entry(obs: HostObservations, failed: bool = False) -> dict[str, Any]:
    """The report's entry for one host. failed: Ansible's stats count an unrescued failure."""
    record = obs.record or {}
    updates = host_updates(obs)
    reboot_required = bool(record.get("reboot_required"))
    # A record taken before the reboot still says "required"; the reboot settled it.
    reboot_pending = reboot_required and not obs.rebooted
    if obs.changes and not obs.rolled_back and not obs.rebooted and record.get("reboot_required"):
        reboot_pending = True
    counts = host_counts(record, updates, reboot_pending)
    distribution = " ".join(str(p) for p in (record.get("distribution"), record.get("version")) if p)
    return {
        "host": obs.host,
        "ring": obs.ring,
        "status": host_status(obs, counts, reboot_pending, failed),
        "pkg_mgr": record.get("pkg_mgr"),
        "os": distribution or None,
        "kernel_running": record.get("kernel_running"),
        "assessed_at": record.get("collected_at"),
        "host_clock": record.get("host_clock"),
        "policy": record.get("policy"),
        "reboot_required": reboot_pending,
        "reboot_reasons": list(record.get("reboot_reasons") or []) if reboot_pending else [],
        "rebooted": obs.rebooted,
        "rolled_back": obs.rolled_back,
        "journal": obs.journal,
        "rollback": rollback_entry(obs),
        # the changes are text or null, checked on arrival (checked_changes)
        "changes": [{"name": c.get("name"), "before": c.get("before"), "after": c.get("after")} for c in obs.changes],
        "failure": obs.failure if (failed or obs.unreachable or obs.rolled_back
                                   or obs.outcome_status in ("failed", "rolled_back")) else None,
        "health": obs.health,
        "counts": counts,
        "updates": updates,
        "data_warnings": obs.values.summary(),
        "advisory_feed": advisory_feed_entry(record),
    }


# What the report shows of a record's advisory_feed (apt hosts given a feed, issue 19): which data,
# how old, how many updates it explained, and why it was not used. The record's field was checked by
# _host_values on arrival.
FEED_FIELDS = ("source", "release", "loaded_at", "age_seconds", "joined", "warning")


def advisory_feed_entry(record: dict[str, Any]) -> dict[str, Any] | None:
    feed = record.get("advisory_feed")
    if not isinstance(feed, dict):
        return None
    return dict((field, feed.get(field)) for field in FEED_FIELDS)


def status_counts(hosts: Iterable[dict[str, Any]]) -> dict[str, int]:
    """{status: hosts}, every status of HOST_STATUSES named."""
    tally = collections.Counter(h["status"] for h in hosts)
    return dict((s, tally[s]) for s in HOST_STATUSES)


def percent(part: float, whole: float) -> float | None:
    """Percent of whole, rounded to a tenth; None for no hosts: no hosts is not 100 % compliant."""
    return round(100.0 * part / whole, 1) if whole else None


def _group_summary(hosts):
    by_status = status_counts(hosts)
    return {
        "hosts": len(hosts),
        "compliant_percent": percent(by_status["compliant"], len(hosts)),
        "by_status": by_status,
        "missing": sum(h["counts"]["missing"] for h in hosts),
        # open = missing + failed: what critical_non_compliant and security_non_compliant count too
        "open": sum(h["counts"]["missing"] + h["counts"]["failed"] for h in hosts),
        "critical_non_compliant": sum(h["counts"]["critical_non_compliant"] for h in hosts),
        "sla_breached": sum(h["counts"]["sla_breached"] for h in hosts),
    }


# Rings in rollout order when the run does not say otherwise (_rings.DEFAULT_RINGS' names).
DEFAULT_RING_ORDER = ("test", "pilot", "production")


def ring_order(hosts: Iterable[dict[str, Any]], gates: Iterable[dict[str, Any]] | None = (),
               first_seen: dict[str, int] | None = None) -> list[str]:
    """The report's rings in rollout order: the order of the run's gates, then the order the run
    first met each ring's hosts (first_seen: {ring: sequence}), then test, pilot, production, then
    by name. Never alphabetical for the rings a rollout went through."""
    gate_rank = {}
    for gate in gates or ():
        gate_rank.setdefault(gate.get("ring"), len(gate_rank))
    seen = first_seen or {}
    rings = set(h["ring"] or "(none)" for h in hosts)
    big = len(rings) + len(gate_rank) + len(seen) + len(DEFAULT_RING_ORDER)

    def rank(ring):
        return (gate_rank.get(ring, big), seen.get(ring, big),
                DEFAULT_RING_ORDER.index(ring) if ring in DEFAULT_RING_ORDER else big, ring)
    return sorted(rings, key=rank)


def grouped(hosts: Iterable[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    """{value of key: the group's summary}, by value; a host without one is in "(none)"."""
    groups = collections.defaultdict(list)
    for host in hosts:
        groups[host[key] or "(none)"].append(host)
    return dict((name, _group_summary(members)) for name, members in sorted(groups.items()))


# (open updates by severity, by classification) of some hosts: open_update_tallies(), or what
# _report/assemble.py counts as it goes.
OpenTallies = tuple[collections.Counter[str], collections.Counter[str]]


def open_update_tallies(hosts: Iterable[dict[str, Any]]) -> OpenTallies:
    """(Counter by severity, Counter by classification) of the hosts' open updates."""
    by_severity, by_classification = collections.Counter(), collections.Counter()
    for host in hosts:
        for update in host["updates"]:
            if update["state"] in OPEN_STATES:
                by_severity[update["severity"]] += 1
                by_classification[update["classification"]] += 1
    return by_severity, by_classification


def summarize(hosts: Sequence[dict[str, Any]], open_tallies: OpenTallies | None = None) -> dict[str, Any]:
    """The report's summary. hosts: host entries; or their briefs (entries without updates: what the
    callback keeps in memory at the end of a run) with open_tallies, their open_update_tallies()."""
    by_status = status_counts(hosts)
    counts = dict((k, sum(h["counts"][k] for h in hosts)) for k in HOST_COUNT_KEYS)
    by_severity, by_classification = open_tallies if open_tallies is not None else open_update_tallies(hosts)
    return {
        "hosts": len(hosts),
        "compliant_percent": percent(by_status["compliant"], len(hosts)),
        "by_status": by_status,
        "counts": counts,
        "by_ring": grouped(hosts, "ring"),
        "by_os": grouped(hosts, "os"),
        "by_policy": grouped(hosts, "policy"),
        "missing_by_severity": dict((s, by_severity[s]) for s in SEVERITIES),
        "missing_by_classification": dict((c, by_classification[c]) for c in REPORTED_CLASSIFICATIONS),
        "pending_reboot": sum(1 for h in hosts if h["reboot_required"]),
        "rolled_back": sum(1 for h in hosts if h["rolled_back"]),
        "sla_breached": counts["sla_breached"],
    }


def run_status(hosts: Iterable[dict[str, Any]], aborted_by: str | None = None) -> str:
    if aborted_by:
        return "aborted"
    if any(h["status"] in ("failed", "unreachable", "rolled_back") for h in hosts):
        return "failed"
    return "completed"


def trend_point(report: dict[str, Any]) -> dict[str, Any]:
    summary = report["summary"]
    return {"run_id": report["run"]["run_id"], "ended_at": report["run"]["ended_at"],
            "status": report["run"]["status"], "hosts": summary["hosts"],
            "compliant_percent": summary["compliant_percent"], "by_status": dict(summary["by_status"]),
            "by_ring": ring_points(summary.get("by_ring")), "open": open_figures(summary)}


def open_figures(summary: dict[str, Any]) -> dict[str, int]:
    """{critical, security, sla_breached}: open updates of a summary, for the trend."""
    return {"critical": int((summary.get("missing_by_severity") or {}).get("critical") or 0),
            "security": int((summary.get("missing_by_classification") or {}).get("security") or 0),
            "sla_breached": int(summary.get("sla_breached") or 0)}


def remediated(hosts: Iterable[dict[str, Any]], ended_at: str | None) -> dict[str, dict[str, int]]:
    """{severity: {count, days}}: the updates this run installed (and kept) that have a first-seen
    date, and their days from first seen to the run's end, summed: what mean time to remediate
    adds up over runs (HistoryStore.remediation_days)."""
    totals = {}
    for host in hosts:
        for update in host["updates"]:
            if update["state"] != "installed" or not update["first_seen"]:
                continue
            days = _host_values.days_between(update["first_seen"], ended_at)
            if days is not None and days >= 0:
                figures = totals.setdefault(update["severity"], {"count": 0, "days": 0})
                figures["count"] += 1
                figures["days"] += days
    return totals


def ring_points(by_ring: dict[str, dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """{ring: {hosts, compliant_percent}} of a summary's by_ring: what a per-ring trend draws."""
    return dict((ring, {"hosts": group.get("hosts", 0), "compliant_percent": group.get("compliant_percent")})
                for ring, group in (by_ring or {}).items())


def build_report(run: dict[str, Any], hosts: Iterable[dict[str, Any]], trend: Iterable[dict[str, Any]] | None = None,
                 first_seen_rings: dict[str, int] | None = None) -> dict[str, Any]:
    """The whole document. run: the run's metadata (see the schema); hosts: host entries;
    trend: trend points of earlier runs, oldest first; first_seen_rings: {ring: the order the run
    first met it} (ring_order)."""
    hosts = sorted(hosts, key=lambda h: h["host"])
    return assemble_report(run, hosts, hosts, None, remediated(hosts, run.get("ended_at")), trend, first_seen_rings)


def assemble_report(run: dict[str, Any], hosts: Iterable[dict[str, Any]], briefs: Sequence[dict[str, Any]], open_tallies: OpenTallies | None,
                    remediated_figures: dict[str, dict[str, int]], trend: Iterable[dict[str, Any]] | None = None,
                    first_seen_rings: dict[str, int] | None = None) -> dict[str, Any]:
    """build_report()'s document from its parts, for a caller that never holds every entry (the
    compliance callback, _report/assemble.py): hosts is what the document's hosts are (a list of
    entries, or anything that iterates them by host name); briefs: the same hosts in the same order,
    entries or entries without their updates; open_tallies: open_update_tallies() of the hosts, or
    None to count them from briefs; remediated_figures: remediated() of the hosts."""
    run = dict(run)
    run.setdefault("status", run_status(briefs, run.get("aborted_by")))
    summary = summarize(briefs, open_tallies)
    summary["ring_order"] = ring_order(briefs, run.get("gates"), first_seen_rings)
    summary["remediated"] = remediated_figures
    report = {"schema_version": SCHEMA_VERSION, "kind": KIND, "run": run, "summary": summary,
              "hosts": hosts, "trend": []}
    report["trend"] = list(trend or []) + [trend_point(report)]
    return report
