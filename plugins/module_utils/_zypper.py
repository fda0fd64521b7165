# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

The zypper backend (SUSE, openSUSE). `--xmlout list-updates` gives package versions,
`--xmlout list-patches` the needed patches (category, severity, restart flag, issue date, CVEs);
one `info -t patch` call for all of them ties each patch to the package versions it fixes (its
Conflicts: "name < version"). Exit codes 100-106 are information (updates, patches, reboot
needed...), not failure. The category filter is ignored with --xmlout, so we filter ourselves.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import glob
import os
import re
import time
import xml.etree.ElementTree as ET

from ansible_collections.fleetpatch.patching.plugins.module_utils._commands import malformed
from ansible_collections.fleetpatch.patching.plugins.module_utils._locks import wait_for_locks
from ansible_collections.fleetpatch.patching.plugins.module_utils._resolution import resolve_updates
from ansible_collections.fleetpatch.patching.plugins.module_utils._rpm_common import (
    ZYPPER_CACHE_GLOBS, RpmBackend, attach_advisories, blame_problems, duplicate_problems, merge_advisories,
    normalize_severity, normalize_type)
from ansible_collections.fleetpatch.patching.plugins.module_utils._versions import compare_rpm_evr

INFO_RCS = (0, 100, 101, 102, 103, 104, 105, 106)
EXIT_ERR_ZYPP = 4           # a libzypp error; `refresh` uses it when a repository failed
EXIT_REPOS_SKIPPED = 106    # ZYPPER_EXIT_INF_REPOS_SKIPPED: the answer lacks a repository
PROBLEM_CHARS = 300
_CONFLICT = re.compile(r"^\s*(?P<name>[^\s<>=]+)\s*<\s*(?P<evr>\S+)\s*$")
# zypper names a package with its architecture when the patch is for one ("libfoo1.x86_64")
_ARCH_SUFFIX = re.compile(r"\.(noarch|x86_64|i586|i686|aarch64|ppc64le|s390x|armv7hl)$")


class XmlError(ValueError):
    pass


def _xml(text):
    start = text.find("<?xml")
    if start < 0:
        start = text.find("<stream")
    if start < 0:
        raise XmlError("no XML document in the output")
    try:
        return ET.fromstring(text[start:].strip())
    except ET.ParseError as exc:
        raise XmlError("invalid XML: %s" % exc)


def parse_list_updates(text):
    """[{name, arch, installed_version, available_version, repository}] from list-updates."""
    root = _xml(text)
    updates = []
    for node in root.iter("update"):
        if node.get("kind", "package") != "package":
            continue
        source = node.find("source")
        updates.append({
            "name": node.get("name"), "arch": node.get("arch"),
            "installed_version": node.get("edition-old"), "available_version": node.get("edition"),
            "repository": source.get("alias") if source is not None else None,
        })
    return [u for u in updates if u["name"] and u["available_version"]]


def parse_list_patches(text):
    """{patch id: advisory} for needed patches from list-patches."""
    root = _xml(text)
    patches = {}
    for node in root.iter("update"):
        # needed: fixes an installed package; optional: an enhancement not forced on anyone.
        if node.get("kind") != "patch" or node.get("status", "needed") not in ("needed", "applicable", "optional"):
            continue
        issued = None
        date = node.find("issue-date")
        if date is not None and (date.get("time_t") or "").isdigit():
            issued = datetime.datetime.fromtimestamp(int(date.get("time_t")), datetime.timezone.utc).date().isoformat()
        cves = sorted(i.get("id") for i in node.iter("issue") if i.get("type") == "cve" and i.get("id"))
        summary = node.findtext("summary") or ""
        source = node.find("source")
        patches[node.get("name")] = {
            "id": node.get("name"), "title": summary.strip(), "status": node.get("status", "needed"),
            "repository": source.get("alias") if source is not None else None,
            "classification": normalize_type(node.get("category")),
            "severity": normalize_severity(node.get("severity")),
            "cves": cves, "issued": issued,
            "reboot_suggested": node.get("restart") == "true",
        }
    return patches


