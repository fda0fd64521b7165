"""Small helpers shared by the lab modules: running commands, writing files, logging."""
import os
import signal
import subprocess
import sys
import time


class LabError(Exception):
    """A lab operation failed; the message says what and why (no traceback for users)."""


def log(message):
    sys.stderr.write("lab: %s\n" % message)
    sys.stderr.flush()


def run(argv, check=True, **kwargs):
    """Run argv (a list, never a shell string); on failure raise LabError naming the command."""
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    if "input" not in kwargs:
        kwargs.setdefault("stdin", subprocess.DEVNULL)     # never the caller's (see hosts.ssh)
    proc = subprocess.run(argv, check=False, **kwargs)
    if check and proc.returncode != 0:
        err = (proc.stderr or "").strip() if kwargs.get("capture_output") else ""
        raise LabError("command failed (rc=%d): %s\n%s" % (proc.returncode, " ".join(argv), err[-2000:]))
    return proc


def write(path, text, mode=0o644):
    """Write atomically (temp file + rename), creating parent directories."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def pid_alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive for our purposes
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def mounted(path):
    path = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f)


def guest_processes(state_dir, spare=None):
    """[(pid, command name)] of the processes in a mount namespace other than ours whose mounts
    reference state_dir (and not `spare`, a directory under it): the lab's guests (their init and
    everything under it). A guest whose systemd-nspawn was killed lives on in its own PID and mount
    namespaces, invisible to pid files and to our mount table."""
    ours = os.readlink("/proc/self/ns/mnt")
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink("/proc/%s/ns/mnt" % pid) == ours:
                continue
            with open("/proc/%s/mountinfo" % pid) as f:
                mounts = f.read()
            if state_dir not in mounts or (spare and spare + "/" in mounts):
                continue
            with open("/proc/%s/comm" % pid) as f:
                found.append((int(pid), f.read().strip()))
        except OSError:        # gone meanwhile, or a kernel thread
            continue
    return found


def end_guest_processes(state_dir, timeout=10, spare=None):
    """SIGKILL every guest process (guest_processes); wait until they are gone. Returns what is
    still there after the timeout."""
    for pid, _name in guest_processes(state_dir, spare):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.time() + timeout
    left = guest_processes(state_dir, spare)
    while left and time.time() < deadline:
        time.sleep(0.2)
        left = guest_processes(state_dir, spare)
    return left
