#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: patch_rollback
short_description: Restore exactly the package versions a patch_apply journal recorded
version_added: 0.1.0
description:
  - Reads a rollback journal written by M(fleetpatch.patching.patch_apply) (the latest, or one
    by id) and returns every package it recorded to its recorded version. It downgrades (apt
    C(--allow-downgrades), dnf C(downgrade), zypper C(--oldpackage)), reinstalls what the change
    removed, removes what it newly installed. Then marks the journal rolled back.
  - A version M(fleetpatch.patching.patch_apply) secured a package file for before the change (its rollback cache,
    recorded in the journal with path, sha256 and size) is installed from that file, so going back needs no
    repository; a file rebuilt with dpkg-repack only when no repository offers the version any more.
  - Before changing anything, checks that every recorded version can be had, from a repository or from a secured
    file whose size and sha256 still match the journal; if one cannot (no file, a file missing, changed or pruned
    by retention), refuses and names the packages.
  - On apt, first finishes a dpkg run that was interrupted (C(dpkg --configure -a)).
  - Idempotent, a second run finds nothing to do.
  - On Windows hosts the action plugin uninstalls every KB the journal installed with
    M(ansible.windows.win_hotfix) (C(state=absent)), refusing before any change a journal that holds an update
    Windows cannot uninstall (servicing stack, definition updates) unless O(windows.keep_permanent).
author:
  - fleetpatch contributors (@fleetpatch)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - fleetpatch.patching._backend
  - fleetpatch.patching._transaction
  - fleetpatch.patching._windows
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
  platform:
    platforms: [posix, windows]
options:
  journal:
    description: The journal id to restore, or V(latest).
    type: str
    default: latest
  snapshot_command:
    description:
      - A command (argument list) run on the host once the packages are restored and verified - to roll back, drop or
        mount the file-system snapshot that M(fleetpatch.patching.patch_apply)'s C(snapshot_command) took. Its
        environment has C(FLEETPATCH_SNAPSHOT_ID) (the id the journal recorded; empty when none was taken) and
        C(FLEETPATCH_JOURNAL_ID). Its failure fails the task, which says the packages are restored.
    type: list
    elements: str
seealso:
  - module: fleetpatch.patching.patch_apply
"""

EXAMPLES = r"""
- name: Undo the last patch run
  fleetpatch.patching.patch_rollback:

- name: Undo a given run
  fleetpatch.patching.patch_rollback:
    journal: "{{ applied.journal }}"
"""

RETURN = r"""
journal:
  description: The journal restored.
  returned: success
  type: str
  sample: 20261125T101500Z-1a2b3c4d
journal_status:
  description: The journal's status before this rollback (V(applied), V(failed), V(completed), V(rolled_back)...).
  returned: success
  type: str
  sample: applied
restore:
  description: Package name to the version it is restored to (POSIX hosts; empty on Windows, where a KB is only removed).
  returned: success
  type: dict
  sample: {openssl: 3.0.15-1~deb12u1}
from_files:
  description: The packages restored from a secured package file, to the file's source (V(package-cache), V(download),
    V(rebuilt), V(kept)).
  returned: success on POSIX hosts
  type: dict
  sample: {fp-crypto: download}
snapshot_command_output:
  description: The last line O(snapshot_command) printed.
  returned: when O(snapshot_command) ran
  type: str
  sample: "snapshot 42 restored for the next boot"
remove:
  description: Packages (on Windows, KB articles) removed because the change had newly installed them.
  returned: success
  type: list
  elements: str
  sample: [libfoo2]
kept:
  description: Windows - the KB articles Windows cannot uninstall, left installed (O(windows.keep_permanent)).
  returned: Windows hosts
  type: list
  elements: str
  sample: [KB5034439]
reboot_required:
  description: Windows - whether an uninstall asks for a reboot.
  returned: Windows hosts
  type: bool
  sample: true
changes:
  description: Every package whose installed version changed; on failure, what changed before it.
  returned: always
  type: list
  elements: dict
  sample: [{name: openssl, before: 3.0.16-1~deb12u1, after: 3.0.15-1~deb12u1}]
  contains:
    name:
      description: The package's name (on Windows, the KB article).
      returned: always
      type: str
    before:
      description: The version before the rollback, or null.
      returned: always
      type: str
    after:
      description: The version after, or null for a removed package.
      returned: always
      type: str
commands:
  description: The commands the module ran (shortened), with their exit codes, for debugging.
  returned: POSIX hosts
  type: list
  elements: dict
  sample: [{cmd: [apt-get, install, --allow-downgrades, openssl=3.0.15-1~deb12u1], rc: 0}]
cmd:
  description: The command that failed (shortened).
  returned: when a command failed
  type: list
  elements: str
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
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetpatch.patching.plugins.module_utils import _apply
from ansible_collections.fleetpatch.patching.plugins.module_utils._commands import CommandRunner
from ansible_collections.fleetpatch.patching.plugins.module_utils._module_args import rollback_argument_spec, select_backend
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError


def main():
    module = AnsibleModule(
        argument_spec=rollback_argument_spec(),
        supports_check_mode=True,
    )
    p = module.params
    runner = CommandRunner(module, transaction_timeout=p["transaction_timeout"])
    try:
        backend = select_backend(module, runner)
        result = _apply.rollback(backend, p["state_dir"], p["journal"], check_mode=module.check_mode,
                                 snapshot_command=p["snapshot_command"])
    except PatchError as exc:
        module.fail_json(commands=runner.history, **exc.fail_kwargs())
    diff = result.pop("diff")
    if module._diff:
        result["diff"] = diff
    module.exit_json(commands=runner.history, **result)


if __name__ == "__main__":
    main()
