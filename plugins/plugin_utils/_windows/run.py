# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

patch_facts, patch_apply and patch_rollback for a Windows host, on the controller, through
ansible.windows.win_updates, win_reboot and win_hotfix: the same record, journal and manifest
rules as the Linux modules (module_utils/_apply.py), and the known win_updates pitfalls handled.
`call(module_name, args)` runs one module (or its action plugin) and returns its result.
"""

from __future__ import annotations

import datetime
from typing import Any

from ansible_collections.fleetpatch.patching.plugins.module_utils import _apply, _record
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError
from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import utc_stamp
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._windows import updates as wu
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._windows.host import ModuleCall, WindowsHostFiles

ALL_CATEGORIES = ["*"]


class HostUnreachable(PatchError):
    """The connection was lost (a reboot that never came back, a dropped WinRM session)."""


def _checked(result, action):
    if result.get("unreachable"):
        raise HostUnreachable("Failed to %s: the host is unreachable (%s)" % (action, result.get("msg")))
    if result.get("failed"):
        raise PatchError("Failed to %s: %s" % (action, result.get("msg") or "win_updates failed"))
    return result


class WindowsRun(object):

    def __init__(self, call: ModuleCall, host: dict[str, Any], options: dict[str, Any], check_mode: bool = False,
                 now: datetime.datetime | None = None) -> None:
        self._call = call
        self.host = host                        # identity (see _windows_updates.identity)
        self.options = options                  # the `windows` option, defaults filled in
        self.check_mode = check_mode
        self.now = now or _record.utc_now()
        self.files = WindowsHostFiles(call, options.get("state_dir"))

    # assessment

    def search(self) -> dict[str, Any]:
        args = {"state": "searched", "category_names": self.options.get("category_names") or ALL_CATEGORIES}
        if self.options.get("server_selection"):
            args["server_selection"] = self.options["server_selection"]
        return _checked(self._call("ansible.windows.win_updates", args), "search for Windows updates")

    def assess(self, policy: dict[str, Any] | None = None, record_first_seen: bool = True) -> dict[str, Any]:
        found = self.search()
        updates = wu.entries(found)
        if record_first_seen:
            self.files.annotate_first_seen(updates, self.now.date().isoformat(), self.check_mode)
        return wu.build_record(updates, found.get("reboot_required"), self.host, policy, now=self.now)

    # apply

    def apply(self, policy: dict[str, Any] | None = None, manifest: dict[str, dict[str, str]] | None = None,
              names: list[str] | None = None, security_only: bool = False, advisories: list[str] | None = None,
              cves: list[str] | None = None, exclude: list[str] | None = None, run_id: str | None = None) -> dict[str, Any]:
        record = self.assess(policy)
        offered = dict((u["name"], u) for u in record["updates"])
        if manifest is not None:
            targets, skipped = manifest_targets(_apply.manifest_for(manifest, "windows"), offered)
        else:
            targets, skipped = _apply.select_targets(record, names, security_only, advisories, cves, exclude)
        plan = [{"name": n, "arch": offered[n].get("arch"), "before": None, "after": v, "title": offered[n]["title"]}
                for n, v in sorted(targets.items())]
        result = {"pkg_mgr": "windows", "targets": targets, "not_selected": skipped, "plan": plan, "changes": [],
                  "journal": None, "changed": bool(plan), "failed_updates": {},
                  "diff": {"before": "", "after": _apply.render_diff(plan, "after")}}
        if self.check_mode or not plan:
            result["changes"] = [{"name": c["name"], "before": None, "after": c["after"]} for c in plan]
            result.update(record=record, reboot_required=record["reboot_required"])
            return result
        uninstallable = dict((n, offered[n]["uninstallable"]) for n in targets)
        journal = self.files.create_journal(dict((n, None) for n in targets), plan, targets, run_id, uninstallable)
        result["journal"] = journal["id"]
        try:
            installed, failures, vanished, reboot_required, rebooted = self._install(targets)
        except PatchError as exc:
            exc.journal, exc.targets, exc.changes = journal["id"], targets, []
            self._journal_failed(journal, [], exc.msg)
            raise
        changes = [{"name": n, "before": None, "after": targets[n]} for n in sorted(installed)]
        for name in vanished:
            skipped[name] = "no longer offered when installing (superseded or installed meanwhile)"
        result.update(changes=changes, changed=bool(changes) or rebooted, failed_updates=failures, rebooted=rebooted)
        if failures:
            msg = "Failed to install %s" % "; ".join("%s: %s" % (n, failures[n]) for n in sorted(failures))
            self._journal_failed(journal, changes, msg)
            error = PatchError("%s (journal %s; %d update(s) installed before the failure)" % (msg, journal["id"], len(changes)))
            error.journal, error.targets, error.changes, error.failed_updates = journal["id"], targets, changes, failures
            raise error
        self.files.update_journal(journal, status="applied", rc=0, changes=changes)
        after = self.assess(policy)
        after["reboot_required"] = after["reboot_required"] or reboot_required
        if after["reboot_required"] and not after["reboot_reasons"]:
            after["reboot_reasons"] = ["Windows Update reports a pending reboot"]
        after["counts"]["pending_reboot"] = 1 if after["reboot_required"] else 0
        if after["status"] == "compliant" and after["reboot_required"]:
            after["status"] = "pending_reboot"
        result.update(record=after, reboot_required=after["reboot_required"])
        return result

    def _journal_failed(self, journal, changes, msg):
        try:
            self.files.update_journal(journal, status="failed", rc=1, stderr=msg, changes=changes)
        except PatchError:
            pass    # the host may be gone; the journal still says "applying", which rollback reads too

    def _install(self, targets):
        """Install the targets with win_updates, in passes. Between passes (option `reboot`) the
        host reboots through win_reboot and the next pass retries what failed and checks that what
        installed stayed installed. An update that fails, or that Windows offers again after the
        reboot (it rolled back), uses up an attempt; after `max_passes` it is reported failed,
        never looped. An update win_updates reports as a success without installing it failed.
        Returns (installed, failures, vanished, reboot_required, rebooted)."""
        reboot = bool(self.options.get("reboot"))
        max_passes = max(1, int(self.options.get("max_passes") or 1)) if reboot else 1
        remaining = set(targets)
        installed, failures, vanished = set(), {}, set()
        reboot_required = rebooted = False
        for attempt in range(1, max_passes + 1):
            outcome = self._call("ansible.windows.win_updates", {
                "state": "installed", "category_names": ALL_CATEGORIES, "reboot": False,
                "accept_list": [wu.accept_pattern(n) for n in sorted(remaining)]})
            if outcome.get("unreachable"):
                raise HostUnreachable("Failed to install %s: the host is unreachable (%s)"
                                      % (", ".join(sorted(remaining)), outcome.get("msg")))
            by_name = dict((wu.update_name(u), u) for u in (outcome.get("updates") or {}).values())
            reboot_required = bool(outcome.get("reboot_required"))
            failures = {}
            for name in sorted(remaining):
                update = by_name.get(name)
                if update is None:
                    if name not in installed:       # installed earlier and not offered again: done
                        vanished.add(name)
                elif update.get("failure_hresult_code") is not None:
                    failures[name] = update.get("failure_msg") or "HRESULT 0x%08X" % (
                        int(update["failure_hresult_code"]) & 0xFFFFFFFF)
                    installed.discard(name)
                elif update.get("installed"):
                    if name in installed:
                        failures[name] = "Windows offered it again after the reboot (it rolled back)"
                    installed.add(name)
                else:
                    failures[name] = "win_updates reported success but did not install it"
                    installed.discard(name)
            if outcome.get("failed") and not by_name:
                failures = dict((n, outcome.get("msg") or "win_updates failed") for n in remaining - installed)
            if not reboot or attempt == max_passes or not (failures or reboot_required):
                break
            self.reboot()
            rebooted, reboot_required = True, False
            remaining = set(failures) | (installed & remaining)
        return installed - set(failures), failures, vanished - installed, reboot_required, rebooted

    def reboot(self) -> dict[str, Any]:
        args = {"reboot_timeout": int(self.options.get("reboot_timeout") or 3600)}
        result = self._call("ansible.windows.win_reboot", args)
        if result.get("unreachable"):
            raise HostUnreachable("Failed to reboot between update passes: the host is unreachable (%s)" % result.get("msg"))
        if result.get("failed"):
            raise PatchError("Failed to reboot between update passes: %s" % result.get("msg"))
        return result

    # rollback

    def rollback(self, journal_id: str | None = "latest", keep_permanent: bool = False) -> dict[str, Any]:
        journal = self.files.load_journal(journal_id)
        if journal.get("pkg_mgr") != wu.PKG_MGR:
            raise PatchError("Refusing to roll back journal %s: it was written by %s, this host is Windows"
                             % (journal["id"], journal.get("pkg_mgr")))
        added = sorted(n for n, v in journal["before"].items() if v is None)
        applied = set(c["name"] for c in journal.get("changes") or [])
        if journal.get("status") in ("applied", "failed"):
            added = [n for n in added if n in applied]      # what never installed needs no removal
        permanent = dict((n, "Windows cannot uninstall it") for n in added
                         if (journal.get("uninstallable") or {}).get(n) is False)
        for entry in journal.get("plan") or []:
            reason = wu.permanent_reason(entry)
            if entry["name"] in permanent and reason:
                permanent[entry["name"]] = reason
        result = {"journal": journal["id"], "journal_status": journal.get("status"), "restore": {},
                  "remove": [n for n in added if n not in permanent], "kept": sorted(permanent),
                  "changes": [], "changed": False, "reboot_required": False}
        if permanent and not keep_permanent:
            raise PatchError("Refusing to roll back journal %s: Windows cannot uninstall %s; nothing was changed "
                             "(keep_permanent leaves them and removes the rest)"
                             % (journal["id"], "; ".join("%s (%s)" % (n, permanent[n]) for n in sorted(permanent))))
        result["changed"] = bool(result["remove"])
        result["diff"] = {"before": "".join("%s installed\n" % n for n in result["remove"]), "after": ""}
        if self.check_mode:
            return result
        for name in result["remove"]:
            outcome = self._call("ansible.windows.win_hotfix", {"hotfix_kb": name, "state": "absent"})
            if outcome.get("unreachable"):
                raise HostUnreachable("Failed to uninstall %s: the host is unreachable (%s)" % (name, outcome.get("msg")))
            if outcome.get("failed"):
                error = PatchError("Failed to roll back journal %s: Windows refused to uninstall %s (%s); removed before "
                                   "the refusal: %s" % (journal["id"], name, outcome.get("msg"),
                                                        ", ".join(c["name"] for c in result["changes"]) or "none"))
                error.changes = result["changes"]
                raise error
            if outcome.get("changed"):
                result["changes"].append({"name": name, "before": journal["targets"].get(name, name), "after": None})
            result["reboot_required"] = result["reboot_required"] or bool(outcome.get("reboot_required"))
        result["changed"] = bool(result["changes"])
        self.files.update_journal(journal, status="rolled_back", rolled_back_at=utc_stamp())
        return result


def manifest_targets(manifest: dict[str, str] | None, offered: dict[str, dict[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """The manifest's KBs this host is offered: those and nothing else."""
    targets, skipped = {}, {}
    for name, version in sorted((manifest or {}).items()):
        if name not in offered:
            skipped[name] = "not offered here (installed, superseded or not applicable)"
        elif str(version) != offered[name]["available_version"]:
            skipped[name] = "offered as %s, the manifest says %s" % (offered[name]["available_version"], version)
        else:
            targets[name] = str(version)
    return targets, skipped
