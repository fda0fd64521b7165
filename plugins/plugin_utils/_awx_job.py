# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWX / Automation Platform job a run belongs to, from the variables AWX adds to every job's
extra variables (awx_job_id, awx_workflow_job_id, ...; AWX 24's awx_meta_vars, also under the
tower_ prefix), for the report's run.awx, the history store's runs and a link to the job.
Private to this collection: may change without notice.

Extra variables are whatever the launcher passed: each value is checked (ids are whole numbers,
names are text of at most NAME_CHARS characters); anything else is left out.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

NAME_CHARS = 256
# report key -> (AWX extra variable suffix, kind)
FIELDS = (
    ("job_id", "job_id", int),
    ("job_template_id", "job_template_id", int),
    ("job_template_name", "job_template_name", str),
    ("workflow_job_id", "workflow_job_id", int),
    ("workflow_job_name", "workflow_job_name", str),
    ("user_name", "user_name", str),
    ("schedule_id", "schedule_id", int),
    ("schedule_name", "schedule_name", str),
    ("parent_schedule_name", "parent_job_schedule_name", str),
    ("launch_type", "job_launch_type", str),
    ("inventory_name", "inventory_name", str),
    ("project_revision", "project_revision", str),
)
KEYS = tuple(key for key, _suffix, _kind in FIELDS)
# The name of a logical run made of the runs of one job template in one workflow job (run_group).
GROUP_FORMAT = "awx-workflow-%d-template-%d"
_GROUP = re.compile(r"^awx-workflow-(\d+)-template-(\d+)$")


def _value(raw, kind):
    if kind is int:
        if isinstance(raw, bool):
            return None
        if isinstance(raw, int) and raw >= 0:
            return raw
        if isinstance(raw, str) and raw.isdigit():
            return int(raw)
        return None
    if isinstance(raw, (str, int)) and not isinstance(raw, bool):
        return str(raw)[:NAME_CHARS]
    return None


def job_metadata(extra_vars: Any) -> dict[str, Any] | None:
    """{key: value} for the report's run.awx, every key of KEYS present (null when not given), or
    None when the run is not an AWX job (no job id)."""
    if not isinstance(extra_vars, dict):
        return None
    found = {}
    for key, suffix, kind in FIELDS:
        raw = extra_vars.get("awx_" + suffix, extra_vars.get("tower_" + suffix))
        found[key] = _value(raw, kind) if raw is not None else None
    if found["job_id"] is None:
        return None
    return found


def run_group(run_id: str, awx: dict[str, Any] | None) -> str:
    """The logical run a stored run belongs to. AWX runs a sliced job template (job slicing) as a
    workflow job whose nodes are the slices, each a job of that template with the workflow job's
    id: the runs sharing (workflow job id, job template id) are one run, split by hosts. Any other
    run is a group of its own (its run_id). AWX gives a slice no variable with its slice number
    (job_slice_number only picks its hosts), so the runs of one template in one workflow job are
    merged whether or not the template was sliced (a workflow running one template twice is
    merged too, each host as its newer run saw it)."""
    awx = awx or {}
    if awx.get("workflow_job_id") is None or awx.get("job_template_id") is None:
        return run_id
    return GROUP_FORMAT % (awx["workflow_job_id"], awx["job_template_id"])


def group_job(group: Any) -> tuple[int, int] | None:
    """(workflow job id, job template id) of a run_group() name, or None for any other text."""
    match = _GROUP.match(str(group))
    return (int(match.group(1)), int(match.group(2))) if match else None


def job_url(base_url: str | None, awx: dict[str, Any] | None) -> str | None:
    """The job's page in AWX's UI (workflow jobs link to the job itself; the workflow has its own
    page), or None without a usable http(s) base URL."""
    if not awx or not base_url:
        return None
    parts = urlsplit(str(base_url).strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return "%s://%s%s/#/jobs/playbook/%d/output" % (parts.scheme, parts.netloc, parts.path.rstrip("/"), awx["job_id"])
