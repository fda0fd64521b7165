# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compliance report as CSV: one row per host and update, for spreadsheets and BI tools.
Private to this collection: may change without notice.

A host without updates still gets one row (update columns empty), so every host of the run is
in the file and a pivot on the host columns counts the fleet right.
"""

from __future__ import annotations

import csv
import io
import operator
import re
from typing import Any, TextIO

from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render.common import clean

HOST_COLUMNS = ("run_id", "host", "ring", "os", "pkg_mgr", "host_status", "reboot_required", "rolled_back",
                "rollback_possible", "failure")
UPDATE_COLUMNS = ("update", "arch", "installed_version", "available_version", "classification", "severity",
                  "advisories", "title", "cves", "issued", "first_seen", "sla_due", "sla_breached", "decision",
                  "reason", "state")
COLUMNS = HOST_COLUMNS + UPDATE_COLUMNS

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection); a leading
# apostrophe makes it text in Excel, LibreOffice and Google Sheets.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# First characters that need a closer look: formula starts, and control characters that cleaning
# removes (which could otherwise hide a formula start behind them).
_CHECK_FIRST = frozenset(_FORMULA_STARTS) | frozenset(chr(c) for c in range(32)) | frozenset(
    chr(c) for c in range(0x7F, 0xA0))


# The most a spreadsheet cell holds (Excel, LibreOffice Calc): a longer text is cut, and says so.
CELL_CHARS = 32767
CUT_NOTE = " [cut: %d characters in all; the whole text is in report.json]"


def cell(value: Any) -> str:
    """One cell's text, safe to open in a spreadsheet. Control characters elsewhere in the text are
    removed from the whole output at once (render), which is much faster than cell by cell."""
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        value = " ".join(v if isinstance(v, str) else str(v) for v in value)
    text = value if isinstance(value, str) else str(value)
    if text[:1] in _CHECK_FIRST:
        text = clean(text)
        if text.startswith(_FORMULA_STARTS):
            text = "'" + text
    if len(text) > CELL_CHARS:
        note = CUT_NOTE % len(text)
        text = text[:CELL_CHARS - len(note)] + note
    return text


def _joined(values):
    return " ".join(v if isinstance(v, str) else str(v) for v in values or ())


def host_cells(report: dict[str, Any], host: dict[str, Any]) -> list[Any]:
    failure = host.get("failure") or {}
    return [report.get("run", {}).get("run_id"), host.get("host"), host.get("ring"), host.get("os"),
            host.get("pkg_mgr"), host.get("status"), "true" if host.get("reboot_required") else "false",
            "true" if host.get("rolled_back") else "false", (host.get("rollback") or {}).get("possible"),
            failure.get("message")]


_UPDATE_FIELDS_NAMES = ("name", "arch", "installed_version", "available_version", "classification", "severity",
                        "advisories", "title", "cves", "issued", "first_seen", "sla_due", "sla_breached", "decision",
                        "reason", "state")
_UPDATE_FIELDS = operator.itemgetter(*_UPDATE_FIELDS_NAMES)


def update_cells(update: dict[str, Any]) -> list[Any]:
    # One C call for the whole row where the update has every field (a report from the callback or
    # the store always has); lists and booleans become text in _safe.
    try:
        return _UPDATE_FIELDS(update)
    except KeyError:
        get = update.get
        return [get("name"), get("arch"), get("installed_version"), get("available_version"),
                get("classification"), get("severity"), _joined(get("advisories")), get("title"),
                _joined(get("cves")), get("issued"), get("first_seen"), get("sla_due"),
                "true" if get("sla_breached") else "false", get("decision"), get("reason"), get("state")]


def _safe(cells):
    # Inlined fast path: at 500,000 rows a function call per cell is most of the time.
    return [v if v.__class__ is str and v[:1] not in _CHECK_FIRST and len(v) <= CELL_CHARS else cell(v) for v in cells]


def _fast_line(cells):
    """The row as csv.writer (QUOTE_MINIMAL) writes it, when no cell needs quoting: a join is six
    times faster than the csv module, and almost every row qualifies. None otherwise."""
    line = ",".join(cells)
    if len(line) > CELL_CHARS or line.count(",") != len(cells) - 1 or '"' in line or "\n" in line or "\r" in line:
        return None
    return line + "\r\n"


# A cell after the first starting with a character that cell() would change (what _CHECK_FIRST
# holds), in a line of cells joined by commas, none of which holds a comma. (A pattern starting
# with a literal is searched for fast; "(?:^|,)" would be tried at every position.)
_CHECKED_LATER_CELL = re.compile(",[%s]" % "".join(re.escape(c) for c in sorted(_CHECK_FIRST)))
_UPDATE_TEXT_COMMAS = len(UPDATE_COLUMNS) - 1


def _plain_update_text(update):
    """An update's cells as one line of text with no quoting and no cell to neutralise, or None
    when it needs the careful path (a field missing or of another type, a comma, a quote, a line
    break, a cell starting with a formula or control character). Per row, a C-level join and two
    scans replace sixteen cell checks: this is most of the CSV's time at 500,000 rows."""
    try:
        (name, arch, installed, available, classification, severity, advisories, title, cves, issued,
         first_seen, sla_due, breached, decision, reason, state) = _UPDATE_FIELDS(update)
        if breached.__class__ is not bool or advisories.__class__ is not list or cves.__class__ is not list:
            return None
        text = ",".join((name, "" if arch is None else arch, "" if installed is None else installed, available,
                         classification, severity, " ".join(advisories), "" if title is None else title,
                         " ".join(cves), "" if issued is None else issued, "" if first_seen is None else first_seen,
                         "" if sla_due is None else sla_due, "true" if breached else "false", decision,
                         "" if reason is None else reason, state))
    except (KeyError, TypeError):
        return None
    if (len(text) > CELL_CHARS or text.count(",") != _UPDATE_TEXT_COMMAS or '"' in text or "\n" in text or "\r" in text
            or text[:1] in _CHECK_FIRST or _CHECKED_LATER_CELL.search(text)):
        return None
    return text


