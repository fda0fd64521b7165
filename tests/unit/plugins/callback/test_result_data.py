"""The compliance callback reads each task result through result_data(): Ansible's per-callback
copy when it holds only plain values (a module's reply), Ansible's native copy otherwise (the tagged
values of a templated set_fact). Built from real ansible-core TaskResult objects, as
TaskQueueManager.send_callback hands them to a callback."""

import json
import marshal
import os
import sys

from ansible._internal._datatag._tags import Origin
from ansible.executor.task_result import _RawTaskResult
from ansible.inventory.host import Host
from ansible.playbook.task import Task

from ansible_collections.fleetpatch.patching.plugins.callback import compliance

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "support"))
import synthetic_fleet  # noqa: E402


def callback_result(action, data):
    task = Task()
    task.action = action
    return _RawTaskResult(Host("web1"), task, data, {}).as_callback_task_result()


def module_reply():
    _host, _ring, events = next(iter(synthetic_fleet.fleet(1, 50, seed=3)))
    action, result, _failed, _unreachable = events[0]
    return action, json.loads(json.dumps(result))          # as a module's JSON reply decodes


def test_a_modules_reply_is_read_without_a_second_copy():
    action, reply = module_reply()
    result = callback_result(action, reply)
    data = compliance.result_data(result)
    assert data is result._return_data                      # no native copy made
    assert data == result._result                           # and the same values as that copy
    assert len(data["ansible_facts"]["fleetpatch"]["updates"]) == 50


def test_tagged_values_are_read_through_ansibles_native_copy():
    outcome = {"status": Origin(description="set_fact").tag("patched"), "ring": "test",
               "changes": Origin(description="set_fact").tag([{"name": "openssl"}])}
    result = callback_result("ansible.builtin.set_fact", {"ansible_facts": {"patch_outcome": outcome}})
    data = compliance.result_data(result)
    assert data is not result._return_data
    assert data == {"ansible_facts": {"patch_outcome": {"status": "patched", "ring": "test",
                                                        "changes": [{"name": "openssl"}]}}}
    marshal.dumps(data)                                     # only plain values: raises otherwise
    assert data["ansible_facts"]["patch_outcome"]["status"].__class__ is str     # not a tagged str


def test_a_result_that_is_not_a_mapping_reads_as_empty():
    class Odd(object):
        _return_data = None
        _result = ["not", "a", "dict"]
    assert compliance.result_data(Odd()) == {}
