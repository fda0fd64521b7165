# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

Ubuntu's own security data, read in its published formats and indexed for the join to apt updates
(docs/assessment.md, "Advisory feed for apt hosts"); the index, its store and the join are the ones
Debian's data uses (_advisory/index.py, _advisory/feed.py):

- the Ubuntu Security Notices database (https://usn.ubuntu.com/usn-db/database.json, or .json.bz2):
  {USN id: {id, title, summary, description, isummary, action, timestamp (epoch seconds), cves
  (CVE ids, and Launchpad bug URLs), releases: {codename: {sources: {source: {version,
  description}}, binaries: {binary: {version, pocket}}, allbinaries: {binary: {version, source,
  pocket}}}}}}. It carries no priority.
- Ubuntu's OVAL (https://security-metadata.canonical.com/oval/com.ubuntu.CODENAME.usn.oval.xml.bz2,
  or com.ubuntu.CODENAME.cve.oval.xml.bz2): each <definition id="oval:com.ubuntu.CODENAME:def:N">
  has <metadata><advisory> with <severity> and, in the USN OVAL, one <cve priority="..."> per CVE;
  in the CVE OVAL a definition is one CVE (<reference source="CVE" ref_id=...>) and its <severity>
  is that CVE's priority. Only the priorities are read from it.

The join is by source package and source version, as Debian's: a USN's `sources` version is the
source version apt reports for the update (binaries' versions can differ from it, e.g. binNMU-like
or versioned binaries, so they are not used).
"""

from __future__ import annotations

import datetime
import io
import re
from typing import Any, Sequence
from xml.etree import ElementTree

from ansible_collections.fleetpatch.patching.plugins.plugin_utils._advisory.index import (
    CVE, Advisories, Advisory, AdvisoryIndex, Answer, FeedError, Fix, highest, is_version, json_members, newest_date)

INPUTS = ("ubuntu_usn", "ubuntu_oval")     # advisory_feed's options naming Ubuntu's data

# Ubuntu's CVE priority (the CVE tracker's Priority, OVAL's <cve priority> and <severity>) -> the
# project's severity (_vocabulary.SEVERITIES). Ubuntu's scale has one step more at the bottom than the
# project's: negligible (a security problem in theory only) joins low. "untriaged", no priority,
# or no priority data loaded: unknown. docs/assessment.md.
PRIORITY_SEVERITY = {
    "critical": "critical",
    "high": "important",
    "medium": "moderate",
    "low": "low",
    "negligible": "low",
}
# Ubuntu's ESM versions (Ubuntu Pro: esm-infra, esm-apps) carry "~esmN" or "+esmN"
_RANK = dict((priority, rank) for rank, priority in enumerate(PRIORITY_SEVERITY))    # higher first
_ESM = re.compile(r"[~+]esm\d*")
_DEFINITION_ID = re.compile(r"^oval:com\.ubuntu\.(?P<release>[a-z0-9-]+):def:")


def severity_of(priority: str | None) -> str:
    """The severity of one CVE's fix from its Ubuntu priority (PRIORITY_SEVERITY)."""
    return PRIORITY_SEVERITY.get((priority or "").strip().lower(), "unknown")


def _keep_higher(priorities, key, priority):
    """priorities[key] = priority unless it holds a higher one: a CVE rated twice (two definitions,
    two files) takes the higher rating, never the lower."""
    old = priorities.get(key)
    if old is None or _RANK[priority] < _RANK[old]:
        priorities[key] = priority


def _usn_id(key, notice):
    ident = notice.get("id") if isinstance(notice.get("id"), str) and notice.get("id") else key
    # the database keys notices by number ("6561-1"); the notices and the OVAL call them USN-6561-1
    return ident if not ident[:1].isdigit() else "USN-" + ident


def _iso_date(timestamp):
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)):
        return None
    try:
        return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).date().isoformat()
    except (OverflowError, OSError, ValueError):
        return None


