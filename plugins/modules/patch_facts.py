#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: patch_facts
short_description: Gather a host's missing updates as the fleetpatch host patch record
version_added: 0.1.0
description:
  - Asks the host's package manager (apt, dnf 4 or 5, yum as an alias of dnf, zypper) which
    updates are available, with their classification, severity, advisories, CVEs, issue date
    and repository, and whether a reboot is pending.
  - Returns one normalized record per host, the same for every package manager, as
    C(ansible_facts.fleetpatch). Its JSON Schema is C(docs/schemas/host_patch_record.schema.json).
  - Evaluates the record against a patch baseline (O(policy)) so that every update carries a
    decision (approved, blocked, deferred, rejected, not_applicable) with a reason, and the host a status
    (compliant, non_compliant, unknown, pending_reboot) with SSM-style counts and SLA flags.
  - Remembers on the host, under O(state_dir), when it first saw each offered version, so that
    approval delays work where the metadata has no dates (Debian, Ubuntu).
  - On Windows hosts (a PowerShell connection) the action plugin searches with
    M(ansible.windows.win_updates) (O(windows.category_names)) and returns the same record, each update named by
    its KB id (also its C(advisories) and C(available_version)), Windows categories mapped to a classification,
    severity C(unknown) (win_updates returns no MSRC severity), the pending reboot from win_updates.
    First-seen dates are kept on the host under O(windows.state_dir). See C(docs/windows.md).
author:
  - fleetpatch contributors (@fleetpatch)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - ansible.builtin.action_common_attributes.facts
  - fleetpatch.patching._backend
  - fleetpatch.patching._windows
  - fleetpatch.patching._advisory_feed
attributes:
  action:
    support: full
    details: On Windows hosts the action plugin runs on the controller and calls the ansible.windows modules.
  async:
    support: partial
    details: POSIX hosts only.
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: In check mode first-seen dates are not written. The package metadata is still
      refreshed (O(update_cache)), so that check mode sees what a real run would.
  diff_mode:
    support: none
  facts:
    support: full
  platform:
    platforms: [posix, windows]
