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

What the fleet state reads of the run's own hosts (their SLA breaches, their open updates against
each host's previous assessment) the callback gathers as it assembles each host's entry (RunHosts,
fed by _report/assemble.py and attached to the report's hosts as RunHosts.ATTRIBUTE): the fleet state then
reads no host entry back. A report without it (a plain document) is read host by host instead,
with the same result.
"""

from __future__ import annotations

import datetime
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


class RunHosts(object):
    """What the fleet state reads of a run's own hosts, gathered a host entry at a time (add(), by the
    one pass of _report/assemble.py): the SLA breaches of each host the run assessed as of `today`
    (an ISO day: the fleet state's own must be the same for them to be used), and the open updates
    new and resolved since each host's previous assessment, against read_previous()'s. Attached
    to the report's hosts (the callback's SpilledHosts) as ATTRIBUTE."""

    ATTRIBUTE = "run_hosts"

    def __init__(self, today: str, started_at: str) -> None:
        self.today, self.started_at = today, started_at
        self.breaches = {}          # host -> [count, earliest sla_due]: rules.snapshot()'s form
        self.new = self.resolved = 0
        self.failure = None         # the store's exception from read_previous(), raised by fleet_state()
        self._previous = None

    def read_previous(self, store: HistoryStore, hosts: Iterable[str]) -> None:
        """The store's open updates of these hosts' previous assessments: a batch of the run's hosts,
        read before add() sees them (the batch before is let go: the fleet's open updates are never
        held at once). A failure is kept for fleet_state() to raise (the fleet state is then not in
        the report; the store is still used for the rest), and no batch is read after it."""
        if self.failure is not None:
            return
        try:
            self._previous = store.previous_open_updates(hosts, self.started_at)
        except Exception as exc:
            self.failure = exc
            self._previous = None

    def add(self, host: dict[str, Any]) -> None:
        if not host.get("assessed_at"):
            return
        name = host["host"]
        count, earliest = 0, None
        for update in host.get("updates") or ():
            if (update.get("decision") == "approved" and update.get("state") in OPEN_STATES
                    and update.get("sla_due")):
                due = str(update["sla_due"])[:10]
                if due < self.today:
                    count += 1
                    if earliest is None or due < earliest:
                        earliest = due
        if count:
            self.breaches[name] = [count, earliest]
        earlier = self._previous.pop(name, None) if self._previous else None
        if earlier is not None:
            new, resolved = _new_and_resolved(_open_updates(host), earlier)
            self.new += new
            self.resolved += resolved

    def since_previous(self) -> dict[str, int] | None:
        """since_previous()'s figures, or None when the store's were not read."""
        return {"new": self.new, "resolved": self.resolved} if self._previous is not None else None


def _run_hosts(report, today=None):
    """The report's RunHosts when it applies: gathered for the report's run, as of today (when given)."""
    gathered = getattr(report["hosts"], RunHosts.ATTRIBUTE, None)
    if gathered is None or gathered.started_at != report["run"]["started_at"]:
        return None
    if today is not None and gathered.today != today:
        return None
    return gathered


def fleet_state(store: HistoryStore, report: dict[str, Any], inventory_hosts: Iterable[str] | None, now: datetime.datetime,
                stale_days: int = rules.DEFAULT_STALE_DAYS, mttr_window_days: int = MTTR_WINDOW_DAYS) -> dict[str, Any]:
    """The report's `fleet`: the store's knowledge (read before the run is appended, so that every
    file of the run, report.json included, carries it) with this run's hosts laid over it. now: an
    aware datetime, the controller's clock at the end of the run."""
    gathered = _run_hosts(report)
    if gathered is not None and gathered.failure is not None:
        raise gathered.failure
    latest, last, breaches = _with_this_run(store, report, now)
    snap = rules.snapshot(store.location, now, list(latest.values()), last, breaches)
    # perf: one host's state at a time, the fleet's never held at once: 93 MiB of states and copies at
    # 30,000 hosts, the end of the run's peak once the store's document went in pieces
    # (bench/compliance_pipeline_bench.py, RSS traced by phase, 2026-12-02).
    hosts, never = [], []
    for name, state in rules.each_host_state(snap, list(inventory_hosts or ()), now, stale_days, add_hosts=True):
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
    """(latest entries by host, last assessments by host, SLA breaches as {host: [count, earliest
    sla_due]}) as the store will hold them once this run is appended: the store's rows, each host of
    the run replacing its own. The breaches are counted per host, never held one row per overdue
    update of the fleet: the store's by HistoryStore.sla_breach_counts(), the run's gathered
    (RunHosts) or read one host at a time."""
    run = report["run"]
    briefs = _report_spill.briefs(report["hosts"])
    assessed_now = set(h["host"] for h in briefs if h.get("assessed_at"))
    # The store's rows of the hosts this run replaces are not read into memory at all.
    latest = dict((entry["host"], entry) for entry in store.latest_hosts(skip=set(h["host"] for h in briefs)))
    last = store.last_assessed(skip=assessed_now)
    breaches = dict((host, counted) for host, counted in store.sla_breach_counts(now).items()
                    if host not in assessed_now)
    for host in briefs:
        name = host["host"]
        latest[name] = dict((key, host.get(key)) for key in ENTRY_FIELDS)
        # The brief's counts, not a copy of them: rules.host_state copies what it keeps.
        latest[name].update(host=name, run_id=run["run_id"], ended_at=run["ended_at"], counts=host.get("counts") or {})
        if name in assessed_now:
            last[name] = {"run_id": run["run_id"], "ended_at": run["ended_at"], "assessed_at": host["assessed_at"],
                          "status": host.get("status"), "counts": host.get("counts") or {}}
    today = now.date().isoformat()
    gathered = _run_hosts(report, today)
    # None of the run's hosts is among the store's breaches (assessed now), so neither side overwrites the other.
    breaches.update(gathered.breaches if gathered is not None else rules.breach_counts(_run_breaches(report, today)))
    return latest, last, breaches


