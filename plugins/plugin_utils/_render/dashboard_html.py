# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compliance report as one self-contained HTML dashboard. Private to this collection: may
change without notice.

One file that opens offline, from a mail attachment or an AWX artifact: inline CSS, inline SVG,
no fonts, images or scripts from anywhere. Its Content-Security-Policy allows nothing but the
inline style and the one small script below (by hash), so even a tag that slipped through
escaping could not run. Every text from the document goes through html_text().

Size at fleet scale: a host's drill-down lists at most max_updates_per_host of its open updates
(missing or failed, most urgent first) and at most MAX_CHANGES installed packages, then says how
many more are in report.json / report.csv; updates the baseline holds back are only counted.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any, Iterable

from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import (
    HELD_STATES, REPORTED_CLASSIFICATIONS, SEVERITIES, STATUS_ORDER, STATUS_RANK)
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import svg_charts as svg
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import views_html as view_html
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render.common import (
    DASH, MAX_PROBLEMS, NO_HOSTS, STATUS_LABELS, awx_text, change_count, compliant_share, compliant_text, host_briefs,
    host_rank, hosts_named, html_text as esc, in_order, open_count, percent, run_duration, status_label,
    top_open_updates)

# The drill-down lists at most this many rows over the whole fleet (about 230 bytes each), and
# never fewer than the minimum per host: at 10,000 hosts the page stays near 15 MB.
MAX_UPDATES_PER_HOST = 10
MIN_UPDATES_PER_HOST = 3
UPDATE_ROW_BUDGET = 20000
MAX_CHANGES = 20
MIN_CHANGES = 5
CHANGE_BUDGET = 40000

