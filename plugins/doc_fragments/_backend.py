# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Private to fleetpatch.patching; may change without notice.

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Options every fleetpatch module that drives a package manager takes."""

    DOCUMENTATION = r"""
options:
  pkg_mgr:
    description:
      - The package manager that owns the packages. V(auto) detects it.
      - Set it where detection would be wrong, for example RPM tools installed on a Debian system.
      - V(windows) makes patch_facts, patch_apply and patch_rollback drive the host through ansible.windows
        (detected anyway on a PowerShell connection); other modules and POSIX hosts refuse it.
    type: str
    choices: [auto, apt, dnf, yum, zypper, windows]
    default: auto
  root:
    description:
      - Work on an installroot (an image build or a chroot) instead of the running system.
      - Supported by dnf and zypper.
    type: path
  lock_timeout:
    description:
      - Seconds to wait for a package-manager lock held by another process before failing with
        the lock's name and holder.
    type: int
    default: 120
  state_dir:
    description:
      - Where fleetpatch keeps its files on the host (first-seen dates, rollback journals); root only.
    type: path
    default: /var/lib/fleetpatch
"""
