# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

Applying and rolling back, the same way for every package manager:
choose exact target versions -> plan -> journal -> install -> record what changed; and back:
journal -> check every recorded version can still be had -> restore -> verify -> mark.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.fleetpatch.patching.plugins.module_utils import (
    _journal, _policy, _record, _rollback_cache, _script_failures, _snapshot)
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError
from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import SEVERITY_RANK

# A re-run of an already patched ring promotes what its completed cycles installed this long ago at
# most: one monthly patch cycle, so a ring patched last quarter promotes nothing stale.
VERIFIED_MAX_AGE_DAYS = 30


def installed_map(packages):
    return dict((p["name"], p["version"]) for p in packages)


def installed_listing(packages):
    """installed_map where a name listed twice (rpm entries a killed transaction left) shows both
    versions, "1.0-1, 1.0-2", so that a repair that leaves one of them is a change."""
    versions = {}
    for package in packages:
        versions.setdefault(package["name"], set()).add(package["version"])
    return dict((name, ", ".join(sorted(found))) for name, found in versions.items())


def select_targets(record, names=None, security_only=False, advisories=None, cves=None, exclude=None):
    """{name: version} of the record's approved updates that pass the filters, and why the
    other updates were left out ({name: reason})."""
    targets, skipped = {}, {}
    for update in record["updates"]:
        name = update["name"]
        if update.get("decision") != "approved":
            skipped[name] = "%s: %s" % (update.get("decision"), update.get("reason"))
        elif names and not _policy.matching_pattern(name, names):
            skipped[name] = "not in names"
        elif exclude and _policy.matching_pattern(name, exclude):
            skipped[name] = "excluded"
        elif security_only and update.get("classification") != "security":
            skipped[name] = "not a security update"
        elif advisories and not set(advisories) & set(update.get("advisories") or []):
            skipped[name] = "no listed advisory"
        elif cves and not set(cves) & set(update.get("cves") or []):
            skipped[name] = "no listed CVE"
        else:
            targets[name] = update["available_version"]
    return targets, skipped


def manifest_for(manifest, manager):
    """The part of a promotion manifest this host's package manager installs. A manifest is either
    {name: version} or, as the gate builds it, {package manager: {name: version}} - told apart by
    the values (a version is a string, never a mapping); a manager the manifest does not name
    installs nothing."""
    if manifest and all(isinstance(value, dict) for value in manifest.values()):
        return manifest.get(manager) or {}
    return manifest


def manifest_targets(manifest, installed, compare):
    """The manifest's versions this host must install: packages it has at another, older
    version. Newer installed versions are left alone (applying never downgrades)."""
    targets, skipped = {}, {}
    for name, version in sorted(manifest.items()):
        current = installed.get(name)
        if current is None:
            skipped[name] = "not installed here"
        elif current == version:
            skipped[name] = "already at the manifest version"
        elif compare(current, version) > 0:
            skipped[name] = "installed %s is newer than the manifest's %s" % (current, version)
        else:
            targets[name] = str(version)
    return targets, skipped


def check_plan_against_manifest(plan, manifest):
    """Refuse a plan that would install anything the manifest does not name at that version."""
    outside = ["%s %s" % (c["name"], c["after"]) for c in plan
               if c["after"] is not None and str(manifest.get(c["name"])) != c["after"]]
    removals = [c["name"] for c in plan if c["after"] is None]
    if outside or removals:
        raise PatchError("Refusing to apply: the transaction goes beyond the promotion manifest (%s)"
                         % "; ".join(filter(None, [
                             "would install %s" % ", ".join(outside) if outside else "",
                             "would remove %s" % ", ".join(removals) if removals else ""])))


def diff_installed(before, after):
    """[{name, before, after}] for every package whose version changed (None: absent)."""
    changes = []
    for name in sorted(set(before) | set(after)):
        if before.get(name) != after.get(name):
            changes.append({"name": name, "before": before.get(name), "after": after.get(name)})
    return changes


