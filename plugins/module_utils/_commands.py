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
import subprocess

from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError, excerpt

C_LOCALE = {"LC_ALL": "C", "LANG": "C", "LANGUAGE": "C"}


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
        shown = argv if len(argv) <= 12 else argv[:12] + ["... %d more arguments" % (len(argv) - 12)]
        self.history.append({"cmd": shown, "rc": rc})
        if rc not in ok_rcs:
            detail = (err or out or "").strip().splitlines()
            reason = detail[-1] if detail else "no output"
            raise PatchError("Failed to %s: %s exited with rc=%d: %s" % (action, " ".join(argv), rc, reason),
                             cmd=argv, rc=rc, stdout=out, stderr=err)
        return rc, out, err


def malformed(action, argv, output, why):
    """The error for output a parser cannot use: the command and an excerpt, never a traceback."""
    return PatchError("Failed to %s: unexpected output from %s (%s)" % (action, " ".join(argv), why),
                      cmd=list(argv), stdout=excerpt(output, 800))
