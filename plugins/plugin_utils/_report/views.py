# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The views operators act on, drawn from a compliance report document: by update (Katello's
errata page, Azure's updates list), SLA (due soon, overdue), and what the run changed. Pure
functions of the document, shared by the HTML, CSV and Markdown renderers, so that every format
says the same. Private to this collection: may change without notice.
"""

from __future__ import annotations

import collections
import datetime
from typing import Any

from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import (
    HELD_STATES, OPEN_STATES, SEVERITY_RANK)
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render.common import one_line

SLA_SOON_DAYS = 3
# The most urgent SLA rows a report shows (the dashboard's SLA tables); the others are counted only:
# at 100,000 hosts every open update with an SLA date would be millions of rows.
SLA_ROWS = 100


# ---- by update -----------------------------------------------------------------------------------

def update_key(update: dict[str, Any]) -> list[tuple[str, str]]:
    """What identifies an update across hosts: each advisory it belongs to, else the package and
    the version offered (a package without advisory, as apt's are without an advisory feed)."""
    advisories = update.get("advisories") or ()
    if advisories:
        return [("advisory", str(a)) for a in advisories]
    return [("package", "%s %s" % (update.get("name"), update.get("available_version")))]


def _once_per_report(view):
    """perf: the HTML, the updates CSV and the Markdown each draw the views of one report, one after
    the other: each view is computed once (by_update 0.3 s, sla 0.45 s at 10,000 hosts x 10
    updates, bench/fleet_views_bench.py). The report itself is the key, compared by identity, so a
    recycled id never matches. The result is shared: callers do not change it."""
    last = [None, None, None]       # report, arguments, result

    def cached(report, *args):
        if last[0] is report and last[1] == args:
            return last[2]
        result = view(report, *args)
        last[:] = [report, args, result]
        return result
    cached.__doc__ = view.__doc__
    return cached


@_once_per_report
def by_update(report: dict[str, Any]) -> list[dict[str, Any]]:
    """[{id, kind, severity, classification, title, issued, packages, cves, missing, failed,
    installed, held, sla_breached, earliest_due}] where missing/failed/installed/held are sorted
    host names: one row per advisory (or package), the most urgent and widest first."""
    rows = {}
    for host in report.get("hosts") or ():
        name = host.get("host")
        for update in host.get("updates") or ():
            state = update.get("state")
            for kind, ident in update_key(update):
                row = rows.get((kind, ident))
                if row is None:
                    row = rows[(kind, ident)] = {
                        "id": ident, "kind": kind, "severity": "unknown", "classification": update.get("classification"),
                        "title": update.get("title"), "issued": update.get("issued"), "packages": set(), "cves": set(),
                        "missing": set(), "failed": set(), "installed": set(), "held": set(), "sla_breached": set(),
                        "earliest_due": None}
                severity = update.get("severity") or "unknown"
                if SEVERITY_RANK.get(severity, 99) < SEVERITY_RANK.get(row["severity"], 99):
                    row["severity"] = severity
                row["packages"].add(str(update.get("name")))
                row["cves"].update(str(c) for c in update.get("cves") or ())
                if state == "missing":
                    row["missing"].add(name)
                elif state == "failed":
                    row["failed"].add(name)
                elif state == "installed":
                    row["installed"].add(name)
                elif state in HELD_STATES:
                    row["held"].add(name)
                if state in OPEN_STATES:
                    if update.get("sla_breached"):
                        row["sla_breached"].add(name)
                    due = update.get("sla_due")
                    if due and (row["earliest_due"] is None or due < row["earliest_due"]):
                        row["earliest_due"] = due
                if update.get("issued") and (row["issued"] is None or update["issued"] < row["issued"]):
                    row["issued"] = update["issued"]
    result = []
    for row in rows.values():
        for key in ("packages", "cves", "missing", "failed", "installed", "held", "sla_breached"):
            row[key] = sorted(row[key])
        result.append(row)
    result.sort(key=lambda r: (SEVERITY_RANK.get(r["severity"], 99), -len(r["sla_breached"]),
                               -(len(r["missing"]) + len(r["failed"])), r["kind"], r["id"]))
    return result


# ---- SLA -----------------------------------------------------------------------------------------

def report_day(report: dict[str, Any]) -> datetime.date:
    """The date the report judges SLAs by: the day the run ended (the controller's clock)."""
    ended = str((report.get("run") or {}).get("ended_at") or "")[:10]
    try:
        return datetime.date.fromisoformat(ended)
    except ValueError:
        return datetime.datetime.now(datetime.timezone.utc).date()


@_once_per_report
def sla(report: dict[str, Any], soon_days: int = SLA_SOON_DAYS) -> dict[str, Any]:
    """{overdue: [...], due_soon: [...], overdue_count, due_soon_count, by_severity: {severity:
    {overdue, due_soon}}}: the SLA_ROWS most urgent open updates with an SLA date past
    (days_overdue) or within soon_days (days_left), as {host, ring, name, version, severity,
    advisories, sla_due, days}, most urgent first, and how many there are of each."""
    today = report_day(report)
    days_to = {}        # perf: sla_due -> days from today; a fleet shares a few dozen due dates
    overdue, soon = _Urgent(_overdue_rank), _Urgent(_soon_rank)
    tally = collections.OrderedDict((s, {"overdue": 0, "due_soon": 0})
                                    for s in sorted(SEVERITY_RANK, key=SEVERITY_RANK.get))
    for host in report.get("hosts") or ():
        for update in host.get("updates") or ():
            due = update.get("sla_due")
            if update.get("state") not in OPEN_STATES or not due:
                continue
            days = days_to.get(due)
            if days is None:
                try:
                    days = days_to[due] = (datetime.date.fromisoformat(str(due)[:10]) - today).days
                except ValueError:
                    days = days_to[due] = soon_days + 1       # no date: neither overdue nor due soon
            if days > soon_days:
                continue
            row = {"host": host.get("host"), "ring": host.get("ring"), "name": update.get("name"),
                   "version": update.get("available_version"), "severity": update.get("severity") or "unknown",
                   "advisories": list(update.get("advisories") or ()), "sla_due": str(due)[:10], "days": abs(days)}
            bucket = tally.setdefault(row["severity"], {"overdue": 0, "due_soon": 0})
            if days < 0:
                overdue.append(row)
                bucket["overdue"] += 1
            else:
                soon.append(row)
                bucket["due_soon"] += 1
    return {"overdue": overdue.rows(), "due_soon": soon.rows(), "overdue_count": overdue.count,
            "due_soon_count": soon.count, "by_severity": tally, "soon_days": soon_days}


def _overdue_rank(row):
    return (-row["days"], SEVERITY_RANK.get(row["severity"], 99), row["host"], row["name"])


def _soon_rank(row):
    return (row["days"], SEVERITY_RANK.get(row["severity"], 99), row["host"], row["name"])


class _Urgent(object):
    """The SLA_ROWS first rows by rank, and how many were offered: cut back to SLA_ROWS whenever
    it holds ten times as many (a stable sort, so equal ranks keep the order they came in)."""

    def __init__(self, rank):
        self.rank = rank
        self.count = 0
        self._rows = []

    def append(self, row):
        self.count += 1
        self._rows.append(row)
        if len(self._rows) >= 10 * SLA_ROWS:
            self._rows = self.rows()

    def rows(self):
        return sorted(self._rows, key=self.rank)[:SLA_ROWS]


# ---- what the run changed ---------------------------------------------------------------------------

def run_changes(report: dict[str, Any]) -> dict[str, Any]:
    """{installed: [{name, after, hosts}], rebooted: [hosts], rolled_back: [hosts],
    failures_by_package: [{name, hosts}], failures_by_message: [{message, hosts}], manifest}:
    what this run did, rolled up across hosts."""
    installed = collections.defaultdict(set)
    failed_packages = collections.defaultdict(set)
    messages = collections.defaultdict(set)
    rebooted, rolled_back = [], []
    for host in report.get("hosts") or ():
        name = host.get("host")
        if host.get("rebooted"):
            rebooted.append(name)
        if host.get("rolled_back"):
            rolled_back.append(name)
        for change in host.get("changes") or ():
            if host.get("rolled_back"):
                failed_packages[str(change.get("name"))].add(name)
            else:
                installed[(str(change.get("name")), str(change.get("after")))].add(name)
        for update in host.get("updates") or ():
            if update.get("state") == "failed":
                failed_packages[str(update.get("name"))].add(name)
        failure = host.get("failure")
        if failure and host.get("status") in ("failed", "rolled_back", "unreachable"):
            # The message's first 160 characters: the same cause on many hosts is one line.
            messages[one_line(failure.get("message"))[:160]].add(name)
    return {
        "installed": sorted(({"name": n, "after": a, "hosts": sorted(h)} for (n, a), h in installed.items()),
                            key=lambda r: (-len(r["hosts"]), r["name"])),
        "rebooted": sorted(rebooted),
        "rolled_back": sorted(rolled_back),
        "failures_by_package": sorted(({"name": n, "hosts": sorted(h)} for n, h in failed_packages.items()),
                                      key=lambda r: (-len(r["hosts"]), r["name"])),
        "failures_by_message": sorted(({"message": m, "hosts": sorted(h)} for m, h in messages.items()),
                                      key=lambda r: (-len(r["hosts"]), r["message"])),
        # The manifest the run's last open gate promoted: what the later rings install.
        "manifest": next((g.get("manifest") for g in reversed((report.get("run") or {}).get("gates") or ())
                          if g.get("passed") and g.get("manifest")), {}),
    }
