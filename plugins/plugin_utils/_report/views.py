# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The views operators act on, drawn from a compliance report document: by update (Katello's
errata page, Azure's updates list), SLA (due soon, overdue), and what the run changed. Shared by
the HTML, CSV and Markdown renderers, so that every format says the same. Private to this
collection: may change without notice.

Each view is an accumulator fed one host entry at a time (ByUpdate, Sla, RunChanges; add(), then
the result). The compliance callback feeds them as it assembles each host's entry (OnePass, fed by
_report/assemble.py: one pass over the hosts for every view, never a read of the spill file of its
own), and attaches them to the report's hosts (OnePass.ATTRIBUTE); the view functions return what was
gathered there when it applies to the report asked about, and otherwise feed a fresh accumulator
from the document's hosts: a plain document (the compliance_report action, a report read back from
the store, the tests) gives the same result either way.
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
_NO_RANK = 99       # the rank of a severity outside SEVERITY_RANK: after every known one


def _one_pass(report):
    return getattr(report.get("hosts"), OnePass.ATTRIBUTE, None)


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


class _Names(object):
    """Whether host names came strictly in order (each after the one before): then each list of
    names a view keeps is sorted already and repeats a name only within one host's updates, one
    after the other (the callback assembles its hosts by name, build_report sorts them)."""

    __slots__ = ("last", "in_order")
    _NONE_YET = object()

    def __init__(self):
        self.last = self._NONE_YET
        self.in_order = True

    def next(self, name):
        if self.in_order and self.last is not self._NONE_YET:
            try:
                self.in_order = name > self.last
            except TypeError:       # a name that is no text (a document written by hand)
                self.in_order = False
        self.last = name


def _sorted_names(names, in_order):
    """A view's list of host names as the view gives it: sorted, each name once."""
    return names if in_order else sorted(set(names))


# ---- by update -----------------------------------------------------------------------------------

def update_key(update: dict[str, Any]) -> list[tuple[str, str]]:
    """What identifies an update across hosts: each advisory it belongs to, else the package and
    the version offered (a package without advisory, as apt's are without an advisory feed)."""
    advisories = update.get("advisories") or ()
    if advisories:
        return [("advisory", str(a)) for a in advisories]
    return [("package", package_ident(update))]


def package_ident(update: dict[str, Any]) -> str:
    """The id of an update that belongs to no advisory: the package and the version offered."""
    return "%s %s" % (update.get("name"), update.get("available_version"))


_HOST_LISTS = ("missing", "failed", "installed", "held", "sla_breached")
_BREACHED = _HOST_LISTS.index("sla_breached")
# state -> (the index in _HOST_LISTS of the row's host list it counts in, or None; whether it is open)
_LISTED = dict([(state, 3) for state in HELD_STATES] + [("missing", 0), ("failed", 1), ("installed", 2)])
_STATE_SLOT = dict((state, (_LISTED.get(state), state in OPEN_STATES)) for state in set(_LISTED) | set(OPEN_STATES))


class _Row(object):
    """A by-update row as it is gathered (by_update's row: to_dict())."""

    __slots__ = ("ident", "kind", "rank", "severity", "classification", "title", "issued", "packages", "cves",
                 "hosts", "earliest_due")

    def __init__(self, kind, ident, update):
        self.ident, self.kind = ident, kind
        self.severity = "unknown"
        self.rank = SEVERITY_RANK.get("unknown", _NO_RANK)
        self.classification, self.title, self.issued = update.get("classification"), update.get("title"), update.get("issued")
        self.packages, self.cves = set(), set()
        self.hosts = tuple([] for _key in _HOST_LISTS)
        self.earliest_due = None

    def to_dict(self, in_order):
        row = {"id": self.ident, "kind": self.kind, "severity": self.severity, "classification": self.classification,
               "title": self.title, "issued": self.issued, "packages": sorted(self.packages), "cves": sorted(self.cves)}
        row.update((key, _sorted_names(names, in_order)) for key, names in zip(_HOST_LISTS, self.hosts))
        row["earliest_due"] = self.earliest_due
        return row


