"""The promotion manifest: what the ring's patched hosts installed, by package manager."""
import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetpatch.patching.plugins.filter.promotion_manifest import promotion_manifest


def host(mgr, status, *changes):
    return {"fleetpatch_pkg_mgr": mgr, "patch_outcome": {"status": status, "changes": [
        {"name": n, "before": "0", "after": a} for n, a in changes]}}


def test_only_patched_hosts_and_installed_versions_count():
    hostvars = {
        "a1": host("apt", "patched", ("openssl", "3.0.16"), ("old-dep", None)),
        "a2": host("apt", "patched", ("openssl", "3.0.16"), ("tzdata", "2025b")),
        "d1": host("dnf", "patched", ("openssl", "1:3.2.4-1")),
        "r1": host("apt", "rolled_back", ("broken", "2.0")),
        "gone": {},
    }
    assert promotion_manifest(["a1", "a2", "d1", "r1", "gone", "unknown"], hostvars) == {
        "apt": {"openssl": "3.0.16", "tzdata": "2025b"}, "dnf": {"openssl": "1:3.2.4-1"}}


def test_disagreeing_hosts_are_refused():
    hostvars = {"a1": host("apt", "patched", ("openssl", "3.0.16")), "a2": host("apt", "patched", ("openssl", "3.0.17"))}
    with pytest.raises(AnsibleFilterError, match="Cannot promote openssl: a1 installed 3.0.16 but a2 installed 3.0.17"):
        promotion_manifest(["a1", "a2"], hostvars)
