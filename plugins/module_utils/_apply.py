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

import fnmatch

from ansible_collections.fleetpatch.patching.plugins.module_utils import _journal, _record, _script_failures
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError


def _matches(name, patterns):
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def installed_map(packages):
    return dict((p["name"], p["version"]) for p in packages)


def select_targets(record, names=None, security_only=False, advisories=None, cves=None, exclude=None):
    """{name: version} of the record's approved updates that pass the filters, and why the
    other updates were left out ({name: reason})."""
    targets, skipped = {}, {}
    for update in record["updates"]:
        name = update["name"]
        if update.get("decision") != "approved":
            skipped[name] = "%s: %s" % (update.get("decision"), update.get("reason"))
        elif names and not _matches(name, names):
            skipped[name] = "not in names"
        elif exclude and _matches(name, exclude):
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


def apply(backend, state_dir, check_mode=False, policy=None, manifest=None, names=None,
          security_only=False, advisories=None, cves=None, exclude=None, update_cache=True,
          cache_valid_time=0, run_id=None):
    """Install what the selection approves (or exactly a manifest). Returns the result dict."""
    root = getattr(backend, "root", None)
    journal_dir = (root or "") + state_dir        # an installroot keeps its own journals
    record = _record.assess(backend, update_cache=update_cache, cache_valid_time=cache_valid_time,
                            policy=policy, state_dir=state_dir, check_mode=check_mode, root=root)
    before_all = installed_map(backend.installed())
    if manifest is not None:      # an empty manifest installs nothing (a later ring after a no-op ring)
        manifest = manifest_for(manifest, backend.name)
        targets, skipped = manifest_targets(manifest, before_all, backend.compare)
    else:
        targets, skipped = select_targets(record, names, security_only, advisories, cves, exclude)
    plan = backend.plan(targets) if targets else []
    if manifest is not None:
        check_plan_against_manifest(plan, manifest)
    result = {"pkg_mgr": backend.name, "targets": targets, "not_selected": skipped, "plan": plan, "changes": [],
              "journal": None, "changed": bool(plan),
              "diff": {"before": render_diff(plan, "before"), "after": render_diff(plan, "after")}}
    if check_mode or not plan:
        # Check mode predicts the changes from the plan, so a dry-run rollout promotes them too.
        result["changes"] = [{"name": c["name"], "before": c.get("before"), "after": c.get("after")} for c in plan]
        result["record"] = record
        result["reboot_required"] = record["reboot_required"]
        return result
    touched = dict((c["name"], before_all.get(c["name"])) for c in plan)
    journal = _journal.create(journal_dir, backend.name, touched, plan, targets, run_id=run_id)
    result["journal"] = journal["id"]
    try:
        backend.apply(targets)
    except PatchError as exc:
        changes = diff_installed(before_all, installed_map(backend.installed()))
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
    changes = diff_installed(before_all, installed_map(backend.installed()))
    _journal.update(journal_dir, journal, status="applied", rc=0, changes=changes)
    after = _record.assess(backend, update_cache=False, policy=policy, state_dir=state_dir, check_mode=check_mode,
                           root=root)
    result.update(changes=changes, changed=bool(changes), record=after, reboot_required=after["reboot_required"])
    return result


def rollback(backend, state_dir, journal_id="latest", check_mode=False):
    """Restore exactly the versions a journal recorded; remove what the change newly installed."""
    state_dir = (getattr(backend, "root", None) or "") + state_dir
    journal = _journal.load(state_dir, journal_id)
    if journal.get("pkg_mgr") not in (None, backend.name):
        raise PatchError("Refusing to roll back journal %s: it was written by %s, this host uses %s"
                         % (journal["id"], journal["pkg_mgr"], backend.name))
    if not check_mode:
        backend.recover(journal)   # finish what an interrupted package manager left half done
    current = installed_map(backend.installed())
    restore = dict((n, v) for n, v in journal["before"].items() if v is not None and current.get(n) != v)
    remove = sorted(n for n, v in journal["before"].items() if v is None and n in current)
    result = {"journal": journal["id"], "journal_status": journal["status"], "restore": restore, "remove": remove,
              "changes": [], "changed": bool(restore or remove),
              "diff": {"before": "".join("%s %s\n" % (n, current.get(n)) for n in sorted(set(restore) | set(remove))),
                       "after": "".join("%s %s\n" % (n, restore.get(n)) for n in sorted(set(restore) | set(remove))
                                        if restore.get(n))}}
    if not restore and not remove:
        if journal["status"] != "rolled_back" and not check_mode:
            _journal.update(state_dir, journal, status="rolled_back", rolled_back_at=_journal.now_iso())
        return result
    offered = backend.available_versions(set(restore))
    missing = ["%s %s" % (n, v) for n, v in sorted(restore.items()) if v not in offered.get(n, set())]
    if missing:
        raise PatchError("Refusing to roll back journal %s: no repository offers %s any more; nothing was changed"
                         % (journal["id"], ", ".join(missing)))
    if check_mode:
        return result
    backend.apply(restore, remove=remove, downgrade=True)
    after = installed_map(backend.installed())
    wrong = ["%s is %s, journal says %s" % (n, after.get(n), v) for n, v in sorted(journal["before"].items())
             if after.get(n) != v]
    result["changes"] = diff_installed(current, after)
    if wrong:
        raise PatchError("Rollback of journal %s did not restore every package: %s" % (journal["id"], "; ".join(wrong)))
    _journal.update(state_dir, journal, status="rolled_back", rolled_back_at=_journal.now_iso())
    return result
