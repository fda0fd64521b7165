# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

The apt backend (Debian, Ubuntu). What is installed comes from dpkg-query; each installed
package's candidate version and the candidate's sources from one `apt-cache policy` call; the
sources' Origin/Label/Suite from the Release files apt fetched. An update is a security update
when its candidate comes from a security pocket, which is how unattended-upgrades decides too. apt metadata carries no severity, CVE or
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
from ansible_collections.fleetpatch.patching.plugins.module_utils._versions import compare_deb

DPKG_QUERY_FORMAT = "${db:Status-Abbrev}\t${binary:Package}\t${Version}\t${Architecture}\n"
POLICY = ["apt-cache", "policy"]
LOCKS = [("/var/lib/dpkg/lock-frontend", "fcntl"), ("/var/lib/dpkg/lock", "fcntl")]
LISTS_LOCK = ("/var/lib/apt/lists/lock", "fcntl")
LISTS_DIR = "/var/lib/apt/lists"
REBOOT_REQUIRED = "/run/reboot-required"
_POLICY_HEADER = re.compile(r"^(?P<name>\S+):$")
_POLICY_FIELD = re.compile(r"^  (?P<key>Installed|Candidate): (?P<value>\S+)$")
_POLICY_VERSION = re.compile(r"^ (?:\*\*\*| {3}) (?P<version>\S+) (?P<priority>-?\d+)$")
_INST = re.compile(r"^Inst (?P<name>\S+) (?:\[(?P<old>[^\]]+)\] )?\((?P<new>\S+)(?: (?P<origins>.*?))? \[(?P<arch>[^\]]+)\]\)")
_REMV = re.compile(r"^Remv (?P<name>\S+)(?: \[(?P<old>[^\]]+)\])?")
# Keep the local configuration file when a package ships a new one: never prompt.
DPKG_FORCE = ["--force-confdef", "--force-confold"]
INSTALL_OPTIONS = [arg for option in DPKG_FORCE for arg in ("--option", "Dpkg::Options::=" + option)]
NONINTERACTIVE = {"DEBIAN_FRONTEND": "noninteractive", "NEEDRESTART_MODE": "a", "APT_LISTCHANGES_FRONTEND": "none"}
_POLICY_ORIGIN = re.compile(r"^ {8}-?\d+ (?P<uri>\S+) (?P<dist>\S+?)(?:/(?P<component>\S+))? (?:\S+ )?Packages$")


def parse_dpkg_query(text):
    """[{name, version, arch, held, query_name}] of installed packages (second status letter
    'i'). query_name is ${binary:Package} ('libc6:i386'), what apt-cache policy must be asked."""
    packages = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) != 4:
            continue
        status, binary_name, version, arch = fields
        if len(status) >= 2 and status[1] == "i":
            packages.append({"name": binary_name.split(":")[0], "version": version, "arch": arch,
                             "held": status[0] == "h", "query_name": binary_name})
    return packages


def parse_policy(text):
    """{name: {installed, candidate, origins: {version: [(uri, dist, component)]}}} from
    `apt-cache policy NAME...`."""
    result, current, version = {}, None, None
    for line in text.splitlines():
        match = _POLICY_HEADER.match(line)
        if match:
            current = result.setdefault(match.group("name"), {"installed": None, "candidate": None, "origins": {}})
            version = None
            continue
        if current is None:
            continue
        match = _POLICY_FIELD.match(line)
        if match:
            value = match.group("value")
            current[match.group("key").lower()] = None if value == "(none)" else value
            continue
        match = _POLICY_VERSION.match(line)
        if match:
            version = match.group("version")
            current["origins"].setdefault(version, [])
            continue
        match = _POLICY_ORIGIN.match(line)
        if match and version is not None:
            current["origins"][version].append((match.group("uri"), match.group("dist"), match.group("component")))
    return result


def parse_simulation(text):
    """[{name, arch, before, after}] from `apt-get --simulate` (Inst and Remv lines)."""
    changes = []
    for line in text.splitlines():
        match = _INST.match(line)
        if match:
            changes.append({"name": match.group("name").split(":")[0], "arch": match.group("arch"),
                            "before": match.group("old"), "after": match.group("new")})
            continue
        match = _REMV.match(line)
        if match:
            changes.append({"name": match.group("name").split(":")[0], "arch": None,
                            "before": match.group("old"), "after": None})
    return changes


def release_key(uri, dist):
    """The lists file prefix apt uses for a source (its URItoFileName of URI/dists/DIST/)."""
    text = re.sub(r"^[a-z+]+://", "", uri.rstrip("/") + "/dists/" + dist + "/")
    text = re.sub(r"^[^@/]*@", "", text)   # credentials never reach file names
    return text.replace("/", "_")


def parse_release(text):
    """Origin, Label, Suite, Codename of a Release or InRelease file."""
    fields = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break      # the fields end at the first blank line after them
            continue
        if line[:1] in (" ", "\t") or ":" not in line or line.startswith("-----BEGIN"):
            continue
        key, value = line.split(":", 1)
        if key in ("Origin", "Label", "Suite", "Codename"):
            fields[key.lower()] = value.strip()
    return fields


def read_releases(lists_dir=LISTS_DIR):
    """{release key: fields} for every Release/InRelease file apt has fetched."""
    releases = {}
    try:
        names = os.listdir(lists_dir)
    except OSError:
        return releases
    for name in names:
        for suffix in ("_InRelease", "_Release"):
            if name.endswith(suffix):
                try:
                    with open(os.path.join(lists_dir, name), errors="replace") as f:
                        releases.setdefault(name[:-len(suffix)] + "_", parse_release(f.read(8192)))
                except (IOError, OSError):
                    pass
    return releases


