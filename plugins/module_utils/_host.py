# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

Host identity for the patch record (os-release) and the kernel check: is the running kernel
the newest installed one (/lib/modules holds one directory per installed kernel)?
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools
import os

from ansible_collections.fleetpatch.patching.plugins.module_utils._versions import rpmvercmp

FAMILIES = (("debian", "Debian"), ("ubuntu", "Debian"), ("rhel", "RedHat"), ("fedora", "RedHat"),
            ("centos", "RedHat"), ("suse", "Suse"), ("opensuse", "Suse"), ("sles", "Suse"))


def parse_os_release(text):
    values = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def identity(root=None):
    values = {}
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            with open((root or "") + path) as f:
                values = parse_os_release(f.read())
            break
        except (IOError, OSError):
            continue
    ids = [values.get("ID", "")] + values.get("ID_LIKE", "").split()
    family = next((fam for key, fam in FAMILIES for i in ids if i == key or i.startswith(key + "-")), None)
    return {
        "os_family": family or (values.get("ID", "unknown").capitalize() if values else "unknown"),
        "distribution": values.get("NAME", "unknown"),
        "version": values.get("VERSION_ID", ""),
        # the release name the distributions' security data is keyed by (Debian's tracker: bookworm)
        "codename": values.get("VERSION_CODENAME") or None,
    }


def kernel_status(root=None):
    """(running, newest installed or None, reason or None). Inside an installroot the running
    kernel is not the root's, so only the newest is reported."""
    running = os.uname()[2] if not root else None
    try:
        installed = [d for d in os.listdir((root or "") + "/lib/modules") if d[:1].isdigit()]
    except (IOError, OSError):
        installed = []
    newest = max(installed, key=functools.cmp_to_key(rpmvercmp)) if installed else None
    reason = None
    if running and newest and rpmvercmp(newest, running) > 0:
        reason = "running kernel %s, newest installed %s" % (running, newest)
    return running, newest, reason
