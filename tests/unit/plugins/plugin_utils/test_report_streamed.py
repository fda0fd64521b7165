"""The end of a run read from the spill file (issue 21): the same report files as the in-memory end of
run wrote, byte for byte, for a run of 300 synthetic hosts; the spill file gone afterwards; the
history store fed host by host; the dashboard's host list and the SLA rows bounded whatever the fleet."""
import base64
import json
import os
import zlib

import pytest

import report_golden
import synthetic_report
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import dashboard_html as _render_html
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import markdown_summary as _render_md
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import assemble as _report_assemble
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import spill as _report_spill
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import views as _report_views
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store import document
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store import history

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "report_golden.json")


@pytest.fixture(scope="module")
def golden():
    with open(GOLDEN) as handle:
        return json.load(handle)["files"]


@pytest.mark.parametrize("callback_spill", [True, False], ids=["callback-spill", "end-of-run-spill"])
def test_the_report_files_are_those_the_in_memory_end_of_run_wrote(tmp_path, golden, callback_spill):
    # callback-spill: the observations' updates were spilled as they arrived (as the callback does);
    # end-of-run-spill: they stayed in memory (no spill file during the run) and finish() made one.
    files = report_golden.run_files(str(tmp_path), with_spill=callback_spill)
    assert report_golden.digests(files) == golden
    left = sorted(os.listdir(str(tmp_path / "reports")))
    assert left == ["golden-0", "golden-1", "latest"]        # no spill file stays


def spilled(tmp_path, entries, run):
    spill = _report_spill.Spill.create(str(tmp_path), run["run_id"])
    assembly = _report_assemble.Assembly(spill, run["ended_at"])
    for entry in sorted(entries, key=lambda e: e["host"]):
        assembly.add(entry)
    return spill, assembly.report(run)


def test_a_spilled_report_is_the_in_memory_report(tmp_path):
    entries = synthetic_report.host_entries(40, 6, True, 3)
    run = dict(report_golden.RUN, run_id="s1")
    whole = model.build_report(run, json.loads(json.dumps(entries)))
    spill, report = spilled(tmp_path, entries, run)
    try:
        assert dict(report, hosts=None) == dict(whole, hosts=None)
        assert list(report["hosts"]) == whole["hosts"] and len(report["hosts"]) == 40
        assert [json.loads(text) for text in report["hosts"].texts()] == whole["hosts"]
        assert [h["host"] for h in report["hosts"].briefs] == [h["host"] for h in whole["hosts"]]
        assert [sorted(h) for h in report["hosts"].briefs] == [sorted(_report_assemble.BRIEF_FIELDS + ("changes_count",))] * 40
    finally:
        spill.remove()
    assert not os.path.exists(spill.path)
    spill.remove()      # twice is harmless


def test_the_store_takes_a_spilled_report_host_by_host(tmp_path):
    entries = synthetic_report.host_entries(250, 8, False, 4)     # more hosts than a row batch
    run = dict(report_golden.RUN, run_id="s2")
    spill, report = spilled(tmp_path, entries, run)
    try:
        with history.HistoryStore.open(str(tmp_path / "h.sqlite")) as store:
            store.append_run(report, document=json.dumps(model.build_report(run, entries)))
            assert [h["host"] for h in store.latest_hosts()] == sorted(e["host"] for e in entries)
            stored = store._db.query("SELECT COUNT(*) FROM updates WHERE run_id = 's2'")[0][0]
            assert stored == sum(len(e["updates"]) for e in entries)
    finally:
        spill.remove()


def test_the_stores_copy_of_report_json_is_packed_a_piece_at_a_time(tmp_path):
    path = tmp_path / "report.json"
    text = "".join('{"host":"h%05d","updates":[]},' % n for n in range(5000)).encode("utf-8")
    path.write_bytes(text)
    for chunk_size in (1, 7, 1000, 1 << 20):
        for piece_chars in (4, 100, 1 << 22):
            pieces = list(document.pack_chunks(document.file_chunks(str(path), chunk_size), piece_chars))
            assert all(len(piece) == piece_chars for piece in pieces[:-1]) and 0 < len(pieces[-1]) <= piece_chars
            assert zlib.decompress(base64.b64decode("".join(pieces))) == text
            # what runs.report held whole before migration 5, cut into the same pieces
            assert list(document.pieces_of("zlib+base64:" + "".join(pieces), piece_chars)) == pieces


