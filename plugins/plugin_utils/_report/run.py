# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compliance callback's end of run: which hosts belong in the report, the history store's
part (trend, first-seen dates), and the files. Kept out of the callback so it can be tested
without Ansible's callback machinery. Private to this collection: may change without notice."""

from __future__ import annotations

import datetime
import json
import os
from typing import TYPE_CHECKING, Any, Iterable

from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import (
    EXCLUDED_RING_GROUP, RING_GROUP_PREFIX, RING_VAR)
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import assemble as _report_assemble
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import files as _report_files
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import location as _report_location
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model as _report_model
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import spill as _report_spill

if TYPE_CHECKING:
    from ansible.executor.stats import AggregateStats
    from ansible.inventory.manager import InventoryManager
    from ansible.playbook.task import Task

    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore

COLLECTION_PREFIX = "fleetpatch.patching."
CONTROLLER_NAMES = ("localhost", "127.0.0.1")
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def is_fleetpatch(action: str | None, payload: Any) -> bool:
    """Whether a result is fleetpatch's: one of its modules, or the patch role's outcome."""
    if (action or "").startswith(COLLECTION_PREFIX):
        return True
    facts = payload.get("ansible_facts") if isinstance(payload, dict) else None
    return isinstance(facts, dict) and ("patch_outcome" in facts or "fleetpatch" in facts)


