# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

The apt backend (Debian, Ubuntu). What is installed comes from dpkg-query; each installed
package's candidate version and every offered version with its sources from one `apt-cache policy`
call; the sources' Origin/Label/Suite from the Release files apt fetched. An update is a security
update as unattended-upgrades decides: the newest version a security pocket offers is newer than
the installed one and not newer than the candidate (unattended-upgrade 2.9, adjust_candidate()).
apt metadata carries no severity, CVE or date, so severity is unknown and approval delays count
from the day the host first saw a version.

Names: dpkg-query's ${binary:Package} qualifies Multi-Arch: same packages with their architecture
("libssl3:amd64"), but apt prints a package of the native architecture (or "all") without it
("libssl3:") and a foreign one with it ("libc6:i386:"). So apt is asked, and answers are keyed, by
the name apt prints back: see policy_key().
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import time

from ansible_collections.fleetpatch.patching.plugins.module_utils import _rollback_cache
from ansible_collections.fleetpatch.patching.plugins.module_utils._backend import Backend
from ansible_collections.fleetpatch.patching.plugins.module_utils._commands import malformed, which
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError
from ansible_collections.fleetpatch.patching.plugins.module_utils._locks import wait_for_locks
from ansible_collections.fleetpatch.patching.plugins.module_utils._resolution import resolve_updates
from ansible_collections.fleetpatch.patching.plugins.module_utils._versions import compare_deb

DPKG_QUERY_FORMAT = "${db:Status-Abbrev}\t${binary:Package}\t${Version}\t${Architecture}\n"
POLICY = ["apt-cache", "policy"]
LOCKS = [("/var/lib/dpkg/lock-frontend", "fcntl"), ("/var/lib/dpkg/lock", "fcntl")]
LISTS_LOCK = ("/var/lib/apt/lists/lock", "fcntl")
LISTS_DIR = "/var/lib/apt/lists"
DPKG_STATUS = "/var/lib/dpkg/status"
REBOOT_REQUIRED = "/run/reboot-required"
ARCHIVES = "/var/cache/apt/archives"
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


# dpkg's package states (second letter of ${db:Status-Abbrev}) in which a version is on disk.
# Anything but "installed" is a dpkg run that did not finish: the package counts as installed
# (its files are there, its update is still missing) and the record says which state it is in.
DPKG_STATES = {"i": "installed", "U": "unpacked", "F": "half-configured", "H": "half-installed",
               "W": "triggers-awaited", "t": "triggers-pending"}
# Not installed: "n" not-installed, "c" config-files (removed, configuration kept).
DPKG_ABSENT = ("n", "c")


def policy_key(name, arch, native_arch):
    """The name apt-cache policy prints a package under (and is asked by)."""
    if arch in (native_arch, "all", "") or not native_arch:
        return name
    return "%s:%s" % (name, arch)


def parse_dpkg_query(text, native_arch=None):
    """[{name, version, arch, held, state, query_name}] of the packages whose files are on disk
    (DPKG_STATES). query_name is the name apt prints back (policy_key)."""
    packages = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) != 4:
            continue
        status, binary_name, version, arch = fields
        if len(status) < 2 or status[1] not in DPKG_STATES or not version:
            continue
        name = binary_name.split(":")[0]
        package = {"name": name, "version": version, "arch": arch, "held": status[0] == "h",
                   "state": DPKG_STATES[status[1]], "query_name": policy_key(name, arch, native_arch)}
        if len(status) >= 3 and status[2] == "R":
            package["reinst_required"] = True
        packages.append(package)
    return packages


def unfinished(packages):
    """The packages a dpkg run left unfinished, as problems a record reports."""
    return ["dpkg: %s %s (%s) is %s%s; finish it with `dpkg --configure -a` or reinstall it"
            % (p["name"], p["version"], p["arch"], p["state"],
               ", reinstallation required" if p.get("reinst_required") else "")
            for p in packages if p["state"] != "installed" or p.get("reinst_required")]


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


