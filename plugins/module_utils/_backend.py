# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

The backend contract: what every package-manager backend (_apt.AptBackend, _dnf.DnfBackend,
_zypper.ZypperBackend) provides, and what _record (patch_facts), _preflight, _apply
(patch_apply, patch_rollback) and _rollback_cache rely on. _backends.select() picks one.

"Unknown" has one meaning throughout: the package manager did not say. A backend never guesses
to fill a gap: an update without an advisory has severity "unknown" and classification "other";
a date the metadata lacks is None; an answer that may be missing something (a source not
refreshed or skipped, metadata that did not parse) is named in `incomplete`, and the record of
such a host gets status unknown (or the module fails, by on_incomplete) — never compliant.

Every command goes through `runner` (_commands.CommandRunner): argument lists, LC_ALL=C, and a
failure raised as PatchError naming the action, the command, its exit code and output. Output
that cannot be read raises _commands.malformed(...) (a PatchError), never an empty answer.
Waiting for the package manager's lock is bounded by lock_timeout (_locks.wait_for_locks).

Optional parts a caller looks up with getattr/hasattr (only some managers have them):
- interrupted() -> [str]: the manager's own marker of a killed run (apt: dpkg's updates directory);
- check_database() -> [str]: the manager's consistency check (dnf: `dnf check`), one problem a line;
- can_rebuild() -> bool, rebuild_package(name, version, arch, directory, query_name=None): a
  package file rebuilt from the installed files (apt: dpkg-repack), for the rollback cache;
- source_packages (bool attribute): updates() also names each update's source package (apt).

Adding a package manager: docs/architecture.md ("Adding a package manager").
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import abc


class Backend(abc.ABC):
    """One package manager on one host (or installroot).

    Attributes every backend sets in its constructor, (runner, root=None, lock_timeout=120):
    - name: "apt" | "dnf" | "zypper", the record's pkg_mgr;
    - runner: the _commands.CommandRunner every command goes through;
    - root: the installroot, or None for the running system (apt supports none: it raises
      PatchError for any other root);
    - lock_timeout: seconds to wait for the package manager's lock before failing;
    - incomplete: [str], why the answer may be incomplete, each with the manager's own cause
      (at most 300 characters); refresh() and updates() append to it;
    - unfinished: [str], what an interrupted transaction left (dpkg states other than installed,
      an rpm name installed twice); every installed() call replaces it.
    """

    name = None

    @staticmethod
    @abc.abstractmethod
    def compare(a, b):
        """The manager's version comparison: negative, 0 or positive as version a is older than,
        equal to or newer than version b (versions as the record writes them, rpm's with the
        epoch when it is not 0)."""

    @abc.abstractmethod
    def refresh(self, cache_valid_time=0):
        """Refresh the repository metadata. Returns True when every source was refreshed now,
        False when the cache was young enough (apt, cache_valid_time seconds) or a source failed
        or was skipped; a failed source is appended to `incomplete` (the metadata of the others
        is still used). Raises PatchError when nothing can be refreshed (the sources cannot be
        read, the lock is held past lock_timeout)."""

    @abc.abstractmethod
    def cache_age(self):
        """Seconds since repository metadata last arrived, or None when it never did (unknown)."""

    @abc.abstractmethod
    def installed(self):
        """The installed packages: [{name, version, arch, ...}] (apt adds status and query_name, the
        name apt prints back). Replaces `unfinished`. Raises PatchError (malformed) when the
        database answered but no line could be read."""

    @abc.abstractmethod
    def updates(self, installed=None):
        """The available updates, one per (name, arch), the newest version the manager would
        install: [{name, arch, installed_version, available_version, classification, severity,
        advisories, cves, issued, repository, reboot_suggested}], optionally with installable
        False and blocked_reason (zypper: a patch's version that list-updates does not offer) or
        obsoletes (dnf: a new package that replaces installed ones; installed_version None).

        installed: a callable returning installed() (the caller may read it in a thread meanwhile);
        None reads it here. classification is security | bugfix | enhancement | other, severity
        critical | important | moderate | low | unknown (_vocabulary); advisories and cves are
        sorted ids, issued an ISO date or None. Metadata that failed to load is appended to
        `incomplete`, not raised; output that cannot be read raises PatchError (malformed)."""

    @abc.abstractmethod
    def resolve(self, updates):
        """Ask the manager, as patch_apply would, to install exactly these updates (simulated):
        marks each update installable or not (installable False with blocked_reason, the
        manager's own words) in place, and returns (new_packages, removals): [{name, version,
        arch}] the transaction would newly install, [{name, version}] it would remove
        (_resolution.resolve_updates). apt blocks an update it installs only by removing an
        installed package (_apt.REMOVES: apt-get upgrade and unattended-upgrades keep it back), so
        its removals stay empty; dnf and zypper list what an update obsoletes."""

    @abc.abstractmethod
    def plan(self, versions, remove=()):
        """What installing exactly versions ({name: version}) and removing the names in remove
        would change, simulated: [{name, arch, before, after}] (after None for a removal, before
        None for a new package). Raises PatchError when the manager refuses the transaction."""

    @abc.abstractmethod
    def apply(self, versions, remove=(), downgrade=False, files=None):
        """Install exactly versions ({name: version}) and remove the names in remove, waiting for
        the lock. downgrade allows a version older than the installed one (rollback; dnf picks
        its downgrade verb per package and needs no flag). files ({name: package file path})
        installs those versions from files of the rollback cache instead of a repository. Returns
        None; raises PatchError (the runner's transaction failure) when the manager fails."""

    @abc.abstractmethod
    def recover(self, journal=None):
        """Finish what an interrupted transaction left (apt: dpkg --configure -a, then
        apt-get install --fix-broken; rpm: one entry per name, the journal's `before` version kept
        where it is one of the duplicates). journal: the journal of the run being rolled back, or
        None. A no-op on a consistent database."""

    @abc.abstractmethod
    def available_versions(self, names):
        """{name: set of versions some configured repository still offers} for each name (an
        empty set when none is); {} for no names."""

    @abc.abstractmethod
    def reboot_status(self):
        """(reasons, services): why the host needs a reboot, in the manager's words ([] for none,
        or when the manager has no way to tell), and services needing a restart."""

    # --- the rollback cache's part (_rollback_cache) -------------------------------------------

    @abc.abstractmethod
    def package_file_name(self, name, version, arch):
        """The file name the manager gives that package version (a .deb's or an .rpm's)."""

    @abc.abstractmethod
    def package_cache_paths(self, name, version, arch):
        """Paths where the manager's own package cache may hold that version (they may not exist)."""

    @abc.abstractmethod
    def package_file_identity(self, path):
        """(name, version, arch) from a package file's header. Raises PatchError (malformed)
        when the file has no readable header."""

    @abc.abstractmethod
    def download_package(self, name, version, arch, directory, query_name=None):
        """Download that exact version into directory while a repository still offers it. Raises
        PatchError when it cannot."""

    @abc.abstractmethod
    def installed_sizes(self, names):
        """{name: bytes} the installed packages take on disk; names not installed are left out."""
