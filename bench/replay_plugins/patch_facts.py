# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A bench-only action named patch_facts that replays a host patch record on the controller.

bench/callback_overhead_bench.py puts this directory on ANSIBLE_ACTION_PLUGINS. The compliance
callback takes a record from a result whose action's short name is patch_facts (ansible.legacy.
patch_facts here), so this action stands in for fleetpatch.patching.patch_facts without running a
module or a package manager on the host: what the bench measures is the callbacks' cost per task
result and per host, not apt's. The record comes from tests/support/synthetic_fleet.py (the shape
of docs/schemas/host_patch_record.schema.json), seeded by the host's name and the task's `seed`
argument, so every variant of a round sees the same records.
"""
from __future__ import annotations

import os
import random
import sys

from ansible.plugins.action import ActionBase

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "support"))

import synthetic_fleet  # noqa: E402  pylint: disable=wrong-import-position


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        host = task_vars.get("inventory_hostname", "localhost") if task_vars else "localhost"
        seed = "%s/%s" % (host, args.get("seed", 0))
        record = synthetic_fleet.record(random.Random(seed), host, int(args.get("updates", 50)))
        result.update(changed=False, ansible_facts={"fleetpatch": record})
        return result