def _host_rows(report, host, quoting, chunk):
    """Write one host's rows to chunk: the plain way where it can, through the csv module (with
    every cell made safe) where a row needs quoting or neutralising."""
    head = _safe(host_cells(report, host))
    updates = host.get("updates") or ()
    if not updates:
        line = _fast_line(head + [""] * len(UPDATE_COLUMNS))
        if line is None:
            quoting.writerow(head + [""] * len(UPDATE_COLUMNS))
        else:
            chunk.write(line)
        return
    head_line = _fast_line(head)        # the host's cells, checked once for all its rows
    for update in updates:
        text = _plain_update_text(update) if head_line is not None else None
        if text is not None:
            chunk.write(head_line[:-2] + "," + text + "\r\n")
            continue
        row = head + _safe(update_cells(update))
        line = _fast_line(row)
        if line is None:
            quoting.writerow(row)
        else:
            chunk.write(line)


def write(report: dict[str, Any], stream: TextIO) -> None:
    """Write the CSV to a text stream (open it with newline=""), host by host: at 10,000 hosts x 50
    updates the text is over 100 MB, which a caller writing a file need not hold at once."""
    chunk = io.StringIO()
    quoting = csv.writer(chunk)        # for the rows that need quotes
    quoting.writerow(COLUMNS)
    for host in report.get("hosts") or ():
        _host_rows(report, host, quoting, chunk)
        # Tab, CR and LF survive (quoted by the csv module); no other control character does.
        stream.write(clean(chunk.getvalue()))
        chunk.seek(0)
        chunk.truncate()
    stream.write(clean(chunk.getvalue()))


def render(report: dict[str, Any]) -> str:
    """report (the compliance report document) -> CSV text with a header row, CRLF line ends."""
    out = io.StringIO()
    write(report, out)
    return out.getvalue()
