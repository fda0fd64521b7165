"""Display defects of the dashboard and the summary, each shown on a report that had it: rings in
rollout order, one meaning per figure, the trend's labels, and the gate's message."""
import re

from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import dashboard_html as _render_html
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import markdown_summary as _render_markdown
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import svg_charts as _render_svg
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import run as _report_run

import synthetic_report

STATUSES = model.HOST_STATUSES


def point(run_id, ended_at, percent, rings=None, hosts=10):
    by_status = dict((s, 0) for s in STATUSES)
    return {"run_id": run_id, "ended_at": ended_at, "status": "completed", "hosts": hosts,
            "compliant_percent": percent, "by_status": by_status,
            "by_ring": dict((r, {"hosts": 1, "compliant_percent": percent}) for r in (rings or ["test"]))}


def test_rings_follow_the_rollout_not_the_alphabet():
    hosts = [{"host": "p1", "ring": "production"}, {"host": "t1", "ring": "test"}, {"host": "i1", "ring": "pilot"},
             {"host": "c1", "ring": "canary"}]
    assert model.ring_order(hosts) == ["test", "pilot", "production", "canary"]
    # the run's gates come first; then the order the run met the rings
    gates = [{"ring": "canary"}, {"ring": "test"}]
    assert model.ring_order(hosts, gates, {"production": 0, "pilot": 1}) == ["canary", "test", "production", "pilot"]


def test_the_html_and_markdown_list_rings_in_rollout_order():
    report = synthetic_report.build(60, 5)
    rings = report["summary"]["ring_order"]
    assert rings[:3] == [r for r in ("test", "pilot", "production") if r in rings][:3]
    page = _render_html.render(report)
    table = page[page.index("Compliance by ring"):page.index("Compliance by OS")]
    shown = re.findall(r'<td class="name">([^<]*)</td>', table)
    assert shown == rings
    select = page[page.index('id="host-ring"'):]
    select = select[:select.index("</select>")]
    assert re.findall(r"<option>([^<]*)</option>", select) == rings
    markdown = _render_markdown.render(report)
    ring_rows = [line.split(" | ")[0][2:] for line in markdown.splitlines()
                 if line.startswith("| ") and line.split(" | ")[0][2:] in rings]
    assert ring_rows == rings[:len(ring_rows)]


def test_a_ring_row_counts_open_updates_where_it_counts_critical_ones():
    report = synthetic_report.build(60, 5)
    for group in report["summary"]["by_ring"].values():
        assert group["open"] >= group["critical_non_compliant"]
        assert group["open"] >= group["missing"]
    hosts = report["hosts"]
    ring = next(iter(report["summary"]["by_ring"]))
    members = [h for h in hosts if (h["ring"] or "(none)") == ring]
    expected = sum(h["counts"]["missing"] + h["counts"]["failed"] for h in members)
    assert report["summary"]["by_ring"][ring]["open"] == expected


def test_the_reboot_tile_explains_both_figures():
    report = synthetic_report.build(60, 5)
    page = _render_html.render(report)
    summary = report["summary"]
    only = summary["by_status"]["pending_reboot"]
    assert "%d only a reboot, %d also missing updates" % (only, summary["pending_reboot"] - only) in page


def test_the_trend_labels_its_last_point_in_the_margin_coloured_by_value():
    low = _render_svg.trend([point("a", "2026-11-01T10:00:00Z", 40.0), point("b", "2026-11-02T10:00:00Z", 0.0)], "t")
    label = re.search(r'<text x="(\d+)" y="[^"]*" class="trend-last" fill="([^"]*)"', low)
    assert label.group(2) == "#c62828"           # 0 % is red, not green
    assert int(label.group(1)) > 1030             # right of the plot, never over the line
    high = _render_svg.trend([point("a", "2026-11-01T10:00:00Z", 99.0)], "t")
    assert 'class="trend-last" fill="#2e7d32"' in high


def test_two_runs_on_one_day_get_their_time_in_the_label():
    svg = _render_svg.trend([point("a", "2026-11-02T08:00:00Z", 50.0), point("b", "2026-11-02T16:30:00Z", 60.0)], "t")
    labels = re.findall(r'class="axis" text-anchor="[a-z]+">([^<]*)</text>', svg)
    assert "11-02 08:00" in labels and "11-02 16:30" in labels


def test_a_test_ring_only_run_is_not_on_the_fleet_line():
    fleet = ["test", "pilot", "production"]
    svg = _render_svg.trend([point("a", "2026-11-01T10:00:00Z", 50.0, fleet),
                             point("b", "2026-11-02T10:00:00Z", 100.0, ["test"]),
                             point("c", "2026-11-03T10:00:00Z", 60.0, fleet)], "t", fleet)
    fleet_line = re.search(r'<polyline class="line" points="([^"]*)"', svg).group(1)
    assert len(fleet_line.split()) == 2          # a and c; b covered the test ring only
    assert "not on the fleet line" in svg
    assert svg.count("stroke-dasharray") == 3     # one line per ring


def test_a_run_of_no_hosts_is_not_plotted_as_a_percentage():
    svg = _render_svg.trend([point("a", "2026-11-01T10:00:00Z", 50.0), point("b", "2026-11-02T10:00:00Z", None, hosts=0)],
                            "t")
    assert svg.count("<circle") == 1 and "trend-last" not in svg


def test_the_gate_message_is_text_never_a_repr_and_is_capped():
    assert _report_run.gate_message(["Gate closed after ring test", "2 hosts fell short"]) == \
        "Gate closed after ring test; 2 hosts fell short"
    long = _report_run.gate_message("x " * 100000)
    assert len(long) == _report_run.GATE_MESSAGE_CHARS and long.endswith("\u2026")


def test_the_trend_data_has_the_open_critical_security_and_sla_figures_of_each_run(tmp_path):
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore
    earlier = synthetic_report.build(30, 8, trend_runs=0, seed=3)
    earlier["run"]["run_id"] = "r-earlier"
    with HistoryStore.open(str(tmp_path / "h.sqlite")) as store:
        store.append_run(earlier)
        (point,) = store.trend()
    summary = earlier["summary"]
    assert point["open"] == {"critical": summary["missing_by_severity"]["critical"],
                             "security": summary["missing_by_classification"]["security"],
                             "sla_breached": summary["sla_breached"]}
    report = synthetic_report.build(30, 8, trend_runs=0)
    report["trend"] = [point] + report["trend"]
    page = _render_html.render(report)
    row = re.search(r'<tr><td class="mono">r-earlier</td>.*?</tr>', page).group(0)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
    assert cells[-3:] == [str(point["open"]["critical"]), str(point["open"]["security"]),
                          str(point["open"]["sla_breached"])]