CSS = """
:root{--ink:#1f2933;--muted:#616e7c;--line:#e4e7eb;--bg:#f5f7fa;--card:#fff;--accent:#1f4e79}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif;-webkit-print-color-adjust:exact;print-color-adjust:exact}
.mono,code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:12.5px}
header.top{background:#17324d;color:#fff;padding:18px 28px 14px}
header.top .brand{font-size:12px;letter-spacing:.08em;text-transform:uppercase;opacity:.75}
header.top h1{margin:4px 0 10px;font-size:22px;font-weight:600;display:flex;gap:12px;align-items:center;
flex-wrap:wrap}
header.top dl{display:flex;flex-wrap:wrap;gap:6px 26px;margin:0;font-size:13px}
header.top dt{opacity:.7;margin-right:6px;display:inline}
header.top dd{margin:0;display:inline}
header.top a.awx{color:#fff}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;font-size:13px;font-weight:700;
letter-spacing:.04em;color:#fff}
.run-completed{background:#2e7d32}.run-failed{background:#ef6c00}.run-aborted{background:#c62828}
.banner{padding:10px 28px;font-weight:600;border-bottom:1px solid var(--line);overflow-wrap:anywhere}
.banner.aborted{background:#fdecea;color:#8e1c1c;border-left:6px solid #c62828}
.banner.check{background:#e8f1fb;color:#0b4a7d;border-left:6px solid #0277bd}
.banner.gate-open{background:#edf7ee;color:#1b5e20;border-left:6px solid #2e7d32;font-weight:400}
main{padding:20px 28px 28px;max-width:1500px;margin:0 auto}
section{margin-bottom:20px}
h2{font-size:16px;margin:0 0 12px;font-weight:600}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(124px,1fr));gap:12px;margin-bottom:20px}
.tile{background:var(--card);border:1px solid var(--line);border-left:5px solid #cbd2d9;border-radius:8px;
padding:10px 12px}
.tile .v{font-size:24px;font-weight:700;line-height:1.2}
.tile .l{font-size:12px;font-weight:600;color:var(--muted);white-space:nowrap}
.tile .s{font-size:12px;color:var(--muted)}
.tile.good{border-left-color:#2e7d32}.tile.warn{border-left-color:#ef6c00}.tile.bad{border-left-color:#c62828}
.tile.info{border-left-color:#0277bd}.tile.bad .v{color:#b71c1c}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:20px;margin-bottom:20px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px 18px}
.donut-row{display:flex;gap:18px;align-items:center;flex-wrap:wrap}
svg.chart{display:block;max-width:100%}
svg.donut{width:150px;height:150px;flex:none}
svg.donut circle{transform:none}
.donut-center{font-size:6.4px;font-weight:700;text-anchor:middle;fill:var(--ink)}
.donut-sub{font-size:3.2px;text-anchor:middle;fill:var(--muted)}
svg.bars{width:100%;max-width:760px}
svg.trend{width:100%}
.bar-label{font-size:12px;text-anchor:end;fill:var(--ink)}
.bar-note{font-size:12px;fill:var(--muted)}
.axis{font-size:11px;fill:var(--muted)}
line.gridline{stroke:var(--line);stroke-width:1}
.area{fill:#2e7d32;fill-opacity:.14}
.line{fill:none;stroke:#2e7d32;stroke-width:2.5}
.trend-last{font-size:12px;font-weight:700}
.muted{color:var(--muted);fill:var(--muted)}
.legend{list-style:none;margin:0;padding:0;font-size:13px}
.legend li{margin:2px 0}
.legend.inline{display:flex;flex-wrap:wrap;gap:2px 16px;margin-top:6px;font-size:12px;color:var(--muted)}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:7px;vertical-align:-1px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.03em}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;padding:6px 0}
caption.muted{font-weight:400;font-size:12.5px}
.tablewrap{overflow-x:auto;margin-top:12px}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff;
white-space:nowrap}
table.upd i{font-style:normal;display:inline-block;padding:0 6px;border-radius:4px;font-size:11.5px;
font-weight:600;color:#fff}
table.upd i.sev-moderate{color:#3e2c00}
table.upd td:nth-child(-n+2),table.upd td:nth-child(5),table.upd td:nth-child(7){font-family:ui-monospace,
SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:12px}
.controls{display:flex;gap:10px;flex-wrap:wrap;align-items:center;margin-bottom:10px}
.controls input,.controls select{font:inherit;padding:5px 8px;border:1px solid #cbd2d9;border-radius:6px}
.controls select{max-width:16em;text-overflow:ellipsis}
.controls input{min-width:260px}
.hosts{border:1px solid var(--line);border-radius:8px;background:var(--card);overflow:hidden}
.hrow{display:grid;grid-template-columns:minmax(190px,2.4fr) minmax(80px,1fr) minmax(130px,1.4fr)
minmax(120px,1.1fr) repeat(5,minmax(58px,.6fr)) minmax(70px,.7fr);gap:8px;align-items:center;padding:6px 12px}
.hhead{background:#f0f3f7;border-bottom:1px solid var(--line);font-size:12px;font-weight:600;color:var(--muted);
text-transform:uppercase;letter-spacing:.03em}
.hhead button{all:unset;cursor:pointer}
.hhead button:focus-visible{outline:2px solid var(--accent)}
.hhead button.on::after{content:" \\2193"}.hhead button.on.up::after{content:" \\2191"}
details.host{border-bottom:1px solid var(--line)}
details.host>summary{list-style:none;cursor:pointer}
details.host>summary::-webkit-details-marker{display:none}
details.host>summary:hover{background:#f8fafc}
details.host>summary .h::before{content:"\\25B8";display:inline-block;width:14px;color:var(--muted)}
details.host[open]>summary .h::before{content:"\\25BE"}
details.host[open]>summary{background:#eef3f8}
.hrow>span:nth-child(n+5){text-align:right;font-variant-numeric:tabular-nums}
.hrow>span:nth-child(2),.hrow>span:nth-child(3){white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.hrow .h{font-weight:600;overflow-wrap:anywhere}
.hb{padding:10px 16px 16px 30px;background:#fbfcfd;border-top:1px solid var(--line)}
.kv{margin:0 0 8px;font-size:13px}
.kv i{font-style:normal;color:var(--muted);margin:0 4px 0 18px}.kv i:first-child{margin-left:0}
.note{margin:6px 0;padding:6px 10px;border-radius:6px;font-size:13px}
.note.fail{background:#fdecea;color:#8e1c1c}.note.rb{background:#f5e9f8;color:#5b1670}
.note.rbt{background:#e8f1fb;color:#0b4a7d}.note.ok{background:#edf7ee;color:#1b5e20}
.more{color:var(--muted);font-size:12.5px;margin:6px 0}
table.upd td{font-size:12.5px}
table.upd tr.failed td{background:#fff4f2}
td.breach{color:#b71c1c;font-weight:600}
.changes{font-size:12.5px;margin:6px 0 0}
.views-nav{display:flex;gap:18px;flex-wrap:wrap;margin:0 0 16px;font-size:13px}
.views-nav a,table.views a{color:var(--accent)}
h3{font-size:14px;margin:14px 0 6px}
table.views td{font-size:12.5px}
table.views td.mono,table.views td:first-child{overflow-wrap:anywhere}
table.views td.nw,table.views th{white-space:nowrap}
.tablewrap.scroll{max-height:460px;overflow:auto}
.tablewrap.scroll thead th{position:sticky;top:0;background:var(--card)}
table.views i.sev{font-style:normal;display:inline-block;padding:0 6px;border-radius:4px;font-size:11.5px;
font-weight:600;color:#fff}
table.views i.sev-moderate{color:#3e2c00}
tr.stale td{background:#fff8e1}
td.n.breach{color:#b71c1c;font-weight:600}
footer{color:var(--muted);font-size:12px;padding:0 28px 24px;max-width:1500px;margin:0 auto}
@media print{
body{background:#fff;font-size:11px}
.controls,.hhead button::after{display:none}
.card,.tile,.hosts{box-shadow:none;break-inside:avoid}
header.top{background:#fff;color:#000;border-bottom:3px solid #17324d}
main{padding:8px 0;max-width:none}
details.host{break-inside:avoid}
}
"""

