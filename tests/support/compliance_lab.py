"""A lab-shaped history for the compliance inventory plugin's tests: the lab's six hosts (and a retired
host the inventory no longer lists) over three runs, dated relative to `now`, each host entry built by
_report_model from the task results a run would send the compliance callback.

    run      ended          hosts
    r-old    now - 30 days  lab-apt3 compliant, gone01 compliant
    r-prev   now - 2 days   lab-zypper1 non_compliant, with an approved update 10 days past its SLA
    r-last   now - 1 hour   lab-apt1 compliant (its OS string holds a template), lab-apt2 non_compliant with an
                            update past its SLA, lab-apt4 pending a reboot, lab-dnf1 rolled back,
                            lab-zypper1 unreachable, gone01 failed
"""
import datetime

from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model

FACTS = "fleetpatch.patching.patch_facts"
APPLY = "fleetpatch.patching.patch_apply"
HEALTH = "fleetpatch.patching.health_check"
ROLLBACK = "fleetpatch.patching.patch_rollback"
PING = "ansible.builtin.ping"

LAB_HOSTS = ("lab-apt1", "lab-apt2", "lab-apt3", "lab-apt4", "lab-dnf1", "lab-zypper1")
RETIRED = "gone01.example.net"
HOSTILE_OS = "Debian {{ 7 * 6 }}"

# Annotating fixtures/lab_hosts.yml, stale_days 7: group key -> hosts.
EXPECTED_GROUPS = {
    "compliant": {"lab-apt1", "lab-apt3"},
    # lab-zypper1: unreachable now, and its last assessment (r-prev) found an update missing
    "noncompliant": {"lab-apt2", "lab-apt4", "lab-dnf1", "lab-zypper1"},
    "pending_reboot": {"lab-apt4"},
    "failed": {"lab-dnf1"},
    "unreachable": {"lab-zypper1"},
    "unknown": set(),
    "sla_breach": {"lab-apt2", "lab-zypper1"},
    "stale": {"lab-apt3"},
}
# The same, with add_hosts: true.
EXPECTED_GROUPS_ADDED = dict(EXPECTED_GROUPS, noncompliant=EXPECTED_GROUPS["noncompliant"] | {RETIRED},
                             failed=EXPECTED_GROUPS["failed"] | {RETIRED})
EXPECTED_STATUS = {"lab-apt1": "compliant", "lab-apt2": "non_compliant", "lab-apt3": "compliant",
                   "lab-apt4": "pending_reboot", "lab-dnf1": "rolled_back", "lab-zypper1": "unreachable"}


def stamp(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def day(moment):
    return moment.astimezone(datetime.timezone.utc).date().isoformat()


def update(name, version, sla_due=None, decision="approved", severity="important"):
    return {"name": name, "arch": "amd64", "installed_version": "1.0", "available_version": version,
            "classification": "security", "severity": severity, "advisories": ["DSA-%s" % name],
            "cves": ["CVE-2026-0001"], "issued": "2026-10-01", "first_seen": "2026-10-02",
            "repository": "lab-security", "reboot_suggested": False, "decision": decision,
            "reason": "%s by the baseline" % decision, "sla_due": sla_due, "sla_breached": False}


def record(host, collected_at, updates=(), reboot=False, pkg_mgr="apt", distribution="Debian", version="12"):
    return {"schema_version": 1, "hostname": host, "pkg_mgr": pkg_mgr, "root": "/", "os_family": distribution,
            "distribution": distribution, "version": version, "kernel_running": "6.1.0-28-amd64",
            "kernel_latest": "6.1.0-28-amd64", "collected_at": collected_at, "installed_count": 300,
            "updates": list(updates), "reboot_required": reboot, "reboot_reasons": ["kernel"] if reboot else [],
            "services_needing_restart": [], "policy": "default", "status": "non_compliant", "counts": {}}


def facts(rec):
    return (FACTS, {"ansible_facts": {"fleetpatch": rec}}, False, False)


def entry(host, ring, *events, failed=False, at=None):
    """The host's entry in a run whose results reached the controller at `at` (a timestamp): the
    assessment is dated by the controller's clock then, not by the record's collected_at."""
    observations = model.HostObservations(host, clock=(lambda: at) if at else None)
    observations.ring = ring
    for action, result, task_failed, unreachable in events:
        observations.observe(action, result, "task", task_failed, unreachable)
    return model.host_entry(observations, failed=failed)


def report(run_id, ended_at, entries):
    run = {"run_id": run_id, "started_at": stamp(ended_at - datetime.timedelta(minutes=20)),
           "ended_at": stamp(ended_at), "playbooks": ["playbooks/rollout.yml"], "check_mode": False,
           "controller": "controller1", "ansible_version": "2.19.14", "collection_version": "0.1.0",
           "aborted_by": None}
    return model.build_report(run, entries)


def lab_reports(now):
    """The three reports, oldest first."""
    old, prev, last = (now - datetime.timedelta(days=30), now - datetime.timedelta(days=2),
                       now - datetime.timedelta(hours=1))
    overdue = day(now - datetime.timedelta(days=10))
    not_due = day(now + datetime.timedelta(days=20))
    a_old, a_prev, a_last = (stamp(t - datetime.timedelta(minutes=15)) for t in (old, prev, last))

    r_old = report("r-old", old, [
        entry("lab-apt3", "production", facts(record("lab-apt3", a_old)), at=a_old),
        entry(RETIRED, "production", facts(record(RETIRED, a_old)), at=a_old),
    ])
    r_prev = report("r-prev", prev, [
        entry("lab-zypper1", "test", facts(record("lab-zypper1", a_prev, [update("libzypp", "17.1", overdue)],
                                                  pkg_mgr="zypper", distribution="openSUSE Leap", version="15.6")),
              at=a_prev),
    ])
    broken = [update("nginx", "1.22.2", not_due)]
    r_last = report("r-last", last, [
        entry("lab-apt1", "pilot", facts(record("lab-apt1", a_last, distribution=HOSTILE_OS)), at=a_last),
        entry("lab-apt2", "production", facts(record("lab-apt2", a_last, [
            update("openssl", "3.0.15", overdue, severity="critical"), update("curl", "7.88.2", not_due),
            update("vim", "9.0.2", decision="deferred")])), at=a_last),
        entry("lab-apt4", "production", facts(record("lab-apt4", a_last, reboot=True)), at=a_last),
        entry("lab-dnf1", "test",
              facts(record("lab-dnf1", a_last, broken, pkg_mgr="dnf", distribution="Rocky", version="9")),
              (APPLY, {"changed": True, "changes": [{"name": "nginx", "before": "1.0", "after": "1.22.2"}],
                       "journal": "j-dnf1"}, False, False),
              (HEALTH, {"healthy": False, "failed_checks": ["http http://localhost/"], "msg": "health checks failed"},
               True, False),
              (ROLLBACK, {"changes": [{"name": "nginx", "before": "1.22.2", "after": "1.0"}]}, False, False),
              failed=True, at=a_last),
        entry("lab-zypper1", "test", (PING, {"msg": "Failed to connect to the host via ssh"}, False, True)),
        entry(RETIRED, "production", facts(record(RETIRED, a_last, [update("bash", "5.2.1")])),
              (APPLY, {"msg": "dpkg was interrupted"}, True, False), failed=True, at=a_last),
    ])
    return [r_old, r_prev, r_last]


def fill(location, now, store_class):
    """Append the lab's history to the store at `location` (store_class: HistoryStore)."""
    with store_class.open(location) as store:
        for rep in lab_reports(now):
            store.append_run(rep)
