# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

The dnf backend (dnf 4, dnf 5, and yum where it is all there is). Versions come from
`repoquery --upgrades`, advisories from updateinfo: `updateinfo list` ties advisory ids to the
package versions they fix, `updateinfo info` gives type, severity, CVEs and dates. An update is
covered by every advisory for its package whose version is not newer than the update's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import glob
import json
import os
import re
import time

from ansible_collections.fleetpatch.patching.plugins.module_utils._commands import malformed
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError
from ansible_collections.fleetpatch.patching.plugins.module_utils._locks import wait_for_locks
from ansible_collections.fleetpatch.patching.plugins.module_utils._resolution import resolve_updates
from ansible_collections.fleetpatch.patching.plugins.module_utils._rpm_common import (
    DNF_CACHE_GLOBS, RpmBackend, blame_problems, duplicate_problems, evr, normalize_severity, normalize_type,
    parse_nevra)
from ansible_collections.fleetpatch.patching.plugins.module_utils._rpm_common import (
    attach_advisories as rpm_attach_advisories)
from ansible_collections.fleetpatch.patching.plugins.module_utils._versions import compare_rpm_evr

REPOQUERY_FORMAT = "%{name}|%{epoch}|%{version}|%{release}|%{arch}|%{reponame}"
# %{obsoletes} may list several relations, one a line: a line without the six fields continues it
OBSOLETES_FORMAT = REPOQUERY_FORMAT + "|%{obsoletes}"
_LIST_LINE = re.compile(r"^(?P<id>\S+)\s+(?P<type>\S+)\s+(?P<nevra>\S+)$")
_INFO_FIELD = re.compile(r"^\s*(?P<key>[A-Za-z][A-Za-z ]*?)?\s*: ?(?P<value>.*)$")
_BANNER = re.compile(r"^={20,}$")
# dnf 4 on stderr when a repository could not be refreshed (with skip_if_unavailable it goes on
# without it and exits 0; under --quiet it says nothing at all, so refresh() is not quiet).
_REPO_FAILED = re.compile(r"^Error: Failed to download metadata for repo '(?P<repo>[^']+)': (?P<cause>.*)$")
_REPO_DETAIL = re.compile(r"^Errors during downloading metadata for repository '(?P<repo>[^']+)':$")
_IGNORED = re.compile(r"^Ignoring repositories: (?P<repos>.+)$")
# libsolv's parsers log a metadata file they cannot read to hawkey.log only, and dnf goes on
# without it: a corrupt updateinfo.xml silently loses every advisory.
_SOLV_PARSE_ERROR = re.compile(r"\b(?P<parser>repo_\w+): (?P<error>.+)$")
LOG_FILES = ("/var/log/hawkey.log",)
PROBLEM_CHARS = 300


_SECTION = re.compile(r"^(Installing|Upgrading|Downgrading|Reinstalling|Removing)[a-z ]*:$")


def parse_transaction_table(text):
    """[{name, arch, after}] from the table dnf prints before a transaction (with --assumeno).
    Removals have after None. A long name wraps onto its own line; the rest follows."""
    changes, section, pending = [], None, None
    for line in text.splitlines():
        if line.startswith("Transaction Summary"):
            break
        match = _SECTION.match(line.strip())
        if match and not line.startswith(" "):
            section, pending = match.group(1), None
            continue
        if section is None or not line.startswith(" "):
            continue
        tokens = line.split()
        if pending and tokens:
            tokens = [pending] + tokens
            pending = None
        if len(tokens) == 1:
            pending = tokens[0]
            continue
        if len(tokens) < 4 or tokens[0] == "replacing":
            continue
        name, arch, evr_text = tokens[0], tokens[1], tokens[2]
        changes.append({"name": name, "arch": arch, "after": None if section == "Removing" else evr_text,
                        "removed_version": evr_text if section == "Removing" else None, "section": section})
    return changes


