"""Transaction plans (apt simulation, dnf's table, zypper's install summary), target selection,
manifest refusal, the journal and rollback planning: the pure parts of patch_apply/patch_rollback.
The plan texts are the tools' real output, captured on the lab (dnf 4.14, zypper 1.14, apt 2.6)."""
import json
import os
import stat

import pytest
from ansible_collections.fleetpatch.patching.plugins.module_utils import _apply, _apt, _dnf, _journal, _zypper
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError

DNF_TABLE = """Dependencies resolved.
================================================================================
 Package                  Architecture   Version         Repository        Size
================================================================================
Upgrading:
 fp-agent                 noarch         1.1-1           fleetlab         6.3 k
 fp-clock                 noarch         1:2.5-1         fleetlab         6.3 k
 fp-crypto                noarch         1.0-2           fleetlab         6.3 k
Installing dependencies:
 fp-agent-plugins         noarch         1.0-1           fleetlab         6.3 k
Removing:
 a-package-with-a-very-long-name-that-wraps
                          x86_64         2.0-1           @System          1.0 M

Transaction Summary
================================================================================
Install  1 Package
Upgrade  3 Packages
Operation aborted.
"""

ZYPPER_SUMMARY = """<?xml version='1.0'?>
<stream>
<install-summary download-size="19266" space-usage-diff="16" packages-to-change="4">
<to-upgrade>
<solvable type="package" name="fp-agent" edition="1.1-1" arch="noarch" edition-old="1.0-1" arch-old="noarch" summary="x"/>
</to-upgrade>
<to-install>
<solvable type="package" name="fp-agent-plugins" edition="1.0-1" arch="noarch" summary="y"/>
</to-install>
<to-remove>
<solvable type="package" name="fp-tools" edition="2.0-1" arch="noarch" summary="z"/>
</to-remove>
</install-summary>
</stream>
"""

APT_SIMULATION = """NOTE: This is only a simulation!
Inst fp-agent-plugins (1.0-1 Debian:12/bookworm [all])
Inst fp-agent [1.0-1] (1.1-1 Debian:12/bookworm [all])
Inst fp-crypto [1.0-2] (1.0-1 Debian:12/bookworm [all])
Remv fp-tools [2.0-1]
Conf fp-agent-plugins (1.0-1 Debian:12/bookworm [all])
"""


def test_dnf_table():
    plan = _dnf.parse_transaction_table(DNF_TABLE)
    assert [(c["name"], c["after"]) for c in plan] == [
        ("fp-agent", "1.1-1"), ("fp-clock", "1:2.5-1"), ("fp-crypto", "1.0-2"), ("fp-agent-plugins", "1.0-1"),
        ("a-package-with-a-very-long-name-that-wraps", None)]


def test_zypper_summary():
    plan = _zypper.parse_install_summary(ZYPPER_SUMMARY)
    assert plan == [{"name": "fp-agent", "arch": "noarch", "before": "1.0-1", "after": "1.1-1"},
                    {"name": "fp-agent-plugins", "arch": "noarch", "before": None, "after": "1.0-1"},
                    {"name": "fp-tools", "arch": "noarch", "before": "2.0-1", "after": None}]


def test_apt_simulation():
    plan = _apt.parse_simulation(APT_SIMULATION)
    assert plan == [{"name": "fp-agent-plugins", "arch": "all", "before": None, "after": "1.0-1"},
                    {"name": "fp-agent", "arch": "all", "before": "1.0-1", "after": "1.1-1"},
                    {"name": "fp-crypto", "arch": "all", "before": "1.0-2", "after": "1.0-1"},
                    {"name": "fp-tools", "arch": None, "before": "2.0-1", "after": None}]


def record(*updates):
    return {"updates": [dict({"decision": "approved", "classification": "other", "advisories": [], "cves": []}, **u)
                        for u in updates]}


def test_select_targets_filters():
    rec = record({"name": "openssl", "available_version": "3.1", "classification": "security", "cves": ["CVE-1"]},
                 {"name": "tzdata", "available_version": "2025b"},
                 {"name": "kernel", "available_version": "6.1", "decision": "deferred", "reason": "later"})
    assert _apply.select_targets(rec)[0] == {"openssl": "3.1", "tzdata": "2025b"}
    targets, skipped = _apply.select_targets(rec, security_only=True)
    assert targets == {"openssl": "3.1"} and skipped["tzdata"] == "not a security update"
    assert skipped["kernel"] == "deferred: later"
    assert _apply.select_targets(rec, cves=["CVE-1"])[0] == {"openssl": "3.1"}
    assert _apply.select_targets(rec, names=["tz*"])[0] == {"tzdata": "2025b"}
    assert _apply.select_targets(rec, exclude=["tz*"])[0] == {"openssl": "3.1"}


def test_manifest_targets_never_downgrade():
    installed = {"a": "1.0-1", "b": "2.0-1", "c": "3.0-1"}
    targets, skipped = _apply.manifest_targets({"a": "1.0-2", "b": "2.0-1", "c": "2.9-1", "d": "1.0"}, installed,
                                               _apt.compare_deb)
    assert targets == {"a": "1.0-2"}
    assert skipped == {"b": "already at the manifest version", "c": "installed 3.0-1 is newer than the manifest's 2.9-1",
                       "d": "not installed here"}


