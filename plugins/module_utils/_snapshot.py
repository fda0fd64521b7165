# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

Snapshot hooks: a command of the operator's, run on the host right before patch_apply changes
anything (snapper on btrfs, an LVM thin snapshot) and after patch_rollback restored the packages
(to roll the snapshot back, drop it, or restore what packages do not cover). fleetpatch requires
no snapshot tool and always restores packages itself; the hook is an addition.

The command gets, in its environment:
  before the change:   FLEETPATCH_RUN_ID, FLEETPATCH_PACKAGES (the names the change touches)
  after a rollback:    FLEETPATCH_SNAPSHOT_ID (empty when the change took none), FLEETPATCH_JOURNAL_ID
The last line the command prints before the change is the snapshot's id; the journal keeps it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError

ID_MAX_CHARS = 200


def _run(runner, command, action, env):
    _rc, out, _err = runner.run(command, action, env=env)
    lines = [line.strip() for line in (out or "").splitlines() if line.strip()]
    return lines[-1][:ID_MAX_CHARS] if lines else ""


def take(runner, command, run_id, packages, now):
    """Run the snapshot command before the change; its last output line is the snapshot id. A
    command that fails or prints nothing stops the apply before any change."""
    action = "take a snapshot before the change (snapshot_command)"
    snapshot_id = _run(runner, command, action, {"FLEETPATCH_RUN_ID": run_id or "",
                                                 "FLEETPATCH_PACKAGES": " ".join(sorted(packages))})
    if not snapshot_id:
        raise PatchError("Failed to %s: %s printed no snapshot id (its last line of output is the id); nothing was "
                         "changed" % (action, " ".join(command)), cmd=command)
    return {"id": snapshot_id, "command": list(command), "taken_at": now}


def after_rollback(runner, command, journal):
    """Run the rollback's snapshot command once the packages are restored; returns its last line."""
    snapshot = journal.get("snapshot") or {}
    return _run(runner, command, "run the snapshot command after the rollback (snapshot_command)",
                {"FLEETPATCH_SNAPSHOT_ID": snapshot.get("id") or "", "FLEETPATCH_JOURNAL_ID": journal["id"]})