class ByUpdate(object):
    """The by-update view (by_update()), a host entry at a time: add() each, then rows()."""

    def __init__(self) -> None:
        self._advisories = {}       # advisory -> _Row
        self._packages = {}         # "name version" -> _Row
        self._names = _Names()
        self._rows = None

    def add(self, host: dict[str, Any]) -> None:
        # perf: about 10 s a run at 10,000 hosts x 50 updates when every update made a row key per
        # advisory, looked its row up by (kind, id) and added the host to a set per state
        # (bench/compliance_pipeline_bench.py, profiled); now one lookup by advisory, the host's
        # name appended once to a list that comes sorted (_Names).
        name = host.get("host")
        self._names.next(name)
        advisory_rows, package_rows = self._advisories, self._packages
        for update in host.get("updates") or ():
            get = update.get
            advisories = get("advisories")
            if advisories:          # update_key()'s rule, without its list of keys per update
                rows = []
                for advisory in advisories:
                    advisory = str(advisory)
                    row = advisory_rows.get(advisory)
                    if row is None:
                        row = advisory_rows[advisory] = _Row("advisory", advisory, update)
                    rows.append(row)
            else:
                ident = package_ident(update)
                row = package_rows.get(ident)
                if row is None:
                    row = package_rows[ident] = _Row("package", ident, update)
                rows = (row,)
            severity = get("severity") or "unknown"
            rank = SEVERITY_RANK.get(severity, _NO_RANK)
            package = str(get("name"))
            cves = get("cves")
            issued = get("issued")
            try:
                slot, is_open = _STATE_SLOT[get("state")]
            except (KeyError, TypeError):       # no state of the report's (TypeError: not even text)
                slot, is_open = None, False
            if is_open:
                breached, due = get("sla_breached"), get("sla_due")
            else:
                breached = due = None
            for row in rows:
                if rank < row.rank:
                    row.rank, row.severity = rank, severity
                row.packages.add(package)
                if cves:
                    row.cves.update(map(str, cves))
                if slot is not None:
                    names = row.hosts[slot]
                    if not names or names[-1] != name:
                        names.append(name)
                if breached:
                    names = row.hosts[_BREACHED]
                    if not names or names[-1] != name:
                        names.append(name)
                if due and (row.earliest_due is None or due < row.earliest_due):
                    row.earliest_due = due
                if issued and (row.issued is None or issued < row.issued):
                    row.issued = issued

    def rows(self) -> list[dict[str, Any]]:
        """by_update()'s rows of the hosts added (computed once: callers do not change them)."""
        if self._rows is None:
            ordered = self._names.in_order
            rows = [row.to_dict(ordered) for table in (self._advisories, self._packages) for row in table.values()]
            rows.sort(key=lambda r: (SEVERITY_RANK.get(r["severity"], _NO_RANK), -len(r["sla_breached"]),
                                     -(len(r["missing"]) + len(r["failed"])), r["kind"], r["id"]))
            self._rows = rows
        return self._rows


@_once_per_report
def by_update(report: dict[str, Any]) -> list[dict[str, Any]]:
    """[{id, kind, severity, classification, title, issued, packages, cves, missing, failed,
    installed, held, sla_breached, earliest_due}] where missing/failed/installed/held are sorted
    host names: one row per advisory (or package), the most urgent and widest first."""
    gathered = _one_pass(report)
    if gathered is not None:
        return gathered.by_update.rows()
    view = ByUpdate()
    for host in report.get("hosts") or ():
        view.add(host)
    return view.rows()


# ---- SLA -----------------------------------------------------------------------------------------

def report_day(report: dict[str, Any]) -> datetime.date:
    """The date the report judges SLAs by: the day the run ended (the controller's clock)."""
    ended = str((report.get("run") or {}).get("ended_at") or "")[:10]
    try:
        return datetime.date.fromisoformat(ended)
    except ValueError:
        return datetime.datetime.now(datetime.timezone.utc).date()


