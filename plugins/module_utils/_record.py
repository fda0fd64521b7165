# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

Assembling the host patch record (schema_version 1, docs/schemas/host_patch_record.schema.json)
from a backend: the same record for every package manager.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import socket

from ansible_collections.fleetpatch.patching.plugins.module_utils import _first_seen, _host, _policy

SCHEMA_VERSION = 1


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def assess(backend, update_cache=True, cache_valid_time=0, include_installed=False, policy=None,
           state_dir="/var/lib/fleetpatch", check_mode=False, root=None, record_first_seen=True, now=None):
    """Gather one host's patch record and evaluate it against the policy."""
    now = now or utc_now()
    started = now
    refreshed = False
    if update_cache and not check_mode:
        refreshed = backend.refresh(cache_valid_time)
    updates, extra = backend.updates()
    installed = backend.installed()
    if record_first_seen:
        _first_seen.annotate(updates, (root or "") + state_dir if root else state_dir,
                             now.date().isoformat(), check_mode)
    else:
        for update in updates:
            update["first_seen"] = None
    reasons, services = backend.reboot_status()
    running, newest, kernel_reason = _host.kernel_status(root)
    if kernel_reason:
        reasons.append(kernel_reason)
    record = {
        "schema_version": SCHEMA_VERSION,
        "hostname": socket.gethostname() if not root else None,
        "pkg_mgr": backend.name,
        "root": root or "/",
        "kernel_running": running,
        "kernel_latest": newest,
        "collected_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cache_refreshed": refreshed,
        "installed_count": len(installed),
        "updates": sorted(updates, key=lambda u: (u["name"], u.get("arch") or "")),
        "new_packages": extra.get("new_packages", []),
        "removals": extra.get("removals", []),
        "reboot_required": bool(reasons),
        "reboot_reasons": reasons,
        "services_needing_restart": services,
    }
    record.update(_host.identity(root))
    if include_installed:
        record["installed"] = sorted(installed, key=lambda p: (p["name"], p["arch"]))
    return _policy.evaluate(record, policy, now=now)
