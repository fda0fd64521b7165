# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

The rollback cache: before a change, a package file for every version it replaces or removes,
kept on the host, so that going back does not depend on a repository still offering that version
(Debian's security archive keeps only the newest version of a package; RPM repositories drop
superseded updates).

Where a file comes from, tried in this order (SOURCES):
  kept          the cache already holds it (an earlier run secured the same version)
  package-cache the package manager's own cache (/var/cache/apt/archives, dnf's and zypper's)
  download      downloaded at that exact version while a repository still offers it
  rebuilt       apt only: rebuilt from the installed files with dpkg-repack; its conffiles are
                as they are on the host, not as the package shipped them
Every file's own header must name the package, version and architecture it stands for. The
journal records each file (rollback_files: path, sha256, size, source) and why a version could not
be secured (rollback_gaps); rollback checks every file it needs against the journal before it
changes anything (verify).

What a backend provides for this (the backend contract, _backends.py):
  package_file_name(name, version, arch)          the file's name in the cache
  package_cache_paths(name, version, arch)        where the manager's own cache may hold it
  package_file_identity(path) -> (name, version, arch)
  download_package(name, version, arch, directory, query_name)   writes that one file into directory
  can_rebuild(), rebuild_package(...same...)                       optional (apt): the same, rebuilt

Retention (prune): a file stays while a journal that names it is open (_journal.is_open), or
younger than keep_days; past that the journal's files go, and the journal says when. A file no
journal names (a run stopped before it wrote its journal) goes at once. The cache never grows past
max_bytes: a version that would not fit is a gap, with that reason.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import os
import shutil
import tempfile
import time

from ansible_collections.fleetpatch.patching.plugins.module_utils import _journal
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError
from ansible_collections.fleetpatch.patching.plugins.module_utils._files import private_directory

CACHE_DIR = "rollback-cache"
SOURCES = ("kept", "package-cache", "download", "rebuilt")
# One monthly patch cycle, as _apply.VERIFIED_MAX_AGE_DAYS: a change is judged within it.
DEFAULT_KEEP_DAYS = 30
DEFAULT_MAX_MB = 2048
_CHUNK = 1 << 20


def directory_of(state_dir):
    return os.path.join(state_dir, CACHE_DIR)


