# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""patch_apply: the Python module on POSIX hosts; ansible.windows.win_updates (and win_reboot
between passes) on Windows hosts, with the journal kept on the host."""

from __future__ import annotations

from ansible_collections.fleetpatch.patching.plugins.module_utils._module_args import apply_argument_spec
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._windows_action import WindowsDispatchAction


class ActionModule(WindowsDispatchAction):

    MODULE = "fleetpatch.patching.patch_apply"
    ARGUMENT_SPEC = apply_argument_spec()

    def run_windows(self, run, args):
        result = run.apply(policy=args["policy"], manifest=args["manifest"], names=args["names"],
                           security_only=args["security_only"], advisories=args["advisories"], cves=args["cves"],
                           exclude=args["exclude"], run_id=args["run_id"])
        diff = result.pop("diff")
        if self._task.diff:
            result["diff"] = diff
        return result

    def error_result(self, exc):
        # As the Linux module fails: the journal and what changed before the failure, for rollback.
        return {"msg": exc.msg, "journal": getattr(exc, "journal", None), "changes": getattr(exc, "changes", []),
                "targets": getattr(exc, "targets", {}), "failed_updates": getattr(exc, "failed_updates", {})}
