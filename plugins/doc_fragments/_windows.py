# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Private to fleetpatch.patching; may change without notice.

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The windows option of patch_facts, patch_apply and patch_rollback."""

    DOCUMENTATION = r"""
options:
  windows:
    description:
      - Settings for Windows hosts, which the action plugin drives through M(ansible.windows.win_updates),
        M(ansible.windows.win_reboot) and M(ansible.windows.win_hotfix). Ignored on POSIX hosts.
      - A host is a Windows host when its connection's shell is PowerShell (WinRM, PSRP, or SSH with
        C(ansible_shell_type=powershell)), or when O(pkg_mgr=windows). See C(docs/windows.md).
    type: dict
    suboptions:
      state_dir:
        description: Where fleetpatch keeps first-seen dates and rollback journals on the Windows host.
        type: str
        default: C:\ProgramData\fleetpatch
      category_names:
        description: The Windows Update categories searched and installed (V(*) is every category).
        type: list
        elements: str
        default: ["*"]
      server_selection:
        description: The update source, as M(ansible.windows.win_updates) takes it.
        type: str
        choices: [default, managed_server, windows_update]
      reboot:
        description:
          - patch_apply only. Reboot with M(ansible.windows.win_reboot) between install passes when an
            update failed or asked for a reboot, then retry what failed and check that what installed
            stayed installed. Without it there is one pass and the reboot is left to the caller.
        type: bool
        default: false
      max_passes:
        description:
          - patch_apply only, with O(windows.reboot). The retry budget; an update still failing (or
            offered again after a reboot) after this many passes is reported failed.
        type: int
        default: 3
      reboot_timeout:
        description: patch_apply only. Seconds M(ansible.windows.win_reboot) waits for the host to return.
        type: int
        default: 3600
      keep_permanent:
        description:
          - patch_rollback only. By default a journal holding an update Windows cannot uninstall (a
            servicing stack update, a definition update) is refused before anything changes. V(true)
            removes the other updates and lists the permanent ones in C(kept).
        type: bool
        default: false
"""