# Only for filtering and sorting the host list: everything else works without it. No inline event
# handlers (the CSP would refuse them); allowed by its sha256 in the CSP, computed in render().
_SCRIPT_TEMPLATE = """
(function () {
  "use strict";
  var list = document.getElementById("host-list");
  var controls = document.getElementById("host-controls");
  if (!list || !controls) { return; }
  var order = __STATUS_ORDER__;
  var hosts = Array.prototype.filter.call(list.children, function (el) { return el.tagName === "DETAILS"; });
  var text = document.getElementById("host-q");
  var status = document.getElementById("host-status");
  var ring = document.getElementById("host-ring");
  var shown = document.getElementById("host-shown");
  var buttons = Array.prototype.slice.call(document.querySelectorAll(".hhead button"));
  var flag = document.getElementById("host-flag");
  hosts.forEach(function (el, index) {
    el.fpIndex = index;
    el.fpCells = Array.prototype.map.call(el.firstElementChild.children, function (c) { return c.textContent; });
    // the whole section: host, ring, OS, and the advisories, CVEs and packages its drill-down lists
    el.fpText = el.textContent.toLowerCase();
  });
  function flagged(el, f) {
    if (f === "sla") { return Number(el.fpCells[7]) > 0; }
    if (f === "reboot") { return el.fpCells[8] === "yes"; }
    return true;
  }
  function filter() {
    var q = text.value.trim().toLowerCase(), s = status.value, r = ring.value, f = flag.value, n = 0;
    hosts.forEach(function (el) {
      var keep = (!s || el.dataset.st === s) && (!r || el.fpCells[1] === r) && flagged(el, f) &&
        (!q || el.fpText.indexOf(q) !== -1);
      el.hidden = !keep;
      if (keep) { n += 1; }
    });
    shown.textContent = n + " of " + hosts.length + " hosts shown";
  }
  var current = null, direction = 1;
  function key(el, col, kind) {
    if (kind === "rank") { return order.indexOf(el.dataset.st); }
    return kind === "num" ? Number(el.fpCells[col]) : el.fpCells[col];
  }
  function sort(button) {
    var col = Number(button.dataset.col), kind = button.dataset.kind;
    direction = current === col ? -direction : Number(button.dataset.dir);
    current = col;
    hosts.sort(function (a, b) {
      var x = key(a, col, kind), y = key(b, col, kind);
      var c = kind === "text" ? x.localeCompare(y) : x - y;
      return c * direction || a.fpIndex - b.fpIndex;
    });
    var fragment = document.createDocumentFragment();
    hosts.forEach(function (el) { fragment.appendChild(el); });
    list.appendChild(fragment);
    buttons.forEach(function (b) {
      b.classList.toggle("on", b === button);
      b.classList.toggle("up", b === button && direction === 1);
    });
  }
  text.addEventListener("input", filter);
  status.addEventListener("change", filter);
  ring.addEventListener("change", filter);
  flag.addEventListener("change", filter);
  buttons.forEach(function (b) { b.addEventListener("click", function () { sort(b); }); });
  controls.hidden = false;
  filter();
  // A link to a host (#host-N) opens its section, shown whatever the filters say.
  function openLinked() {
    var target = location.hash ? document.getElementById(location.hash.slice(1)) : null;
    if (target && target.tagName === "DETAILS") { target.hidden = false; target.open = true; target.scrollIntoView(); }
  }
  window.addEventListener("hashchange", openLinked);
  openLinked();
  var updQ = document.getElementById("upd-q"), updList = document.getElementById("upd-list");
  if (updQ && updList) {
    var rows = Array.prototype.slice.call(updList.tBodies[0].rows);
    var updShown = document.getElementById("upd-shown");
    rows.forEach(function (row) { row.fpText = row.textContent.toLowerCase(); });
    var filterUpdates = function () {
      var q = updQ.value.trim().toLowerCase(), n = 0;
      rows.forEach(function (row) { row.hidden = !!q && row.fpText.indexOf(q) === -1; if (!row.hidden) { n += 1; } });
      updShown.textContent = n + " of " + rows.length + " shown";
    };
    updQ.addEventListener("input", filterUpdates);
    document.getElementById("upd-controls").hidden = false;
    filterUpdates();
  }
}());
"""
SCRIPT = _SCRIPT_TEMPLATE.replace("__STATUS_ORDER__", json.dumps(list(STATUS_ORDER)))

# (label, how the script compares the column, first click: 1 ascending, -1 descending)
HOST_COLUMNS = (("Host", "text", 1), ("Ring", "text", 1), ("OS", "text", 1), ("Status", "rank", 1),
                ("Open", "num", -1), ("Critical", "num", -1), ("Security", "num", -1), ("Past SLA", "num", -1),
                ("Reboot", "text", -1), ("Installed", "num", -1))


def script_hash(script: str = SCRIPT) -> str:
    """The CSP source that allows exactly this inline script."""
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


def _color_rules():
    rules = [".st-%s{background:%s}" % (k, v) for k, v in svg.STATUS_COLORS.items()]
    rules += [".sev-%s{background:%s}" % (k, v) for k, v in svg.SEVERITY_COLORS.items()]
    return "".join(rules)


def _class(value, allowed, fallback="unknown"):
    """A CSS class name from a document value, only ever one we defined."""
    return value if value in allowed else fallback


