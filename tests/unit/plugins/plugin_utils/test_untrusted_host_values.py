"""The controller trusts no host: bad values from one host become "unknown" or null with a warning
naming the host and field, time is the controller's, and no host's data can break the report, the
history store (real SQLite) or the compliance groups for the others."""
import csv
import datetime
import io
import json
import os

import jsonschema
import pytest

from host_updates import CONTROLLER_NOW, FACTS, RUN, record, update

from ansible_collections.fleetpatch.patching.plugins.plugin_utils._inventory import compliance_groups as rules
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import hosts_csv as _render_csv
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import dashboard_html as _render_html
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import markdown_summary as _render_markdown
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import files as _report_files
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SCHEMA = json.load(open(os.path.join(REPO, "docs", "schemas", "compliance_report.schema.json")))


def entry(host, rec):
    obs = model.HostObservations(host, clock=lambda: CONTROLLER_NOW)
    obs.observe(FACTS, {"ansible_facts": {"fleetpatch": rec}}, "Assess")
    return model.host_entry(obs)


def report_of(*entries):
    return model.build_report(RUN, list(entries))


def test_bad_enums_and_dates_become_unknown_and_null_with_a_warning_naming_host_and_field():
    bad = entry("bad1", record(update("fp-a", severity="urgent!", classification="hotfix", decision="maybe",
                                      sla_due="2026-02-30", issued="yesterday", first_seen="2026-13-01")))
    good = entry("good1", record(update("fp-a")))
    report = report_of(bad, good)
    jsonschema.validate(report, SCHEMA)
    (upd,) = bad["updates"]
    assert (upd["severity"], upd["classification"], upd["decision"]) == ("unknown", "unknown", "approved")
    assert (upd["sla_due"], upd["issued"], upd["first_seen"]) == (None, None, None)
    assert upd["state"] == "missing"          # an unreadable decision never hides an update
    warnings = "\n".join(bad["data_warnings"])
    for field, value in (("severity", "urgent!"), ("classification", "hotfix"), ("decision", "maybe"),
                         ("sla_due", "2026-02-30"), ("issued", "yesterday"), ("first_seen", "2026-13-01")):
        assert "update fp-a: %s %r is not valid" % (field, value) in warnings, field
    # the other host is untouched, and the counts include the unknown severity
    assert good["data_warnings"] == [] and good["updates"][0]["severity"] == "important"
    assert report["summary"]["missing_by_severity"] == {"critical": 0, "important": 1, "moderate": 0, "low": 0,
                                                        "unknown": 1}
    assert report["summary"]["missing_by_classification"]["unknown"] == 1


def test_sla_breaches_are_decided_by_the_controllers_date_not_the_hosts_word():
    # The host says "not breached" for a date already past, and "breached" for one in the future.
    host = entry("h", record(update("late", sla_due="2026-11-20", sla_breached=False),
                             update("early", sla_due="2026-12-20", sla_breached=True)))
    breached = dict((u["name"], u["sla_breached"]) for u in host["updates"])
    assert breached == {"late": True, "early": False}
    assert host["counts"]["sla_breached"] == 1


def test_a_host_clock_off_does_not_date_its_own_assessment():
    host = entry("skewed", record(collected_at="2019-01-01T00:00:00Z"))
    assert host["assessed_at"] == CONTROLLER_NOW
    assert host["host_clock"] == "2019-01-01T00:00:00Z"
    assert any("clock is" in w and "behind" in w for w in host["data_warnings"])
    assert entry("fine", record())["data_warnings"] == []


def test_warnings_are_capped_per_host():
    host = entry("noisy", record(*[update("p%03d" % i, severity="x%d" % i) for i in range(50)]))
    assert len(host["data_warnings"]) == 21 and host["data_warnings"][-1] == "... and 30 more value(s) not valid"
    jsonschema.validate(report_of(host), SCHEMA)


def test_no_hosts_is_not_100_percent_compliant():
    report = report_of()
    jsonschema.validate(report, SCHEMA)
    assert report["summary"]["compliant_percent"] is None
    assert "0 hosts, **no hosts**" in _render_markdown.render(report)
    assert "no hosts" in _render_html.render(report)


