"""The backend contract (_backend.Backend): every backend subclasses it and implements each
abstract method, so a method missing from one backend fails here, not on a host."""

import inspect

import pytest

from ansible_collections.fleetpatch.patching.plugins.module_utils import _apt, _backend, _dnf, _rpm_common, _zypper


@pytest.mark.parametrize("cls", [_apt.AptBackend, _dnf.DnfBackend, _zypper.ZypperBackend])
def test_each_backend_implements_the_whole_contract(cls):
    assert issubclass(cls, _backend.Backend)
    assert not inspect.isabstract(cls), sorted(cls.__abstractmethods__)
    assert cls.name in ("apt", "dnf", "zypper")


def test_a_backend_missing_a_method_cannot_be_made():
    class Partial(_backend.Backend):
        name = "partial"

    with pytest.raises(TypeError):
        Partial()  # pylint: disable=abstract-class-instantiated


@pytest.mark.parametrize("cls", [_apt.AptBackend, _dnf.DnfBackend, _zypper.ZypperBackend])
def test_signatures_follow_the_contract(cls):
    for method in ("refresh", "updates", "resolve", "plan", "apply", "recover", "available_versions"):
        wanted = list(inspect.signature(getattr(_backend.Backend, method)).parameters)
        assert list(inspect.signature(getattr(cls, method)).parameters) == wanted, method


def test_dnf_and_zypper_share_advisory_attachment_and_recovery():
    for cls in (_dnf.DnfBackend, _zypper.ZypperBackend):
        assert cls.recover is _rpm_common.RpmBackend.recover
        assert cls.installed is _rpm_common.RpmBackend.installed


def test_an_advisory_covers_versions_after_the_installed_one_up_to_the_available_one():
    updates = [{"name": "fp-db", "arch": "x86_64", "installed_version": "1.0-1", "available_version": "1.2-1"}]
    fixes = [("OLD", "fp-db", "1.0-1", None), ("SEC", "fp-db", "1.1-1", "x86_64"),
             ("NEXT", "fp-db", "1.3-1", None), ("I686", "fp-db", "1.1-1", "i686"), ("BARE", "fp-db", "1.2-1", "noarch")]
    advisories = {"SEC": {"id": "SEC", "classification": "security", "severity": "important", "cves": ["CVE-1"],
                          "issued": "2026-01-02", "reboot_suggested": False}}
    [update] = _rpm_common.attach_advisories(updates, fixes, advisories)
    assert update["advisories"] == ["BARE", "SEC"]
    assert (update["classification"], update["severity"], update["cves"]) == ("security", "important", ["CVE-1"])
    assert "advisories" not in updates[0]   # the caller's update is left as it was