def parse_patch_info(text):
    """{patch id: [(package name, fixed version)]} from `info -t patch ID...`: one XML message per
    patch holding zypper's human-readable block. Its text comes from repository metadata (a
    summary may hold line breaks that look like fields), so the patch is named by the block's
    first Name line and its packages come from the block's last Conflicts field, which zypper
    prints last: one line, or an indented list after '[n]'."""
    root = _xml(text)
    result = {}
    for message in root.iter("message"):
        name, sections, current = None, [], None
        for line in (message.text or "").splitlines():
            if re.match(r"^Name\s*:", line):
                name = name or line.split(":", 1)[1].strip()
                current = None
                continue
            if re.match(r"^[A-Z][A-Za-z ]*:", line):
                current = None
                if line.startswith("Conflicts"):
                    current = []
                    sections.append(current)
                    value = line.split(":", 1)[1].strip()
                    if not value.startswith("["):
                        current.append(value)
                continue
            if current is not None and line.startswith(" "):
                current.append(line.strip())
        if not name:
            continue
        pairs = result.setdefault(name, [])
        for entry in (sections[-1] if sections else []):
            match = _CONFLICT.match(entry)
            if match:
                pairs.append((_ARCH_SUFFIX.sub("", match.group("name")), match.group("evr")))
    return result


def parse_messages(text):
    """[(type, text)] of the messages in zypper's XML output (what it says besides the data)."""
    try:
        root = _xml(text)
    except XmlError:
        return []
    return [(m.get("type"), (m.text or "").strip()) for m in root.iter("message")]


_SKIPPED = re.compile(r"Skipping repository '(?P<repo>[^']+)'")
_CAUSE_LINE = re.compile(r"^(?:Error message: |Error code: |\[[^]]*\] )(?P<cause>.+)$")


def skipped_repositories(messages):
    """{alias: cause} for the repositories zypper skipped, the cause taken from the error it
    printed before the 'Skipping repository' warning (its Error message line, else its first)."""
    skipped, last_error = {}, None
    for kind, text in messages:
        match = _SKIPPED.search(text)
        if match:
            skipped[match.group("repo")] = last_error or text.splitlines()[0]
            last_error = None
            continue
        if kind == "error" and text:
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            causes = [m.group("cause") for m in (_CAUSE_LINE.match(line) for line in lines) if m]
            last_error = (causes[-1] if causes else lines[0])
    return skipped


def parse_install_summary(text):
    """[{name, arch, before, after}] from `zypper --xmlout install --dry-run` (install-summary)."""
    root = _xml(text)
    changes = []
    for summary in root.iter("install-summary"):
        for section in summary:
            for node in section.iter("solvable"):
                if node.get("type", "package") != "package":
                    continue
                removing = section.tag == "to-remove"
                changes.append({
                    "name": node.get("name"), "arch": node.get("arch"),
                    "before": node.get("edition") if removing else node.get("edition-old"),
                    "after": None if removing else node.get("edition"),
                })
    return changes


def parse_search(text):
    """{name: set of versions offered by a repository} from `--xmlout search -s --match-exact`."""
    offered = {}
    for node in _xml(text).iter("solvable"):
        if node.get("kind", "package") == "package" and node.get("repository") != "(System Packages)":
            offered.setdefault(node.get("name"), set()).add(node.get("edition"))
    return offered


def attach_patches(updates, patches, fixes):
    """Each update with the needed patches that fix it (_rpm_common.attach_advisories); zypper's
    Conflicts name no architecture."""
    return attach_advisories(updates, [(patch_id, name, fixed, None) for patch_id, pairs in fixes.items()
                                       if patch_id in patches for name, fixed in pairs], patches)


NOT_OFFERED = ("zypper list-updates offers no version that fixes it (a package lock, or a dependency "
               "that cannot be resolved, holds it back)")


def blocked_by_patches(updates, patches, fixes, installed):
    """Updates for the packages of needed patches that list-updates does not offer: a lock or an
    unresolvable dependency hides them there, yet the host is still exposed. Each is reported
    with the version the patch brings and installable false, so that it is blocked, not lost."""
    offered = dict(((u["name"], u["arch"]), u["available_version"]) for u in updates)
    by_name = {}
    for pkg in installed:
        by_name.setdefault(pkg["name"], []).append(pkg)
    blocked = {}
    for patch_id, pairs in sorted(fixes.items()):
        patch = patches.get(patch_id)
        if not patch or patch.get("status") != "needed":
            continue
        for name, fixed in pairs:
            for pkg in by_name.get(name, []):
                key = (name, pkg["arch"])
                if compare_rpm_evr(pkg["version"], fixed) >= 0:
                    continue
                if key in offered and compare_rpm_evr(offered[key], fixed) >= 0:
                    continue
                entry = blocked.setdefault(key, {
                    "name": name, "arch": pkg["arch"], "installed_version": pkg["version"], "available_version": fixed,
                    "repository": patch.get("repository"), "installable": False, "blocked_reason": NOT_OFFERED,
                    "_patches": []})
                if compare_rpm_evr(fixed, entry["available_version"]) > 0:
                    entry["available_version"] = fixed
                entry["_patches"].append(patch)
    result = []
    for entry in blocked.values():
        covered = entry.pop("_patches")
        result.append(merge_advisories(entry, covered))
    return result


