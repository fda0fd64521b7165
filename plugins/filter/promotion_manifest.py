# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: promotion_manifest
short_description: The exact versions a ring installed, by package manager
version_added: 0.1.0
author:
  - fleetpatch contributors (@fleetpatch)
description:
  - From the C(patch_outcome) the M(fleetpatch.patching.patch) role leaves on each host, builds the
    promotion manifest later rings install exactly - package manager, then package name, then version -
    from the hosts the gate counts as succeeded (P(fleetpatch.patching.gate_statuses#filter)) - what they installed
    in this run, and, where this run installed nothing, what their completed earlier cycles installed
    and they still run (C(verified)), so a re-run of an already patched ring promotes what it is, not
    an empty manifest.
  - The package manager is the one each host's M(fleetpatch.patching.patch_apply) used (C(pkg_mgr) in
    C(patch_outcome)), detected or set, never guessed from a variable; so apt and RPM versions of one
    package never meet under one key.
  - Fails when two hosts of the same package manager installed different versions of one package
    in this run (the ring saw different repositories; promoting either would be a guess). Among
    versions verified earlier, the highest wins; a version installed in this run wins over them.
options:
  _input:
    description: The ring's host names.
    type: list
    elements: str
    required: true
  hostvars:
    description: The C(hostvars) of the play.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: The manifest of the test ring
  ansible.builtin.set_fact:
    manifest: "{{ groups['fleetpatch_ring_test'] | fleetpatch.patching.promotion_manifest(hostvars) }}"
"""

RETURN = r"""
_value:
  description: Package manager to a mapping of package name to version.
  type: dict
  sample: {apt: {openssl: 3.0.16-1~deb12u1}, dnf: {openssl: "1:3.2.4-1.el9"}}
"""

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetpatch.patching.plugins.plugin_utils import _gate


def promotion_manifest(hosts: list[str] | None, hostvars: Any) -> dict[str, dict[str, str]]:
    manifest, source, verified = {}, {}, {}
    for host in hosts or []:
        variables = hostvars.get(host) or {}
        outcome = variables.get("patch_outcome") or {}
        if _gate.judge(outcome) not in _gate.SUCCEEDED:
            continue
        manager = outcome.get("pkg_mgr") or variables.get("fleetpatch_pkg_mgr")
        if manager in (None, "", "auto"):
            if not outcome.get("changes") and not outcome.get("verified"):
                continue
            raise AnsibleFilterError("Cannot promote what %s installed: its patch_outcome does not say which package "
                                     "manager installed it (patched by an older fleetpatch.patching.patch role?)" % host)
        for change in outcome.get("changes") or []:
            if not change.get("after"):
                continue
            entry = manifest.setdefault(manager, {})
            name, version = change["name"], change["after"]
            if name in entry and entry[name] != version:
                raise AnsibleFilterError("Cannot promote %s: %s installed %s but %s installed %s"
                                         % (name, source[(manager, name)], entry[name], host, version))
            entry[name], source[(manager, name)] = version, host
        for name, version in (outcome.get("verified") or {}).items():
            entry = verified.setdefault(manager, {})
            entry[name] = _gate.higher(manager, entry[name], version) if name in entry else version
    for manager, versions in verified.items():
        for name, version in versions.items():
            manifest.setdefault(manager, {}).setdefault(name, version)
    return manifest


class FilterModule(object):
    def filters(self) -> dict[str, Any]:
        return {"promotion_manifest": promotion_manifest}
