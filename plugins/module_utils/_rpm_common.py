# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

What the dnf and zypper backends share: the rpm database query, advisory attachment and
merging, severities, recovery from a killed transaction (RpmBackend) and package files.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools
import glob
import re

from ansible_collections.fleetpatch.patching.plugins.module_utils import _rollback_cache
from ansible_collections.fleetpatch.patching.plugins.module_utils._backend import Backend
from ansible_collections.fleetpatch.patching.plugins.module_utils._commands import malformed
from ansible_collections.fleetpatch.patching.plugins.module_utils._versions import compare_rpm_evr
from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import CLASSIFICATION_RANK, SEVERITY_RANK

RPM_QUERY_FORMAT = "%{NAME}|%{EPOCHNUM}|%{VERSION}|%{RELEASE}|%{ARCH}\\n"
_TYPES = {"security": "security", "bugfix": "bugfix", "enhancement": "enhancement",
          "recommended": "bugfix", "optional": "enhancement", "feature": "enhancement",
          "newpackage": "enhancement", "yast": "other", "document": "other"}


_NEVRA = re.compile(r"^(?P<name>.+)-(?P<evr>(?:\d+:)?[^-:]+-[^-]+)\.(?P<arch>[^.]+)$")


def parse_nevra(text):
    """(name, evr, arch) of a NEVRA such as fp-db-1:1.1-1.noarch (dnf's lists, rpm's messages)."""
    match = _NEVRA.match(text)
    if not match:
        return None
    return match.group("name"), match.group("evr"), match.group("arch")


def evr(epoch, version, release):
    epoch = str(epoch or "0")
    return "%s%s-%s" % ("" if epoch in ("0", "(none)") else epoch + ":", version, release)


def normalize_severity(text):
    """Vendor severities (Critical, Important, Moderate, Low, None, unspecified...) to ours."""
    value = (text or "").strip().lower()
    return value if value in SEVERITY_RANK else "unknown"


def normalize_type(text):
    return _TYPES.get((text or "").strip().lower(), "other")


def parse_rpm_query(text):
    """[{name, version, arch}] from `rpm -qa --qf RPM_QUERY_FORMAT` (gpg-pubkey entries dropped)."""
    packages = []
    for line in text.splitlines():
        fields = line.strip().split("|")
        if len(fields) != 5 or fields[0] == "gpg-pubkey":
            continue
        name, epoch, version, release, arch = fields
        packages.append({"name": name, "version": evr(epoch, version, release), "arch": arch})
    return packages


def installed_rpms(runner, root=None):
    argv = ["rpm", "--query", "--all", "--queryformat", RPM_QUERY_FORMAT]
    if root:
        argv[1:1] = ["--root", root]
    _rc, out, _err = runner.run(argv, "list installed packages")
    packages = parse_rpm_query(out)
    if out.strip() and not packages:
        raise malformed("list installed packages", argv, out, "no installed package could be read")
    return packages


def merge_advisories(update, advisories):
    """Fold the advisories that an update's version covers into the update: the most important
    classification, the highest severity, every id and CVE, the newest issue date, reboot if any."""
    classification, severity = "other", "unknown"
    ids, cves, issued, reboot = [], [], None, False
    for adv in advisories:
        if CLASSIFICATION_RANK[adv["classification"]] < CLASSIFICATION_RANK[classification]:
            classification = adv["classification"]
        if SEVERITY_RANK[adv["severity"]] < SEVERITY_RANK[severity]:
            severity = adv["severity"]
        if adv["id"] not in ids:
            ids.append(adv["id"])
        cves.extend(c for c in adv.get("cves", []) if c not in cves)
        if adv.get("issued") and (issued is None or adv["issued"] > issued):
            issued = adv["issued"]
        reboot = reboot or bool(adv.get("reboot_suggested"))
    update.update({"classification": classification, "severity": severity, "advisories": sorted(ids),
                   "cves": sorted(cves), "issued": issued, "reboot_suggested": reboot})
    return update


