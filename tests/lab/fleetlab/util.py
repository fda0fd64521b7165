"""Small helpers shared by the lab modules: running commands, writing files, logging."""
import os
import subprocess
import sys


class LabError(Exception):
    """A lab operation failed; the message says what and why (no traceback for users)."""


def log(message):
    sys.stderr.write("lab: %s\n" % message)
    sys.stderr.flush()


def run(argv, check=True, **kwargs):
    """Run argv (a list, never a shell string); on failure raise LabError naming the command."""
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
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
