"""One host patch record's update and record, valid in every field, for the tests of what the controller
makes of what hosts send (tests/unit/plugins/plugin_utils/test_untrusted_*.py, test_host_values_memo.py):
each test changes the fields it is about."""

CONTROLLER_NOW = "2026-11-25T10:00:00Z"


def update(package, **fields):
    value = {"name": package, "arch": "amd64", "installed_version": "1", "available_version": "2",
             "classification": "security", "severity": "important", "advisories": ["A-1"], "cves": ["CVE-2026-1"],
             "issued": "2026-11-01", "first_seen": "2026-11-02", "decision": "approved", "reason": "",
             "sla_due": "2026-12-01", "sla_breached": False}
    value.update(fields)
    return value


def record(*updates, **fields):
    value = {"pkg_mgr": "apt", "distribution": "Debian", "version": "12", "kernel_running": "6.1",
             "collected_at": CONTROLLER_NOW, "installed_count": 100, "updates": list(updates),
             "reboot_required": False, "reboot_reasons": [], "policy": "default", "status": "non_compliant"}
    value.update(fields)
    return value


FACTS = "fleetpatch.patching.patch_facts"
RUN = {"run_id": "r1", "started_at": "2026-11-25T09:50:00Z", "ended_at": "2026-11-25T10:05:00Z",
       "playbooks": ["rollout.yml"], "check_mode": False, "controller": "c", "ansible_version": "2.19",
       "collection_version": "0.1.0", "aborted_by": None}
