# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

The apt backend (Debian, Ubuntu). What is installed comes from dpkg-query, what would be
upgraded from `apt-get --simulate dist-upgrade`, whose Inst lines name each candidate's origin
(Label:Version/Suite). An update is a security update when its candidate comes from a security
pocket, which is how unattended-upgrades decides too. apt metadata carries no severity, CVE or
date, so severity is unknown and approval delays count from the day the host first saw a version.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import time

from ansible_collections.fleetpatch.patching.plugins.module_utils._commands import malformed
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError
from ansible_collections.fleetpatch.patching.plugins.module_utils._locks import wait_for_locks

DPKG_QUERY_FORMAT = "${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n"
SIMULATE = ["apt-get", "--simulate", "--quiet", "--option", "Debug::NoLocking=true", "dist-upgrade"]
_INST = re.compile(r"^Inst (?P<name>\S+) (?:\[(?P<old>[^\]]+)\] )?\((?P<new>\S+)(?: (?P<origins>.*?))? \[(?P<arch>[^\]]+)\]\)")
_REMV = re.compile(r"^Remv (?P<name>\S+)(?: \[(?P<old>[^\]]+)\])?")
LOCKS = [("/var/lib/dpkg/lock-frontend", "fcntl"), ("/var/lib/dpkg/lock", "fcntl")]
LISTS_LOCK = ("/var/lib/apt/lists/lock", "fcntl")
REBOOT_REQUIRED = "/run/reboot-required"


def parse_dpkg_query(text):
    """[{name, version, arch}] of installed packages (status 'ii' or 'hi' etc.: installed)."""
    packages = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) != 4:
            continue
        status, name, version, arch = fields
        if len(status) >= 2 and status[1] == "i":
            packages.append({"name": name, "version": version, "arch": arch})
    return packages


def parse_origin(text):
    """'Debian-Security:12/bookworm-security' -> {label, version, suite}."""
    label, _sep, rest = text.partition(":")
    version, _sep, suite = rest.partition("/")
    return {"label": label, "version": version, "suite": suite}


def is_security_origin(origin):
    return origin["suite"].endswith("-security") or origin["label"].endswith("-Security") \
        or origin["label"] == "Security"


def parse_simulation(text):
    """(upgrades, new_packages, removals) from `apt-get --simulate dist-upgrade` output."""
    upgrades, new, removals = [], [], []
    for line in text.splitlines():
        match = _INST.match(line)
        if match:
            origins = [parse_origin(o.strip()) for o in (match.group("origins") or "").split(",") if o.strip()]
            security = [o for o in origins if is_security_origin(o)]
            chosen = (security or origins or [None])[0]
            entry = {
                "name": match.group("name"),
                "arch": match.group("arch"),
                "installed_version": match.group("old"),
                "available_version": match.group("new"),
                "classification": "security" if security else "other",
                "severity": "unknown",
                "advisories": [],
                "cves": [],
                "issued": None,
                "repository": "%s:%s/%s" % (chosen["label"], chosen["version"], chosen["suite"]) if chosen else None,
                "reboot_suggested": False,
            }
            if entry["installed_version"] is None:
                new.append({"name": entry["name"], "version": entry["available_version"], "arch": entry["arch"]})
            else:
                upgrades.append(entry)
            continue
        match = _REMV.match(line)
        if match:
            removals.append({"name": match.group("name"), "version": match.group("old")})
    return upgrades, new, removals


class AptBackend:
    name = "apt"

    def __init__(self, runner, root=None, lock_timeout=120):
        if root not in (None, "", "/"):
            raise PatchError("The apt backend does not support root (installroot); "
                             "use a chroot or run fleetpatch inside the image")
        self.runner = runner
        self.lock_timeout = lock_timeout

    def cache_age(self):
        """Seconds since the package lists were last refreshed (None if never)."""
        stamps = ["/var/lib/apt/periodic/update-success-stamp", "/var/lib/apt/lists"]
        times = [os.stat(p).st_mtime for p in stamps if os.path.exists(p)]
        return max(0, time.time() - max(times)) if times else None

    def refresh(self, cache_valid_time=0):
        age = self.cache_age()
        if age is not None and cache_valid_time and age < cache_valid_time:
            return False
        wait_for_locks(LOCKS + [LISTS_LOCK], self.lock_timeout, "apt")
        self.runner.run(["apt-get", "update", "--quiet"], "refresh the apt package lists")
        return True

    def installed(self):
        argv = ["dpkg-query", "--show", "--showformat", DPKG_QUERY_FORMAT]
        _rc, out, _err = self.runner.run(argv, "list installed packages")
        packages = parse_dpkg_query(out)
        if out.strip() and not packages:
            raise malformed("list installed packages", argv, out, "no installed package could be read")
        return packages

    def updates(self):
        wait_for_locks(LOCKS, self.lock_timeout, "apt")
        _rc, out, _err = self.runner.run(SIMULATE, "list apt updates")
        upgrades, new, removals = parse_simulation(out)
        if not upgrades and not new and re.search(r"^\d+ upgraded", out, re.M) and \
                not re.search(r"^0 upgraded, 0 newly installed", out, re.M):
            raise malformed("list apt updates", SIMULATE, out, "a summary names upgrades but no Inst line was read")
        return upgrades, {"new_packages": new, "removals": removals}

    def reboot_status(self):
        reasons, packages = [], []
        if os.path.exists(REBOOT_REQUIRED):
            reasons.append(REBOOT_REQUIRED + " exists")
            try:
                with open(REBOOT_REQUIRED + ".pkgs") as f:
                    packages = sorted(set(line.strip() for line in f if line.strip()))
            except (IOError, OSError):
                pass
            if packages:
                reasons[-1] += " (requested by %s)" % ", ".join(packages)
        return reasons, []
