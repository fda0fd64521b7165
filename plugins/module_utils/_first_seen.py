# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

When this host first saw each offered (name, arch, version). Debian and Ubuntu metadata carry
no advisory dates, so approval delays count from here. Kept on the host (it survives controller
changes and AWX's throw-away execution environments), written atomically, root-only, pruned of
what is no longer offered, and never written in check mode.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError
from ansible_collections.fleetpatch.patching.plugins.module_utils._files import private_directory, write_private_file

FILE_NAME = "first_seen.json"
FORMAT_VERSION = 1


def _key(update):
    return "%s|%s|%s" % (update["name"], update.get("arch") or "", update["available_version"])


def load(path):
    try:
        with open(path) as f:
            data = json.load(f)
    except (IOError, OSError):
        return {}
    except ValueError:
        return {}   # a damaged file only costs the dates; it is rewritten below
    if not isinstance(data, dict) or not isinstance(data.get("seen"), dict):
        return {}
    return data["seen"]


def save(path, seen):
    directory = os.path.dirname(path)
    try:
        private_directory(directory)
        write_private_file(path, json.dumps({"format": FORMAT_VERSION, "seen": seen}, indent=1, sort_keys=True))
    except (IOError, OSError) as exc:
        raise PatchError("Failed to record first-seen dates in %s: %s" % (path, exc))


def annotate(updates, state_dir, today, check_mode):
    """Set first_seen on every update; returns True when the file changed (or would have)."""
    path = os.path.join(state_dir, FILE_NAME)
    seen = load(path)
    current = {}
    for update in updates:
        key = _key(update)
        current[key] = seen.get(key) or today
        update["first_seen"] = current[key]
    changed = current != seen
    if changed and not check_mode:
        save(path, current)
    return changed
