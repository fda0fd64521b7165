"""Replaying recorded ansible.windows results to the fleetpatch action plugins.

`Replay` stands in for WindowsDispatchAction.windows_call: win_updates, win_reboot and win_hotfix
results come from fixtures/windows/*.json in the order a test scripts them (a call nobody scripted
fails the test); the file modules (slurp, win_find, win_file, win_copy) act on an in-memory
C:\\ drive, so journals and first-seen dates round-trip as they would on the host.
"""
import base64
import copy
import json
import os
from unittest.mock import MagicMock

from ansible.playbook.task import Task

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "windows")
FILE_MODULES = ("ansible.windows.slurp", "ansible.windows.win_find", "ansible.windows.win_file",
                "ansible.windows.win_copy")


def fixture(name):
    with open(os.path.join(FIXTURES, name + ".json")) as f:
        return json.load(f)


class Replay(object):

    def __init__(self, **scripts):
        # scripts: win_updates=["search", "install_reboot", ...], win_reboot=[...], win_hotfix=[...]
        self.scripts = dict(("ansible.windows." + k, list(v)) for k, v in scripts.items())
        self.calls = []
        self.files = {}

    def __call__(self, name, args, task_vars=None):
        self.calls.append((name, copy.deepcopy(args)))
        if name in FILE_MODULES:
            return self._file(name, args)
        script = self.scripts.get(name)
        assert script, "unexpected call of %s %r" % (name, args)
        return fixture(script.pop(0))

    def module_calls(self, name):
        return [args for n, args in self.calls if n == "ansible.windows." + name]

    def assert_done(self):
        assert not any(self.scripts.values()), "fixtures never replayed: %r" % self.scripts

    def _file(self, name, args):
        if name == "ansible.windows.slurp":
            if args["src"] not in self.files:
                return {"failed": True, "msg": "Path %s is not found" % args["src"]}
            return {"content": base64.b64encode(self.files[args["src"]].encode()).decode(), "encoding": "base64"}
        if name == "ansible.windows.win_find":
            prefix = args["paths"] + "\\"
            found = [{"filename": p[len(prefix):], "path": p} for p in sorted(self.files)
                     if p.startswith(prefix) and p.endswith(".json") and "\\" not in p[len(prefix):]]
            return {"files": found, "matched": len(found), "examined": len(found), "changed": False}
        if name == "ansible.windows.win_file":
            return {"changed": False}
        self.files[args["dest"]] = args["content"]
        return {"changed": True, "dest": args["dest"]}


def windows_action(action_class, args, replay, check_mode=False, diff=False, facts=None):
    """An action plugin instance on a PowerShell connection, with windows_call replayed."""
    task = MagicMock(Task)
    task.args = args
    task.async_val = 0
    task.check_mode = check_mode
    task.diff = diff
    connection = MagicMock()
    connection._shell.SHELL_FAMILY = "powershell"
    play_context = MagicMock()
    play_context.check_mode = check_mode
    plugin = action_class(task, connection, play_context, loader=None, templar=None, shared_loader_obj=None)
    plugin.windows_call = replay
    task_vars = {"inventory_hostname": "win01", "ansible_facts": facts or {}}
    return plugin, task_vars
