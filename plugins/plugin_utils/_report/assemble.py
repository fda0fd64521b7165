# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report of a run assembled one host at a time: each host's entry is built, written to the
spill file and reduced to its brief (the entry without its updates and changes), while the
summary adds it up. The result is the same document build_report() makes from a list of entries,
with `hosts` read back from the spill (SpilledHosts) instead of held in memory.
Private to this collection: may change without notice."""

from __future__ import annotations

import collections
import json
import sys
from typing import Any

from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import OPEN_STATES
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model as _report_model
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import spill as _report_spill

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
    """Feed it every host entry, by host name (add()); then report() is the document."""

    def __init__(self, spill: _report_spill.Spill, ended_at: str | None) -> None:
        self.spill = spill
        self.ended_at = ended_at
        self.briefs = []
        self.open_by_severity = collections.Counter()
        self.open_by_classification = collections.Counter()
        self.remediated = {}
        spill.clear_entries()

    def add(self, entry: dict[str, Any]) -> None:
        for update in entry["updates"]:
            if update["state"] in OPEN_STATES:
                self.open_by_severity[update["severity"]] += 1
                self.open_by_classification[update["classification"]] += 1
        for severity, figures in _report_model.remediated([entry], self.ended_at).items():
            total = self.remediated.setdefault(severity, {"count": 0, "days": 0})
            total["count"] += figures["count"]
            total["days"] += figures["days"]
        self.spill.put_entry(entry["host"], entry, _encode(entry))
        self.briefs.append(brief(entry))

    def report(self, run: dict[str, Any], trend: list[dict[str, Any]] | None = None,
               first_seen_rings: dict[str, int] | None = None) -> dict[str, Any]:
        """build_report()'s document; its hosts a SpilledHosts over the entries added."""
        self.briefs.sort(key=lambda h: h["host"])
        return _report_model.assemble_report(
            run, _report_spill.SpilledHosts(self.spill, self.briefs), self.briefs,
            (self.open_by_severity, self.open_by_classification), self.remediated, trend, first_seen_rings)
