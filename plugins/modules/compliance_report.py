# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: compliance_report
short_description: Re-draw a compliance report from the fleetpatch history store
version_added: 0.1.0
description:
  - Reads the history store the M(fleetpatch.patching.compliance) callback appends every run to, and writes the
    report files again (JSON, HTML, CSV, JUnit XML, Markdown) for one run, or for a time range.
  - A time range gives the fleet as it stood at the range's end (each host as its newest run in the range saw it),
    with the range's runs as the trend.
  - An optional JMESPath query selects hosts, and the summary is recomputed over them.
  - Runs on the controller (an action plugin); it never connects to a host.
options:
  store:
    description: The history store, a SQLite file path or a C(postgresql://) URL.
    type: str
    required: true
  run_id:
    description:
      - The run to draw. Mutually exclusive with O(since) and O(until).
      - A slice of a sliced AWX job, or the group's name (C(awx-workflow-WORKFLOW_JOB_ID-template-TEMPLATE_ID)),
        draws the whole job, every slice's hosts in one report named after the group.
    type: str
  since:
    description: The earliest run end to include (C(YYYY-MM-DD) or C(YYYY-MM-DDTHH:MM:SSZ)).
    type: str
  until:
    description: The latest run end to include (C(YYYY-MM-DD) or C(YYYY-MM-DDTHH:MM:SSZ)).
    type: str
  query:
    description:
      - A JMESPath expression over the report's host entries that returns the hosts to keep, for example
        C([?status=='non_compliant']) or C([?ring=='production' && counts.critical_non_compliant > `0`]).
    type: str
  dest:
    description: The directory the report's own directory (named after the run) is written in.
    type: path
    required: true
  formats:
    description: The files to write.
    type: list
    elements: str
    choices: [json, html, csv, junit, markdown, updates]
    default: [json, html, csv, junit, markdown, updates]
  file_mode:
    description: The permissions of the files, in octal.
    type: str
    default: "0600"
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
    details: Everything happens in the action plugin, on the controller.
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Reads the store and reports which files it would write, without writing them.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: Runs on the controller only.
requirements:
  - jmespath on the controller for O(query).
  - psycopg 3 on the controller for a PostgreSQL store.
seealso:
  - plugin: fleetpatch.patching.compliance
    plugin_type: callback
author:
  - fleetpatch contributors (@fleetpatch)
"""

EXAMPLES = r"""
- name: Draw the newest run again, for production only
  fleetpatch.patching.compliance_report:
    store: ~/.ansible/fleetpatch/history.sqlite
    run_id: 20261125T101500Z-1a2b3c4d
    query: "[?ring=='production']"
    dest: /srv/reports

- name: The fleet as it stood at the end of November, from PostgreSQL
  fleetpatch.patching.compliance_report:
    store: postgresql://fleetpatch@db.example.com/fleetpatch
    since: "2026-11-01"
    until: "2026-11-30"
    formats: [html, csv]
    dest: /srv/reports
"""

RETURN = r"""
run_id:
  description: The id of the report drawn (C(range-<since>-<until>) for a time range).
  returned: always
  type: str
  sample: 20261125T101500Z-1a2b3c4d
directory:
  description: The directory the files are in (O(dest) and the run id, named as the compliance callback names its runs).
  returned: always
  type: str
  sample: /srv/reports/20261125T101500Z-1a2b3c4d
files:
  description: Format to the path of its file (in check mode, the paths it would write).
  returned: always
  type: dict
  sample: {json: /srv/reports/20261125T101500Z-1a2b3c4d/report.json, html: /srv/reports/20261125T101500Z-1a2b3c4d/report.html}
hosts:
  description: The hosts in the report.
  returned: always
  type: list
  elements: str
  sample: [web01, web02, db01]
summary:
  description:
    - The report's summary - C(hosts), C(compliant_percent), C(by_status), C(counts), C(by_ring), C(by_os), C(by_policy),
      C(remediated), C(ring_order), C(missing_by_severity), C(missing_by_classification), C(pending_reboot),
      C(rolled_back), C(sla_breached); each described in C(docs/schemas/compliance_report.schema.json).
  returned: always
  type: dict
  sample: {hosts: 3, compliant_percent: 66.7, by_status: {compliant: 2, non_compliant: 1}, pending_reboot: 0,
           rolled_back: 0, sla_breached: 0}
"""