UNLISTED_ADVISORY = {"classification": "other", "severity": "unknown", "cves": [], "issued": None,
                     "reboot_suggested": False}


def attach_advisories(updates, fixes, advisories):
    """Each update (a copy) completed with the advisories it covers (merge_advisories).

    fixes: [(advisory id, package name, fixed version, arch or None for any)], from dnf's
    updateinfo or zypper's patch Conflicts; advisories: {advisory id: advisory}. An advisory
    covers an update when it fixes the update's package (its arch, noarch, or any) in a version
    not newer than the available one and newer than the installed one (any, for a package not
    installed). An id the advisories do not describe counts as classification other, severity
    unknown: the metadata named it, but said nothing more."""
    by_name = {}
    for adv_id, name, fixed, arch in fixes:
        by_name.setdefault(name, []).append((adv_id, fixed, arch))
    result = []
    for update in updates:
        current = update.get("installed_version")
        covered = []
        for adv_id, fixed, arch in by_name.get(update["name"], ()):
            if arch not in (None, update["arch"], "noarch") \
                    or compare_rpm_evr(fixed, update["available_version"]) > 0 \
                    or (current and compare_rpm_evr(fixed, current) <= 0):
                continue
            covered.append(advisories.get(adv_id) or dict(UNLISTED_ADVISORY, id=adv_id))
        result.append(merge_advisories(dict(update), covered))
    return result


def duplicates(packages):
    """{name: [versions]} for names the rpm database lists more than once (same arch): what an
    rpm transaction killed between installing the new version and erasing the old one leaves."""
    seen = {}
    for pkg in packages:
        seen.setdefault((pkg["name"], pkg["arch"]), []).append(pkg["version"])
    return dict((name, versions) for (name, _arch), versions in seen.items() if len(versions) > 1)


def duplicate_problems(packages):
    """The unfinished-transaction problems a record reports for duplicated rpm entries."""
    return ["rpm: %s is installed twice (%s): a transaction was killed; the next patch run repairs it from "
            "its journal" % (name, ", ".join(sorted(versions))) for name, versions in sorted(duplicates(packages).items())]


def repair_duplicates(runner, packages, keep_versions, compare, reinstall, root=None):
    """Leave one entry per duplicated name: the version rollback wants (keep_versions) where it is
    one of them, else the newest. The other entries leave the database only (--justdb: their
    files are shared with the kept version); then the kept version is reinstalled, so that the
    files on disk are its own again. Returns the names repaired."""
    repaired = []
    for name, versions in sorted(duplicates(packages).items()):
        wanted = keep_versions.get(name)
        keep = wanted if wanted in versions else sorted(versions, key=_cmp_key(compare))[-1]
        for version in versions:
            if version != keep:
                argv = ["rpm", "--erase", "--nodeps", "--noscripts", "--justdb", "%s-%s" % (name, _rpm_spec(version))]
                if root:
                    argv[1:1] = ["--root", root]
                runner.run(argv, "remove the stale %s %s entry from the rpm database" % (name, version))
        reinstall(name, keep)
        repaired.append(name)
    return repaired


def _rpm_spec(version):
    """rpm -e takes name-version-release without the epoch."""
    return version.split(":", 1)[1] if ":" in version else version


def _cmp_key(compare):
    return functools.cmp_to_key(compare)


# The package a dnf or zypper problem line is about: "nothing provides libfoo needed by
# fp-db-1.2-1.noarch", "package fp-db-1.2-1.noarch requires libfoo, but none of the providers can
# be installed", "needed by the to be installed fp-db-1.2-1.noarch", "fp-db-1.2-1.noarch is locked".
_PROBLEM_SUBJECT = re.compile(r"(?:needed by (?:the to be installed )?|package |problem with installed package |"
                              r"cannot install the best update candidate for package )(?P<nevra>[^\s,']+)")


