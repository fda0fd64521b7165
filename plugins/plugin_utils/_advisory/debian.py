# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

Debian's own security data, read in its published formats and indexed for the join to apt updates
(the contract is written down in docs/assessment.md, "Advisory feed for apt hosts"):

- the Security Tracker's JSON export (https://security-tracker.debian.org/tracker/data/json):
  {source package: {CVE id: {description, scope, debianbug, releases: {codename: {status
  (resolved | open | undetermined), repositories: {suite: version}, fixed_version, urgency, nodsa,
  nodsa_reason}}}}}. fixed_version "0" means the release was never affected; an open issue has
  no fixed_version (the tracker's <unfixed>).
- the DSA and DLA lists (security-tracker repository, data/DSA/list and data/DLA/list):
  "[10 Jan 2024] DSA-5595-1 chromium - security update", then tab-indented lines
  "{CVE-2024-0222 CVE-2024-0223}" and "[bookworm] - chromium 120.0.6099.216-1~deb12u1"
  (or "<not-affected>", "<unfixed>", "<end-of-life>" instead of a version), and NOTE: lines.

Versions are source versions, compared by dpkg's rules (_versions.compare_deb).
"""

from __future__ import annotations

import datetime
import re
from typing import Any, Sequence

from ansible_collections.fleetpatch.patching.plugins.plugin_utils._advisory.index import (
    CVE, Advisories, Advisory, AdvisoryIndex, Answer, FeedError, Fix, Fixes, highest, json_members, newest_date)

INPUTS = ("debian_tracker", "debian_advisories")     # advisory_feed's options naming Debian's data


# Debian urgency (the tracker's "urgency") and whether Debian published an advisory (DSA/DLA) for
# the fix -> the project's severity (_vocabulary.SEVERITIES). Debian issues a DSA when a fix is worth a
# stable security update; "no-dsa" marks a minor issue left to a point release. So an advisory
# raises the urgency's severity one step, and an issue without urgency takes its severity from the
# advisory alone (moderate) or from no-dsa (low). Everything else is unknown. docs/assessment.md.
URGENCY_SEVERITY = {
    # urgency: (with a DSA/DLA, without)
    "high": ("critical", "important"),
    "medium": ("important", "moderate"),
    "low": ("moderate", "low"),
    "unimportant": ("low", "low"),
}
UNRATED_WITH_ADVISORY = "moderate"
UNRATED_NO_DSA = "low"
# the tracker appends "*" to an urgency its team has not confirmed (e.g. "low*"): the same urgency
_URGENCY = re.compile(r"^(?P<urgency>[a-z ]+?)\**$")


def severity_of(urgency: str | None, with_advisory: bool, nodsa: bool = False) -> str:
    """The severity of one CVE's fix in one release (URGENCY_SEVERITY)."""
    match = _URGENCY.match((urgency or "").strip())
    rated = URGENCY_SEVERITY.get(match.group("urgency")) if match else None
    if rated:
        return rated[0] if with_advisory else rated[1]
    if with_advisory:
        return UNRATED_WITH_ADVISORY
    if nodsa:
        return UNRATED_NO_DSA
    return "unknown"


def parse_tracker(text: str, what: str = "tracker JSON") -> tuple[Fixes, int]:
    """{(source, release): {fixed version: [(CVE, urgency, nodsa)]}} of the fixes the export lists
    (status resolved with a real fixed_version). Open and undetermined issues, and releases never
    affected (fixed_version "0"), fix nothing an update could bring, so they are left out."""
    index = {}
    intern = {}
    entries = 0
    for source, issues in json_members(text, what):
        if not isinstance(issues, dict):
            raise FeedError("%s: package %s is not an object of issues" % (what, source))
        for cve, issue in issues.items():
            releases = issue.get("releases") if isinstance(issue, dict) else None
            if not isinstance(releases, dict):
                raise FeedError("%s: %s %s has no releases object" % (what, source, cve))
            for release, entry in releases.items():
                if not isinstance(entry, dict) or entry.get("status") != "resolved":
                    continue
                fixed = entry.get("fixed_version")
                if not isinstance(fixed, str) or not fixed or fixed == "0":
                    continue
                fixed = intern.setdefault(fixed, fixed)
                urgency = entry.get("urgency") or ""
                row = (intern.setdefault(cve, cve), intern.setdefault(urgency, urgency), bool(entry.get("nodsa")))
                index.setdefault((source, intern.setdefault(release, release)), {}).setdefault(fixed, []).append(row)
                entries += 1
    return index, entries


# --- the DSA/DLA lists ----------------------------------------------------------------------

_ADVISORY_HEAD = re.compile(r"^\[(?P<date>\d{1,2} [A-Z][a-z]{2} \d{4})\] (?P<id>\S+) (?P<source>\S+)(?: - .*)?$")
_ADVISORY_CVES = re.compile(r"^\s+\{(?P<cves>[^}]*)\}\s*$")
_ADVISORY_FIX = re.compile(r"^\s+\[(?P<release>[a-z0-9-]+)\] - (?P<source>\S+) (?P<version>\S+)(?: .*)?$")


_MONTHS = dict((name, number) for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1))