def render_diff(changes, key):
    return "".join("%s %s\n" % (c["name"], c[key]) for c in changes if c.get(key) is not None)


def repair(backend, open_journals):
    """Before anything else: finish what an interrupted package manager left in the package
    database (dpkg half-configured, rpm entries twice), keeping the versions the open journals
    recorded where rpm holds two. Returns the problems found (empty: nothing to repair); raises
    when they remain after the repair, so nothing is installed on a damaged database."""
    backend.installed()
    found = unfinished_problems(backend)
    if not found and not open_journals:
        return []
    keep = {"before": merged_before(open_journals)} if open_journals else None
    backend.recover(keep)
    backend.installed()
    left = unfinished_problems(backend)
    if left:
        raise PatchError("An interrupted transaction left the package database unfinished and fleetpatch could not "
                         "repair it (%s); nothing else was changed: repair it by hand, then run again"
                         % "; ".join(left)[:600])
    return found


def unfinished_problems(backend):
    """What an interrupted transaction left, as of the backend's last installed() call: packages
    in unfinished states or installed twice, and dpkg's own interrupted marker (apt only)."""
    interrupted = getattr(backend, "interrupted", None)
    return list(backend.unfinished) + (interrupted() if interrupted else [])


def merged_before(journals):
    """The versions before the first of several open journals: for each package, the oldest
    journal that touched it knows what the host had before fleetpatch began."""
    before = {}
    for journal in journals:        # oldest first
        for name, version in (journal.get("before") or {}).items():
            before.setdefault(name, version)
    return before


