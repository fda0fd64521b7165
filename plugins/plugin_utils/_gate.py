# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

How the gate judges one host, and how manifests combine: shared by the gate_statuses,
promotion_manifest and merge_manifests filters, so that the hosts the gate counts as succeeded are
exactly the hosts whose versions it promotes.

The patch_outcome contract (written by roles/patch/tasks/main.yml, documented in
docs/rollout.md): status (started, patched, unchanged, failed, rolled_back), pkg_mgr, changes
[{name, before, after}], remaining {name: version} (what the selection or manifest still wants
after the apply), compliance (the record's status after the apply), verified {name: version}
(what completed cycles installed earlier and the host still runs), resumed [journal ids],
baseline_missing {name: version} (what the baseline with the run's filters still wants).
"""

from __future__ import annotations

from typing import Any

from ansible_collections.fleetpatch.patching.plugins.module_utils._versions import compare_deb, compare_rpm_evr

SUCCEEDED = ("patched", "unchanged")
# The host's cycle ended but it is not what was asked: updates still missing, or its record unknown.
INCOMPLETE = "incomplete"
# No outcome, or the host left the play before its cycle ended (unreachable).
UNREACHED = ("unreached", "started")
COMPARE = {"apt": compare_deb, "dnf": compare_rpm_evr, "yum": compare_rpm_evr, "zypper": compare_rpm_evr}


def judge(outcome: Any, final: bool = False) -> str:
    """The gate's status of one host from its patch_outcome. final: the end of a rollout, where a
    host must also lack nothing the baseline, narrowed by the run's filters, wants (baseline_missing:
    in a manifest ring, what the manifest did not carry) - non_compliant otherwise. Updates the run's
    filters left out (security_only, names) are the report's business, not the run's verdict."""
    if not isinstance(outcome, dict) or not outcome:
        return "unreached"
    status = outcome.get("status") or "unreached"
    if status in SUCCEEDED and (outcome.get("remaining") or outcome.get("compliance") == "unknown"):
        return INCOMPLETE
    if final and status in SUCCEEDED and outcome.get("baseline_missing"):
        return "non_compliant"
    return status


def higher(manager: str, a: str, b: str) -> str:
    compare = COMPARE.get(manager)
    if compare is None:
        return max(a, b)
    return a if compare(a, b) >= 0 else b


def merge(received: dict[str, dict[str, str]] | None,
          added: dict[str, dict[str, str]] | None) -> dict[str, dict[str, str]]:
    """received, with the package managers and packages it lacks taken from added: what a ring
    received passes on unchanged; what the ring adds (a manager, a package) joins it."""
    merged = dict((manager, dict(versions)) for manager, versions in (received or {}).items())
    for manager, versions in (added or {}).items():
        entry = merged.setdefault(manager, {})
        for name, version in versions.items():
            entry.setdefault(name, version)
    return merged
