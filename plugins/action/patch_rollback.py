# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""patch_rollback: the Python module on POSIX hosts; ansible.windows.win_hotfix (uninstall by KB)
on Windows hosts, refusing updates Windows cannot uninstall."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ansible_collections.fleetpatch.patching.plugins.module_utils._module_args import rollback_argument_spec
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._windows.action import WindowsDispatchAction

if TYPE_CHECKING:
    from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._windows.run import WindowsRun


class ActionModule(WindowsDispatchAction):

    MODULE = "fleetpatch.patching.patch_rollback"
    ARGUMENT_SPEC = rollback_argument_spec()

    def run_windows(self, run: WindowsRun, args: dict[str, Any]) -> dict[str, Any]:
        result = run.rollback(args["journal"], keep_permanent=run.options.get("keep_permanent"))
        diff = result.pop("diff")
        if self._task.diff:
            result["diff"] = diff
        return result

    def error_result(self, exc: PatchError) -> dict[str, Any]:
        return {"msg": exc.msg, "changes": getattr(exc, "changes", [])}
