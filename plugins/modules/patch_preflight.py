#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: patch_preflight
short_description: Check that a host can be patched safely now
version_added: 0.1.0
description:
  - Runs the checks a careful operator runs before patching and returns each as V(pass), V(warn)
    or V(fail) with a reason. Failures of the checks listed in O(blocking) fail the task; the
    others are reported as warnings.
  - "Checks: C(disk) free space against thresholds; C(lock) no package-manager lock held;
    C(package_manager) database consistent (interrupted dpkg, C(dpkg --audit), dpkg states, rpm entries
    installed twice by a killed dnf or zypper); C(journal) no earlier patch run left its cycle unfinished
    (docs/reliability.md); C(repositories) metadata can be refreshed, none skipped; C(reboot_pending) no
    reboot already pending; C(window) the current time is inside the maintenance window; C(processes) none of
    the named processes runs."
  - Changes nothing on the host except refreshed package metadata.
author:
  - fleetpatch contributors (@fleetpatch)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - fleetpatch.patching._backend
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  min_free_mb:
    description:
      - Path to the free space (MB) it needs; a path that does not exist yet is checked on its nearest existing parent.
      - Default V(/) 500, V(/var) 1000, V(/boot) 100, the package manager's download cache (C(/var/cache/apt/archives),
        C(/var/cache/dnf), C(/var/cache/zypp)) 500 and O(state_dir) 50, plus what the rollback cache needs (O(check_rollback)).
    type: dict
  resume_interrupted:
    description:
      - What an interrupted earlier run left (an unfinished package database, a journal whose cycle never ended)
        warns instead of blocking, because the next step (M(fleetpatch.patching.patch_apply)) repairs and finishes
        it before anything else. The M(fleetpatch.patching.patch) role sets it unless C(patch_resume=block).
    type: bool
    default: false
  maintenance_window:
    description:
      - "C(days) (mon..sun, default every day), C(start) and C(end) (HH:MM; an end before the start
        runs past midnight), C(timezone) (a tz database name on Python 3.9+, V(UTC), or an offset such as V(+02:00))."
      - Not checked when not given.
    type: dict
  unsafe_processes:
    description: Names of processes (as in /proc/PID/comm) during which patching is unsafe.
    type: list
    elements: str
    default: []
  check_repositories:
    description: Refresh the package metadata to prove the repositories answer.
    type: bool
    default: true
  check_rollback:
    description:
      - The C(rollback) check - for every pending update, whether the version it replaces could be gone back to and
        from where (V(package-cache), V(download) while a repository offers it, V(rebuilt) with dpkg-repack on apt,
        V(kept) in the rollback cache), as M(fleetpatch.patching.patch_apply)'s rollback cache would secure it, and
        the room that cache needs (the installed sizes, an upper bound), which the C(disk) check adds to O(state_dir)'s
        threshold. It fails for updates nothing could roll back; warns unless V(rollback) is in O(blocking).
      - Not run while the package-manager lock is held or the package database needs a repair.
    type: bool
    default: true
  blocking:
    description: The checks whose failure fails the task; the others warn.
    type: list
    elements: str
    choices: [disk, lock, package_manager, journal, repositories, reboot_pending, window, processes, rollback]
    default: [disk, lock, package_manager, journal, repositories, window, processes]
"""

EXAMPLES = r"""
- name: Safe to patch?
  fleetpatch.patching.patch_preflight:
    maintenance_window: {days: [sat, sun], start: "22:00", end: "04:00", timezone: Europe/Berlin}
    unsafe_processes: [pg_basebackup, borg]
    blocking: [disk, lock, package_manager, window]
