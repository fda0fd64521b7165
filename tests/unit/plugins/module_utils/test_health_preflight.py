"""health_check's checks against real local services, and preflight's pure checks."""
import datetime
import http.server
import socket
import sys
import threading
import time

import pytest
from ansible_collections.fleetpatch.patching.plugins.module_utils import _health, _preflight
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError


@pytest.fixture
def web():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"app 1.0 ok" if self.path == "/" else b"missing"
            self.send_response(200 if self.path == "/" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_checks_pass_and_fail_with_reasons(web):
    sleeps = []
    results = _health.run_checks([
        {"type": "http", "url": "http://127.0.0.1:%d/" % web, "body_regex": "ok$"},
        {"type": "http", "url": "http://127.0.0.1:%d/health" % web},
        {"type": "port", "port": web},
        {"type": "port", "port": free_port(), "name": "closed port"},
        {"type": "command", "argv": [sys.executable, "-c", "print('PASS')"], "stdout_regex": "PASS"},
        {"type": "command", "argv": [sys.executable, "-c", "import sys; sys.exit(3)"]},
    ], retries=2, delay=0.01, timeout=2, sleep=sleeps.append)
    assert [r["ok"] for r in results] == [True, False, True, False, True, False]
    assert "answered 404 (want 200)" in results[1]["detail"]
    assert results[3]["name"] == "closed port" and results[3]["attempts"] == 2
    assert "exited 3 (want 0)" in results[5]["detail"]
    assert sleeps == [0.01, 0.01, 0.01]       # one pause between the two attempts of each failing check


def test_bad_checks_are_named():
    assert _health.validate([{"type": "ping"}, {"type": "http"}]) == [
        "check 0: type must be one of service, port, http, command, got 'ping'", "check 1 (http): url is required"]


def test_unknown_keys_and_bad_timeouts_are_refused():
    """A misspelt key was silently ignored: a check written to take minutes ran under the module's 5 s."""
    assert _health.validate([
        {"type": "command", "argv": ["true"], "timout": 300},
        {"type": "port", "port": 22, "timeout": "soon"},
        {"type": "command", "argv": "systemctl is-active nginx"},
        "port 22",
    ]) == [
        "check 0 (command): unknown key timout; a command check takes type, name, timeout, argv, rc, stdout_regex",
        "check 1 (port): timeout must be a number of seconds above 0, got 'soon'",
        "check 2 (command): argv must be a list (never a shell string), got 'systemctl is-active nginx'",
        "check 3: must be a dict, got 'port 22'",
    ]
    assert _health.validate([{"type": "http", "url": "http://x/", "timeout": 30, "name": "app"}]) == []


def gone(pid, within):
    """Whether the process has ended (a zombie waiting for init to reap it counts) within the seconds."""
    deadline = time.time() + within
    while time.time() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as stat:
                if stat.read().split(") ")[1].startswith("Z"):
                    return True
        except OSError:
            return True
        time.sleep(0.1)
    return False


def test_a_check_s_own_timeout_wins_and_a_timeout_ends_the_whole_command(tmp_path):
    """The per-check timeout bounds the attempt (not the module's), and a shell's children die with it:
    before, subprocess.run killed only the shell and its sleep ran on after the check had failed."""
    marker = tmp_path / "child.pid"
    slow = {"type": "command", "argv": ["sh", "-c", "sleep 30 & echo $! > %s; wait" % marker], "timeout": 1}
    results = _health.run_checks([slow], retries=1, timeout=60)
    assert not results[0]["ok"] and "timed out after 1s" in results[0]["detail"], results
    assert results[0]["elapsed"] < 10
    child = int(marker.read_text())
    assert gone(child, within=5), "the check's child %d still runs after the timeout" % child
    quick = _health.run_checks([dict(slow, argv=["sh", "-c", "sleep 2"], timeout=10)], retries=1, timeout=1)
    assert quick[0]["ok"], quick


WINDOW = {"days": ["sat", "sun"], "start": "22:00", "end": "04:00", "timezone": "+02:00"}


@pytest.mark.parametrize("utc, status", [
    ("2025-06-07T20:30", "pass"),    # Saturday 22:30 at +02:00
    ("2025-06-08T01:30", "pass"),    # Sunday 03:30
    ("2025-06-09T01:30", "pass"),    # Monday 03:30: Sunday's window runs past midnight
    ("2025-06-09T02:30", "fail"),    # Monday 04:30
    ("2025-06-06T20:30", "fail"),    # Friday 22:30
])
def test_maintenance_window(utc, status):
    now = datetime.datetime.strptime(utc, "%Y-%m-%dT%H:%M").replace(tzinfo=datetime.timezone.utc)
    assert _preflight.check_window(WINDOW, now=now)["status"] == status


def test_window_in_a_named_timezone():
    pytest.importorskip("zoneinfo")
    now = datetime.datetime(2025, 1, 6, 8, 30, tzinfo=datetime.timezone.utc)     # Monday 09:30 in Berlin
    window = {"days": ["mon"], "start": "09:00", "end": "10:00", "timezone": "Europe/Berlin"}
    assert _preflight.check_window(window, now=now)["status"] == "pass"


@pytest.mark.parametrize("window, message", [
    ({"start": "25:00"}, "start must be HH:MM"), ({"days": ["someday"]}, "unknown days someday"),
    ({"timezone": "Mars/Olympus"}, "unknown timezone"),
])
def test_bad_windows_are_named(window, message):
    with pytest.raises(PatchError, match=message):
        _preflight.check_window(window)


def test_unsafe_processes():
    running = {"borg": [42, 7], "sshd": [1]}
    assert _preflight.check_processes(["borg"], running) == {"status": "fail", "reason": "running: borg (pid 7, 42)"}
    assert _preflight.check_processes(["rsync"], running)["status"] == "pass"


def test_disk_thresholds(tmp_path):
    assert _preflight.check_disk({str(tmp_path): 1})["status"] == "pass"
    assert _preflight.check_disk({str(tmp_path): 10 ** 12})["status"] == "fail"
    assert _preflight.check_disk({"/no/such/path": 1})["status"] == "pass"


def test_disk_is_judged_on_the_space_measured_before_the_preflight_wrote_anything(tmp_path):
    """A repository refresh fills the package cache it checks: the free space is read first
    (free_space), the thresholds are applied at the end, when the rollback check knows its room."""
    path = str(tmp_path)
    measured = _preflight.free_space([path, "/no/such/path/at/all"])
    assert measured[path] > 0 and "/no/such/path/at/all" in measured      # read on its nearest parent
    check = _preflight.check_disk({path: 2}, {path: 3})
    assert check["status"] == "pass" and check["free_mb"] == {path: 3}
    check = _preflight.check_disk({path: 5}, {path: 3})
    assert check["status"] == "fail" and check["reason"] == "%s has 3 MB free, needs 5 MB" % path