def _header(run):
    status = _class(run.get("status"), svg.RUN_COLORS, "failed")
    playbooks = ", ".join(esc(p) for p in run.get("playbooks") or ()) or DASH
    items = [("Started", esc(run.get("started_at"), DASH)), ("Ended", esc(run.get("ended_at"), DASH)),
             ("Duration", esc(run_duration(run), DASH)), ("Check mode", "yes" if run.get("check_mode") else "no"),
             ("Playbooks", playbooks), ("Controller", esc(run.get("controller"), DASH)),
             ("Ansible", esc(run.get("ansible_version"), DASH)),
             ("Collection", esc(run.get("collection_version"), DASH))]
    awx = awx_text(run)
    if awx:
        url = run.get("awx_url") or ""
        # Only a link of ours (http or https, from the callback's awx_url option), never report text as a URL.
        link = url.startswith(("https://", "http://")) and '"' not in url
        items.append(("AWX", '<a class="awx" href="%s" rel="noreferrer">%s</a>' % (esc(url), esc(awx)) if link
                      else esc(awx)))
    sla = run.get("sla_days")
    if isinstance(sla, dict) and sla:
        items.append(("SLA", ", ".join("%s %s d" % (esc(k), esc(v)) for k, v in sorted(sla.items(), key=str))))
    out = ['<header class="top"><div class="brand">fleetpatch.patching &middot; patch compliance report</div>',
           '<h1>Run <span class="mono">%s</span><span class="badge run-%s">%s</span></h1><dl>'
           % (esc(run.get("run_id")), status, esc(run.get("status"), "unknown").upper())]
    out += ["<div><dt>%s</dt><dd>%s</dd></div>" % item for item in items]
    out.append("</dl></header>")
    if run.get("status") == "aborted":
        out.append('<div class="banner aborted" role="alert">ABORTED by %s: this report holds only what was known '
                   'when the run stopped. Hosts not reached yet are missing or unknown.</div>'
                   % esc(run.get("aborted_by"), "a signal"))
    for problem in (run.get("problems") or [])[:MAX_PROBLEMS]:
        out.append('<div class="banner aborted" role="alert">Not recorded as asked: %s</div>' % esc(problem, DASH))
    if run.get("check_mode"):
        out.append('<div class="banner check">Check mode: nothing was installed or rebooted; the figures show what '
                   'the run would have done.</div>')
    for gate in run.get("gates") or ():
        # A closed gate is why the later rings were not patched: say so before any figure. The gate's
        # own message already says "Gate open/closed after ring X"; only a gate without one gets ours.
        message = gate.get("message")
        out.append('<div class="banner %s">%s</div>' % (
            "gate-open" if gate.get("passed") else "aborted",
            esc(message) if message else "Gate after ring %s %s." % (
                esc(gate.get("ring"), DASH), "open" if gate.get("passed") else "CLOSED")))
    return "".join(out)


def _tile(value, label, sub, tone):
    return ('<div class="tile %s"><div class="l">%s</div><div class="v">%s</div><div class="s">%s</div></div>'
            % (tone, label, value, sub))


def _tiles(report):
    summary = report.get("summary") or {}
    by_status = summary.get("by_status") or {}
    hosts = host_briefs(report)
    total = int(summary.get("hosts") or 0)
    critical = int((summary.get("missing_by_severity") or {}).get("critical") or 0)
    critical_hosts = sum(1 for h in hosts if (h.get("counts") or {}).get("critical_non_compliant"))
    breach_hosts = sum(1 for h in hosts if (h.get("counts") or {}).get("sla_breached"))
    open_total = sum(open_count(h) for h in hosts)

    def tone(count, bad="bad"):
        return bad if count else "good"

    compliant = summary.get("compliant_percent")
    if not total or compliant is None:
        compliant_tile = _tile("no hosts", "Compliant", "nothing was assessed", "warn")
    else:
        compliant_tile = _tile(percent(compliant) + "%", "Compliant", "%d hosts" % int(by_status.get("compliant") or 0),
                               "good" if compliant >= 95 else ("warn" if compliant >= 80 else "bad"))
    tiles = [
        _tile(total, "Hosts", "in this run", "info"),
        compliant_tile,
        _tile(int(by_status.get("non_compliant") or 0), "Non-compliant", "%d open updates" % open_total,
              tone(by_status.get("non_compliant"), "warn")),
        _tile(int(by_status.get("failed") or 0), "Failed", "hosts", tone(by_status.get("failed"))),
        _tile(int(by_status.get("unreachable") or 0), "Unreachable", "hosts", tone(by_status.get("unreachable"))),
        _tile(int(summary.get("rolled_back") or 0), "Rolled back", "hosts", tone(summary.get("rolled_back"))),
        # Every host that needs a reboot; the donut's "Pending reboot" status counts those with
        # nothing else outstanding. Both figures are shown here so the two never seem to disagree.
        _tile(int(summary.get("pending_reboot") or 0), "Need a reboot",
              "%d only a reboot, %d also missing updates" % (
                  int(by_status.get("pending_reboot") or 0),
                  int(summary.get("pending_reboot") or 0) - int(by_status.get("pending_reboot") or 0)),
              "info" if summary.get("pending_reboot") else "good"),
        _tile(int(summary.get("sla_breached") or 0), "SLA breaches", "updates on %d hosts" % breach_hosts,
              tone(summary.get("sla_breached"))),
        _tile(critical, "Critical missing", "updates on %d hosts" % critical_hosts, tone(critical)),
    ]
    return '<section class="tiles" aria-label="Fleet summary">%s</section>' % "".join(tiles)