# What `apt-get update` prints (exit 0) when a source was not refreshed: its old lists, or
# none, are used instead. Other W: lines (a source configured twice, an architecture a
# repository does not carry, a key in the legacy keyring) change nothing in the answer.
_REFRESH_FAILURE = re.compile(
    r"^(?:Err:\d+ |[WE]: (?:Failed to fetch|GPG error|Some index files failed|The repository .* (?:is not signed|"
    r"does not have a Release file|no longer has a Release file)|Release file .* is (?:expired|not valid yet)|"
    r"Could not |Problem ))")
PROBLEM_CHARS = 300


def refresh_problems(out, err):
    """The lines of an `apt-get update` run that say a source was not refreshed: its W:/E: lines
    (they name the URL and the cause), else its Err: lines with the reason on the line after."""
    stated, err_lines = [], []
    lines = (out or "").splitlines() + (err or "").splitlines()
    for index, line in enumerate(lines):
        if not _REFRESH_FAILURE.match(line):
            continue
        text = " ".join(line.split())
        if text.startswith("Err:"):
            if index + 1 < len(lines) and lines[index + 1].startswith("  "):
                text += ": " + lines[index + 1].strip()
            err_lines.append(text[:PROBLEM_CHARS])
        elif not text[3:].startswith("Some index files failed"):
            stated.append(text[:PROBLEM_CHARS])
    problems = stated or err_lines
    if not problems and any(_REFRESH_FAILURE.match(line) for line in lines):
        problems = ["apt: some index files failed to download; old ones are used instead"]
    return sorted(set(problems), key=problems.index)


# "The following packages have unmet dependencies:" then " curl : Depends: libcurl4 (= 8.14) but
# 7.88 is to be installed" (continuation lines start with spaces and the relation only).
_UNMET = re.compile(r"^ (?P<name>[^ :]+)(?::(?P<arch>\S+))? : (?P<relation>(?:Pre)?Depends|Breaks|Conflicts|Recommends): (?P<what>.+)$")
HELD = "held (apt-mark hold): apt does not upgrade it"


def parse_unmet(text):
    """[(package, arch, "Depends: ...")] from the unmet-dependencies block of a failed apt-get."""
    found = []
    for line in (text or "").splitlines():
        match = _UNMET.match(line)
        if match:
            found.append((match.group("name"), match.group("arch"),
                          "%s: %s" % (match.group("relation"), match.group("what").strip())))
    return found


# apt-get upgrade and unattended-upgrades never remove a package to upgrade another (u-u's
# check_changes_for_sanity refuses a change set with a package marked for deletion): an update
# that takes a removal is kept back there, so it is blocked here, and stays missing.
REMOVES = "installing it makes apt remove %s (apt-get upgrade and unattended-upgrades keep it back)"


def removed_packages(text):
    """The packages (name[:arch]) an `apt-get --simulate` would remove."""
    return [m.group("name") for m in (_REMV.match(line) for line in text.splitlines()) if m]


def blame_removals(removed, requested):
    """{requested name: reason} for a simulation that removes packages: the update asked alone, or
    those of the same name as a removed package (a Multi-Arch: same sibling of another
    architecture that cannot follow it). Empty when the removal names no requested update."""
    if len(requested) == 1:
        return {next(iter(requested)): REMOVES % ", ".join(removed)}
    blamed = {}
    for package in removed:
        name = package.split(":")[0]
        if name in requested:
            blamed.setdefault(name, REMOVES % package)
    return blamed


def blame(unmet, requested):
    """{requested name: reason} for the requested packages a failed resolution names: the package
    whose dependency is unmet, or the requested package that another (held, not requested) one
    depends on at its installed version."""
    blamed = {}
    for name, _arch, reason in unmet:
        if name in requested:
            blamed.setdefault(name, reason)
            continue
        target = re.match(r"^\S+: (?P<dep>[^ :(]+)", reason)
        if target and target.group("dep") in requested:
            blamed.setdefault(target.group("dep"), "%s %s" % (name, reason))
    return blamed