def blame_problems(text, requested):
    """{requested name: the problem line} for the requested names a resolver's problems name."""
    blamed = {}
    for line in (text or "").splitlines():
        line = line.strip().lstrip("-").strip()
        for match in _PROBLEM_SUBJECT.finditer(line):
            nevra = match.group("nevra")
            for name in requested:
                if nevra == name or nevra.startswith(name + "-") and re.match(r"^\d|^\d+:", nevra[len(name) + 1:]):
                    blamed.setdefault(name, line[:300])
    return blamed


# --- package files (the rollback cache, _rollback_cache) ---------------------------------------
# Where dnf 4, yum and dnf 5 keep downloaded packages (only with keepcache=1: their default
# deletes them after a successful transaction), and zypper (keeppackages=1).
DNF_CACHE_GLOBS = ("/var/cache/dnf/*/packages", "/var/cache/yum/*/*/*/packages", "/var/cache/libdnf5/*/packages")
ZYPPER_CACHE_GLOBS = ("/var/cache/zypp/packages/**",)      # <repository>/<path in it>/file.rpm


def rpm_file_name(name, version, arch):
    """The file name rpm packages carry: name-version-release.arch.rpm (no epoch)."""
    return "%s-%s.%s.rpm" % (name, version.split(":", 1)[-1], arch)


class RpmPackageFiles:
    """The rollback cache's part of the backend contract (_rollback_cache) that dnf and zypper share:
    the file name, the manager's cache (PACKAGE_CACHE_GLOBS), the header, the installed sizes. The
    backend provides runner, root and its own download_package."""
    PACKAGE_CACHE_GLOBS = ()

    package_file_name = staticmethod(rpm_file_name)

    def package_cache_paths(self, name, version, arch):
        file_name = rpm_file_name(name, version, arch)
        return [path for pattern in self.PACKAGE_CACHE_GLOBS
                for path in sorted(glob.glob((self.root or "") + pattern + "/" + file_name, recursive=True))]

    def package_file_identity(self, path):
        """(name, version with epoch, arch) from an rpm file's header (its signature is not checked
        here: the file came from a repository the manager checked, and its sha256 is in the journal)."""
        argv = ["rpm", "--query", "--package", "--nosignature", "--nodigest", "--queryformat", RPM_QUERY_FORMAT, path]
        _rc, out, _err = self.runner.run(argv, "read the package file %s" % path)
        packages = parse_rpm_query(out)
        if len(packages) != 1:
            raise malformed("read the package file %s" % path, argv, out, "not one package header")
        return packages[0]["name"], packages[0]["version"], packages[0]["arch"]

    def installed_sizes(self, names):
        """{name: bytes} the installed packages take (rpm's SIZE)."""
        if not names:
            return {}
        argv = ["rpm", "--query", "--queryformat", "%{NAME}\t%{SIZE}\n"] + \
            (["--root", self.root] if self.root else []) + sorted(names)
        _rc, out, _err = self.runner.run(argv, "read installed sizes", ok_rcs=(0, 1))
        return _rollback_cache.sizes_from(out, 1)


class RpmBackend(RpmPackageFiles, Backend):
    """What the dnf and zypper backends share of the contract (_backend.Backend): rpm's version
    comparison, the installed list from the rpm database, recovery from a killed transaction and
    the package files (RpmPackageFiles). A subclass provides _reinstall(name, version)."""

    compare = staticmethod(compare_rpm_evr)

    def installed(self):
        # every reader of the installed list learns of duplicates (preflight and repair read no updates)
        packages = installed_rpms(self.runner, self.root)
        self.unfinished[:] = duplicate_problems(packages)
        return packages

    def recover(self, journal=None):
        """A dnf or zypper killed mid-transaction leaves old and new versions of a package both in
        the rpm database; keep the journal's version of each."""
        keep = (journal or {}).get("before") or {}
        repair_duplicates(self.runner, self.installed(), dict((n, v) for n, v in keep.items() if v),
                          compare_rpm_evr, self._reinstall, self.root)

    def _reinstall(self, name, version):
        """Install that version again over what is on disk (repair_duplicates)."""
        raise NotImplementedError