def verified_versions(journals, installed, max_age_days, now=None):
    """{name: version} that completed cycles (applied, rebooted, healthy) installed within
    max_age_days and the host still runs: what a re-run of an already patched ring promotes,
    instead of an empty manifest. The newest journal wins."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    oldest = (now - datetime.timedelta(days=max_age_days)).strftime(_journal.ID_TIME_FORMAT)
    verified = {}
    for journal in reversed(journals):      # newest first
        if journal.get("status") != "completed" or str(journal.get("id", "")) < oldest:
            continue
        for change in journal.get("changes") or []:
            name, after = change.get("name"), change.get("after")
            if after is not None and installed.get(name) == after:
                verified.setdefault(name, after)
    return verified


def by_name(versions, names=None, exclude=None):
    """The run's name filters narrow what it promotes from verified versions; its classification
    filters cannot (an installed package no longer has an update to classify), see docs/rollout.md."""
    return dict((n, v) for n, v in versions.items()
                if (not names or _policy.matching_pattern(n, names))
                and not (exclude and _policy.matching_pattern(n, exclude)))


def remaining_targets(backend, record, manifest, installed, selection):
    """What the selection still wants after the apply: the check that the host *is* patched,
    not only that this run changed something."""
    if manifest is not None:
        return manifest_targets(manifest, installed, backend.compare)[0]
    return select_targets(record, **selection)[0]


def advisory_key(update):
    """How the controller names an update in advisory_data: name|arch|available version."""
    return "%s|%s|%s" % (update["name"], update.get("arch"), update["available_version"])


def merge_advisory_data(record, advisory_data, policy=None, now=None):
    """The record with what the controller's advisory feed says about its apt updates
    (advisory_data: {advisory_key: {advisories, cves, issued, severity}}, built by patch_apply's action
    plugin from plugin_utils/_advisory/feed.py), decided again by the baseline. An update whose
    name, arch or version changed since the controller asked keeps what this host said."""
    if not advisory_data:
        return record
    updates = []
    for update in record.get("updates") or []:
        data = advisory_data.get(advisory_key(update))
        if isinstance(data, dict):
            severity = data.get("severity")
            update = dict(update, advisories=[str(a) for a in data.get("advisories") or []],
                          cves=[str(c) for c in data.get("cves") or []], issued=data.get("issued") or None,
                          severity=severity if severity in SEVERITY_RANK else "unknown", classification="security")
        updates.append(update)
    return _policy.evaluate(dict(record, updates=updates), policy, now=now)


def apply(backend, state_dir, check_mode=False, policy=None, manifest=None, names=None,
          security_only=False, advisories=None, cves=None, exclude=None, update_cache=True,
          cache_valid_time=0, run_id=None, cycle=False, rollback_cache=None, snapshot_command=None,
          advisory_data=None):
    """Install what the selection approves (or exactly a manifest). Returns the result dict.
    cycle: the caller confirms the change after reboot and health checks (the patch role).
    rollback_cache: {enabled, keep_days, max_mb} (_rollback_cache; enabled by default).
    snapshot_command: argv run right before the change (_snapshot).
    advisory_data: apt, what the controller's advisory feed says about the updates (merge_advisory_data)."""
    root = getattr(backend, "root", None)
    journal_dir = (root or "") + state_dir        # an installroot keeps its own journals
    journals = [j for j in _journal.load_all(journal_dir) if j.get("pkg_mgr") in (None, backend.name)]
    open_journals = [j for j in journals if _journal.is_open(j)]
    repaired = [] if check_mode else repair(backend, open_journals)
    record = _record.assess(backend, update_cache=update_cache, cache_valid_time=cache_valid_time,
                            policy=policy, state_dir=state_dir, check_mode=check_mode, root=root)
    record = merge_advisory_data(record, advisory_data, policy)
    installed_packages = backend.installed()
    before_all = installed_map(installed_packages)
    selection = {"names": names, "security_only": security_only, "advisories": advisories, "cves": cves,
                 "exclude": exclude}
    if manifest is not None:      # an empty manifest installs nothing (a later ring after a no-op ring)
        manifest = manifest_for(manifest, backend.name)
        targets, skipped = manifest_targets(manifest, before_all, backend.compare)
    else:
        targets, skipped = select_targets(record, **selection)
    # The baseline of this change: what the host had before the first unfinished run touched it.
    adopted_before = merged_before(open_journals)
    baseline = dict(before_all)
    baseline.update(adopted_before)
    selected = dict(targets)      # require_rollback may leave some out: they stay remaining
    plan, touched, secured = _plan_and_secure(backend, targets, manifest, baseline, adopted_before, skipped,
                                              journal_dir, journals, installed_packages, policy, rollback_cache,
                                              check_mode)
    resumed = [j["id"] for j in open_journals]
    result = {"pkg_mgr": backend.name, "targets": targets, "not_selected": skipped, "plan": plan, "changes": [],
              "journal": None, "changed": bool(plan or repaired), "resumed": resumed, "repaired": repaired,
              "remaining": {}, "verified": {}, "baseline_missing": {}, "rollback": secured, "snapshot": None,
              "diff": {"before": render_diff(plan, "before"), "after": render_diff(plan, "after")}}
    if check_mode:
        # Check mode predicts the changes from the plan, so a dry-run rollout promotes them too.
        planned = set(c["name"] for c in plan)
        result["changes"] = [{"name": c["name"], "before": c.get("before"), "after": c.get("after")} for c in plan]
        result["remaining"] = dict((n, v) for n, v in targets.items() if n not in planned)
        result["record"] = record
        result["reboot_required"] = record["reboot_required"]
        return result
    if not plan and not open_journals:
        verified = verified_versions(journals, before_all, VERIFIED_MAX_AGE_DAYS)
        result["verified"] = by_name(verified, names, exclude)
        result["remaining"] = selected
        result["baseline_missing"] = select_targets(record, **selection)[0]
        result["record"] = record
        result["reboot_required"] = record["reboot_required"]
        return result
    snapshot = _snapshot.take(backend.runner, snapshot_command, run_id, touched, _journal.now_iso()) \
        if snapshot_command else None
    result["snapshot"] = snapshot
    journal = _journal.create(journal_dir, backend.name, touched, plan, targets, run_id=run_id, snapshot=snapshot,
                              cycle=cycle or any(j.get("cycle") == _journal.CYCLE_OPEN for j in open_journals),
                              resumes=resumed, rollback_files=(secured or {}).get("files") or {},
                              rollback_gaps=(secured or {}).get("gaps") or {})
    for earlier in open_journals:
        _journal.update(journal_dir, earlier, status="superseded", superseded_by=journal["id"])
    result["journal"] = journal["id"]
    try:
        if plan:
            backend.apply(targets)
    except PatchError as exc:
        changes = diff_installed(baseline, installed_map(backend.installed()))
        scripts = _script_failures.explain(exc.stdout, exc.stderr)
        if scripts:      # the package manager's last line says nothing; the script's own words do
            exc.msg = "Failed to install: %s" % _script_failures.summary(scripts)
        _journal.update(journal_dir, journal, status="failed", rc=exc.rc, stderr=exc.stderr or exc.msg,
                        changes=changes, reason=exc.msg, failed_scripts=scripts)
        exc.failed_scripts = scripts
        exc.msg = "%s (journal %s; %d package(s) changed before the failure)" % (exc.msg, journal["id"], len(changes))
        exc.journal = journal["id"]
        exc.changes = changes
        exc.targets = targets
        raise
    installed_after = installed_map(backend.installed())
    changes = diff_installed(baseline, installed_after)
    _journal.update(journal_dir, journal, status="applied", rc=0, changes=changes)
    after = _record.assess(backend, update_cache=False, policy=policy, state_dir=state_dir, check_mode=check_mode,
                           root=root)
    result.update(changes=changes, changed=bool(plan or repaired or changes), record=after,
                  reboot_required=after["reboot_required"],
                  remaining=remaining_targets(backend, after, manifest, installed_after, selection),
                  # what the baseline, narrowed by the same filters, still wants: in a manifest ring, what the
                  # manifest did not carry (the test ring never had that package); the rollout's end judges it
                  baseline_missing=select_targets(after, **selection)[0])
    return result