def loop_items(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The results a callback observes in one task result: each item's own result when the task
    looped (Ansible marks every item with ansible_loop_var), else the result itself. A module may
    return a `results` list of its own (health_check's per-check list): that is not a loop."""
    results = payload.get("results")
    if isinstance(results, list) and all(isinstance(r, dict) and "ansible_loop_var" in r for r in results):
        return results
    return [payload]


GATE_MESSAGE_CHARS = 2000


def gate_message(msg: Any) -> str:
    """The gate's message as one sentence of text: assert gives a list when several fail_msg lines
    apply; never a Python repr, and never a 100 KB banner (the hosts' outcomes are in the report)."""
    if isinstance(msg, (list, tuple)):
        msg = "; ".join(str(m) for m in msg)
    text = " ".join(str(msg or "").split())
    return text if len(text) <= GATE_MESSAGE_CHARS else text[:GATE_MESSAGE_CHARS - 1] + "\u2026"


MANIFEST_PACKAGES = 500     # per package manager, in the report (the manifest file has them all)


def manifest_entries(manifest: dict[str, Any]) -> dict[str, dict[str, str]]:
    """{pkg_mgr: {package: version}} as text, at most MANIFEST_PACKAGES per manager."""
    entries = {}
    for manager, packages in sorted(manifest.items(), key=lambda item: str(item[0])):
        if isinstance(packages, dict):
            entries[str(manager)] = dict((str(name), str(version)) for name, version
                                         in sorted(packages.items(), key=lambda item: str(item[0]))[:MANIFEST_PACKAGES])
    return entries


GATE_FACT = "fleetpatch_gate"


class GateWatcher(object):
    """Turns the gate role's results into the report's gate decisions.

    The gate's public fact fleetpatch_gate (docs/architecture.md): {ring, decision (open | closed),
    reasons, counts, message, manifest}, set once when the gate decides (manifest null) and again
    with the manifest an open gate promotes. Until the next release, a gate that sets no such fact
    is still recognised the old way: a gate_result fact, then an assert task in a role whose name
    ends in "gate" (its message the decision's)."""

    def __init__(self) -> None:
        self.last_count = None
        self.decisions = []

    def observe(self, task: Task, payload: dict[str, Any], failed: bool) -> None:
        facts = payload.get("ansible_facts") or {}
        gate = facts.get(GATE_FACT)
        if isinstance(gate, dict):
            self._observe_gate(gate)
            return
        if isinstance(facts.get("gate_result"), dict):
            self.last_count = facts["gate_result"]
        if isinstance(facts.get("gate_manifest"), dict) and self.decisions and self.decisions[-1]["passed"]:
            # The gate builds its manifest right after deciding: it belongs to that decision.
            self.decisions[-1]["manifest"] = manifest_entries(facts["gate_manifest"])
        role = getattr(task, "_role", None)
        role_name = role.get_name() if role is not None else ""
        if not role_name.endswith("gate") or not (task.action or "").endswith("assert") or self.last_count is None:
            return
        self._decide(self.last_count, not failed, payload.get("msg"))

    def _observe_gate(self, gate):
        manifest = gate.get("manifest")
        if isinstance(manifest, dict):
            if self.decisions and self.decisions[-1]["passed"] and self.decisions[-1]["ring"] == str(gate.get("ring")):
                self.decisions[-1]["manifest"] = manifest_entries(manifest)
            return
        counts = gate.get("counts") if isinstance(gate.get("counts"), dict) else {}
        self._decide(dict(counts, ring=gate.get("ring")), gate.get("decision") == "open", gate.get("message"))

    def _decide(self, count, passed, message):
        self.decisions.append({
            "ring": str(count.get("ring")),
            "passed": passed,
            "message": gate_message(message),
            "hosts": int(count.get("hosts") or 0),
            "succeeded": int(count.get("succeeded") or 0),
            "rolled_back": int(count.get("rolled_back") or 0),
            "failed": int(count.get("failed") or 0),
            "unreachable": int(count.get("unreached") or 0),
        })
        # the gate's own assert, which follows, is not a second decision
        self.last_count = None


def rings_from_inventory(inventory: InventoryManager) -> dict[str, str]:
    """inventory name -> ring, from the fleetpatch_ring variable or a fleetpatch_ring_<ring> group."""
    rings = {}
    for name, host in inventory.hosts.items():
        ring = host.vars.get(RING_VAR)
        if not ring:
            groups = [g.name for g in host.get_groups()
                      if g.name.startswith(RING_GROUP_PREFIX) and g.name != EXCLUDED_RING_GROUP]
            ring = groups[0][len(RING_GROUP_PREFIX):] if groups else None
        if ring:
            rings[name] = str(ring)
    return rings


def collection_version() -> str:
    for name in ("MANIFEST.json", "galaxy.yml"):
        path = os.path.join(COLLECTION_ROOT, name)
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError:
            continue
        if name.endswith(".json"):
            return str(json.loads(text).get("collection_info", {}).get("version", "unknown"))
        for line in text.splitlines():
            if line.startswith("version:"):
                return line.split(":", 1)[1].strip().strip("'\"")
    return "unknown"


def hosts_to_report(observations: dict[str, _report_model.HostObservations], relevant: Iterable[str],
                    stats: AggregateStats | None) -> list[str]:
    """The hosts fleetpatch touched, and every host that failed or was unreachable beside them."""
    names = set(relevant)
    if stats is not None:
        names.update(h for h, n in stats.dark.items() if n)
        names.update(h for h, n in stats.failures.items() if n and h not in CONTROLLER_NAMES)
    return sorted(names)


def host_entry(name: str, observations: dict[str, _report_model.HostObservations], rings: dict[str, str],
               stats: AggregateStats | None, spill: _report_spill.Spill | None = None) -> dict[str, Any]:
    """The report's entry for one host (its observations read back from the spill, when given)."""
    obs = observations.get(name) or _report_model.HostObservations(name)
    obs.ring = obs.ring or rings.get(name)
    if stats is not None and stats.dark.get(name):
        obs.unreachable = True
    failed = bool(stats is not None and stats.failures.get(name))
    return _report_model.host_entry(spill.restored(obs) if spill is not None else obs, failed=failed)


def first_seen_rings(observations: dict[str, _report_model.HostObservations], rings: dict[str, str]) -> dict[str, int]:
    """{ring: rank}: the order the run first met each ring's hosts (observations keep the order the
    callback first saw each host), which is the rollout's order when no gate says it."""
    order = {}
    for name, obs in observations.items():
        ring = obs.ring or rings.get(name)
        if ring and ring not in order:
            order[ring] = len(order)
    return order


def backfill_first_seen(entries: Iterable[dict[str, Any]], first_seen: dict[tuple[str, str, str], str]) -> None:
    """The store remembers when an update was first missing even if a host's own state was wiped."""
    for entry in entries:
        for update in entry["updates"]:
            known = first_seen.get((entry["host"], update["name"], update["available_version"]))
            if known and (update["first_seen"] is None or known < update["first_seen"]):
                update["first_seen"] = known


def open_store(location: str) -> HistoryStore:
    # Imported here: a run without a store must not need the store's code (or psycopg).
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store import history as _history_store
    return _history_store.HistoryStore.open(location)


def store_location(value: str | None) -> str | None:
    value = (value or "").strip()
    if not value or value.lower() == "none":
        return None
    return value if "://" in value else os.path.expanduser(value)


def finish(run: dict[str, Any], observations: dict[str, _report_model.HostObservations], relevant: Iterable[str],
           rings: dict[str, str], stats: AggregateStats | None, options: dict[str, Any], inventory_hosts: Iterable[str] = (),
           spill: _report_spill.Spill | None = None) -> tuple[dict[str, Any] | None, dict[str, str], list[str]]:
    """Build the report host by host, write its files, append it to the store. inventory_hosts: every
    host of the inventory (the fleet view names those never assessed); spill: the run's Spill (the
    callback's, holding its observations' updates), else one is made for the end of the run.
    Returns (report or None when fleetpatch did nothing, {format: path}, [problems as text]); the
    report's hosts are briefs (entries without updates and changes): report.json has them whole."""
    if not relevant:
        return None, {}, []
    report_dir = _report_location.report_dir(options.get("report_dir"))
    own_spill = spill is None
    if own_spill:
        spill = _report_spill.Spill.create(report_dir, run["run_id"])
    try:
        report, files, problems = _finish(run, observations, relevant, rings, stats, options, inventory_hosts,
                                          spill, report_dir)
    finally:
        if own_spill:
            spill.remove()
    report["hosts"] = report["hosts"].briefs
    return report, files, problems


def _finish(run, observations, relevant, rings, stats, options, inventory_hosts, spill, report_dir):
    problems = []
    store, trend = None, []
    location = store_location(options.get("store"))
    if location:
        try:
            store = open_store(location)
            # awx: a slice of a sliced AWX job leaves its sibling slices out of its trend
            trend = store.trend(limit=int(options.get("trend_runs") or 30), before_run_id=run["run_id"],
                                awx=run.get("awx"))
        except Exception as exc:
            problems.append("the history store is not used for this run: %s" % exc)
            store = _close_quietly(store)
    formats = set(options.get("formats") or _report_files.FORMATS) | {"json"}
    unknown = formats - set(_report_files.FORMATS)
    if unknown:
        problems.append("unknown report formats ignored: %s" % ", ".join(sorted(unknown)))
    try:
        report, store = _assemble(run, observations, relevant, rings, stats, spill, store, trend, problems)
    except Exception:
        _close_quietly(store)
        raise
    if store is not None:
        try:
            from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import fleet_view as _fleet_view
            report["fleet"] = _fleet_view.fleet_state(
                store, report, inventory_hosts, datetime.datetime.now(datetime.timezone.utc),
                stale_days=int(options.get("stale_days") or 7))
        except Exception as exc:
            problems.append("the fleet's known state is not in this report: %s" % exc)
    # The same list object: a problem met while writing below reaches every file drawn after it.
    report["run"]["problems"] = problems
    mode = int(str(options.get("file_mode") or "0600"), 8)
    formats = sorted(formats - unknown)
    files = {}
    if store is not None:
        appended = False
        try:
            files = _report_files.write_reports(report, report_dir, ["json"], mode, link_latest=False)
            appended = _append_to_store(store, report, files["json"], problems)
            if appended:
                _prune(store, int(options.get("store_keep_days") or 0), problems)
        finally:
            _close_quietly(store)
        if not appended:    # report.json was drawn for the store's copy: say in it that the store lacks the run
            files.pop("json")
    files = _report_files.write_reports(report, report_dir, [f for f in formats if f not in files], mode,
                                        files=files)
    return report, files, problems


# Hosts whose first-seen dates and previous open updates are read from the store at once
# (HistoryStore.first_seen, previous_open_updates).
FIRST_SEEN_BATCH = 500


def _assemble(run, observations, relevant, rings, stats, spill, store, trend, problems):
    """(the report, the store or None): the host entries built one at a time into the spill, with
    first-seen dates from the store, a batch of hosts at a time. A store that fails to give them is
    not used for this run (closed, no trend). With a store, the fleet state's figures of the run's
    hosts (fleet_view.RunHosts) are gathered in the same pass, as of today (the controller's clock)."""
    names = hosts_to_report(observations, relevant, stats)
    run_hosts = None
    if store is not None:
        from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import fleet_view as _fleet_view
        run_hosts = _fleet_view.RunHosts(datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
                                         run.get("started_at"))
    assembly = _report_assemble.Assembly(spill, run.get("ended_at"), run_hosts)
    for start in range(0, len(names), FIRST_SEEN_BATCH):
        batch = names[start:start + FIRST_SEEN_BATCH]
        first_seen = {}
        if store is not None:
            try:
                first_seen = store.first_seen(batch)
            except Exception as exc:
                problems.append("the history store is not used for this run: %s" % exc)
                store, trend = _close_quietly(store), []
            else:
                run_hosts.read_previous(store, batch)
        for name in batch:
            entry = host_entry(name, observations, rings, stats, spill)
            backfill_first_seen([entry], first_seen)
            assembly.add(entry)
    return assembly.report(run, trend, first_seen_rings=first_seen_rings(observations, rings)), store


def _append_to_store(store, report, document_path, problems):
    """The run's rows, then report.json packed as the store's copy of the document."""
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store import document as _store_document
    try:
        store.append_run(report, document=_store_document.DocumentFile(document_path))
        return True
    except Exception as exc:
        problems.append("the run was not added to the history store: %s" % exc)
        return False


def _prune(store, keep_days, problems):
    """Delete the runs older than keep_days (0: keep all); a failure is added to problems."""
    if keep_days <= 0:
        return
    try:
        store.prune(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=keep_days))
    except Exception as exc:
        problems.append("old runs were not pruned from the history store: %s" % exc)


def _close_quietly(store):
    if store is not None:
        try:
            store.close()
        except Exception:
            pass
    return None
