"""One name, one meaning: the shared vocabulary (_vocabulary) is defined once. This test reads
every plugin's source and fails when a vocabulary word is defined again: a name of the vocabulary
assigned, the stamp format or a ring group name written out, or a literal holding exactly one of
the vocabulary's sets (the severities, the open states...) or a rank table of one."""

import ast
import datetime
import os

import pytest

from ansible_collections.fleetpatch.patching.plugins.module_utils import _vocabulary as vocab

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
PLUGINS = os.path.join(ROOT, "plugins")
HOME = os.path.join("plugins", "module_utils", "_vocabulary.py")

# Names only _vocabulary may assign (and the older names of the same things).
NAMES = frozenset((
    "SEVERITIES", "SEVERITY_RANK", "SEVERITY_ORDER", "CLASSIFICATIONS", "CLASSIFICATION_RANK", "CLASS_RANK",
    "CLASSIFICATION_ORDER", "REPORTED_CLASSIFICATIONS", "DECISIONS", "HOST_STATUSES", "STATUS_ORDER", "STATUS_RANK",
    "OPEN_STATES", "HELD_STATES", "RING_VAR", "RING_GROUP_PREFIX", "EXCLUDED_RING_GROUP", "EXCLUDED_GROUP",
    "NOT_RING_GROUPS", "UTC_STAMP_FORMAT", "TIME_FORMAT"))
STRINGS = frozenset((vocab.UTC_STAMP_FORMAT, vocab.RING_GROUP_PREFIX, vocab.EXCLUDED_RING_GROUP))
SETS = dict((name, frozenset(getattr(vocab, name))) for name in (
    "SEVERITIES", "CLASSIFICATIONS", "REPORTED_CLASSIFICATIONS", "DECISIONS", "HOST_STATUSES", "OPEN_STATES",
    "HELD_STATES"))

# Files allowed to define a vocabulary word again, with the reason; empty: none is.
ALLOWED = {}


def python_files():
    for directory, _dirs, files in os.walk(PLUGINS):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                yield os.path.relpath(path, ROOT).replace(os.sep, "/"), path


def _strings(node):
    values = []
    for element in node:
        if not (isinstance(element, ast.Constant) and isinstance(element.value, str)):
            return None
        values.append(element.value)
    return frozenset(values)


def redefinitions(source):
    """{"name X" | "string S" | "set X" | "rank X"} the source defines again."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name) and name.id in NAMES:
                    found.add("name " + name.id)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in STRINGS:
            found.add("string " + node.value)
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            values = _strings(node.elts)
            found.update("set " + name for name, members in SETS.items() if values == members)
        if isinstance(node, ast.Dict) and None not in node.keys:
            keys = _strings(node.keys)
            ranks = [v.value for v in node.values if isinstance(v, ast.Constant)
                     and isinstance(v.value, int) and not isinstance(v.value, bool)]
            if keys and sorted(ranks) == list(range(len(keys))):
                found.update("rank " + name for name, members in SETS.items() if keys == members)
    return found


def test_the_vocabulary_is_defined_once():
    extra = {}
    for relative, path in python_files():
        if relative == HOME:
            continue
        with open(path, encoding="utf-8") as f:
            found = redefinitions(f.read()) - ALLOWED.get(relative, set())
        if found:
            extra[relative] = sorted(found)
    assert not extra, "import these from plugins/module_utils/_vocabulary.py instead: %s" % extra


@pytest.mark.parametrize("source, finding", [
    ('SEVERITIES = ("unknown", "low", "moderate", "important", "critical")', "name SEVERITIES"),
    ('x = [u for u in y if u["state"] in ("failed", "missing")]', "set OPEN_STATES"),
    ('RANK = {"other": 0, "enhancement": 1, "bugfix": 2, "security": 3}', "rank CLASSIFICATIONS"),
    ('stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")', "string %Y-%m-%dT%H:%M:%SZ"),
    ('group = "fleetpatch_ring_" + ring', "string fleetpatch_ring_"),
])
def test_the_check_finds_a_second_definition(source, finding):
    assert finding in redefinitions(source)


def test_a_mapping_by_severity_is_not_a_rank_table():
    assert not redefinitions('SLA = {"critical": 7, "important": 30, "moderate": 90, "low": 180, "unknown": 30}')


def test_orders_and_ranks_agree():
    assert vocab.SEVERITIES[0] == "critical" and vocab.SEVERITIES[-1] == vocab.UNKNOWN
    assert sorted(vocab.SEVERITY_RANK, key=vocab.SEVERITY_RANK.get) == list(vocab.SEVERITIES)
    assert sorted(vocab.CLASSIFICATION_RANK, key=vocab.CLASSIFICATION_RANK.get) == list(vocab.CLASSIFICATIONS)
    assert set(vocab.STATUS_ORDER) == set(vocab.HOST_STATUSES)
    assert vocab.STATUS_RANK["failed"] < vocab.STATUS_RANK["unknown"] < vocab.STATUS_RANK["compliant"]
    assert vocab.EXCLUDED_RING_GROUP.startswith(vocab.RING_GROUP_PREFIX)


def test_utc_stamp_writes_utc_whatever_the_zone():
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    assert vocab.utc_stamp(datetime.datetime(2026, 3, 1, 1, 30, 5, 999, tzinfo=plus_two)) == "2026-02-28T23:30:05Z"
    assert vocab.utc_stamp(datetime.datetime(2026, 3, 1, 1, 30, 5)) == "2026-03-01T01:30:05Z"
    assert vocab.parse_utc_stamp(vocab.utc_stamp()) <= datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    with pytest.raises(ValueError):
        vocab.parse_utc_stamp("2026-03-01 01:30:05")
