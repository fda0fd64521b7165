#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: patch_apply
short_description: Install approved updates, or exactly a promotion manifest, with a rollback journal
version_added: 0.1.0
description:
  - Installs the updates the patch baseline (O(policy)) approves, narrowed by O(names),
    O(security_only), O(advisories), O(cves) and O(exclude); or exactly the versions of a
    promotion O(manifest), refusing a transaction that would install anything else.
  - Every update is installed at the exact version assessed, never "whatever is newest now".
  - Before changing anything it writes a journal under O(state_dir)C(/journal/) with the installed
    version of every package the transaction touches and the plan; afterwards it records what
    changed, or the failure (rc, stderr). M(fleetpatch.patching.patch_rollback) restores it.
  - Before anything else it finishes what an interrupted earlier run left (docs/reliability.md) - a dpkg
    killed mid-run (C(dpkg --configure -a), then C(apt-get install --fix-broken) for half-installed packages),
    rpm entries a killed dnf or zypper left twice (the journal's version is kept) - and fails, changing
    nothing else, when the database stays damaged. A journal whose change never ended (status C(applying), or
    an open O(cycle) never confirmed) is taken over - its versions before the change become this run's
    baseline, so RV(changes) and a rollback cover both runs - and marked C(superseded).
  - Check mode returns the exact plan (dependencies included) and changes nothing.
  - On Windows hosts the action plugin installs the selected KBs (or exactly a manifest's KBs) with
    M(ansible.windows.win_updates), writes the journal on the host under O(windows.state_dir), and with
    O(windows.reboot) reboots through M(ansible.windows.win_reboot) between passes, within a retry budget
    (O(windows.max_passes)). An update reported installed that did not install, or that Windows offers again
    after a reboot, is failed. See C(docs/windows.md).
author:
  - fleetpatch contributors (@fleetpatch)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - fleetpatch.patching._backend
  - fleetpatch.patching._transaction
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
  diff_mode:
    support: full
    details: Shows each package's version before and after.
  platform:
    platforms: [posix, windows]
options:
  policy:
    description: The patch baseline (see P(fleetpatch.patching.evaluate_policy#filter)); default approves every update.
    type: dict
  manifest:
    description:
      - Package name to exact version. Installs those versions on the hosts that have the
        package at an older version, and nothing else. Overrides O(policy) and the filters.
      - Or the promotion manifest as the gate builds it, package manager to such a mapping
        (P(fleetpatch.patching.promotion_manifest#filter)); each host takes the part of the package
        manager it runs (the one RV(pkg_mgr) returns), and installs nothing when the manifest does not name it.
    type: dict
  names:
    description: Only these packages (name patterns).
    type: list
    elements: str
  exclude:
    description: Never these packages (name patterns).
    type: list
    elements: str
  security_only:
    description: Only security updates.
    type: bool
    default: false
  advisories:
    description: Only updates that carry one of these advisory ids.
    type: list
    elements: str
  cves:
    description: Only updates that fix one of these CVEs.
    type: list
    elements: str
  update_cache:
    description: Refresh the package metadata before choosing (not in check mode).
    type: bool
    default: true
  cache_valid_time:
    description: With apt, skip the refresh when the lists are younger than this many seconds.
    type: int
    default: 0
  run_id:
    description: An identifier of the rollout run, recorded in the journal.
    type: str
  cycle:
    description:
      - The caller confirms the change after the reboot and the health checks with
        M(fleetpatch.patching.patch_cycle) (the M(fleetpatch.patching.patch) role does). The journal's
        cycle stays open until then, so a run that dies between the install and the health check is
        found and finished by the next one.
    type: bool
    default: false
  rollback_cache:
    description:
      - Before changing anything, keep a package file of every version the transaction replaces or removes under
        O(state_dir)C(/rollback-cache/) (root only), so M(fleetpatch.patching.patch_rollback) can go back when no
        repository offers that version any more (Debian's security archive keeps only the newest). Each file comes
        from the package manager's cache, else is downloaded at that exact version while a repository offers it,
        else (apt) is rebuilt from the installed files with C(dpkg-repack); its header must name that package,
        version and architecture. The journal records each file (path, sha256, size, source) and why a version
        could not be secured; see RV(rollback) and C(docs/apply-and-rollback.md).
      - A version that cannot be secured does not stop the install, unless the baseline (O(policy)) sets
        C(require_rollback), which leaves that update out, with the reason in RV(not_selected).
      - In check mode nothing is secured; RV(rollback) predicts where each file would come from.
    type: dict
    default: {}
    suboptions:
      enabled:
        description: Secure the files (V(false) relies on the repositories alone, as before 0.2).
        type: bool
        default: true
      keep_days:
        description:
          - A finished (completed, rolled back or superseded) journal keeps its files this many days; a later run
            prunes them then and notes it in that journal. Files of an open journal are always kept.
        type: int
        default: 30
      max_mb:
        description: The cache never grows past this many MiB; a version that would not fit is a gap, with that reason.
        type: int
        default: 2048
  snapshot_command:
    description:
      - A command (argument list) run on the host right before the change, after the rollback files are secured -
        a file-system snapshot such as C([snapper, create, --print-number, --description, fleetpatch]) or an LVM thin
        snapshot. The last line it prints is the snapshot id, recorded in the journal (C(snapshot)) and in
        RV(snapshot). Its environment has C(FLEETPATCH_RUN_ID) and C(FLEETPATCH_PACKAGES) (the names the change
        touches). If it fails or prints nothing, nothing is changed.
      - fleetpatch needs no snapshot tool and always restores packages itself; see C(docs/apply-and-rollback.md).
    type: list
    elements: str
  advisory_data:
    description:
      - apt hosts. What the advisory feed says about the host's updates, by C(NAME|ARCH|VERSION) the advisories, CVEs,
        issue date and severity, merged into the host's own assessment before the baseline decides. The action plugin
        sets it from O(advisory_feed); set O(advisory_feed) rather than this.
    type: dict
notes:
  - A failed transaction fails the module with the command, rc and stderr, the journal id and
    what changed before the failure; roll back with M(fleetpatch.patching.patch_rollback).
seealso:
  - module: fleetpatch.patching.patch_rollback
  - module: fleetpatch.patching.patch_facts
"""

EXAMPLES = r"""
- name: Install the approved security updates
  fleetpatch.patching.patch_apply:
    security_only: true
    policy:
      approve_after_days: {critical: 0, default: 7}
  register: applied

- name: Install exactly what the test ring installed
  fleetpatch.patching.patch_apply:
    manifest: "{{ fleetpatch_manifest }}"

- name: Fix one CVE
  fleetpatch.patching.patch_apply:
    cves: [CVE-2025-10001]
"""

RETURN = r"""
pkg_mgr:
  description: The package manager that did the work (detected when O(pkg_mgr=auto)); the gate keys the promotion manifest by it.
  returned: success
  type: str
  sample: apt
changes:
  description:
    - Every package whose installed version changed (in check mode, would change, from the plan); on failure, what changed
      before it.
  returned: always
  type: list
  elements: dict
  sample: [{name: openssl, before: 3.0.15-1~deb12u1, after: 3.0.16-1~deb12u1}]
  contains:
    name:
      description: The package's name (on Windows, the KB article).
      returned: always
      type: str
    before:
      description: The version before, or null for a newly installed package.
      returned: always
      type: str
    after:
      description: The version after, or null for a removed package.
      returned: always
      type: str
plan:
  description: The transaction, dependencies included (after null for a removal, before null for a new package).
  returned: success
  type: list
  elements: dict
  sample: [{name: openssl, arch: amd64, before: 3.0.15-1~deb12u1, after: 3.0.16-1~deb12u1}]
  contains:
    name:
      description: The package's name.
      returned: always
      type: str
    arch:
      description: Its architecture.
      returned: always
      type: str
    before:
      description: The installed version, or null.
      returned: always
      type: str
    after:
      description: The version the transaction installs, or null.
      returned: always
      type: str
    title:
      description: Windows - the update's title.
      returned: Windows hosts
      type: str
targets:
  description: The exact versions asked for, name to version.
  returned: always
  type: dict
  sample: {openssl: 3.0.16-1~deb12u1}
not_selected:
  description: Available updates left out, name to the reason (not approved, filtered, already at the manifest's version).
  returned: success
  type: dict
  sample: {linux-image-amd64: "not approved: deferred, approved on 2026-12-08"}
resumed:
  description: The journals of interrupted earlier runs this run took over (their changes are in RV(changes)).
  returned: success on POSIX hosts
  type: list
  elements: str
  sample: [20261124T101500Z-9f8e7d6c]
repaired:
  description: What an interrupted transaction had left in the package database, now repaired.
  returned: success on POSIX hosts
  type: list
  elements: str
  sample: ["dpkg --configure -a: fp-db was half-configured"]
remaining:
  description:
    - The selected versions (or the manifest's) the host still lacks after the run, name to version - empty
      when the host is patched to what was asked, whether or not this run changed anything.
  returned: success on POSIX hosts
  type: dict
  sample: {}
baseline_missing:
  description:
    - After the run, the updates the baseline (O(policy)) narrowed by the same filters still wants, name to version.
      With a O(manifest), what the manifest did not carry; the end of a rollout fails on it (docs/reliability.md).
  returned: success on POSIX hosts
  type: dict
  sample: {curl: 7.88.1-10+deb12u8}
verified:
  description:
    - When nothing was to be installed, the versions that completed cycles (applied, rebooted, healthy, confirmed
      with M(fleetpatch.patching.patch_cycle)) installed in the last 30 days and the host still runs; a re-run of a
      patched ring promotes them instead of an empty manifest.
  returned: success on POSIX hosts
  type: dict
  sample: {openssl: 3.0.16-1~deb12u1}
rollback:
  description:
    - The rollback cache for this change (null when nothing was to be changed or O(rollback_cache.enabled=false)).
  returned: success on POSIX hosts
  type: dict
  sample: {files: {fp-crypto: {version: 1.0-1, arch: all, path: /var/lib/fleetpatch/rollback-cache/fp-crypto_1.0-1_all.deb,
           sha256: 9f2c..., size: 1204, source: download}}, gaps: {}, possible: true,
           cache: {path: /var/lib/fleetpatch/rollback-cache, files: 1, bytes: 1204, pruned: {files: 0, bytes: 0}},
           seconds: 0.412}
  contains:
    files:
      description:
        - Name to the file secured for the version the change replaces - C(version), C(arch), C(path), C(sha256), C(size),
          C(source) (V(package-cache), V(download), V(rebuilt), V(kept)), and for a rebuilt file a C(note).
      returned: always
      type: dict
    gaps:
      description: Name to why its version could not be secured.
      returned: always
      type: dict
    possible:
      description: True when every version the change replaces or removes is secured (no C(gaps)).
      returned: always
      type: bool
    cache:
      description: The cache after this run - C(path), C(files), C(bytes), and what this run C(pruned) (C(files), C(bytes)).
      returned: always
      type: dict
    seconds:
      description: How long securing took.
      returned: always
      type: float
    predicted:
      description: Check mode - name to the source a file would come from (null when none would have it).
      returned: check mode
      type: dict
snapshot:
  description: The snapshot O(snapshot_command) took; null when none was taken.
  returned: success on POSIX hosts
  type: dict
  sample: {id: "42", command: [snapper, create, --print-number], taken_at: "2026-12-01T16:00:00Z"}
  contains:
    id:
      description: The snapshot's id (the command's last line of output).
      returned: always
      type: str
    command:
      description: The command run.
      returned: always
      type: list
      elements: str
    taken_at:
      description: When it was taken (UTC).
      returned: always
      type: str
journal:
  description: The id of the rollback journal (null when nothing was changed).
  returned: always
  type: str
  sample: 20261125T101500Z-1a2b3c4d
reboot_required:
  description: Whether the host needs a reboot now.
  returned: success
  type: bool
  sample: true
rebooted:
  description: Windows - whether the host was rebooted between update passes.
  returned: Windows hosts, when updates were installed
  type: bool
  sample: false
failed_updates:
  description: Windows - the updates Windows failed to install, KB to its error (also in C(msg)).
  returned: Windows hosts, when updates were installed or failed
  type: dict
  sample: {KB5034129: "0x80070643 (install failure)"}
failed_scripts:
  description:
    - On failure, the maintainer scripts (dpkg) or scriptlets (rpm) that failed, read from the package manager's output,
      also summed up in C(msg) and kept in the journal.
  returned: failure on POSIX hosts
  type: list
  elements: dict
  sample: [{package: fp-db, version: 1.1-1, script: post-install, status: exit 1, manager: dpkg,
            output: "schema migration failed: table 'sessions' is locked"}]
  contains:
    package:
      description: The package whose script failed.
      returned: always
      type: str
    version:
      description: The version being installed.
      returned: always
      type: str
    script:
      description: Which script (pre-install, post-install, pre-remove, post-remove...).
      returned: always
      type: str
    status:
      description: How it ended (V(exit 1)).
      returned: always
      type: str
    output:
      description: The script's last words, or null.
      returned: always
      type: str
    manager:
      description: V(dpkg) or V(rpm).
      returned: always
      type: str
record:
  description: The host patch record after the change (see RV(fleetpatch.patching.patch_facts#module:ansible_facts.fleetpatch)).
  returned: success
  type: dict
  sample: {schema_version: 1, pkg_mgr: apt, status: pending_reboot, reboot_required: true, updates: []}
advisory_feed:
  description:
    - The advisory feed joined to the host's updates before selecting them (apt hosts, O(advisory_feed)); its keys are
      those of RV(fleetpatch.patching.patch_facts#module:ansible_facts.fleetpatch.advisory_feed).
  returned: apt hosts, when O(advisory_feed) is given
  type: dict
  sample: {source: [https://security-tracker.debian.org/tracker/data/json], entries: 52000, advisories: 6100,
           release: bookworm, joined: 3, warning: null}
commands:
  description: The commands the module ran (shortened), with their exit codes, for debugging.
  returned: POSIX hosts
  type: list
  elements: dict
  sample: [{cmd: [apt-get, install, openssl=3.0.16-1~deb12u1], rc: 0}]
cmd:
  description: The command that failed (shortened).
  returned: when a command failed
  type: list
  elements: str
  sample: [apt-get, install, openssl=3.0.16-1~deb12u1]
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
  sample: "E: Sub-process /usr/bin/dpkg returned an error code (1)"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetpatch.patching.plugins.module_utils import _apply
from ansible_collections.fleetpatch.patching.plugins.module_utils._commands import CommandRunner
from ansible_collections.fleetpatch.patching.plugins.module_utils._module_args import apply_argument_spec, select_backend
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError


def main():
    module = AnsibleModule(
        argument_spec=apply_argument_spec(),
        supports_check_mode=True,
    )
    p = module.params
    for key in ("keep_days", "max_mb"):
        if p["rollback_cache"][key] < 0:
            module.fail_json(msg="rollback_cache.%s must not be negative, got %d" % (key, p["rollback_cache"][key]))
    runner = CommandRunner(module, transaction_timeout=p["transaction_timeout"])
    try:
        backend = select_backend(module, runner)
        result = _apply.apply(
            backend, p["state_dir"], check_mode=module.check_mode, policy=p["policy"], manifest=p["manifest"],
            names=p["names"], security_only=p["security_only"], advisories=p["advisories"], cves=p["cves"],
            exclude=p["exclude"], update_cache=p["update_cache"], cache_valid_time=p["cache_valid_time"],
            run_id=p["run_id"], cycle=p["cycle"], rollback_cache=p["rollback_cache"],
            snapshot_command=p["snapshot_command"], advisory_data=p["advisory_data"])
    except PatchError as exc:
        module.fail_json(commands=runner.history, journal=getattr(exc, "journal", None),
                         changes=getattr(exc, "changes", []), targets=getattr(exc, "targets", {}),
                         failed_scripts=getattr(exc, "failed_scripts", []),
                         **exc.fail_kwargs())
    diff = result.pop("diff")
    if module._diff:
        result["diff"] = diff
    module.exit_json(commands=runner.history, **result)


if __name__ == "__main__":
    main()