def test_a_lone_surrogate_or_nul_loses_nothing(tmp_path):
    host = entry("h\ud800", record(update("fp-\ud83d", title="t\x00itle"), distribution="Deb\udfffian"))
    report = report_of(host)
    report["run"]["gates"] = [{"ring": "test", "passed": False, "message": "bad \udc80 message", "hosts": 1,
                               "succeeded": 0, "rolled_back": 0, "failed": 1, "unreachable": 0}]
    files = _report_files.write_reports(report, str(tmp_path), mode=0o600, link_latest=False)
    assert set(files) == set(_report_files.FORMATS)
    written = json.load(open(files["json"], encoding="utf-8"))
    assert written["hosts"][0]["updates"][0]["name"] == "fp-\ufffd"
    assert written["hosts"][0]["updates"][0]["title"] == "t\ufffditle"


def test_the_store_and_the_compliance_groups_survive_a_date_that_is_no_day(tmp_path):
    """A store written before the controller checked dates may hold 2026-02-30: reading SLA breaches
    used to fail for the whole fleet; now that row is skipped and the others stay."""
    report = report_of(entry("bad", record(update("a", sla_due="2026-11-01"))),
                       entry("good", record(update("b", sla_due="2026-11-10"))))
    report["hosts"][0]["updates"][0]["sla_due"] = "2026-02-30"      # as an older version stored it
    location = str(tmp_path / "store.sqlite")
    with HistoryStore.open(location) as store:
        store.append_run(report)
        now = datetime.datetime(2026, 11, 25, tzinfo=datetime.timezone.utc)
        breaches = store.sla_breaches(now)
        counts = store.sla_breach_counts(now)
        snap = rules.snapshot(location, now, store.latest_hosts(), store.last_assessed(), counts)
    assert [(b["host"], b["days_overdue"]) for b in breaches] == [("good", 15)]
    assert counts == {"good": [1, "2026-11-10"]}
    states = rules.host_states(snap, ["bad", "good"], now, 7)
    assert "sla_breach" in states["good"].groups and "sla_breach" not in states["bad"].groups


BIDI = "fp-crypto\u202eexe.sh"


def test_bidi_controls_are_neutralised_in_html_csv_and_markdown():
    report = report_of(entry("h\u2066x", record(update(BIDI, title="a\u202bb"))))
    html_text = _render_html.render(report)
    csv_text = _render_csv.render(report)
    markdown = _render_markdown.render(report)
    for text in (html_text, csv_text, markdown):
        for control in ("\u202e", "\u202b", "\u2066"):
            assert control not in text
    assert "fp-cryptoexe.sh" in html_text and "fp-cryptoexe.sh" in csv_text


def test_csv_cells_are_capped_where_spreadsheets_stop_and_say_so():
    report = report_of(entry("h", record(update("fp-a"), update("fp-b"))))
    # Host values are capped on arrival; a failure message or a document from elsewhere is not.
    report["hosts"][0]["updates"][0]["title"] = "x" * 40000
    rows = list(csv.DictReader(io.StringIO(_render_csv.render(report))))
    title = dict((r["update"], r["title"]) for r in rows)
    assert len(title["fp-a"]) == _render_csv.CELL_CHARS
    assert title["fp-a"].endswith("the whole text is in report.json]") and "40000 characters" in title["fp-a"]
    assert title["fp-b"] == ""


@pytest.mark.parametrize("hostile, expected", [
    ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
    ("[click](https://evil.example/x)", "\\[click\\](https[:]//evil.example/x)"),
    ("![i](http://evil.example/i.png)", "\\!\\[i\\](http[:]//evil.example/i.png)"),
    ("visit www.evil.example", "visit www[.]evil.example"),
    ("a|b", "a\\|b"),
])
def test_markdown_escapes_html_and_defangs_links_and_images(hostile, expected):
    assert _render_markdown.cell(hostile) == expected


def test_markdown_cells_are_capped():
    assert len(_render_markdown.cell("y" * 5000)) == _render_markdown.CELL_CHARS


@pytest.mark.parametrize("status", model.HOST_STATUSES)
def test_every_status_a_record_may_have_is_kept(status):
    """The record's own vocabulary (host_patch_record.schema.json) passes as it is: a patched host
    waiting for its reboot was once taken as unknown."""
    host = entry("h", record(status=status))
    assert host["data_warnings"] == []
    schema = json.load(open(os.path.join(REPO, "docs", "schemas", "host_patch_record.schema.json")))
    assert set(schema["properties"]["status"]["enum"]) == set(model.HOST_STATUSES)