def checksum(path):
    """(sha256 hex digest, size in bytes) of a file."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def usage(state_dir):
    """{path, files, bytes} of the cache now."""
    directory = directory_of(state_dir)
    files = total = 0
    for name in _cached_names(directory):
        try:
            total += os.stat(os.path.join(directory, name)).st_size
            files += 1
        except OSError:
            pass
    return {"path": directory, "files": files, "bytes": total}


def _cached_names(directory):
    try:
        return sorted(n for n in os.listdir(directory) if not n.startswith("."))
    except OSError:
        return []


def sizes_from(text, unit):
    """{name: bytes} from "name<TAB>size" lines (backends' installed_sizes; size in units of unit
    bytes); a name listed twice (two architectures) counts both."""
    sizes = {}
    for line in (text or "").splitlines():
        fields = line.split("\t")
        if len(fields) == 2 and fields[1].strip().isdigit():
            sizes[fields[0]] = sizes.get(fields[0], 0) + int(fields[1]) * unit
    return sizes


def wanted_versions(touched, installed_packages):
    """{name: (version, arch, installed, query_name)} of the versions a rollback would restore: every
    package a change touches that the host had (touched: {name: version or None}). installed: the
    host runs that version now (it can be rebuilt from its files); query_name: the name the package
    manager is asked by (apt: name:arch for a foreign architecture)."""
    arches = {}
    for package in installed_packages:
        arches.setdefault(package["name"], []).append(package)
    wanted = {}
    for name, version in sorted(touched.items()):
        if version is None:
            continue
        found = [p for p in arches.get(name, []) if p["version"] == version]
        package = (found or arches.get(name) or [{}])[0]
        wanted[name] = (version, package.get("arch") or "", bool(found), package.get("query_name") or name)
    return wanted


def carried_over(journals, wanted, state_dir):
    """Entries earlier journals secured for the same versions: a run that takes over an
    interrupted one keeps the files that run secured for the versions the host had first."""
    found = {}
    for journal in journals:
        for name, entry in (journal.get("rollback_files") or {}).items():
            if name in wanted and entry.get("version") == wanted[name][0] and not verify({name: entry}, state_dir):
                found[name] = entry
    return found


def plan_sources(backend, wanted, offered, state_dir):
    """{name: source or None} of where each wanted version would come from, without securing
    anything (check mode, the preflight's rollback check). offered: {name: versions a repository
    offers}."""
    directory = directory_of(state_dir)
    sources = {}
    for name, (version, arch, installed, _query) in sorted(wanted.items()):
        if os.path.exists(os.path.join(directory, backend.package_file_name(name, version, arch))):
            sources[name] = "kept"
        elif any(os.path.exists(p) for p in backend.package_cache_paths(name, version, arch)):
            sources[name] = "package-cache"
        elif version in offered.get(name, ()):
            sources[name] = "download"
        elif installed and _can_rebuild(backend):
            sources[name] = "rebuilt"
        else:
            sources[name] = None
    return sources


def secure(backend, state_dir, wanted, offered, max_bytes, already=None):
    """Secure a file for every wanted version. Returns (files {name: entry}, gaps {name: reason}).
    offered: {name: versions a repository offers}; already: entries carried over (not redone)."""
    directory = private_directory(directory_of(state_dir))
    files, gaps = dict(already or {}), {}
    used = usage(state_dir)["bytes"]
    for name, (version, arch, installed, query_name) in sorted(wanted.items()):
        if name in files:
            continue
        target = os.path.join(directory, backend.package_file_name(name, version, arch))
        if os.path.exists(target) and _identity_problem(backend, target, name, version, arch) is None:
            files[name] = _entry(target, version, arch, "kept")
            continue
        entry, why = _fetch(backend, directory, target, name, version, arch, installed, query_name,
                            offered.get(name, ()), max_bytes - used)
        if entry is None:
            gaps[name] = "%s %s: %s" % (name, version, why)
            continue
        files[name] = entry
        used += entry["size"]
    return files, gaps


def _fetch(backend, directory, target, name, version, arch, installed, query_name, offered, room):
    """(entry, None) once a file is at target; (None, why) with every source's reason."""
    reasons = []
    work = tempfile.mkdtemp(prefix=".incoming-", dir=directory)
    try:
        for source in SOURCES[1:]:
            try:
                path = _produce(backend, source, work, name, version, arch, installed, query_name, offered)
            except PatchError as exc:
                reasons.append("%s failed: %s" % (source, exc.msg))
                continue
            except (IOError, OSError) as exc:
                reasons.append("%s failed: %s" % (source, exc))
                continue
            if path is None:
                continue
            problem = _identity_problem(backend, path, name, version, arch)
            if problem:
                reasons.append("%s: %s" % (source, problem))
                continue
            size = os.stat(path).st_size
            if size > room:
                return None, ("the rollback cache would exceed its limit (rollback_cache_max_mb; %d MB free in it, "
                              "the file is %d MB)" % (max(room, 0) >> 20, -(-size >> 20)))
            try:
                _place(path, target, work)
            except (IOError, OSError) as exc:
                return None, "copying %s into %s failed: %s" % (path, directory, exc)
            return _entry(target, version, arch, source), None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not reasons:
        reasons.append("not in the package cache, no repository offers it%s"
                       % (" and it cannot be rebuilt here" if not installed else ""))
    return None, "; ".join(reasons)


