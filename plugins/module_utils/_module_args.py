# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

The arguments every module that drives a package manager takes (documented once, in the
fleetpatch.patching._backend doc fragment), and the backend they select.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.fleetpatch.patching.plugins.module_utils import _backends


def backend_argument_spec(**extra):
    spec = dict(
        pkg_mgr=dict(type="str", default="auto", choices=["auto"] + list(_backends.MANAGERS)),
        root=dict(type="path"),
        lock_timeout=dict(type="int", default=120),
        state_dir=dict(type="path", default="/var/lib/fleetpatch"),
    )
    spec.update(extra)
    return spec


def select_backend(module, runner):
    p = module.params
    return _backends.select(runner, p["pkg_mgr"], p["root"], p["lock_timeout"])