_REPLACING = re.compile(r"^\s+replacing\s+(?P<name>\S+)\.(?P<arch>[^.\s]+)\s+(?P<evr>\S+)\s*$")


def parse_replacements(text):
    """[{name, version}] of the packages a dnf transaction table says are obsoleted ("replacing")."""
    found = []
    for line in text.splitlines():
        if line.startswith("Transaction Summary"):
            break
        match = _REPLACING.match(line)
        if match:
            found.append({"name": match.group("name"), "version": match.group("evr")})
    return found


def parse_repoquery(text):
    """[{name, arch, available_version, repository}] from repoquery --qf REPOQUERY_FORMAT."""
    updates = []
    for line in text.splitlines():
        fields = line.strip().split("|")
        if len(fields) != 6:
            continue
        name, epoch, version, release, arch, repo = fields
        updates.append({"name": name, "arch": arch, "available_version": evr(epoch, version, release),
                        "repository": repo})
    return updates


def parse_obsoletes(text):
    """[{name, arch, available_version, repository, relations: ["name op evr", ...]}]."""
    found = []
    for line in text.splitlines():
        fields = line.strip().split("|")
        if len(fields) == 7:
            name, epoch, version, release, arch, repo, relation = fields
            found.append({"name": name, "arch": arch, "available_version": evr(epoch, version, release),
                          "repository": repo, "relations": [relation] if relation else []})
        elif found and line.strip():
            found[-1]["relations"].append(line.strip())
    return found


_RELATION = re.compile(r"^(?P<name>[^\s<>=]+)(?:\s*(?P<op><=|>=|<|>|=)\s*(?P<evr>\S+))?$")
_OPS = {"<": lambda c: c < 0, "<=": lambda c: c <= 0, "=": lambda c: c == 0, ">=": lambda c: c >= 0,
        ">": lambda c: c > 0}


def obsoleters(candidates, installed):
    """The candidates that obsolete an installed package (by its relation: name and version), not
    installed themselves, as updates with installed_version None and `obsoletes`."""
    by_name = {}
    for pkg in installed:
        by_name.setdefault(pkg["name"], []).append(pkg["version"])
    result = []
    for cand in candidates:
        if cand["name"] in by_name:
            continue
        replaced = []
        for relation in cand["relations"]:
            match = _RELATION.match(relation.strip())
            if not match or match.group("name") not in by_name:
                continue
            op, wanted = match.group("op"), match.group("evr")
            for version in by_name[match.group("name")]:
                if op is None or _OPS[op](compare_rpm_evr(version, wanted)):
                    replaced.append(match.group("name"))
                    break
        if replaced:
            entry = dict((k, v) for k, v in cand.items() if k != "relations")
            entry["obsoletes"] = sorted(set(replaced))
            result.append(entry)
    return result


def parse_updateinfo_list(text):
    """[(advisory id, (name, evr, arch))] from `updateinfo list`."""
    pairs = []
    for line in text.splitlines():
        match = _LIST_LINE.match(line.strip())
        if not match:
            continue
        nevra = parse_nevra(match.group("nevra"))
        if nevra:
            pairs.append((match.group("id"), nevra))
    return pairs


