# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rollout ring assignment for the fleetpatch.patching.rings inventory plugin.
Private to this collection: may change without notice.

Pure functions: the plugin reads the inventory into HostFacts, assign_rings decides, the plugin
writes groups and variables. docs/inventory.md ("Rings") states the rules implemented here.
"""

from __future__ import annotations

import collections
import hashlib
import math
import re
from typing import Any, Iterable, Sequence

from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import (
    EXCLUDED_RING_GROUP, RING_GROUP_PREFIX, RING_VAR)

SOURCE_VAR = RING_VAR + "_source"
DEFAULT_RINGS = ({"name": "test", "fraction": 0.0}, {"name": "pilot", "fraction": 0.1}, {"name": "production"})

# What fleetpatch_ring_source says about how a host got its ring.
SOURCE_VAR_EXPLICIT = "var"
SOURCE_GROUP_RULE = "group_rule"
SOURCE_SAMPLE = "sample"
SOURCE_SPREAD = "spread"

_RING_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_FLOAT_SLACK = 1e-9
_TRUE = frozenset(("1", "true", "yes", "on", "y", "t"))
_FALSE = frozenset(("0", "false", "no", "off", "n", "f", ""))

Ring = collections.namedtuple("Ring", ["name", "fraction"])
HostFacts = collections.namedtuple("HostFacts", ["name", "explicit_ring", "groups", "excluded", "bucket"],
                                   defaults=(None, frozenset(), False, None))
Assignment = collections.namedtuple("Assignment", ["ring", "source", "point"])


class RingsConfigError(ValueError):
    """A rings configuration, or an inventory value it reads, that cannot be used."""


def ring_group(ring_name: str) -> str:
    return RING_GROUP_PREFIX + ring_name


def parse_rings(value: Any) -> tuple[Ring, ...]:
    """The `rings` option as a tuple of Ring; the last ring's fraction is whatever is left (None)."""
    if value is None:
        value = DEFAULT_RINGS
    if not isinstance(value, (list, tuple)) or not value:
        raise RingsConfigError("rings must be a non-empty list of {name, fraction}, got %r" % (value,))
    rings = []
    seen = set()
    for position, entry in enumerate(value, start=1):
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict):
            raise RingsConfigError("rings entry %d must be a mapping with a name, got %r" % (position, entry))
        unknown = sorted(set(entry) - {"name", "fraction"})
        if unknown:
            raise RingsConfigError("rings entry %d has unknown key(s) %s; allowed: name, fraction"
                                   % (position, ", ".join(str(k) for k in unknown)))
        name = entry.get("name")
        if not isinstance(name, str) or not _RING_NAME.match(name):
            raise RingsConfigError("rings entry %d: name %r must be letters, digits and underscores only "
                                   "(it becomes the group %s<name>)" % (position, name, RING_GROUP_PREFIX))
        if name == "excluded":
            raise RingsConfigError("rings entry %d: the name 'excluded' is reserved for the group %s"
                                   % (position, EXCLUDED_RING_GROUP))
        if name in seen:
            raise RingsConfigError("ring %r is listed twice in rings" % name)
        name = str(name)
        seen.add(name)
        last = position == len(value)
        fraction = entry.get("fraction")
        if last:
            if fraction is not None:
                raise RingsConfigError("ring %r is the last ring and takes every sampled host the other rings "
                                       "do not; remove its fraction (%r)" % (name, fraction))
        else:
            fraction = _fraction(name, 0.0 if fraction is None else fraction)
        rings.append(Ring(name, fraction))
    total = sum(r.fraction for r in rings[:-1])
    if total > 1 + _FLOAT_SLACK:
        raise RingsConfigError("the ring fractions add up to %s (%s); they must add up to at most 1"
                               % (round(total, 6), ", ".join("%s=%s" % (r.name, r.fraction) for r in rings[:-1])))
    return tuple(rings)


