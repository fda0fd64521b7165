# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report of a run assembled one host at a time: each host's entry is built, written to the
spill file and reduced to its brief (the entry without its updates and changes), while the
summary adds it up. The result is the same document build_report() makes from a list of entries,
with `hosts` read back from the spill (SpilledHosts) instead of held in memory.

The one pass: what else reads every host's updates (the views by update, SLA and what the run
changed, _report/views.OnePass; the fleet state's figures of the run's hosts, _report/fleet_view.
RunHosts) is gathered here too, as each entry goes by, and attached to the report's hosts, where
the views and the fleet state find it: the entries are read back from the spill file only by the
files that show them. Private to this collection: may change without notice."""

from __future__ import annotations

import collections
import json
import sys
from typing import TYPE_CHECKING, Any

from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import OPEN_STATES
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model as _report_model
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import spill as _report_spill
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import views as _report_views

if TYPE_CHECKING:
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report.fleet_view import RunHosts

# What a brief keeps of a host's entry: what the summary, the ring order, the order of the hosts, the
# fleet state and the renderers' counts and host rows read (_render/common.py: host_briefs). The
# rest (updates, changes, failure, health, rollback, data warnings...) is read from the spill file.
BRIEF_FIELDS = ("host", "ring", "status", "pkg_mgr", "os", "policy", "assessed_at", "reboot_required", "rebooted",
                "rolled_back", "counts")
# Values many hosts share: one string each in memory, not one per host.
_SHARED_TEXT = ("ring", "status", "pkg_mgr", "os", "policy")

# The same encoder as report.json's (files.json_chunks): an entry's text is copied into report.json as is.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def brief(entry: dict[str, Any]) -> dict[str, Any]:
    """The fields of BRIEF_FIELDS, and the number of the entry's changes (changes_count,
    _render/common.change_count): what is held in memory of each host at the end of a run (about
    1.5 KB at 11 counts)."""
    kept = dict((key, entry.get(key)) for key in BRIEF_FIELDS)
    for key in _SHARED_TEXT:
        if isinstance(kept[key], str):
            kept[key] = sys.intern(str(kept[key]))      # str(): a subclass (Ansible's unsafe text) cannot be interned
    kept["changes_count"] = len(entry["changes"])
    return kept


class Assembly(object):
    """Feed it every host entry, by host name (add()); then report() is the document. run_hosts: the
    fleet state's RunHosts, fed the entries too (None: no history store, no fleet state)."""

    def __init__(self, spill: _report_spill.Spill, ended_at: str | None, run_hosts: RunHosts | None = None) -> None:
        self.spill = spill
        self.ended_at = ended_at
        self.briefs = []
        self.open_by_severity = collections.Counter()
        self.open_by_classification = collections.Counter()
        self.remediated = {}
        # perf: the views and the fleet state gathered here, in the one pass: reading every entry
        # back from the spill file for each of them was 5 of the 8 reads (marshal.loads 8.5 s
        # profiled at 10,000 hosts x 50 updates, bench/compliance_pipeline_bench.py).
        self.gathered = [_report_views.OnePass(ended_at)] + ([run_hosts] if run_hosts is not None else [])
        # Whether the entries came by host name, each once, as the spill file gives them back: what
        # was gathered in the order they came is only attached when it is that of the report's hosts.
        self.by_name = True
        spill.clear_entries()

    def add(self, entry: dict[str, Any]) -> None:
        if self.briefs and not self.briefs[-1]["host"] < entry["host"]:
            self.by_name = False
        for update in entry["updates"]:
            if update["state"] in OPEN_STATES:
                self.open_by_severity[update["severity"]] += 1
                self.open_by_classification[update["classification"]] += 1
        for severity, figures in _report_model.remediated([entry], self.ended_at).items():
            total = self.remediated.setdefault(severity, {"count": 0, "days": 0})
            total["count"] += figures["count"]
            total["days"] += figures["days"]
        for gathered in list(self.gathered):
            try:
                gathered.add(entry)
            except Exception:
                # Host data no view expected: dropped, the views (or the fleet state) are then drawn
                # from the report's hosts, and what fails there fails as it did before the one pass.
                self.gathered.remove(gathered)
        self.spill.put_entry(entry["host"], entry, _encode(entry))
        self.briefs.append(brief(entry))

    def report(self, run: dict[str, Any], trend: list[dict[str, Any]] | None = None,
               first_seen_rings: dict[str, int] | None = None) -> dict[str, Any]:
        """build_report()'s document; its hosts a SpilledHosts over the entries added, carrying the
        views and the fleet state's figures gathered from them (when they came by host name)."""
        hosts = _report_spill.SpilledHosts(self.spill, self.briefs)
        for gathered in self.gathered if self.by_name else ():
            setattr(hosts, gathered.ATTRIBUTE, gathered)
        self.briefs.sort(key=lambda h: h["host"])
        return _report_model.assemble_report(
            run, hosts, self.briefs, (self.open_by_severity, self.open_by_classification), self.remediated, trend,
            first_seen_rings)
