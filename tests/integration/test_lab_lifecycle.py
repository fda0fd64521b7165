"""The lab's command line: clear errors on bad usage, status, and a `down` that leaves no
process, mount or listening socket behind (then `up` brings the same hosts back)."""
import os
import socket

from conftest import run_lab
from fleetlab import config


def listening(address, port):
    try:
        socket.create_connection((address, port), timeout=1).close()
        return True
    except OSError:
        return False


def lab_processes():
    """Processes whose command line mentions this lab's state directory (nspawn, supervisors)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open("/proc/%s/stat" % pid) as f:
                state = f.read().split(")")[-1].split()[0]
        except OSError:
            continue
        if config.STATE in cmdline and state != "Z":
            found.append("%s %s" % (pid, cmdline))
    return found


def lab_mounts():
    with open("/proc/self/mounts") as f:
        return [line for line in f if config.STATE in line]


def test_usage_errors_are_clear(lab_up):
    no_command = run_lab(check=False)
    assert no_command.returncode == 2 and "a command is required" in no_command.stderr
    bad_wave = run_lab("stage", "tuesday", check=False)
    assert bad_wave.returncode == 1
    assert "unknown wave 'tuesday'" in bad_wave.stderr and "security" in bad_wave.stderr
    bad_host = run_lab("ssh", "nosuchhost", "true", check=False)
    assert bad_host.returncode == 1 and "no lab host 'nosuchhost'" in bad_host.stderr


def test_status_lists_every_host_up(lab_up):
    status = run_lab("status")
    for host in config.fleet():
        line = next(ln for ln in status.stdout.splitlines() if ln.startswith(host.name + " "))
        assert " up " in line, line


def test_down_leaves_nothing_behind_and_up_restores(lab_up):
    hosts = config.fleet()
    assert lab_processes() and lab_mounts(), "the lab should be running before this test"
    run_lab("down")
    assert lab_processes() == []
    assert lab_mounts() == []
    assert not listening("127.0.0.1", config.PORT)
    assert [h.name for h in hosts if listening(h.address, 22)] == []
    assert run_lab("status", check=False).returncode == 3
    run_lab("up")
    assert run_lab("status").returncode == 0
