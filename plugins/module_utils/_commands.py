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
import subprocess

from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError, excerpt

# TZ=UTC: dnf prints advisory dates in local time; every date we read must be UTC.
C_LOCALE = {"LC_ALL": "C", "LANG": "C", "LANGUAGE": "C", "TZ": "UTC"}


class CommandRunner:
    """Runs commands through AnsibleModule.run_command when there is a module (so Ansible's
    environment handling applies), else through subprocess (tests, controller code)."""

    def __init__(self, module=None, extra_env=None):
        self.module = module
        self.env = dict(C_LOCALE)
        self.env.update(extra_env or {})
        self.history = []   # (argv, rc) of every command, for debugging output

    def run(self, argv, action, ok_rcs=(0,), data=None):
        """Run argv; return (rc, stdout, stderr). An rc outside ok_rcs raises PatchError whose
        message says what was being done (`action`, e.g. "list apt updates")."""
        argv = [str(a) for a in argv]
        if self.module is not None:
            rc, out, err = self.module.run_command(argv, environ_update=self.env, data=data)
        else:
            env = dict(os.environ)
            env.update(self.env)
            try:
                proc = subprocess.run(argv, input=data, capture_output=True, text=True, env=env, check=False)
            except OSError as exc:
                raise PatchError("Failed to %s: cannot run %s: %s" % (action, argv[0], exc), cmd=argv)
            rc, out, err = proc.returncode, proc.stdout, proc.stderr
        self.history.append({"cmd": shorten(argv), "rc": rc})
        if rc not in ok_rcs:
            self.raise_for(argv, action, rc, out, err)
        return rc, out, err

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
