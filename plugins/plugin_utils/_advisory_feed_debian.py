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
import json
import re

from ansible_collections.fleetpatch.patching.plugins.module_utils._policy import SEVERITIES
from ansible_collections.fleetpatch.patching.plugins.module_utils._versions import compare_deb, split_evr


class FeedError(Exception):
    """The feed cannot be used: the message says which file and why."""


# Debian urgency (the tracker's "urgency") and whether Debian published an advisory (DSA/DLA) for
# the fix -> the project's severity (_policy.SEVERITIES). Debian issues a DSA when a fix is worth a
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


def severity_of(urgency, with_advisory, nodsa=False):
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


def highest(severities):
    return max(severities, key=SEVERITIES.index, default="unknown")


# --- dpkg's order as bytes ------------------------------------------------------------------

def _dpkg_order_table():
    """dpkg's order() of each non-digit character, as one byte: "~" (1) before the end of a segment
    (2), before letters, before every other printable character; 0 for what no version may hold."""
    table = bytearray(256)
    for code in range(ord("!"), ord("~") + 1):
        c = chr(code)
        table[code] = 1 if c == "~" else code if c.isalpha() else code + 128
    return bytes(table)


_DPKG_ORDER = _dpkg_order_table()
_SEGMENTS = re.compile(r"([^0-9]*)([0-9]*)")


def _dpkg_part_key(text, out):
    pairs = _SEGMENTS.findall(text)       # (non-digits, digits)..., then ("", "") at the end
    if len(pairs) == 1:
        pairs.insert(0, ("", ""))         # "" is read as one empty segment and 0, as "0" is
    for nondigits, digits in pairs:
        encoded = nondigits.encode("ascii").translate(_DPKG_ORDER)
        if 0 in encoded:
            raise ValueError("not a Debian version character in %r" % text)
        number = digits.lstrip("0")      # a number: its length, then its digits
        if len(number) > 255:
            raise ValueError("a number of more than 255 digits")
        out += encoded
        out.append(2)                     # the segment's end: after "~", before any character
        out.append(len(number))
        out += number.encode("ascii")


def dpkg_key(version):
    """bytes that sort as dpkg --compare-versions orders versions (epoch, upstream, revision; each part
    as dpkg's verrevcmp: non-digit segments by order(), digit segments by value). It lets the index on
    disk select a version range in SQL instead of comparing every fixed version in Python
    (bench/advisory_feed_bench.py); test_advisory_feed.py checks it against compare_deb, which is
    checked against dpkg itself. Raises ValueError for a character no Debian version has."""
    epoch, upstream, revision = split_evr(version)
    out = bytearray()
    _dpkg_part_key(str(epoch), out)
    _dpkg_part_key(upstream, out)
    _dpkg_part_key(revision, out)
    return bytes(out)


# --- the tracker's JSON export ------------------------------------------------------------

_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")


def _members(text, what):
    """(key, value) of a JSON object's top-level members, one at a time: each package's value is
    indexed and dropped before the next is decoded, so the whole export never lives as Python
    objects at once (bench/advisory_feed_bench.py: json.load of the export peaks at several times
    the memory of this)."""
    pos = _WS.match(text, 0).end()
    if text[pos:pos + 1] != "{":
        raise FeedError("%s: not a JSON object" % what)
    pos = _WS.match(text, pos + 1).end()
    if text[pos:pos + 1] == "}":
        return
    while True:
        try:
            key, pos = _DECODER.raw_decode(text, pos)
            pos = _WS.match(text, pos).end()
            if text[pos:pos + 1] != ":" or not isinstance(key, str):
                raise ValueError("expected a string key and ':'")
            value, pos = _DECODER.raw_decode(text, _WS.match(text, pos + 1).end())
        except ValueError as exc:
            raise FeedError("%s: does not parse as JSON near character %d: %s" % (what, pos, exc))
        yield key, value
        pos = _WS.match(text, pos).end()
        if text[pos:pos + 1] == ",":
            pos = _WS.match(text, pos + 1).end()
            continue
        if text[pos:pos + 1] == "}" and not text[pos + 1:].strip():
            return
        raise FeedError("%s: does not parse as JSON near character %d" % (what, pos))


def parse_tracker(text, what="tracker JSON"):
    """{(source, release): {fixed version: [(CVE, urgency, nodsa)]}} of the fixes the export lists
    (status resolved with a real fixed_version). Open and undetermined issues, and releases never
    affected (fixed_version "0"), fix nothing an update could bring, so they are left out."""
    index = {}
    intern = {}
    entries = 0
    for source, issues in _members(text, what):
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
_CVE = re.compile(r"^CVE-\d{4}-\d+$")