def _produce(backend, source, work, name, version, arch, installed, query_name, offered):
    """The path of a file from one source, or None when that source does not have it."""
    if source == "package-cache":
        return next((p for p in backend.package_cache_paths(name, version, arch) if os.path.exists(p)), None)
    if source == "download":
        if version not in offered:
            return None
        backend.download_package(name, version, arch, work, query_name)
    elif source == "rebuilt":
        if not installed or not _can_rebuild(backend):
            return None
        backend.rebuild_package(name, version, arch, work, query_name)
    else:
        raise ValueError(source)
    written = [os.path.join(folder, n) for folder, _dirs, names in os.walk(work) for n in names]
    if len(written) != 1:
        raise PatchError("the %s wrote %d files, expected one" % (source, len(written)))
    return written[0]


def _can_rebuild(backend):
    """Whether the backend can rebuild an installed version (optional in the contract: apt)."""
    return getattr(backend, "can_rebuild", lambda: False)()


def _place(path, target, work):
    """Put a copy of path at target atomically: a hard link when the file system allows (no copy of
    a kernel package's 100 MB), else a copy; through a temporary name in the cache directory. A
    linked file keeps its mode (it is the package manager's file too); the directory is root's only."""
    tmp = os.path.join(os.path.dirname(target), ".%s.tmp" % os.path.basename(target))
    if os.path.lexists(tmp):
        os.unlink(tmp)
    if os.path.abspath(path).startswith(os.path.abspath(work) + os.sep):
        os.rename(path, tmp)       # downloaded or rebuilt into the work directory: ours already
        os.chmod(tmp, 0o600)
    else:
        try:
            os.link(path, tmp)
        except OSError:
            shutil.copyfile(path, tmp)
            os.chmod(tmp, 0o600)
    os.rename(tmp, target)


def _entry(path, version, arch, source):
    sha256, size = checksum(path)
    entry = {"version": version, "arch": arch, "path": path, "sha256": sha256, "size": size, "source": source}
    if source == "rebuilt":
        entry["note"] = "rebuilt from the installed files with dpkg-repack: its conffiles are as they were on the host"
    return entry


def _identity_problem(backend, path, name, version, arch):
    try:
        found = backend.package_file_identity(path)
    except PatchError as exc:
        return "the file %s cannot be read: %s" % (path, exc.msg)
    if tuple(found) != (name, version, arch) and not (found[:2] == (name, version) and "all" in (arch, found[2])):
        return "the file %s holds %s, not %s %s (%s)" % (path, " ".join(found), name, version, arch)
    return None


def _remove_stale_work(directory, now):
    """What a killed run left half secured (.incoming-* directories, .*.tmp files) a day ago."""
    try:
        names = [n for n in os.listdir(directory) if n.startswith(".")]
    except OSError:
        return
    for name in names:
        path = os.path.join(directory, name)
        try:
            if now.timestamp() - os.lstat(path).st_mtime < 86400:
                continue
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            pass


def verify(files, state_dir=None):
    """Problems of the recorded files ({name: entry}): missing, another size, another sha256."""
    problems = []
    for name, entry in sorted(files.items()):
        path = entry.get("path") or ""
        try:
            sha256, size = checksum(path)
        except (IOError, OSError) as exc:
            problems.append("%s %s: the secured file %s is missing or unreadable (%s)"
                            % (name, entry.get("version"), path, getattr(exc, "strerror", None) or exc))
            continue
        if size != entry.get("size") or sha256 != entry.get("sha256"):
            problems.append("%s %s: the secured file %s does not match the journal (size %d, sha256 %s...; "
                            "recorded %s, %s...)" % (name, entry.get("version"), path, size, sha256[:12],
                                                     entry.get("size"), str(entry.get("sha256"))[:12]))
    return problems


