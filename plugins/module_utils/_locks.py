# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

Waiting for a package manager's lock with a bounded timeout, and naming who holds it.

apt/dpkg and rpm take fcntl locks on files; zypper writes its pid to /run/zypp.pid. We test a
lock the way its owner takes it (a non-blocking lock we release at once), so a stale lock file
left by a dead process is not mistaken for a held lock.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import os
import time

from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError


def _process_name(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        return cmdline or "?"
    except (IOError, OSError):
        return "?"


def _fcntl_holder(path):
    """The pid holding a POSIX lock on path, from /proc/locks, or None."""
    try:
        st = os.stat(path)
        with open("/proc/locks") as f:
            lines = f.readlines()
    except (IOError, OSError):
        return None
    inode = str(st.st_ino)
    for line in lines:
        # e.g. "1: POSIX  ADVISORY  WRITE 1234 fd:01:393422 0 EOF" (device major:minor:inode);
        # match on the inode: on overlay filesystems the device shown is not the one stat gives.
        fields = line.split()
        if len(fields) >= 6 and fields[1] in ("POSIX", "OFDLCK", "FLOCK") and fields[5].split(":")[-1] == inode:
            try:
                return int(fields[4])
            except ValueError:
                return None
    return None


def fcntl_lock_holder(path):
    """None if the lock on path is free, else a description of the holder."""
    try:
        fd = os.open(path, os.O_RDWR)
    except (IOError, OSError) as exc:
        if exc.errno in (errno.ENOENT, errno.EACCES, errno.EROFS):
            return None   # no lock file yet, or not ours to test: the tool will say
        raise
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (IOError, OSError) as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN):
                raise
            pid = _fcntl_holder(path)
            if pid:
                return "pid %d (%s)" % (pid, _process_name(pid))
            return "another process"
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def pidfile_lock_holder(path):
    """zypper style: the lock is held while the pid in the file is alive."""
    try:
        with open(path) as f:
            pid = int(f.read().split()[0])
    except (IOError, OSError, ValueError, IndexError):
        return None
    if pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            return None
    return "pid %d (%s)" % (pid, _process_name(pid))


def wait_for_locks(locks, timeout, manager, sleep=1.0, clock=time.time):
    """locks: [(path, kind)] with kind "fcntl" or "pidfile". Wait until none is held, up to
    timeout seconds, then fail naming the lock and its holder."""
    deadline = clock() + max(0, timeout)
    while True:
        held = None
        for path, kind in locks:
            holder = fcntl_lock_holder(path) if kind == "fcntl" else pidfile_lock_holder(path)
            if holder:
                held = (path, holder)
                break
        if held is None:
            return
        if clock() >= deadline:
            raise PatchError("Failed to acquire the %s lock: %s is held by %s after waiting %ds "
                             "(raise lock_timeout, or find out why it runs)" % (manager, held[0], held[1], timeout))
        time.sleep(sleep)
