# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a host reports is data from a machine that may be broken or compromised: this is where the
controller checks it, once, as records enter the compliance callback (and the history store, for
documents from elsewhere). Private to this collection: may change without notice.

The rules (docs/reporting.md, "What the controller checks"):
- a value outside its vocabulary (severity, classification, decision, record status) becomes
  the vocabulary's "don't know" value, with a warning naming the host and the field; an update
  whose decision cannot be read counts as approved, so as missing: bad data never hides an update;
- a date that is not a real calendar date (2026-02-30) becomes null, with a warning;
- text is text: lone surrogates (which no encoder writes) and NUL (which PostgreSQL refuses) become
  U+FFFD, and each value is capped;
- whatever depends on the time (an SLA breached, an assessment's age) is decided by the
  controller's clock at the run, never by the host's.
One host's bad data never touches another host's entry: every check is per value.
"""

from __future__ import annotations

import datetime
import functools
import operator
import re
from typing import Any, Collection

from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import (
    DECISIONS, HOST_STATUSES, REPORTED_CLASSIFICATIONS, SEVERITIES, UNKNOWN)

UNREADABLE_DECISION = "approved"     # counted missing: a host cannot hide an update by garbling it

TEXT_CHARS = 1024          # any one value a host reports (names, versions, titles, OS names)
IDS_SHOWN = 200            # advisories or CVEs of one update
WARNINGS_KEPT = 20         # per host in the report; the count says how many more
VALUE_SHOWN = 60           # of a bad value, in a warning
CLOCK_SKEW_SECONDS = 600   # a host clock further off than this is worth a warning

_SURROGATE = re.compile("[\x00\ud800-\udfff]")
_SEVERITY_SET = frozenset(SEVERITIES)
_CLASSIFICATION_SET = frozenset(REPORTED_CLASSIFICATIONS)
_DECISION_SET = frozenset(DECISIONS)
_DATE_FIELDS = ("issued", "first_seen", "sla_due")


# The fields of an update in the report's shape (_report_model._shape), read in one C call:
# its texts, its choices and ids, its dates.
_FIELDS = operator.itemgetter("name", "arch", "installed_version", "available_version", "title", "reason",
                              "severity", "classification", "decision", "advisories", "cves", *_DATE_FIELDS)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:$|[T ])")
# A text field a host left out (None): filtered in C by the fast check. Every other value must be
# text; a falsy number, list or mapping (0, False, [], {}) is no absent text and takes the careful way.
_PRESENT = functools.partial(operator.is_not, None)
# the record's advisory_feed (HostValues.advisory_feed): its texts and its counts
_FEED_TEXTS = ("cache_dir", "index", "release", "warning")
_FEED_COUNTS = ("age_seconds", "entries", "advisories", "joined", "without_source")


def is_count(value: Any) -> bool:
    """A number of things: an int (not a bool, which is one in Python) of 0 or more."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def text(value: Any, limit: int = TEXT_CHARS) -> str | None:
    """value as a str fit for every renderer and both stores: NUL and lone surrogates replaced, capped."""
    if value is None:
        return None
    value = value if isinstance(value, str) else str(value)
    if len(value) > limit:
        value = value[:limit]
    return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value


# Whether a date string is a real date is a fact about the string, not about the host that sent
# it: decided once per distinct string for the whole process, and remembered beside no host's
# warnings (each HostValues keeps its own). A fleet sends a few hundred distinct dates; a host
# sending millions only makes the memo start again, it never grows past this.
DATES_REMEMBERED = 65536
_real_dates = {}


def _is_real_date(value):
    """real_date(value) for an exact str, from the memo. perf: at 10,000 hosts x 50 updates a memo per
    host still ran real_date() 739,000 times, 5.0 s of the end of the run's 66.9 s under cProfile
    (bench/compliance_pipeline_bench.py, /tmp/prof-639.txt); the fleet has about 230 distinct dates."""
    valid = _real_dates.get(value)
    if valid is None:
        if len(_real_dates) >= DATES_REMEMBERED:
            _real_dates.clear()
        valid = _real_dates[value] = real_date(value)
    return valid


def absent(value: Any) -> bool:
    """Whether a host left a field out: null, or empty text (a falsy number, list or mapping is a
    value, to be checked like any other)."""
    return value is None or value == ""


def real_date(value: Any) -> bool:
    """Whether value is an ISO date or timestamp naming a real calendar day (and time)."""
    if not isinstance(value, str):
        return False
    match = _DATE.match(value)
    if not match:
        return False
    try:
        datetime.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        if len(value) > 10:
            datetime.datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        return False
    return True


class HostValues(object):
    """Checks one host's values; collects its warnings. today: the controller's UTC date at the
    run ("YYYY-MM-DD"), against which SLA breaches are decided."""

    def __init__(self, host: str, today: str) -> None:
        self.host = host
        self.today = today
        self.warnings = []
        self.dropped = 0

    def warn(self, where: str, field: str, value: Any, became: str) -> None:
        if len(self.warnings) >= WARNINGS_KEPT:
            self.dropped += 1
            return
        shown = repr(text(value, VALUE_SHOWN))
        self.warnings.append("%s%s %s is not valid: %s" % (where, field, shown, became))

    def enum(self, where: str, field: str, value: Any, allowed: Collection[Any], fallback: Any) -> Any:
        if value in allowed:
            return value
        if absent(value):
            return fallback
        self.warn(where, field, value, "taken as %s" % fallback)
        return fallback

    def date(self, where: str, field: str, value: Any) -> str | None:
        if value is None:
            return None
        # a str subclass (Ansible's unsafe text) is checked as it is, never kept in the memo
        if isinstance(value, str) and (_is_real_date(value) if value.__class__ is str else real_date(value)):
            return value
        self.warn(where, field, value, "taken as unknown (null)")
        return None

    def ids(self, where: str, field: str, values: Any) -> list[str | None]:
        if absent(values) or (values.__class__ in (list, tuple) and not values):
            return []
        if not isinstance(values, (list, tuple)):
            self.warn(where, field, values, "taken as none")
            return []
        kept = [text(v) for v in values[:IDS_SHOWN] if v is not None and v != ""]
        if len(kept) < min(len(values), IDS_SHOWN):
            self.warn(where, field, values, "empty ids left out")
        return kept

    def update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Check one update of the report (in the report's shape, in place) and decide
        sla_breached by the controller's date."""
        if not self._plainly_valid(update):
            self._check_each(update)
        due = update["sla_due"]
        update["sla_breached"] = due is not None and due[:10] < self.today
        return update

    def _plainly_valid(self, update):
        """Whether every value of the update is already what _check_each would leave: the common
        case, decided with a few C-level calls. perf: half a million updates at 10,000 hosts; the
        field-by-field path costs several times more (bench/compliance_pipeline_bench.py)."""
        try:
            (name, arch, installed_version, available_version, title, reason, severity, classification, decision,
             advisories, cves, issued, first_seen, sla_due) = _FIELDS(update)
            if (severity not in _SEVERITY_SET or classification not in _CLASSIFICATION_SET
                    or decision not in _DECISION_SET):
                return False
        except (KeyError, TypeError):  # not in the report's shape, or a list where a word belongs
            return False
        if not name:                   # an update names its package
            return False
        if (advisories.__class__ is not list or cves.__class__ is not list
                or len(advisories) > IDS_SHOWN or len(cves) > IDS_SHOWN or "" in advisories or "" in cves):
            return False
        known = _real_dates.get
        for value in (issued, first_seen, sla_due):
            if value is None:
                continue
            if value.__class__ is not str:      # a number, a list...: the careful way says so
                return False
            # perf: a date not seen before is checked here once, as date() would, rather than sending
            # the whole update the careful way, which 92,721 of 100,000 updates took for that alone:
            # 3.5 of the end of the run's 15.8 s under cProfile (bench/compliance_pipeline_bench.py,
            # 2,000 hosts x 50 updates).
            if not (known(value) or _is_real_date(value)):
                return False
        try:
            # absent texts (None) are fine; every other text and every id must be text
            joined = ("\x01".join(filter(_PRESENT, (name, arch, installed_version, available_version, title, reason)))
                      + "\x01" + "\x01".join(advisories + cves))
        except TypeError:           # a value that is not text
            return False
        if len(joined) > TEXT_CHARS:
            return False
        # perf: ASCII text, nearly all of it, holds no surrogate: only NUL is looked for there, in one
        # C scan; the regex took 1.0 of this check's 3.4 us an update (with the run-wide memo of dates:
        # host_entry 1.52-1.65 -> 0.77-1.09 CPU s at 2,000 hosts x 50, bench/host_entries_bench.py)
        return "\x00" not in joined if joined.isascii() else not _SURROGATE.search(joined)

    def _check_each(self, update):
        where = "update %s: " % text(update.get("name"), VALUE_SHOWN)
        for field in ("name", "arch", "installed_version", "available_version", "title", "reason"):
            value = update.get(field)
            if value is not None and (not isinstance(value, str) or len(value) > TEXT_CHARS or _SURROGATE.search(value)):
                update[field] = text(value)
        if not update.get("name"):
            self.warn(where, "name", update.get("name"), "taken as %s" % UNKNOWN)
            update["name"] = UNKNOWN
        update["severity"] = self.enum(where, "severity", update.get("severity"), SEVERITIES, UNKNOWN)
        update["classification"] = self.enum(where, "classification", update.get("classification"),
                                             REPORTED_CLASSIFICATIONS, UNKNOWN)
        update["decision"] = self.enum(where, "decision", update.get("decision"), DECISIONS, UNREADABLE_DECISION)
        update["advisories"] = self.ids(where, "advisories", update.get("advisories"))
        update["cves"] = self.ids(where, "cves", update.get("cves"))
        for field in _DATE_FIELDS:
            update[field] = self.date(where, field, update.get(field))

    def record(self, record: dict[str, Any], received_at: str) -> dict[str, Any]:
        """Check a host patch record's top-level fields (a copy without its updates, in place).
        received_at: the controller's time the record arrived ("YYYY-MM-DDTHH:MM:SSZ"), which
        becomes the assessment's time; the host's own collected_at is kept as host_clock."""
        where = ""
        for field in ("pkg_mgr", "distribution", "version", "kernel_running", "policy", "ring", "hostname"):
            if record.get(field) is not None:
                record[field] = text(record[field], VALUE_SHOWN * 4)
        if record.get("status") is not None:
            record["status"] = self.enum(where, "status", record["status"], HOST_STATUSES, UNKNOWN)
        count = record.get("installed_count")
        if count is not None and not is_count(count):
            self.warn(where, "installed_count", count, "taken as 0")
            record["installed_count"] = 0
        reported = record.get("collected_at")
        if reported is not None and not real_date(reported):
            self.warn(where, "collected_at", reported, "ignored")
            reported = None
        record["host_clock"] = reported
        record["collected_at"] = received_at
        if "advisory_feed" in record:
            record["advisory_feed"] = self.advisory_feed(record["advisory_feed"])
        if reported:
            skew = _seconds_between(reported, received_at)
            if skew is not None and abs(skew) > CLOCK_SKEW_SECONDS:
                self.warnings.append("the host's clock is %d s %s the controller's (collected_at %s): its "
                                     "assessment is dated by the controller" % (
                                         abs(skew), "behind" if skew > 0 else "ahead of", text(reported, 40)))
        return record

    def advisory_feed(self, feed: Any) -> dict[str, Any] | None:
        """The record's advisory_feed (docs/schemas/host_patch_record.schema.json), which the report
        shows (its warning, its age): written by the controller's action plugin, but it travels in
        the host's facts (a fact cache, a document from elsewhere), so it is checked as they are.
        Fields outside the schema are left out; a value of the wrong type becomes null (0 for the
        counts, none for the sources and left_out), with a warning; texts are capped as every text."""
        where = "advisory_feed: "
        if feed is None:
            return None
        if not isinstance(feed, dict):
            self.warn("", "advisory_feed", feed, "ignored")
            return None
        checked = {}
        for field in _FEED_TEXTS:
            value = feed.get(field)
            if value is not None and not isinstance(value, str):
                self.warn(where, field, value, "taken as unknown (null)")
                value = None
            checked[field] = text(value)
        for field in _FEED_COUNTS:
            if field not in feed:
                continue
            value = feed[field]
            if (value is not None or field != "age_seconds") and not is_count(value):
                # the age may be unknown (null); a count the schema says is a number counts nothing
                self.warn(where, field, value, "taken as unknown (null)" if field == "age_seconds" else "taken as 0")
                value = None if field == "age_seconds" else 0
            checked[field] = value
        loaded = feed.get("loaded_at")
        checked["loaded_at"] = loaded if real_date(loaded) else None
        if loaded is not None and checked["loaded_at"] is None:
            self.warn(where, "loaded_at", loaded, "taken as unknown (null)")
        sources = feed.get("source")
        if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
            if sources is not None:
                self.warn(where, "source", sources, "taken as none")
            sources = []
        checked["source"] = [text(s) for s in sources[:IDS_SHOWN]]
        left_out = feed.get("left_out")
        if left_out is not None:
            if not isinstance(left_out, dict) or not all(
                    isinstance(k, str) and is_count(n)
                    for k, n in left_out.items()):
                self.warn(where, "left_out", left_out, "taken as none")
                left_out = {}
            checked["left_out"] = dict((text(k, VALUE_SHOWN), n) for k, n in list(left_out.items())[:IDS_SHOWN])
        return checked

    def summary(self) -> list[str]:
        """The host's warnings for its report entry: at most WARNINGS_KEPT, then how many more."""
        if self.dropped:
            return self.warnings + ["... and %d more value(s) not valid" % self.dropped]
        return list(self.warnings)


def days_between(earlier: Any, later: Any) -> int | None:
    """Whole days from the date of `earlier` to the date of `later` (ISO dates or timestamps), or
    None if either is no date."""
    try:
        return (datetime.date.fromisoformat(str(later)[:10]) - datetime.date.fromisoformat(str(earlier)[:10])).days
    except ValueError:
        return None


def _seconds_between(earlier, later):
    # Not _compliance_groups.parse_timestamp: this module is imported by the history store, which
    # needs nothing outside the standard library (that one imports ansible).
    try:
        first = datetime.datetime.fromisoformat(earlier[:-1] + "+00:00" if earlier.endswith("Z") else earlier)
        second = datetime.datetime.fromisoformat(later[:-1] + "+00:00" if later.endswith("Z") else later)
    except ValueError:
        return None
    if first.tzinfo is None:
        first = first.replace(tzinfo=datetime.timezone.utc)
    return int((second - first).total_seconds())
