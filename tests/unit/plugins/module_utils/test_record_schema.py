"""Records built from every captured scenario validate against docs/schemas (the published contract)."""
import json
import os

import jsonschema
import pytest
from ansible_collections.fleetpatch.patching.plugins.module_utils import _apt, _dnf, _record, _zypper
from replay import ReplayRunner

SCHEMA_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "docs", "schemas",
                           "host_patch_record.schema.json")
BACKENDS = {"apt": _apt.AptBackend, "dnf": _dnf.DnfBackend, "zypper": _zypper.ZypperBackend}


def schema():
    with open(SCHEMA_PATH) as f:
        return json.load(f)


@pytest.mark.parametrize("manager", sorted(BACKENDS))
@pytest.mark.parametrize("wave", ["baseline", "security", "fixed"])
def test_record_validates(manager, wave, monkeypatch, tmp_path):
    for module in (_apt, _dnf, _zypper):
        monkeypatch.setattr(module, "wait_for_locks", lambda *a, **k: None)
    backend = BACKENDS[manager](ReplayRunner("%s-%s" % (manager, wave)))
    if manager == "apt":
        backend.lists_dir = str(tmp_path / "no-lists")
    monkeypatch.setattr(backend, "reboot_status", lambda: (["/run/reboot-required exists"], []))
    # resolve=False: resolution is tested live (tests/integration/test_conformance.py) and on
    # captured output (test_assessment_truth.py); these fixtures hold the assessment commands only
    record = _record.assess(backend, update_cache=False, policy={"approve_after_days": {"unknown": 7}},
                            state_dir=str(tmp_path), resolve=False)
    jsonschema.validate(record, schema())
    assert record["rollback_cache"] == {"path": str(tmp_path / "rollback-cache"), "files": 0, "bytes": 0}
    assert (record["counts"]["available"] > 0) == (wave != "baseline")
    if wave == "baseline" or manager == "apt":
        # apt severities are unknown: first seen today, every update waits its 7 days
        assert record["status"] == "pending_reboot"
        assert record["counts"]["deferred"] == record["counts"]["available"]
    else:
        assert record["status"] == "non_compliant"


def test_schema_rejects_a_broken_record():
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"schema_version": 1, "pkg_mgr": "apt"}, schema())
