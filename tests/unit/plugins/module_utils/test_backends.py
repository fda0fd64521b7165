"""Choosing the backend: detection order, the user's override, clear errors."""
import pytest
from ansible_collections.fleetpatch.patching.plugins.module_utils import _backends
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError


def only(*binaries):
    return lambda name: "/usr/bin/" + name if name in binaries else None


def test_no_manager_names_what_was_looked_for(monkeypatch):
    monkeypatch.setattr(_backends, "which", only())
    with pytest.raises(PatchError, match="looked for apt-get, zypper, dnf5, dnf, yum on PATH, found none"):
        _backends.select(runner=None)


def test_apt_wins_over_rpm_tools_installed_beside_it(monkeypatch):
    monkeypatch.setattr(_backends, "which", only("apt-get", "dnf", "zypper"))
    assert _backends.detect()[0] == "apt"


def test_override_names_the_missing_tool(monkeypatch):
    monkeypatch.setattr(_backends, "which", only("apt-get"))
    with pytest.raises(PatchError, match="pkg_mgr is zypper but zypper is not installed"):
        _backends.select(runner=None, pkg_mgr="zypper")
    with pytest.raises(PatchError, match="Unsupported pkg_mgr 'pacman'"):
        _backends.select(runner=None, pkg_mgr="pacman")


class VersionRunner:
    def __init__(self, text):
        self.text = text
        self.env = {}

    def run(self, argv, action, ok_rcs=(0,)):
        return 0, self.text, ""


@pytest.mark.parametrize("text, generation", [("4.14.0\n  Installed: dnf-0:4.14.0-3.noarch", 4),
                                              ("dnf5 version 5.2.8.1\ndnf5 plugin API version 2.0", 5)])
def test_dnf_generation(monkeypatch, text, generation):
    monkeypatch.setattr(_backends, "which", only("dnf"))
    backend = _backends.select(VersionRunner(text), pkg_mgr="dnf")
    assert backend.generation == generation and backend.binary == "dnf"