def _iso_date(text, what, line_number):
    """"10 Jan 2024" -> "2024-01-10" (by table: strptime is locale-dependent, and slow over 10,000 lines)."""
    day, month, year = text.split()
    try:
        return datetime.date(int(year), _MONTHS[month], int(day)).isoformat()
    except (KeyError, ValueError):
        raise FeedError("%s line %d: not a date: %s" % (what, line_number, text))


def parse_advisory_list(text: str, what: str = "DSA list") -> tuple[Advisories, int]:
    """{(source, release): [(fixed version, advisory id, ISO date, (CVEs...))]} of a DSA or DLA list.
    A release line whose version is <not-affected>, <unfixed>, <end-of-life>... fixes nothing."""
    index = {}
    current = None
    count = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        head = _ADVISORY_HEAD.match(line)
        if head:
            current = {"id": head.group("id"), "date": _iso_date(head.group("date"), what, number), "cves": ()}
            count += 1
            continue
        if not line[:1].isspace():
            raise FeedError("%s line %d: not an advisory line: %.80s" % (what, number, line))
        if current is None:
            raise FeedError("%s line %d: an indented line before the first advisory" % (what, number))
        cves = _ADVISORY_CVES.match(line)
        if cves:
            current["cves"] = tuple(c for c in cves.group("cves").split() if CVE.match(c))
            continue
        fix = _ADVISORY_FIX.match(line)
        if fix and not fix.group("version").startswith("<"):
            # the {CVE...} line comes first, so current["cves"] is complete here
            index.setdefault((fix.group("source"), fix.group("release")), []).append(
                (fix.group("version"), current["id"], current["date"], current["cves"]))
    return index, count


# --- the index and the join -------------------------------------------------------------------

class DebianIndex(AdvisoryIndex):
    """The tracker's fixes (rating: Debian's urgency) and the DSA/DLA advisories."""

    @staticmethod
    def fold(advisories: Sequence[Advisory], fixed: Sequence[Fix]) -> Answer | None:
        return fold(advisories, fixed)


def fold(advisories: Sequence[Advisory], fixed: Sequence[Fix]) -> Answer | None:
    """One update's answer from the advisories [(version, id, date, cves)] and the tracker's fixes
    [(cve, urgency, nodsa)] between its installed and available versions; None when there are none."""
    if not advisories and not fixed:
        return None
    advised = set(cve for adv in advisories for cve in adv[3])
    tracked = dict((cve, (urgency, nodsa)) for cve, urgency, nodsa in fixed)
    cves = sorted(set(tracked) | advised)
    severities = [severity_of(tracked.get(cve, ("", False))[0], cve in advised, tracked.get(cve, ("", False))[1])
                  for cve in cves]
    if advisories and not cves:
        severities.append(UNRATED_WITH_ADVISORY)     # an advisory that names no CVE
    return {
        "advisories": sorted(set(adv[1] for adv in advisories)),
        "cves": cves,
        "issued": newest_date(advisories),
        "severity": highest(severities),
    }


def build_index(tracker_text: str | None, advisory_texts: list[tuple[str, str]],
                tracker_what: str = "tracker JSON") -> DebianIndex:
    """A DebianIndex from the tracker export's text and the DSA/DLA lists' texts [(what, text)]."""
    fixes, entries = parse_tracker(tracker_text, tracker_what) if tracker_text is not None else ({}, 0)
    advisories, count = {}, 0
    for what, text in advisory_texts:
        parsed, n = parse_advisory_list(text, what)
        count += n
        for key, rows in parsed.items():
            advisories.setdefault(key, []).extend(rows)
    return DebianIndex(fixes, advisories, entries, count)


Index = DebianIndex


def parse_options(feed: dict[str, Any]) -> dict[str, Any]:
    """The advisory_feed options that change what parse builds (none for Debian's data)."""
    return {}


def parse(readings: list[tuple[str, str, str]], options: dict[str, Any]) -> DebianIndex:
    """The DebianIndex of the feed's files [(option, location, text)] (INPUTS)."""
    tracker = [(location, text) for option, location, text in readings if option == "debian_tracker"]
    lists = [(location, text) for option, location, text in readings if option == "debian_advisories"]
    if tracker:
        return build_index(tracker[0][1], lists, tracker[0][0])
    return build_index(None, lists)
