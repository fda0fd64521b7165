# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Re-draw a compliance report from the history store, on the controller (see the module's docs)."""

from __future__ import annotations

import os
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.fleetpatch.patching.plugins.plugin_utils import _awx_job
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import files as _report_files
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import location as _report_location
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import query as _report_query
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import run as _report_run

ARGUMENT_SPEC = {
    "store": {"type": "str", "required": True},
    "run_id": {"type": "str"},
    "since": {"type": "str"},
    "until": {"type": "str"},
    "query": {"type": "str"},
    "dest": {"type": "path", "required": True},
    "formats": {"type": "list", "elements": "str", "default": list(_report_files.FORMATS),
                "choices": list(_report_files.FORMATS)},
    "file_mode": {"type": "str", "default": "0600"},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC, mutually_exclusive=[("run_id", "since"), ("run_id", "until")])
        report = self._load(args)
        if args["query"]:
            try:
                report = _report_query.narrowed(report, args["query"])
            except _report_query.ReportQueryError as exc:
                raise AnsibleActionFail("Failed to select hosts: %s" % exc)
        # the directory write_reports() draws into, named as the callback's own runs are
        run_dir = _report_location.location(report["run"]["run_id"], args["dest"], args["formats"])["dir"]
        result.update(run_id=report["run"]["run_id"], summary=report["summary"], directory=run_dir,
                      hosts=[h["host"] for h in report["hosts"]], changed=True)
        if self._task.check_mode:
            result["files"] = dict((f, os.path.join(run_dir, _report_files.FILE_NAMES[f])) for f in args["formats"])
            return result
        try:
            result["files"] = _report_files.write_reports(report, args["dest"], args["formats"],
                                                          mode=int(args["file_mode"], 8), link_latest=False)
        except (OSError, ValueError) as exc:
            raise AnsibleActionFail("Failed to write the report to %s: %s" % (args["dest"], exc))
        return result

    @staticmethod
    def _logical_run(store, run_id):
        """The report of run_id, or of every slice of the sliced AWX job it is one of (run_id: a
        slice's run id or the group's name, docs/awx.md): each host as its slice saw it, the trend
        of the newest slice (earlier runs, its siblings left out) ending with the whole job."""
        reports = [report for report in (store.get_report(i) for i in store.logical_run(run_id)) if report]
        if not reports:
            raise AnsibleActionFail("Failed to find run %s in the history store" % run_id)
        if len(reports) == 1:
            return reports[0]
        newest = max(reports, key=lambda r: r["run"]["ended_at"])
        group = _awx_job.run_group(run_id, newest["run"].get("awx"))
        # a stored report's trend ends with its own point: the group's point replaces it
        combined = _report_query.combine(reports, group, trend=(newest.get("trend") or [])[:-1])
        combined["run"]["awx"] = newest["run"].get("awx")
        return combined

    def _load(self, args):
        try:
            store = _report_run.open_store(_report_run.store_location(args["store"]))
        except Exception as exc:
            raise AnsibleActionFail("Failed to open the history store: %s" % exc)
        try:
            if args["run_id"]:
                return self._logical_run(store, args["run_id"])
            reports = [store.get_report(run["run_id"]) for run in store.runs(since=args["since"], until=args["until"])]
            run_id = "range-%s-%s" % (args["since"] or "start", args["until"] or "now")
            return _report_query.combine([r for r in reports if r], run_id)
        except _report_query.ReportQueryError as exc:
            raise AnsibleActionFail("Failed to build the report: %s (since %s, until %s)"
                                    % (exc, args["since"] or "the first run", args["until"] or "now"))
        except AnsibleActionFail:
            raise
        except Exception as exc:
            raise AnsibleActionFail("Failed to read the history store: %s" % exc)
        finally:
            store.close()
