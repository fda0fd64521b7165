"""The lab's own Debian security data, generated from the catalog's advisories, so that apt hosts
given it as patch_facts' advisory_feed show the same advisories, CVEs, severities and dates as the
dnf and zypper hosts show from updateinfo.

Written in Debian's published formats (docs/assessment.md, "Advisory feed for apt hosts"): the
Security Tracker's JSON export (https://security-tracker.debian.org/tracker/data/json) and a DSA
list (the security-tracker repository's data/DSA/list). Served by the repository server beside the
apt pockets: REPO_URL/advisories/tracker.json and REPO_URL/advisories/DSA-list.
"""
import datetime
import json
import os

from . import debs

RELEASE = debs.SUITES["main"][0]          # the hosts' codename: what the tracker keys releases by
SECURITY_SUITE = debs.SUITES["security"][0]
DIRECTORY = "advisories"

# The catalog's RPM severity -> the Debian urgency that, with a DSA, maps back to the same
# severity in fleetpatch's mapping (plugins/plugin_utils/_advisory/debian.py URGENCY_SEVERITY).
# The lab test compares apt and rpm hosts, so a drift between the two shows there.
URGENCY = {"Critical": "high", "Important": "medium", "Moderate": "low", "Low": "unimportant"}


def security_versions(versions):
    return [v for v in versions if v.advisory is not None and v.advisory.kind == "security"]


def tracker(versions):
    """{source: {CVE: {description, scope, releases: {codename: {...}}}}}: each CVE resolved in the
    newest version that fixes it (the tracker records one fixed_version per release)."""
    data = {}
    for v in sorted(security_versions(versions), key=lambda v: v.wave):
        for cve in v.advisory.cves:
            data.setdefault(v.package, {})[cve] = {
                "description": v.advisory.title,
                "scope": "remote",
                "releases": {RELEASE: {
                    "status": "resolved",
                    "repositories": {SECURITY_SUITE: v.deb_version},
                    "fixed_version": v.deb_version,
                    "urgency": URGENCY[v.advisory.severity],
                }},
            }
    return data


def dsa_list(versions):
    """The DSA list, newest first, one entry per security advisory of the catalog."""
    lines = []
    for v in sorted(security_versions(versions), key=lambda v: (v.advisory.issued, v.advisory.id), reverse=True):
        day = datetime.datetime.strptime(v.advisory.issued[:10], "%Y-%m-%d").strftime("%d %b %Y")
        lines.append("[%s] %s %s - security update" % (day, v.advisory.id, v.package))
        if v.advisory.cves:
            lines.append("\t{%s}" % " ".join(v.advisory.cves))
        lines.append("\t[%s] - %s %s" % (RELEASE, v.package, v.deb_version))
    return "\n".join(lines) + "\n"


def write_feed(versions, wave_dir):
    """Write the feed of these versions into a wave's directory (served as REPO_URL/advisories/)."""
    dest = os.path.join(wave_dir, DIRECTORY)
    os.makedirs(dest, exist_ok=True)
    for name, text in (("tracker.json", json.dumps(tracker(versions), indent=2, sort_keys=True) + "\n"),
                       ("DSA-list", dsa_list(versions))):
        tmp = os.path.join(dest, "." + name)
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, os.path.join(dest, name))
