# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

Choosing the package-manager backend: the user's choice (pkg_mgr) when given, else detection.

What every backend provides is written down once, in _backend.Backend (the contract: each
method's inputs, return shape and errors); AptBackend, DnfBackend and ZypperBackend subclass it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.fleetpatch.patching.plugins.module_utils._apt import AptBackend
from ansible_collections.fleetpatch.patching.plugins.module_utils._commands import which
from ansible_collections.fleetpatch.patching.plugins.module_utils._dnf import DnfBackend, probe_generation
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError
from ansible_collections.fleetpatch.patching.plugins.module_utils._zypper import ZypperBackend

MANAGERS = ("apt", "dnf", "yum", "zypper")
# Detection order matters: the RPM tools can be installed on a Debian system, not the reverse.
DETECTION = (("apt", "apt-get"), ("zypper", "zypper"), ("dnf", "dnf5"), ("dnf", "dnf"), ("yum", "yum"))


def detect():
    found = [binary for _mgr, binary in DETECTION if which(binary)]
    for manager, binary in DETECTION:
        if binary in found:
            return manager, found
    raise PatchError("Failed to find a supported package manager: looked for %s on PATH, found none"
                     % ", ".join(b for _m, b in DETECTION))


def check_root(root):
    """A root (installroot) must be an existing directory: fleetpatch never creates one, since a
    mistyped path would otherwise be assessed as an empty, compliant system."""
    if root in (None, "", "/"):
        return
    if not os.path.exists(root):
        raise PatchError("root %s does not exist (fleetpatch never creates a root: check the path)" % root)
    if not os.path.isdir(root):
        raise PatchError("root %s is not a directory" % root)
    if not os.path.isdir(os.path.join(root, "var", "lib", "rpm")) and \
            not os.path.isdir(os.path.join(root, "usr", "lib", "sysimage", "rpm")):
        raise PatchError("root %s holds no rpm database (var/lib/rpm or usr/lib/sysimage/rpm): not an "
                         "installed system" % root)


def select(runner, pkg_mgr="auto", root=None, lock_timeout=120):
    """The backend for this host."""
    check_root(root)
    if pkg_mgr in (None, "", "auto"):
        pkg_mgr, _found = detect()
    if pkg_mgr not in MANAGERS:
        raise PatchError("Unsupported pkg_mgr %r: choose one of auto, %s" % (pkg_mgr, ", ".join(MANAGERS)))
    if pkg_mgr == "apt":
        if not which("apt-get"):
            raise PatchError("pkg_mgr is apt but apt-get is not installed on this host")
        return AptBackend(runner, root, lock_timeout)
    if pkg_mgr == "zypper":
        if not which("zypper"):
            raise PatchError("pkg_mgr is zypper but zypper is not installed on this host")
        return ZypperBackend(runner, root, lock_timeout)
    candidates = ["dnf5", "dnf", "yum"] if pkg_mgr == "dnf" else ["yum", "dnf"]
    binary = next((b for b in candidates if which(b)), None)
    if binary is None:
        raise PatchError("pkg_mgr is %s but none of %s is installed on this host" % (pkg_mgr, ", ".join(candidates)))
    generation = probe_generation(runner, binary)
    if binary == "yum" and generation == 4 and not _yum_is_dnf():
        raise PatchError("yum 3 (Enterprise Linux 7) is not supported: fleetpatch needs dnf or yum as an alias of dnf")
    return DnfBackend(runner, root, lock_timeout, binary=binary, generation=generation)


def _yum_is_dnf():
    """yum is a link to dnf (Enterprise Linux 8 and later), not yum 3."""
    target = os.path.realpath(which("yum") or "")
    return "dnf" in os.path.basename(target)
