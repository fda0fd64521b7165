# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

What ansible.windows.win_updates returns, as the fleetpatch host patch record: one update entry
per Windows update (named by its KB article), Windows categories mapped to classifications, and
the record assembled and decided by the same policy code the Linux modules run (pure, no I/O).
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from ansible_collections.fleetpatch.patching.plugins.module_utils import _policy, _record
from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import utc_stamp

PKG_MGR = "windows"

# Windows Update categories (the classification ones; products such as "Windows Server 2022" are
# categories too and are ignored). The most important class an update has wins.
CATEGORY_CLASSIFICATION = {
    "security updates": "security",
    "critical updates": "bugfix",
    "update rollups": "bugfix",
    "updates": "bugfix",
    "service packs": "bugfix",
    "feature packs": "enhancement",
    "upgrades": "enhancement",
    "tools": "enhancement",
    "definition updates": "other",
    "drivers": "other",
    "guidance": "other",
    "applications": "other",
    "developer kits": "other",
    "connectors": "other",
}
MSRC_SEVERITY = {"critical": "critical", "important": "important", "moderate": "moderate", "low": "low"}
# Updates Windows cannot take back: servicing stack updates are permanent, definition updates and
# the Malicious Software Removal Tool are no DISM package. Known before anything is changed, so a
# rollback refuses them up front; anything else DISM refuses is reported when win_hotfix fails.
_PERMANENT_TITLES = (
    (re.compile(r"servicing stack update", re.I), "a servicing stack update is permanent"),
    (re.compile(r"malicious software removal tool", re.I), "the Malicious Software Removal Tool is not an installed package"),
)
_PERMANENT_CATEGORIES = {"definition updates": "definition updates are not DISM packages"}


def kb_ids(update: dict[str, Any]) -> list[str]:
    """KB ids of a win_updates entry, always with the KB prefix (the module strips it)."""
    result = []
    for kb in update.get("kb") or []:
        kb = str(kb).strip()
        if kb:
            result.append(kb if kb.upper().startswith("KB") else "KB" + kb)
    return result


def update_name(update: dict[str, Any]) -> str:
    """KB5034441 for an update with a KB article; the title for the few without (drivers)."""
    kbs = kb_ids(update)
    return kbs[0] if kbs else str(update.get("title") or update.get("id"))


def classification(categories: list[str] | None) -> str:
    classes = [CATEGORY_CLASSIFICATION[c.lower()] for c in categories or [] if c.lower() in CATEGORY_CLASSIFICATION]
    for klass in _policy.CLASSIFICATIONS:
        if klass in classes:
            return klass
    return "other"


def severity(update: dict[str, Any]) -> str:
    """MSRC severity when the result carries one (ansible.windows 3.x does not); else unknown."""
    value = update.get("msrc_severity") or update.get("severity") or ""
    return MSRC_SEVERITY.get(str(value).lower(), "unknown")


def permanent_reason(entry: dict[str, Any]) -> str | None:
    """Why Windows cannot uninstall this update (None: it can, as far as is known beforehand)."""
    for pattern, reason in _PERMANENT_TITLES:
        if pattern.search(entry.get("title") or ""):
            return reason
    for category in entry.get("categories") or []:
        if category.lower() in _PERMANENT_CATEGORIES:
            return _PERMANENT_CATEGORIES[category.lower()]
    return None


def arch_of(title: str | None) -> str | None:
    match = re.search(r"\b(x64|x86|arm64)\b", title or "", re.I)
    return match.group(1).lower() if match else None


def update_entry(update: dict[str, Any]) -> dict[str, Any]:
    """One host patch record update from one win_updates update."""
    name = update_name(update)
    title = update.get("title") or name
    entry = {
        "name": name,
        "arch": arch_of(title),
        "installed_version": None,
        # A Windows update has no version: the KB article is what Microsoft, WSUS and operators
        # name, so it is the version a manifest pins and a change records.
        "available_version": name,
        "classification": classification(update.get("categories")),
        "severity": severity(update),
        "advisories": kb_ids(update),
        "cves": [],
        "issued": None,
        "first_seen": None,
        "repository": "Windows Update",
        "reboot_suggested": bool(update.get("reboot_required", False)),
        "title": title,
        "update_id": update.get("id"),
        "categories": list(update.get("categories") or []),
    }
    entry["uninstallable"] = permanent_reason(entry) is None
    return entry


def entries(search_result: dict[str, Any]) -> list[dict[str, Any]]:
    """Update entries of a win_updates search (state=searched). Its filtered_updates (hidden,
    or outside category_names) are not offered to this host, so they are not in the record."""
    found = [update_entry(u) for u in (search_result.get("updates") or {}).values()]
    unique = {}
    for entry in found:
        unique.setdefault(entry["name"], entry)
    return sorted(unique.values(), key=lambda e: e["name"])


def fold_kbs(policy: Any) -> Any:
    """A policy whose approve/reject lists may name KBs under `kbs`: KBs are advisories here."""
    if not isinstance(policy, dict):
        return policy
    policy = dict(policy)
    for key in ("approve", "reject"):
        lists = policy.get(key)
        if isinstance(lists, dict) and "kbs" in lists:
            lists = dict(lists)
            kbs = ["KB" + str(k) if not str(k).upper().startswith("KB") else str(k).upper() for k in lists.pop("kbs") or []]
            lists["advisories"] = list(lists.get("advisories") or []) + kbs
            policy[key] = lists
    return policy


def identity(task_vars: dict[str, Any], inventory_hostname: str | None) -> dict[str, Any]:
    """Host identity from gathered facts when there are some (ansible.windows setup)."""
    facts = task_vars.get("ansible_facts") or {}
    return {
        "hostname": facts.get("hostname") or inventory_hostname,
        "os_family": "Windows",
        "distribution": str(facts.get("distribution") or "Microsoft Windows"),
        "version": str(facts.get("distribution_version") or "unknown"),
        "kernel_running": facts.get("kernel"),
        "kernel_latest": facts.get("kernel"),
    }


def build_record(updates: list[dict[str, Any]], reboot_required: Any, host: dict[str, Any],
                 policy: dict[str, Any] | None = None, now: datetime.datetime | None = None) -> dict[str, Any]:
    """The decided host patch record of a Windows host."""
    now = now or _record.utc_now()
    record = {
        "schema_version": _record.SCHEMA_VERSION,
        "pkg_mgr": PKG_MGR,
        "root": "/",
        "collected_at": utc_stamp(now),
        "cache_refreshed": True,      # win_updates always asks the update service
        "installed_count": 0,         # win_updates lists missing updates only
        "updates": updates,
        "new_packages": [],
        "removals": [],
        "reboot_required": bool(reboot_required),
        "reboot_reasons": ["Windows Update reports a pending reboot"] if reboot_required else [],
        "services_needing_restart": [],
    }
    record.update(host)
    return _policy.evaluate(record, fold_kbs(policy), now=now)


def accept_pattern(name: str) -> str:
    """An accept_list entry that matches exactly one update (win_updates matches regexes
    against the title and the KB ids)."""
    return "^%s$" % re.escape(name)