_RELATION_FIELDS = ("Depends", "Pre-Depends", "Breaks", "Conflicts")
_PACKAGE_NAME = re.compile(r"(?:^|[,|])\s*(?P<name>[a-z0-9][a-z0-9+.-]+)")


def mentioned(unmet):
    """The package names a failed resolution's unmet block speaks of: who has the unmet
    relation, and what it relates to."""
    names = set()
    for name, _arch, reason in unmet:
        names.add(name)
        names.update(m.group("name") for m in _PACKAGE_NAME.finditer(reason.split(":", 1)[-1].split(" but ")[0]))
    return names


def show_stanzas(text):
    """The fields of each `apt-cache show` stanza, {field: value}; continuation lines (a
    Description's) are left out."""
    for block in re.split(r"\n\s*\n", text or ""):
        fields = {}
        for line in block.splitlines():
            if line[:1] not in (" ", "\t") and ":" in line:
                key, value = line.split(":", 1)
                fields[key] = value.strip()
        yield fields


def parse_show(text):
    """[{package, source, relations: set of names}] of `apt-cache show` stanzas."""
    stanzas = []
    for fields in show_stanzas(text):
        if "Package" not in fields:
            continue
        relations = set()
        for key in _RELATION_FIELDS:
            relations.update(m.group("name") for m in _PACKAGE_NAME.finditer(fields.get(key, "")))
        stanzas.append({"package": fields["Package"],
                        "source": fields.get("Source", fields["Package"]).split(" ")[0],
                        "relations": relations})
    return stanzas


def parse_show_sources(text):
    """{(package, architecture, version): (source name, source version)} of `apt-cache show` stanzas.
    Debian policy 5.6.1: no Source field means the source is named as the binary package; a
    "Source: name (version)" field gives the source version when it differs from the binary's
    (binNMUs: bash 5.2.15-2+b8 is built from bash 5.2.15-2), else the binary's version is the source's."""
    sources = {}
    for fields in show_stanzas(text):
        if not fields.get("Package") or not fields.get("Version"):
            continue
        match = _SOURCE_FIELD.match(fields.get("Source", ""))
        name = match.group("name") if match else fields["Package"]
        version = match.group("version") if match and match.group("version") else fields["Version"]
        sources[(fields["Package"], fields.get("Architecture", ""), fields["Version"])] = (name, version)
    return sources


_SOURCE_FIELD = re.compile(r"^(?P<name>[a-z0-9][a-z0-9+.-]+)(?: \((?P<version>[^)\s]+)\))?$")


def annotate_sources(updates, sources):
    """Set source_package, source_version (of available_version) and installed_source_version on
    each update apt-cache show answered for; an update it did not answer for gets none of them
    (the controller then joins nothing to it rather than guess)."""
    for update in updates:
        available = sources.get((update["name"], update["arch"], update["available_version"]))
        installed = sources.get((update["name"], update["arch"], update["installed_version"]))
        if available and installed and available[0] == installed[0]:
            update["source_package"] = available[0]
            update["source_version"] = available[1]
            update["installed_source_version"] = installed[1]
    return updates


def suspects_of(stanzas, named, requested):
    """The requested names a refusal about `named` may come from: named themselves, built from
    the same source as a named package (versions of one source move together), or relating to
    one of them."""
    sources = set(s["source"] for s in stanzas if s["package"] in named)
    return set(s["package"] for s in stanzas if s["package"] in requested and
               (s["package"] in named or s["source"] in sources or s["relations"] & named))


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