class ZypperBackend(RpmBackend):
    """The backend contract (_backend.Backend) for zypper."""
    name = "zypper"
    PACKAGE_CACHE_GLOBS = ZYPPER_CACHE_GLOBS

    def __init__(self, runner, root=None, lock_timeout=120):
        self.runner = runner
        self.root = root if root not in (None, "", "/") else None
        self.lock_timeout = lock_timeout
        self.incomplete = []    # why the answer may be incomplete (repositories skipped)
        self.unfinished = []    # rpm database entries a killed transaction left (duplicates)
        self.skipped_repos = {}
        # zypper can wait for its own lock too; give it the same bound.
        self.runner.env["ZYPP_LOCK_TIMEOUT"] = str(lock_timeout)

    def _argv(self, *args, **kwargs):
        argv = ["zypper", "--non-interactive"]
        if kwargs.get("xml"):
            argv.append("--xmlout")
        if self.root:
            argv += ["--root", self.root]
        return argv + list(args)

    def _wait(self):
        wait_for_locks([((self.root or "") + "/run/zypp.pid", "pidfile")], self.lock_timeout, "zypper")

    def _note_skipped(self, skipped):
        for repo, cause in sorted(skipped.items()):
            if repo not in self.skipped_repos:
                self.skipped_repos[repo] = cause
                self.incomplete.append(("zypper: repository '%s' was skipped: %s" % (repo, cause))[:PROBLEM_CHARS])

    def refresh(self, cache_valid_time=0):
        """True when every repository was refreshed. zypper exits 4 ('Some of the repositories
        have not been refreshed') or 106 when it skipped one: that goes to incomplete."""
        self._wait()
        argv = self._argv("refresh", xml=True)
        rc, out, err = self.runner.run(argv, "refresh the zypper repositories", ok_rcs=INFO_RCS + (EXIT_ERR_ZYPP,))
        skipped = skipped_repositories(parse_messages(out))
        if rc == EXIT_ERR_ZYPP and not skipped:
            self.runner.raise_for(argv, "refresh the zypper repositories", rc, out, err)
        if rc in (EXIT_ERR_ZYPP, EXIT_REPOS_SKIPPED) and not skipped:
            skipped = {"?": "zypper exited %d (a repository was skipped) without naming it" % rc}
        self._note_skipped(skipped)
        return not skipped

    def cache_age(self):
        """Seconds since repository metadata last arrived (the newest raw repomd.xml)."""
        times = []
        for path in glob.glob((self.root or "") + "/var/cache/zypp/raw/*/repodata/repomd.xml"):
            try:
                times.append(os.stat(path).st_mtime)
            except OSError:
                continue
        return max(0, int(time.time() - max(times))) if times else None

    # installed(), recover(): RpmBackend

    def _xml_command(self, action, *args):
        """A query in XML; exit 106 means it answered without a repository it had to skip."""
        argv = self._argv(*args, xml=True)
        rc, out, _err = self.runner.run(argv, action, ok_rcs=INFO_RCS)
        if rc == EXIT_REPOS_SKIPPED:
            skipped = skipped_repositories(parse_messages(out)) or \
                {"?": "zypper exited 106 (a repository was skipped) without naming it"}
            self._note_skipped(skipped)
        return argv, out

    def updates(self, installed=None):
        self._wait()
        argv, out = self._xml_command("list zypper updates", "list-updates")
        try:
            updates = parse_list_updates(out)
            argv, out = self._xml_command("list zypper patches", "list-patches")
            patches = parse_list_patches(out)
            fixes = {}
            if patches:
                argv, out = self._xml_command("read zypper patches", "info", "-t", "patch", *sorted(patches))
                fixes = parse_patch_info(out)
        except XmlError as exc:
            raise malformed("read zypper output", argv, out, str(exc))
        installed_packages = (installed or self.installed)()
        self.unfinished[:] = duplicate_problems(installed_packages)
        held_back = blocked_by_patches(updates, patches, fixes, installed_packages)
        # an offered update below what a patch needs is replaced by the blocked patch version
        held_keys = set((u["name"], u["arch"]) for u in held_back)
        kept = [u for u in updates if (u["name"], u["arch"]) not in held_keys]
        return attach_patches(kept, patches, fixes) + held_back

    def resolve(self, updates):
        """Ask zypper what installing exactly these updates would do (`install --dry-run
        NAME=VERSION...`): _resolution.resolve_updates."""
        return resolve_updates(updates, self._simulate, self._transaction, "zypper")

    def _simulate(self, updates):
        specs = ["%s=%s" % (u["name"], u["available_version"]) for u in updates]
        argv = self._argv("install", "--dry-run", *specs, xml=True)
        rc, out, err = self.runner.run(argv, "resolve the approved zypper updates", ok_rcs=INFO_RCS + (EXIT_ERR_ZYPP,))
        if rc != EXIT_ERR_ZYPP:
            return True, out, {}
        text = "\n".join(t for _kind, t in parse_messages(out)) + "\n" + err
        blamed = blame_problems(text, set(u["name"] for u in updates))
        if not blamed and "Problem" not in text and "not found" not in text:
            self.runner.raise_for(argv, "resolve the approved zypper updates", rc, out, err)
        return False, out, blamed

    @staticmethod
    def _transaction(updates, out):
        requested = set(u["name"] for u in updates)
        new_packages, removals = [], []
        try:
            changes = parse_install_summary(out)
        except XmlError:
            return [], []
        for change in changes:
            if change["after"] is None:
                removals.append({"name": change["name"], "version": change["before"]})
            elif change["before"] is None and change["name"] not in requested:
                new_packages.append({"name": change["name"], "version": change["after"], "arch": change["arch"]})
        return new_packages, removals

    # --- transactions (patch_apply, patch_rollback) -----------------------------------------

    @staticmethod
    def _specs(versions, remove, files=None):
        files = files or {}
        return [files.get(n) or "%s=%s" % (n, v) for n, v in sorted(versions.items())] + \
            ["!%s" % n for n in sorted(remove)]

    def plan(self, versions, remove=()):
        if not versions and not remove:
            return []
        argv = self._argv("install", "--dry-run", *self._specs(versions, remove), xml=True)
        _rc, out, _err = self.runner.run(argv, "plan the zypper transaction", ok_rcs=INFO_RCS)
        try:
            return parse_install_summary(out)
        except XmlError as exc:
            raise malformed("plan the zypper transaction", argv, out, str(exc))

    def apply(self, versions, remove=(), downgrade=False, files=None):
        """Install exactly these versions (files: {name: package file} for those a file carries; an
        unsigned one is allowed, its sha256 was checked against the journal) and remove these names."""
        if not versions and not remove:
            return
        self._wait()
        argv = self._argv("install", *((["--oldpackage"] if downgrade else []) +
                                       (["--allow-unsigned-rpm"] if files else []) + self._specs(versions, remove, files)))
        self.runner.run(argv, "install with zypper", ok_rcs=INFO_RCS, transaction=True)

    def _reinstall(self, name, version):
        self.runner.run(self._argv("install", "--force", "%s=%s" % (name, version)),
                        "reinstall %s %s" % (name, version), ok_rcs=INFO_RCS, transaction=True)

    def available_versions(self, names):
        if not names:
            return {}
        argv = self._argv("search", "--details", "--match-exact", *sorted(names), xml=True)
        _rc, out, _err = self.runner.run(argv, "list available zypper versions", ok_rcs=INFO_RCS + (104,))
        try:
            found = parse_search(out)
        except XmlError as exc:
            raise malformed("list available zypper versions", argv, out, str(exc))
        return dict((n, found.get(n, set())) for n in names)

    # --- package files (the rollback cache, _rollback_cache) -------------------------------

    # package_file_name, package_cache_paths, package_file_identity, installed_sizes: RpmPackageFiles

    def download_package(self, name, version, arch, directory, query_name=None):
        """`zypper download` of that exact edition into directory (--pkg-cache-dir: it writes
        <repository>/<arch>/file.rpm there)."""
        argv = ["zypper", "--non-interactive", "--pkg-cache-dir", directory] + \
            (["--root", self.root] if self.root else []) + ["download", "%s=%s" % (name, version)]
        self.runner.run(argv, "download %s %s" % (name, version), ok_rcs=INFO_RCS)

    def reboot_status(self):
        reasons = []
        rc, _out, _err = self.runner.run(self._argv("needs-rebooting"), "ask zypper needs-rebooting",
                                         ok_rcs=INFO_RCS + (1, 2))
        if rc == 102:
            reasons.append("zypper needs-rebooting: a reboot-needed package was updated")
        else:
            for path in ("/run/reboot-needed", "/var/run/reboot-needed"):
                if os.path.exists((self.root or "") + path):
                    reasons.append(path + " exists")
                    break
        return reasons, []
