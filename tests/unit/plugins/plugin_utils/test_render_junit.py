"""The JUnit XML: parses, one suite per ring, and counts that match the report."""
import collections
import copy
import xml.etree.ElementTree as ET

import pytest
import synthetic_report
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import common as _render_common
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import junit_xml as _render_junit
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model


@pytest.fixture(scope="module")
def report():
    report = synthetic_report.build(200, 50, hostile=True)
    report["hosts"].append(model.host_entry(model.HostObservations("never-seen.example.com")))
    return report


def parse(text):
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(text.encode("utf-8"))


def test_counts_match_the_report(report):
    root = parse(_render_junit.render(report))
    statuses = collections.Counter(h["status"] for h in report["hosts"])
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == len(report["hosts"])
    assert sorted(c.get("name") for c in cases) == sorted(h["host"] for h in report["hosts"])
    failing = sum(statuses[s] for s in ("non_compliant", "failed", "rolled_back"))
    assert failing > 0 and statuses["unreachable"] > 0 and statuses["unknown"] == 1
    assert len(root.findall("./testsuite/testcase/failure")) == failing
    assert len(root.findall("./testsuite/testcase/error")) == statuses["unreachable"]
    assert len(root.findall("./testsuite/testcase/skipped")) == statuses["unknown"]
    passing = [c for c in cases if not list(c.findall("failure") + c.findall("error") + c.findall("skipped"))]
    assert len(passing) == statuses["compliant"] + statuses["pending_reboot"]
    assert root.get("tests") == str(len(cases)) and root.get("failures") == str(failing)
    assert root.get("errors") == str(statuses["unreachable"]) and root.get("skipped") == "1"


def test_one_suite_per_ring_with_consistent_totals(report):
    root = parse(_render_junit.render(report))
    suites = root.findall("testsuite")
    rings = ["(none)"] + list(report["summary"]["by_ring"])
    assert sorted(s.get("name") for s in suites) == sorted("ring %s" % r for r in rings)
    for suite in suites:
        cases = suite.findall("testcase")
        assert suite.get("tests") == str(len(cases))
        assert suite.get("failures") == str(sum(1 for c in cases if c.find("failure") is not None))
        assert suite.get("errors") == str(sum(1 for c in cases if c.find("error") is not None))
        # properties first, as the JUnit schema wants; timestamp without a zone (xs:dateTime).
        assert list(suite)[0].tag == "properties"
        assert suite.get("timestamp") == "2026-11-25T10:00:00"
        props = dict((p.get("name"), p.get("value")) for p in suite.find("properties"))
        assert props["run_id"] == report["run"]["run_id"]


def test_failure_message_lists_counts_and_top_updates(report):
    root = parse(_render_junit.render(report))
    by_name = dict((c.get("name"), c) for c in root.iter("testcase"))
    host = next(h for h in report["hosts"] if h["status"] == "non_compliant")
    failure = by_name[host["host"]].find("failure")
    top = _render_common.top_open_updates(host)
    message = failure.get("message")
    assert message.startswith("Non-compliant: %d open update(s)" % len(top))
    assert top[0]["name"] in message and top[0]["advisories"][0] in message
    assert failure.get("type") == "non_compliant"
    assert top[0]["name"] in failure.text
    rolled = next(h for h in report["hosts"] if h["status"] == "rolled_back")
    assert "Rolled back (journal %s)" % rolled["journal"] in by_name[rolled["host"]].find("failure").text
    pending = next(h for h in report["hosts"] if h["status"] == "pending_reboot")
    case = by_name[pending["host"]]
    assert case.find("failure") is None and "pending reboot: kernel" in case.find("system-out").text


def test_hostile_text_is_escaped_and_control_characters_do_not_break_the_xml(report):
    hostile = copy.deepcopy(report)
    evil = "<script>alert(1)</script>&\"'\x00\x1b[0m\ufffe]]>"
    host = next(h for h in hostile["hosts"] if h["status"] == "non_compliant")
    host["host"] = "h" + evil
    host["failure"] = {"task": evil, "message": evil}
    host["updates"][0].update(name=evil, advisories=[evil], state="missing", severity="critical")
    host["counts"]["critical_non_compliant"] += 1
    hostile["run"]["run_id"] = evil
    text = _render_junit.render(hostile)
    assert "<script>" not in text
    root = parse(text)
    clean = "<script>alert(1)</script>&\"'[0m]]>"
    case = next(c for c in root.iter("testcase") if c.get("name").startswith("h<script>"))
    assert case.get("name") == "h" + clean
    assert clean in case.find("failure").get("message")
    assert root.get("name") == "fleetpatch compliance " + clean