def _plan_and_secure(backend, targets, manifest, baseline, adopted_before, skipped, journal_dir, journals,
                     installed_packages, policy, rollback_cache, check_mode):
    """Plan the transaction and secure a rollback file for every version it replaces. With the
    baseline's require_rollback, an update whose old version could not be secured is left out
    (skipped, with the reason: it stays missing) and the rest planned again; a gap the remaining
    plan still has (a dependency's) refuses the apply. Returns (plan, touched, rollback summary or
    None when the cache is disabled)."""
    options = dict({"enabled": True, "keep_days": _rollback_cache.DEFAULT_KEEP_DAYS,
                    "max_mb": _rollback_cache.DEFAULT_MAX_MB}, **(rollback_cache or {}))
    required = _policy.normalize_policy(policy)["require_rollback"]
    for attempt in range(2):
        plan = backend.plan(targets) if targets else []
        if manifest is not None:
            check_plan_against_manifest(plan, manifest)
        touched = dict((name, baseline.get(name)) for name in set(c["name"] for c in plan) | set(adopted_before))
        if not options["enabled"] or not touched:
            return plan, touched, None
        # touched without a plan: a run taking over an interrupted one; its journal carries the files over
        secured = _rollback_cache.secure_change(backend, journal_dir, journals, touched, installed_packages,
                                                options["keep_days"], options["max_mb"], check_mode)
        gaps = secured["gaps"]
        if not required or not gaps or not plan:
            return plan, touched, secured
        blocked = sorted(set(gaps) & set(targets))
        if attempt or not blocked or set(gaps) - set(blocked):
            raise PatchError("Refusing to apply: the baseline requires a rollback (require_rollback) and none could be "
                             "secured for %s; nothing was changed" % "; ".join(gaps[n] for n in sorted(gaps)))
        for name in blocked:
            skipped[name] = "rollback not possible (require_rollback): %s" % gaps[name]
            del targets[name]
    raise AssertionError("unreachable")