def _legend(parts, prefix):
    items = ['<li><span class="sw %s-%s"></span>%s: <b>%d</b></li>' % (prefix, key, esc(label), count)
             for key, label, count in parts]
    return '<ul class="legend">%s</ul>' % "".join(items)


def _status_card(report):
    summary = report.get("summary") or {}
    by_status = summary.get("by_status") or {}
    parts = [(s, status_label(s), int(by_status.get(s) or 0)) for s in STATUS_ORDER]
    share = compliant_share(summary)
    chart = svg.donut(parts, svg.STATUS_COLORS, "Hosts by status", DASH if share == NO_HOSTS else share,
                      NO_HOSTS if share == NO_HOSTS else "compliant")
    return ('<div class="card"><h2>Hosts by status</h2><div class="donut-row">%s%s</div></div>'
            % (chart, _legend(parts, "st")))


def _severity_card(report):
    summary = report.get("summary") or {}
    by_severity = summary.get("missing_by_severity") or {}
    by_class = summary.get("missing_by_classification") or {}
    parts = [(s, s.capitalize(), int(by_severity.get(s) or 0)) for s in SEVERITIES]
    chart = svg.donut(parts, svg.SEVERITY_COLORS, "Open updates by severity", str(sum(p[2] for p in parts)),
                      "open updates")
    rows = "".join('<tr><td>%s</td><td class="n">%d</td></tr>' % (esc(c.capitalize()), int(by_class.get(c) or 0))
                   for c in REPORTED_CLASSIFICATIONS)
    return ('<div class="card"><h2>Open updates by severity</h2><div class="donut-row">%s%s</div>'
            '<table><caption>Open updates by classification</caption><tbody>%s</tbody></table></div>'
            % (chart, _legend(parts, "sev"), rows))


def _packages_card(report):
    counts = (report.get("summary") or {}).get("counts") or {}
    states = (("Installed, up to date", "installed"), ("Installed, reboot pending", "installed_pending_reboot"),
              ("Deferred by the baseline", "deferred"), ("Rejected by the baseline", "rejected"),
              ("Missing", "missing"), ("Failed", "failed"), ("Not applicable", "not_applicable"))
    rows = "".join('<tr><td>%s</td><td class="n">%d</td></tr>' % (label, int(counts.get(key) or 0))
                   for label, key in states)
    return ('<div class="card"><h2>Packages by state</h2><table><caption class="muted">Summed over hosts, '
            'as SSM patch compliance counts them</caption><tbody>%s</tbody></table></div>' % rows)


def _group_card(title, column, groups, order=None):
    """Stacked bars and the same figures as a table: in `order` (rings: rollout order), else the
    biggest group first in the bars and alphabetical in the table."""
    if order:
        bars = table = [(name, groups[name]) for name in in_order(groups, order)]
    else:
        bars = sorted(groups.items(), key=lambda item: (-(item[1].get("hosts") or 0), item[0]))
        table = sorted(groups.items())
    rows = [(name, group.get("by_status") or {}, compliant_text(group)) for name, group in bars]
    chart = svg.stacked_bars(rows, STATUS_ORDER, svg.STATUS_COLORS, STATUS_LABELS, title)
    head = "".join('<th class="n">%s</th>' % status_label(s) for s in STATUS_ORDER)
    body = []
    for name, group in table:
        by_status = group.get("by_status") or {}
        # Open = missing + failed, the updates the critical and past-SLA columns count among.
        opened = group.get("open", group.get("missing"))
        body.append('<tr><td class="name">%s</td><td class="n">%d</td><td class="n">%s</td>%s<td class="n">%d</td>'
                    '<td class="n">%d</td><td class="n">%d</td></tr>' % (
                        esc(name), int(group.get("hosts") or 0), compliant_share(group),
                        "".join('<td class="n">%d</td>' % int(by_status.get(s) or 0) for s in STATUS_ORDER),
                        int(opened or 0), int(group.get("critical_non_compliant") or 0),
                        int(group.get("sla_breached") or 0)))
    legend = "".join('<li><span class="sw st-%s"></span>%s</li>' % (s, status_label(s)) for s in STATUS_ORDER)
    return ('<section class="card"><h2>%s</h2>%s<ul class="legend inline">%s</ul><div class="tablewrap"><table><thead><tr><th>%s</th>'
            '<th class="n">Hosts</th><th class="n">Compliant</th>%s<th class="n">Open updates</th>'
            '<th class="n">Critical open</th><th class="n">Past SLA</th></tr></thead><tbody>%s</tbody></table></div></section>'
            % (title, chart, legend, column, head, "".join(body)))


