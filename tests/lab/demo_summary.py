"""Print what the last fleetpatch run did, one line per gate and per host, from the compliance
report the callback wrote (REPORT_DIR/latest/report.json): what the README's demo shows instead
of Ansible's JSON dumps of the expected failures.

    python3 tests/lab/demo_summary.py REPORT_DIR [PACKAGE]

With PACKAGE, each host's line also says which version of it the host has and which the
repository offers (from the host's record).
"""
import json
import os
import sys

REASON_CHARS = 160


def short(text):
    text = " ".join(str(text or "").split())
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 3] + "..."


def package_versions(host, package):
    for update in host.get("updates") or []:
        if update.get("name") == package:
            return "%s %s installed, %s offered" % (
                package, update.get("installed_version"), update.get("available_version"))
    for change in host.get("changes") or []:
        if change.get("name") == package:
            return "%s %s installed" % (package, change.get("after"))
    return "%s: no update offered" % package


def host_line(host, package=None):
    parts = ["%-12s %-10s %s" % (host["host"], host.get("ring") or "-", host.get("status"))]
    changes = host.get("changes") or []
    if changes and not host.get("rolled_back"):
        parts.append("installed " + ", ".join("%s %s" % (c["name"], c.get("after")) for c in changes[:4])
                     + (" and %d more" % (len(changes) - 4) if len(changes) > 4 else ""))
    health = host.get("health")
    if health and not health.get("healthy"):
        parts.append("health check failed: %s" % ", ".join(health.get("failed_checks") or ["?"]))
    failure = host.get("failure")
    if failure:
        parts.append("why: " + short(failure.get("message")))
    from_files = (host.get("rollback") or {}).get("from_files")
    if host.get("rolled_back") and from_files:
        parts.append("rolled back from the rollback cache: %s" % ", ".join(from_files))
    if package:
        parts.append(package_versions(host, package))
    return "  " + "; ".join(parts)


def main():
    report_dir, package = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
    with open(os.path.join(report_dir, "latest", "report.json")) as handle:
        report = json.load(handle)
    for gate in report["run"].get("gates") or []:
        message = " - " + short(gate.get("message")) if gate.get("message") else ""
        print("  gate after ring %s: %s%s" % (gate.get("ring"), "open" if gate.get("passed") else "CLOSED", message))
    for host in sorted(report["hosts"], key=lambda h: (h.get("ring") or "", h["host"])):
        print(host_line(host, package))


if __name__ == "__main__":
    main()