def rollback(backend, state_dir, journal_id="latest", check_mode=False, snapshot_command=None):
    """Restore exactly the versions a journal recorded; remove what the change newly installed.
    snapshot_command: argv run once the packages are restored (_snapshot)."""
    state_dir = (getattr(backend, "root", None) or "") + state_dir
    journal = _journal.load(state_dir, journal_id)
    if journal.get("pkg_mgr") not in (None, backend.name):
        raise PatchError("Refusing to roll back journal %s: it was written by %s, this host uses %s"
                         % (journal["id"], journal["pkg_mgr"], backend.name))
    found = installed_listing(backend.installed())
    # Listing sets backend.unfinished (apt: a package half-configured because its own script
    # failed). Rollback repairs only what a killed run left (dpkg interrupted, rpm entries twice):
    # the restore below replaces such a package, while asking dpkg to configure it first would
    # fail the rollback on the very script that broke the install (the lab's broken wave).
    backend.unfinished = []
    if not check_mode:
        backend.recover(journal)   # finish what an interrupted package manager left half done
    current = installed_map(backend.installed())
    # The repair alone may have restored the journal's versions (rpm duplicates of a killed
    # transaction, where the repair keeps the journal's version): that is a rollback too.
    repaired = diff_installed(found, current)
    restore = dict((n, v) for n, v in journal["before"].items() if v is not None and current.get(n) != v)
    remove = sorted(n for n, v in journal["before"].items() if v is None and n in current)
    result = {"journal": journal["id"], "journal_status": journal["status"], "restore": restore, "remove": remove,
              "changes": repaired, "changed": bool(restore or remove or repaired), "from_files": {},
              "diff": {"before": "".join("%s %s\n" % (n, current.get(n)) for n in sorted(set(restore) | set(remove))),
                       "after": "".join("%s %s\n" % (n, restore.get(n)) for n in sorted(set(restore) | set(remove))
                                        if restore.get(n))}}
    if not restore and not remove:
        if journal["status"] != "rolled_back" and not check_mode:
            _journal.update(state_dir, journal, status="rolled_back", rolled_back_at=_journal.now_iso())
            _after_rollback_snapshot(backend, snapshot_command, journal, result)
        return result
    offered = backend.available_versions(set(restore))
    files, problems = _rollback_cache.restore_files(journal, restore, offered)
    if problems:
        raise PatchError("Refusing to roll back journal %s: %s; nothing was changed"
                         % (journal["id"], "; ".join(problems)))
    result["from_files"] = dict((n, journal["rollback_files"][n]["source"]) for n in files)
    if check_mode:
        return result
    backend.apply(restore, remove=remove, downgrade=True, files=files)
    after = installed_map(backend.installed())
    wrong = ["%s is %s, journal says %s" % (n, after.get(n), v) for n, v in sorted(journal["before"].items())
             if after.get(n) != v]
    result["changes"] = diff_installed(found, after)
    if wrong:
        raise PatchError("Rollback of journal %s did not restore every package: %s" % (journal["id"], "; ".join(wrong)))
    _journal.update(state_dir, journal, status="rolled_back", rolled_back_at=_journal.now_iso())
    _after_rollback_snapshot(backend, snapshot_command, journal, result)
    return result


def _after_rollback_snapshot(backend, command, journal, result):
    """The snapshot hook once the packages are back; its failure fails the rollback, which says
    the packages are restored."""
    if not command:
        return
    try:
        result["snapshot_command_output"] = _snapshot.after_rollback(backend.runner, command, journal)
    except PatchError as exc:
        exc.msg = "The packages of journal %s are restored, but %s" % (journal["id"], exc.msg)
        raise
