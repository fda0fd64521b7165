"""The Markdown summary: short whatever the fleet, right figures, table cells that cannot break."""
import copy
import re

import pytest
import synthetic_report
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import common as _render_common
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import markdown_summary as _render_markdown

FILES = {"json": "/var/lib/fleetpatch/r1/report.json", "html": "/var/lib/fleetpatch/r1/report.html",
         "csv": "/var/lib/fleetpatch/r1/report.csv", "junit": "/var/lib/fleetpatch/r1/junit.xml"}


@pytest.fixture(scope="module")
def report():
    return synthetic_report.build(200, 50, hostile=True)


def unescaped_pipes(line):
    return len(re.findall(r"(?<!\\)\|", line))


def test_content(report):
    text = _render_markdown.render(report, files=FILES)
    lines = text.splitlines()
    summary = report["summary"]
    assert lines[0] == "## fleetpatch compliance: run r-synthetic: FAILED"
    assert "**%s%% compliant**" % _render_common.percent(summary["compliant_percent"]) in text
    assert "%d update(s) past their SLA" % summary["sla_breached"] in text
    for status in _render_common.STATUS_ORDER:
        assert "| %s | %d |" % (_render_common.status_label(status), summary["by_status"][status]) in lines
    for ring, group in summary["by_ring"].items():
        assert any(line.startswith("| %s | %d | " % (ring, group["hosts"])) for line in lines)
    worst = _render_common.hosts_worst_first(report)[0]
    header = lines.index("| Host | Ring | Status | Open | Critical / security missing |")
    assert lines[header + 2].startswith("| %s | %s | " % (worst["host"], worst["ring"]))
    assert _render_common.top_open_updates(worst)[0]["name"] in lines[header + 2]
    for kind, path in FILES.items():
        assert "- %s: %s" % (kind, path) in lines
    assert "<script>" not in text  # titles are not in the summary


def test_line_cap_whatever_the_fleet(report):
    big = copy.deepcopy(report)
    for index in range(40):
        big["summary"]["by_ring"]["ring%02d" % index] = copy.deepcopy(big["summary"]["by_ring"]["test"])
    big["run"].update(status="aborted", aborted_by="SIGTERM")
    files = dict(("file%02d" % i, "/tmp/f%02d" % i) for i in range(30))
    lines = _render_markdown.render(big, files=files).splitlines()
    assert len(lines) <= _render_markdown.MAX_LINES
    assert "| ... %d more ring(s) in the HTML report | | | | | | | |" % (len(big["summary"]["by_ring"]) - 8) in lines
    assert "- ... %d more" % (30 - _render_markdown.MAX_FILES) in lines
    assert any(line.startswith("> **ABORTED** by SIGTERM") for line in lines)


def test_table_cells_escape_pipes_and_drop_control_characters(report):
    hostile = copy.deepcopy(report)
    worst = _render_common.hosts_worst_first(hostile)[0]
    worst["host"] = "evil|host\x1b[31m\nnext"
    worst["ring"] = "a|b"
    hostile["summary"]["by_ring"]["x|y\x07"] = copy.deepcopy(hostile["summary"]["by_ring"]["test"])
    text = _render_markdown.render(hostile)
    assert "\x1b" not in text and "\x07" not in text
    row = next(line for line in text.splitlines() if line.startswith("| evil"))
    assert row.startswith("| evil\\|host\\[31m next | a\\|b | ")
    assert unescaped_pipes(row) == 6
    ring_row = next(line for line in text.splitlines() if line.startswith("| x"))
    assert ring_row.startswith("| x\\|y | ") and unescaped_pipes(ring_row) == 9


def test_without_files_and_all_compliant():
    report = synthetic_report.build(0, 0, trend_runs=0)
    text = _render_markdown.render(report)
    assert "### Files" not in text
    assert "Every host is compliant or only waits for a reboot." in text


def test_gate_decisions_are_on_the_run_line():
    report = synthetic_report.build(20, 3)
    report["run"]["gates"] = [
        {"ring": "test", "passed": True, "message": "open", "hosts": 3, "succeeded": 3, "rolled_back": 0,
         "failed": 0, "unreachable": 0},
        {"ring": "pi|lot", "passed": False, "message": "closed", "hosts": 2, "succeeded": 1, "rolled_back": 1,
         "failed": 0, "unreachable": 0}]
    text = _render_markdown.render(report)
    assert ("Gates: test **open** (3/3 succeeded, 0 rolled back, 0 failed, 0 unreachable); "
            "pi\\|lot **CLOSED** (1/2 succeeded, 1 rolled back, 0 failed, 0 unreachable).") in text