def _trend_card(report):
    points = report.get("trend") or []
    ring_order = (report.get("summary") or {}).get("ring_order") or ()
    rows = "".join('<tr><td class="mono">%s</td><td>%s</td><td>%s</td><td class="n">%s</td><td class="n">%s</td>'
                   '<td>%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td></tr>' % (
                       esc(p.get("run_id")), esc(p.get("ended_at")), esc(p.get("status")), esc(p.get("hosts")),
                       compliant_share(p), esc(", ".join(in_order(p.get("by_ring") or {}, ring_order))),
                       esc((p.get("open") or {}).get("critical", DASH)), esc((p.get("open") or {}).get("security", DASH)),
                       esc((p.get("open") or {}).get("sla_breached", DASH)))
                   for p in reversed(points[-svg.MAX_TREND_POINTS:]))
    return ('<section class="card"><h2>Compliance over the last %d run(s)</h2>%s'
            '<details><summary>Trend data</summary><div class="tablewrap"><table><thead><tr><th>Run</th>'
            '<th>Ended</th><th>Status</th><th class="n">Hosts</th><th class="n">Compliant</th><th>Rings</th>'
            '<th class="n">Critical open</th><th class="n">Security open</th><th class="n">Past SLA</th></tr></thead>'
            '<tbody>%s</tbody></table></div></details></section>'
            % (min(len(points), svg.MAX_TREND_POINTS),
               svg.trend(points, "Compliant hosts per run, in percent", (report.get("summary") or {}).get("ring_order") or ()),
               rows))


