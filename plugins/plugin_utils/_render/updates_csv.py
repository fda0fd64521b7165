# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The by-update view as CSV (report.updates.csv): one row per advisory, or per package and version
where there is no advisory, with the hosts in each state. What "who is exposed to CVE-X?" is
answered with in a spreadsheet. Private to this collection: may change without notice.
"""

from __future__ import annotations

import csv
from typing import Any, TextIO

from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import views as _report_views
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render.common import clean
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render.hosts_csv import cell

COLUMNS = ("run_id", "id", "kind", "severity", "classification", "title", "issued", "packages", "cves",
           "missing", "failed", "installed", "held", "past_sla", "earliest_sla_due", "missing_hosts",
           "failed_hosts", "installed_hosts", "held_hosts", "past_sla_hosts")
HOST_STATES = ("missing", "failed", "installed", "held", "sla_breached")


def write(report: dict[str, Any], stream: TextIO) -> None:
    """Write the CSV to a text stream (open it with newline=""); every cell made safe by cell()
    (formula starts neutralised, capped at what a spreadsheet holds)."""
    writer = csv.writer(stream)
    writer.writerow(COLUMNS)
    run_id = (report.get("run") or {}).get("run_id")
    for row in _report_views.by_update(report):
        cells = [run_id, row["id"], row["kind"], row["severity"], row["classification"], row["title"], row["issued"],
                 " ".join(row["packages"]), " ".join(row["cves"])]
        cells += [len(row[state]) for state in HOST_STATES]
        cells.append(row["earliest_due"])
        cells += [" ".join(row[state]) for state in HOST_STATES]
        writer.writerow([clean(cell(value)) for value in cells])
