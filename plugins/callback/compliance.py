# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: compliance
type: aggregate
short_description: Turn every fleetpatch run into a compliance report and a history entry
description:
  - Collects every fleetpatch host patch record the run produces (assessment, apply, rollback, health checks,
    reboots, the patch role's outcome, gate decisions) plus the hosts that failed or were unreachable.
  - At the end of the run writes a report directory C(<report_dir>/<run_id>/) holding C(report.json) (the source of
    truth, valid against C(docs/schemas/compliance_report.schema.json)), a self-contained C(report.html) dashboard,
    C(report.csv) (a row per host and update), C(report.updates.csv) (a row per advisory or package, with its hosts),
    C(report.junit.xml) (a testcase per host) and C(report.md), and
    points C(<report_dir>/latest) at it. The Markdown summary is also printed, which is what an AWX job log shows.
  - Appends the run to the history store (SQLite by default, PostgreSQL by URL), which gives the report its trend
    and first-seen dates.
  - Never breaks a playbook; its own errors become warnings. On SIGINT or SIGTERM it writes what it has, marked
    aborted. Files are written atomically and are private (0600) by default. It stores no module arguments;
    results reach it already censored for C(no_log).
  - Runs without any fleetpatch result (other playbooks, when the callback is enabled globally) write nothing.
version_added: 0.1.0
requirements:
  - Enable it with C(callbacks_enabled = fleetpatch.patching.compliance) in C(ansible.cfg) or
    C(ANSIBLE_CALLBACKS_ENABLED); it works beside any stdout callback, including AWX's.
  - psycopg 3 on the controller for a PostgreSQL store.
options:
  report_dir:
    description: Where the report directories are written.
    type: path
    default: ~/.ansible/fleetpatch/reports
    env:
      - name: FLEETPATCH_REPORT_DIR
    ini:
      - section: fleetpatch
        key: report_dir
  store:
    description:
      - The history store, a SQLite file path or a C(postgresql://user@host/db) URL.
      - An empty value, or C(none), disables the store (no trend, no history).
      - Keep passwords out of the URL where you can; psycopg also reads C(PGPASSWORD) and C(~/.pgpass).
    type: str
    default: ~/.ansible/fleetpatch/history.sqlite
    env:
      - name: FLEETPATCH_STORE
    ini:
      - section: fleetpatch
        key: store
  formats:
    description:
      - The report files to write (C(json) is always written).
      - C(updates) is C(report.updates.csv), the by-update view (one row per advisory, or package without one, with
        the hosts missing it, failed, installed and held back).
    type: list
    elements: str
    default: [json, html, csv, junit, markdown, updates]
    env:
      - name: FLEETPATCH_REPORT_FORMATS
    ini:
      - section: fleetpatch
        key: formats
  file_mode:
    description: The permissions of the report files, in octal.
    type: str
    default: "0600"
    env:
      - name: FLEETPATCH_REPORT_FILE_MODE
    ini:
      - section: fleetpatch
        key: file_mode
  run_id:
    description:
      - The run's id, the report directory's name and the store's key. Defaults to the UTC start time and a random
        suffix. Set it to tie a report to a scheduler's job (for instance an AWX job id).
    type: str
    env:
      - name: FLEETPATCH_RUN_ID
    ini:
      - section: fleetpatch
        key: run_id
  store_keep_days:
    description:
      - After each run, delete the runs that ended more than this many days ago from the history store, except
        a run that is still some host's latest run or latest assessment (the history goes, every host's current
        state stays).
      - C(0) keeps every run.
    type: int
    default: 0
    env:
      - name: FLEETPATCH_STORE_KEEP_DAYS
    ini:
      - section: fleetpatch
        key: store_keep_days
  trend_runs:
    description: How many earlier runs the report's trend shows.
    type: int
    default: 30
    env:
      - name: FLEETPATCH_TREND_RUNS
    ini:
      - section: fleetpatch
        key: trend_runs
  stale_days:
    description:
      - The report's fleet state (from the history store) calls a host stale when its last assessment is older than
        this many days, as the compliance inventory plugin's C(stale_days) does.
    type: int
    default: 7
    env:
      - name: FLEETPATCH_STALE_DAYS
    ini:
      - section: fleetpatch
        key: stale_days
  awx_url:
    description:
      - The base URL of the AWX / Automation Platform that runs the job (C(https://awx.example.com)). When the run is
        an AWX job (AWX's C(awx_job_id) extra variable), the dashboard links to the job's output there.
      - The job's metadata (job and template, workflow job, user, schedule, launch type) is recorded either way.
    type: str
    env:
      - name: FLEETPATCH_AWX_URL
    ini:
      - section: fleetpatch
        key: awx_url
  print_summary:
    description:
      - Print the Markdown summary at the end of the run.
      - Turn it off when the stdout callback's output is read by a program (for example C(ansible.builtin.json)).
    type: bool
    default: true
    env:
      - name: FLEETPATCH_PRINT_SUMMARY
    ini:
      - section: fleetpatch
        key: print_summary
"""

import marshal
import os
import secrets
import signal
import socket
from typing import TYPE_CHECKING, Any

from ansible import context
from ansible.plugins.callback import CallbackBase
from ansible.release import __version__ as ansible_version

# stdlib only, and shipped beside this file: the callback's own clock needs no guard
from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import utc_stamp

if TYPE_CHECKING:
    from ansible.executor.stats import AggregateStats
    from ansible.executor.task_result import CallbackTaskResult
    from ansible.playbook import Playbook
    from ansible.playbook.play import Play
    from ansible.utils.display import Display

try:
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils import _awx_job
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import location as _report_location
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model as _report_model
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import run as _report_run
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import spill as _report_spill
    IMPORT_ERROR = None
except ImportError as exc:      # reported as a warning: a callback must never break the playbook
    IMPORT_ERROR = exc

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def result_data(result: CallbackTaskResult) -> dict[str, Any]:
    """The task result's data as plain Python values, for reading only.

    perf: ansible-core 2.19 hands each callback its own copy of the result (_return_data) and
    builds a second, native-typed copy on the first read of `_result` (transform_to_native_types).
    For a host patch record of 50 updates, that second copy costs 2.8 ms a result; finding the
    first already plain with marshal costs 0.4 ms. Reading a result now costs the callback 0.42 to
    0.45 times what it did, Ansible's own copy included (bench/callback_result_bench.py,
    docs/benchmarks.md). A module's result, decoded from its JSON reply, is always plain. marshal
    refuses any value that is not of an exact built-in type, such as the tagged values of a
    templated set_fact: those results are read through `_result` as before, and so is every
    result on an ansible-core without _return_data."""
    data = getattr(result, "_return_data", None)
    if isinstance(data, dict):
        try:
            marshal.dumps(data)
            return data
        except ValueError:      # a tagged or other non-built-in value: Ansible's native copy
            pass
    data = result._result
    return data if isinstance(data, dict) else {}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "fleetpatch.patching.compliance"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display: Display | None = None) -> None:
        super(CallbackModule, self).__init__(display=display)
        self._started_at = utc_stamp()
        self._run_id = None
        self._playbooks = []
        self._hosts = {}             # inventory name -> HostObservations
        self._relevant = set()       # hosts fleetpatch touched
        self._rings = {}             # inventory name -> ring, from the inventory
        self._inventory_hosts = set()  # every inventory host name (the fleet view's never-assessed hosts)
        self._awx = None             # the AWX job this run is (_awx_job.job_metadata), from its extra vars
        self._gates = None
        self._aborted_by = None
        self._written = False
        self._pid = os.getpid()
        self._previous_handlers = {}
        self._spill = None           # the run's spill file (_report/spill.py): the hosts' updates and changes
        self._spill_failed = False
        self._spill_removed = False  # the run's report is written and its spill gone: nothing to redraw

    def set_options(self, task_keys: dict[str, Any] | None = None, var_options: dict[str, Any] | None = None,
                    direct: dict[str, Any] | None = None) -> None:
        super(CallbackModule, self).set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self._run_id = self.get_option("run_id") or "%s-%s" % (
            self._started_at.replace("-", "").replace(":", ""), secrets.token_hex(4))
        if IMPORT_ERROR is None:     # for the report_location lookup (a job's set_stats artifacts)
            _report_location.publish(self._run_id, self.get_option("report_dir"), self.get_option("formats"))

    # --- collecting -------------------------------------------------------------------------

    def v2_playbook_on_start(self, playbook: Playbook) -> None:
        self._playbooks.append(os.path.basename(getattr(playbook, "_file_name", "") or "playbook"))
        self._install_signal_handlers()

    def v2_playbook_on_play_start(self, play: Play) -> None:
        try:
            if self._awx is None:
                self._awx = _awx_job.job_metadata(play.get_variable_manager().extra_vars)
            inventory = play.get_variable_manager()._inventory
            self._rings.update(_report_run.rings_from_inventory(inventory))
            self._inventory_hosts.update(name for name in inventory.hosts if name not in _report_run.CONTROLLER_NAMES)
        except Exception as exc:      # the ring is a nicety; never fail the run for it
            self._display.vvv("fleetpatch.patching.compliance: no rings from the inventory: %s" % exc)

    def v2_runner_on_ok(self, result: CallbackTaskResult) -> None:
        self._observe(result)

    def v2_runner_on_failed(self, result: CallbackTaskResult, ignore_errors: bool = False) -> None:
        self._observe(result, failed=not ignore_errors)

    def v2_runner_on_unreachable(self, result: CallbackTaskResult) -> None:
        self._observe(result, unreachable=True)

    def _observe(self, result, failed=False, unreachable=False):
        if IMPORT_ERROR is not None:
            return
        try:
            host = result._host.get_name()
            task = result._task
            action = getattr(task, "resolved_action", None) or task.action
            payload = result_data(result)
            if host not in self._hosts:
                self._hosts[host] = _report_model.HostObservations(host)
            observations = self._hosts[host]
            for index, item in enumerate(_report_run.loop_items(payload)):
                observations.observe(action, item, task.get_name(), failed=failed, unreachable=unreachable,
                                     same_task=index > 0)
            self._stash(observations)
            if _report_run.is_fleetpatch(action, payload):
                self._relevant.add(host)
            if self._gates is None:
                self._gates = _report_run.GateWatcher()
            self._gates.observe(task, payload, failed)
        except Exception as exc:
            self._display.warning("fleetpatch.patching.compliance: could not record a result: %s" % exc)

    def _stash(self, observations):
        """Move the host's updates and changes to the spill file: at 10,000 hosts x 50 updates they
        are most of the run's memory. Without a spill file (the report directory cannot take it)
        they stay in memory, as they did before there was one."""
        if self._spill_failed or (self._spill is None and not (observations.updates or observations.changes)):
            return
        try:
            if self._spill is None:
                self._spill = _report_spill.Spill.create(
                    _report_location.report_dir(self.get_option("report_dir")), self._run_id)
            self._spill.stash(observations)
        except Exception as exc:
            self._spill_failed = True
            self._display.warning("fleetpatch.patching.compliance: the hosts' updates stay in memory, "
                                  "no spill file: %s" % exc)

    def _remove_spill(self):
        if self._spill is not None:
            self._spill_removed = True
            try:
                self._spill.remove()
            except OSError as exc:
                self._display.warning("fleetpatch.patching.compliance: %s" % exc)

    # --- writing ----------------------------------------------------------------------------

    def v2_playbook_on_stats(self, stats: AggregateStats) -> None:
        self._finish(stats)
        self._remove_spill()

    def _finish(self, stats=None):
        if IMPORT_ERROR is not None:
            self._display.warning("fleetpatch.patching.compliance: disabled, cannot import its code: %s"
                                  % IMPORT_ERROR)
            return
        if (self._written and not self._aborted_by) or self._spill_removed:
            return
        try:
            report, files, problems = _report_run.finish(
                run=self._run_meta(), observations=self._hosts, relevant=self._relevant, rings=self._rings,
                stats=stats, options=dict((k, self.get_option(k)) for k in (
                    "report_dir", "store", "formats", "file_mode", "trend_runs", "store_keep_days", "stale_days")),
                inventory_hosts=sorted(self._inventory_hosts), spill=self._spill)
        except Exception as exc:
            self._display.warning("fleetpatch.patching.compliance: could not write the report: %s" % exc)
            return
        for problem in problems:
            self._display.warning("fleetpatch.patching.compliance: %s" % problem)
        if report is None:
            return
        self._written = True
        if self.get_option("print_summary") and files.get("markdown"):
            try:
                with open(files["markdown"], encoding="utf-8") as handle:
                    self._display.display(handle.read())
            except OSError as exc:
                self._display.warning("fleetpatch.patching.compliance: %s" % exc)
        elif files:      # verbose only: a machine-read stdout (the json callback) must stay parseable
            self._display.v("fleetpatch compliance report: %s" % os.path.dirname(files["json"]))

    def _run_meta(self):
        return {
            "run_id": self._run_id,
            "started_at": self._started_at,
            "ended_at": utc_stamp(),
            "playbooks": list(self._playbooks),
            "check_mode": bool(context.CLIARGS.get("check", False)),
            "controller": socket.gethostname(),
            "ansible_version": ansible_version,
            "collection_version": _report_run.collection_version(),
            "aborted_by": self._aborted_by,
            "gates": list(self._gates.decisions) if self._gates else [],
            "awx": self._awx,
            "awx_url": _awx_job.job_url(self.get_option("awx_url"), self._awx),
        }

    # --- interruption -----------------------------------------------------------------------

    def _install_signal_handlers(self):
        if self._previous_handlers:
            return
        for signum in HANDLED_SIGNALS:
            try:
                self._previous_handlers[signum] = signal.signal(signum, self._on_signal)
            except ValueError:        # not the main thread (an embedding runner): no handler
                return

    def _on_signal(self, signum, frame):
        previous = self._previous_handlers.get(signum, signal.SIG_DFL)
        # Forked workers inherit the handler; only the controller process writes the report.
        if os.getpid() == self._pid and not self._aborted_by:
            self._aborted_by = signal.Signals(signum).name
            self._finish(None)
            # The spill stays while Ansible may still end the run (its stats redraw the report);
            # a signal that ends the process takes it with it.
            if previous == signal.SIG_DFL:
                self._remove_spill()
        # Then let Ansible do what it would have done (stop its workers, exit or raise KeyboardInterrupt).
        signal.signal(signum, previous)
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            os.kill(os.getpid(), signum)
