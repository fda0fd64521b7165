# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

The one exception type fleetpatch code raises for a failure it understands. Modules turn it into
fail_json (message, command, rc, stdout, stderr); nothing else should reach a user as a traceback.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

EXCERPT_CHARS = 2000


def excerpt(text, limit=EXCERPT_CHARS):
    """The end of a long output, which is where tools print their error."""
    text = text or ""
    if len(text) <= limit:
        return text
    return "[...]" + text[-limit:]


class PatchError(Exception):
    """A failure with what was being done and, for a command, the command and its output."""

    def __init__(self, msg, cmd=None, rc=None, stdout=None, stderr=None):
        super(PatchError, self).__init__(msg)
        self.msg = msg
        self.cmd = cmd
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    def __str__(self):
        # msg may be completed after the error was raised (the journal id, what changed): say it all
        return self.msg

    def fail_kwargs(self):
        """Keyword arguments for AnsibleModule.fail_json."""
        result = {"msg": self.msg}
        if self.cmd is not None:
            result["cmd"] = self.cmd
        if self.rc is not None:
            result["rc"] = self.rc
        if self.stdout is not None:
            result["stdout"] = excerpt(self.stdout)
        if self.stderr is not None:
            result["stderr"] = excerpt(self.stderr)
        return result