def parse_updateinfo_info(text):
    """{advisory id: {id, classification, severity, cves, issued, reboot_suggested, title}}
    from `updateinfo info` (blocks of 'Key : value' lines; a line ': value' continues a key)."""
    advisories = {}
    current, key, title_next = None, None, False
    for raw in text.splitlines():
        line = raw.rstrip()
        if _BANNER.match(line.strip()):
            title_next = not title_next
            if title_next:
                current = {"id": None, "title": "", "classification": "other", "severity": "unknown",
                           "cves": [], "issued": None, "updated": None, "reboot_suggested": False}
            continue
        if title_next and current is not None and line.strip():
            current["title"] = line.strip()
            continue
        match = _INFO_FIELD.match(line)
        if current is None or not match:
            continue
        if match.group("key"):
            key = match.group("key").strip().lower()
        value = match.group("value").strip()
        if key == "update id":
            current["id"] = value
            advisories[value] = current
        elif key == "type":
            current["classification"] = normalize_type(value)
        elif key == "severity":
            current["severity"] = normalize_severity(value)
        elif key == "cves":
            current["cves"].extend(v for v in value.split() if v.startswith("CVE-"))
        elif key == "issued":
            current["issued"] = value[:10] or None
        elif key == "updated":
            current["updated"] = value[:10] or None
        elif key in ("reboot", "need reboot", "reboot suggested"):
            current["reboot_suggested"] = value.lower() in ("yes", "true", "1", "reboot", "system")
    for adv in advisories.values():
        # dnf 4 shows only "Updated" for many repositories; it is the best date there is.
        adv["issued"] = adv["issued"] or adv.pop("updated", None)
        adv.pop("updated", None)
    return advisories


def parse_dnf5_advisory_info(text):
    """(pairs, infos) like the dnf 4 parsers give, from `dnf5 advisory info --json` (documented in
    dnf5's advisory(8): Name, Type, Severity, Issued as an ISO string before 5.3 and UNIX time
    since, references [{Id, Type}], collections.packages [NEVRA])."""
    try:
        data = json.loads(text or "[]")
    except ValueError as exc:
        raise ValueError("not JSON: %s" % exc)
    if not isinstance(data, list):
        raise ValueError("expected a JSON array of advisories")
    pairs, infos = [], {}
    for adv in data:
        if not isinstance(adv, dict) or not adv.get("Name"):
            continue
        issued = adv.get("Issued")
        if isinstance(issued, (int, float)):
            issued = datetime.datetime.fromtimestamp(issued, datetime.timezone.utc).date().isoformat()
        elif isinstance(issued, str):
            issued = issued[:10] or None
        else:
            issued = None
        references = adv.get("references") or []
        infos[adv["Name"]] = {
            "id": adv["Name"], "title": adv.get("Title") or "",
            "classification": normalize_type(adv.get("Type")), "severity": normalize_severity(adv.get("Severity")),
            "cves": sorted(r.get("Id") for r in references
                           if isinstance(r, dict) and r.get("Type") == "cve" and r.get("Id")),
            "issued": issued, "reboot_suggested": False,
        }
        for nevra in (adv.get("collections") or {}).get("packages") or []:
            parsed = parse_nevra(str(nevra))
            if parsed:
                pairs.append((adv["Name"], parsed))
    return pairs, infos


def repository_failures(err):
    """{repository: cause} from dnf 4's stderr, the first detail line of each failure preferred
    (it names the URL and the HTTP or curl error; the summary only says all mirrors failed)."""
    failures, detail_for = {}, None
    for line in (err or "").splitlines():
        match = _REPO_DETAIL.match(line.strip())
        if match:
            detail_for = match.group("repo")
            continue
        if detail_for and line.strip().startswith("- "):
            failures.setdefault(detail_for, line.strip()[2:].strip())
            detail_for = None
            continue
        detail_for = None
        match = _REPO_FAILED.match(line.strip())
        if match:
            failures.setdefault(match.group("repo"), match.group("cause").strip())
            continue
        match = _IGNORED.match(line.strip())
        if match:
            for repo in match.group("repos").split(","):
                failures.setdefault(repo.strip(), "skipped (skip_if_unavailable)")
    return failures


def parse_errors_in_log(text):
    """libsolv parse errors in lines dnf appended to hawkey.log."""
    errors = []
    for line in (text or "").splitlines():
        match = _SOLV_PARSE_ERROR.search(line)
        if match and match.group("error").strip() not in [e[1] for e in errors]:
            errors.append((match.group("parser"), match.group("error").strip()))
    return errors