def parse_usn_db(text: str, what: str = "USN database", esm: bool = False) -> tuple[Advisories, int, dict[str, int]]:
    """({(source, release): [(fixed version, USN id, ISO date, (CVEs...))]}, notices read, counts)
    of the USN database. counts: {"without_releases": notices that name no release (they fix
    nothing an update could bring), "unusable": source entries left out because their version is
    not one dpkg can order or is missing, "esm": ESM entries left out (esm false)}."""
    advisories = {}
    intern = {}
    count = 0
    counts = {"without_releases": 0, "unusable": 0, "esm": 0}
    for key, notice in json_members(text, what):
        if not isinstance(notice, dict):
            raise FeedError("%s: notice %s is not an object" % (what, key))
        count += 1
        releases = notice.get("releases")
        if releases is None or releases == {} or releases == []:
            counts["without_releases"] += 1
            continue
        if not isinstance(releases, dict):
            raise FeedError("%s: notice %s has no releases object" % (what, key))
        ident = _usn_id(key, notice)
        cves = tuple(sorted(set(c for c in notice.get("cves") or () if isinstance(c, str) and CVE.match(c))))
        date = _iso_date(notice.get("timestamp"))
        for release, entry in releases.items():
            sources = entry.get("sources") if isinstance(entry, dict) else None
            if not isinstance(sources, dict):
                counts["unusable"] += 1       # a release without sources: nothing to join by
                continue
            for source, fixed in sources.items():
                version = fixed.get("version") if isinstance(fixed, dict) else None
                if not is_version(version):
                    counts["unusable"] += 1
                    continue
                if not esm and _ESM.search(version):
                    counts["esm"] += 1
                    continue
                version = intern.setdefault(version, version)
                advisories.setdefault((source, intern.setdefault(release, release)), []).append(
                    (version, ident, date, cves))
    return advisories, count, counts


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def parse_oval(data: bytes | str, what: str = "OVAL") -> dict[tuple[str, str], str]:
    """{(release, CVE): Ubuntu priority} from a USN or CVE OVAL file (bytes or text); a CVE that two
    definitions rate differently takes the higher."""
    priorities = {}

    def keep(release, cve, priority):
        priority = (priority or "").strip().lower()
        if CVE.match(cve or "") and priority in PRIORITY_SEVERITY:
            _keep_higher(priorities, (release, cve), priority)

    if isinstance(data, str):
        data = data.encode("utf-8")
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data[:4096]:
        raise FeedError("%s: declares a DTD or entities, which OVAL files do not" % what)

    def definition_priorities(definition):
        match = _DEFINITION_ID.match(definition.get("id") or "")
        if not match:
            return
        release = match.group("release")
        severity, rated, referenced = None, False, []
        for element in definition.iter():
            name = _local(element.tag)
            if name == "cve" and element.get("priority"):
                keep(release, (element.text or "").strip(), element.get("priority"))
                rated = True
            elif name == "severity":
                severity = element.text
            elif name == "reference" and element.get("source") == "CVE":
                referenced.append(element.get("ref_id"))
        if not rated and definition.get("class") == "vulnerability" and len(referenced) == 1:
            keep(release, referenced[0], severity)    # the CVE OVAL: one CVE, its priority as severity

    # one definition at a time, cleared once read: a release's OVAL is tens of MB of XML
    root = None
    try:
        for event, element in ElementTree.iterparse(io.BytesIO(data), events=("start", "end")):
            if root is None:
                root = element
                if _local(root.tag) != "oval_definitions":
                    raise FeedError("%s: not an OVAL definitions document" % what)
            elif event == "end" and _local(element.tag) == "definition":
                definition_priorities(element)
                element.clear()
    except ElementTree.ParseError as exc:
        raise FeedError("%s: does not parse as XML: %s" % (what, exc))
    return priorities


class UbuntuIndex(AdvisoryIndex):
    """The USNs' fixes (rating: the CVE's Ubuntu priority, "" where no OVAL data rates it)."""

    @staticmethod
    def fold(advisories: Sequence[Advisory], fixed: Sequence[Fix]) -> Answer | None:
        return fold(advisories, fixed)


def fold(advisories: Sequence[Advisory], fixed: Sequence[Fix]) -> Answer | None:
    """One update's answer from the USNs [(version, id, date, cves)] and their CVEs' rows
    [(cve, priority, nodsa)] between its installed and available versions; None when there are none.
    A USN is a security notice (classification security); its severity is the highest of its CVEs'
    priorities, unknown where none is rated."""
    if not advisories:
        return None
    rated = dict((cve, priority) for cve, priority, _nodsa in fixed)
    cves = sorted(set(cve for adv in advisories for cve in adv[3]))
    return {
        "advisories": sorted(set(adv[1] for adv in advisories)),
        "cves": cves,
        "issued": newest_date(advisories),
        "severity": highest([severity_of(rated.get(cve)) for cve in cves]),
    }


def build_index(usn_text: str, oval_texts: list[tuple[str, bytes | str]], usn_what: str = "USN database",
                esm: bool = False) -> UbuntuIndex:
    """An UbuntuIndex from the USN database's text and OVAL files [(what, bytes or text)], and the
    parse counts (parse_usn_db)."""
    advisories, count, counts = parse_usn_db(usn_text, usn_what, esm)
    priorities = {}
    for what, data in oval_texts:
        for key, priority in parse_oval(data, what).items():
            _keep_higher(priorities, key, priority)
    fixes = {}
    entries = 0
    for (source, release), rows in advisories.items():
        by_version = fixes.setdefault((source, release), {})
        for version, _ident, _date, cves in rows:
            for cve in cves:
                by_version.setdefault(version, []).append((cve, priorities.get((release, cve), ""), False))
                entries += 1
    index = UbuntuIndex(fixes, advisories, entries, count)
    index.counts = counts
    return index


Index = UbuntuIndex


def parse_options(feed: dict[str, Any]) -> dict[str, Any]:
    """The advisory_feed options that change what parse builds: whether ESM fixes count."""
    return {"esm": bool(feed.get("ubuntu_esm"))}


def parse(readings: list[tuple[str, str, Any]], options: dict[str, Any]) -> UbuntuIndex:
    """The UbuntuIndex of the feed's files [(option, location, text)] (INPUTS)."""
    usn = [(location, text) for option, location, text in readings if option == "ubuntu_usn"]
    ovals = [(location, text) for option, location, text in readings if option == "ubuntu_oval"]
    if not usn:
        raise FeedError("advisory_feed names Ubuntu OVAL data but no USN database (ubuntu_usn): the OVAL gives "
                        "priorities only, the fixed versions are in the USN database")
    return build_index(usn[0][1], ovals, usn[0][0], options["esm"])
