# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

One function run in a thread of its own while the caller goes on, its result or its exception
handed back where the caller waits for it. Used on targets (patch_facts reads the installed
packages while the package manager lists the updates) and on the controller (the history store
packs report.json while it writes the run's rows).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading


class InBackground:
    """Run function() in a daemon thread; result() waits for it and returns its value, or raises
    what it raised, in the caller's thread."""

    def __init__(self, function, name=None):
        self._value = self._error = None
        self._thread = threading.Thread(target=self._run, args=(function,), name=name)
        self._thread.daemon = True
        self._thread.start()

    def _run(self, function):
        try:
            self._value = function()
        except BaseException as exc:  # handed to the caller in result(): never a silent None
            self._error = exc

    def result(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value
