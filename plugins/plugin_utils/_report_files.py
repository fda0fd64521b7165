# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing a compliance report's files: one directory per run, every file written atomically
(temp file + rename, so a reader or a crash never sees half a report), private by default.
Private to this collection: may change without notice."""

from __future__ import annotations

import json
import os
import tempfile

from ansible_collections.fleetpatch.patching.plugins.plugin_utils import (
    _render_csv, _render_html, _render_junit, _render_markdown)

# format -> file name; json first: it is the source of truth, written before anything drawn from it
FILE_NAMES = {
    "json": "report.json",
    "html": "report.html",
    "csv": "report.csv",
    "junit": "report.junit.xml",
    "markdown": "report.md",
}
FORMATS = tuple(FILE_NAMES)


def render_json(report):
    # Compact: json only uses its C encoder without indent, and a 10,000-host report is 30x
    # faster this way (jq or python -m json.tool pretty-print it).
    return json.dumps(report, ensure_ascii=False, separators=(",", ":")) + "\n"


def render(report, fmt, files=None):
    if fmt == "json":
        return render_json(report)
    if fmt == "html":
        return _render_html.render(report)
    if fmt == "csv":
        return _render_csv.render(report)
    if fmt == "junit":
        return _render_junit.render(report)
    if fmt == "markdown":
        return _render_markdown.render(report, files=files)
    raise ValueError("unknown report format %r: choose from %s" % (fmt, ", ".join(FORMATS)))


def atomic_write(path, text, mode=0o600):
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def point_latest(report_dir, run_dir):
    """report_dir/latest -> the newest run's directory (replaced atomically)."""
    link = os.path.join(report_dir, "latest")
    tmp = os.path.join(report_dir, ".latest.%d" % os.getpid())
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(os.path.basename(run_dir), tmp)
    os.replace(tmp, link)


def write_reports(report, report_dir, formats=FORMATS, mode=0o600, link_latest=True, rendered=None):
    """Write report_dir/<run_id>/report.<ext> for each format; return {format: path}.
    rendered: {format: text} already drawn (the callback serialises the JSON once for the file
    and the store). The Markdown names the other files, so it is written last."""
    rendered = rendered or {}
    run_dir = os.path.join(report_dir, safe_name(report["run"]["run_id"]))
    os.makedirs(run_dir, mode=0o700, exist_ok=True)
    files = {}
    for fmt in sorted(formats, key=lambda f: (f == "markdown", FORMATS.index(f))):
        path = os.path.join(run_dir, FILE_NAMES[fmt])
        text = rendered[fmt] if fmt in rendered else render(report, fmt, files=dict(files))
        atomic_write(path, text, mode)
        files[fmt] = path
    if link_latest:
        point_latest(report_dir, run_dir)
    return files


def safe_name(text):
    """A run id usable as a directory name, whatever an operator passed."""
    cleaned = "".join(c if c.isalnum() or c in "-_.:" else "_" for c in str(text)).strip(".")
    return cleaned or "run"
