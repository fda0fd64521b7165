"""Waiting for package-manager locks: a real fcntl lock held by another process, a pid file."""
import os
import subprocess
import sys
import time

import pytest
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError
from ansible_collections.fleetpatch.patching.plugins.module_utils._locks import (
    fcntl_lock_holder, pidfile_lock_holder, wait_for_locks)

HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.lockf(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


@pytest.fixture
def held_lock(tmp_path):
    path = str(tmp_path / "lock-frontend")
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, path, "30"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    yield path, proc
    proc.kill()
    proc.wait()


def test_free_lock_file_is_free(tmp_path):
    path = tmp_path / "lock"
    path.write_text("")
    assert fcntl_lock_holder(str(path)) is None
    assert fcntl_lock_holder(str(tmp_path / "missing")) is None


def test_held_lock_names_its_holder(held_lock):
    path, proc = held_lock
    holder = fcntl_lock_holder(path)
    assert holder.startswith("pid %d (" % proc.pid)
    started = time.time()
    with pytest.raises(PatchError, match="Failed to acquire the apt lock: .*lock-frontend is held by pid %d" % proc.pid):
        wait_for_locks([(path, "fcntl")], 1, "apt", sleep=0.2)
    assert 0.9 <= time.time() - started < 10


def test_lock_released_while_waiting(tmp_path):
    path = str(tmp_path / "lock")
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, path, "1"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    wait_for_locks([(path, "fcntl")], 20, "apt", sleep=0.1)
    proc.wait()


def test_pidfile_of_a_live_process(tmp_path):
    pidfile = tmp_path / "zypp.pid"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        pidfile.write_text("%d\n" % proc.pid)
        assert pidfile_lock_holder(str(pidfile)).startswith("pid %d" % proc.pid)
    finally:
        proc.kill()
        proc.wait()
    assert pidfile_lock_holder(str(pidfile)) is None        # stale: the process is gone
    pidfile.write_text("%d\n" % os.getpid())
    assert pidfile_lock_holder(str(pidfile)) is None        # ourselves
