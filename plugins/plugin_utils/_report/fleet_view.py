# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet as the history store knows it, for the report's `fleet` (docs/schemas/
compliance_report.schema.json): every host's last known assessment and its age, the inventory
hosts never assessed, what is new and resolved since each host's previous assessment, and the
mean time to remediate by severity. Read by the compliance callback before it appends the run,
with the run's own hosts laid over what the store knows. Private to this collection: may change without notice.

The rules for the last known state and staleness are the compliance inventory plugin's
(_compliance_groups.host_states), so the dashboard and the inventory groups never disagree.
"""

from __future__ import annotations

import datetime
import itertools
from typing import TYPE_CHECKING, Any, Iterable

from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import OPEN_STATES
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._inventory import compliance_groups as rules
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import spill as _report_spill

if TYPE_CHECKING:
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore

MTTR_WINDOW_DAYS = 90
# A host entry's fields that HistoryStore.latest_hosts() returns too.
ENTRY_FIELDS = ("ring", "status", "os", "pkg_mgr", "policy", "assessed_at", "reboot_required", "rebooted",
                "rolled_back")


def fleet_state(store: HistoryStore, report: dict[str, Any], inventory_hosts: Iterable[str] | None, now: datetime.datetime,
                stale_days: int = rules.DEFAULT_STALE_DAYS, mttr_window_days: int = MTTR_WINDOW_DAYS) -> dict[str, Any]:
    """The report's `fleet`: the store's knowledge (read before the run is appended, so that every
    file of the run, report.json included, carries it) with this run's hosts laid over it. now: an
    aware datetime, the controller's clock at the end of the run."""
    latest, last, breaches = _with_this_run(store, report, now)
    snap = rules.snapshot(store.location, now, list(latest.values()), last, breaches)
    states = rules.host_states(snap, list(inventory_hosts or ()), now, stale_days, add_hosts=True)
    hosts, never = [], []
    for name, state in states.items():
        values = state.variables
        if values["assessed_at"] is None:
            never.append(name)
        counts = values["assessed_counts"] or values["counts"] or {}
        hosts.append({
            "host": name, "ring": values["ring"], "in_store": values["in_store"],
            "latest_status": values["status"], "last_known_status": values["last_known_status"],
            "assessed_at": values["assessed_at"], "days_since_assessed": values["days_since_assessed"],
            "stale": values["stale"], "open": int(counts.get("missing") or 0) + int(counts.get("failed") or 0),
            "sla_breached": values["sla_breaches"],
        })
    return {
        "as_of": rules.stamp(now),
        "stale_days": stale_days,
        "hosts": hosts,
        "never_assessed": sorted(never),
        "since_previous": since_previous(store, report, report["run"]["started_at"]),
        "mttr_window_days": mttr_window_days,
        "mttr_days": dict((severity, days) for severity, (_count, days) in
                          store.remediation_days(now - datetime.timedelta(days=mttr_window_days)).items()),
    }


def _with_this_run(store, report, now):
    """(latest entries by host, last assessments by host, SLA breaches) as the store will hold them
    once this run is appended: the store's rows, each host of the run replacing its own. The
    breaches are an iterator (rules.snapshot counts them per host): the run's are read one host at a
    time, never held as a list of every overdue update of the fleet."""
    run = report["run"]
    briefs = _report_spill.briefs(report["hosts"])
    latest = dict((entry["host"], entry) for entry in store.latest_hosts())
    last = store.last_assessed()
    assessed_now = set(h["host"] for h in briefs if h.get("assessed_at"))
    stored = [b for b in store.sla_breaches(now) if b["host"] not in assessed_now]
    for host in briefs:
        name = host["host"]
        latest[name] = dict((key, host.get(key)) for key in ENTRY_FIELDS)
        latest[name].update(host=name, run_id=run["run_id"], ended_at=run["ended_at"],
                            counts=dict(host.get("counts") or {}))
        if name in assessed_now:
            last[name] = {"run_id": run["run_id"], "ended_at": run["ended_at"], "assessed_at": host["assessed_at"],
                          "status": host.get("status"), "counts": dict(host.get("counts") or {})}
    return latest, last, itertools.chain(stored, _run_breaches(report, now.date().isoformat()))


def _run_breaches(report, today):
    """What HistoryStore.sla_breaches counts, of the hosts this run assessed: approved, still open,
    due before today."""
    for host in report["hosts"]:
        if host.get("assessed_at"):
            for update in host.get("updates") or ():
                if (update.get("decision") == "approved" and update.get("state") in OPEN_STATES
                        and update.get("sla_due") and str(update["sla_due"])[:10] < today):
                    yield {"host": host["host"], "sla_due": update["sla_due"]}


def since_previous(store: HistoryStore, report: dict[str, Any], started_at: str) -> dict[str, int]:
    """{new, resolved}: open updates this run found that the host's previous assessment did not,
    and the other way round, over the hosts this run assessed."""
    assessed = [h["host"] for h in _report_spill.briefs(report["hosts"]) if h.get("assessed_at")]
    before = store.previous_open_updates(assessed, started_at)
    new = resolved = 0
    for host in report["hosts"]:
        if not host.get("assessed_at") or host["host"] not in before:
            continue        # not assessed, or a first assessment: nothing to compare with
        now_open = set((u.get("name"), u.get("arch"), u.get("available_version"))
                       for u in host.get("updates") or () if u.get("state") in OPEN_STATES)
        earlier = before[host["host"]]
        new += len(now_open - earlier)
        resolved += len(earlier - now_open)
    return {"new": new, "resolved": resolved}
