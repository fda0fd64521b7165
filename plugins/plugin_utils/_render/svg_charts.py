# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inline SVG charts for the HTML compliance dashboard, drawn in Python. Private to this
collection: may change without notice.

Drawn here rather than by a chart library in the browser: the dashboard must be one file that
opens offline, under a Content-Security-Policy that allows no external script, and prints.
Every chart is role="img" with a title; the dashboard puts the same figures in a table beside it.
"""

from __future__ import annotations

from typing import Any, Sequence

from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render.common import (
    clean, html_text, percent)

STATUS_COLORS = {
    "compliant": "#2e7d32",
    "pending_reboot": "#0277bd",
    "non_compliant": "#ef6c00",
    "rolled_back": "#8e24aa",
    "failed": "#c62828",
    "unreachable": "#546e7a",
    "unknown": "#9e9e9e",
}
SEVERITY_COLORS = {
    "critical": "#b71c1c",
    "important": "#e65100",
    "moderate": "#f9a825",
    "low": "#689f38",
    "unknown": "#90a4ae",
}
RUN_COLORS = {"completed": "#2e7d32", "failed": "#ef6c00", "aborted": "#c62828"}
EMPTY_COLOR = "#e0e0e0"
MAX_BAR_ROWS = 15
MAX_TREND_POINTS = 60


def _shorten(text, limit):
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _svg_open(width, height, title, css_class):
    return ('<svg class="%s" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">'
            '<title>%s</title>' % (css_class, width, height, html_text(title), html_text(title)))


def donut(parts: Sequence[tuple[str, str, int]], colors: dict[str, str], title: str, center: str,
          center_sub: str = "") -> str:
    """parts: [(key, label, count)] drawn clockwise from the top; center: the big number."""
    total = sum(count for _key, _label, count in parts)
    out = [_svg_open(42, 42, title, "chart donut")]
    # r = 100 / (2 pi): the circumference is 100, so a dash length is a percentage.
    ring = '<circle cx="21" cy="21" r="15.91549" fill="none" stroke="%s" stroke-width="6"%s>%s</circle>'
    out.append(ring % (EMPTY_COLOR, "", ""))
    offset = 25.0
    for key, label, count in parts:
        if not count or not total:
            continue
        share = 100.0 * count / total
        tip = "<title>%s: %d (%s%%)</title>" % (html_text(label), count, percent(share))
        dash = ' stroke-dasharray="%.3f %.3f" stroke-dashoffset="%.3f"' % (share, 100 - share, offset)
        out.append(ring % (colors.get(key, EMPTY_COLOR), dash, tip))
        offset -= share
    out.append('<text x="21" y="%s" class="donut-center">%s</text>' % ("21.5" if center_sub else "23",
                                                                       html_text(center)))
    if center_sub:
        out.append('<text x="21" y="26.5" class="donut-sub">%s</text>' % html_text(center_sub))
    out.append("</svg>")
    return "".join(out)


def stacked_bars(rows: list[tuple[str, dict[str, int], str]], order: Sequence[str], colors: dict[str, str],
                 labels: dict[str, str], title: str) -> str:
    """rows: [(label, {key: count}, note)], one 100 % bar each, segments in `order`."""
    if len(rows) > MAX_BAR_ROWS:
        rest = rows[MAX_BAR_ROWS - 1:]
        merged = dict((key, sum(int(r[1].get(key) or 0) for r in rest)) for key in order)
        rows = rows[:MAX_BAR_ROWS - 1] + [("%d more" % len(rest), merged, "")]
    row_height, top = 26, 4
    height = top + row_height * max(len(rows), 1) + 4
    left, right, width = 150, 600, 720
    out = [_svg_open(width, height, title, "chart bars")]
    if not rows:
        out.append('<text x="%d" y="20" class="muted">no hosts</text>' % left)
    for index, (label, counts, note) in enumerate(rows):
        y = top + index * row_height
        text = clean(label, "(none)")
        out.append('<text x="%d" y="%d" class="bar-label">%s<title>%s</title></text>'
                   % (left - 8, y + 15, html_text(_shorten(text, 22)), html_text(text)))
        total = sum(int(counts.get(key) or 0) for key in order)
        x = float(left)
        out.append('<rect x="%d" y="%d" width="%d" height="16" rx="3" fill="%s"/>'
                   % (left, y + 3, right - left, EMPTY_COLOR))
        for key in order:
            count = int(counts.get(key) or 0)
            if not count or not total:
                continue
            span = (right - left) * count / total
            out.append('<rect x="%.2f" y="%d" width="%.2f" height="16" fill="%s"><title>%s: %s %d (%s%%)</title>'
                       '</rect>' % (x, y + 3, span, colors.get(key, EMPTY_COLOR), html_text(text),
                                    html_text(labels.get(key, key)), count, percent(100.0 * count / total)))
            x += span
        out.append('<text x="%d" y="%d" class="bar-note">%s</text>' % (right + 8, y + 15, html_text(note)))
    out.append("</svg>")
    return "".join(out)


RING_COLORS = ("#1565c0", "#6a1b9a", "#00838f", "#ad1457", "#5d4037")
TREND_TONES = ((95, "#2e7d32"), (80, "#ef6c00"), (0, "#c62828"))   # as the Compliant tile


def _tone(value):
    return next(color for floor, color in TREND_TONES if value >= floor)


def _scope(point):
    """The rings a run covered; None when the point does not say (a store from before rings)."""
    by_ring = point.get("by_ring")
    return frozenset(by_ring) if isinstance(by_ring, dict) and by_ring else None


def _value(point):
    try:
        return min(max(float(point.get("compliant_percent")), 0.0), 100.0)
    except (TypeError, ValueError):
        return None         # a run of no hosts: not plotted, never 0 % or 100 %


def _date_labels(points):
    """The x-axis label of each point: its date, or date and time where two runs share a day."""
    days = [clean(p.get("ended_at"))[:10] for p in points]
    shared = set(d for d in days if days.count(d) > 1)
    return [clean(p.get("ended_at"))[5:16].replace("T", " ") if d in shared else d for p, d in zip(points, days)]


def trend(points: Sequence[dict[str, Any]], title: str, ring_order: Sequence[str] = ()) -> str:
    """points: the report's trend (oldest first). The fleet's compliant % as an area, through the runs
    that covered the same rings as the newest one (a test-ring-only run is not the fleet); the other
    runs as hollow grey dots; and one line per ring (up to five, in ring_order), each ring compared
    with itself only."""
    points = list(points)[-MAX_TREND_POINTS:]
    width, height = 1100, 230
    left, right, top, bottom = 44, 1030, 14, 190
    out = [_svg_open(width, height, title, "chart trend")]
    for value in (0, 25, 50, 75, 100):
        y = bottom - (bottom - top) * value / 100.0
        out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="gridline"/><text x="%d" y="%.1f" class="axis" '
                   'text-anchor="end">%d%%</text>' % (left, right, y, y, left - 6, y + 4, value))
    if not points:
        out.append('<text x="%d" y="%d" class="muted">no runs recorded yet</text></svg>' % (left + 10, top + 40))
        return "".join(out)
    step = (right - left) / float(len(points) - 1) if len(points) > 1 else 0.0

    def x_of(index):
        return left + step * index if len(points) > 1 else (left + right) / 2.0

    def y_of(value):
        return bottom - (bottom - top) * value / 100.0

    scope = _scope(points[-1])
    comparable = [i for i, p in enumerate(points) if _value(p) is not None and _scope(p) == scope]
    coords = [(x_of(i), y_of(_value(points[i]))) for i in comparable]
    if coords:
        line = " ".join("%.1f,%.1f" % c for c in coords)
        out.append('<polygon class="area" points="%.1f,%d %s %.1f,%d"/>'
                   % (coords[0][0], bottom, line, coords[-1][0], bottom))
        out.append('<polyline class="line" points="%s"/>' % line)
    rings = [r for r in ring_order if scope and r in scope][:len(RING_COLORS)]
    for color, ring in zip(RING_COLORS, rings):
        ring_coords = []
        for index, point in enumerate(points):
            value = _value((point.get("by_ring") or {}).get(ring) or {})
            if value is not None:
                ring_coords.append("%.1f,%.1f" % (x_of(index), y_of(value)))
        if len(ring_coords) > 1:
            out.append('<polyline fill="none" stroke="%s" stroke-width="1.5" stroke-dasharray="5 3" points="%s">'
                       '<title>ring %s</title></polyline>' % (color, " ".join(ring_coords), html_text(ring)))
    labels = _date_labels(points)
    label_every = max(1, (len(points) + 9) // 10)
    for index, point in enumerate(points):
        value = _value(point)
        status = clean(point.get("status"), "completed")
        x = x_of(index)
        if value is not None:
            fits = index in comparable
            tip = "%s, %s: %s%% compliant of %s hosts (%s)%s" % (
                clean(point.get("run_id")), clean(point.get("ended_at")), percent(value), clean(point.get("hosts"), "?"),
                status, "" if fits else "; covered other rings than the newest run: not on the fleet line")
            color = RUN_COLORS.get(status, "#2e7d32") if fits else "#9e9e9e"
            hollow = status == "aborted" or not fits
            out.append('<circle cx="%.1f" cy="%.1f" r="4" fill="%s" stroke="%s" stroke-width="2"><title>%s</title>'
                       '</circle>' % (x, y_of(value), "#fff" if hollow else color, color, html_text(tip)))
        if index % label_every == 0 or index == len(points) - 1:
            anchor = "end" if index == len(points) - 1 and len(points) > 1 else (
                "start" if index == 0 and len(points) > 1 else "middle")
            out.append('<text x="%.1f" y="%d" class="axis" text-anchor="%s">%s</text>'
                       % (x, bottom + 18, anchor, html_text(labels[index])))
    last = _value(points[-1])
    if last is not None:
        # In the right margin, beside the last point: never over the line, coloured by its value.
        out.append('<text x="%d" y="%.1f" class="trend-last" fill="%s" style="fill:%s" text-anchor="start">%s%%</text>'
                   % (right + 8, y_of(last) + 4, _tone(last), _tone(last), percent(last)))
    if rings:
        out.append('<text x="%d" y="%d" class="axis">%s</text>' % (left, height - 4, html_text(
            "dashed: each ring over the runs that covered it (%s)" % ", ".join(rings))))
    out.append("</svg>")
    return "".join(out)
