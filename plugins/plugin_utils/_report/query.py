# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reports re-drawn from the history store: one run as it was, a time range as the fleet stood at
its end, narrowed by a JMESPath query over the hosts. Private to this collection: may change."""

from __future__ import annotations

from typing import Any, Iterable

from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model as _report_model

try:
    import jmespath
    JMESPATH_ERROR = None
except ImportError as exc:       # the report role says so when a query is given
    jmespath = None
    JMESPATH_ERROR = exc


class ReportQueryError(Exception):
    pass


def select_hosts(hosts: Iterable[dict[str, Any]], query: str | None) -> list[dict[str, Any]]:
    """The hosts a JMESPath expression keeps. It is applied to the list of host entries and must
    give a list of them back, e.g. [?status=='non_compliant'] or [?ring=='production']."""
    if not query:
        return list(hosts)
    if jmespath is None:
        raise ReportQueryError("a query needs the jmespath Python package on the controller: %s" % JMESPATH_ERROR)
    try:
        selected = jmespath.search(query, list(hosts))
    except jmespath.exceptions.JMESPathError as exc:
        raise ReportQueryError("invalid JMESPath query %r: %s" % (query, exc))
    if selected is None:
        return []
    if not isinstance(selected, list) or not all(isinstance(h, dict) and "host" in h for h in selected):
        raise ReportQueryError("the query %r must select host entries (a filter such as [?status=='failed']), "
                               "not %s" % (query, type(selected).__name__))
    return selected


def combine(reports: list[dict[str, Any]], run_id: str, trend: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """One report from several runs, oldest first: each host as its newest run saw it; the trend
    is the runs themselves, or trend when given (the slices of one sliced AWX job are one run, not
    points of its trend)."""
    if not reports:
        raise ReportQueryError("no run in the history store matches")
    reports = sorted(reports, key=lambda r: r["run"]["ended_at"])
    newest = {}
    for report in reports:
        for host in report["hosts"]:
            newest[host["host"]] = host
    playbooks = []
    for report in reports:
        playbooks.extend(p for p in report["run"]["playbooks"] if p not in playbooks)
    last = reports[-1]["run"]
    run = {
        "run_id": run_id,
        "started_at": reports[0]["run"]["started_at"],
        "ended_at": last["ended_at"],
        "playbooks": playbooks,
        "check_mode": all(r["run"]["check_mode"] for r in reports),
        "controller": last["controller"],
        "ansible_version": last["ansible_version"],
        "collection_version": last["collection_version"],
        "aborted_by": None,
        "gates": [g for r in reports for g in r["run"].get("gates", [])],
    }
    if trend is None:
        trend = [_report_model.trend_point(r) for r in reports[:-1]]
    return _report_model.build_report(run, list(newest.values()), trend)


def narrowed(report: dict[str, Any], query: str | None) -> dict[str, Any]:
    """The same report over the hosts the query keeps, with its summary recomputed."""
    if not query:
        return report
    return _report_model.build_report(dict(report["run"]), select_hosts(report["hosts"], query), report["trend"][:-1])