"""

RETURN = r"""
checks:
  description:
    - Check name (V(disk), V(lock), V(package_manager), V(journal), V(repositories), V(reboot_pending), V(window),
      V(processes), V(rollback)) to its result; a check not run is absent.
  returned: when the checks ran
  type: dict
  sample: {disk: {status: pass, reason: "/ 5120 MB free", free_mb: {/: 5120}},
           window: {status: fail, reason: "Tue 14:02 UTC is outside ..."}}
  contains:
    status:
      description: V(pass), V(warn) or V(fail) (a failed check not in O(blocking) is a V(warn)).
      returned: always
      type: str
    reason:
      description: What the check found.
      returned: always
      type: str
    free_mb:
      description: C(disk) - path to the MB free there.
      returned: the disk check
      type: dict
    interrupted:
      description: C(package_manager) - what an interrupted transaction left.
      returned: when the package database is unfinished
      type: list
      elements: str
    journals:
      description: C(journal) - the ids of the journals left open.
      returned: when a journal is open
      type: list
      elements: str
    updates:
      description: C(rollback) - per pending update, where its installed version could be secured from.
      returned: the rollback check
      type: dict
    need_mb:
      description: C(rollback) - the MB the rollback cache will need (added to the disk check's threshold).
      returned: the rollback check
      type: int
ready:
  description: Whether no blocking check failed.
  returned: when the checks ran
  type: bool
  sample: true
blocked_by:
  description: The blocking checks that failed.
  returned: when the checks ran
  type: list
  elements: str
  sample: [window]
commands:
  description: The commands the module ran (shortened), with their exit codes, for debugging.
  returned: always
  type: list
  elements: dict
  sample: [{cmd: [dpkg, --audit], rc: 0}]
cmd:
  description: The command that failed (shortened).
  returned: when a command failed
  type: list
  elements: str
rc:
  description: The failed command's exit code.
  returned: when a command failed
  type: int
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

from ansible_collections.fleetpatch.patching.plugins.module_utils import _preflight
from ansible_collections.fleetpatch.patching.plugins.module_utils._commands import CommandRunner
from ansible_collections.fleetpatch.patching.plugins.module_utils._module_args import backend_argument_spec, select_backend
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError

CHECKS = ["disk", "lock", "package_manager", "journal", "repositories", "reboot_pending", "window", "processes",
          "rollback"]
DEFAULT_BLOCKING = ["disk", "lock", "package_manager", "journal", "repositories", "window", "processes"]


def main():
    module = AnsibleModule(
        argument_spec=backend_argument_spec(
            min_free_mb=dict(type="dict"),
            resume_interrupted=dict(type="bool", default=False),
            maintenance_window=dict(type="dict"),
            unsafe_processes=dict(type="list", elements="str", default=[]),
            check_repositories=dict(type="bool", default=True),
            check_rollback=dict(type="bool", default=True),
            blocking=dict(type="list", elements="str", choices=CHECKS, default=DEFAULT_BLOCKING),
        ),
        supports_check_mode=True,
    )
    p = module.params
    runner = CommandRunner(module)
    try:
        backend = select_backend(module, runner)
        root = p["root"] or ""
        measured = _preflight.free_space(_preflight.disk_thresholds(p["min_free_mb"], backend.name, p["state_dir"], root))
        checks = {
            "lock": _preflight.check_lock(backend.name, root),
            "package_manager": _preflight.check_package_manager(backend, p["resume_interrupted"]),
            "journal": _preflight.check_open_journals(root + p["state_dir"], p["resume_interrupted"]),
            "reboot_pending": _preflight.check_reboot(backend, p["root"]),
            "processes": _preflight.check_processes(p["unsafe_processes"]),
        }
        if checks["lock"]["status"] == "fail":
            checks["repositories"] = _preflight.result("warn", "not checked: the package-manager lock is held")
        elif p["check_repositories"]:
            checks["repositories"] = _preflight.check_repositories(backend)
        if p["check_rollback"] and checks["lock"]["status"] != "fail" and checks["package_manager"]["status"] == "pass":
            checks["rollback"] = _preflight.check_rollback(backend, root + p["state_dir"])
        checks["disk"] = _preflight.check_disk(_preflight.disk_thresholds(
            p["min_free_mb"], backend.name, p["state_dir"], root, (checks.get("rollback") or {}).get("need_mb", 0)),
            measured)
        if p["maintenance_window"]:
            checks["window"] = _preflight.check_window(p["maintenance_window"])
    except PatchError as exc:
        module.fail_json(commands=runner.history, **exc.fail_kwargs())
    for name, check in checks.items():
        if check["status"] == "fail" and name not in p["blocking"]:
            check["status"] = "warn"
    blocked = sorted(n for n, c in checks.items() if c["status"] == "fail")
    result = dict(changed=False, checks=checks, ready=not blocked, blocked_by=blocked, commands=runner.history)
    if blocked:
        module.fail_json(msg="Not safe to patch: %s" % "; ".join("%s: %s" % (n, checks[n]["reason"]) for n in blocked),
                         **result)
    for name, check in sorted(checks.items()):
        if check["status"] == "warn":
            module.warn("preflight %s: %s" % (name, check["reason"]))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
