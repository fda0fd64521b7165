# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

The per-host run lock: one patch cycle (apply -> reboot -> health check) at a time on a host.
Package-manager locks last one command; a cycle spans several module calls and a reboot, so two
rollouts against the same hosts would otherwise interleave (one reboots a host under the
other). The lock is a JSON file in the state dir naming its owner (the run's token), the
controller, the controller's process, the start time and the host's boot id and time since boot
(the age of a lock is measured on that clock while the host has not rebooted, so a host whose
wall clock jumps never makes a live run's lock look stale). The same owner takes it again (a
re-entrant cycle, the next ring of the same run); another owner is refused until the lock is
older than its time to live (the owning controller was killed: it never released it), then
replaced, and the replacement says whose stale lock it took over.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import fcntl
import json
import os
import time

from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError
from ansible_collections.fleetpatch.patching.plugins.module_utils._files import private_directory, write_private_file
from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import parse_utc_stamp, utc_stamp

LOCK_FILE = "run.lock"
GUARD_FILE = ".run.lock.guard"      # held while a lock is read and replaced, so two runs never both win


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def boot_clock():
    """(boot id, seconds since boot): a clock no wall-clock step moves, valid within one boot."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot_id = f.read().strip()
        return boot_id, round(time.clock_gettime(time.CLOCK_BOOTTIME), 3)
    except (IOError, OSError, AttributeError, ValueError):
        return None, None


def _read(path):
    try:
        with open(path) as f:
            lock = json.load(f)
    except (IOError, OSError):
        return None
    except ValueError:
        return {"owner": None, "damaged": True}     # a torn write: nobody can prove they own it
    return lock if isinstance(lock, dict) else {"owner": None, "damaged": True}


def age_seconds(lock, now=None, boot=None):
    """Seconds since the lock was taken or refreshed: on the boot clock when the host has not
    rebooted since (boot: (boot id, seconds since boot) now), else on the wall clock."""
    boot_id, since_boot = boot or boot_clock()
    if boot_id and lock.get("boot_id") == boot_id and isinstance(lock.get("since_boot"), (int, float)):
        return since_boot - lock["since_boot"]
    try:
        started = parse_utc_stamp(lock.get("refreshed") or lock["started"])
    except (KeyError, TypeError, ValueError):
        return None
    return ((now or _now()) - started.replace(tzinfo=datetime.timezone.utc)).total_seconds()


def describe(lock):
    return "run %s from %s (pid %s), started %s" % (lock.get("owner"), lock.get("controller") or "an unknown controller",
                                                    lock.get("pid") or "?", lock.get("started") or "at an unknown time")


class _Guard(object):
    def __init__(self, state_dir):
        self.path = os.path.join(state_dir, GUARD_FILE)

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def acquire(state_dir, owner, controller=None, pid=None, ttl=3600, check_mode=False, now=None, take_over=None,
            boot=None):
    """Take the host's run lock for owner. Returns (lock, replaced): replaced is the stale lock
    taken over, or None. Raises PatchError naming the holder (exc.held) when another live run has
    it. take_over: the owner of a lock the caller proved dead (its controller process is gone)."""
    if not owner:
        raise PatchError("Failed to take the run lock: no run token given")
    now = now or _now()
    boot = boot or boot_clock()
    path = os.path.join(state_dir, LOCK_FILE)
    try:
        private_directory(state_dir)
        with _Guard(state_dir):
            held = _read(path)
            replaced = None
            if held and held.get("owner") != owner:
                age = age_seconds(held, now, boot)
                alive = age is not None and age < ttl and not held.get("damaged")
                if alive and not (take_over and held.get("owner") == take_over):
                    error = PatchError("Another fleetpatch run holds this host: %s, refreshed %d s ago (stale after "
                                       "%d s); this run leaves the host alone. If that run is dead, wait or remove %s"
                                       % (describe(held), age, ttl, path))
                    error.held = held
                    raise error
                replaced = held
            lock = dict(held) if held and held.get("owner") == owner else {
                "owner": owner, "controller": controller, "pid": pid, "started": utc_stamp(now)}
            lock["refreshed"] = utc_stamp(now)
            lock["boot_id"], lock["since_boot"] = boot
            if replaced:
                lock["replaced_stale"] = replaced
            if not check_mode:
                write_private_file(path, json.dumps(lock, sort_keys=True))
            return lock, replaced
    except (IOError, OSError) as exc:
        raise PatchError("Failed to take the run lock %s: %s" % (path, exc))


def release(state_dir, owner, check_mode=False):
    """Drop the lock if owner holds it. Returns the lock found (None: there was none)."""
    path = os.path.join(state_dir, LOCK_FILE)
    if not os.path.isdir(state_dir):
        return None
    try:
        with _Guard(state_dir):
            held = _read(path)
            if held and held.get("owner") == owner and not check_mode:
                os.unlink(path)
            return held
    except (IOError, OSError) as exc:
        raise PatchError("Failed to release the run lock %s: %s" % (path, exc))
