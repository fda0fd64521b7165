# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

Is it safe to patch this host now? Each check gives pass, warn or fail with a reason; the caller
decides which failures block.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os

from ansible_collections.fleetpatch.patching.plugins.module_utils import _apply, _host, _journal, _rollback_cache
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError
from ansible_collections.fleetpatch.patching.plugins.module_utils._locks import fcntl_lock_holder, pidfile_lock_holder

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Where a transaction writes besides / and /var: the downloaded packages. Checked with the state dir
# (journals), so that a full cache fails the preflight rather than the install half-way.
PACKAGE_CACHES = {"apt": "/var/cache/apt/archives", "dnf": "/var/cache/dnf", "yum": "/var/cache/yum",
                  "zypper": "/var/cache/zypp"}
DEFAULT_MIN_FREE_MB = {"/": 500, "/var": 1000, "/boot": 100}
CACHE_MIN_FREE_MB = 500
STATE_DIR_MIN_FREE_MB = 50
LOCK_FILES = {
    "apt": [("/var/lib/dpkg/lock-frontend", "fcntl"), ("/var/lib/dpkg/lock", "fcntl"), ("/var/lib/apt/lists/lock", "fcntl")],
    "dnf": [("/var/lib/rpm/.rpm.lock", "fcntl"), ("/var/lib/dnf/rpmdb_lock.pid", "pidfile")],
    "zypper": [("/run/zypp.pid", "pidfile")],
}


def result(status, reason, **extra):
    entry = {"status": status, "reason": reason}
    entry.update(extra)
    return entry


def disk_thresholds(min_free_mb, pkg_mgr, state_dir, root="", rollback_mb=0):
    """The paths to check: the user's (or the defaults), plus the package cache and the state dir
    when the user did not name them; the state dir also needs what the rollback cache will take
    (rollback_mb, from check_rollback)."""
    if min_free_mb is None:
        min_free_mb = dict(DEFAULT_MIN_FREE_MB)
        if pkg_mgr in PACKAGE_CACHES:
            min_free_mb[PACKAGE_CACHES[pkg_mgr]] = CACHE_MIN_FREE_MB
        min_free_mb[state_dir] = STATE_DIR_MIN_FREE_MB
    min_free_mb = dict(min_free_mb)
    if rollback_mb:
        min_free_mb[state_dir] = int(min_free_mb.get(state_dir, 0)) + rollback_mb
    return dict((root + path, minimum) for path, minimum in min_free_mb.items())


def _existing(path):
    """The path, or its nearest existing parent (the state dir before the first run)."""
    while path and not os.path.exists(path):
        parent = os.path.dirname(path.rstrip("/")) or "/"
        if parent == path:
            break
        path = parent
    return path


def free_space(paths):
    """{path: free MB} on each path (or its nearest existing parent), as the host has it now: read
    before anything the preflight does writes (a repository refresh fills the package cache)."""
    free = {}
    for path in paths:
        existing = _existing(path)
        if os.path.exists(existing):
            st = os.statvfs(existing)
            free[path] = st.f_bavail * st.f_frsize // (1024 * 1024)
    return free


def check_disk(min_free_mb, measured=None):
    """Free space on each path against its threshold; measured: free_space() read earlier."""
    measured = dict(measured or {})
    missing = [p for p in min_free_mb if p not in measured]
    measured.update(free_space(missing))
    short, seen = [], {}
    for path, minimum in sorted(min_free_mb.items()):
        if path not in measured:
            continue
        free = seen[path] = measured[path]
        if free < int(minimum):
            short.append("%s has %d MB free, needs %d MB" % (path, free, int(minimum)))
    if short:
        return result("fail", "; ".join(short), free_mb=seen)
    return result("pass", ", ".join("%s %d MB free" % kv for kv in sorted(seen.items())), free_mb=seen)


