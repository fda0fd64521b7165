# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Private to fleetpatch.patching; may change without notice.

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The bound patch_apply and patch_rollback put on one package-manager transaction."""

    DOCUMENTATION = r"""
options:
  transaction_timeout:
    description:
      - Seconds one package-manager transaction (the install, a rollback, the repair of an interrupted run)
        may take. A transaction still running then (a maintainer script or scriptlet that hangs) is stopped
        with every process it started, whatever session they moved to (frozen with SIGSTOP, then killed), and
        the task fails naming the command and the chain of processes that was still running.
      - The package database is then left unfinished, as after a kill; the next run repairs it before
        anything else (see docs/reliability.md).
      - V(0) waits for ever. Ignored on Windows hosts (see the O(windows) option's C(reboot_timeout)).
    type: int
    default: 3600
"""
