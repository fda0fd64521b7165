# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

What the distributions' advisory feeds share (Debian: _advisory/debian.py, Ubuntu:
_advisory/ubuntu.py): the error, dpkg's version order as bytes (the index on disk selects
version ranges with it), a streaming reader of a large JSON object, and the index of fixes and
advisories by (source package, release) that answers a host's updates. Each distribution parses
its own formats into that index and folds what applies to an update into its answer (its own
severity mapping); _advisory/feed.py loads, caches, stores and joins.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Iterator, Optional, Sequence

from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import SEVERITY_RANK, UNKNOWN
from ansible_collections.fleetpatch.patching.plugins.module_utils._versions import compare_deb, split_evr


# The index's rows: a fix of one CVE (CVE, the distribution's rating, nodsa) and an advisory (fixed
# version, advisory id, ISO date or None, CVEs), keyed by (source package, release codename).
Fix = tuple[str, str, bool]
Advisory = tuple[str, str, Optional[str], tuple[str, ...]]
Fixes = dict[tuple[str, str], dict[str, list[Fix]]]
Advisories = dict[tuple[str, str], list[Advisory]]
# What the data says about one update: {advisories, cves, issued, severity}.
Answer = dict[str, Any]


class FeedError(Exception):
    """The feed cannot be used: the message says which file and why."""


def highest(severities: Iterable[str]) -> str:
    return min(severities, key=SEVERITY_RANK.__getitem__, default=UNKNOWN)


CVE = re.compile(r"^CVE-\d{4}-\d+$")


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
        encoded = nondigits.encode("ascii").translate(_DPKG_ORDER)    # UnicodeEncodeError is a ValueError
        if 0 in encoded:
            raise ValueError("not a Debian version character in %r" % text)
        number = digits.lstrip("0")      # a number: its length, then its digits
        if len(number) > 255:
            raise ValueError("a number of more than 255 digits")
        out += encoded
        out.append(2)                     # the segment's end: after "~", before any character
        out.append(len(number))
        out += number.encode("ascii")


def dpkg_key(version: str) -> bytes:
    """bytes that sort as dpkg --compare-versions orders versions (epoch, upstream, revision; each part
    as dpkg's verrevcmp: non-digit segments by order(), digit segments by value). It lets the index on
    disk select a version range in SQL instead of comparing every fixed version in Python
    (bench/advisory_feed_bench.py); test_advisory_feed.py checks it against compare_deb, which is
    checked against dpkg itself. Raises ValueError for a character no Debian version has."""
    if not isinstance(version, str):
        raise ValueError("not a version: %r" % (version,))
    try:
        epoch, upstream, revision = split_evr(version)
    except (ValueError, TypeError):
        raise ValueError("not a Debian version: %r" % version)
    out = bytearray()
    _dpkg_part_key(str(epoch), out)
    _dpkg_part_key(upstream, out)
    _dpkg_part_key(revision, out)
    return bytes(out)


def is_version(version: Any) -> bool:
    """Whether dpkg can order this version (what the index keeps: anything else fixes nothing)."""
    if not isinstance(version, str) or not version:
        return False
    try:
        dpkg_key(version)
    except ValueError:
        return False
    return True


# --- a large JSON object, one member at a time ----------------------------------------------

_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")


def json_members(text: str, what: str) -> Iterator[tuple[str, Any]]:
    """(key, value) of a JSON object's top-level members, one at a time: each member's value is
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


# --- the index and its answers ----------------------------------------------------------------

class AdvisoryIndex:
    """Fixes and advisories by (source package, release codename): in memory (fixes:
    {(source, release): {fixed version: [(CVE, rating, nodsa)]}}, advisories: {(source, release):
    [(fixed version, advisory id, ISO date or None, (CVEs...))]}), or on disk (store:
    _advisory_feed.IndexStore, whose rows_between answers a host's version ranges). rating is the
    distribution's own (Debian's urgency, Ubuntu's priority); a subclass folds the rows that apply
    to one update into its answer (fold)."""

    def __init__(self, fixes: Fixes, advisories: Advisories, entries: int = 0, advisory_count: int = 0,
                 store: Any = None) -> None:
        self.fixes = fixes
        self.advisories = advisories
        self.entries = entries
        self.advisory_count = advisory_count
        self.store = store
        self._memo = {}

    @staticmethod
    def fold(advisories: Sequence[Advisory], fixed: Sequence[Fix]) -> Answer | None:
        raise NotImplementedError

    def releases(self) -> list[str]:
        return sorted(set(release for _source, release in self.fixes) | set(release for _source, release in self.advisories))

    def fixes_for(self, source: str, release: str) -> dict[str, list[Fix]]:
        """{fixed version: [(CVE, rating, nodsa)]} (in memory)"""
        return self.fixes.get((source, release), {})

    def advisories_for(self, source: str, release: str) -> Sequence[Advisory]:
        """[(fixed version, advisory id, ISO date, (CVEs...))] (in memory)"""
        return self.advisories.get((source, release), ())

    def lookup(self, source: str, release: str, installed: str, available: str) -> Answer | None:
        """What updating source package `source` on `release` from source version `installed` to
        `available` brings: {advisories, cves, issued, severity}, or None when it fixes nothing the
        data knows. A fix counts when installed < fixed version <= available (dpkg's order)."""
        return self.lookup_many(release, [(source, installed, available)])[(source, installed, available)]

    def lookup_many(self, release: str,
                    queries: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], Answer | None]:
        """{(source, installed, available): lookup's answer} for one host's updates: from the store in
        one query per table, else from memory. Hosts share versions, so answers are kept per process."""
        todo = [q for q in set(queries) if (release,) + q not in self._memo]
        if todo:
            rows = self.store.rows_between(release, todo) if self.store is not None else self._rows_between(release, todo)
            for query in todo:
                advisories, fixed = rows.get(query, ((), ()))
                self._memo[(release,) + query] = self.fold(advisories, fixed)
        return dict((q, self._memo[(release,) + q]) for q in queries)

    def _rows_between(self, release, queries):
        result = {}
        for source, installed, available in queries:
            if not (is_version(installed) and is_version(available)):
                continue                  # as the index on disk: a version dpkg cannot order matches nothing
            decided = {}

            def brought(version):
                # once per distinct version (advisories repeat the fixes' versions)
                if version not in decided:
                    decided[version] = compare_deb(version, installed) > 0 and compare_deb(version, available) <= 0
                return decided[version]

            result[(source, installed, available)] = (
                [a for a in self.advisories_for(source, release) if brought(a[0])],
                [row for version, rows in self.fixes_for(source, release).items() if brought(version) for row in rows])
        return result


def newest_date(advisories: Iterable[Advisory]) -> str | None:
    """The newest applying advisory's date, as the dnf and zypper backends fold several advisories
    (None where no advisory has one)."""
    return max((adv[2] for adv in advisories if adv[2]), default=None)