class Sla(object):
    """The SLA view (sla()) as of a day, a host entry at a time: add() each, then result()."""

    def __init__(self, today: datetime.date, soon_days: int = SLA_SOON_DAYS) -> None:
        self.today, self.soon_days, self.kept = today, soon_days, SLA_ROWS
        self._days_to = {}      # perf: sla_due -> days from today; a fleet shares a few dozen due dates
        self._overdue, self._soon = _Urgent(self.kept), _Urgent(self.kept)
        self._tally = collections.OrderedDict((s, {"overdue": 0, "due_soon": 0})
                                              for s in sorted(SEVERITY_RANK, key=SEVERITY_RANK.get))
        self._result = None

    def fits(self, today: datetime.date, soon_days: int) -> bool:
        """Whether this is the view of that day and soon_days, kept to the SLA_ROWS of now."""
        return (self.today, self.soon_days, self.kept) == (today, soon_days, SLA_ROWS)

    def add(self, host: dict[str, Any]) -> None:
        # perf: a row is made only for an update that can be among the SLA_ROWS most urgent
        # (_Urgent.wants): views.sla was 2.3 CPU s at 10,000 hosts x 50 updates
        # (bench/compliance_pipeline_bench.py), most of it making rows for 137,000 overdue updates.
        days_to, soon_days, today, tally = self._days_to, self.soon_days, self.today, self._tally
        name = host.get("host")
        for update in host.get("updates") or ():
            get = update.get
            due = get("sla_due")
            if not due or get("state") not in OPEN_STATES:
                continue
            days = days_to.get(due)
            if days is None:
                try:
                    days = days_to[due] = (datetime.date.fromisoformat(str(due)[:10]) - today).days
                except ValueError:
                    days = days_to[due] = soon_days + 1       # no date: neither overdue nor due soon
            if days > soon_days:
                continue
            severity = get("severity") or "unknown"
            bucket = tally.get(severity)
            if bucket is None:
                bucket = tally[severity] = {"overdue": 0, "due_soon": 0}
            if days < 0:
                bucket["overdue"] += 1
                urgent = self._overdue
            else:
                bucket["due_soon"] += 1
                urgent = self._soon
            # Most urgent first: most days overdue (days < 0), fewest days left (days >= 0); then by
            # severity, host, package.
            rank = (days, SEVERITY_RANK.get(severity, _NO_RANK), name, get("name"))
            if urgent.wants(rank):
                urgent.append(rank, {
                    "host": name, "ring": host.get("ring"), "name": get("name"), "version": get("available_version"),
                    "severity": severity, "advisories": list(get("advisories") or ()), "sla_due": str(due)[:10],
                    "days": abs(days)})

    def result(self) -> dict[str, Any]:
        """sla()'s result of the hosts added (computed once: callers do not change it)."""
        if self._result is None:
            self._result = {"overdue": self._overdue.rows(), "due_soon": self._soon.rows(),
                            "overdue_count": self._overdue.count, "due_soon_count": self._soon.count,
                            "by_severity": self._tally, "soon_days": self.soon_days}
        return self._result


@_once_per_report
def sla(report: dict[str, Any], soon_days: int = SLA_SOON_DAYS) -> dict[str, Any]:
    """{overdue: [...], due_soon: [...], overdue_count, due_soon_count, by_severity: {severity:
    {overdue, due_soon}}}: the SLA_ROWS most urgent open updates with an SLA date past
    (days_overdue) or within soon_days (days_left), as {host, ring, name, version, severity,
    advisories, sla_due, days}, most urgent first, and how many there are of each."""
    today = report_day(report)
    gathered = _one_pass(report)
    if gathered is not None and gathered.sla.fits(today, soon_days):
        return gathered.sla.result()
    view = Sla(today, soon_days)
    for host in report.get("hosts") or ():
        view.add(host)
    return view.result()


def _first(item):
    return item[0]


class _Urgent(object):
    """The `limit` first rows by rank, and how many were offered: cut back to `limit` whenever it
    holds ten times as many (a stable sort, so equal ranks keep the order they came in). Once
    `limit` rows are kept, a row ranked at or after the last of them cannot be among the first
    (those came before it): wants() says so before the row is made."""

    def __init__(self, limit):
        self.limit = limit
        self.count = 0
        self._rows = []         # (rank, row)
        self._last = None       # the rank of the last of `limit` rows kept, once there are

    def wants(self, rank):
        """Count a row of this rank; whether it may be among the first (then append() it)."""
        self.count += 1
        return self._last is None or rank < self._last

    def append(self, rank, row):
        self._rows.append((rank, row))
        if len(self._rows) >= 10 * self.limit:
            self._rows = self._first_rows()
            if len(self._rows) == self.limit:
                self._last = self._rows[-1][0]

    def _first_rows(self):
        return sorted(self._rows, key=_first)[:self.limit]

    def rows(self):
        return [row for _rank, row in self._first_rows()]


