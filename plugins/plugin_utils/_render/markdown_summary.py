# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compliance report as a short Markdown summary: what the end of an AWX job log shows, and
what a merge request comment or chat message can carry. Private to this collection: may change
without notice.

Its length does not grow with the fleet (MAX_LINES): it points at the full files instead.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import STATUS_ORDER
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import views as _report_views
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render.common import (
    MAX_PROBLEMS, awx_text, compliant_share, compliant_text, host_briefs, hosts_worst_first, in_order, one_line,
    open_count, run_duration, status_label, top_open_updates, update_brief)

MAX_LINES = 60
MAX_RINGS = 8
MAX_WORST_HOSTS = 10
MAX_FILES = 8
UPDATES_PER_HOST = 3


CELL_CHARS = 200
# Markdown would turn report data into markup: HTML tags (<img onerror=...>), links and images
# ([x](http://...), ![x](...)), autolinks (<http://...>, http://..., www....). Escaped or defanged
# the way security tooling writes indicators (http[:]//, www[.]): readable, never a link.
_MARKUP = re.compile(r"[\\|<>&\[\]!`*_]")
_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,20}):(?=//)|\b(www)\.", re.IGNORECASE)


def _escape(match):
    char = match.group(0)
    return _ENTITIES.get(char) or "\\" + char


def _defang(match):
    return "%s[:]" % match.group(1) if match.group(1) else "%s[.]" % match.group(2)


def cell(value: Any, none: str = "", limit: int = CELL_CHARS) -> str:
    """Report data as Markdown text (table cells, quoted lines): one line, no control characters,
    markup escaped, links defanged, at most `limit` characters of the value."""
    text = one_line(value, none)
    if len(text) > limit:
        text = text[:limit - 1] + "\u2026"
    return _SCHEME.sub(_defang, _MARKUP.sub(_escape, text))


def _run_lines(report):
    run = report.get("run") or {}
    summary = report.get("summary") or {}
    status = one_line(run.get("status"), "unknown").upper()
    lines = ["## fleetpatch compliance: run %s: %s" % (cell(run.get("run_id")), cell(status))]
    if run.get("status") == "aborted":
        lines += ["", "> **ABORTED** by %s: this report holds only what was known when the run stopped."
                  % cell(run.get("aborted_by"), "a signal")]
    for problem in (run.get("problems") or [])[:MAX_PROBLEMS]:
        lines += ["", "> **Not recorded as asked**: %s" % cell(problem)]
    duration = run_duration(run)
    lines += ["", "%s to %s%s; check mode: %s; %d hosts, **%s**; %d update(s) past their SLA." % (
        cell(run.get("started_at"), "?"), cell(run.get("ended_at"), "?"), " (%s)" % duration if duration else "",
        "yes (nothing was changed)" if run.get("check_mode") else "no", int(summary.get("hosts") or 0),
        compliant_text(summary), int(summary.get("sla_breached") or 0))]
    if awx_text(run):
        lines += ["", cell(awx_text(run), limit=400)]
    gates = run.get("gates") or []
    if gates:
        # The rollout's decisions, in order: a closed gate is why the later rings were not patched.
        lines += ["", "Gates: " + "; ".join(
            "%s **%s** (%d/%d succeeded, %d rolled back, %d failed, %d unreachable)" % (
                cell(g.get("ring"), "?"), "open" if g.get("passed") else "CLOSED", int(g.get("succeeded") or 0),
                int(g.get("hosts") or 0), int(g.get("rolled_back") or 0), int(g.get("failed") or 0),
                int(g.get("unreachable") or 0)) for g in gates[:MAX_RINGS]) + "."]
    return lines


def _status_lines(report):
    by_status = (report.get("summary") or {}).get("by_status") or {}
    lines = ["", "| Status | Hosts |", "|---|---:|"]
    lines += ["| %s | %d |" % (status_label(s), int(by_status.get(s) or 0)) for s in STATUS_ORDER]
    return lines


def _ring_lines(report):
    by_ring = (report.get("summary") or {}).get("by_ring") or {}
    if not by_ring:
        return []
    lines = ["", "### By ring", "",
             "| Ring | Hosts | Compliant | Non-compliant | Failed / rolled back | Unreachable | Open updates "
             "| Critical open |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for ring in in_order(by_ring, (report.get("summary") or {}).get("ring_order"))[:MAX_RINGS]:
        group = by_ring[ring]
        by_status = group.get("by_status") or {}
        lines.append("| %s | %d | %s | %d | %d | %d | %d | %d |" % (
            cell(ring), int(group.get("hosts") or 0), compliant_share(group),
            int(by_status.get("non_compliant") or 0),
            int(by_status.get("failed") or 0) + int(by_status.get("rolled_back") or 0),
            int(by_status.get("unreachable") or 0), int(group.get("open", group.get("missing")) or 0),
            int(group.get("critical_non_compliant") or 0)))
    if len(by_ring) > MAX_RINGS:
        lines.append("| ... %d more ring(s) in the HTML report | | | | | | | |" % (len(by_ring) - MAX_RINGS))
    return lines


PASSING = ("compliant", "pending_reboot")


def _worst_lines(report):
    behind = sum(1 for h in host_briefs(report) if h.get("status") not in PASSING)
    if not behind:
        return ["", "Every host is compliant or only waits for a reboot."]
    lines = ["", "### Worst hosts: %d of the %d not compliant" % (min(behind, MAX_WORST_HOSTS), behind), "",
             "| Host | Ring | Status | Open | Critical / security missing |", "|---|---|---|---:|---|"]
    # Only the hosts shown are read whole (from the spill file, for the callback's report).
    worst = itertools.islice((h for h in hosts_worst_first(report) if h.get("status") not in PASSING),
                             MAX_WORST_HOSTS)
    for host in worst:
        urgent = [u for u in top_open_updates(host)
                  if u.get("severity") == "critical" or u.get("classification") == "security"]
        shown = ", ".join(cell(update_brief(u)) for u in urgent[:UPDATES_PER_HOST])
        if len(urgent) > UPDATES_PER_HOST:
            shown += ", +%d more" % (len(urgent) - UPDATES_PER_HOST)
        if not urgent and host.get("failure"):
            shown = cell(one_line(host["failure"].get("message"))[:120])
        lines.append("| %s | %s | %s | %d | %s |" % (
            cell(host.get("host")), cell(host.get("ring"), "-"), status_label(host.get("status")), open_count(host),
            shown))
    return lines


TOP_UPDATES = 5


def _view_lines(report):
    """SLA, the most urgent updates across hosts, and the fleet's known state: a few lines each."""
    sla = _report_views.sla(report)
    overdue = ", ".join("%d %s" % (c["overdue"], s) for s, c in sla["by_severity"].items() if c["overdue"])
    lines = ["", "SLA: **%d overdue**%s; %d due within %d days." % (
        sla["overdue_count"], " (%s)" % overdue if overdue else "", sla["due_soon_count"], sla["soon_days"])]
    rows = [r for r in _report_views.by_update(report) if r["missing"] or r["failed"]]
    if rows:
        lines += ["", "### Most urgent updates: %d of %d still open somewhere" % (min(len(rows), TOP_UPDATES), len(rows)),
                  "", "| Advisory / package | Severity | Hosts open | Past SLA | CVEs |", "|---|---|---:|---:|---|"]
        for row in rows[:TOP_UPDATES]:
            cves = " ".join(row["cves"][:3]) + (" +%d" % (len(row["cves"]) - 3) if len(row["cves"]) > 3 else "")
            lines.append("| %s | %s | %d | %d | %s |" % (cell(row["id"]), cell(row["severity"]),
                                                         len(row["missing"]) + len(row["failed"]),
                                                         len(row["sla_breached"]), cell(cves, "-")))
    fleet = report.get("fleet")
    if isinstance(fleet, dict):
        hosts = fleet.get("hosts") or []
        since = fleet.get("since_previous") or {}
        lines += ["", "Fleet (history store): %d hosts known, %d not assessed within %d days, %d never assessed; "
                  "since each host's previous assessment %d new and %d resolved open updates." % (
                      len(hosts), sum(1 for h in hosts if h.get("stale")), int(fleet.get("stale_days") or 0),
                      len(fleet.get("never_assessed") or ()), int(since.get("new") or 0),
                      int(since.get("resolved") or 0))]
    return lines


def _file_lines(files):
    if not files:
        return []
    lines = ["", "### Files"]
    items = sorted(files.items())
    # A list, not a table: only line breaks and control characters need to go.
    lines += ["- %s: %s" % (one_line(kind), one_line(path)) for kind, path in items[:MAX_FILES]]
    if len(items) > MAX_FILES:
        lines.append("- ... %d more" % (len(items) - MAX_FILES))
    return lines


def render(report: dict[str, Any], files: dict[str, str] | None = None) -> str:
    """report (the compliance report document) -> Markdown text of at most MAX_LINES lines.
    files: optional mapping of output kind (html, csv, ...) to the path it was written to."""
    lines = _run_lines(report) + _status_lines(report) + _ring_lines(report) + _view_lines(report) + _worst_lines(report)
    # The files always fit: where the rest is, is what a cut summary must still say.
    tail = _file_lines(files)
    return "\n".join(lines[:MAX_LINES - len(tail)] + tail) + "\n"
