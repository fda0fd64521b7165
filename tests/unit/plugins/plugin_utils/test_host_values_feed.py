"""The record's advisory_feed as the controller checks it (_host_values.HostValues.advisory_feed):
the report shows its warning and its age, so what travels in a host's facts is checked as every
other value (docs/reporting.md, "What the controller checks")."""
import json
import os

import jsonschema
import pytest

from ansible_collections.fleetpatch.patching.plugins.plugin_utils import _host_values

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", ".."))
FEED_SCHEMA = json.load(open(os.path.join(REPO, "docs", "schemas", "host_patch_record.schema.json")))[
    "properties"]["advisory_feed"]

GOOD = {"source": ["https://usn.ubuntu.com/usn-db/database.json.bz2"], "cache_dir": "/home/ops/.cache/fleetpatch/advisory-feed",
        "index": "/home/ops/.cache/fleetpatch/advisory-feed/index-ubuntu-0123456789abcdef01234567.sqlite",
        "loaded_at": "2026-11-30T22:00:00Z", "age_seconds": 3600, "entries": 120000, "advisories": 7678,
        "release": "jammy", "left_out": {"without_releases": 1, "unusable": 0, "esm": 310}, "joined": 4,
        "without_source": 0, "warning": None}


def check(feed):
    values = _host_values.HostValues("web01", "2026-12-01")
    record = values.record({"pkg_mgr": "apt", "advisory_feed": feed}, received_at="2026-12-01T00:00:00Z")
    return record.get("advisory_feed"), values.summary()


def test_a_good_feed_is_kept_as_it_is():
    checked, warnings = check(dict(GOOD))
    assert checked == GOOD and warnings == []
    jsonschema.validate(checked, FEED_SCHEMA)


def test_the_unused_feeds_shape_is_kept():
    unused = {"source": ["/srv/feeds/tracker.json"], "cache_dir": None, "index": None, "loaded_at": None,
              "age_seconds": None, "entries": 0, "advisories": 0, "release": None,
              "warning": "Failed to fetch https://mirror/json: HTTP Error 404: Not Found"}
    checked, warnings = check(dict(unused))
    assert checked == unused and warnings == []


@pytest.mark.parametrize("field,bad,became", [
    ("age_seconds", -5, None), ("age_seconds", "an hour", None), ("age_seconds", True, None),
    ("joined", "4", 0), ("entries", 1.5, 0),
    ("loaded_at", "2026-02-30T00:00:00Z", None), ("loaded_at", 1764540000, None),
    ("warning", {"text": "x"}, None), ("release", 22.04, None),
    ("source", "https://usn.ubuntu.com/usn-db/database.json", []), ("source", [None], []),
    ("left_out", {"esm": -1}, {}), ("left_out", ["esm"], {}),
])
def test_a_bad_value_becomes_unknown_with_a_warning_naming_host_and_field(field, bad, became):
    checked, warnings = check(dict(GOOD, **{field: bad}))
    assert checked[field] == became
    assert len(warnings) == 1 and field in warnings[0] and "advisory_feed" in warnings[0]
    jsonschema.validate(dict(checked, **({"age_seconds": None} if field == "age_seconds" else {})), FEED_SCHEMA)


def test_text_is_capped_and_cleaned_and_unknown_fields_are_left_out():
    checked, warnings = check(dict(GOOD, warning="w\x00" + "x" * 5000, extra={"huge": "y" * 10 ** 6}))
    assert checked["warning"].startswith("w\ufffd") and len(checked["warning"]) == _host_values.TEXT_CHARS
    assert "extra" not in checked and warnings == []


def test_a_feed_that_is_not_an_object_is_dropped_with_a_warning():
    checked, warnings = check("stale")
    assert checked is None and warnings == ["advisory_feed 'stale' is not valid: ignored"]


def test_a_record_without_a_feed_gets_none():
    values = _host_values.HostValues("web01", "2026-12-01")
    assert "advisory_feed" not in values.record({"pkg_mgr": "dnf"}, received_at="2026-12-01T00:00:00Z")
