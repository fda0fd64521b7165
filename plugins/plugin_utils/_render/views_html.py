# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dashboard's views beside the host list: by update, SLA, what this run changed, and the
fleet's known state from the history store. HTML for _render_html; the data comes from
_report_views (and the document's `fleet`). Private to this collection: may change without notice.

Each view lists at most a fixed number of rows and names of hosts, then says how many more and
where they are (report.updates.csv, report.csv): the page stays small at 10,000 hosts.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import svg_charts as svg
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import views
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render.common import DASH, html_text as esc

UPDATE_ROWS = 300
HOSTS_NAMED = 5
CHANGE_ROWS = 50
FLEET_ROWS = 500


def host_anchor(index: int) -> str:
    """The id of a host's section in the host list (by its place in the list: ids from host names
    would need escaping rules of their own)."""
    return "host-%d" % index


def _host_links(names, anchors, limit=HOSTS_NAMED):
    shown = []
    for name in names[:limit]:
        anchor = anchors.get(name)
        shown.append('<a href="#%s">%s</a>' % (anchor, esc(name)) if anchor else esc(name))
    more = len(names) - limit
    return ", ".join(shown) + (" and %d more" % more if more > 0 else "")


def _severity(value):
    value = value if value in svg.SEVERITY_COLORS else "unknown"
    return '<i class="sev sev-%s">%s</i>' % (value, value)


def updates_section(report: dict[str, Any], anchors: dict[str, str]) -> str:
    """By update: every advisory (or package without one) with the hosts missing it, failed,
    installed by this run, or held back by the baseline; filterable by id, package, CVE, title."""
    rows = views.by_update(report)
    body = []
    for row in rows[:UPDATE_ROWS]:
        open_hosts = row["missing"] + row["failed"]
        body.append(
            '<tr><td class="mono nw">%s</td><td>%s</td><td>%s</td><td class="mono">%s</td><td class="mono">%s</td>'
            '<td class="n">%d</td><td class="n">%d</td><td class="n">%d</td><td class="n">%d</td><td class="n%s">%d</td>'
            '<td class="nw">%s</td><td>%s</td></tr>' % (
                esc(row["id"]), _severity(row["severity"]), esc(row["title"] or row["classification"], DASH),
                esc(" ".join(row["packages"][:10])), esc(" ".join(row["cves"][:20])), len(row["missing"]),
                len(row["failed"]), len(row["installed"]), len(row["held"]),
                " breach" if row["sla_breached"] else "", len(row["sla_breached"]), esc(row["earliest_due"], DASH),
                _host_links(open_hosts, anchors) or DASH))
    more = ('<p class="more">%d more in report.updates.csv (every advisory and package, every host).</p>'
            % (len(rows) - UPDATE_ROWS) if len(rows) > UPDATE_ROWS else "")
    return (
        '<section class="card" id="by-update"><h2>By update (%d)</h2>'
        '<div class="controls" id="upd-controls" hidden><input id="upd-q" type="search" '
        'placeholder="Filter by advisory, CVE, package or title" aria-label="Filter updates">'
        '<span id="upd-shown" class="muted"></span></div>'
        '<div class="tablewrap scroll"><table class="views" id="upd-list"><thead><tr><th>Advisory / package</th><th>Severity</th>'
        '<th>Title</th><th>Packages</th><th>CVEs</th><th class="n">Missing</th><th class="n">Failed</th>'
        '<th class="n">Installed</th><th class="n">Held</th><th class="n">Past SLA</th><th>Earliest due</th>'
        '<th>Hosts still open</th></tr></thead><tbody>%s</tbody></table></div>%s'
        '<p class="more">Missing and failed: hosts that still need it; installed: by this run; held: deferred, '
        'rejected or not applicable by the baseline.</p></section>'
        % (len(rows), "".join(body) or '<tr><td colspan="12" class="muted">No updates.</td></tr>', more))


def sla_section(report: dict[str, Any], anchors: dict[str, str]) -> str:
    """Overdue updates with days overdue, and those due within views.SLA_SOON_DAYS, per severity."""
    data = views.sla(report)
    head = "".join("<th class=\"n\">%s</th>" % esc(s.capitalize()) for s in data["by_severity"])
    tally = ('<table class="views"><thead><tr><th></th>%s</tr></thead><tbody><tr><td>Overdue</td>%s</tr>'
             '<tr><td>Due within %d days</td>%s</tr></tbody></table>' % (
                 head, "".join('<td class="n%s">%d</td>' % (" breach" if c["overdue"] else "", c["overdue"])
                               for c in data["by_severity"].values()),
                 data["soon_days"], "".join('<td class="n">%d</td>' % c["due_soon"]
                                            for c in data["by_severity"].values())))

    def table(rows, total, what):
        if not rows:
            return '<p class="muted">None %s.</p>' % what
        lines = ['<tr><td>%s</td><td>%s</td><td class="mono">%s</td><td>%s</td><td class="mono">%s</td>'
                 '<td>%s</td><td class="n">%d</td></tr>' % (
                     _host_links([r["host"]], anchors), esc(r["ring"], DASH), esc("%s %s" % (r["name"], r["version"])),
                     _severity(r["severity"]), esc(" ".join(r["advisories"][:3]), DASH), esc(r["sla_due"]), r["days"])
                 for r in rows[:views.SLA_ROWS]]
        more = '<p class="more">%d more in report.csv.</p>' % (total - len(lines)) if total > len(lines) else ""
        return ('<div class="tablewrap scroll"><table class="views"><thead><tr><th>Host</th><th>Ring</th><th>Update</th>'
                '<th>Severity</th><th>Advisories</th><th>SLA due</th><th class="n">Days %s</th></tr></thead>'
                '<tbody>%s</tbody></table></div>%s' % (what, "".join(lines), more))
    return ('<section class="card" id="sla"><h2>SLA: overdue and due soon</h2>%s<h3>Overdue (%d)</h3>%s'
            '<h3>Due within %d days (%d)</h3>%s</section>' % (
                tally, data["overdue_count"], table(data["overdue"], data["overdue_count"], "overdue"),
                data["soon_days"], data["due_soon_count"], table(data["due_soon"], data["due_soon_count"], "left")))


def changes_section(report: dict[str, Any], anchors: dict[str, str]) -> str:
    """What this run changed: packages installed (and on how many hosts), hosts rebooted and rolled
    back, the promotion manifest, and failures rolled up by package and by cause."""
    data = views.run_changes(report)
    parts = []
    if data["installed"]:
        rows = "".join('<tr><td class="mono">%s</td><td class="mono">%s</td><td class="n">%d</td><td>%s</td></tr>' % (
            esc(r["name"]), esc(r["after"]), len(r["hosts"]), _host_links(r["hosts"], anchors))
            for r in data["installed"][:CHANGE_ROWS])
        parts.append('<h3>Installed (%d packages)</h3><div class="tablewrap scroll"><table class="views"><thead><tr>'
                     '<th>Package</th><th>Version</th><th class="n">Hosts</th><th>Hosts</th></tr></thead>'
                     '<tbody>%s</tbody></table></div>' % (len(data["installed"]), rows))
    for title, names in (("Rebooted", data["rebooted"]), ("Rolled back", data["rolled_back"])):
        if names:
            parts.append('<p><b>%s (%d):</b> %s</p>' % (title, len(names), _host_links(names, anchors, 50)))
    for title, rows, key in (("Failures by package", data["failures_by_package"], "name"),
                             ("Failures by cause", data["failures_by_message"], "message")):
        if rows:
            lines = "".join('<tr><td>%s</td><td class="n">%d</td><td>%s</td></tr>' % (
                esc(r[key]), len(r["hosts"]), _host_links(r["hosts"], anchors)) for r in rows[:CHANGE_ROWS])
            parts.append('<h3>%s</h3><div class="tablewrap"><table class="views"><thead><tr><th>%s</th>'
                         '<th class="n">Hosts</th><th>Hosts</th></tr></thead><tbody>%s</tbody></table></div>'
                         % (title, "Package" if key == "name" else "Cause", lines))
    if data["manifest"]:
        lines = "".join('<tr><td>%s</td><td class="mono">%s</td><td class="mono">%s</td></tr>' % (
            esc(manager), esc(name), esc(version))
            for manager, packages in sorted(data["manifest"].items()) for name, version in sorted(packages.items()))
        parts.append('<h3>Promoted manifest</h3><p class="more">What the later rings install, exactly.</p>'
                     '<div class="tablewrap"><table class="views"><thead><tr><th>Package manager</th><th>Package</th>'
                     '<th>Version</th></tr></thead><tbody>%s</tbody></table></div>' % lines)
    if not parts:
        parts.append('<p class="muted">This run changed nothing.</p>')
    return '<section class="card" id="changes"><h2>What this run changed</h2>%s</section>' % "".join(parts)


def fleet_section(report: dict[str, Any], anchors: dict[str, str]) -> str:
    """The fleet as the history store knows it (the document's `fleet`, written by the callback):
    every host's last assessment and its age, stale hosts, inventory hosts never assessed, new and
    resolved updates since the previous run, and mean time to remediate by severity."""
    fleet = report.get("fleet")
    if not isinstance(fleet, dict):
        return ('<section class="card" id="fleet"><h2>Fleet state</h2><p class="muted">No history store for this '
                'run: the fleet\u2019s last known state is not available.</p></section>')
    hosts = fleet.get("hosts") or []
    stale = [h for h in hosts if h.get("stale")]
    never = fleet.get("never_assessed") or []
    rows = "".join(
        '<tr%s><td>%s</td><td>%s</td><td><b class="pill st-%s">%s</b></td><td>%s</td><td class="n">%s</td>'
        '<td>%s</td><td class="n">%d</td><td class="n">%d</td></tr>' % (
            ' class="stale"' if h.get("stale") else "", _host_links([h.get("host")], anchors), esc(h.get("ring"), DASH),
            h.get("last_known_status") if h.get("last_known_status") in svg.STATUS_COLORS else "unknown",
            esc(h.get("last_known_status"), "unknown"), esc(h.get("assessed_at"), "never"),
            esc(h.get("days_since_assessed"), DASH), esc(h.get("latest_status"), DASH),
            int(h.get("open") or 0), int(h.get("sla_breached") or 0))
        for h in sorted(hosts, key=lambda h: (not h.get("stale"), -(h.get("days_since_assessed") or 0),
                                              str(h.get("host"))))[:FLEET_ROWS])
    more = ('<p class="more">%d more hosts: ansible-inventory with the compliance inventory plugin lists them all.</p>'
            % (len(hosts) - FLEET_ROWS) if len(hosts) > FLEET_ROWS else "")
    new_resolved = fleet.get("since_previous") or {}
    mttr = fleet.get("mttr_days") or {}
    mttr_cells = "".join('<td class="n">%s</td>' % esc(mttr.get(s) if mttr.get(s) is not None else DASH)
                         for s in svg.SEVERITY_COLORS)
    return (
        '<section class="card" id="fleet"><h2>Fleet state (history store, as of %s)</h2>'
        '<p>%d hosts known; <b>%d not assessed within %d days</b>; %d in the inventory but never assessed%s.</p>'
        '<p>Since the previous assessment of each host: <b>%d new</b> open updates, <b>%d resolved</b>.</p>'
        '<table class="views"><caption>Mean days from first seen to installed, last %d days</caption><thead><tr>%s'
        '</tr></thead><tbody><tr>%s</tr></tbody></table>'
        '<div class="tablewrap scroll"><table class="views"><thead><tr><th>Host</th><th>Ring</th><th>Last known</th>'
        '<th>Assessed</th><th class="n">Days ago</th><th>Latest run</th><th class="n">Open</th>'
        '<th class="n">Past SLA</th></tr></thead><tbody>%s</tbody></table></div>%s</section>' % (
            esc(fleet.get("as_of"), DASH), len(hosts), len(stale), int(fleet.get("stale_days") or 0), len(never),
            (": " + esc(", ".join(never[:HOSTS_NAMED])) + (" and %d more" % (len(never) - HOSTS_NAMED)
                                                           if len(never) > HOSTS_NAMED else "")) if never else "",
            int(new_resolved.get("new") or 0), int(new_resolved.get("resolved") or 0),
            int(fleet.get("mttr_window_days") or 0),
            "".join("<th class=\"n\">%s</th>" % esc(s.capitalize()) for s in svg.SEVERITY_COLORS), mttr_cells,
            rows or '<tr><td colspan="8" class="muted">No host in the store yet.</td></tr>', more))
