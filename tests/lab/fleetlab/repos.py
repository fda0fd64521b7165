"""The lab's package repositories: every wave built once, one of them served on 127.0.0.1.

`stage` only moves the `current` symlink, so switching waves is instant and atomic for the
hosts (each HTTP request resolves the link afresh).
"""
import email.utils
import glob
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time

from . import advisories, catalog, config, debs, rpms
from .util import LabError, pid_alive, read_pid, write

CURRENT = os.path.join(config.REPOS_DIR, "current")
SOURCES_STAMP = os.path.join(config.REPOS_DIR, ".sources")


def sources_digest():
    """Rebuild when the catalog or a builder changes."""
    h = hashlib.sha256()
    for name in ("catalog.py", "payload.py", "debs.py", "rpms.py"):
        with open(os.path.join(os.path.dirname(__file__), name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def ensure_built():
    digest = sources_digest()
    try:
        with open(SOURCES_STAMP) as f:
            if f.read().strip() == digest:
                return False
    except OSError:
        pass
    for stale in glob.glob(os.path.join(config.REPOS_DIR, "wave-*" + LATEST_SUFFIX)):
        shutil.rmtree(stale)        # built from the old sources: ensure_latest_only builds them again
    for number, _name in enumerate(catalog.WAVES):
        dest = os.path.join(config.REPOS_DIR, _wave_dir_name(number))
        tmp = dest + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        versions = catalog.versions_up_to(number)
        debs.build_repositories(versions, os.path.join(tmp, "apt"))
        rpms.build_repository(versions, os.path.join(tmp, "rpm"))
        shutil.rmtree(dest, ignore_errors=True)
        os.rename(tmp, dest)
    write(SOURCES_STAMP, digest + "\n")
    if not os.path.lexists(CURRENT):
        stage(0)
    return True


LATEST_SUFFIX = "-latest"


def _wave_dir_name(number, latest_only=False):
    return "wave-%d%s" % (number, LATEST_SUFFIX if latest_only else "")


def current_wave():
    try:
        return int(re.match(r"^wave-(\d+)", os.readlink(CURRENT)).group(1))
    except (OSError, AttributeError):
        return None


def current_is_latest_only():
    try:
        return os.readlink(CURRENT).endswith(LATEST_SUFFIX)
    except OSError:
        return False


def ensure_latest_only(number):
    """The wave with only the newest version of each package, built on first use (seconds)."""
    dest = os.path.join(config.REPOS_DIR, _wave_dir_name(number, latest_only=True))
    if os.path.isdir(dest):
        return
    tmp = dest + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    versions = catalog.latest_only(catalog.versions_up_to(number))
    debs.build_repositories(versions, os.path.join(tmp, "apt"))
    rpms.build_repository(versions, os.path.join(tmp, "rpm"))
    os.rename(tmp, dest)


STAGED_AT = os.path.join(config.REPOS_DIR, ".staged-at")


def _publication_time():
    """Now, but always a later whole second than the previous staging: If-Modified-Since has
    one-second resolution, and two stagings within a second would look like one to apt."""
    now = float(int(time.time()))
    try:
        with open(STAGED_AT) as f:
            now = max(now, float(f.read().strip()) + 1)
    except (OSError, ValueError):
        pass
    write(STAGED_AT, "%d\n" % now)
    return now


def stage(number, latest_only=False):
    # A real archive re-signs its Release files when it publishes; do the equivalent and date the
    # staged wave now, twice over: apt ignores a Release whose Date is older than the one it has
    # (so going back to an earlier wave would be invisible), and hosts ask with
    # If-Modified-Since, which http.server answers by file time in whole seconds.
    now = _publication_time()
    if latest_only:
        ensure_latest_only(number)
    wave_dir = os.path.join(config.REPOS_DIR, _wave_dir_name(number, latest_only))
    # the security data of every advisory published up to this wave (a tracker keeps its history
    # when the archive drops superseded versions): apt hosts' advisory_feed
    advisories.write_feed(catalog.versions_up_to(number), wave_dir)
    for release in glob.glob(os.path.join(wave_dir, "apt", "*", "dists", "*", "Release")):
        with open(release) as f:
            text = f.read()
        text = re.sub(r"(?m)^Date: .*$", "Date: " + email.utils.formatdate(now, usegmt=True), text)
        with open(release, "w") as f:
            f.write(text)
    for folder, _dirs, files in os.walk(wave_dir):
        for name in files:
            os.utime(os.path.join(folder, name), (now, now))
    link_tmp = CURRENT + ".tmp"
    if os.path.lexists(link_tmp):
        os.unlink(link_tmp)
    os.symlink(_wave_dir_name(number, latest_only), link_tmp)
    os.replace(link_tmp, CURRENT)


def server_running():
    return pid_alive(read_pid(config.SERVER_PID))


def start_server():
    if server_running():
        return
    if _listening("127.0.0.1", config.PORT):
        raise LabError("127.0.0.1:%d is already in use (another lab from another checkout?); stop it, or "
                       "set FLEETLAB_PORT, FLEETLAB_NET/FLEETLAB_FIRST for this one" % config.PORT)
    log = open(config.SERVER_LOG, "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", CURRENT, str(config.PORT)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    deadline = time.time() + 10
    while time.time() < deadline:
        if proc.poll() is not None:
            with open(config.SERVER_LOG) as f:
                tail = f.read()[-500:]
            raise LabError("the repository server on 127.0.0.1:%d exited at start (port in use? set "
                           "FLEETLAB_PORT): %s" % (config.PORT, tail.strip()))
        try:
            socket.create_connection(("127.0.0.1", config.PORT), timeout=1).close()
            write(config.SERVER_PID, "%d\n" % proc.pid)
            return
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise LabError("the repository server did not listen on 127.0.0.1:%d within 10s" % config.PORT)


def _listening(address, port):
    try:
        socket.create_connection((address, port), timeout=1).close()
        return True
    except OSError:
        return False


def stop_server():
    pid = read_pid(config.SERVER_PID)
    if pid_alive(pid):
        os.kill(pid, 15)
        deadline = time.time() + 5
        while pid_alive(pid) and time.time() < deadline:
            time.sleep(0.05)
        if pid_alive(pid):
            os.kill(pid, 9)
    if os.path.exists(config.SERVER_PID):
        os.unlink(config.SERVER_PID)