def check_rollback(backend, state_dir):
    """Whether going back will be possible for every pending update: where patch_apply would secure
    the version it replaces (_rollback_cache.plan_sources), and the room the cache needs for it
    (the installed size: an upper bound of the package file). Warns, naming them, for updates that
    could not be rolled back; blocking it refuses such a host."""
    installed = backend.installed()
    updates = backend.updates(lambda: installed)
    touched = dict((u["name"], u["installed_version"]) for u in updates if u.get("installed_version"))
    wanted = _rollback_cache.wanted_versions(touched, installed)
    if not wanted:
        return result("pass", "no pending update", updates={}, need_mb=0)
    offered = backend.available_versions(set(wanted))
    sources = _rollback_cache.plan_sources(backend, wanted, offered, state_dir)
    sizes = backend.installed_sizes(set(wanted))
    need = sum(sizes.get(n, 0) for n, source in sources.items() if source not in (None, "kept"))
    need_mb = -(-need // (1024 * 1024))
    per_update = dict((n, {"version": wanted[n][0], "source": source}) for n, source in sources.items())
    gaps = sorted("%s %s" % (n, wanted[n][0]) for n, source in sources.items() if source is None)
    if gaps:
        return result("fail", "%d of %d pending updates could not be rolled back: no repository, cache or rebuild has "
                      "%s" % (len(gaps), len(wanted), ", ".join(gaps)[:600]), updates=per_update, need_mb=need_mb)
    counts = {}
    for source in sources.values():
        counts[source] = counts.get(source, 0) + 1
    return result("pass", "every pending update can be rolled back (%s); the rollback cache needs up to %d MB"
                  % (", ".join("%d %s" % (c, s) for s, c in sorted(counts.items())), need_mb),
                  updates=per_update, need_mb=need_mb)


def check_lock(pkg_mgr, root=""):
    for path, kind in LOCK_FILES.get(pkg_mgr, []):
        holder = fcntl_lock_holder(root + path) if kind == "fcntl" else pidfile_lock_holder(root + path)
        if holder:
            return result("fail", "%s is held by %s" % (root + path, holder))
    return result("pass", "no package-manager lock is held")


def check_package_manager(backend, resume=False):
    """The package database is consistent: no interrupted dpkg, dpkg --audit clean, no rpm entry
    installed twice (what a killed dnf or zypper leaves). With resume, an interrupted transaction
    warns (patch_apply repairs it before anything else); without, it blocks the host."""
    problems = []
    try:
        count = len(backend.installed())
    except PatchError as exc:
        return result("fail", "package database unreadable: %s" % exc.msg)
    problems.extend(_apply.unfinished_problems(backend))
    if hasattr(backend, "check_database") and not problems:
        # dnf check also finds broken dependencies, which patch_apply does not repair: they block.
        # zypper verify is not asked: it also reports dependency problems unrelated to any
        # transaction (seen on the lab's zypper host), which would block hosts patching does not harm.
        broken = backend.check_database()
        if broken:
            return result("fail", "dnf check reports: %s" % "; ".join(broken)[:600])
    if backend.name == "apt":
        _rc, out, _err = backend.runner.run(["dpkg", "--audit"], "audit the dpkg database", ok_rcs=(0, 1))
        if out.strip() and not problems:
            # not a state an interrupted run leaves (say, a missing md5sums file): nothing repairs it
            return result("fail", "dpkg --audit reports: %s" % " ".join(out.split())[:300])
    if problems:
        found = "an interrupted transaction left the package database unfinished: %s" % "; ".join(problems)[:600]
        if resume:
            return result("warn", found + "; patch_apply repairs it before anything else", interrupted=problems)
        return result("fail", found, interrupted=problems)
    return result("pass", "package database consistent (%d packages)" % count)


def check_open_journals(state_dir, resume=False):
    """Journals whose change never ended: an earlier run was interrupted (docs/reliability.md)."""
    try:
        journals = _journal.pending(state_dir)
    except PatchError as exc:
        return result("fail", exc.msg)
    if not journals:
        return result("pass", "no unfinished patch run")
    found = "an earlier patch run was interrupted before its cycle ended: journal(s) %s" % ", ".join(
        "%s (%s)" % (j["id"], j.get("status")) for j in journals)
    if resume:
        return result("warn", found + "; patch_apply takes them over and this run finishes their cycle",
                      journals=[j["id"] for j in journals])
    return result("fail", found, journals=[j["id"] for j in journals])


def check_repositories(backend):
    try:
        backend.refresh(0)
    except PatchError as exc:
        # the manager's own cause: unreachable, but also a full cache or broken metadata
        return result("fail", "repositories could not be refreshed: %s" % exc.msg)
    if backend.incomplete:
        # the package manager went on without them (apt W: lines, dnf skip_if_unavailable, zypper 106)
        return result("fail", "repositories not refreshed: %s" % "; ".join(backend.incomplete)[:600])
    return result("pass", "repository metadata refreshed")


def check_reboot(backend, root=None):
    reasons, _services = backend.reboot_status()
    _running, _newest, kernel_reason = _host.kernel_status(root)
    if kernel_reason:
        reasons.append(kernel_reason)
    if reasons:
        return result("fail", "a reboot is already pending: %s" % "; ".join(reasons))
    return result("pass", "no reboot pending")


def _tz(name):
    if not name or name.upper() == "UTC":
        return datetime.timezone.utc
    if name[:1] in "+-" and len(name) == 6 and name[3] == ":":
        sign = 1 if name[0] == "+" else -1
        return datetime.timezone(sign * datetime.timedelta(hours=int(name[1:3]), minutes=int(name[4:6])))
    try:
        import zoneinfo   # Python 3.9+
    except ImportError:
        raise PatchError("Invalid maintenance window: timezone %r needs Python 3.9 on the host "
                         "(use UTC or an offset such as +02:00)" % name)
    try:
        return zoneinfo.ZoneInfo(name)
    except Exception:
        raise PatchError("Invalid maintenance window: unknown timezone %r" % name)


def _minutes(text, key):
    try:
        hours, minutes = text.split(":")
        value = int(hours) * 60 + int(minutes)
    except (AttributeError, ValueError):
        raise PatchError("Invalid maintenance window: %s must be HH:MM, got %r" % (key, text))
    if not 0 <= value < 24 * 60:
        raise PatchError("Invalid maintenance window: %s must be HH:MM, got %r" % (key, text))
    return value


def check_window(window, now=None):
    """window: {days: [mon..sun], start: HH:MM, end: HH:MM, timezone}. A window that ends
    before it starts runs past midnight and belongs to the day it starts on."""
    tz = _tz(window.get("timezone"))
    now = (now or datetime.datetime.now(datetime.timezone.utc)).astimezone(tz)
    start, end = _minutes(window.get("start", "00:00"), "start"), _minutes(window.get("end", "23:59"), "end")
    given = [str(d) for d in window.get("days") or DAYS]
    days = [d.lower()[:3] for d in given]
    unknown = [original for original, day in zip(given, days) if day not in DAYS]
    if unknown:
        raise PatchError("Invalid maintenance window: unknown days %s" % ", ".join(unknown))
    minute = now.hour * 60 + now.minute
    today, yesterday = DAYS[now.weekday()], DAYS[(now.weekday() - 1) % 7]
    if start <= end:
        inside = today in days and start <= minute < end
    else:
        inside = (today in days and minute >= start) or (yesterday in days and minute < end)
    when = now.strftime("%a %H:%M %Z")
    if inside:
        return result("pass", "%s is inside the maintenance window" % when)
    return result("fail", "%s is outside the maintenance window (%s %s-%s %s)" % (
        when, ",".join(days), window.get("start", "00:00"), window.get("end", "23:59"), window.get("timezone") or "UTC"))


def running_processes():
    names = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/comm" % pid) as f:
                    names.setdefault(f.read().strip(), []).append(int(pid))
            except (IOError, OSError):
                continue
    return names


def check_processes(unsafe, running=None):
    running = running_processes() if running is None else running
    found = ["%s (pid %s)" % (n, ", ".join(str(p) for p in sorted(running[n]))) for n in unsafe if n in running]
    if found:
        return result("fail", "running: %s" % "; ".join(found))
    return result("pass", "none of %s is running" % ", ".join(unsafe) if unsafe else "no process list given")
