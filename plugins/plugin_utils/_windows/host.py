# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

fleetpatch's files on a Windows host (first-seen dates, rollback journals), kept on the host as on
Linux - they must outlive the controller and AWX's throw-away execution environments - and read and
written only through ansible.windows modules (slurp, win_find, win_file, win_copy).
`call(module_name, args)` runs one module on the host and returns its result.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Callable

from ansible_collections.fleetpatch.patching.plugins.module_utils import _first_seen, _journal
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError

# Runs one ansible.windows module (or its action plugin) on the host: (module name, its arguments) -> its result.
ModuleCall = Callable[[str, dict[str, Any]], dict[str, Any]]

DEFAULT_STATE_DIR = "C:\\ProgramData\\fleetpatch"


def _join(*parts):
    return "\\".join(p.rstrip("\\/") for p in parts)


class WindowsHostFiles(object):

    def __init__(self, call: ModuleCall, state_dir: str | None = None) -> None:
        self._call = call
        self.state_dir = (state_dir or DEFAULT_STATE_DIR).rstrip("\\/")
        self.journal_dir = _join(self.state_dir, "journal")

    def read_json(self, path: str) -> Any:
        """The file's JSON, or None when it does not exist."""
        result = self._call("ansible.windows.slurp", {"src": path})
        if result.get("failed"):
            if "not exist" in str(result.get("msg", "")).lower() or "not found" in str(result.get("msg", "")).lower():
                return None
            raise PatchError("Failed to read %s: %s" % (path, result.get("msg")))
        try:
            return json.loads(base64.b64decode(result["content"]).decode("utf-8"))
        except (KeyError, ValueError, TypeError) as exc:
            raise PatchError("Failed to read %s: not fleetpatch JSON (%s)" % (path, exc))

    def write_json(self, directory: str, name: str, data: Any) -> str:
        path = _join(directory, name)
        for module, args in (("ansible.windows.win_file", {"path": directory, "state": "directory"}),
                             ("ansible.windows.win_copy", {"dest": path, "content": json.dumps(data, indent=1, sort_keys=True)})):
            result = self._call(module, args)
            if result.get("failed") or result.get("unreachable"):
                raise PatchError("Failed to write %s: %s" % (path, result.get("msg")))
        return path

    # first-seen dates: the same file format and keys as on Linux

    def annotate_first_seen(self, updates: list[dict[str, Any]], today: str, check_mode: bool) -> None:
        path = _join(self.state_dir, _first_seen.FILE_NAME)
        data = self.read_json(path) or {}
        seen = data.get("seen") if isinstance(data.get("seen"), dict) else {}
        current = {}
        for update in updates:
            key = _first_seen._key(update)
            current[key] = seen.get(key) or today
            update["first_seen"] = current[key]
        if current != seen and not check_mode:
            self.write_json(self.state_dir, _first_seen.FILE_NAME, {"format": _first_seen.FORMAT_VERSION, "seen": current})

    # rollback journals: the Linux journal's format, pkg_mgr "windows", one file per apply

    def create_journal(self, before: dict[str, str | None], plan: list[dict[str, Any]], targets: dict[str, str],
                       run_id: str | None = None, uninstallable: dict[str, bool] | None = None) -> dict[str, Any]:
        journal = {
            "format": _journal.FORMAT_VERSION, "id": _journal.new_id(), "pkg_mgr": "windows", "run_id": run_id,
            "created": _journal.now_iso(), "updated": _journal.now_iso(), "status": "applying",
            "before": before, "plan": plan, "targets": targets, "uninstallable": uninstallable or {},
            "changes": [], "rc": None, "stderr": None, "rolled_back_at": None,
        }
        self.write_json(self.journal_dir, journal["id"] + ".json", journal)
        return journal

    def update_journal(self, journal: dict[str, Any], **fields: Any) -> dict[str, Any]:
        journal = dict(journal)
        journal.update(fields)
        journal["updated"] = _journal.now_iso()
        self.write_json(self.journal_dir, journal["id"] + ".json", journal)
        return journal

    def load_journal(self, journal_id: str | None = "latest") -> dict[str, Any]:
        if journal_id in (None, "", "latest"):
            found = self._call("ansible.windows.win_find", {"paths": self.journal_dir, "patterns": ["*.json"]})
            if found.get("failed"):
                raise PatchError("Failed to list the rollback journals in %s: %s" % (self.journal_dir, found.get("msg")))
            names = sorted(f.get("filename") for f in found.get("files") or [] if f.get("filename"))
            if not names:
                raise PatchError("Failed to find a rollback journal: %s holds none" % self.journal_dir)
            journal_id = names[-1][:-5]
        journal = self.read_json(_join(self.journal_dir, journal_id + ".json"))
        if journal is None:
            raise PatchError("Failed to find rollback journal %s in %s" % (journal_id, self.journal_dir))
        return journal
