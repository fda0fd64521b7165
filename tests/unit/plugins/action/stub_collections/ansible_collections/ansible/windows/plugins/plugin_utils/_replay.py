# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test stub, not the real ansible.windows: replayed module results for one inventory host.

State lives in $FLEETPATCH_REPLAY_DIR/<inventory_hostname>/ because every task runs in its own
worker process: `calls.jsonl` (every call, in order, with the fixture it was answered with) and
`drive.json` (the files win_copy wrote, by Windows path). The scripted modules answer with the
next fixture of the host variable `fleetpatch_test_windows_scenario` ({module: [fixture, ...]}).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os

from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

FIXTURES = os.environ.get("FLEETPATCH_REPLAY_FIXTURES") or os.path.abspath(os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "..", "..", "..", "fixtures", "windows"))
SCENARIO_VAR = "fleetpatch_test_windows_scenario"


def _plain(value):
    """JSON-safe copy of a task's arguments (templated values may be tagged types)."""
    return json.loads(json.dumps(value, default=to_text))


class ReplayHost(object):

    def __init__(self, hostname, scenario):
        base = os.environ.get("FLEETPATCH_REPLAY_DIR")
        if not base:
            raise ValueError("FLEETPATCH_REPLAY_DIR is not set: this stub ansible.windows only replays fixtures")
        self.dir = os.path.join(base, hostname)
        os.makedirs(self.dir, exist_ok=True)
        self.scenario = _plain(scenario or {})
        self.calls_path = os.path.join(self.dir, "calls.jsonl")
        self.drive_path = os.path.join(self.dir, "drive.json")

    def calls(self):
        if not os.path.exists(self.calls_path):
            return []
        with open(self.calls_path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def drive(self):
        if not os.path.exists(self.drive_path):
            return {}
        with open(self.drive_path) as f:
            return json.load(f)

    def _save_drive(self, drive):
        with open(self.drive_path + ".tmp", "w") as f:
            json.dump(drive, f, indent=1, sort_keys=True)
        os.replace(self.drive_path + ".tmp", self.drive_path)

    def call(self, module, args, check_mode):
        with open(os.path.join(self.dir, "lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            fixture = None
            if module in ("slurp", "win_find", "win_file", "win_copy"):
                result = self._file(module, args, check_mode)
            elif module == "win_reboot" and check_mode:
                result = {"changed": True, "elapsed": 0, "rebooted": True}     # what the real win_reboot answers
            else:
                fixture, result = self._scripted(module)
            entry = {"module": module, "args": _plain(args), "check_mode": bool(check_mode), "fixture": fixture}
            with open(self.calls_path, "a") as f:
                f.write(json.dumps(entry, sort_keys=True) + "\n")
        return result

    def _scripted(self, module):
        script = self.scenario.get(module) or []
        used = sum(1 for c in self.calls() if c["module"] == module and not (module == "win_reboot" and c["check_mode"]))
        if used >= len(script):
            return "UNEXPECTED", {"failed": True, "msg": "replay: unexpected call %d of ansible.windows.%s (scripted: %r)"
                                  % (used + 1, module, script)}
        with open(os.path.join(FIXTURES, script[used] + ".json")) as f:
            return script[used], json.load(f)

    def _file(self, module, args, check_mode):
        drive = self.drive()
        if module == "slurp":
            if args["src"] not in drive:
                return {"failed": True, "msg": "Path %s is not found" % args["src"]}
            return {"changed": False, "encoding": "base64", "source": args["src"],
                    "content": base64.b64encode(drive[args["src"]].encode("utf-8")).decode("ascii")}
        if module == "win_find":
            paths = args["paths"] if isinstance(args["paths"], list) else [args["paths"]]
            found = []
            for path in paths:
                prefix = path.rstrip("\\") + "\\"
                found.extend({"filename": p[len(prefix):], "path": p} for p in sorted(drive)
                             if p.startswith(prefix) and "\\" not in p[len(prefix):] and p.endswith(".json"))
            return {"changed": False, "files": found, "matched": len(found), "examined": len(found)}
        if module == "win_file":
            return {"changed": False}
        changed = drive.get(args["dest"]) != args["content"]
        if changed and not check_mode:
            drive[args["dest"]] = args["content"]
            self._save_drive(drive)
        return {"changed": changed, "dest": args["dest"]}


class ReplayAction(ActionBase):
    """An ansible.windows action plugin that answers from ReplayHost and never reaches the host."""

    MODULE = None
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ReplayAction, self).run(tmp, task_vars)
        host = ReplayHost(task_vars.get("inventory_hostname"), task_vars.get(SCENARIO_VAR))
        result.update(host.call(self.MODULE, self._task.args, self._task.check_mode))
        return result
