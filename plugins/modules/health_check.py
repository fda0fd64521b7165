#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: health_check
short_description: Check that a host's services work, before and after patching
version_added: 0.1.0
description:
  - Runs a list of checks on the host — a systemd service's state, a TCP port, an HTTP answer
    (status and body), a command (rc and output) — each retried O(retries) times, O(delay)
    seconds apart, each attempt bounded by O(timeout).
  - Returns every result; fails when a check still fails after its retries (unless
    O(fail_on_error=false)). Changes nothing.
author:
  - fleetpatch contributors (@fleetpatch)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The checks only read; they run in check mode too.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  checks:
    description:
      - The checks. Each is a dict with C(type) and the keys of that type, and an optional C(name).
      - "C(service): C(service), C(state) (default V(active))."
      - "C(port): C(port), C(host) (default V(127.0.0.1)), C(state) (V(open) or V(closed), default V(open))."
      - "C(http): C(url), C(status) (default V(200)), C(body_regex), C(method), C(validate_certs)."
      - "C(command): C(argv) (a list, never a shell string), C(rc) (default V(0)), C(stdout_regex)."
      - Any check may also set C(timeout), the seconds one of its attempts may take (instead of O(timeout)).
        A command that runs out of time is killed with every process it started.
      - A key that its type does not take is refused (a misspelt key is never silently ignored).
    type: list
    elements: dict
    required: true
  retries:
    description: Attempts per check.
    type: int
    default: 3
  delay:
    description: Seconds between attempts.
    type: float
    default: 2
  timeout:
    description: Seconds one attempt may take, for the checks that do not set their own C(timeout).
    type: float
    default: 5
  fail_on_error:
    description: Fail the task when a check fails.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: The web application answers
  fleetpatch.patching.health_check:
    checks:
      - {type: service, service: nginx}
      - {type: port, port: 443}
      - {type: http, url: "http://{{ ansible_host }}:8080/health", body_regex: "ok"}
      - {type: command, argv: [/usr/local/bin/app-selftest], stdout_regex: "PASS", timeout: 120}
    retries: 5
    delay: 3
"""

RETURN = r"""
results:
  description: One entry per check.
  returned: when the checks ran
  type: list
  elements: dict
  sample: [{name: "http http://10.0.0.5:8080/", type: http, ok: true, attempts: 1, detail: "answered 200", elapsed: 0.01}]
  contains:
    name:
      description: The check's name (its C(name), else its type and target).
      returned: when the checks ran
      type: str
    type:
      description: V(service), V(port), V(http) or V(command).
      returned: always
      type: str
    ok:
      description: Whether it passed.
      returned: always
      type: bool
    attempts:
      description: How many times it was tried (at most O(retries)).
      returned: when the checks ran
      type: int
    detail:
      description: What the last attempt found.
      returned: always
      type: str
    elapsed:
      description: Seconds the check took, retries included.
      returned: always
      type: float
healthy:
  description: Whether every check passed.
  returned: when the checks ran
  type: bool
  sample: true
failed_checks:
  description: The names of the checks that failed.
  returned: when the checks ran
  type: list
  elements: str
  sample: ["http http://10.0.0.5:8080/"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetpatch.patching.plugins.module_utils._health import run_checks, validate


def main():
    module = AnsibleModule(
        argument_spec=dict(
            checks=dict(type="list", elements="dict", required=True),
            retries=dict(type="int", default=3),
            delay=dict(type="float", default=2),
            timeout=dict(type="float", default=5),
            fail_on_error=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    problems = validate(p["checks"])
    if problems:
        module.fail_json(msg="Invalid health checks: %s" % "; ".join(problems))
    results = run_checks(p["checks"], p["retries"], p["delay"], p["timeout"])
    failed = [r["name"] for r in results if not r["ok"]]
    result = dict(changed=False, results=results, healthy=not failed, failed_checks=failed)
    if failed and p["fail_on_error"]:
        module.fail_json(msg="Health check failed: %s" % "; ".join(
            "%s (%s)" % (r["name"], r["detail"]) for r in results if not r["ok"]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
