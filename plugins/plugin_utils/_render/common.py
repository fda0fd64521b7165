# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every report renderer agrees on: which host is worst, which update matters most, the
labels, and how document text is cleaned. Private to this collection: may change without notice.

Every renderer orders hosts and updates through here, so the HTML drill-down, the JUnit failures
and the Markdown "worst hosts" always name the same hosts and updates first.
"""

from __future__ import annotations

import html
import re
from typing import Any, Iterable, Iterator, Sequence

# The report's vocabulary (worst-first orders and ranks, open and held states) is _vocabulary's;
# STATUS_ORDER is also read here by the renderers' tests.
from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import (  # pylint: disable=unused-import
    OPEN_STATES, SEVERITIES, SEVERITY_RANK, STATUS_ORDER, STATUS_RANK, parse_utc_stamp)
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import spill as _report_spill

STATUS_LABELS = {
    "compliant": "Compliant",
    "non_compliant": "Non-compliant",
    "pending_reboot": "Pending reboot",
    "rolled_back": "Rolled back",
    "failed": "Failed",
    "unreachable": "Unreachable",
    "unknown": "Unknown",
}
# run.problems shown at the top of a report (each is one sentence; a run has a handful at most)
MAX_PROBLEMS = 5
DASH = "\u2014"          # an empty cell or value
NO_HOSTS = "no hosts"

# C0 controls (bar tab, newline, carriage return), DEL, C1 controls, the code points XML 1.0
# forbids, and the bidirectional controls (U+202E turns "fp-crypto\u202eexe.sh" into "fp-cryptohs.exe"
# on screen): a hostile package title must not corrupt a terminal log, make the XML unparseable or
# show an operator something else than the data says.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff%s]" % BIDI_CONTROLS)
_LINE_BREAKS = re.compile("[\t\r\n]+")
# The ASCII characters _CONTROL removes, for bytes.translate.
_ASCII_CONTROLS = bytes(c for c in range(128) if _CONTROL.match(chr(c)))


def _has_no_control(text):
    """Whether text is ASCII without a character _CONTROL removes. perf: two or three C scans
    instead of the regex's per-character class test: 12 MB of report.csv in 0.019 CPU s instead of
    0.095 (2026-12-02), and the CSV cleans its 120 MB at 10,000 hosts x 50 updates."""
    return text.isascii() and (text.isprintable()        # no control at all, tab and line breaks neither
                               or len(text.encode("ascii").translate(None, _ASCII_CONTROLS)) == len(text))


def clean(value: Any, none: str = "") -> str:
    """Document value as text without control characters; None becomes `none`."""
    if value is None:
        return none
    text = value if isinstance(value, str) else str(value)
    return text if _has_no_control(text) else _CONTROL.sub("", text)


def one_line(value: Any, none: str = "") -> str:
    """clean() for places where a line break would break the layout (table cells, messages)."""
    if value.__class__ is str and value.isascii() and value.isprintable():   # perf: as _has_no_control
        return value.strip()
    return _LINE_BREAKS.sub(" ", clean(value, none)).strip()


def status_label(status: Any) -> str:
    return STATUS_LABELS.get(status, one_line(status, "unknown"))


def open_updates(host: dict[str, Any]) -> list[dict[str, Any]]:
    """Updates the host still needs: approved and not installed, or installed and not kept."""
    return [u for u in host.get("updates") or () if u.get("state") in OPEN_STATES]


def update_rank(update: dict[str, Any]) -> tuple[int, bool, bool, str]:
    """Most urgent first: severity, then past its SLA, then security before the rest."""
    return (SEVERITY_RANK.get(update.get("severity"), len(SEVERITIES)),
            not update.get("sla_breached"),
            update.get("classification") != "security",
            update.get("name") or "")


def top_open_updates(host: dict[str, Any], limit: int | None = None) -> list[dict[str, Any]]:
    ranked = sorted(open_updates(host), key=update_rank)
    return ranked if limit is None else ranked[:limit]


def host_rank(host: dict[str, Any]) -> tuple[int, int, int, int, int, str]:
    """Worst first: status, then critical and past-SLA updates, then how far behind it is."""
    counts = host.get("counts") or {}
    return (STATUS_RANK.get(host.get("status"), STATUS_RANK["unknown"]),
            -int(counts.get("critical_non_compliant") or 0),
            -int(counts.get("sla_breached") or 0),
            -int(counts.get("security_non_compliant") or 0),
            -(int(counts.get("missing") or 0) + int(counts.get("failed") or 0)),
            host.get("host") or "")


def host_briefs(report: dict[str, Any]) -> Sequence[dict[str, Any]]:
    """The report's hosts for what needs no update or change of theirs (names, statuses, counts):
    the briefs the callback keeps in memory when its hosts are read from the spill file
    (_report/spill.SpilledHosts), else the host entries themselves."""
    return _report_spill.briefs(report.get("hosts") or ())


def hosts_named(report: dict[str, Any], names: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The host entries of these names, in their order; read one at a time from the spill file."""
    hosts = report.get("hosts") or ()
    if hasattr(hosts, "named"):
        return hosts.named(names)
    by_name = dict((h.get("host"), h) for h in hosts)
    return (by_name[name] for name in names)


