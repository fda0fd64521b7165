"""How the gate counts a host, what it promotes, and how manifests pass from ring to ring."""
import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetpatch.patching.plugins.filter.gate_statuses import gate_statuses
from ansible_collections.fleetpatch.patching.plugins.filter.merge_manifests import merge_manifests
from ansible_collections.fleetpatch.patching.plugins.filter.promotion_manifest import promotion_manifest


def outcome(status, **extra):
    result = {"status": status, "pkg_mgr": "apt", "changes": [], "remaining": {}, "compliance": "compliant",
              "verified": {}, "baseline_missing": {}}
    result.update(extra)
    return result


def test_a_host_that_still_lacks_what_was_asked_is_incomplete_not_succeeded():
    assert gate_statuses([
        outcome("patched"),
        outcome("unchanged"),
        outcome("unchanged", remaining={"openssl": "3.0.16"}),      # a re-run that installed nothing
        outcome("patched", compliance="unknown"),                   # a repository was skipped after the apply
        outcome("rolled_back"), outcome("failed"), outcome("started"), {}, None,
    ]) == ["patched", "unchanged", "incomplete", "incomplete", "rolled_back", "failed", "started", "unreached",
           "unreached"]


def test_the_end_of_a_rollout_also_judges_what_the_manifest_did_not_carry():
    outcomes = [outcome("unchanged", baseline_missing={"fp-tools": "2.0-1"}), outcome("patched")]
    assert gate_statuses(outcomes) == ["unchanged", "patched"]
    assert gate_statuses(outcomes, final=True) == ["non_compliant", "patched"]


def test_a_re_run_promotes_what_completed_cycles_verified():
    hostvars = {
        "a1": {"patch_outcome": outcome("unchanged", verified={"openssl": "3.0.16", "tzdata": "2025a"})},
        "a2": {"patch_outcome": outcome("unchanged", verified={"openssl": "3.0.17"})},     # the highest wins
        "a3": {"patch_outcome": outcome("patched", changes=[{"name": "tzdata", "before": "1", "after": "2025b"}])},
        "a4": {"patch_outcome": outcome("unchanged", remaining={"x": "1"}, verified={"x": "0.9"})},   # incomplete
    }
    assert promotion_manifest(["a1", "a2", "a3", "a4"], hostvars) == {
        "apt": {"openssl": "3.0.17", "tzdata": "2025b"}}      # what this run installed wins over verified


def test_verified_versions_compare_as_the_package_manager_does():
    hostvars = {"d1": {"patch_outcome": outcome("unchanged", pkg_mgr="dnf", verified={"k": "1:1.0-1"})},
                "d2": {"patch_outcome": outcome("unchanged", pkg_mgr="dnf", verified={"k": "9.0-1"})}}
    assert promotion_manifest(["d1", "d2"], hostvars) == {"dnf": {"k": "1:1.0-1"}}    # the epoch wins


def test_a_ring_passes_on_what_it_received_and_adds_what_it_lacks():
    received = {"apt": {"openssl": "3.0.16"}, "dnf": {"openssl": "1:3.2.4-1"}, "zypper": {"openssl": "3.1.4-1"}}
    pilot = {"apt": {"openssl": "3.0.17", "tzdata": "2025b"}}
    assert merge_manifests(received, pilot) == {"apt": {"openssl": "3.0.16", "tzdata": "2025b"},
                                                "dnf": {"openssl": "1:3.2.4-1"}, "zypper": {"openssl": "3.1.4-1"}}
    assert received["apt"] == {"openssl": "3.0.16"}       # the input is not changed in place
    assert merge_manifests({}, pilot) == pilot


@pytest.mark.parametrize("bad", [["openssl=1"], {"openssl": "3.0.16"}])
def test_a_manifest_that_is_not_per_package_manager_is_refused(bad):
    with pytest.raises(AnsibleFilterError, match="must map each package manager to"):
        merge_manifests(bad, {})
