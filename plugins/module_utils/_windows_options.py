# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

The `windows` option of patch_facts, patch_apply and patch_rollback (documented in the
fleetpatch.patching._windows doc fragment). Only the action plugins read it, on Windows hosts;
the Python modules accept it so that one task serves a mixed fleet, and ignore it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

WINDOWS_OPTION = dict(type="dict", options=dict(
    state_dir=dict(type="str", default="C:\\ProgramData\\fleetpatch"),
    category_names=dict(type="list", elements="str", default=["*"]),
    server_selection=dict(type="str", choices=["default", "managed_server", "windows_update"]),
    reboot=dict(type="bool", default=False),
    max_passes=dict(type="int", default=3, no_log=False),
    reboot_timeout=dict(type="int", default=3600),
    keep_permanent=dict(type="bool", default=False),
))