def _fraction(name, fraction):
    if isinstance(fraction, bool):
        raise RingsConfigError("ring %r: fraction must be a number between 0 and 1, got %r" % (name, fraction))
    try:
        number = float(fraction)
    except (TypeError, ValueError):
        raise RingsConfigError("ring %r: fraction must be a number between 0 and 1, got %r" % (name, fraction))
    if not 0.0 <= number <= 1.0:
        raise RingsConfigError("ring %r: fraction must be between 0 and 1, got %r" % (name, fraction))
    return number


def parse_group_rules(value: Any, rings: Sequence[Ring]) -> dict[str, str]:
    """The `group_rules` option (ring -> groups) as group -> ring, ordered by ring order.

    Every ring's own group (fleetpatch_ring_<name>) is an implicit rule for that ring, so hosts
    a previous source already put in a ring group stay there.
    """
    names = [r.name for r in rings]
    value = value or {}
    if not isinstance(value, dict):
        raise RingsConfigError("group_rules must map a ring name to a list of groups, got %r" % (value,))
    unknown = [ring for ring in value if ring not in names]
    if unknown:
        raise RingsConfigError("group_rules names ring(s) %s that rings does not define (rings: %s)"
                               % (", ".join(repr(r) for r in unknown), ", ".join(names)))
    rules = {}
    for ring in names:
        groups = value.get(ring) or []
        if isinstance(groups, str):
            groups = [groups]
        if not isinstance(groups, (list, tuple)):
            raise RingsConfigError("group_rules.%s must be a list of group names, got %r" % (ring, groups))
        for group in groups:
            if not isinstance(group, str) or not group:
                raise RingsConfigError("group_rules.%s: %r is not a group name" % (ring, group))
            if group in rules and rules[group] != ring:
                raise RingsConfigError("group %r is in the group_rules of both %r and %r; a group can lead "
                                       "to one ring only" % (group, rules[group], ring))
            rules[str(group)] = ring
    for ring in names:
        rules.setdefault(ring_group(ring), ring)
    return rules


