# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: gate_statuses
short_description: How the gate counts each host of a ring
version_added: 0.2.0
author:
  - fleetpatch contributors (@fleetpatch)
description:
  - Turns the C(patch_outcome) of each host (as the M(fleetpatch.patching.patch) role leaves it) into the
    status the gate counts - V(patched), V(unchanged), V(incomplete), V(failed), V(rolled_back), V(started)
    (left the play mid-way) or V(unreached) (no outcome).
  - V(incomplete) is a host whose cycle ended but which is not what was asked - the selected or manifest
    versions it still lacks (C(remaining)), or a record whose status is C(unknown) after the apply (a
    repository skipped, a package database left unfinished). Such a host does not count as succeeded, so
    re-running a ring that installs nothing on non-compliant hosts closes the gate instead of promoting an
    empty manifest.
  - With O(final=true) (the end of a rollout), a patched or unchanged host must also lack nothing the baseline,
    narrowed by the run's filters, still wants (C(baseline_missing); in a manifest ring, what the manifest did not
    carry), else its status is V(non_compliant).
options:
  _input:
    description: The C(patch_outcome) of each host (an empty dict or none for a host without one).
    type: list
    elements: raw
    required: true
  final:
    description: Judge as the end of a rollout does (the baseline with the run's filters too).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: The gate's view of the test ring
  ansible.builtin.debug:
    msg: "{{ groups['fleetpatch_ring_test'] | map('extract', hostvars) | map(attribute='patch_outcome', default={})
             | fleetpatch.patching.gate_statuses }}"
"""

RETURN = r"""
_value:
  description: One status per outcome, in order.
  type: list
  elements: str
  sample: [patched, incomplete, unreached]
"""

from typing import Any

from ansible_collections.fleetpatch.patching.plugins.plugin_utils import _gate


def gate_statuses(outcomes: list[dict[str, Any]] | None, final: bool = False) -> list[str]:
    return [_gate.judge(outcome, final=final) for outcome in outcomes or []]


class FilterModule(object):
    def filters(self) -> dict[str, Any]:
        return {"gate_statuses": gate_statuses}
