# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

Running package-manager commands: argument lists only (never a shell string), the C locale so
output parses the same everywhere, and one error path naming the command and its stderr.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import signal
import subprocess

from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError, excerpt

# Where a binary may be besides PATH (a module's PATH can be minimal: sudo's secure_path, cron).
SEARCH_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def which(binary):
    """The path of an executable binary on PATH or SEARCH_PATH, or None."""
    for directory in os.environ.get("PATH", "").split(os.pathsep) + list(SEARCH_PATH):
        candidate = os.path.join(directory, binary)
        if directory and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


# TZ=UTC: dnf prints advisory dates in local time; every date we read must be UTC.
C_LOCALE = {"LC_ALL": "C", "LANG": "C", "LANGUAGE": "C", "TZ": "UTC"}


class CommandRunner:
    """Runs commands through AnsibleModule.run_command when there is a module (so Ansible's
    environment handling applies), else through subprocess (tests, controller code)."""

    def __init__(self, module=None, extra_env=None, transaction_timeout=0):
        self.module = module
        self.env = dict(C_LOCALE)
        self.env.update(extra_env or {})
        self.history = []   # (argv, rc) of every command, for debugging output
        # seconds a command that changes packages may run (0: no bound); see run(transaction=True)
        self.transaction_timeout = transaction_timeout or 0

    def run(self, argv, action, ok_rcs=(0,), data=None, transaction=False, cwd=None, env=None):
        """Run argv (in directory cwd, when given); return (rc, stdout, stderr). An rc outside ok_rcs
        raises PatchError whose message says what was being done (`action`, e.g. "list apt updates").
        transaction: the command changes packages, so it is bounded by transaction_timeout.
        env: variables for this command only, over the runner's own."""
        argv = [str(a) for a in argv]
        command_env = dict(self.env, **(env or {}))
        if transaction and self.transaction_timeout > 0:
            rc, out, err = self._run_bounded(argv, action, data, self.transaction_timeout, cwd, command_env)
        elif self.module is not None:
            rc, out, err = self.module.run_command(argv, environ_update=command_env, data=data, cwd=cwd)
        else:
            env = dict(os.environ)
            env.update(command_env)
            try:
                proc = subprocess.run(argv, input=data, capture_output=True, text=True, env=env, check=False,
                                      cwd=cwd)
            except OSError as exc:
                raise PatchError("Failed to %s: cannot run %s: %s" % (action, argv[0], exc), cmd=argv)
            rc, out, err = proc.returncode, proc.stdout, proc.stderr
        self.history.append({"cmd": shorten(argv), "rc": rc})
        if rc not in ok_rcs:
            self.raise_for(argv, action, rc, out, err)
        return rc, out, err

    def _run_bounded(self, argv, action, data, timeout, cwd, command_env):
        """Run argv with a timeout (AnsibleModule.run_command has none); past it, stop argv and every
        process it started - a maintainer script's children too - and fail naming what was still
        running."""
        env = dict(os.environ)
        env.update(command_env)
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                                    env=env, cwd=cwd)
        except OSError as exc:
            raise PatchError("Failed to %s: cannot run %s: %s" % (action, argv[0], exc), cmd=shorten(argv))
        try:
            out, err = proc.communicate(input=data, timeout=timeout)
            return proc.returncode, out, err
        except subprocess.TimeoutExpired:
            running = running_chain(proc.pid)
            out, err = stop_tree(proc)
        self.history.append({"cmd": shorten(argv), "rc": None})
        raise PatchError(
            "Failed to %s: %s did not finish within %d seconds (transaction_timeout) and was stopped; still "
            "running then: %s. The package database may be left unfinished: the next run repairs it first"
            % (action, " ".join(shorten(argv)), timeout, running or "nothing but the command itself"),
            cmd=shorten(argv), stdout=excerpt(out, 800), stderr=excerpt(err, 800))

    @staticmethod
    def raise_for(argv, action, rc, out, err):
        """The PatchError for a command that failed: what was being done, the command (shortened),
        its rc, and the line of its output that says why."""
        raise PatchError("Failed to %s: %s exited with rc=%d: %s"
                         % (action, " ".join(shorten(argv)), rc, meaningful_line(err, out)),
                         cmd=shorten(argv), rc=rc, stdout=out, stderr=err)


# Lines that state the cause, in the shapes apt (E:), dnf (Error:), zypper and rpm (error:) use.
_CAUSE = re.compile(r"^(?:E: |Error: |error: |ERROR|Fatal|FATAL|Problem: |Problem retrieving|dpkg: error|"
                    r"Failed to |Unable to |Could not |Cannot |No package |nothing provides )")