def _described_origins(origins, releases):
    """[(is security, release fields, dist, component)] of a version's sources, security first."""
    described = []
    for uri, dist, component in origins:
        if uri == DPKG_STATUS:
            continue
        release = releases.get(release_key(uri, dist), {})
        described.append((is_security_origin(release, dist), release, dist, component))
    described.sort(key=lambda d: not d[0])
    return described


def _repository(described):
    if not described:
        return None
    _security, release, dist, component = described[0]
    label = release.get("label") or release.get("origin")
    return "%s%s%s" % (label + ":" if label else "", dist, "/" + component if component else "")


def security_version(entry, releases):
    """The newest version a security pocket offers for this package (unattended-upgrades'
    ver_in_allowed_origin over security origins), or None."""
    newest = None
    for version, origins in entry["origins"].items():
        if any(d[0] for d in _described_origins(origins, releases)):
            if newest is None or compare_deb(version, newest) > 0:
                newest = version
    return newest


def updates_from_policy(installed, policy, releases):
    """The installed packages whose candidate is newer, classified as unattended-upgrades would:
    security when the newest security version is newer than the installed one and not newer
    than the candidate (u-u installs it then, even if the candidate came from another pocket)."""
    updates = []
    for pkg in installed:
        entry = policy.get(pkg["query_name"])
        if not entry or not entry["candidate"]:
            continue
        current = entry["installed"] or pkg["version"]
        if compare_deb(entry["candidate"], current) <= 0:
            continue
        described = _described_origins(entry["origins"].get(entry["candidate"], []), releases)
        fix = security_version(entry, releases)
        security = fix is not None and compare_deb(fix, current) > 0 and compare_deb(fix, entry["candidate"]) <= 0
        update = {
            "name": pkg["name"],
            "arch": pkg["arch"], "installed_version": current, "available_version": entry["candidate"],
            "classification": "security" if security else "other", "severity": "unknown",
            "advisories": [], "cves": [], "issued": None, "repository": _repository(described),
            "reboot_suggested": False,
        }
        if security and fix != entry["candidate"]:
            # The candidate comes from another pocket (a point release, backports): name the
            # security version, which is what makes this a security update.
            update["security_version"] = fix
        if pkg.get("held"):
            update["held"] = True
            update["installable"], update["blocked_reason"] = False, HELD
        if pkg["state"] != "installed":
            update["installed_state"] = pkg["state"]
        updates.append(update)
    return updates


