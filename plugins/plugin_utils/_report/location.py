# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the compliance callback writes this run's report: its directory, report.json and
report.html, and the run id, for the report_location lookup (an AWX job's set_stats artifacts, so a
later workflow node or a notification can find the report). Private to this collection: may change
without notice.

The callback decides its run id when its options are set, before any task runs, and publishes it
here with its report_dir and formats; _report_files draws the files under the same names. Tasks
read it in worker processes forked from the controller after that, so they see the value the
callback will use (a module variable, not a copy of the callback's rules).
"""

from __future__ import annotations

import os
from typing import Any, Iterable

from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import files as _report_files

DEFAULT_REPORT_DIR = "~/.ansible/fleetpatch/reports"

_published = None


def report_dir(option: str | None) -> str:
    """The callback's report_dir option as the directory it writes in."""
    return os.path.expanduser(option or DEFAULT_REPORT_DIR)


def location(run_id: str, report_dir_option: str | None, formats: Iterable[str] | None) -> dict[str, Any]:
    """{run_id, dir, json, html}: html is None when the html format is not written."""
    run_dir = os.path.join(report_dir(report_dir_option), _report_files.safe_name(run_id))
    written = set(formats or _report_files.FORMATS)
    return {"run_id": run_id, "dir": run_dir,
            "json": os.path.join(run_dir, _report_files.FILE_NAMES["json"]),
            "html": os.path.join(run_dir, _report_files.FILE_NAMES["html"]) if "html" in written else None}


def publish(run_id: str, report_dir_option: str | None, formats: Iterable[str] | None) -> None:
    """The callback's run, once its options are set."""
    global _published       # pylint: disable=global-statement
    _published = location(run_id, report_dir_option, formats)


def published() -> dict[str, Any] | None:
    """This run's location, or None when no compliance callback runs in this process."""
    return dict(_published) if _published else None
