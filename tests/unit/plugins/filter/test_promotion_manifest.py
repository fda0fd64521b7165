"""The promotion manifest: what the ring's patched hosts installed, by package manager."""
import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetpatch.patching.plugins.filter.promotion_manifest import promotion_manifest


def host(mgr, status, *changes):
    """A host whose package manager was detected: no fleetpatch_pkg_mgr, patch_apply said which."""
    return {"patch_outcome": {"status": status, "pkg_mgr": mgr, "changes": [
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


def test_the_package_manager_is_the_one_that_installed_not_a_variable():
    """Issue 14: keyed by fleetpatch_pkg_mgr or "auto", a ring relying on detection put apt and RPM
    versions of openssl under one key and the gate refused to promote."""
    hostvars = {"web1": host("apt", "patched", ("openssl", "3.0.16-1~deb12u1")),
                "db1": host("dnf", "patched", ("openssl", "1:3.2.4-1.el9"))}
    hostvars["db1"]["fleetpatch_pkg_mgr"] = "apt"       # a wrong variable does not move what dnf installed
    assert promotion_manifest(["web1", "db1"], hostvars) == {
        "apt": {"openssl": "3.0.16-1~deb12u1"}, "dnf": {"openssl": "1:3.2.4-1.el9"}}


def test_an_outcome_that_does_not_say_its_package_manager_is_refused():
    hostvars = {"web1": {"patch_outcome": {"status": "patched", "changes": [{"name": "a", "after": "1"}]}}}
    with pytest.raises(AnsibleFilterError, match="does not say which package manager"):
        promotion_manifest(["web1"], hostvars)


def test_each_host_takes_its_own_managers_part_of_the_manifest():
    from ansible_collections.fleetpatch.patching.plugins.module_utils._apply import manifest_for
    manifest = {"apt": {"openssl": "3.0.16-1~deb12u1", "apt": "2.6.2"}, "dnf": {"openssl": "1:3.2.4-1.el9"}}
    assert manifest_for(manifest, "dnf") == {"openssl": "1:3.2.4-1.el9"}
    assert manifest_for(manifest, "zypper") == {}
    flat = {"apt": "2.6.2", "openssl": "3.0.16-1~deb12u1"}     # a package named apt, not a manager
    assert manifest_for(flat, "apt") == flat
    assert manifest_for({}, "apt") == {}