# ---- what the run changed ---------------------------------------------------------------------------

class RunChanges(object):
    """What the run did to its hosts (run_changes() but the manifest), a host entry at a time: add()
    each, then result(run)."""

    def __init__(self) -> None:
        self._installed = collections.defaultdict(set)
        self._failed_packages = collections.defaultdict(set)
        self._messages = collections.defaultdict(set)
        self._rebooted, self._rolled_back = [], []
        self._hosts = None

    def add(self, host: dict[str, Any]) -> None:
        name = host.get("host")
        if host.get("rebooted"):
            self._rebooted.append(name)
        if host.get("rolled_back"):
            self._rolled_back.append(name)
        for change in host.get("changes") or ():
            if host.get("rolled_back"):
                self._failed_packages[str(change.get("name"))].add(name)
            else:
                self._installed[(str(change.get("name")), str(change.get("after")))].add(name)
        for update in host.get("updates") or ():
            if update.get("state") == "failed":
                self._failed_packages[str(update.get("name"))].add(name)
        failure = host.get("failure")
        if failure and host.get("status") in ("failed", "rolled_back", "unreachable"):
            # The message's first 160 characters: the same cause on many hosts is one line.
            self._messages[one_line(failure.get("message"))[:160]].add(name)

    def result(self, run: dict[str, Any] | None) -> dict[str, Any]:
        """run_changes()'s result of the hosts added, in a report whose run is `run`."""
        if self._hosts is None:
            self._hosts = {
                "installed": sorted(({"name": n, "after": a, "hosts": sorted(h)} for (n, a), h in self._installed.items()),
                                    key=lambda r: (-len(r["hosts"]), r["name"])),
                "rebooted": sorted(self._rebooted),
                "rolled_back": sorted(self._rolled_back),
                "failures_by_package": sorted(({"name": n, "hosts": sorted(h)} for n, h in self._failed_packages.items()),
                                              key=lambda r: (-len(r["hosts"]), r["name"])),
                "failures_by_message": sorted(({"message": m, "hosts": sorted(h)} for m, h in self._messages.items()),
                                              key=lambda r: (-len(r["hosts"]), r["message"])),
            }
        # The manifest the run's last open gate promoted: what the later rings install.
        return dict(self._hosts, manifest=next((g.get("manifest") for g in reversed((run or {}).get("gates") or ())
                                                if g.get("passed") and g.get("manifest")), {}))


def run_changes(report: dict[str, Any]) -> dict[str, Any]:
    """{installed: [{name, after, hosts}], rebooted: [hosts], rolled_back: [hosts],
    failures_by_package: [{name, hosts}], failures_by_message: [{message, hosts}], manifest}:
    what this run did, rolled up across hosts."""
    gathered = _one_pass(report)
    if gathered is not None:
        return gathered.changes.result(report.get("run"))
    view = RunChanges()
    for host in report.get("hosts") or ():
        view.add(host)
    return view.result(report.get("run"))


# ---- every view in one pass ---------------------------------------------------------------------------

class OnePass(object):
    """Every view of a report gathered in the one pass that assembles its host entries
    (_report/assemble.py: Assembly.add, by host name): by update, SLA as of the day the run ended
    and SLA_SOON_DAYS (what the renderers draw), what the run changed. Attached to the report's
    hosts (the callback's SpilledHosts) as ATTRIBUTE, where the view functions find it."""

    ATTRIBUTE = "one_pass_views"

    def __init__(self, ended_at: str | None) -> None:
        self.by_update = ByUpdate()
        self.sla = Sla(report_day({"run": {"ended_at": ended_at}}))
        self.changes = RunChanges()

    def add(self, host: dict[str, Any]) -> None:
        self.by_update.add(host)
        self.sla.add(host)
        self.changes.add(host)
