# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

The action plugins' shared part: a Windows host is driven from the controller through the
ansible.windows modules (_windows/run.py); any other host runs the same-named Python module,
unchanged.
"""

from __future__ import annotations

import traceback
from typing import Any

from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError
from ansible_collections.fleetpatch.patching.plugins.module_utils._windows_options import WINDOWS_OPTION
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._windows import run as _windows_run
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._windows import updates as _windows_updates


def is_windows_host(connection: Any, args: dict[str, Any]) -> bool:
    """A PowerShell connection (WinRM, PSRP, or SSH with the powershell shell), or pkg_mgr: windows."""
    shell = getattr(connection, "_shell", None)
    return getattr(shell, "SHELL_FAMILY", None) == "powershell" or args.get("pkg_mgr") == "windows"


class WindowsDispatchAction(ActionBase):
    """Run the module of this name on POSIX hosts; on Windows hosts, `run_windows`."""

    MODULE = None           # fleetpatch.patching.<name>
    ARGUMENT_SPEC = None    # the module's own spec (validated here on Windows)

    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        windows = is_windows_host(self._connection, self._task.args)
        if windows:
            self._supports_async = False      # win_updates' own polling does the waiting
        result = super(WindowsDispatchAction, self).run(tmp, task_vars)
        del tmp
        if not windows:
            # POSIX: the module, exactly as ansible.builtin.normal would run it without this plugin.
            wrap_async = self._task.async_val and not self._connection.has_native_async
            result = merge_hash(result, self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return result
        validation = ArgumentSpecValidator(self.ARGUMENT_SPEC).validate(self._task.args)
        if validation.error_messages:
            result.update(failed=True, msg="Invalid arguments for %s: %s"
                          % (self.MODULE, "; ".join(validation.error_messages)))
            return result
        args = validation.validated_parameters
        task_vars = task_vars or {}
        if args.get("root"):
            result.update(failed=True, msg="Failed to run %s: root (an installroot) is not supported on Windows hosts"
                          % self.MODULE)
            return result
        run = _windows_run.WindowsRun(
            lambda name, module_args: self.windows_call(name, module_args, task_vars),
            _windows_updates.identity(task_vars, task_vars.get("inventory_hostname")),
            windows_options(args), check_mode=bool(self._task.check_mode))
        try:
            result.update(self.run_windows(run, args))
        except _windows_run.HostUnreachable as exc:
            result.update(unreachable=True, **self.error_result(exc))
        except PatchError as exc:
            result.update(failed=True, **self.error_result(exc))
        except AnsibleConnectionFailure as exc:
            result.update(unreachable=True, msg="Failed to run %s: the connection was lost (%s)"
                          % (self.MODULE, to_text(exc)))
        except Exception as exc:  # a traceback must not reach the user as the message
            result.update(failed=True, msg="Failed to run %s on Windows: %s" % (self.MODULE, to_text(exc)),
                          exception=traceback.format_exc())
        return result

    def run_windows(self, run: _windows_run.WindowsRun, args: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def error_result(self, exc: PatchError) -> dict[str, Any]:
        return {"msg": exc.msg}

    def windows_call(self, name: str, module_args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        """Run one ansible.windows module on the host: through its action plugin when it has one
        (win_updates, win_reboot and win_copy do their work on the controller), else directly."""
        task = self._task.copy(exclude_parent=True, exclude_tasks=True)
        task.args = dict(module_args)
        action = self._shared_loader_obj.action_loader.get(
            name, task=task, connection=self._connection, play_context=self._play_context, loader=self._loader,
            templar=self._templar, shared_loader_obj=self._shared_loader_obj)
        if action is not None:
            return action.run(task_vars=task_vars)
        return self._execute_module(module_name=name, module_args=dict(module_args), task_vars=task_vars)


def windows_options(args: dict[str, Any]) -> dict[str, Any]:
    options = dict((k, v["default"]) for k, v in WINDOWS_OPTION["options"].items() if "default" in v)
    options.update(dict((k, v) for k, v in (args.get("windows") or {}).items() if v is not None))
    return options