def test_plan_beyond_manifest_is_refused():
    plan = [{"name": "a", "after": "1.0-2"}, {"name": "dep", "after": "1.0"}, {"name": "old", "after": None}]
    with pytest.raises(PatchError, match="would install dep 1.0; would remove old"):
        _apply.check_plan_against_manifest(plan, {"a": "1.0-2"})
    _apply.check_plan_against_manifest(plan[:2], {"a": "1.0-2", "dep": "1.0"})


def test_journal_is_atomic_root_only_and_ordered(tmp_path):
    state = str(tmp_path)
    first = _journal.create(state, "apt", {"a": "1.0"}, [], {"a": "1.1"})
    second = _journal.create(state, "apt", {"b": None}, [], {"b": "1.0"})
    assert _journal.load(state)["id"] == max(first["id"], second["id"])
    assert _journal.load(state, first["id"])["before"] == {"a": "1.0"}
    updated = _journal.update(state, first, status="applied", changes=[{"name": "a"}])
    assert json.load(open(os.path.join(state, "journal", first["id"] + ".json")))["status"] == "applied"
    assert updated["created"] == first["created"]
    assert stat.S_IMODE(os.stat(os.path.join(state, "journal")).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(state, "journal", first["id"] + ".json")).st_mode) == 0o600
    with pytest.raises(PatchError, match="Failed to find rollback journal nope"):
        _journal.load(state, "nope")


class FakeBackend:
    """Stands in for a package manager to test rollback's decisions (the lab tests the real ones)."""
    name = "apt"
    compare = staticmethod(_apt.compare_deb)

    def __init__(self, installed, offered):
        self.packages, self.offered, self.applied = dict(installed), offered, []

    def installed(self):
        return [{"name": n, "version": v, "arch": "all"} for n, v in self.packages.items()]

    def recover(self, journal=None):
        pass

    def available_versions(self, names):
        return dict((n, self.offered.get(n, set())) for n in names)

    def apply(self, versions, remove=(), downgrade=False, files=None):
        self.applied.append((dict(versions), list(remove), downgrade))
        self.files_used = dict(files or {})
        self.packages.update(versions)
        for name in remove:
            self.packages.pop(name)


def test_rollback_restores_removes_and_is_idempotent(tmp_path):
    state = str(tmp_path)
    _journal.create(state, "apt", {"a": "1.0", "dep": None, "gone": "3.0"}, [], {})
    backend = FakeBackend({"a": "1.1", "dep": "1.0", "other": "9"}, {"a": {"1.0", "1.1"}, "gone": {"3.0"}})
    result = _apply.rollback(backend, state)
    assert backend.applied == [({"a": "1.0", "gone": "3.0"}, ["dep"], True)]
    assert result["changes"] == [{"name": "a", "before": "1.1", "after": "1.0"},
                                 {"name": "dep", "before": "1.0", "after": None},
                                 {"name": "gone", "before": None, "after": "3.0"}]
    assert _journal.load(state)["status"] == "rolled_back"
    assert _apply.rollback(backend, state)["changed"] is False


class RpmDuplicatesBackend(FakeBackend):
    """A killed rpm transaction: both versions listed until recover() keeps the journal's one."""
    name = "dnf"

    def __init__(self, installed, offered, duplicates):
        FakeBackend.__init__(self, installed, offered)
        self.duplicates = dict(duplicates)

    def installed(self):
        return FakeBackend.installed(self) + [{"name": n, "version": v, "arch": "noarch"}
                                              for n, v in self.duplicates.items()]

    def recover(self, journal=None):
        for name in list(self.duplicates):
            self.packages[name] = journal["before"][name]
            del self.duplicates[name]


def test_a_rollback_done_by_the_repair_alone_is_a_change(tmp_path):
    """Seen on the lab's dnf host after a hung scriptlet was stopped: the repair kept the journal's
    version of every duplicated package, nothing was left to restore, and the rollback said
    "changed: false" - so the patch role called the host "failed, nothing rolled back"."""
    state = str(tmp_path)
    _journal.create(state, "dnf", {"fp-crypto": "1.0-1", "fp-firmware": "1.0-1"}, [], {})
    backend = RpmDuplicatesBackend({"fp-crypto": "1.0-2", "fp-firmware": "1.1-1"}, {},
                                   {"fp-crypto": "1.0-1", "fp-firmware": "1.0-1"})
    result = _apply.rollback(backend, state)
    assert backend.applied == [] and result["changed"] is True
    assert result["changes"] == [{"name": "fp-crypto", "before": "1.0-1, 1.0-2", "after": "1.0-1"},
                                 {"name": "fp-firmware", "before": "1.0-1, 1.1-1", "after": "1.0-1"}]
    assert _journal.load(state)["status"] == "rolled_back"


def test_rollback_refuses_before_changing_anything(tmp_path):
    state = str(tmp_path)
    _journal.create(state, "apt", {"a": "1.0"}, [], {})
    backend = FakeBackend({"a": "1.1"}, {"a": {"1.1"}})
    with pytest.raises(PatchError, match="no repository offers a 1.0 any more and the journal holds no file for it; nothing was changed"):
        _apply.rollback(backend, state)
    assert backend.applied == []


def test_rollback_refuses_another_managers_journal(tmp_path):
    _journal.create(str(tmp_path), "zypper", {"a": "1.0"}, [], {})
    with pytest.raises(PatchError, match="written by zypper, this host uses apt"):
        _apply.rollback(FakeBackend({}, {}), str(tmp_path))