options:
  update_cache:
    description:
      - Refresh the package metadata before assessing (C(apt-get update), C(dnf makecache),
        C(zypper refresh)), in check mode too, since it changes no installed package.
    type: bool
    default: true
  cache_valid_time:
    description:
      - With apt, skip the refresh when the package lists are younger than this many seconds.
        V(0) refreshes every time, as an assessment that must not report stale data should.
      - dnf and zypper follow each repository's own metadata expiry.
    type: int
    default: 0
  include_installed:
    description:
      - Also return every installed package (name, version, arch) in C(installed). Large.
    type: bool
    default: false
  policy:
    description:
      - The patch baseline. See the P(fleetpatch.patching.evaluate_policy#filter) filter for its keys.
      - Without it every available update is approved at once (the default baseline).
    type: dict
  first_seen:
    description:
      - Record and report first-seen dates.
    type: bool
    default: true
  on_incomplete:
    description:
      - "What to do when the package manager's answer is incomplete, so that the host's missing
        updates cannot be known: a source that failed to refresh (C(apt-get update) printing
        C(W: Failed to fetch)), a repository dnf or zypper skipped (zypper exit code 106,
        dnf's C(skip_if_unavailable)), repository metadata libsolv could not parse (a corrupt
        C(updateinfo.xml))."
      - V(fail) fails the module with each source and the package manager's own cause.
      - V(unknown) returns the record with C(status=unknown) (unless an approved update is
        already known to be missing), the causes in C(incomplete), C(cache_refreshed=false), and
        a warning. Never C(compliant).
    type: str
    choices: [fail, unknown]
    default: fail
  resolve:
    description:
      - Ask the package manager to resolve the updates the baseline approves, exactly as
        M(fleetpatch.patching.patch_apply) would install them (C(apt-get install NAME=VERSION),
        C(dnf install NAME-EVR.ARCH), C(zypper install NAME=VERSION), simulated).
      - An update it cannot install (held, locked, a dependency it cannot resolve) gets
        C(installable=false), its reason in C(blocked_reason), and the decision C(blocked), which
        counts as missing; C(new_packages) and C(removals) list what the transaction adds and
        removes (obsoleted packages included).
      - V(false) skips that step (one more package-manager call); approved updates are then not
        checked for installability, and C(new_packages)/C(removals) stay empty.
    type: bool
    default: true
  source_packages:
    description:
      - apt only. Also return each update's C(source_package), C(source_version) and C(installed_source_version)
        (one C(apt-cache show NAME=VERSION) call over the updates).
      - The action plugin sets it when O(advisory_feed) is given, since the feed is keyed by source package.
    type: bool
    default: false
notes:
  - Commands run with argument lists, C(LC_ALL=C) and C(TZ=UTC); a failing command fails the
    module with the command (shortened), its rc and the line of its output that states the cause.
  - The package manager is the oracle. apt hosts are asked by the names apt prints back
    (Multi-Arch C(same) libraries and foreign-architecture copies included); an apt update is
    C(security) when the newest version a security pocket offers is newer than the installed one
    and not newer than the candidate, as unattended-upgrades decides (the security version is then
    in C(security_version)). Packages a dpkg run left unfinished (C(iU), C(iF)...) or duplicated rpm
    entries are listed in C(unfinished) and make the status C(unknown).
  - O(root) must be an existing directory holding an rpm database; it is never created.
  - apt metadata has no severity, CVE or date; apt security updates are recognised by their
    origin (a C(*-security) suite or codename, or a C(*-Security) label) and have severity C(unknown)
    unless O(advisory_feed) supplies them.
  - yum 3 (Enterprise Linux 7) is not supported.
seealso:
  - plugin: fleetpatch.patching.evaluate_policy
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Assess every host against the security baseline
  fleetpatch.patching.patch_facts:
    policy:
      classifications: [security, bugfix]
      approve_after_days: {critical: 0, important: 3, default: 7}
      exclude: ["kernel*"]
      sla_days: {critical: 7, important: 30}

- name: Show what is missing
  ansible.builtin.debug:
    msg: "{{ ansible_facts.fleetpatch.updates | selectattr('decision', 'eq', 'approved') | map(attribute='name') }}"

- name: Assess apt hosts with Debian's security data (severities, CVEs, DSA ids and dates)
  fleetpatch.patching.patch_facts:
    policy:
      sla_days: {critical: 7, important: 30}
    advisory_feed:
      debian_tracker: https://security-tracker.debian.org/tracker/data/json
      debian_advisories:
        - https://salsa.debian.org/security-tracker-team/security-tracker/-/raw/master/data/DSA/list

- name: The RPM tools on this host are not the system's manager
  fleetpatch.patching.patch_facts:
    pkg_mgr: dnf
    update_cache: false
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to ansible_facts.
  returned: success
  type: dict
  contains:
    fleetpatch:
      description:
        - The host patch record (schema_version 1), the same for every package manager. Its JSON Schema is
          C(docs/schemas/host_patch_record.schema.json).
      returned: success
      type: dict
      contains:
        schema_version:
          description: The record's schema version.
          returned: always
          type: int
          sample: 1
        hostname:
          description: The host's name as it reports it; null for an installroot (O(root)).
          returned: always
          type: str
          sample: web01
        pkg_mgr:
          description: The package manager that answered (V(apt), V(dnf), V(zypper), V(windows)).
          returned: always
          type: str
          sample: apt
        root:
          description: The root assessed (V(/), or O(root)).
          returned: POSIX hosts
          type: str
          sample: /
        os_family:
          description: The OS family (os-release C(ID_LIKE) mapped as Ansible's C(os_family)).
          returned: always
          type: str
          sample: Debian
        distribution:
          description: The distribution's name (os-release C(NAME)).
          returned: always
          type: str
          sample: Debian GNU/Linux
        version:
          description: The distribution's version (os-release C(VERSION_ID)).
          returned: always
          type: str
          sample: "12"
        codename:
          description: The release's codename (os-release C(VERSION_CODENAME)), what the advisory feed is keyed by; null when
            os-release has none.
          returned: POSIX hosts
          type: str
          sample: bookworm
        kernel_running:
          description: The running kernel's release, or null when it cannot be read.
          returned: always
          type: str
          sample: 6.1.0-26-amd64
        kernel_latest:
          description: The newest installed kernel's release, or null.
          returned: always
          type: str
          sample: 6.1.0-27-amd64
        collected_at:
          description: When the record was gathered (UTC).
          returned: always
          type: str
          sample: "2026-12-01T10:15:00Z"
        cache_refreshed:
          description: True when this run refreshed every source's metadata; false when it did not (O(update_cache),
            O(cache_valid_time)) or a source failed (see RV(ansible_facts.fleetpatch.incomplete)).
          returned: POSIX hosts
          type: bool
          sample: true
        cache_age:
          description: Seconds since package metadata last arrived on the host, or null when unknown.
          returned: POSIX hosts
          type: int
          sample: 12
        incomplete:
          description: Why the package manager's answer may be incomplete (a source not refreshed or skipped, metadata it
            could not parse), each with the manager's own cause; the status is then C(unknown), never C(compliant).
          returned: POSIX hosts
          type: list
          elements: str
          sample: ["W: Failed to fetch http://deb.example.net/dists/bookworm/InRelease  Could not resolve host"]
        unfinished:
          description: Packages an interrupted transaction left unfinished (dpkg states other than installed, duplicated
            rpm entries); the status is then C(unknown).
          returned: POSIX hosts
          type: list
          elements: str
          sample: []
        installed_count:
          description: How many packages are installed.
          returned: always
          type: int
          sample: 312
        installed:
          description: Every installed package, when O(include_installed=true).
          returned: when O(include_installed=true)
          type: list
          elements: dict
          sample: [{name: openssl, version: 3.0.15-1~deb12u1, arch: amd64}]
          contains:
            name:
              description: The package's name.
              returned: always
              type: str
            version:
              description: Its installed version.
              returned: always
              type: str
            arch:
              description: Its architecture.
              returned: always
              type: str
        updates:
          description: One entry per available update (per name and architecture), the newest version the manager would
            install, with the baseline's decision.
          returned: always
          type: list
          elements: dict
          sample:
            - name: openssl
              arch: amd64
              installed_version: 3.0.15-1~deb12u1
              available_version: 3.0.16-1~deb12u1
              classification: security
              severity: unknown
              advisories: []
              cves: []
              issued: null
              first_seen: "2026-11-20"
              repository: Debian-Security:12/bookworm-security
              reboot_suggested: false
              installable: true
              decision: approved
              reason: security update, severity unknown
              sla_due: "2026-12-20"
              sla_breached: false
          contains:
            name:
              description: The package's name (on Windows, the KB article).
              returned: always
              type: str
              sample: openssl
            arch:
              description: Its architecture, or null when the manager gives none.
              returned: always
              type: str
              sample: amd64
            installed_version:
              description: The installed version, or null for a new package (dnf's obsoleting packages, Windows updates).
              returned: always
              type: str
              sample: 3.0.15-1~deb12u1
            available_version:
              description: The version the update installs (on Windows, the KB article).
              returned: always
              type: str
              sample: 3.0.16-1~deb12u1
            classification:
              description: V(security), V(bugfix), V(enhancement) or V(other).
              returned: always
              type: str
              sample: security
            severity:
              description: V(critical), V(important), V(moderate), V(low) or V(unknown) (no advisory gives one).
              returned: always
              type: str
              sample: important
            advisories:
              description: The advisory ids (RHSA, SUSE-SU, DSA/USN from the advisory feed, KB ids), sorted.
              returned: always
              type: list
              elements: str
              sample: [DSA-5800-1]
            cves:
              description: The CVE ids the update fixes, sorted.
              returned: always
              type: list
              elements: str
              sample: [CVE-2026-0001]
            issued:
              description: The advisory's issue date, or null when unknown.
              returned: always
              type: str
              sample: "2026-11-01"
            first_seen:
              description: The day this host first saw the offered version (O(first_seen)), or null.
              returned: always
              type: str
              sample: "2026-11-20"
            repository:
              description: Where the version comes from (apt's origin and suite, the rpm repository id).
              returned: always
              type: str
              sample: Debian-Security:12/bookworm-security
            reboot_suggested:
              description: Whether the advisory says a reboot is needed after installing it.
              returned: always
              type: bool
              sample: false
            decision:
              description:
                - The baseline's decision, V(approved), V(blocked), V(deferred), V(rejected) or V(not_applicable).
                - V(blocked) - the baseline approves it but the package manager cannot install it (C(installable=false));
                  it counts as missing.
              returned: always
              type: str
              sample: approved
            reason:
              description: Why the baseline decided so.
              returned: always
              type: str
              sample: security update, severity unknown
            sla_due:
              description: The day the baseline's SLA (O(policy)'s C(sla_days)) ends for it, or null.
              returned: always
              type: str
              sample: "2026-12-20"
            sla_breached:
              description: Whether it is approved, missing and past its C(sla_due).
              returned: always
              type: bool
              sample: false
            installable:
              description: False when the package manager cannot install it (see C(blocked_reason)).
              returned: when resolved (O(resolve)), or when the manager says so itself
              type: bool
              sample: true
            blocked_reason:
              description: Why the package manager cannot install it (held, locked, a dependency it cannot resolve, not
                offered).
              returned: when C(installable=false)
              type: str
              sample: "openssl is held (apt-mark hold)"
            security_version:
              description: apt - the security pocket's version that makes this a security update when the candidate comes
                from another pocket.
              returned: apt, when the candidate is not the security pocket's
              type: str
              sample: 3.0.16-1~deb12u1
            installed_state:
              description: apt - the dpkg state of an installed version a dpkg run left unfinished (unpacked,
                half-configured...).
              returned: apt, for an unfinished package
              type: str
              sample: half-configured
            held:
              description: apt - the package is on hold (apt-mark hold).
              returned: apt, for a held package
              type: bool
              sample: true
            source_package:
              description: apt - the source package the binary is built from.
              returned: apt with O(source_packages) (set by O(advisory_feed))
              type: str
              sample: openssl
            source_version:
              description: apt - the source version of C(available_version).
              returned: apt with O(source_packages)
              type: str
              sample: 3.0.16-1~deb12u1
            installed_source_version:
              description: apt - the source version of C(installed_version).
              returned: apt with O(source_packages)
              type: str
              sample: 3.0.15-1~deb12u1
            obsoletes:
              description: dnf - the installed packages this new package obsoletes (installing it removes them).
              returned: dnf, for an obsoleting package
              type: list
              elements: str
              sample: [python3-six]
            title:
              description: Windows - the update's title.
              returned: Windows hosts
              type: str
              sample: 2024-01 Cumulative Update for Microsoft server operating system version 21H2 for x64-based Systems (KB5034129)
            update_id:
              description: Windows - the update's Windows Update id.
              returned: Windows hosts
              type: str
              sample: 8f2b8a84-7b73-4e1a-a2a6-4a1a8c9e3f11
            categories:
              description: Windows - the update's Windows Update categories.
              returned: Windows hosts
              type: list
              elements: str
              sample: [Security Updates, Windows Server 2019]
            uninstallable:
              description: Windows - whether Windows can uninstall the update later (rollback).
              returned: Windows hosts
              type: bool
              sample: true
        new_packages:
          description: Packages installing the approved updates would newly install (new dependencies), from resolution
            (O(resolve)).
          returned: always
          type: list
          elements: dict
          sample: [{name: libfoo2, version: 2.1-1, arch: amd64}]
          contains:
            name:
              description: The package's name.
              returned: always
              type: str
            version:
              description: The version it would install.
              returned: always
              type: str
            arch:
              description: Its architecture.
              returned: when the manager gives it
              type: str
        removals:
          description: Packages installing the approved updates would remove (conflicts, obsoleted packages), from
            resolution.
          returned: always
          type: list
          elements: dict
          sample: [{name: python3-six, version: 1.16.0-3.el9}]
          contains:
            name:
              description: The package's name.
              returned: always
              type: str
            version:
              description: Its installed version, or null.
              returned: always
              type: str
        reboot_required:
          description: Whether the host needs a reboot now.
          returned: always
          type: bool
          sample: false
        reboot_reasons:
          description: Why, in the package manager's (or the kernel check's) words.
          returned: always
          type: list
          elements: str
          sample: ["/run/reboot-required exists"]
        services_needing_restart:
          description: Services the package manager says need a restart.
          returned: always
          type: list
          elements: str
          sample: [ssh]
        rollback_cache:
          description: What the host keeps to go back (M(fleetpatch.patching.patch_apply)'s rollback cache).
          returned: POSIX hosts
          type: dict
          sample: {path: /var/lib/fleetpatch/rollback-cache, files: 3, bytes: 3612}
          contains:
            path:
              description: The cache directory.
              returned: always
              type: str
            files:
              description: How many package files it holds.
              returned: always
              type: int
            bytes:
              description: How many bytes they take.
              returned: always
              type: int
        advisory_feed:
          description: Which security data the action plugin joined to an apt host's updates (O(advisory_feed)), how old it
            was, and why it was not used.
          returned: apt hosts, when O(advisory_feed) is given
          type: dict
          sample: {source: [https://security-tracker.debian.org/tracker/data/json], cache_dir: /home/ops/.cache/fleetpatch,
                   index: /home/ops/.cache/fleetpatch/index-debian-1a2b.sqlite, loaded_at: "2026-12-01T09:00:00Z",
                   age_seconds: 4500, entries: 52000, advisories: 6100, release: bookworm, left_out: {}, joined: 3,
                   without_source: 0, warning: null}
          contains:
            source:
              description: The feed's files or URLs.
              returned: always
              type: list
              elements: str
            cache_dir:
              description: The controller's cache of fetched data and the index, or null.
              returned: always
              type: str
            index:
              description: The index file this run read, or null.
              returned: always
              type: str
            loaded_at:
              description: When the oldest input was fetched or written (UTC), or null.
              returned: always
              type: str
            age_seconds:
              description: How old that input was, or null.
              returned: always
              type: int
            entries:
              description: Fixes (source package, CVE, release) in the tracker data or the USNs.
              returned: always
              type: int
            advisories:
              description: Advisories read (DSA/DLA, or USNs).
              returned: always
              type: int
            release:
              description: The release the data was read for, or null.
              returned: always
              type: str
            left_out:
              description: Ubuntu's data - entries the index left out (C(without_releases), C(unusable), C(esm)); empty for
                Debian's.
              returned: when the data was used
              type: dict
            joined:
              description: Updates the data gave advisories or CVEs.
              returned: when the data was used
              type: int
            without_source:
              description: Updates apt named no source package for.
              returned: when the data was used
              type: int
            warning:
              description: Why the data was not used (the updates keep severity C(unknown)), or null.
              returned: always
              type: str
        policy:
          description: The name of the baseline the decisions come from.
          returned: always
          type: str
          sample: default
        status:
          description: V(compliant), V(non_compliant), V(pending_reboot) or V(unknown) (nothing proves the host compliant,
            see C(incomplete) and C(unfinished)).
          returned: always
          type: str
          sample: non_compliant
        counts:
          description: The SSM-style counts of the host's updates against the baseline.
          returned: always
          type: dict
          sample: {installed: 312, available: 1, missing: 1, blocked: 0, deferred: 0, rejected: 0, not_applicable: 0,
                   missing_by_severity: {critical: 0, important: 0, moderate: 0, low: 0, unknown: 1},
                   missing_by_classification: {security: 1, bugfix: 0, enhancement: 0, other: 0},
                   critical_non_compliant: 0, security_non_compliant: 1, sla_breached: 0, pending_reboot: 0}
          contains:
            installed:
              description: Installed packages.
              returned: always
              type: int
            available:
              description: Available updates.
              returned: always
              type: int
            missing:
              description: Updates the baseline approves that are not installed, blocked ones included.
              returned: always
              type: int
            blocked:
              description: Approved updates the package manager cannot install.
              returned: always
              type: int
            deferred:
              description: Updates the baseline approves later (approval delay).
              returned: always
              type: int
            rejected:
              description: Updates the baseline rejects.
              returned: always
              type: int
            not_applicable:
              description: Updates outside the baseline (classification, severity, name filters).
              returned: always
              type: int
            missing_by_severity:
              description: Missing updates per severity.
              returned: always
              type: dict
            missing_by_classification:
              description: Missing updates per classification.
              returned: always
              type: dict
            critical_non_compliant:
              description: Missing critical updates.
              returned: always
              type: int
            security_non_compliant:
              description: Missing security updates.
              returned: always
              type: int
            sla_breached:
              description: Missing updates past their SLA.
              returned: always
              type: int
            pending_reboot:
              description: 1 when the host waits for a reboot, else 0.
              returned: always
              type: int
commands:
  description: The commands the module ran (shortened), with their exit codes, for debugging.
  returned: POSIX hosts
  type: list
  elements: dict
  sample: [{cmd: [apt-get, update], rc: 0}]
cmd:
  description: The command that failed (shortened).
  returned: when a command failed
  type: list
  elements: str
  sample: [apt-get, update]
rc:
  description: The failed command's exit code.
  returned: when a command failed
  type: int
  sample: 100
stdout:
  description: The end of the failed command's standard output.
  returned: when a command failed
  type: str
stderr:
  description: The end of the failed command's standard error.
  returned: when a command failed
  type: str
  sample: "E: Could not get lock /var/lib/dpkg/lock-frontend"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetpatch.patching.plugins.module_utils import _record
from ansible_collections.fleetpatch.patching.plugins.module_utils._commands import CommandRunner
from ansible_collections.fleetpatch.patching.plugins.module_utils._module_args import facts_argument_spec, select_backend
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError


def main():
    module = AnsibleModule(
        argument_spec=facts_argument_spec(),
        supports_check_mode=True,
    )
    p = module.params
    runner = CommandRunner(module)
    try:
        backend = select_backend(module, runner)
        if p["source_packages"] and hasattr(backend, "source_packages"):
            backend.source_packages = True
        record = _record.assess(
            backend, update_cache=p["update_cache"], cache_valid_time=p["cache_valid_time"],
            include_installed=p["include_installed"], policy=p["policy"], state_dir=p["state_dir"],
            check_mode=module.check_mode, root=p["root"], record_first_seen=p["first_seen"],
            on_incomplete=p["on_incomplete"], resolve=p["resolve"])
    except PatchError as exc:
        module.fail_json(commands=runner.history, **exc.fail_kwargs())
    for problem in record.get("incomplete") or []:
        module.warn("Incomplete answer, status unknown: %s" % problem)
    for problem in record.get("unfinished") or []:
        module.warn("Unfinished transaction: %s" % problem)
    module.exit_json(changed=False, ansible_facts={"fleetpatch": record}, commands=runner.history)


if __name__ == "__main__":
    main()
