# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compliance groups for the fleetpatch.patching.compliance inventory plugin.
Private to this collection: may change without notice.

The plugin reads the history store once into a snapshot (plain rows: what the inventory cache
keeps), host_states() decides every host's groups and its fleetpatch_compliance variable from the
snapshot and a given `now`, and the plugin writes them. docs/inventory.md ("Compliance groups")
states the rules implemented here.
"""

from __future__ import annotations

import collections
import datetime
import re
from typing import Any, Iterable, Iterator
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.fleetpatch.patching.plugins.module_utils import _vocabulary

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core < 2.19: a string without template syntax is never templated anyway
    trust_as_template = None

COMPLIANCE_VAR = "fleetpatch_compliance"
DEFAULT_PREFIX = "fleetpatch_"
DEFAULT_STALE_DAYS = 7
SNAPSHOT_VERSION = 2      # 2: last_assessed carries the assessment's status and counts

# The groups, by the suffix that follows the prefix, in the order the documentation lists them.
COMPLIANT = "compliant"
NONCOMPLIANT = "noncompliant"
PENDING_REBOOT = "pending_reboot"
FAILED = "failed"
UNREACHABLE = "unreachable"
UNKNOWN = "unknown"
SLA_BREACH = "sla_breach"
STALE = "stale"
GROUP_KEYS = (COMPLIANT, NONCOMPLIANT, PENDING_REBOOT, FAILED, UNREACHABLE, UNKNOWN, SLA_BREACH, STALE)

# Host statuses (_report_model.HOST_STATUSES) that leave something to install, finish or retry:
# AWS SSM's NON_COMPLIANT, which counts installed-pending-reboot and failed installs too.
NONCOMPLIANT_STATUSES = frozenset(("non_compliant", "pending_reboot", "failed", "rolled_back"))
FAILED_STATUSES = frozenset(("failed", "rolled_back"))
# Host statuses of a run that may not have assessed the host: its last assessment still stands.
NOT_ASSESSED_STATUSES = frozenset(("unreachable", "unknown"))

# The fleetpatch_compliance variable's keys, always all present (null or 0 when unknown).
ENTRY_KEYS = ("run_id", "ended_at", "ring", "os", "pkg_mgr", "policy")
FLAG_KEYS = ("reboot_required", "rebooted", "rolled_back")

_PREFIX = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*)?$")
# Strings made only of these characters cannot hold a template, whatever the delimiters: no
# braces, %, # (Jinja2's and its #jinja2: override header), nor any bracket or symbol a custom
# variable_start_string could be made of. Host names, ISO timestamps, statuses, rings, OS names
# and run ids all are.
_INERT = re.compile(r"^[A-Za-z0-9 _.,:/+-]*\Z")
_DAY = datetime.timedelta(days=1)
_UTC = datetime.timezone.utc

HostState = collections.namedtuple("HostState", ["groups", "variables"])


class ComplianceConfigError(ValueError):
    """A compliance plugin option that cannot be used."""


# ---- options ------------------------------------------------------------------------------------

def parse_prefix(value: Any) -> str:
    """The group_prefix option: '' or an identifier, so that every group name is one."""
    if value is None:
        return DEFAULT_PREFIX
    if not isinstance(value, str) or not _PREFIX.match(value):
        raise ComplianceConfigError("group_prefix %r must be letters, digits and underscores, not starting with "
                                    "a digit (or empty)" % (value,))
    return str(value)


def parse_stale_days(value: Any) -> int:
    if value is None:
        return DEFAULT_STALE_DAYS
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ComplianceConfigError("stale_days must be a whole number of days, 1 or more, got %r" % (value,))
    return int(value)


def group_names(prefix: str) -> collections.OrderedDict[str, str]:
    """{group key: group name} for every group the plugin creates."""
    return collections.OrderedDict((key, prefix + key) for key in GROUP_KEYS)


def with_credentials(url: str, user: str | None = None, password: str | None = None) -> str:
    """The PostgreSQL URL with the user and password options added as libpq URI parameters
    (percent-encoded), so that every message shows it redacted like any URL password. A URL that
    already names a user (or carries a password) and the matching option are refused rather than
    silently preferring one. Messages never quote the URL: it may hold a password."""
    if not user and not password:
        return url
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    params = [key for key, dummy in parse_qsl(parts.query, keep_blank_values=True)]
    extra = []
    if user:
        if userinfo.split(":", 1)[0] or "user" in params:
            raise ComplianceConfigError("the store URL already names a user; set it in the URL or in the user "
                                        "option, not both")
        extra.append(("user", str(user)))
    if password:
        if ":" in userinfo or "password" in params:
            raise ComplianceConfigError("the store URL already carries a password; set it in the password option "
                                        "(or PGPASSWORD) only")
        extra.append(("password", str(password)))
    query = urlencode(extra, quote_via=quote)
    return urlunsplit(parts._replace(query=(parts.query + "&" + query) if parts.query else query))


# ---- time -----------------------------------------------------------------------------------------

def parse_timestamp(value: Any) -> datetime.datetime | None:
    """A store timestamp (ISO 8601, ...Z, or a date) as an aware UTC datetime; None when absent
    or unreadable."""
    if not value:
        return None
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_UTC)
    return moment.astimezone(_UTC)


def stamp(moment: datetime.datetime) -> str:
    return _vocabulary.utc_stamp(moment.astimezone(_UTC))


# ---- the snapshot: what one read of the store gives (and the inventory cache keeps) -------------

def breach_counts(sla_breaches: Iterable[dict[str, Any]]) -> dict[str, list[Any]]:
    """{host: [count, earliest sla_due]} of breach rows ({host, sla_due}, HistoryStore.sla_breaches()'s):
    what HistoryStore.sla_breach_counts() gives."""
    breaches = {}
    for breach in sla_breaches:
        count, earliest = breaches.get(breach["host"], (0, None))
        due = str(breach["sla_due"])[:10]
        breaches[breach["host"]] = [count + 1, due if earliest is None or due < earliest else earliest]
    return breaches


def snapshot(location: str, fetched_at: datetime.datetime, latest_hosts: list[dict[str, Any]],
             last_assessed: dict[str, Any],
             sla_breaches: dict[str, list[Any]] | Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The store's rows as the plugin keeps them: JSON-serialisable, so any cache plugin can hold
    them. location: the store as shown (password removed), so that a cache entry written for
    another store is not used. SLA breaches are kept per host as [count, earliest sla_due]
    rather than one row per update (a large fleet has hundreds of thousands): given so
    (HistoryStore.sla_breach_counts(), a dict, kept as it is) or as breach rows (counted here)."""
    return {
        "version": SNAPSHOT_VERSION,
        "location": location,
        "fetched_at": stamp(fetched_at),
        # The store returns fresh objects: kept as they are, not copied (10,000 hosts).
        "hosts": list(latest_hosts),
        "last_assessed": dict(last_assessed),
        "sla_breaches": sla_breaches if isinstance(sla_breaches, dict) else breach_counts(sla_breaches),
    }


def usable_snapshot(value: Any, location: str) -> bool:
    """Whether a cached value is a snapshot of this store, in this format."""
    shapes = (("hosts", list), ("last_assessed", dict), ("sla_breaches", dict))
    return (isinstance(value, dict) and value.get("version") == SNAPSHOT_VERSION
            and value.get("location") == location
            and all(isinstance(value.get(key), kind) for key, kind in shapes))


# ---- the rules ------------------------------------------------------------------------------------

def host_state(entry: dict[str, Any] | None, assessed: dict[str, Any] | None, breach: list[Any] | None,
               now: datetime.datetime, stale_days: int) -> HostState:
    """One host's groups (a frozenset of GROUP_KEYS) and fleetpatch_compliance variable.

    entry: the host's row in its latest run (HistoryStore.latest_hosts()), None if the store does
    not know the host; assessed: its newest run that assessed it (HistoryStore.last_assessed()),
    None if never; breach: [count, earliest sla_due] of its SLA breaches, None if none; now: an
    aware datetime; stale_days: the staleness threshold in days.
    """
    assessed_at = None
    if assessed:
        assessed_at = parse_timestamp(assessed.get("assessed_at")) or parse_timestamp(assessed.get("ended_at"))
    stale = assessed_at is None or now - assessed_at > stale_days * _DAY
    age = None if assessed_at is None else max(0, (now - assessed_at) // _DAY)
    count, earliest = breach if breach else (0, None)
    due = parse_timestamp(earliest)
    overdue = max(0, (now.date() - due.date()).days) if count and due is not None else 0

    entry = entry or {}
    status = entry.get("status")
    # The last known state: a later run that did not assess the host (unreachable, health checks
    # only) does not reset what its last assessment found, as SSM keeps a node's last report.
    known = status
    if assessed and assessed.get("run_id") != entry.get("run_id") and status in NOT_ASSESSED_STATUSES:
        known = assessed.get("status") or status
    variables = {"status": status, "in_store": bool(entry), "last_known_status": known}
    variables.update((key, entry.get(key)) for key in ENTRY_KEYS)
    variables.update((key, bool(entry.get(key))) for key in FLAG_KEYS)
    variables.update({
        "assessed_at": (assessed.get("assessed_at") or assessed.get("ended_at")) if assessed else None,
        "assessed_run_id": assessed.get("run_id") if assessed else None,
        "days_since_assessed": age,
        "stale": stale,
        "counts": dict(entry.get("counts") or {}),
        "assessed_counts": dict((assessed or {}).get("counts") or {}),
        "sla_breaches": int(count),
        "sla_days_overdue": overdue,
    })

    groups = set()
    if known == "compliant":
        groups.add(COMPLIANT)
    if known in NONCOMPLIANT_STATUSES or status in FAILED_STATUSES:
        groups.add(NONCOMPLIANT)
    if status == "pending_reboot" or variables["reboot_required"]:
        groups.add(PENDING_REBOOT)
    if status in FAILED_STATUSES or variables["rolled_back"]:
        groups.add(FAILED)
    if status == "unreachable":
        groups.add(UNREACHABLE)
    if status == "unknown":
        # the package manager's answer was incomplete: neither compliant nor known to be missing
        groups.add(UNKNOWN)
    if count:
        groups.add(SLA_BREACH)
    if stale:
        groups.add(STALE)
    return HostState(frozenset(groups), variables)


def host_states(snap: dict[str, Any], inventory_hosts: Iterable[str], now: datetime.datetime, stale_days: int,
                add_hosts: bool = False) -> collections.OrderedDict[str, HostState]:
    """{host: HostState}, by host name, for the hosts the plugin writes: the inventory's hosts
    (annotate), plus, with add_hosts, every host the store knows. Hosts are matched by their
    inventory name, the name the compliance callback stored."""
    return collections.OrderedDict(each_host_state(snap, inventory_hosts, now, stale_days, add_hosts))


def each_host_state(snap: dict[str, Any], inventory_hosts: Iterable[str], now: datetime.datetime, stale_days: int,
                    add_hosts: bool = False) -> Iterator[tuple[str, HostState]]:
    """host_states()' (host, HostState) pairs one at a time, by host name: what reads them once
    holds one host's state at a time (the compliance callback's fleet state of a 100,000-host run)."""
    latest = dict((entry["host"], entry) for entry in snap["hosts"])
    names = set(inventory_hosts)
    if add_hosts:
        names.update(latest)
    assessed, breaches = snap["last_assessed"], snap["sla_breaches"]
    for name in sorted(names):
        yield name, host_state(latest.get(name), assessed.get(name), breaches.get(name), now, stale_days)


def group_members(states: dict[str, HostState]) -> collections.OrderedDict[str, list[str]]:
    """{group key: sorted host names}, every key present."""
    members = collections.OrderedDict((key, []) for key in GROUP_KEYS)
    for name, state in states.items():
        for key in state.groups:
            members[key].append(name)
    return members


# ---- values into the inventory --------------------------------------------------------------------

def store_value(value: Any, memo: dict[str, Any] | None = None) -> Any:
    """A value read from the store, ready for inventory.set_variable, never templated.

    The store holds what targets and runs reported (OS names, run ids, rings...): a compromised
    host could report "{{ lookup('pipe', ...) }}" as its distribution, so no such value may ever
    be templated. Ansible < 2.19 templates plain strings: those are wrapped unsafe. 2.19 templates
    only strings marked trusted, but `ansible-inventory --list` writes every untrusted string as
    {"__ansible_unsafe": "..."}, which AWX imports as a dictionary (community.general#8212),
    breaking host variables for every job. So a string made only of characters that cannot form
    a template in any delimiter syntax (_INERT) is marked trusted on 2.19 (left plain before):
    templating it gives it back unchanged, so trust grants nothing, and the output stays plain
    JSON. Any other string stays untrusted / is wrapped unsafe, and shows as __ansible_unsafe,
    which Ansible itself reads back correctly. This is the opposite of the rings plugin, which
    trusts its own validated ring names: here nothing that merely looks harmless is trusted.

    memo: a dict shared across calls; the same strings (statuses, rings, run ids, timestamps)
    recur on every host and marking one costs ~10 us on 2.19, a second per 10,000 hosts.
    """
    if memo is None:
        memo = {}
    kind = type(value)
    if kind is int or kind is bool or value is None:    # the bulk (counts, flags): nothing to mark
        return value
    if isinstance(value, str):
        marked = memo.get(value)
        if marked is None:
            if _INERT.match(value):
                marked = trust_as_template(value) if trust_as_template is not None else value
            else:
                marked = wrap_var(value)
            memo[value] = marked
        return marked
    if isinstance(value, dict):
        # Keys are this module's own names, never store data.
        return dict((key, store_value(item, memo)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [store_value(item, memo) for item in value]
    return value
