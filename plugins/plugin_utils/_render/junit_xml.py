# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compliance report as JUnit XML, so that Jenkins, GitLab and AWX-driven pipelines show a
patch run like a test run. Private to this collection: may change without notice.

One testsuite per ring, one testcase per host. compliant and pending_reboot pass (a pending reboot
is not a missing patch; it is said in the testcase's output and counted in the suite's
properties); non_compliant, failed and rolled_back fail; unreachable is an error (the host was
not judged); unknown (never assessed) is skipped, so a run limited to part of the fleet does not
fail the pipeline for hosts it did not touch.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, Iterator

from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render.common import (
    clean, host_briefs, host_rank, hosts_named, one_line, open_count, status_label, top_open_updates, update_brief)

FAILING = ("non_compliant", "failed", "rolled_back")
TOP_UPDATES = 10


def _failure_message(host, ranked):
    """ranked: the host's open updates, most urgent first (top_open_updates)."""
    counts = host.get("counts") or {}
    parts = ["%s: %d open update(s)" % (status_label(host.get("status")), open_count(host))]
    for key, label in (("critical_non_compliant", "critical"), ("security_non_compliant", "security"),
                       ("sla_breached", "past SLA"), ("failed", "failed to install")):
        if counts.get(key):
            parts.append("%d %s" % (counts[key], label))
    top = ranked[:3]
    message = ", ".join(parts)
    if top:
        message += "; top: " + ", ".join(update_brief(u) for u in top)
    failure = host.get("failure") or {}
    if failure.get("message"):
        message += "; %s" % one_line(failure["message"])
    return message


def _failure_body(host, updates):
    """updates: the host's open updates, most urgent first (top_open_updates)."""
    lines = []
    failure = host.get("failure") or {}
    if failure:
        lines.append("Task %r failed: %s" % (one_line(failure.get("task")), one_line(failure.get("message"))))
    if host.get("rolled_back"):
        lines.append("Rolled back (journal %s)." % one_line(host.get("journal"), "unknown"))
    for update in updates[:TOP_UPDATES]:
        lines.append("%s %s -> %s [%s] %s %s%s" % (
            one_line(update.get("name")), one_line(update.get("installed_version"), "-"),
            one_line(update.get("available_version")), one_line(update.get("state")),
            one_line(update.get("classification")), " ".join(one_line(a) for a in update.get("advisories") or ()),
            " (SLA due %s, breached)" % one_line(update.get("sla_due")) if update.get("sla_breached") else ""))
    if len(updates) > TOP_UPDATES:
        lines.append("... %d more open update(s) in report.json / report.csv" % (len(updates) - TOP_UPDATES))
    return "\n".join(lines)


def _host_output(host):
    counts = host.get("counts") or {}
    lines = ["status: %s" % one_line(host.get("status")),
             "os: %s (%s)" % (one_line(host.get("os"), "unknown"), one_line(host.get("pkg_mgr"), "unknown")),
             "missing: %d, failed: %d, critical: %d, security: %d, past SLA: %d" % (
                 counts.get("missing", 0), counts.get("failed", 0), counts.get("critical_non_compliant", 0),
                 counts.get("security_non_compliant", 0), counts.get("sla_breached", 0))]
    if host.get("reboot_required"):
        lines.append("pending reboot: %s" % (", ".join(one_line(r) for r in host.get("reboot_reasons") or ())
                                             or "required"))
    if host.get("changes"):
        lines.append("installed by this run: %d package(s)" % len(host["changes"]))
    return "\n".join(lines)


def _testcase(host, classname):
    status = host.get("status")
    case = ET.Element("testcase", name=clean(host.get("host")), classname=classname, time="0")
    if status in FAILING:
        # perf: ranked once for the message and the body (the ranking was half of _failure_body's time).
        ranked = top_open_updates(host)
        failure = ET.SubElement(case, "failure", message=_failure_message(host, ranked), type=clean(status))
        failure.text = _failure_body(host, ranked)
    elif status == "unreachable":
        message = one_line((host.get("failure") or {}).get("message"), "unreachable")
        error = ET.SubElement(case, "error", message=message, type="unreachable")
        error.text = "The host could not be reached; its compliance is not known."
    elif status not in ("compliant", "pending_reboot"):
        ET.SubElement(case, "skipped", message="not assessed in this run (status %s)" % clean(status))
    ET.SubElement(case, "system-out").text = _host_output(host)
    return case


def _tally(statuses):
    tally = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for status in statuses:
        tally["tests"] += 1
        if status in FAILING:
            tally["failures"] += 1
        elif status == "unreachable":
            tally["errors"] += 1
        elif status not in ("compliant", "pending_reboot"):
            tally["skipped"] += 1
    return tally


def _suite_properties(suite, run, hosts):
    properties = ET.SubElement(suite, "properties")
    for name, value in (("run_id", run.get("run_id")), ("run_status", run.get("status")),
                        ("check_mode", "true" if run.get("check_mode") else "false"),
                        ("pending_reboot", sum(1 for h in hosts if h.get("reboot_required")))):
        ET.SubElement(properties, "property", name=name, value=clean(value))


# Where a suite's testcases go in its skeleton (an element name no report can hold).
_CASES = "fleetpatch-testcases-%d"
INDENT = "  "


def chunks(report: dict[str, Any]) -> Iterator[str]:
    """report (the compliance report document) -> JUnit XML text (UTF-8 declaration included), in
    pieces: the suites' skeleton (their properties and totals, from the hosts' briefs) is drawn
    whole, and each testcase is drawn into it one host at a time, as ElementTree would indent it
    in the whole tree."""
    run = report.get("run") or {}
    # JUnit's timestamp is an xs:dateTime without a zone; the report's times are UTC.
    timestamp = clean(run.get("started_at"))[:19]
    rings = {}
    for host in sorted(host_briefs(report), key=host_rank):
        rings.setdefault(host.get("ring") or "(none)", []).append(host)
    root = ET.Element("testsuites", name="fleetpatch compliance %s" % clean(run.get("run_id")))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    suites = sorted(rings.items())
    for index, (ring, hosts) in enumerate(suites):
        suite = ET.SubElement(root, "testsuite", name="ring %s" % clean(ring), id=str(index),
                              hostname=clean(run.get("controller"), "controller"), timestamp=timestamp, time="0")
        _suite_properties(suite, run, hosts)
        ET.SubElement(suite, _CASES % index)
        for key, value in _tally(h.get("status") for h in hosts).items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", "0")
    ET.indent(root, space=INDENT)
    skeleton = ET.tostring(root, encoding="unicode")
    yield '<?xml version="1.0" encoding="UTF-8"?>\n'
    for index, (ring, hosts) in enumerate(suites):
        before, skeleton = skeleton.split("<%s />" % (_CASES % index), 1)
        yield before
        classname = "fleetpatch.%s" % clean(ring).replace(" ", "_")
        for number, host in enumerate(hosts_named(report, [h["host"] for h in hosts])):
            case = _testcase(host, classname)
            ET.indent(case, space=INDENT, level=2)
            yield ("\n" + INDENT * 2 if number else "") + ET.tostring(case, encoding="unicode")
    yield skeleton + "\n"


def render(report: dict[str, Any]) -> str:
    """report (the compliance report document) -> JUnit XML text (UTF-8 declaration included)."""
    return "".join(chunks(report))