@pytest.mark.parametrize("changes", [
    {}, {"title": None, "arch": None, "installed_version": None}, {"title": "t" * 2000}, {"name": "fp-\ud800"},
    {"reason": "a\x00b"}, {"severity": "urgent"}, {"decision": None}, {"sla_due": "2026-02-30"}, {"issued": 20261101},
    {"name": 42}, {"cves": ["CVE-%d" % i for i in range(300)]}, {"advisories": "DSA-1"}, {"cves": [None]},
    {"issued": ["2026-11-01"]}, {"first_seen": {"day": "2026-11-02"}}, {"severity": ["critical"]},
    {"classification": {"security": True}}, {"decision": ["approved"]},
])
def test_the_fast_check_passes_only_what_the_careful_one_leaves_unchanged(changes):
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils import _host_values
    value = dict(update("fp-a"), title="x")
    value.update(changes)
    values = _host_values.HostValues("h", "2026-11-25")
    for day in ("2026-11-01", "2026-11-02", "2026-12-01"):     # the memo of known dates, as after a first update
        values.date("", "warm", day)
    careful = dict(value)
    values._check_each(careful)
    fast = values._plainly_valid(dict(value))
    if fast:                           # sound: what it passes, the careful check leaves as it is
        assert careful == value, changes
    # and used: a valid update, absent texts included, takes the fast way
    assert fast == (len(changes) != 1 or "title" in changes and len(changes["title"]) <= 1024), changes


def test_the_advisory_feed_and_the_values_not_taken_are_shown_on_the_host():
    """A host's advisory feed (apt hosts, issue 19) is in report.json as checked on arrival, and
    the HTML says which data explained its updates or why none did; the values the controller
    could not take from a host are listed on that host, not only in report.json."""
    feed = {"source": ["https://security-tracker.debian.org/tracker/data/json"], "cache_dir": "/c", "index": "/c/i",
            "loaded_at": "2026-11-25T07:00:00Z", "age_seconds": 10800, "entries": 10, "advisories": 2,
            "release": "bookworm", "left_out": {}, "joined": 3, "without_source": 0, "warning": None}
    used = entry("fed", record(update("fp-a"), advisory_feed=feed))
    unused = entry("stale", record(update("fp-a"), advisory_feed=dict(
        feed, joined=0, warning="the feed is 9 days old (max_age 7 days) <script>")))
    garbled = entry("garbled", record(update("fp-a", severity="urgent!")))
    other = entry("rpm", record(update("fp-a"), pkg_mgr="dnf"))
    report = report_of(used, unused, garbled, other)
    jsonschema.validate(report, SCHEMA)
    assert used["advisory_feed"] == {"source": feed["source"], "release": "bookworm", "loaded_at": "2026-11-25T07:00:00Z",
                                     "age_seconds": 10800, "joined": 3, "warning": None}
    assert other["advisory_feed"] is None
    page = _render_html.render(report)
    assert "<b>Advisory data:</b> json bookworm, loaded 2026-11-25T07:00:00Z (3 h old); 3 update(s)" in page
    assert "<b>Advisory data not used:</b> the feed is 9 days old (max_age 7 days) &lt;script&gt;." in page
    assert "could not use (1):</b> update fp-a: severity &#x27;urgent!&#x27; is not valid" in page


@pytest.mark.parametrize("bad", [
    {"issued": ["2026-11-01"]}, {"first_seen": {"day": "2026-11-02"}}, {"sla_due": [2026, 12, 1]},
    {"severity": ["critical"]}, {"classification": {"security": True}}, {"decision": ["approved"]},
])
def test_a_list_or_a_mapping_where_a_word_or_date_belongs_does_not_break_the_report(bad):
    """Such a value is unhashable: it once raised TypeError out of the fast check, and the callback
    then wrote no report at all, for any host."""
    broken = entry("broken", record(update("a", **bad)))
    fine = entry("fine", record(update("b")))
    field, value = next(iter(bad.items()))
    assert broken["updates"][0][field] in (None, "unknown", "approved")
    assert any(field in warning for warning in broken["data_warnings"]), broken["data_warnings"]
    assert fine["updates"][0]["severity"] == "important" and not fine["data_warnings"]
    jsonschema.validate(report_of(broken, fine), SCHEMA)


def test_dates_a_host_has_not_sent_before_take_the_fast_way():
    """perf: a valid update with dates new to this host is decided by the fast check, which checks
    each new date once (93 % of a synthetic fleet's updates went the careful way for that alone)."""
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils import _host_values
    values = _host_values.HostValues("h", "2026-11-25")
    fresh = dict(update("fp-a"), title="x", issued="2026-10-03", first_seen="2026-10-04T08:00:00Z",
                 sla_due="2026-12-24")
    assert values._plainly_valid(dict(fresh))
    assert not values._plainly_valid(dict(fresh, issued="2026-02-30"))      # no such day: the careful way
