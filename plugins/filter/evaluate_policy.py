# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: evaluate_policy
short_description: Decide a host patch record's updates against a patch baseline
version_added: 0.1.0
author:
  - fleetpatch contributors (@fleetpatch)
description:
  - Gives every update of a host patch record (from M(fleetpatch.patching.patch_facts)) a
    C(decision) — V(approved), V(deferred), V(rejected) or V(not_applicable) — with a C(reason),
    SLA flags (C(sla_due), C(sla_breached)), and the record SSM-style C(counts) and a C(status)
    (V(compliant), V(non_compliant), V(pending_reboot)).
  - It is the same code patch_facts and patch_apply run on the host, so a decision made here in
    a playbook or report is the decision patch_facts makes on the host.
  - "Decisions are taken in this order: reject lists, exclude patterns, include patterns, pinned
    versions, approve lists (which bypass classification, severity and delay), classification,
    minimum severity, approval delay."
options:
  _input:
    description: A host patch record (C(ansible_facts.fleetpatch)).
    type: dict
    required: true
  policy:
    description: The patch baseline. Every key is optional.
    type: dict
    default: {}
    suboptions:
      name:
        description: A name for the baseline, copied into the record as C(policy).
        type: str
        default: default
      classifications:
        description: The classifications the baseline requires; others are V(not_applicable).
        type: list
        elements: str
        choices: [security, bugfix, enhancement, other]
        default: [security, bugfix, enhancement, other]
      min_severity:
        description: Updates of a lower known severity are V(not_applicable).
        type: str
        choices: [unknown, low, moderate, important, critical]
      include_unknown_severity:
        description:
          - Whether an update of unknown severity (every apt update) passes O(policy.min_severity).
        type: bool
        default: true
      approve_after_days:
        description:
          - Days after the advisory's issue date (else the day the host first saw the version)
            before an update is approved. A number, or a mapping by severity with an optional
            C(default) key.
        type: raw
        default: 0
      include:
        description: Name patterns (fnmatch); when given, updates matching none are V(not_applicable).
        type: list
        elements: str
        default: []
      exclude:
        description: Name patterns (fnmatch) whose updates are V(rejected).
        type: list
        elements: str
        default: []
      pinned:
        description: Package name to the only version it may be updated to; others are V(rejected).
        type: dict
        default: {}
      approve:
        description: Updates approved regardless of classification, severity and delay.
        type: dict
        default: {}
        suboptions:
          names:
            description: Package names or patterns.
            type: list
            elements: str
          advisories:
            description: Advisory ids (also KB numbers on Windows).
            type: list
            elements: str
          cves:
            description: CVE ids.
            type: list
            elements: str
      reject:
        description: Updates always V(rejected); same keys as O(policy.approve).
        type: dict
        default: {}
      sla_days:
        description:
          - Days an approved update may stay missing, counted from its issue date (else first
            seen), before the host is in breach. A number or a mapping by severity.
        type: raw
        default: {critical: 7, important: 30, moderate: 90, low: 180, unknown: 30}
      require_rollback:
        description:
          - Install only updates whose rollback is secured first. M(fleetpatch.patching.patch_apply) keeps a package
            file of every version it replaces (the rollback cache) and leaves out an update it could not secure one
            for, with the reason. Not used by the assessment itself.
        type: bool
        default: false
  now:
    description: The date to evaluate at (YYYY-MM-DD); today (UTC) by default.
    type: str
"""

EXAMPLES = r"""
- name: What the security baseline would approve on each host
  ansible.builtin.debug:
    msg: >-
      {{ (ansible_facts.fleetpatch | fleetpatch.patching.evaluate_policy(baseline)).updates
         | selectattr('decision', 'eq', 'approved') | map(attribute='name') }}
  vars:
    baseline:
      classifications: [security]
      approve_after_days: {critical: 0, default: 7}
      reject: {cves: [CVE-2025-0001]}
"""

RETURN = r"""
_value:
  description: The record with decisions, reasons, SLA flags, counts and status.
  type: dict
"""

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError
from ansible_collections.fleetpatch.patching.plugins.module_utils._policy import evaluate


def evaluate_policy(record: dict[str, Any], policy: dict[str, Any] | None = None, now: Any = None) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise AnsibleFilterError("evaluate_policy expects a host patch record (a dict), got %s"
                                 % type(record).__name__)
    try:
        return evaluate(record, policy or {}, now=now)
    except PatchError as exc:
        raise AnsibleFilterError(exc.msg)


class FilterModule(object):
    def filters(self) -> dict[str, Any]:
        return {"evaluate_policy": evaluate_policy}