class LogWatch:
    """What dnf appends to its log files while we run it (hawkey.log under / and the root)."""

    def __init__(self, root=None):
        self.paths = sorted(set(LOG_FILES) | set((root or "") + path for path in LOG_FILES))
        self.offsets = dict((p, self._size(p)) for p in self.paths)

    @staticmethod
    def _size(path):
        try:
            return os.path.getsize(path)
        except OSError:
            return None

    def appended(self):
        text = []
        for path, offset in self.offsets.items():
            try:
                with open(path, "rb") as f:
                    # a rotated or truncated log starts again from its beginning
                    size = os.fstat(f.fileno()).st_size
                    f.seek(offset if offset is not None and offset <= size else 0)
                    text.append(f.read(1 << 20).decode("utf-8", "replace"))
            except (IOError, OSError):
                continue
        return "\n".join(text)


def attach_advisories(upgrades, installed, pairs, infos):
    """Complete each upgrade with its installed version (the newest of its name and arch, else
    noarch) and the advisories it covers (_rpm_common.attach_advisories)."""
    installed_by_key = {}
    for pkg in installed:
        key = (pkg["name"], pkg["arch"])
        if key not in installed_by_key or compare_rpm_evr(pkg["version"], installed_by_key[key]) > 0:
            installed_by_key[key] = pkg["version"]
    completed = [dict(upgrade, installed_version=installed_by_key.get((upgrade["name"], upgrade["arch"]))
                      or installed_by_key.get((upgrade["name"], "noarch"))) for upgrade in upgrades]
    fixes = [(adv_id, name, fixed, arch) for adv_id, (name, fixed, arch) in pairs]
    return rpm_attach_advisories(completed, fixes, infos)


