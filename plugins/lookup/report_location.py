# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: report_location
short_description: Where the compliance callback writes this run's report
version_added: 0.1.0
author:
  - fleetpatch contributors (@fleetpatch)
description:
  - Returns the run id and the paths of the report the C(fleetpatch.patching.compliance) callback writes at the end
    of this run - C(<report_dir>/<run_id>/report.json) and C(report.html) - as the callback itself decided them when
    the run started, so a task can hand them on (the playbooks emit them with C(ansible.builtin.set_stats) as
    C(fleetpatch_report), which AWX passes to the next workflow node).
  - The files exist once the run ends, when the run did anything of fleetpatch's (the callback writes no report for
    other playbooks).
  - Returns an empty list when the callback is not enabled.
options: {}
notes:
  - Runs on the controller. The callback must be enabled (C(ANSIBLE_CALLBACKS_ENABLED=fleetpatch.patching.compliance)).
"""

EXAMPLES = r"""
- name: Emit the report's location for the next AWX workflow node
  ansible.builtin.set_stats:
    data:
      fleetpatch_report: "{{ query('fleetpatch.patching.report_location') | first }}"
  when: query('fleetpatch.patching.report_location') | length > 0
"""

RETURN = r"""
_raw:
  description: One location, or none when the compliance callback is not enabled.
  type: list
  elements: dict
  contains:
    run_id:
      description: The run's id, the store's key.
      type: str
    dir:
      description: The run's report directory.
      type: str
    json:
      description: The path of C(report.json).
      type: str
    html:
      description: The path of C(report.html), or null when the callback's formats leave HTML out.
      type: str
"""

from typing import Any

from ansible.plugins.lookup import LookupBase

from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import location as _report_location


class LookupModule(LookupBase):

    def run(self, terms: list[Any], variables: dict[str, Any] | None = None, **kwargs: Any) -> list[dict[str, Any]]:
        self.set_options(var_options=variables, direct=kwargs)
        found = _report_location.published()
        return [found] if found else []