class AptBackend(Backend):
    """The backend contract (_backend.Backend) for apt and dpkg."""
    name = "apt"
    compare = staticmethod(compare_deb)

    def __init__(self, runner, root=None, lock_timeout=120, lists_dir=LISTS_DIR):
        if root not in (None, "", "/"):
            raise PatchError("The apt backend does not support root (installroot); "
                             "use a chroot or run fleetpatch inside the image")
        self.runner = runner
        self.lock_timeout = lock_timeout
        self.lists_dir = lists_dir
        self.incomplete = []    # why the answer may be incomplete (sources not refreshed)
        self.unfinished = []    # packages a dpkg run left unfinished
        # patch_facts' source_packages option: also name each update's source package and
        # versions (one more call, apt-cache show), which the controller's advisory feed joins on.
        self.source_packages = False

    def cache_age(self):
        """Seconds since the package lists were last refreshed (None if never), read the way
        ansible.builtin.apt does: apt's periodic success stamp, else the lists directory."""
        stamps = ["/var/lib/apt/periodic/update-success-stamp", self.lists_dir]
        times = [os.stat(p).st_mtime for p in stamps if os.path.exists(p)]
        return max(0, int(time.time() - max(times))) if times else None

    def refresh(self, cache_valid_time=0):
        """True when every source was refreshed. `apt-get update` exits 0 when a source failed
        (it keeps the old lists and prints W: lines): those go to self.problems and the answer
        is incomplete; an exit other than 0 fails with apt's own E: line."""
        age = self.cache_age()
        if age is not None and cache_valid_time and age < cache_valid_time:
            return False
        wait_for_locks(LOCKS + [LISTS_LOCK], self.lock_timeout, "apt")
        argv = ["apt-get", "update", "--quiet"]
        rc, out, err = self.runner.run(argv, "refresh the apt package lists", ok_rcs=(0, 100))
        problems = refresh_problems(out, err)
        errors = [line for line in (err or "").splitlines() if line.startswith("E: ")]
        if rc != 0 and (not problems or any(not _REFRESH_FAILURE.match(line) for line in errors)):
            # not (only) a source that failed: the sources cannot be read, a lock, a full disk
            self.runner.raise_for(argv, "refresh the apt package lists", rc, out, err)
        self.incomplete.extend(problems)
        return not problems

    def native_arch(self, dpkg_query_output=""):
        """dpkg's own architecture is the native one (dpkg is Essential and never foreign), so the
        installed list already says it; ask dpkg only if that line is missing."""
        for line in dpkg_query_output.splitlines():
            fields = line.split("\t")
            if len(fields) == 4 and fields[1] in ("dpkg", "dpkg:" + fields[3]) and fields[3] != "all":
                return fields[3]
        _rc, out, _err = self.runner.run(["dpkg", "--print-architecture"], "read the native architecture")
        arch = out.strip()
        if not re.match(r"^[a-z0-9][a-z0-9-]*$", arch):
            raise malformed("read the native architecture", ["dpkg", "--print-architecture"], out,
                            "not an architecture name")
        return arch

    def installed(self):
        argv = ["dpkg-query", "--show", "--showformat", DPKG_QUERY_FORMAT]
        _rc, out, _err = self.runner.run(argv, "list installed packages")
        packages = parse_dpkg_query(out, self.native_arch(out))
        if out.strip() and not packages:
            raise malformed("list installed packages", argv, out, "no installed package could be read")
        self.unfinished[:] = unfinished(packages)
        return packages

    def updates(self, installed=None):
        """apt-cache policy over every installed package: its installed and candidate versions and
        the candidate's sources, in one call (an order of magnitude faster than simulating a
        dist-upgrade, whose resolver is patch_apply's business)."""
        wait_for_locks(LOCKS, self.lock_timeout, "apt")
        packages = (installed or self.installed)()
        if not packages:
            return []
        argv = POLICY + [p["query_name"] for p in packages]
        _rc, out, _err = self.runner.run(argv, "list apt updates")
        policy = parse_policy(out)
        if not policy:
            raise malformed("list apt updates", argv[:3] + ["..."], out, "no package could be read")
        updates = updates_from_policy(packages, policy, read_releases(self.lists_dir))
        if self.source_packages and updates:
            self.add_sources(updates, packages)
        return updates

    def add_sources(self, updates, packages):
        """Source package and versions of each update, from apt's own records of the installed and
        the candidate version (`apt-cache show NAME=VERSION`, the installed one from dpkg's status)."""
        query_names = dict(((p["name"], p["arch"]), p["query_name"]) for p in packages)
        specs = []
        for update in updates:
            query = query_names.get((update["name"], update["arch"]), update["name"])
            specs.extend("%s=%s" % (query, v) for v in (update["installed_version"], update["available_version"]))
        argv = ["apt-cache", "show"] + specs
        _rc, out, _err = self.runner.run(argv, "read the source packages of the apt updates", ok_rcs=(0, 100))
        annotate_sources(updates, parse_show_sources(out))

    def resolve(self, updates):
        """Ask apt what installing exactly these updates would do, as patch_apply would ask it
        (`apt-get install NAME=VERSION...`, simulated): _resolution.resolve_updates."""
        return resolve_updates(updates, self._simulate, self._transaction, "apt", self._suspects)

    def _suspects(self, updates, output):
        """The updates a refusal that blamed none of them may be about (_resolution): apt's own
        records of the packages it names and of the requested versions, one `apt-cache show`."""
        named = mentioned(parse_unmet(output))
        if not named:
            return set()
        argv = ["apt-cache", "show", "--no-all-versions"] + sorted(named) + self._install_specs(updates)
        _rc, out, _err = self.runner.run(argv, "read the packages apt named", ok_rcs=(0, 100))
        return suspects_of(parse_show(out), named, set(u["name"] for u in updates))

    @staticmethod
    def _install_specs(updates):
        return ["%s%s=%s" % (u["name"], "" if u["arch"] in ("all", None) else ":" + u["arch"], u["available_version"])
                for u in updates]

    def _simulate(self, updates):
        argv = ["apt-get", "--simulate", "--quiet", "--option", "Debug::NoLocking=true", "install"] + \
            self._install_specs(updates)
        rc, out, err = self.runner.run(argv, "resolve the approved apt updates", ok_rcs=(0, 100))
        if rc == 0:
            removed = removed_packages(out)
            if not removed:
                return True, out, {}
            return False, out, blame_removals(removed, set(u["name"] for u in updates))
        unmet = parse_unmet(out + "\n" + err)
        resolver_error = r"^E: (Unable to correct problems|Error, pkgProblemResolver|Version '.*' for '.*' was not found)"
        if not unmet and not re.search(resolver_error, err or "", re.M):
            self.runner.raise_for(argv, "resolve the approved apt updates", rc, out, err)
        blamed = blame(unmet, set(u["name"] for u in updates))
        if not blamed and len(updates) == 1 and unmet:
            # asked alone: whatever apt names is why this one cannot be installed
            blamed[updates[0]["name"]] = "; ".join("%s %s" % (name, why) for name, _arch, why in unmet)[:300]
        missing = re.findall(r"^E: Version '(?P<version>[^']+)' for '(?P<name>[^':]+)(?::\S+)?' was not found", err or "", re.M)
        for version, name in missing:
            blamed.setdefault(name, "apt offers no version %s any more" % version)
        return False, out + "\n" + err, blamed

    @staticmethod
    def _transaction(updates, out):
        """(new_packages, removals) of a simulated install; an update apt would take to another
        version than the one asked is not installable as assessed."""
        requested = dict(((u["name"], u["arch"]), u) for u in updates)
        new_packages, removals = [], []
        for change in parse_simulation(out):
            if change["after"] is None:
                removals.append({"name": change["name"], "version": change["before"]})
                continue
            update = requested.get((change["name"], change["arch"]))
            if update is None and change["before"] is None:
                new_packages.append({"name": change["name"], "version": change["after"], "arch": change["arch"]})
            elif update is not None and change["after"] != update["available_version"]:
                update["installable"] = False
                update["blocked_reason"] = "apt would install %s instead" % change["after"]
        return new_packages, removals

    # --- transactions (patch_apply, patch_rollback) -----------------------------------------

    @staticmethod
    def _specs(versions, remove, files=None):
        """name=version for each version, or the package file to install it from (files: {name: path};
        apt installs a path given as ./ or /... from that file)."""
        files = files or {}
        return [files.get(name) or "%s=%s" % (name, version) for name, version in sorted(versions.items())] + \
            ["%s-" % name for name in sorted(remove)]

    def plan(self, versions, remove=()):
        """What installing exactly these versions (and removing these names) would change."""
        if not versions and not remove:
            return []
        argv = ["apt-get", "--simulate", "--quiet", "--option", "Debug::NoLocking=true", "install"] + \
            self._specs(versions, remove)
        _rc, out, _err = self.runner.run(argv, "plan the apt transaction")
        return parse_simulation(out)

    def apply(self, versions, remove=(), downgrade=False, files=None):
        """Install exactly these versions (files: {name: package file} for those a file carries) and
        remove these names, in one apt transaction."""
        if not versions and not remove:
            return
        wait_for_locks(LOCKS, self.lock_timeout, "apt")
        argv = ["apt-get", "install", "--yes", "--quiet"] + INSTALL_OPTIONS + \
            (["--allow-downgrades"] if downgrade else []) + self._specs(versions, remove, files)
        self.runner.run(argv, "install with apt", transaction=True, env=NONINTERACTIVE)

    def interrupted(self):
        """dpkg's own marker of a killed run: numbered entries in /var/lib/dpkg/updates (the only
        ones dpkg reads), as problems a preflight or a repair reports."""
        directory = "/var/lib/dpkg/updates"
        try:
            entries = [n for n in os.listdir(directory) if n.isdigit()]
        except OSError:
            entries = []
        return ["dpkg was interrupted (%s holds %d entries)" % (directory, len(entries))] if entries else []

    def recover(self, journal=None):
        """An interrupted dpkg (killed mid-transaction) blocks apt until `dpkg --configure -a`;
        a package left half-installed needs apt to install it again (`apt-get install -f`)."""
        if not self.interrupted() and not self.unfinished:
            return
        wait_for_locks(LOCKS, self.lock_timeout, "apt")
        self.runner.run(["dpkg", "--configure", "-a"] + DPKG_FORCE,
                        "finish the interrupted dpkg run (dpkg --configure -a)", transaction=True, env=NONINTERACTIVE)
        self.installed()
        if self.unfinished:
            self.runner.run(["apt-get", "install", "--fix-broken", "--yes"] + INSTALL_OPTIONS,
                            "reinstall what dpkg left half-installed (apt-get install --fix-broken)",
                            transaction=True, env=NONINTERACTIVE)

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

    # --- package files (the rollback cache, _rollback_cache) -------------------------------

    @staticmethod
    def package_file_name(name, version, arch):
        """Debian's own file name, as apt-get download and the archives directory write it."""
        return "%s_%s_%s.deb" % (name, version.replace(":", "%3a"), arch)

    def package_cache_paths(self, name, version, arch):
        return [os.path.join(ARCHIVES, self.package_file_name(name, version, arch))]

    def installed_sizes(self, names):
        """{name: bytes} the installed packages take (dpkg's Installed-Size, KiB)."""
        if not names:
            return {}
        argv = ["dpkg-query", "--show", "--showformat", "${Package}\t${Installed-Size}\n"] + sorted(names)
        _rc, out, _err = self.runner.run(argv, "read installed sizes", ok_rcs=(0, 1))
        return _rollback_cache.sizes_from(out, 1024)

    def package_file_identity(self, path):
        """(Package, Version, Architecture) from a .deb's control file."""
        argv = ["dpkg-deb", "--field", path, "Package", "Version", "Architecture"]
        _rc, out, _err = self.runner.run(argv, "read the package file %s" % path)
        fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
        try:
            return fields["Package"].strip(), fields["Version"].strip(), fields["Architecture"].strip()
        except KeyError:
            raise malformed("read the package file %s" % path, argv, out, "no Package, Version and Architecture")

    def download_package(self, name, version, arch, directory, query_name=None):
        argv = ["apt-get", "download", "--quiet", "%s=%s" % (query_name or name, version)]
        self.runner.run(argv, "download %s %s" % (name, version), cwd=directory)

    @staticmethod
    def can_rebuild():
        return which("dpkg-repack") is not None

    def rebuild_package(self, name, version, arch, directory, query_name=None):
        """A .deb of the installed version rebuilt from its files by dpkg-repack (Debian's tool for
        exactly this; not installed by default: `apt-get install dpkg-repack`)."""
        if not self.can_rebuild():
            raise PatchError("dpkg-repack is not installed (it rebuilds a package from its installed files: "
                             "apt-get install dpkg-repack)")
        argv = ["dpkg-repack", query_name or name]
        self.runner.run(argv, "rebuild %s %s from its installed files (dpkg-repack)" % (name, version), cwd=directory)

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
