#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: patch_cycle
short_description: Begin and end a host's patch cycle - the run lock, and the journal confirmed after the health check
version_added: 0.2.0
description:
  - A patch cycle is apply, reboot, health check. It spans several module calls and a reboot, so the
    M(fleetpatch.patching.patch) role brackets it with this module.
  - O(state=begin) takes the host's run lock (a file in O(state_dir) naming the run, the controller, its
    process and the start time). The same run takes it again (its next ring, a retried task); another run is
    refused with the holder named, until the lock is older than O(ttl) (its controller died), then it takes
    the lock over and says whose. It also lists the journals whose cycle never ended (an interrupted earlier
    run), which M(fleetpatch.patching.patch_apply) then finishes before anything else.
  - Taking and releasing the lock report no change (the lock is transient, as a package manager's is);
    confirming a journal does.
  - O(state=end) confirms O(journal) (status C(completed) - applied, rebooted as needed, healthy), which
    closes its cycle, and releases the lock. A journal left unconfirmed is what the next run resumes.
author:
  - fleetpatch contributors (@fleetpatch)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports what it would do; takes, confirms and releases nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  state:
    description: Begin (take the lock, list unfinished journals) or end (confirm the journal, release the lock).
    type: str
    choices: [begin, end]
    required: true
  run_token:
    description: Identifies the run that holds the lock; the same for every ring of one run.
    type: str
    required: true
  controller:
    description: The controller's host name, recorded in the lock for whoever finds it.
    type: str
  controller_pid:
    description: The controller's process id, recorded in the lock.
    type: int
  take_over:
    description:
      - With O(state=begin), the token of a run whose lock may be replaced although it is younger than O(ttl) -
        the caller proved that run dead (the M(fleetpatch.patching.patch) role does when the lock names this
        controller and a process that no longer runs).
    type: str
  ttl:
    description: Seconds after which another run's lock counts as stale (its run died) and is taken over.
    type: int
    default: 7200
  journal:
    description: With O(state=end), the journal of the cycle to confirm (omit when nothing was applied).
    type: str
  state_dir:
    description: Where fleetpatch keeps its journals and the lock.
    type: path
    default: /var/lib/fleetpatch
seealso:
  - module: fleetpatch.patching.patch_apply
  - module: fleetpatch.patching.patch_rollback
"""

EXAMPLES = r"""
- name: Take the host for this run
  fleetpatch.patching.patch_cycle:
    state: begin
    run_token: "{{ fleetpatch_run_token }}"

- name: Confirm the change and let the host go
  fleetpatch.patching.patch_cycle:
    state: end
    run_token: "{{ fleetpatch_run_token }}"
    journal: "{{ applied.journal }}"
"""

RETURN = r"""
lock:
  description: The run lock as held (O(state=begin)) or as found (O(state=end)); null when there was none.
  returned: always
  type: dict
  sample: {owner: 20261201T101500Z-4242, controller: ctl1, pid: 4242, started: "2026-12-01T10:15:00Z",
           refreshed: "2026-12-01T10:15:00Z", boot_id: 6f1c0e4e-3b1a-4a57-9d2e-6c1f0a3b2c11, since_boot: 8123.4}
  contains:
    owner:
      description: The run token of the run holding it.
      returned: always
      type: str
    controller:
      description: The controller that run is on.
      returned: always
      type: str
    pid:
      description: That run's process id on the controller.
      returned: always
      type: int
    started:
      description: When the run took the lock (UTC).
      returned: always
      type: str
    refreshed:
      description: When the lock was last taken or refreshed (UTC).
      returned: always
      type: str
    boot_id:
      description: The host's boot id then (a lock from an earlier boot is stale).
      returned: always
      type: str
    since_boot:
      description: Seconds since boot then (the age of the lock, whatever the wall clock says).
      returned: always
      type: float
    replaced_stale:
      description: The stale lock this run took over, when it took one over.
      returned: when a stale lock was replaced
      type: dict
held_by:
  description: When another run holds the host, its lock (owner, controller, pid, started...).
  returned: failure
  type: dict
  sample: {owner: 20261201T093000Z-977, controller: ctl2, pid: 977, started: "2026-12-01T09:30:00Z"}
replaced_stale:
  description: The stale lock of another run this run took over, or null.
  returned: always
  type: dict
  sample: null
open_journals:
  description: The journals whose cycle never ended (oldest first).
  returned: always
  type: list
  elements: dict
  sample: [{id: 20261130T101500Z-1a2b3c4d, status: applied, run_id: 20261130T101000Z-4242,
            created: "2026-11-30T10:15:00Z", changed: 3}]
  contains:
    id:
      description: The journal's id.
      returned: always
      type: str
    status:
      description: Its status (V(applying), V(applied), V(failed)).
      returned: always
      type: str
    run_id:
      description: The run that wrote it, or null.
      returned: always
      type: str
    created:
      description: When it was written (UTC).
      returned: always
      type: str
    changed:
      description: How many packages it changed.
      returned: always
      type: int
confirmed:
  description: The journal confirmed (O(journal)), or null.
  returned: always
  type: str
  sample: 20261201T101600Z-5e6f7a8b
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetpatch.patching.plugins.module_utils import _journal, _run_lock
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError


def summary(journal):
    return {"id": journal.get("id"), "status": journal.get("status"), "run_id": journal.get("run_id"),
            "created": journal.get("created"), "changed": len(journal.get("changes") or [])}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", required=True, choices=["begin", "end"]),
            run_token=dict(type="str", required=True, no_log=False),     # names a run; not a secret
            controller=dict(type="str"),
            controller_pid=dict(type="int"),
            ttl=dict(type="int", default=7200),
            take_over=dict(type="str"),
            journal=dict(type="str"),
            state_dir=dict(type="path", default="/var/lib/fleetpatch"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    result = dict(changed=False, lock=None, replaced_stale=None, open_journals=[], confirmed=None)
    try:
        if p["state"] == "begin":
            lock, replaced = _run_lock.acquire(p["state_dir"], p["run_token"], p["controller"], p["controller_pid"],
                                               p["ttl"], check_mode=module.check_mode, take_over=p["take_over"])
            # the lock is transient, as a package manager's is (end removes it): not a change to report
            result.update(lock=lock, replaced_stale=replaced,
                          open_journals=[summary(j) for j in _journal.pending(p["state_dir"])])
            if replaced:
                module.warn("took over the stale run lock of %s" % _run_lock.describe(replaced))
        else:
            if p["journal"] and not module.check_mode:
                _journal.confirm(p["state_dir"], p["journal"])
                result.update(confirmed=p["journal"], changed=True)
            result["lock"] = _run_lock.release(p["state_dir"], p["run_token"], check_mode=module.check_mode)
            if result["lock"] and result["lock"].get("owner") != p["run_token"]:
                module.warn("the run lock is held by %s, not by this run: left in place" % _run_lock.describe(result["lock"]))
            result["open_journals"] = [summary(j) for j in _journal.pending(p["state_dir"])]
    except PatchError as exc:
        module.fail_json(held_by=getattr(exc, "held", None), **dict(result, **exc.fail_kwargs()))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
