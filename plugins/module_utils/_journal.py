# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

The rollback journal: written on the host before anything changes (every package the change
may touch, at its installed version, and the plan), completed with the outcome, marked when
rolled back. One JSON file per apply under <state_dir>/journal/, each write atomic, root-only,
so an interrupted run still leaves what rollback needs.

A journal the patch role writes also records its cycle: apply -> reboot -> health check. It is
written with cycle "open" and closed (completed) only after the health check, or by rollback.
A later run finds every journal whose cycle is still open (the controller was killed, SIGTERM
from AWX, the connection lost, the package manager killed) with pending() and finishes it before
anything else (_apply.apply); docs/reliability.md lists the faults this covers.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import uuid

from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError
from ansible_collections.fleetpatch.patching.plugins.module_utils._files import private_directory, write_private_file
from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import utc_stamp

FORMAT_VERSION = 1
ID_TIME_FORMAT = "%Y%m%dT%H%M%SZ"       # a journal id starts with its creation time (UTC): ids sort by creation
# applying: written before the install, still so if the run died during it; applied / failed: the
# install ended; rolled_back: restored; completed: applied, rebooted if needed and healthy;
# superseded: a later run took its packages over (its "before" versions live on in that run's journal).
STATUSES = ("applying", "applied", "failed", "rolled_back", "completed", "superseded")
# A cycle is "open" while a journal's change has not been confirmed healthy or rolled back.
CYCLE_OPEN, CYCLE_CLOSED = "open", "closed"
FINISHED = ("rolled_back", "completed", "superseded")


def _dir(state_dir):
    return os.path.join(state_dir, "journal")


def now_iso():
    """created, updated, rolled_back_at, completed_at: _vocabulary.utc_stamp()."""
    return utc_stamp()


def new_id(existing=(), now=None):
    """Unique across hosts and runs, and sorting after every id in existing (this host's journal
    file names): "latest" and the oldest-first order must follow the order journals were written
    even when the host's clock went back between two runs (an NTP step, a VM restored from a
    snapshot), so the time part is then one second after the newest existing id's, not the clock's."""
    stamp = (now or datetime.datetime.now(datetime.timezone.utc)).replace(microsecond=0, tzinfo=None)
    for name in existing:
        try:
            previous = datetime.datetime.strptime(name.split("-", 1)[0], ID_TIME_FORMAT)
        except ValueError:
            continue        # not an id fleetpatch wrote
        stamp = max(stamp, previous + datetime.timedelta(seconds=1))
    return stamp.strftime(ID_TIME_FORMAT) + "-" + uuid.uuid4().hex[:8]


def _names(directory):
    """The journal file names in directory, oldest first (none when it does not exist)."""
    try:
        return sorted(n for n in os.listdir(directory) if n.endswith(".json") and not n.startswith("."))
    except (IOError, OSError):
        return []


def write(state_dir, journal):
    directory = _dir(state_dir)
    try:
        private_directory(directory)
        write_private_file(os.path.join(directory, journal["id"] + ".json"), json.dumps(journal, indent=1, sort_keys=True))
    except (IOError, OSError) as exc:
        raise PatchError("Failed to write the rollback journal in %s: %s" % (directory, exc))
    return journal


def create(state_dir, pkg_mgr, before, plan, targets, run_id=None, cycle=False, resumes=None, rollback_files=None,
           rollback_gaps=None, snapshot=None):
    """Record, before any change, the installed version of every package the plan may touch
    (None: not installed) and what is about to be done. cycle: the caller confirms the change
    later (patch role: reboot and health check); until then the journal's cycle stays open.
    resumes: the ids of the open journals this one takes over. rollback_files / rollback_gaps:
    the package files secured for the versions in before, and why some could not be
    (_rollback_cache). snapshot: {id, command, taken_at} of the snapshot hook (_snapshot)."""
    journal = {
        "format": FORMAT_VERSION, "id": new_id(_names(_dir(state_dir))), "pkg_mgr": pkg_mgr, "run_id": run_id,
        "created": now_iso(), "updated": now_iso(), "status": "applying",
        "before": before, "plan": plan, "targets": targets,
        "changes": [], "rc": None, "stderr": None, "rolled_back_at": None,
        "cycle": CYCLE_OPEN if cycle else CYCLE_CLOSED, "resumes": list(resumes or []),
        "rollback_files": dict(rollback_files or {}), "rollback_gaps": dict(rollback_gaps or {}),
        "snapshot": snapshot,
    }
    return write(state_dir, journal)


def is_open(journal):
    """Whether a journal's change still waits to be finished: its install was interrupted
    (applying, whoever ran it), or its cycle was never confirmed nor rolled back."""
    if journal.get("status") in FINISHED:
        return False
    return journal.get("status") == "applying" or journal.get("cycle") == CYCLE_OPEN


def load_all(state_dir):
    """Every journal, oldest first. An unreadable one fails, naming it: fleetpatch cannot tell then
    whether an earlier run was interrupted."""
    directory = _dir(state_dir)
    journals, unreadable = [], []
    for name in _names(directory):
        try:
            with open(os.path.join(directory, name)) as f:
                journals.append(json.load(f))
        except (IOError, OSError, ValueError) as exc:
            unreadable.append("%s: %s" % (name, exc))
    if unreadable:
        raise PatchError("Failed to read rollback journals in %s (%s): fleetpatch cannot tell whether an earlier "
                         "run was interrupted; move the damaged file aside after checking the host"
                         % (directory, "; ".join(unreadable)))
    return journals


def pending(state_dir):
    """The journals whose change is unfinished (is_open), oldest first."""
    return [j for j in load_all(state_dir) if is_open(j)]


def confirm(state_dir, journal_id):
    """Close a journal's cycle: the change was applied, rebooted as needed and found healthy."""
    journal = load(state_dir, journal_id)
    if journal.get("status") in FINISHED:
        return journal
    return update(state_dir, journal, status="completed", cycle=CYCLE_CLOSED, completed_at=now_iso())


def update(state_dir, journal, **fields):
    journal = dict(journal)
    journal.update(fields)
    journal["updated"] = now_iso()
    return write(state_dir, journal)


def load(state_dir, journal_id="latest"):
    """A journal by id, or the newest one."""
    directory = _dir(state_dir)
    names = _names(directory)
    if journal_id in (None, "", "latest"):
        if not names:
            raise PatchError("Failed to find a rollback journal: %s holds none" % directory)
        name = names[-1]
    else:
        name = journal_id + ".json"
        if name not in names:
            raise PatchError("Failed to find rollback journal %s in %s (have: %s)"
                             % (journal_id, directory, ", ".join(n[:-5] for n in names[-5:]) or "none"))
    try:
        with open(os.path.join(directory, name)) as f:
            return json.load(f)
    except (IOError, OSError, ValueError) as exc:
        raise PatchError("Failed to read rollback journal %s: %s" % (name, exc))
