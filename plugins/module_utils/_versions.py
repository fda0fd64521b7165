# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

Version ordering as rpm and dpkg define it, in pure Python: which advisories an update covers,
which installed kernel is newest.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_RPM_SEGMENT = re.compile(r"([0-9]+|[A-Za-z]+|~|\^)")


def rpmvercmp(a, b):
    """rpm's rpmvercmp: -1, 0 or 1. Handles ~ (sorts before anything) and ^ (after the base)."""
    if a == b:
        return 0
    sa = _RPM_SEGMENT.findall(a)
    sb = _RPM_SEGMENT.findall(b)
    while sa or sb:
        x = sa.pop(0) if sa else None
        y = sb.pop(0) if sb else None
        if x == "~" or y == "~":
            if x != y:
                return -1 if x == "~" else 1
            continue
        if x == "^" or y == "^":
            if x is None:
                return -1
            if y is None:
                return 1
            if x != y:
                return -1 if x == "^" else 1
            continue
        if x is None:
            return -1
        if y is None:
            return 1
        if x.isdigit() and y.isdigit():
            cmp = (int(x) > int(y)) - (int(x) < int(y))
        elif x.isdigit():
            return 1     # numeric segments are newer than alphabetic ones
        elif y.isdigit():
            return -1
        else:
            cmp = (x > y) - (x < y)
        if cmp:
            return cmp
    return 0


def split_evr(evr):
    """'1:2.5-1' -> (1, '2.5', '1'); the epoch defaults to 0 and the release to ''."""
    epoch = 0
    if ":" in evr:
        head, evr = evr.split(":", 1)
        epoch = int(head) if head.isdigit() else 0
    version, _sep, release = evr.rpartition("-") if "-" in evr else (evr, "", "")
    return epoch, version, release


def _compare_evr(a, b, compare_part):
    """Epoch first, then version, then release, each by the family's own part comparison."""
    ea, va, ra = split_evr(a)
    eb, vb, rb = split_evr(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return compare_part(va, vb) or compare_part(ra, rb)


def compare_rpm_evr(a, b):
    return _compare_evr(a, b, rpmvercmp)


def _dpkg_order(c):
    if c == "~":
        return -1
    if c.isalpha():
        return ord(c)
    return ord(c) + 256


def _dpkg_part(a, b):
    """dpkg's verrevcmp for one upstream version or revision."""
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _dpkg_order(a[i]) if i < len(a) and not a[i].isdigit() else 0
            bc = _dpkg_order(b[j]) if j < len(b) and not b[j].isdigit() else 0
            if ac != bc:
                return -1 if ac < bc else 1
            i += 1
            j += 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first_diff:
            return -1 if first_diff < 0 else 1
    return 0


def compare_deb(a, b):
    """dpkg --compare-versions a lt/eq/gt b, as -1/0/1."""
    return _compare_evr(a, b, _dpkg_part)