# Lines that never state the cause: warnings, progress and the generic summaries tools end with.
_NOISE = re.compile(r"^(?:W: |N: |Warning|warning: |Reading |Building |Loading |Retrieving |Last metadata |"
                    r"Dependencies resolved|Nothing to do|Some of the repositories|Please check|History:|"
                    r"E: Sub-process .* returned an error code|E: Some index files failed|"
                    r"Error: Some packages could not be found|Error: Unable to find a match$|\s*$)")
REASON_CHARS = 400


def meaningful_line(err, out=""):
    """The line that says why a command failed: the first cause-shaped line of stderr (then of
    stdout), else the first line that is not a warning or progress, else the last line."""
    for text in (err, out):
        lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
        for line in lines:
            if _CAUSE.match(line) and not _NOISE.match(line):
                return line[:REASON_CHARS]
    for text in (err, out):
        for line in (text or "").splitlines():
            if line.strip() and not _NOISE.match(line.strip()):
                return line.strip()[:REASON_CHARS]
    lines = ((err or "").strip() or (out or "").strip()).splitlines()
    return lines[-1][:REASON_CHARS] if lines else "no output"


ARGS_SHOWN = 12
ARG_CHARS = 120


def shorten(argv):
    """A command line fit for a message: at most ARGS_SHOWN arguments of ARG_CHARS characters."""
    shown = [a if len(a) <= ARG_CHARS else a[:ARG_CHARS] + "..." for a in argv[:ARGS_SHOWN]]
    if len(argv) > ARGS_SHOWN:
        shown.append("(%d more arguments)" % (len(argv) - ARGS_SHOWN))
    return shown


def malformed(action, argv, output, why):
    """The error for output a parser cannot use: the command and an excerpt, never a traceback."""
    return PatchError("Failed to %s: unexpected output from %s (%s)" % (action, " ".join(shorten(argv)), why),
                      cmd=shorten(argv), stdout=excerpt(output, 800))


def stop_tree(proc):
    """Stop proc and every process it started, whatever session they moved to (apt runs dpkg, and
    so the maintainer scripts, in a session of its own behind a pseudo-terminal): freeze the tree
    (SIGSTOP, so nothing forks or is orphaned meanwhile), then SIGKILL it. A killed transaction is
    an interrupted one, which the next run repairs: a grace period would change nothing for the
    package database. Returns (stdout, stderr) collected so far."""
    frozen = set()
    for _round in range(10):        # until the tree stops growing
        tree = descendants(proc.pid, process_table()) | {proc.pid}
        if not tree - frozen:
            break
        for pid in tree - frozen:
            _signal(pid, signal.SIGSTOP)
        frozen |= tree
    for pid in frozen:
        _signal(pid, signal.SIGKILL)
    try:
        return proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:   # a process outside the tree still holds the pipes
        return "", ""


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except OSError:     # ended meanwhile
        pass


def process_table():
    """{pid: (parent pid, command line)} of every process, read from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except (OSError, IndexError):
            continue        # ended meanwhile
        table[int(entry)] = (int(fields[1]), cmdline)
    return table


def descendants(root, table):
    """The pids below root in the table (children, their children, ...)."""
    children = {}
    for pid, (ppid, _cmd) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def running_chain(root, max_chars=300, table=None):
    """The chain from root to where the transaction hangs, as "a > b > c" (apt-get > dpkg > the
    package's postinst > the command it waits for): the deepest leaf below root, the newest of
    equally deep ones. Deepest, not newest: a helper started beside the transaction (zypper's
    systemd-inhibit > cat) can be younger than the hung scriptlet's sleep, but never deeper."""
    table = process_table() if table is None else table
    if root not in table:
        return ""
    below = descendants(root, table)
    parents = set(table[pid][0] for pid in below)
    leaves = [pid for pid in below if pid not in parents]
    paths = [_path_to(root, leaf, table) for leaf in leaves] or [[root]]
    path = max(paths, key=lambda p: (len(p), p[-1]))
    text = " > ".join(table[pid][1][:80] or "pid %d" % pid for pid in path[-12:])
    return text if len(text) <= max_chars else "..." + text[-max_chars:]     # the hung end matters most


def _path_to(root, leaf, table):
    """The pids from root down to leaf (leaf is below root in table)."""
    path, pid = [leaf], leaf
    while pid != root and pid in table:
        pid = table[pid][0]
        path.append(pid)
    return list(reversed(path))
