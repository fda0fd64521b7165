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
  returned: always
  type: dict
  contains:
    fleetpatch:
      description:
        - The host patch record (schema_version 1). See docs/schemas/host_patch_record.schema.json.
      returned: always
      type: dict
      sample:
        schema_version: 1
        pkg_mgr: apt
        os_family: Debian
        distribution: Debian GNU/Linux
        version: "12"
        installed_count: 312
        updates:
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
            decision: approved
            reason: security update, severity unknown
            sla_due: "2026-12-20"
            sla_breached: false
        reboot_required: false
        reboot_reasons: []
        status: non_compliant
        counts: {installed: 312, available: 1, missing: 1, security_non_compliant: 1}
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
