# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test stub of ansible.windows.win_updates: replays recorded results (plugin_utils/_replay.py)."""

from __future__ import annotations

from ansible_collections.ansible.windows.plugins.plugin_utils._replay import ReplayAction


class ActionModule(ReplayAction):

    MODULE = "win_updates"
