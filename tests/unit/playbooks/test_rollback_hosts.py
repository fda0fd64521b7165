"""Which hosts playbooks/rollback.yml targets, asked of the real ansible-playbook (--list-hosts):
a ring's rollback never reaches another ring, even when the workflow passes fleetpatch_targets to
every node (AWX passes workflow extra vars to every node)."""
import os
import subprocess

import pytest

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
INVENTORY = """
[fleetpatch_ring_test]
t1
t2
[fleetpatch_ring_pilot]
p1
[fleetpatch_ring_production]
r1
[web]
t1
p1
r1
"""


def hosts(tmp_path, *extra_vars):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(INVENTORY)
    argv = ["ansible-playbook", "-i", str(inventory), os.path.join(REPO, "playbooks", "rollback.yml"), "--list-hosts"]
    for assignment in extra_vars:
        argv += ["-e", assignment]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL,
                         env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections")))
    # the last play's hosts: the first play publishes the report's location on localhost
    lines = out.stdout.rsplit("hosts (", 1)[1].splitlines()[1:]
    return sorted(line.strip() for line in lines if line.strip())


@pytest.mark.parametrize("extra, expected", [
    ((), ["t1", "t2"]),                                                          # the test ring by default
    (("fleetpatch_ring=pilot",), ["p1"]),
    (("fleetpatch_targets=t1,r1",), ["r1", "t1"]),                               # chosen hosts, any ring
    (("fleetpatch_ring=test", "fleetpatch_targets=all"), ["t1", "t2"]),           # the workflow's case
    (("fleetpatch_ring=test", "fleetpatch_targets=web"), ["t1"]),
])
def test_rollback_targets_its_ring_among_the_targets(tmp_path, extra, expected):
    assert hosts(tmp_path, *extra) == expected