_MONTHS = dict((name, number) for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1))


def _iso_date(text, what, line_number):
    """"10 Jan 2024" -> "2024-01-10" (by table: strptime is locale-dependent, and slow over 10,000 lines)."""
    day, month, year = text.split()
    try:
        return datetime.date(int(year), _MONTHS[month], int(day)).isoformat()
    except (KeyError, ValueError):
        raise FeedError("%s line %d: not a date: %s" % (what, line_number, text))


def parse_advisory_list(text, what="DSA list"):
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
            current["cves"] = tuple(c for c in cves.group("cves").split() if _CVE.match(c))
            continue
        fix = _ADVISORY_FIX.match(line)
        if fix and not fix.group("version").startswith("<"):
            # the {CVE...} line comes first, so current["cves"] is complete here
            index.setdefault((fix.group("source"), fix.group("release")), []).append(
                (fix.group("version"), current["id"], current["date"], current["cves"]))
    return index, count


# --- the index and the join -------------------------------------------------------------------

class DebianIndex:
    """The tracker's fixes and the advisories, by (source package, release codename): in memory
    (fixes, advisories: the dicts parse_tracker and parse_advisory_list return), or on disk
    (store: _advisory_feed.IndexStore, whose rows_between answers a host's version ranges)."""

    def __init__(self, fixes, advisories, entries=0, advisory_count=0, store=None):
        self.fixes = fixes
        self.advisories = advisories
        self.entries = entries
        self.advisory_count = advisory_count
        self.store = store
        self._memo = {}

    def releases(self):
        return sorted(set(release for _source, release in self.fixes) | set(release for _source, release in self.advisories))

    def fixes_for(self, source, release):
        """{fixed version: [(CVE, urgency, nodsa)]} (in memory)"""
        return self.fixes.get((source, release), {})

    def advisories_for(self, source, release):
        """[(fixed version, advisory id, ISO date, (CVEs...))] (in memory)"""
        return self.advisories.get((source, release), ())

    def lookup(self, source, release, installed, available):
        """What updating source package `source` on `release` from source version `installed` to
        `available` brings: {advisories, cves, issued, severity}, or None when it fixes nothing the
        data knows. A fix counts when installed < fixed version <= available (dpkg's order)."""
        return self.lookup_many(release, [(source, installed, available)])[(source, installed, available)]

    def lookup_many(self, release, queries):
        """{(source, installed, available): lookup's answer} for one host's updates: from the store in
        one query per table, else from memory. Hosts share versions, so answers are kept per process."""
        todo = [q for q in set(queries) if (release,) + q not in self._memo]
        if todo:
            rows = self.store.rows_between(release, todo) if self.store is not None else self._rows_between(release, todo)
            for query in todo:
                advisories, fixed = rows.get(query, ((), ()))
                self._memo[(release,) + query] = fold(advisories, fixed)
        return dict((q, self._memo[(release,) + q]) for q in queries)

    def _rows_between(self, release, queries):
        result = {}
        for source, installed, available in queries:
            decided = {}

            def brought(version):
                # once per distinct version (advisories repeat the tracker's fixed versions)
                if version not in decided:
                    decided[version] = compare_deb(version, installed) > 0 and compare_deb(version, available) <= 0
                return decided[version]

            result[(source, installed, available)] = (
                [a for a in self.advisories_for(source, release) if brought(a[0])],
                [row for version, rows in self.fixes_for(source, release).items() if brought(version) for row in rows])
        return result


def fold(advisories, fixed):
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
        # the newest advisory's date, as the dnf and zypper backends fold several advisories
        "issued": max((adv[2] for adv in advisories), default=None),
        "severity": highest(severities),
    }


def build_index(tracker_text, advisory_texts, tracker_what="tracker JSON"):
    """A DebianIndex from the tracker export's text and the DSA/DLA lists' texts [(what, text)]."""
    fixes, entries = parse_tracker(tracker_text, tracker_what) if tracker_text is not None else ({}, 0)
    advisories, count = {}, 0
    for what, text in advisory_texts:
        parsed, n = parse_advisory_list(text, what)
        count += n
        for key, rows in parsed.items():
            advisories.setdefault(key, []).extend(rows)
    return DebianIndex(fixes, advisories, entries, count)
