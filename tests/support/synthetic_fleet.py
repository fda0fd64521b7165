"""A synthetic fleet for tests and benchmarks of the report path: host patch records shaped like
patch_facts' (docs/schemas/host_patch_record.schema.json), and the task results a rollout would
send the compliance callback. Deterministic for a given seed."""

import random

SEVERITIES = ("critical", "important", "moderate", "low", "unknown")
CLASSIFICATIONS = ("security", "bugfix", "enhancement", "other")
DECISIONS = ("approved", "approved", "approved", "deferred", "rejected", "not_applicable")
RINGS = ("test", "pilot", "production", "production", "production")
OSES = (("Debian", "12", "apt"), ("Rocky", "9", "dnf"), ("openSUSE Leap", "15.6", "zypper"))


def update(rng, index, hostile=False):
    severity = rng.choice(SEVERITIES)
    classification = "security" if severity in ("critical", "important") else rng.choice(CLASSIFICATIONS)
    decision = rng.choice(DECISIONS)
    year = rng.choice((2025, 2026))
    title = "<script>alert(1)</script> & \"quoted\"" if hostile else "Update for pkg%03d" % index
    return {
        "name": "pkg%03d" % index, "arch": "amd64",
        "installed_version": "1.%d-1" % index, "available_version": "1.%d-2" % index,
        "classification": classification, "severity": severity,
        "advisories": ["FLEET-%d-%04d" % (year, index)], "title": title,
        "cves": ["CVE-%d-%d" % (year, 10000 + index)] if classification == "security" else [],
        "issued": "%d-0%d-1%d" % (year, rng.randint(1, 9), rng.randint(0, 9)),
        "first_seen": "2026-1%d-0%d" % (rng.randint(0, 1), rng.randint(1, 9)),
        "repository": "fleet-security" if classification == "security" else "fleet-main",
        "reboot_suggested": index % 17 == 0,
        "decision": decision,
        "reason": "approved by the baseline" if decision == "approved" else "%s by the baseline" % decision,
        "sla_due": "2026-11-%02d" % rng.randint(1, 28) if decision == "approved" else None,
        "sla_breached": decision == "approved" and rng.random() < 0.2,
    }


def record(rng, host, updates_per_host, hostile=False):
    distribution, version, pkg_mgr = rng.choice(OSES)
    updates = [update(rng, i, hostile and i == 0) for i in range(updates_per_host)]
    reboot = any(u["reboot_suggested"] for u in updates) and rng.random() < 0.3
    return {
        "schema_version": 1, "hostname": host, "pkg_mgr": pkg_mgr, "root": "/", "os_family": distribution,
        "distribution": distribution, "version": version, "kernel_running": "6.1.0-28-amd64",
        "kernel_latest": "6.1.0-28-amd64", "collected_at": "2026-11-25T10:00:00Z", "cache_refreshed": True,
        "installed_count": 400 + updates_per_host, "updates": updates, "new_packages": [], "removals": [],
        "reboot_required": reboot, "reboot_reasons": ["kernel"] if reboot else [],
        "services_needing_restart": [], "policy": "default", "status": "non_compliant", "counts": {},
    }


def fleet(hosts, updates_per_host, seed=1, hostile=False):
    """Yield (host, ring, [(action, result, failed, unreachable), ...]) for every host."""
    rng = random.Random(seed)
    for index in range(hosts):
        host = "host%05d.example.com" % index
        ring = RINGS[index % len(RINGS)]
        facts = record(rng, host, updates_per_host, hostile and index == 0)
        events = [("fleetpatch.patching.patch_facts", {"ansible_facts": {"fleetpatch": facts}}, False, False)]
        roll = rng.random()
        if roll < 0.02:
            events.append(("ansible.builtin.ping", {"msg": "Failed to connect to the host via ssh"}, False, True))
        elif roll < 0.6:
            approved = [u for u in facts["updates"] if u["decision"] == "approved"]
            installed = approved if roll < 0.4 else approved[: len(approved) // 2]
            after = dict(facts, updates=[u for u in facts["updates"] if u not in installed])
            changes = [{"name": u["name"], "before": u["installed_version"], "after": u["available_version"]}
                       for u in installed]
            events.append(("fleetpatch.patching.patch_apply",
                           {"changed": bool(changes), "changes": changes, "journal": "j-%05d" % index,
                            "reboot_required": facts["reboot_required"], "record": after}, False, False))
            if roll < 0.05:
                events.append(("fleetpatch.patching.health_check",
                               {"healthy": False, "failed_checks": ["http http://localhost/"],
                                "msg": "health checks failed"}, True, False))
                events.append(("fleetpatch.patching.patch_rollback", {"changes": changes}, False, False))
        yield host, ring, events
