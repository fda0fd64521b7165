# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

Health checks run on the host before and after patching: a systemd service, a TCP port, an HTTP
answer, a command. Each is retried, each attempt bounded by a timeout; results are structured.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import socket
import subprocess
import time

from ansible.module_utils.urls import open_url

from ansible_collections.fleetpatch.patching.plugins.module_utils._commands import stop_tree

try:
    from urllib.error import HTTPError, URLError
except ImportError:  # pragma: no cover - Python 2 is not a target
    pass

TYPES = ("service", "port", "http", "command")


def check_service(check, timeout):
    proc = subprocess.run(["systemctl", "is-active", check["service"]], capture_output=True, text=True,
                          timeout=timeout, check=False)
    state = proc.stdout.strip() or proc.stderr.strip()
    wanted = check.get("state") or "active"
    return state == wanted, "service %s is %s (want %s)" % (check["service"], state, wanted)


def check_port(check, timeout):
    host, port = check.get("host") or "127.0.0.1", int(check["port"])
    wanted = check.get("state") or "open"
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        state = "open"
    except (OSError, socket.timeout) as exc:
        state = "closed"
        if wanted == "open":
            return False, "port %s:%d is closed (%s)" % (host, port, exc)
    return state == wanted, "port %s:%d is %s (want %s)" % (host, port, state, wanted)


def check_http(check, timeout):
    wanted = int(check.get("status") or 200)
    try:
        response = open_url(check["url"], method=check.get("method") or "GET", timeout=timeout,
                            validate_certs=check.get("validate_certs", True) is not False)
        status, body = response.status, response.read(65536).decode("utf-8", "replace")
    except HTTPError as exc:
        status, body = exc.code, exc.read(65536).decode("utf-8", "replace")
    except (URLError, OSError, socket.timeout) as exc:
        return False, "%s: no answer (%s)" % (check["url"], getattr(exc, "reason", exc))
    if status != wanted:
        return False, "%s answered %d (want %d)" % (check["url"], status, wanted)
    pattern = check.get("body_regex")
    if pattern and not re.search(pattern, body):
        return False, "%s answered %d but the body does not match %r" % (check["url"], status, pattern)
    return True, "%s answered %d" % (check["url"], status)


def check_command(check, timeout):
    # A timeout ends the whole command (stop_tree, as for a hung transaction): killing only the
    # direct child (what subprocess.run does) leaves a shell's children running after the check "failed".
    try:
        proc = subprocess.Popen(check["argv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True)
    except OSError as exc:
        return False, "%s: %s" % (check["argv"][0], exc)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_tree(proc)
        return False, "%s timed out after %ss" % (" ".join(check["argv"]), timeout)
    wanted = int(check.get("rc") or 0)
    if proc.returncode != wanted:
        return False, "%s exited %d (want %d): %s" % (" ".join(check["argv"]), proc.returncode, wanted,
                                                      (stderr or stdout).strip()[-300:])
    pattern = check.get("stdout_regex")
    if pattern and not re.search(pattern, stdout):
        return False, "%s printed no match for %r" % (" ".join(check["argv"]), pattern)
    return True, "%s exited %d" % (" ".join(check["argv"]), proc.returncode)


CHECKERS = {"service": check_service, "port": check_port, "http": check_http, "command": check_command}
REQUIRED = {"service": "service", "port": "port", "http": "url", "command": "argv"}
# Every key a check may carry: one not listed is a typo (a "timout" silently ignored would leave
# the module's 5 s bound on a check written to take minutes), so it is refused.
COMMON_KEYS = ("type", "name", "timeout")
KEYS = {
    "service": ("service", "state"),
    "port": ("port", "host", "state"),
    "http": ("url", "status", "body_regex", "method", "validate_certs"),
    "command": ("argv", "rc", "stdout_regex"),
}


def validate(checks):
    """A list of problems with the checks as given (empty when they are well formed)."""
    problems = []
    for index, check in enumerate(checks):
        if not isinstance(check, dict):
            problems.append("check %d: must be a dict, got %r" % (index, check))
            continue
        kind = check.get("type")
        if kind not in CHECKERS:
            problems.append("check %d: type must be one of %s, got %r" % (index, ", ".join(TYPES), kind))
            continue
        if not check.get(REQUIRED[kind]):
            problems.append("check %d (%s): %s is required" % (index, kind, REQUIRED[kind]))
        unknown = sorted(set(check) - set(COMMON_KEYS + KEYS[kind]))
        if unknown:
            problems.append("check %d (%s): unknown key%s %s; a %s check takes %s" % (
                index, kind, "s" if len(unknown) > 1 else "", ", ".join(unknown), kind,
                ", ".join(COMMON_KEYS + KEYS[kind])))
        timeout = check.get("timeout")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                    or timeout <= 0):
            problems.append("check %d (%s): timeout must be a number of seconds above 0, got %r"
                            % (index, kind, timeout))
        if kind == "command" and check.get("argv") and not isinstance(check["argv"], list):
            problems.append("check %d (command): argv must be a list (never a shell string), got %r"
                            % (index, check["argv"]))
    return problems


def run_checks(checks, retries=3, delay=2.0, timeout=5.0, sleep=time.sleep):
    results = []
    for check in checks:
        kind = check["type"]
        started = time.time()
        attempts, ok, detail = 0, False, ""
        bound = check.get("timeout") or timeout     # the check's own bound wins over the module's
        while attempts < max(1, retries):
            attempts += 1
            try:
                ok, detail = CHECKERS[kind](check, bound)
            except subprocess.TimeoutExpired:
                ok, detail = False, "timed out after %ss" % bound
            if ok or attempts >= retries:
                break
            sleep(delay)
        results.append({"name": check.get("name") or "%s %s" % (kind, check.get(REQUIRED[kind])),
                        "type": kind, "ok": ok, "attempts": attempts, "detail": detail,
                        "elapsed": round(time.time() - started, 3)})
    return results
