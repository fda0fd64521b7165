# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: health_check_problems
short_description: What is wrong with a list of health checks, before any host is touched
version_added: 0.2.0
author:
  - fleetpatch contributors (@fleetpatch)
description:
  - Checks a list of M(fleetpatch.patching.health_check) checks on the controller, with the module's own rules
    (a known type, its required key, no key the type does not take, a positive C(timeout), C(argv) a list).
  - The M(fleetpatch.patching.patch) role asserts that the list is empty before it takes the host's run lock,
    so a misspelt check fails the run with its reason instead of being ignored on the hosts.
options:
  _input:
    description: The checks.
    type: list
    elements: raw
    required: true
"""

EXAMPLES = r"""
- name: The health checks are well formed
  ansible.builtin.assert:
    that: patch_health_checks | fleetpatch.patching.health_check_problems | length == 0
    fail_msg: "{{ patch_health_checks | fleetpatch.patching.health_check_problems | join('; ') }}"
"""

RETURN = r"""
_value:
  description: One sentence per problem; empty when every check is well formed.
  type: list
  elements: str
  sample: ["check 0 (command): unknown key timout; a command check takes type, name, timeout, argv, rc, stdout_regex"]
"""

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetpatch.patching.plugins.module_utils._health import validate


def health_check_problems(checks: list[Any]) -> list[str]:
    if not isinstance(checks, list):
        raise AnsibleFilterError("health checks must be a list, got %r" % (checks,))
    return validate(checks)


class FilterModule(object):
    def filters(self) -> dict[str, Any]:
        return {"health_check_problems": health_check_problems}
