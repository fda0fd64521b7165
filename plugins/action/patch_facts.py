# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""patch_facts: the Python module on POSIX hosts; ansible.windows.win_updates on Windows hosts."""

from __future__ import annotations

from ansible_collections.fleetpatch.patching.plugins.module_utils._module_args import facts_argument_spec
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._windows_action import WindowsDispatchAction


class ActionModule(WindowsDispatchAction):

    MODULE = "fleetpatch.patching.patch_facts"
    ARGUMENT_SPEC = facts_argument_spec()

    def run_windows(self, run, args):
        record = run.assess(policy=args["policy"], record_first_seen=args["first_seen"])
        return {"changed": False, "ansible_facts": {"fleetpatch": record}}