def _run_breaches(report, today):
    """What HistoryStore.sla_breaches counts, of the hosts this run assessed: approved, still open,
    due before today (RunHosts.add counts the same)."""
    for host in report["hosts"]:
        if host.get("assessed_at"):
            for update in host.get("updates") or ():
                if (update.get("decision") == "approved" and update.get("state") in OPEN_STATES
                        and update.get("sla_due") and str(update["sla_due"])[:10] < today):
                    yield {"host": host["host"], "sla_due": update["sla_due"]}


def _open_updates(host):
    """The host's open updates as (name, arch, available_version)."""
    return set((u.get("name"), u.get("arch"), u.get("available_version"))
               for u in host.get("updates") or () if u.get("state") in OPEN_STATES)


def _new_and_resolved(now_open, earlier):
    """(new, resolved): the host's open updates (now_open, _open_updates()) its previous assessment
    (earlier: a set of (name, arch, available_version)) did not have, and the other way round."""
    return len(now_open - earlier), len(earlier - now_open)


# Hosts whose previous open updates are read from the store at once (the callback's own batches
# are run._assemble's).
PREVIOUS_BATCH = 500


def since_previous(store: HistoryStore, report: dict[str, Any], started_at: str) -> dict[str, int]:
    """{new, resolved}: open updates this run found that the host's previous assessment did not,
    and the other way round, over the hosts this run assessed. The store's side is read a batch of
    hosts at a time."""
    gathered = _run_hosts(report)
    figures = gathered.since_previous() if gathered is not None and gathered.started_at == started_at else None
    if figures is not None:
        return figures
    new = resolved = 0
    for batch in _assessed_open_updates(report["hosts"]):
        before = store.previous_open_updates(batch, started_at)
        for name, now_open in batch.items():
            earlier = before.get(name)
            if earlier is not None:     # else a first assessment: nothing to compare with
                added, gone = _new_and_resolved(now_open, earlier)
                new += added
                resolved += gone
    return {"new": new, "resolved": resolved}


def _assessed_open_updates(hosts):
    """{host: its open updates in this run} of the assessed hosts, PREVIOUS_BATCH hosts at a time."""
    batch = {}
    for host in hosts:
        if host.get("assessed_at"):
            batch[host["host"]] = _open_updates(host)
            if len(batch) >= PREVIOUS_BATCH:
                yield batch
                batch = {}
    if batch:
        yield batch