def hosts_worst_first(report: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """The host entries, worst first (host_rank); an iterator over the spill file's hosts, read one
    at a time."""
    hosts = report.get("hosts") or ()
    if hasattr(hosts, "ordered"):
        return hosts.ordered(host_rank)
    return sorted(hosts, key=host_rank)


def change_count(host: dict[str, Any]) -> int:
    """The packages the run installed on the host: its changes, or, on a brief (the entry without
    them, _report/assemble.brief), their number."""
    if "changes" in host:
        return len(host["changes"] or ())
    return int(host.get("changes_count") or 0)


def open_count(host: dict[str, Any]) -> int:
    counts = host.get("counts") or {}
    return int(counts.get("missing") or 0) + int(counts.get("failed") or 0)


def update_brief(update: dict[str, Any]) -> str:
    """pkg001 (critical, FLEET-2026-0001): one open update in a line of text."""
    details = [one_line(update.get("severity"), "unknown")]
    details.extend(one_line(a) for a in (update.get("advisories") or ())[:2])
    if update.get("sla_breached"):
        details.append("past SLA")
    return "%s (%s)" % (one_line(update.get("name"), "?"), ", ".join(details))


def run_duration(run: dict[str, Any]) -> str:
    """'5 min 3 s' between the run's start and end, or '' when a timestamp is unusable."""
    try:
        start = parse_utc_stamp(run.get("started_at") or "")
        end = parse_utc_stamp(run.get("ended_at") or "")
    except ValueError:
        return ""
    seconds = int((end - start).total_seconds())
    if seconds < 0:
        return ""
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return "%d h %d min" % (hours, minutes)
    if minutes:
        return "%d min %d s" % (minutes, seconds)
    return "%d s" % seconds


def percent(value: Any) -> str:
    """85.0 -> '85', 85.25 -> '85.3': the report's own rounding, without a trailing .0."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "?"
    text = "%.1f" % number
    return text[:-2] if text.endswith(".0") else text


def awx_text(run: dict[str, Any]) -> str:
    """'AWX job 123 "Patch test" (workflow job 45 "Monthly patching", launched by alice, workflow)', or ''."""
    awx = run.get("awx")
    if not isinstance(awx, dict) or awx.get("job_id") is None:
        return ""
    text = "AWX job %s" % one_line(awx.get("job_id"))
    if awx.get("job_template_name"):
        text += ' "%s"' % one_line(awx["job_template_name"])
    details = []
    if awx.get("workflow_job_id") is not None:
        details.append("workflow job %s%s" % (one_line(awx["workflow_job_id"]), ' "%s"' % one_line(
            awx["workflow_job_name"]) if awx.get("workflow_job_name") else ""))
    who = awx.get("user_name") or awx.get("schedule_name") or awx.get("parent_schedule_name")
    if who:
        details.append("launched by %s" % one_line(who))
    if awx.get("launch_type"):
        details.append(one_line(awx["launch_type"]))
    return text + (" (%s)" % ", ".join(details) if details else "")


def compliant_share(group: dict[str, Any]) -> str:
    """'85%', or 'no hosts' for a summary (or ring, or trend point) of no hosts: no hosts is not
    100 % compliant."""
    if not group.get("hosts") or group.get("compliant_percent") is None:
        return NO_HOSTS
    return "%s%%" % percent(group.get("compliant_percent"))


def compliant_text(group: dict[str, Any]) -> str:
    """'85% compliant', or 'no hosts' (compliant_share)."""
    share = compliant_share(group)
    return share if share == NO_HOSTS else share + " compliant"


def in_order(names: Iterable[str], order: Iterable[str] | None) -> list[str]:
    """names, those in `order` first and in that order (rings: summary.ring_order), then the
    rest by name."""
    names = set(names)
    first = [name for name in order or () if name in names]
    return first + sorted(names.difference(first))


# perf: the dashboard escapes the same few values (severities, states, dates, advisories, package
# names) hundreds of thousands of times at 10,000 hosts; each text is escaped once, up to these many
# texts of up to MEMO_CHARS characters (a few MB at most), then the rest as before.
MEMO_TEXTS = 20000
MEMO_CHARS = 100
_ESCAPED: dict[str, str] = {}


def html_text(value: Any, none: str = "") -> str:
    """Document text for HTML and SVG, text or attribute: cleaned, then html.escape(quote=True)."""
    if value.__class__ is not str:
        return html.escape(clean(value, none), quote=True)
    text = _ESCAPED.get(value)
    if text is None:
        text = html.escape(clean(value), quote=True)
        if len(value) <= MEMO_CHARS and len(_ESCAPED) < MEMO_TEXTS:
            _ESCAPED[value] = text
    return text