def parse_flag(value: Any, what: str) -> bool:
    """An exclusion flag as the operator wrote it (bool, yes/no, 1/0...) as a bool."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise RingsConfigError("%s must be a boolean, got %r" % (what, value))


def sample_point(seed: Any, hostname: str) -> float:
    """The host's fixed place in [0, 1): the first 8 bytes of sha256(seed + hostname), big-endian, / 2**64."""
    digest = hashlib.sha256((str(seed) + str(hostname)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 18446744073709551616.0


def sample_bounds(rings: Sequence[Ring]) -> list[float]:
    """Upper bounds of the sampled intervals of every ring but the last (cumulative fractions)."""
    bounds = []
    total = 0.0
    for ring in rings[:-1]:
        total += ring.fraction
        bounds.append(total)
    return bounds


def sampled_ring(point: float, rings: Sequence[Ring], bounds: list[float] | None = None) -> str:
    """The ring a point falls in: ring i takes [bound(i-1), bound(i)), the last ring the rest."""
    if bounds is None:
        bounds = sample_bounds(rings)
    for ring, bound in zip(rings, bounds):
        if point < bound:
            return ring.name
    return rings[-1].name


def spread_min_hosts(ring: Ring, override: int | None = None) -> int:
    """How many hosts a spread bucket needs before it must hold one host of `ring` (0: never)."""
    if ring.fraction is None or ring.fraction <= 0:
        return 0
    if override is not None:
        return max(1, int(override))
    return max(1, int(math.ceil(round(1.0 / ring.fraction, 9))))


def assign_rings(hosts: Iterable[HostFacts], rings: Sequence[Ring], group_rules: dict[str, str], seed: Any = "",
                 spread_by_bucket: bool = False, min_hosts: int | None = None) -> dict[str, Assignment]:
    """Decide every host's ring.

    hosts: iterable of HostFacts; rings: parse_rings(); group_rules: parse_group_rules().
    Returns {hostname: Assignment(ring, source, point)}; excluded hosts get Assignment(None, None, None).
    Precedence: excluded > explicit variable > group rule (earliest ring wins) > hashed sample.
    With spread_by_bucket, apply_spread() corrects the sampled hosts of each bucket.
    """
    names = [r.name for r in rings]
    order = {name: i for i, name in enumerate(names)}
    bounds = sample_bounds(rings)
    result = {}
    buckets = collections.defaultdict(list)
    for host in hosts:
        if host.excluded:
            result[host.name] = Assignment(None, None, None)
            continue
        if host.explicit_ring is not None and host.explicit_ring != "":
            if host.explicit_ring not in order:
                raise RingsConfigError("host %s has %s=%r, which is not one of the configured rings (%s)"
                                       % (host.name, RING_VAR, host.explicit_ring, ", ".join(names)))
            assignment = Assignment(host.explicit_ring, SOURCE_VAR_EXPLICIT, None)
        else:
            ruled = [group_rules[g] for g in host.groups if g in group_rules]
            if ruled:
                assignment = Assignment(min(ruled, key=order.__getitem__), SOURCE_GROUP_RULE, None)
            else:
                point = sample_point(seed, host.name)
                assignment = Assignment(sampled_ring(point, rings, bounds), SOURCE_SAMPLE, point)
        result[host.name] = assignment
        if spread_by_bucket and host.bucket is not None:
            buckets[host.bucket].append(host.name)
    if spread_by_bucket:
        for members in buckets.values():
            apply_spread(result, members, rings, min_hosts)
    return result


def apply_spread(result: dict[str, Assignment], members: list[str], rings: Sequence[Ring],
                 min_hosts: int | None = None) -> None:
    """Correct the ring of a few sampled hosts of one spread bucket, in place.

    1. Every ring but the last with a fraction f > 0: a bucket of at least spread_min_hosts()
       ringed hosts (default ceil(1/f)) with none in that ring gets one: its sampled host of the
       last ring with the lowest sample point moves there.
    2. A bucket of at least 2 ringed hosts with none in the last ring gives it one: a sampled
       host of the fullest earlier ring (the later ring on a tie), the highest point first, moves there.
    Moved hosts get source "spread". Hosts placed by their variable or a group rule never move.
    """
    if not members:
        return
    last = rings[-1].name
    movable = (SOURCE_SAMPLE, SOURCE_SPREAD)

    def count(ring_name):
        return sum(1 for name in members if result[name].ring == ring_name)

    for ring in rings[:-1]:
        needed = spread_min_hosts(ring, min_hosts)
        if not needed or len(members) < needed or count(ring.name):
            continue
        candidates = [n for n in members if result[n].ring == last and result[n].source in movable]
        if candidates:
            chosen = min(candidates, key=lambda n: (result[n].point, n))
            result[chosen] = Assignment(ring.name, SOURCE_SPREAD, result[chosen].point)
    if len(members) >= 2 and not count(last):
        sizes = {r.name: count(r.name) for r in rings}
        order = {r.name: i for i, r in enumerate(rings)}
        candidates = [n for n in members if result[n].source in movable]
        if candidates:
            chosen = max(candidates, key=lambda n: (sizes[result[n].ring], order[result[n].ring],
                                                    result[n].source == SOURCE_SAMPLE, result[n].point, n))
            result[chosen] = Assignment(last, SOURCE_SPREAD, result[chosen].point)


def bucket_key(value: Any) -> Any:
    """A spread key value as a hashable bucket; None (no bucket) for undefined or empty values."""
    if value is None or value == "" or value == [] or value == {}:
        return None
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(sorted(str(v) for v in value))
    if isinstance(value, dict):
        return tuple(sorted("%s=%s" % (k, v) for k, v in value.items()))
    return str(value)


def ring_counts(result: dict[str, Assignment], rings: Sequence[Ring]) -> collections.OrderedDict[str, int]:
    """{ring: number of hosts}, every configured ring present, plus 'excluded'."""
    counts = collections.OrderedDict((r.name, 0) for r in rings)
    counts["excluded"] = 0
    for assignment in result.values():
        counts[assignment.ring if assignment.ring is not None else "excluded"] += 1
    return counts