def is_security_origin(release, dist):
    """unattended-upgrades' test: the candidate comes from a security pocket (its suite or
    codename ends in -security, or its Release file is labelled *-Security)."""
    suites = [dist, release.get("suite", ""), release.get("codename", "")]
    label = release.get("label", "")
    return any(s.endswith("-security") for s in suites if s) or label.endswith("-Security") or label == "Security"


def updates_from_policy(installed, policy, releases):
    """The installed packages whose candidate is newer, with the candidate's origin."""
    updates = []
    for pkg in installed:
        entry = policy.get(pkg["query_name"])
        if not entry or not entry["candidate"] or not entry["installed"]:
            continue
        if compare_deb(entry["candidate"], entry["installed"]) <= 0:
            continue
        origins = [o for o in entry["origins"].get(entry["candidate"], []) if o[0] != "/var/lib/dpkg/status"]
        described = []
        for uri, dist, component in origins:
            release = releases.get(release_key(uri, dist), {})
            described.append((is_security_origin(release, dist), release, dist, component, uri))
        described.sort(key=lambda d: not d[0])          # a security origin decides and is named
        security, release, dist, component, uri = described[0] if described else (False, {}, None, None, None)
        repository = None
        if dist:
            label = release.get("label") or release.get("origin")
            repository = "%s%s%s" % (label + ":" if label else "", dist, "/" + component if component else "")
        update = {
            "name": pkg["name"],
            "arch": pkg["arch"], "installed_version": entry["installed"], "available_version": entry["candidate"],
            "classification": "security" if security else "other", "severity": "unknown",
            "advisories": [], "cves": [], "issued": None, "repository": repository, "reboot_suggested": False,
        }
        if pkg.get("held"):
            update["held"] = True
        updates.append(update)
    return updates


class AptBackend:
    name = "apt"
    compare = staticmethod(compare_deb)

    def __init__(self, runner, root=None, lock_timeout=120, lists_dir=LISTS_DIR):
        if root not in (None, "", "/"):
            raise PatchError("The apt backend does not support root (installroot); "
                             "use a chroot or run fleetpatch inside the image")
        self.runner = runner
        self.lock_timeout = lock_timeout
        self.lists_dir = lists_dir

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

    def updates(self, installed=None):
        """apt-cache policy over every installed package: its installed and candidate versions and
        the candidate's sources, in one call (an order of magnitude faster than simulating a
        dist-upgrade, whose resolver is patch_apply's business)."""
        wait_for_locks(LOCKS, self.lock_timeout, "apt")
        packages = (installed or self.installed)()
        if not packages:
            return [], {}
        argv = POLICY + [p["query_name"] for p in packages]
        _rc, out, _err = self.runner.run(argv, "list apt updates")
        policy = parse_policy(out)
        if not policy:
            raise malformed("list apt updates", argv[:3] + ["..."], out, "no package could be read")
        return updates_from_policy(packages, policy, read_releases(self.lists_dir)), {}

    # --- transactions (patch_apply, patch_rollback) -----------------------------------------

    @staticmethod
    def _specs(versions, remove):
        return ["%s=%s" % (name, version) for name, version in sorted(versions.items())] + \
            ["%s-" % name for name in sorted(remove)]

    def plan(self, versions, remove=(), downgrade=False):
        """What installing exactly these versions (and removing these names) would change."""
        if not versions and not remove:
            return []
        argv = ["apt-get", "--simulate", "--quiet", "--option", "Debug::NoLocking=true"] + \
            (["--allow-downgrades"] if downgrade else []) + ["install"] + self._specs(versions, remove)
        _rc, out, _err = self.runner.run(argv, "plan the apt transaction")
        return parse_simulation(out)

    def apply(self, versions, remove=(), downgrade=False):
        if not versions and not remove:
            return
        wait_for_locks(LOCKS, self.lock_timeout, "apt")
        argv = ["apt-get", "install", "--yes", "--quiet"] + INSTALL_OPTIONS + \
            (["--allow-downgrades"] if downgrade else []) + self._specs(versions, remove)
        saved = dict(self.runner.env)
        self.runner.env.update(NONINTERACTIVE)
        try:
            self.runner.run(argv, "install with apt")
        finally:
            self.runner.env = saved

    def recover(self, journal=None):
        """An interrupted dpkg (killed mid-transaction) blocks apt until `dpkg --configure -a`."""
        try:
            interrupted = bool(os.listdir("/var/lib/dpkg/updates"))
        except OSError:
            interrupted = False
        if interrupted:
            wait_for_locks(LOCKS, self.lock_timeout, "apt")
            saved = dict(self.runner.env)
            self.runner.env.update(NONINTERACTIVE)
            try:
                self.runner.run(["dpkg", "--configure", "-a"] + DPKG_FORCE,
                                "finish the interrupted dpkg run (dpkg --configure -a)")
            finally:
                self.runner.env = saved

    def available_versions(self, names):
        """{name: set of versions some configured source still offers}."""
        if not names:
            return {}
        _rc, out, _err = self.runner.run(POLICY + sorted(names), "list available apt versions")
        offered = {}
        for name, entry in parse_policy(out).items():
            offered[name.split(":")[0]] = set(
                version for version, origins in entry["origins"].items()
                if any(o[0] != "/var/lib/dpkg/status" for o in origins))
        return offered

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