class DnfBackend(RpmBackend):
    """The backend contract (_backend.Backend) for dnf 4, dnf 5 and yum as an alias of dnf."""
    name = "dnf"
    PACKAGE_CACHE_GLOBS = DNF_CACHE_GLOBS

    def __init__(self, runner, root=None, lock_timeout=120, binary="dnf", generation=4):
        self.runner = runner
        self.root = root if root not in (None, "", "/") else None
        self.lock_timeout = lock_timeout
        self.binary = binary
        self.generation = generation
        self.incomplete = []    # why the answer may be incomplete (repositories skipped, metadata unread)
        self.unfinished = []    # rpm database entries a killed transaction left (duplicates)
        self.failed_repos = {}

    def _argv(self, *args, **kwargs):
        # --quiet hides the transaction table that plan() reads, and repository failures
        argv = [self.binary] + ([] if kwargs.get("verbose") else ["--quiet"]) + ["--assumeno"]
        if self.root:
            argv.append("--installroot=%s" % self.root)
        return argv + list(args)

    def check_database(self):
        """`dnf check`: duplicates, broken dependencies and obsoleted packages in the rpm database,
        one problem per line (what a killed transaction leaves besides duplicates)."""
        argv = self._argv("check", verbose=True)
        rc, out, err = self.runner.run(argv, "check the rpm database (dnf check)", ok_rcs=(0, 1))
        if rc == 0:
            return []
        return [line.strip() for line in (out + "\n" + err).splitlines() if line.strip()
                and not line.startswith(("Error: Check discovered", "Last metadata"))][:20]

    def _note_failed_repos(self, failures):
        for repo, cause in sorted(failures.items()):
            if repo not in self.failed_repos:
                self.failed_repos[repo] = cause
                self.incomplete.append(("%s: repository '%s' was not refreshed: %s" % (self.binary, repo, cause))
                                       [:PROBLEM_CHARS])

    def _query(self, action, *args):
        """A query that must see every repository: with skip_if_unavailable off, a repository
        that cannot be loaded fails it (dnf 4 is silent about it under --quiet otherwise); it
        is then noted as incomplete and the query runs again without that repository."""
        skip = "True" if self.failed_repos else "False"
        argv = self._argv("--setopt=skip_if_unavailable=%s" % skip, *args)
        rc, out, err = self.runner.run(argv, action, ok_rcs=(0, 1))
        if rc == 1:
            failures = repository_failures(err)
            if not failures:
                self.runner.raise_for(argv, action, rc, out, err)
            self._note_failed_repos(failures)
            argv = self._argv("--setopt=skip_if_unavailable=True", *args)
            rc, out, err = self.runner.run(argv, action)
        return argv, out

    def _wait(self):
        prefix = self.root or ""
        wait_for_locks([(prefix + "/var/lib/rpm/.rpm.lock", "fcntl"),
                        (prefix + "/var/lib/dnf/rpmdb_lock.pid", "pidfile"),
                        (prefix + "/var/cache/dnf/metadata_lock.pid", "pidfile")], self.lock_timeout, self.binary)

    def refresh(self, cache_valid_time=0):
        """True when every repository was refreshed; a repository skipped goes to incomplete."""
        self._wait()
        argv = self._argv("--setopt=skip_if_unavailable=True", "makecache", verbose=True)
        _rc, _out, err = self.runner.run(argv, "refresh the %s metadata" % self.binary)
        failures = repository_failures(err)
        self._note_failed_repos(failures)
        return not failures

    def cache_age(self):
        """Seconds since repository metadata last arrived (the newest repomd.xml in the cache)."""
        stamps = glob.glob((self.root or "") + "/var/cache/dnf/*/repodata/repomd.xml") + \
            glob.glob((self.root or "") + "/var/cache/libdnf5/*/repodata/repomd.xml")
        times = []
        for path in stamps:
            try:
                times.append(os.stat(path).st_mtime)
            except OSError:
                continue
        return max(0, int(time.time() - max(times))) if times else None

    # installed(), recover(): RpmBackend

    def updates(self, installed=None):
        """repoquery --upgrades, the obsoleting packages, and updateinfo (dnf 4) or advisory info
        --json (dnf 5); a repository dnf could not load, or metadata libsolv could not parse
        (hawkey.log), goes to incomplete (_backend.Backend.updates)."""
        self._wait()
        watch = LogWatch(self.root)
        qf = REPOQUERY_FORMAT + ("\\n" if self.generation >= 5 else "")
        argv, out = self._query("list %s updates" % self.binary,
                                "repoquery", "--upgrades", "--latest-limit=1", "--queryformat", qf)
        upgrades = parse_repoquery(out)
        if out.strip() and not upgrades:
            raise malformed("list %s updates" % self.binary, argv, out, "no update line could be read")
        installed_packages = (installed or self.installed)()
        upgrades += self._obsoleters(installed_packages)
        pairs, infos = [], {}
        if upgrades and self.generation >= 5:
            argv, out = self._query("read dnf5 advisories", "advisory", "info", "--json")
            try:
                pairs, infos = parse_dnf5_advisory_info(out)
            except ValueError as exc:
                raise malformed("read dnf5 advisories", argv, out, str(exc))
        elif upgrades:
            _argv, out = self._query("list %s advisories" % self.binary, "updateinfo", "list")
            pairs = parse_updateinfo_list(out)
            if pairs:
                _argv, out = self._query("read %s advisories" % self.binary, "updateinfo", "info")
                infos = parse_updateinfo_info(out)
        for parser, error in parse_errors_in_log(watch.appended()):
            self.incomplete.append(("%s could not read repository metadata (%s: %s in hawkey.log); what that "
                                    "file holds (advisories for %s) is missing from the answer"
                                    % (self.binary, parser, error, parser.replace("repo_", "").replace("xml", "")))
                                   [:PROBLEM_CHARS])
        self.unfinished[:] = duplicate_problems(installed_packages)
        return attach_advisories(upgrades, installed_packages, pairs, infos)

    def _obsoleters(self, installed_packages):
        """Packages that obsolete an installed one (repoquery --upgrades leaves them out; an
        upgrade installs them and removes what they obsolete): each an update with no installed
        version and the names it replaces in `obsoletes`."""
        names = sorted(set(p["name"] for p in installed_packages))
        if not names:
            return []
        _argv, out = self._query("list %s obsoletes" % self.binary, "repoquery", "--latest-limit=1",
                                 "--whatobsoletes", ",".join(names), "--queryformat",
                                 OBSOLETES_FORMAT + ("\\n" if self.generation >= 5 else ""))
        return obsoleters(parse_obsoletes(out), installed_packages)

    def resolve(self, updates):
        """Ask dnf what installing exactly these updates would do (`dnf install NAME-EVR.ARCH...`
        answered no): _resolution.resolve_updates."""
        return resolve_updates(updates, self._simulate, self._transaction, self.binary)

    def _simulate(self, updates):
        specs = ["%s-%s.%s" % (u["name"], u["available_version"], u["arch"]) for u in updates]
        skip = "True" if self.failed_repos else "False"
        argv = self._argv("--setopt=skip_if_unavailable=%s" % skip, "install", *specs, verbose=True)
        rc, out, err = self.runner.run(argv, "resolve the approved %s updates" % self.binary, ok_rcs=(0, 1))
        if rc == 0 or "Operation aborted" in out + err:
            return True, out, {}
        blamed = blame_problems(err + "\n" + out, set(u["name"] for u in updates))
        if not blamed and "Problem" not in err + out and "No match for argument" not in err + out:
            self.runner.raise_for(argv, "resolve the approved %s updates" % self.binary, rc, out, err)
        for line in (err + "\n" + out).splitlines():
            match = re.match(r"^No match for argument: (?P<spec>\S+)", line.strip())
            if match:
                for update in updates:
                    if match.group("spec").startswith(update["name"] + "-"):
                        blamed.setdefault(update["name"], "%s offers no %s any more" % (self.binary, match.group("spec")))
        return False, out, blamed

    @staticmethod
    def _transaction(updates, out):
        requested = set(u["name"] for u in updates)
        new_packages, removals = [], []
        for change in parse_transaction_table(out):
            if change["after"] is None:
                removals.append({"name": change["name"], "version": change.get("removed_version")})
            elif change["name"] not in requested and change.get("section") == "Installing":
                new_packages.append({"name": change["name"], "version": change["after"], "arch": change["arch"]})
        for replaced in parse_replacements(out):
            removals.append(replaced)
        return new_packages, removals

    # --- transactions (patch_apply, patch_rollback) -----------------------------------------

    def _transactions(self, versions, remove, installed, files=None):
        """dnf has no one command that upgrades, downgrades and removes: (verb, specs) steps. files:
        {name: package file} to install those versions from."""
        current = dict((p["name"], p["version"]) for p in installed)
        files = files or {}

        def spec(name, version):
            return files.get(name) or "%s-%s" % (name, version)
        ups = sorted(spec(n, v) for n, v in versions.items() if n not in current or compare_rpm_evr(v, current[n]) > 0)
        downs = sorted(spec(n, v) for n, v in versions.items() if n in current and compare_rpm_evr(v, current[n]) < 0)
        steps = []
        if downs:
            steps.append(("downgrade", downs))
        if ups:
            steps.append(("install", ups))
        if remove:
            steps.append(("remove", sorted(remove)))
        return steps

    def plan(self, versions, remove=()):
        installed = self.installed()
        current = dict((p["name"], p["version"]) for p in installed)
        changes = []
        for verb, specs in self._transactions(versions, remove, installed):
            argv = self._argv(verb, *specs, verbose=True)
            rc, out, err = self.runner.run(argv, "plan the %s transaction" % self.binary, ok_rcs=(0, 1))
            if rc == 1 and "Operation aborted" not in out + err:
                raise PatchError("Failed to plan the %s transaction: %s" % (self.binary, (err or out).strip()),
                                 cmd=argv, rc=rc, stdout=out, stderr=err)
            for change in parse_transaction_table(out):
                change["before"] = current.get(change["name"])
                change.pop("removed_version", None)
                changes.append(change)
        return changes

    def apply(self, versions, remove=(), downgrade=False, files=None):
        """Install exactly these versions (files: {name: package file} for those a file carries),
        remove these names. downgrade: not needed, dnf downgrades by the verb (_transactions); the
        contract (_backend.Backend.apply) has it for apt and zypper."""
        self._wait()
        for verb, specs in self._transactions(versions, remove, self.installed(), files):
            argv = [self.binary, "--assumeyes"] + (["--installroot=%s" % self.root] if self.root else []) + \
                [verb] + specs
            self.runner.run(argv, "%s with %s" % (verb, self.binary), transaction=True)

    def _reinstall(self, name, version):
        argv = [self.binary, "--assumeyes"] + (["--installroot=%s" % self.root] if self.root else []) + \
            ["reinstall", "%s-%s" % (name, version)]
        self.runner.run(argv, "reinstall %s %s" % (name, version), transaction=True)

    def available_versions(self, names):
        if not names:
            return {}
        argv = self._argv("repoquery", "--showduplicates", "--queryformat",
                          "%{name}|%{epoch}|%{version}|%{release}|%{arch}" + ("\\n" if self.generation >= 5 else ""),
                          *sorted(names))
        _rc, out, _err = self.runner.run(argv, "list available %s versions" % self.binary)
        offered = dict((n, set()) for n in names)
        for line in out.splitlines():
            fields = line.strip().split("|")
            if len(fields) == 5 and fields[0] in offered:
                offered[fields[0]].add(evr(fields[1], fields[2], fields[3]))
        return offered

    # --- package files (the rollback cache, _rollback_cache) -------------------------------

    # package_file_name, package_cache_paths, package_file_identity, installed_sizes: RpmPackageFiles

    def download_package(self, name, version, arch, directory, query_name=None):
        """`dnf download` (dnf-plugins-core on dnf 4) of that exact name-epoch:version-release.arch."""
        argv = self._argv("download", "--destdir", directory, "%s-%s.%s" % (name, version, arch))
        self.runner.run(argv, "download %s %s" % (name, version))

    def reboot_status(self):
        """dnf needs-restarting (dnf-plugins-core): -r for the reboot, -s for services."""
        if self.root:
            return [], []
        rc, out, err = self.runner.run(self._argv("needs-restarting", "--reboothint"),
                                       "ask dnf needs-restarting", ok_rcs=(0, 1))
        if rc == 1 and "no such command" in (err + out).lower():
            return [], []   # dnf-plugins-core is not installed: nothing to ask
        reasons = []
        if rc == 1:
            packages = [line.strip().lstrip("* ").strip() for line in out.splitlines()
                        if line.strip().startswith("*")]
            reasons.append("dnf needs-restarting: core packages updated since boot"
                           + (" (%s)" % ", ".join(packages) if packages else ""))
        rc, out, err = self.runner.run(self._argv("needs-restarting", "--services"),
                                       "ask dnf needs-restarting", ok_rcs=(0, 1))
        services = sorted(set(line.strip() for line in out.splitlines() if line.strip())) if rc == 0 else []
        return reasons, services


def probe_generation(runner, binary):
    """4 or 5, from `<binary> --version` (dnf5 prints 'dnf5 version 5.x')."""
    rc, out, err = runner.run([binary, "--version"], "read the %s version" % binary, ok_rcs=(0, 1))
    text = (out + err).strip()
    if re.search(r"dnf5|^5\.", text, re.M):
        return 5
    if not text:
        raise PatchError("Failed to read the %s version: %s --version printed nothing" % (binary, binary))
    return 4