def prune(state_dir, journals, keep_days=DEFAULT_KEEP_DAYS, now=None):
    """Remove the files no kept journal names. A journal keeps its files while it is open or younger
    than keep_days; an older one gives them up, and records when (its rollback then says the files
    were pruned). Returns {files, bytes} removed."""
    directory = directory_of(state_dir)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    oldest = (now - datetime.timedelta(days=keep_days)).strftime(_journal.ID_TIME_FORMAT)
    keep, released = set(), []
    for journal in journals:
        paths = set(e.get("path") for e in (journal.get("rollback_files") or {}).values())
        if _journal.is_open(journal) or str(journal.get("id", "")) >= oldest:
            keep |= paths
        elif paths and not journal.get("rollback_files_pruned_at"):
            released.append(journal)
    removed = {"files": 0, "bytes": 0}
    _remove_stale_work(directory, now)
    for name in _cached_names(directory):
        path = os.path.join(directory, name)
        if path in keep:
            continue
        try:
            size = os.stat(path).st_size
            os.unlink(path)
        except OSError:
            continue
        removed["files"] += 1
        removed["bytes"] += size
    for journal in released:
        _journal.update(state_dir, journal, rollback_files_pruned_at=_journal.now_iso())
    return removed


def secure_change(backend, state_dir, journals, touched, installed_packages, keep_days=DEFAULT_KEEP_DAYS,
                  max_mb=DEFAULT_MAX_MB, check_mode=False):
    """Before a change: prune by retention, then secure a file for every version the change may
    replace or remove (touched: {name: version before, None when absent}). In check mode nothing
    is pruned nor secured: where each file would come from is predicted. Returns the summary that
    patch_apply reports and the journal keeps (see summary())."""
    wanted = wanted_versions(touched, installed_packages)
    offered = backend.available_versions(set(wanted)) if wanted else {}
    if check_mode:
        sources = plan_sources(backend, wanted, offered, state_dir)
        return summary({}, dict((n, "%s %s: no source has it" % (n, wanted[n][0]))
                                for n, source in sources.items() if source is None),
                       usage(state_dir), {"files": 0, "bytes": 0}, predicted=sources)
    started = time.monotonic()
    pruned = prune(state_dir, journals, keep_days)
    files, gaps = secure(backend, state_dir, wanted, offered, max_mb << 20,
                         already=carried_over(journals, wanted, state_dir))
    return summary(files, gaps, usage(state_dir), pruned, seconds=time.monotonic() - started)


def summary(files, gaps, cache, pruned, predicted=None, seconds=0.0):
    """What the record and patch_apply's result say about the rollback cache for one change:
    files {name: entry}, gaps {name: why}, possible (no gap), cache {path, files, bytes} and what
    this run pruned, seconds it took (bench/rollback_cache_bench.py); predicted {name: source or
    None} in check mode."""
    result = {"files": files, "gaps": gaps, "possible": not gaps, "cache": dict(cache, pruned=pruned),
              "seconds": round(seconds, 3)}
    if predicted is not None:
        result["predicted"] = predicted
    return result


def restore_files(journal, restore, offered):
    """{name: path} of the secured files rollback installs, and the problems that forbid it.

    A version with a secured file comes from that file, checked against the journal (size, sha256):
    a rollback then needs no repository, nor package lists that still know the version (lists
    refreshed before the archive dropped it would send apt to a file that is gone). Except a rebuilt
    file while a repository offers the version: the repository's package is pristine. A version with
    no usable file comes from a repository that offers it; with neither, nothing may change."""
    recorded = journal.get("rollback_files") or {}
    gaps = journal.get("rollback_gaps") or {}
    files, problems = {}, []
    for name, version in sorted(restore.items()):
        entry = recorded.get(name)
        in_repository = version in offered.get(name, ())
        if entry and entry.get("version") == version and not (in_repository and entry.get("source") == "rebuilt"):
            bad = verify({name: entry})
            if not bad:
                files[name] = entry["path"]
            elif not in_repository:
                pruned = journal.get("rollback_files_pruned_at")
                problems.extend(b + (" (the cache released this journal's files at %s: rollback_keep_days)" % pruned
                                     if pruned else "") for b in bad)
            continue
        if not in_repository:
            why = "no repository offers %s %s any more and the journal holds no file for it" % (name, version)
            problems.append(why + (" (%s)" % gaps[name] if name in gaps else ""))
    return files, problems
