"""The lab's command line: clear errors on bad usage, status, and a `down` that leaves no
process, mount or listening socket behind (then `up` brings the same hosts back)."""
import os
import signal
import socket
import time

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


def lab_guests():
    """Processes in another mount namespace whose mounts reference the lab's state directory: a
    guest init that outlived its systemd-nspawn (issue 14) is invisible to lab_processes."""
    ours = os.readlink("/proc/self/ns/mnt")
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink("/proc/%s/ns/mnt" % pid) != ours:
                with open("/proc/%s/mountinfo" % pid) as f:
                    if config.STATE in f.read():
                        found.append(pid)
        except OSError:
            continue
    return found


def lab_mounts():
    with open("/proc/self/mounts") as f:
        return [line for line in f if config.STATE in line]


def test_down_ends_a_guest_whose_nspawn_was_killed(lab_up):
    """The guest's init lives on in its own PID namespace when systemd-nspawn is SIGKILLed (what
    stop() does after its power-off timeout); lab down must end it all the same."""
    host = config.fleet()[0]
    supervisor = int(open(os.path.join(host.dir, "supervisor.pid")).read())
    nspawn = int(open(os.path.join(host.dir, "nspawn.pid")).read())
    guests_before = set(lab_guests())
    os.kill(supervisor, signal.SIGKILL)       # nothing restarts nspawn
    os.kill(nspawn, signal.SIGKILL)
    time.sleep(1)
    assert set(lab_guests()) & guests_before, "the guest should outlive its nspawn"
    run_lab("down")
    assert lab_guests() == [] and lab_processes() == [] and lab_mounts() == []
    run_lab("up")
    assert run_lab("status").returncode == 0


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
    assert lab_processes() and lab_mounts() and lab_guests(), "the lab should be running before this test"
    run_lab("down")
    assert lab_processes() == []
    assert lab_mounts() == []
    assert lab_guests() == []
    assert not listening("127.0.0.1", config.PORT)
    assert [h.name for h in hosts if listening(h.address, 22)] == []
    assert run_lab("status", check=False).returncode == 3
    run_lab("up")
    assert run_lab("status").returncode == 0
