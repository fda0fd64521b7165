# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test stub: a connection that runs nothing, so a task that would reach the host fails."""

from __future__ import annotations

DOCUMENTATION = r"""
name: offline
short_description: Test stub, runs nothing on the host
description:
  - Every command or file transfer fails. Used by fleetpatch's role-level Windows replay test.
author: fleetpatch contributors
options: {}
"""

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.connection import ConnectionBase


class Connection(ConnectionBase):

    transport = "ansible.windows.offline"
    has_pipelining = False

    def _connect(self):
        self._connected = True
        return self

    def _refuse(self, what):
        raise AnsibleConnectionFailure("offline test connection: %s would reach the host (only the replayed "
                                       "ansible.windows action plugins may run)" % what)

    def exec_command(self, cmd, in_data=None, sudoable=True):
        self._refuse("command %r" % (cmd,))

    def put_file(self, in_path, out_path):
        self._refuse("put_file %s" % out_path)

    def fetch_file(self, in_path, out_path):
        self._refuse("fetch_file %s" % in_path)

    def close(self):
        self._connected = False
