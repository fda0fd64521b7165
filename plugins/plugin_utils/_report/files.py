# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing a compliance report's files: one directory per run, every file written atomically
(temp file + rename, so a reader or a crash never sees half a report), private by default.
Private to this collection: may change without notice."""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Iterable, Iterator, TextIO

from ansible_collections.fleetpatch.patching.plugins.module_utils._files import private_directory, write_private_file
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import hosts_csv as _render_csv
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import dashboard_html as _render_html
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import junit_xml as _render_junit
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import markdown_summary as _render_markdown
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import updates_csv as _render_updates_csv

# format -> file name; json first: it is the source of truth, written before anything drawn from it
FILE_NAMES = {
    "json": "report.json",
    "html": "report.html",
    "csv": "report.csv",
    "junit": "report.junit.xml",
    "markdown": "report.md",
    "updates": "report.updates.csv",
}
FORMATS = tuple(FILE_NAMES)


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def json_chunks(report: dict[str, Any]) -> Iterator[str]:
    """The report as compact JSON text, in pieces: the run, summary and trend, then a host at a
    time. A 10,000-host report is 200 MB of JSON; never holding it whole keeps the callback within
    its memory budget. (Compact because json's C encoder does not indent; jq pretty-prints.)"""
    head = dict((k, v) for k, v in report.items() if k != "hosts")
    text = _encode(head)
    yield text[:-1] + (',"hosts":[' if head else '{"hosts":[')
    hosts = report["hosts"]
    # The callback's hosts (SpilledHosts) are JSON text already, written by this same encoder.
    pieces = hosts.texts() if hasattr(hosts, "texts") else (_encode(host) for host in hosts)
    first = True
    for piece in pieces:
        yield piece if first else "," + piece
        first = False
    yield "]}\n"


def content(report: dict[str, Any], fmt: str,
            files: dict[str, str] | None = None) -> str | Iterable[str] | Callable[[TextIO], None]:
    """What write_private_file takes for one format: text, an iterable of text pieces, or a function
    that writes to a stream (the big formats are never held whole)."""
    if fmt == "json":
        return json_chunks(report)
    if fmt == "html":
        return _render_html.render(report)
    if fmt == "csv":
        return lambda stream: _render_csv.write(report, stream)
    if fmt == "junit":
        return _render_junit.chunks(report)
    if fmt == "markdown":
        return _render_markdown.render(report, files=files)
    if fmt == "updates":
        return lambda stream: _render_updates_csv.write(report, stream)
    raise ValueError("unknown report format %r: choose from %s" % (fmt, ", ".join(FORMATS)))


def point_latest(report_dir: str, run_dir: str) -> None:
    """report_dir/latest -> the newest run's directory (replaced atomically)."""
    link = os.path.join(report_dir, "latest")
    tmp = os.path.join(report_dir, ".latest.%d" % os.getpid())
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(os.path.basename(run_dir), tmp)
    os.replace(tmp, link)


def write_reports(report: dict[str, Any], report_dir: str, formats: Iterable[str] = FORMATS, mode: int = 0o600,
                  link_latest: bool = True, files: dict[str, str] | None = None) -> dict[str, str]:
    """Write report_dir/<run_id>/report.<ext> for each format; return {format: path}, files (those
    written before) included. The Markdown names the other files, so it is written last."""
    run_dir = os.path.join(report_dir, safe_name(report["run"]["run_id"]))
    private_directory(run_dir)
    files = dict(files or {})
    for fmt in sorted(formats, key=lambda f: (f == "markdown", FORMATS.index(f))):
        path = os.path.join(run_dir, FILE_NAMES[fmt])
        # errors="replace": one lone surrogate in a message (what no encoder writes) must not cost the whole file.
        write_private_file(path, content(report, fmt, files=dict(files)), mode,
                           errors="replace")
        files[fmt] = path
    if link_latest:
        point_latest(report_dir, run_dir)
    return files


def safe_name(text: Any) -> str:
    """A run id usable as a directory name, whatever an operator passed."""
    cleaned = "".join(c if c.isalnum() or c in "-_.:" else "_" for c in str(text)).strip(".")
    return cleaned or "run"
