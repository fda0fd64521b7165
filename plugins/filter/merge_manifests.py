# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: merge_manifests
short_description: The manifest a ring received, with what the ring adds
version_added: 0.2.0
author:
  - fleetpatch contributors (@fleetpatch)
description:
  - Combines two promotion manifests (package manager to name to version). What the ring received wins;
    the package managers and packages it lacks come from the second manifest (what the ring installed or verified).
  - So a gate passes on what it received - an AWX pilot node whose hosts all run apt still emits the
    dnf and zypper parts the test node found, for production's RPM hosts.
options:
  _input:
    description: The manifest the ring received (per package manager).
    type: dict
    required: true
  added:
    description: The ring's own manifest (P(fleetpatch.patching.promotion_manifest#filter)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Pass on the received manifest with what the pilot ring added
  ansible.builtin.set_fact:
    gate_manifest: "{{ fleetpatch_manifest | fleetpatch.patching.merge_manifests(
                       groups['fleetpatch_ring_pilot'] | fleetpatch.patching.promotion_manifest(hostvars)) }}"
"""

RETURN = r"""
_value:
  description: The merged manifest.
  type: dict
  sample: {apt: {openssl: 3.0.16-1~deb12u1}, dnf: {openssl: "1:3.2.4-1.el9"}}
"""

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetpatch.patching.plugins.plugin_utils import _gate


def merge_manifests(received: dict[str, dict[str, str]] | None,
                    added: dict[str, dict[str, str]] | None) -> dict[str, dict[str, str]]:
    for label, manifest in (("received", received), ("added", added)):
        if manifest is None:
            continue
        if not isinstance(manifest, dict) or not all(isinstance(v, dict) for v in manifest.values()):
            raise AnsibleFilterError("The %s manifest must map each package manager to {name: version}, got %r"
                                     % (label, manifest if not isinstance(manifest, dict) else type(manifest).__name__))
    return _gate.merge(received, added)


class FilterModule(object):
    def filters(self) -> dict[str, Any]:
        return {"merge_manifests": merge_manifests}
