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

from ansible_collections.fleetpatch.patching.plugins.module_utils import _first_seen, _host, _policy, _rollback_cache
from ansible_collections.fleetpatch.patching.plugins.module_utils._background import InBackground
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError
from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import utc_stamp

SCHEMA_VERSION = 1


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


ON_INCOMPLETE = ("fail", "unknown")


def check_complete(backend, on_incomplete):
    """Fail when the package manager's answer is incomplete (a source not refreshed, metadata
    that did not parse), unless the user asked for the record with status unknown instead."""
    if backend.incomplete and on_incomplete != "unknown":
        raise PatchError("The %s answer is incomplete, so this host's updates cannot be known: %s "
                         "(fix the source, or set on_incomplete=unknown to get the record with status unknown)"
                         % (backend.name, "; ".join(backend.incomplete)))


def assess(backend, update_cache=True, cache_valid_time=0, include_installed=False, policy=None,
           state_dir="/var/lib/fleetpatch", check_mode=False, root=None, record_first_seen=True, now=None,
           on_incomplete="fail", resolve=True):
    """Gather one host's patch record and evaluate it against the policy."""
    now = now or utc_now()
    refreshed = False
    if update_cache:
        # Refreshing metadata changes no installed state, and check mode must see what a real
        # run would: so check mode refreshes too (the package database stays untouched).
        refreshed = backend.refresh(cache_valid_time)
        check_complete(backend, on_incomplete)
    # dnf and zypper find updates without the installed list, so read it meanwhile (rpm -qa
    # costs nothing then); apt asks about the installed packages and waits for the list.
    installed_reader = InBackground(backend.installed, name="fleetpatch-installed")
    updates = backend.updates(installed_reader.result)
    installed = installed_reader.result()
    check_complete(backend, on_incomplete)
    if record_first_seen:
        _first_seen.annotate(updates, (root or "") + state_dir, now.date().isoformat(), check_mode)
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
        "collected_at": utc_stamp(now),
        "cache_refreshed": refreshed and not backend.incomplete,
        "cache_age": backend.cache_age(),
        "incomplete": list(backend.incomplete),
        "unfinished": list(backend.unfinished),
        "installed_count": len(installed),
        "updates": sorted(updates, key=lambda u: (u["name"], u.get("arch") or "")),
        # what installing the approved updates would add and remove: resolve() below fills them in
        "new_packages": [],
        "removals": [],
        "reboot_required": bool(reasons),
        "reboot_reasons": reasons,
        "services_needing_restart": services,
        # what the host keeps to go back (patch_apply's rollback cache): a listing, no package query
        "rollback_cache": _rollback_cache.usage((root or "") + state_dir),
    }
    record.update(_host.identity(root))
    if include_installed:
        record["installed"] = sorted(({"name": p["name"], "version": p["version"], "arch": p["arch"]}
                                      for p in installed), key=lambda p: (p["name"], p["arch"]))
    decided = _policy.evaluate(record, policy, now=now)
    if not resolve:
        return decided
    # What the baseline approves, asked of the package manager as patch_apply would install it:
    # an update it cannot install is blocked, not approved; new packages and removals are shown.
    approved = [u for u in decided["updates"] if u["decision"] == "approved"]
    by_key = dict(((u["name"], u.get("arch")), u) for u in record["updates"])
    if approved:
        new_packages, removals = backend.resolve([by_key[(u["name"], u.get("arch"))] for u in approved])
        record["new_packages"], record["removals"] = new_packages, removals
        decided = _policy.evaluate(record, policy, now=now)
    return decided