def test_the_callbacks_observations_leave_memory_and_come_back_whole(tmp_path):
    obs = model.HostObservations("h1", clock=lambda: "2026-11-25T10:01:00Z")
    facts = {"ansible_facts": {"fleetpatch": {"updates": [{"name": "a", "available_version": "2"}],
                                              "collected_at": "2026-11-25T10:00:00Z"}}}
    obs.observe("fleetpatch.patching.patch_facts", facts)
    obs.observe("fleetpatch.patching.patch_apply", {"changes": [{"name": "a", "before": "1", "after": "2"}],
                                                    "record": {"updates": [], "collected_at": "2026-11-25T10:02:00Z"}})
    expected = model.host_entry(obs)
    obs = model.HostObservations("h1", clock=lambda: "2026-11-25T10:01:00Z")
    spill = _report_spill.Spill.create(str(tmp_path), "r")
    try:
        obs.observe("fleetpatch.patching.patch_facts", facts)
        spill.stash(obs)
        assert isinstance(obs.updates, _report_spill.Spilled)
        obs.observe("fleetpatch.patching.patch_apply", {"changes": [{"name": "a", "before": "1", "after": "2"}],
                                                        "record": {"updates": [], "collected_at": "2026-11-25T10:02:00Z"}})
        spill.stash(obs)
        assert isinstance(obs.changes, _report_spill.Spilled) and obs.updates == []
        assert all(isinstance(u, _report_spill.Spilled) for u in obs.earlier_updates)
        assert model.host_entry(spill.restored(obs)) == expected
        assert model.host_entry(spill.restored(obs)) == expected      # the observations keep their markers
    finally:
        spill.remove()


def test_the_dashboard_details_the_worst_hosts_and_lists_a_bounded_number(monkeypatch):
    monkeypatch.setattr(_render_html, "DETAILED_HOSTS", 5)
    monkeypatch.setattr(_render_html, "LISTED_HOSTS", 8)
    report = synthetic_report.build(hosts=12, updates=4)
    page = _render_html.render(report)
    assert page.count('<details class="host"') == 8
    assert page.count("Not detailed here (only the 5 worst hosts are)") == 3
    assert "This list shows the 5 worst hosts in detail, the next 3 as rows only." in page
    assert "The other 4 hosts are not listed here." in page
    assert "Hosts, worst first (12)" in page
    anchors = _render_html.host_anchors(report)
    assert sorted(anchors.values(), key=lambda a: int(a.split("-")[1])) == ["host-%d" % n for n in range(8)]


def test_a_small_fleets_dashboard_says_nothing_of_bounds():
    page = _render_html.render(synthetic_report.build(hosts=20, updates=4))
    assert "This list shows" not in page and "Not detailed here" not in page


def test_the_sla_view_keeps_the_most_urgent_rows_and_counts_all(monkeypatch):
    report = synthetic_report.build(hosts=60, updates=20)
    monkeypatch.setattr(_report_views, "SLA_ROWS", 10 ** 6)
    everything = _report_views.sla(dict(report))
    monkeypatch.setattr(_report_views, "SLA_ROWS", 7)
    bounded = _report_views.sla(dict(report))
    assert everything["overdue_count"] == len(everything["overdue"]) > 7
    assert bounded["overdue_count"] == everything["overdue_count"]
    assert bounded["overdue"] == everything["overdue"][:7]
    assert bounded["due_soon"] == everything["due_soon"][:7]
    assert bounded["by_severity"] == everything["by_severity"]
    assert "SLA: **%d overdue**" % everything["overdue_count"] in _render_md.render(dict(report))


def test_an_interrupted_run_draws_its_report_from_the_spill_file_then_the_final_one(tmp_path, monkeypatch):
    import signal
    from ansible.executor.stats import AggregateStats
    import test_report_run as harness
    plugin = harness.callback(tmp_path, tmp_path / "reports")      # one host observed, its updates spilled
    spill = plugin._spill
    assert os.path.exists(spill.path) and isinstance(plugin._hosts["a"].updates, _report_spill.Spilled)
    monkeypatch.setattr(signal, "signal", lambda signum, handler: None)   # the test's process keeps its handlers
    seen = []
    plugin._previous_handlers[signal.SIGTERM] = lambda signum, frame: seen.append(signum)
    plugin._on_signal(signal.SIGTERM, None)             # Ansible's own handler runs after the report
    assert seen == [signal.SIGTERM]
    with open(str(tmp_path / "reports" / "cb1" / "report.json")) as handle:
        aborted = json.load(handle)
    assert (aborted["run"]["status"], aborted["run"]["aborted_by"]) == ("aborted", "SIGTERM")
    assert [u["name"] for u in aborted["hosts"][0]["updates"]] == ["x"]
    assert os.path.exists(spill.path)                   # Ansible may still end the run
    plugin.v2_playbook_on_stats(AggregateStats())
    with open(str(tmp_path / "reports" / "cb1" / "report.json")) as handle:
        assert [u["name"] for u in json.load(handle)["hosts"][0]["updates"]] == ["x"]
    assert not os.path.exists(spill.path)
    assert plugin._display.warnings == []


def test_a_signal_that_ends_the_process_takes_the_spill_file_with_it(tmp_path, monkeypatch):
    import signal
    import test_report_run as harness
    plugin = harness.callback(tmp_path, tmp_path / "reports")
    killed = []
    monkeypatch.setattr(signal, "signal", lambda signum, handler: None)
    monkeypatch.setattr(os, "kill", lambda pid, signum: killed.append(signum))
    plugin._previous_handlers[signal.SIGTERM] = signal.SIG_DFL
    plugin._on_signal(signal.SIGTERM, None)
    assert killed == [signal.SIGTERM]
    assert os.path.exists(str(tmp_path / "reports" / "cb1" / "report.json"))
    assert not os.path.exists(plugin._spill.path)