def detail_limits(hosts: Iterable[dict[str, Any]], max_updates_per_host: int | None = None) -> tuple[int, int]:
    """(open updates, installed packages) listed per host: as many as fit the fleet's budget."""
    if max_updates_per_host is not None:
        return max_updates_per_host, MAX_CHANGES
    with_open = sum(1 for h in hosts if open_count(h)) or 1
    with_changes = sum(1 for h in hosts if change_count(h)) or 1
    return (min(MAX_UPDATES_PER_HOST, max(MIN_UPDATES_PER_HOST, UPDATE_ROW_BUDGET // with_open)),
            min(MAX_CHANGES, max(MIN_CHANGES, CHANGE_BUDGET // with_changes)))


def _update_row(update):
    if update.get("sla_due"):
        due = esc(update.get("sla_due")) + (" \u26a0 breached" if update.get("sla_breached") else "")
    else:
        due = DASH
    return ('<tr%s><td>%s</td><td>%s \u2192 %s</td><td><i class="sev-%s">%s</i></td><td>%s</td><td>%s</td><td>%s</td>'
            '<td>%s</td><td>%s</td><td%s>%s</td><td>%s</td></tr>' % (
                ' class="failed"' if update.get("state") == "failed" else "", esc(update.get("name")),
                esc(update.get("installed_version"), DASH), esc(update.get("available_version")),
                _class(update.get("severity"), svg.SEVERITY_COLORS), esc(update.get("severity")),
                esc(update.get("classification")), " ".join(esc(a) for a in update.get("advisories") or ()),
                esc(update.get("title"), DASH), " ".join(esc(c) for c in update.get("cves") or ()),
                esc(update.get("first_seen"), DASH), ' class="breach"' if update.get("sla_breached") else "", due,
                esc(update.get("state"))))


def _feed_age(seconds):
    if not isinstance(seconds, int):
        return "of unknown age"
    if seconds < 7200:
        return "%d min old" % (seconds // 60)
    if seconds < 172800:
        return "%d h old" % (seconds // 3600)
    return "%d days old" % (seconds // 86400)


def _data_notes(host):
    """What the report knows of the data behind the host's record: its advisory feed (apt hosts),
    and the values the controller could not take from the host (_host_values)."""
    out = []
    feed = host.get("advisory_feed")
    if feed and feed.get("warning"):
        out.append('<p class="note fail"><b>Advisory data not used:</b> %s. Its apt updates keep severity unknown '
                   'and their first-seen dates.</p>' % esc(feed["warning"]))
    elif feed:
        out.append('<p class="note"><b>Advisory data:</b> %s %s, loaded %s (%s); %s update(s) given advisories or '
                   'CVEs.</p>' % (esc(", ".join(os.path.basename(s) for s in feed.get("source") or ()) or None, DASH),
                                  esc(feed.get("release"), ""), esc(feed.get("loaded_at"), DASH),
                                  _feed_age(feed.get("age_seconds")), esc(feed.get("joined"), "0")))
    warnings = host.get("data_warnings") or ()
    if warnings:
        out.append('<p class="note fail"><b>Values this host reported that the controller could not use '
                   '(%d):</b> %s</p>' % (len(warnings), "; ".join(esc(w) for w in warnings)))
    return out


def _notes(host):
    out = []
    failure = host.get("failure")
    if failure:
        out.append('<p class="note fail"><b>Failed task \u201c%s\u201d:</b> %s</p>'
                   % (esc(failure.get("task"), DASH), esc(failure.get("message"))))
    if host.get("rolled_back"):
        out.append('<p class="note rb"><b>Rolled back</b> from journal <code>%s</code>: the packages this run '
                   'installed were restored to their earlier versions.</p>' % esc(host.get("journal"), DASH))
    rollback = host.get("rollback") or {}
    if rollback.get("possible") is False and not host.get("rolled_back"):
        gaps = "; ".join(esc(g) for g in rollback.get("gaps") or ()) or DASH
        out.append('<p class="note fail"><b>No way back for part of this change:</b> no rollback file could be '
                   'secured for %s</p>' % gaps)
    if host.get("reboot_required"):
        reasons = ", ".join(esc(r) for r in host.get("reboot_reasons") or ()) or "required"
        out.append('<p class="note rbt"><b>Pending reboot:</b> %s</p>' % reasons)
    out += _data_notes(host)
    health = host.get("health")
    if health and health.get("healthy"):
        out.append('<p class="note ok"><b>Health checks passed.</b></p>')
    elif health:
        checks = ", ".join(esc(c) for c in health.get("failed_checks") or ()) or DASH
        out.append('<p class="note fail"><b>Health checks failed:</b> %s</p>' % checks)
    return out


def _rollback_word(rollback):
    possible = (rollback or {}).get("possible")
    return None if possible is None else ("possible" if possible else "not possible")


def _host_body(host, max_updates, max_changes):
    facts = (("Package manager", host.get("pkg_mgr")), ("Kernel", host.get("kernel_running")),
             ("Policy", host.get("policy")), ("Assessed", host.get("assessed_at")), ("Journal", host.get("journal")),
             ("Rollback", _rollback_word(host.get("rollback"))), ("Rebooted", "yes" if host.get("rebooted") else "no"))
    shown = " ".join("<i>%s</i> %s" % (label, esc(value, DASH)) for label, value in facts)
    out = ['<div class="hb"><p class="kv">%s</p>' % shown]
    out += _notes(host)
    updates = top_open_updates(host)
    if updates:
        out.append('<div class="tablewrap"><table class="upd"><caption>Open updates (%d)</caption><thead><tr>'
                   '<th>Package</th><th>Version</th><th>Severity</th><th>Class</th><th>Advisories</th><th>Title</th>'
                   '<th>CVEs</th><th>First seen</th><th>SLA due</th><th>State</th></tr></thead><tbody>' % len(updates))
        out += [_update_row(u) for u in updates[:max_updates]]
        out.append("</tbody></table></div>")
        if len(updates) > max_updates:
            out.append('<p class="more">%d more, less urgent: in report.json and report.csv.</p>'
                       % (len(updates) - max_updates))
    held = dict((state, 0) for state in HELD_STATES)
    for update in host.get("updates") or ():
        if update.get("state") in held:
            held[update["state"]] += 1
    if any(held.values()):
        out.append('<p class="more">Held back by the baseline: %d deferred, %d rejected, %d not applicable.</p>'
                   % (held["deferred"], held["rejected"], held["not_applicable"]))
    changes = host.get("changes") or ()
    if changes:
        shown = ", ".join("<code>%s</code> %s \u2192 %s" % (esc(c.get("name")), esc(c.get("before"), DASH),
                                                            esc(c.get("after"), DASH)) for c in changes[:max_changes])
        more = " and %d more" % (len(changes) - max_changes) if len(changes) > max_changes else ""
        what = "Installed by this run, then rolled back" if host.get("rolled_back") else "Installed by this run"
        out.append('<p class="changes"><b>%s (%d):</b> %s%s</p>' % (what, len(changes), shown, more))
    if len(out) == 1 and not any(held.values()):
        out.append('<p class="note ok">Nothing outstanding.</p>')
    out.append("</div>")
    return "".join(out)


def _host(host, max_updates, max_changes, anchor, detailed=True):
    counts = host.get("counts") or {}
    status = _class(host.get("status"), STATUS_RANK)
    installed = 0 if host.get("rolled_back") else change_count(host)
    cells = (open_count(host), int(counts.get("critical_non_compliant") or 0),
             int(counts.get("security_non_compliant") or 0), int(counts.get("sla_breached") or 0))
    # The script sorts and filters on the summary's own text, so no value is repeated in attributes.
    return ('<details class="host" id="%s" data-st="%s"><summary class="hrow"><span class="h">%s</span><span>%s</span>'
            '<span>%s</span><span><b class="pill st-%s">%s</b></span><span>%d</span><span>%d</span><span>%d</span>'
            '<span>%d</span><span>%s</span><span>%d</span></summary>%s</details>' % (
                (anchor, status, esc(host.get("host")), esc(host.get("ring") or "(none)"), esc(host.get("os"), DASH), status,
                 status_label(status)) + cells
                + ("yes" if host.get("reboot_required") else "no", installed,
                   _host_body(host, max_updates, max_changes) if detailed else UNDETAILED % DETAILED_HOSTS)))


# The host list stays usable whatever the fleet: the worst DETAILED_HOSTS hosts with their open
# updates, changes and the rest; the next ones, up to LISTED_HOSTS, as rows only (filtered and sorted
# like the others); every host, with every update, is in report.csv and report.json, as the page says.
DETAILED_HOSTS = 2000
LISTED_HOSTS = 20000
UNDETAILED = ('<div class="hb"><p class="muted">Not detailed here (only the %d worst hosts are): '
              'this host\'s updates are in report.csv and report.json.</p></div>')


def listed_hosts(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The briefs of the hosts the list shows, worst first (at most LISTED_HOSTS)."""
    return sorted(host_briefs(report), key=host_rank)[:LISTED_HOSTS]


def host_anchors(report: dict[str, Any]) -> dict[str, str]:
    """{host name: the id of its section}, by its place in the host list (worst first); the hosts
    past the list's end have none."""
    return dict((host.get("host"), view_html.host_anchor(index)) for index, host in enumerate(listed_hosts(report)))


def _hosts_section(report, max_updates_per_host):
    listed = listed_hosts(report)
    total = len(host_briefs(report))
    detailed = listed[:DETAILED_HOSTS]
    max_updates, max_changes = detail_limits(detailed, max_updates_per_host)
    summary = report.get("summary") or {}
    rings = in_order(summary.get("by_ring") or {}, summary.get("ring_order"))
    status_options = "".join('<option value="%s">%s</option>' % (s, status_label(s)) for s in STATUS_ORDER)
    ring_options = "".join('<option>%s</option>' % esc(r) for r in rings)
    header = "".join('<span><button type="button" data-col="%d" data-kind="%s" data-dir="%d">%s</button></span>'
                     % (index, kind, direction, label) for index, (label, kind, direction) in enumerate(HOST_COLUMNS))
    out = ['<section class="card" id="hosts"><h2>Hosts, worst first (%d)</h2>' % total,
           '<div class="controls" id="host-controls" hidden><input id="host-q" type="search" '
           'placeholder="Filter by host, ring, OS, advisory, CVE or package" aria-label="Filter hosts">'
           '<select id="host-status" aria-label="Status"><option value="">All statuses</option>%s</select>'
           '<select id="host-ring" aria-label="Ring"><option value="">All rings</option>%s</select>'
           '<select id="host-flag" aria-label="Only"><option value="">Every host</option>'
           '<option value="sla">Past SLA</option><option value="reboot">Reboot pending</option></select>'
           '<span id="host-shown" class="muted"></span></div>' % (status_options, ring_options)]
    if total > len(detailed):
        out.append('<p class="more">This list shows the %d worst hosts in detail%s. Every host, with every '
                   'update: report.csv and report.json.</p>' % (
                       len(detailed), ", the next %d as rows only" % (len(listed) - len(detailed))
                       if len(listed) > len(detailed) else "") + (
                       " The other %d hosts are not listed here." % (total - len(listed))
                       if total > len(listed) else ""))
    out.append('<div class="hosts"><div class="hrow hhead">%s</div><div id="host-list">' % header)
    if not listed:
        out.append('<p class="hrow muted">No hosts in this report.</p>')
    # Only the detailed hosts are read whole (from the spill file, for the callback's report).
    for index, host in enumerate(hosts_named(report, [h["host"] for h in detailed])):
        out.append(_host(host, max_updates, max_changes, view_html.host_anchor(index)))
    out += [_host(host, max_updates, max_changes, view_html.host_anchor(index), detailed=False)
            for index, host in enumerate(listed[len(detailed):], len(detailed))]
    out.append('</div></div><p class="more">Open a host for its open updates (here at most %d per host, most '
               'urgent first), what this run installed (at most %d listed), rollback, failure, reboot and health. '
               'Every host and update: report.json and report.csv.</p></section>' % (max_updates, max_changes))
    return "".join(out)


def render(report: dict[str, Any], max_updates_per_host: int | None = None) -> str:
    """report (the compliance report document) -> the dashboard, one HTML document as text.
    max_updates_per_host: open updates listed per host; None fits them to the fleet (detail_limits)."""
    run = report.get("run") or {}
    summary = report.get("summary") or {}
    anchors = host_anchors(report)
    csp = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src '%s'; base-uri 'none'; "
           "form-action 'none'" % script_hash())
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="%s">' % csp,
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        "<title>Patch compliance &middot; run %s &middot; %s</title>" % (
            esc(run.get("run_id")), esc(run.get("status"), "unknown")),
        "<style>%s%s</style></head><body>" % (CSS, _color_rules()),
        _header(run),
        "<main>",
        _tiles(report),
        '<section class="grid">%s%s%s</section>' % (
            _status_card(report), _severity_card(report), _packages_card(report)),
        '<nav class="views-nav"><a href="#sla">SLA</a><a href="#by-update">By update</a>'
        '<a href="#changes">What this run changed</a><a href="#fleet">Fleet state</a><a href="#hosts">Hosts</a></nav>',
        _trend_card(report),
        view_html.sla_section(report, anchors),
        view_html.updates_section(report, anchors),
        view_html.changes_section(report, anchors),
        view_html.fleet_section(report, anchors),
        _group_card("Compliance by ring", "Ring", summary.get("by_ring") or {}, summary.get("ring_order")),
        _group_card("Compliance by OS", "OS", summary.get("by_os") or {}),
        _group_card("Compliance by baseline", "Baseline (policy)", summary.get("by_policy") or {}),
        _hosts_section(report, max_updates_per_host),
        "</main><footer>fleetpatch.patching compliance report, schema version %s. Source of truth: report.json; "
        "every host and update: report.csv.</footer>" % esc(report.get("schema_version")),
        "<script>%s</script></body></html>\n" % SCRIPT,
    ]
    return "".join(parts)
