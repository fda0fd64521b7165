# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

The arguments every module that drives a package manager takes (documented once, in the
fleetpatch.patching._backend doc fragment), and the backend they select.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.fleetpatch.patching.plugins.module_utils import _backends, _record, _rollback_cache
from ansible_collections.fleetpatch.patching.plugins.module_utils._windows_options import WINDOWS_OPTION


def backend_argument_spec(**extra):
    spec = dict(
        # windows: the action plugins drive the host through ansible.windows (a POSIX host refuses it)
        pkg_mgr=dict(type="str", default="auto", choices=["auto"] + list(_backends.MANAGERS) + ["windows"]),
        root=dict(type="path"),
        lock_timeout=dict(type="int", default=120),
        state_dir=dict(type="path", default="/var/lib/fleetpatch"),
    )
    spec.update(extra)
    return spec


# patch_apply's and patch_rollback's bound on one package-manager transaction (install, repair):
# documented in the fleetpatch.patching._transaction doc fragment.
TRANSACTION_TIMEOUT = dict(type="int", default=3600)


def select_backend(module, runner):
    p = module.params
    return _backends.select(runner, p["pkg_mgr"], p["root"], p["lock_timeout"])


def _windows_option():
    return copy.deepcopy(WINDOWS_OPTION)


def facts_argument_spec():
    """patch_facts' options (the action plugin validates them too, on Windows hosts)."""
    return backend_argument_spec(
        update_cache=dict(type="bool", default=True),
        cache_valid_time=dict(type="int", default=0),
        include_installed=dict(type="bool", default=False),
        policy=dict(type="dict"),
        first_seen=dict(type="bool", default=True),
        on_incomplete=dict(type="str", default="fail", choices=list(_record.ON_INCOMPLETE)),
        resolve=dict(type="bool", default=True),
        source_packages=dict(type="bool", default=False),
        advisory_feed=advisory_feed_option(),
        windows=_windows_option(),
    )


def advisory_feed_option():
    """patch_facts' and patch_apply's advisory_feed: read by their action plugins on the controller
    only (plugin_utils/_advisory/feed.py), never sent to a host."""
    return dict(type="dict", options=dict(
        debian_tracker=dict(type="str"),
        debian_advisories=dict(type="list", elements="str", default=[]),
        ubuntu_usn=dict(type="str"),
        ubuntu_oval=dict(type="list", elements="str", default=[]),
        ubuntu_esm=dict(type="bool", default=False),
        max_age=dict(type="int", default=86400),
        timeout=dict(type="int", default=60),
        cache_dir=dict(type="path"),
        required=dict(type="bool", default=False),
    ))


def apply_argument_spec():
    return backend_argument_spec(
        policy=dict(type="dict"),
        manifest=dict(type="dict"),
        names=dict(type="list", elements="str"),
        exclude=dict(type="list", elements="str"),
        security_only=dict(type="bool", default=False),
        advisories=dict(type="list", elements="str"),
        cves=dict(type="list", elements="str"),
        update_cache=dict(type="bool", default=True),
        cache_valid_time=dict(type="int", default=0),
        run_id=dict(type="str"),
        cycle=dict(type="bool", default=False),
        transaction_timeout=dict(TRANSACTION_TIMEOUT),
        rollback_cache=dict(type="dict", default={}, apply_defaults=True, options=dict(
            enabled=dict(type="bool", default=True),
            keep_days=dict(type="int", default=_rollback_cache.DEFAULT_KEEP_DAYS),
            max_mb=dict(type="int", default=_rollback_cache.DEFAULT_MAX_MB))),
        snapshot_command=dict(type="list", elements="str"),
        advisory_feed=advisory_feed_option(),
        advisory_data=dict(type="dict"),
        windows=_windows_option(),
    )


def rollback_argument_spec():
    return backend_argument_spec(
        journal=dict(type="str", default="latest"),
        transaction_timeout=dict(TRANSACTION_TIMEOUT),
        snapshot_command=dict(type="list", elements="str"),
        windows=_windows_option(),
    )
