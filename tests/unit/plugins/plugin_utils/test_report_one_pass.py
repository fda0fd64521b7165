"""The one pass (issue 17 item 5): the views and the fleet state's figures of the run's hosts,
gathered as the callback assembles each host's entry (_report/assemble.py), are what the same
functions compute from a plain report document holding the same hosts: rolled-back hosts, hosts
never assessed, SLA dates on the edges of "overdue" and "due soon", and dates that are none."""
import copy
import datetime
import json

import pytest

import report_golden
import synthetic_report
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import assemble as _report_assemble
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import fleet_view as _fleet_view
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import spill as _report_spill
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import views as _report_views
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore, HistoryStoreError

RUN = dict(report_golden.RUN, run_id="one-pass")         # ended 2026-11-25T10:05:00Z
NOW = datetime.datetime(2026, 11, 25, 10, 6, tzinfo=datetime.timezone.utc)
# Around the run's day (2026-11-25) and SLA_SOON_DAYS (3): overdue by one day, due today, due in
# three days (still "soon"), in four (not), a date with a time, a day no calendar has, no date.
EDGE_DUES = ("2026-11-24", "2026-11-25", "2026-11-28", "2026-11-29", "2026-11-24T23:59:59Z", "2026-02-30", "soon")


def entries(seed=3):
    """Synthetic host entries (a few rolled back, failed, unreachable), a host whose open updates
    fall on the SLA edges, and a host never assessed (unreachable before any record)."""
    built = synthetic_report.host_entries(80, 12, True, seed)
    assert any(e["rolled_back"] for e in built) and any(e["status"] == "unreachable" for e in built)
    edges = copy.deepcopy(next(e for e in built if e["assessed_at"] and len(e["updates"]) >= len(EDGE_DUES)))
    edges["host"] = "host-edges.example.com"
    for update, due in zip(edges["updates"], EDGE_DUES):
        update.update(state="missing", decision="approved", sla_due=due)
    never = model.HostObservations("host-never.example.com")
    never.observe("ansible.builtin.ping", {"msg": "Failed to connect to the host via ssh"}, "ping", False, True)
    never_entry = model.host_entry(never)
    assert never_entry["assessed_at"] is None
    return sorted(built + [edges, never_entry], key=lambda e: e["host"])


def assembled(tmp_path, hosts, run=None, run_hosts=None, order=None):
    """(spill, the report as the callback assembles it, the same report as a plain document)."""
    run = run or RUN
    spill = _report_spill.Spill.create(str(tmp_path), run["run_id"])
    assembly = _report_assemble.Assembly(spill, run["ended_at"], run_hosts)
    for entry in order or hosts:
        assembly.add(entry)
    return spill, assembly.report(run), model.build_report(run, json.loads(json.dumps(hosts)))


def gathered_views(report):
    return getattr(report["hosts"], _report_views.OnePass.ATTRIBUTE, None)


def test_the_views_gathered_in_the_one_pass_are_those_of_the_document(tmp_path):
    hosts = entries()
    run = dict(RUN, gates=[{"ring": "test", "passed": True, "manifest": {"apt": {"fp-crypto": "1.0-2"}}}])
    spill, report, plain = assembled(tmp_path, hosts, run)
    try:
        gathered = gathered_views(report)
        assert gathered is not None and gathered_views(plain) is None
        # the view functions return what was gathered, and it is what the document gives
        assert _report_views.by_update(report) is gathered.by_update.rows()
        assert _report_views.by_update(report) == _report_views.by_update(plain)
        assert _report_views.sla(report) is gathered.sla.result()
        assert _report_views.sla(report) == _report_views.sla(plain)
        assert _report_views.run_changes(report) == _report_views.run_changes(plain)
        # ... and it is not empty: what would hide a difference
        edges = _report_views.sla({"run": run, "hosts": [h for h in hosts if h["host"] == "host-edges.example.com"]})
        assert sorted((r["sla_due"], r["days"]) for r in edges["overdue"] + edges["due_soon"]) == [
            ("2026-11-24", 1), ("2026-11-24", 1), ("2026-11-25", 0), ("2026-11-28", 3)]
        changes = _report_views.run_changes(plain)
        assert changes["rolled_back"] and changes["installed"] and changes["failures_by_message"]
        assert changes["manifest"] == {"apt": {"fp-crypto": "1.0-2"}}
        assert any(r["sla_breached"] for r in _report_views.by_update(plain))
    finally:
        spill.remove()


def test_the_gathered_sla_view_is_only_that_of_its_day_and_bounds(tmp_path, monkeypatch):
    hosts = entries()
    spill, report, plain = assembled(tmp_path, hosts)
    try:
        gathered = gathered_views(report).sla.result()
        # another number of days "soon": computed from the hosts
        assert _report_views.sla(report, 10) is not gathered
        assert _report_views.sla(report, 10) == _report_views.sla(plain, 10) != gathered
        # the run's day changed since (a report drawn again): from the hosts, as of that day
        later = dict(report, run=dict(report["run"], ended_at="2026-11-27T00:00:00Z"))
        assert _report_views.sla(later) == _report_views.sla(dict(plain, run=later["run"])) != gathered
        # fewer rows asked for than were kept
        monkeypatch.setattr(_report_views, "SLA_ROWS", 5)
        assert _report_views.sla(dict(report)) == _report_views.sla(dict(plain))
        assert len(_report_views.sla(dict(report))["overdue"]) == 5
    finally:
        spill.remove()


def test_entries_added_out_of_order_are_read_back_for_the_views(tmp_path):
    hosts = entries()
    spill, report, plain = assembled(tmp_path, hosts, order=list(reversed(hosts)))
    try:
        assert gathered_views(report) is None
        assert _report_views.by_update(report) == _report_views.by_update(plain)
        assert _report_views.sla(report) == _report_views.sla(plain)
    finally:
        spill.remove()


def test_the_views_of_a_plain_document_in_any_order():
    hosts = entries()
    plain = {"run": dict(RUN), "hosts": list(reversed(hosts)) + hosts[:3]}    # unsorted, three hosts twice
    ordered = {"run": dict(RUN), "hosts": hosts}
    lists = ("packages", "cves", "missing", "failed", "installed", "held", "sla_breached")

    def hosts_of(rows):     # (a row's title and classification are its first update's: they follow the order)
        return dict(((r["kind"], r["id"]), [r["severity"], r["earliest_due"]] + [r[key] for key in lists])
                    for r in rows)
    rows = _report_views.by_update(plain)
    assert hosts_of(rows) == hosts_of(_report_views.by_update(ordered))
    assert all(row[key] == sorted(set(row[key])) for row in rows for key in lists)
    assert _report_views.sla(plain)["overdue"] == _report_views.sla(ordered)["overdue"]
    assert _report_views.run_changes({"hosts": hosts})["manifest"] == {}


def history(path):
    """A store with an earlier run of the same host names (another seed: updates came and went)."""
    earlier = dict(RUN, run_id="earlier", started_at="2026-11-18T10:00:00Z", ended_at="2026-11-18T10:05:00Z",
                   gates=[])
    with HistoryStore.open(path) as store:
        store.append_run(model.build_report(earlier, synthetic_report.host_entries(80, 12, True, 4)))


def run_hosts(store, hosts, today="2026-11-25"):
    gathering = _fleet_view.RunHosts(today, RUN["started_at"])
    gathering.read_previous(store, [h["host"] for h in hosts])
    return gathering


def test_the_fleet_states_figures_gathered_in_the_one_pass_are_those_of_the_document(tmp_path, monkeypatch):
    path = str(tmp_path / "h.sqlite")
    history(path)
    hosts = entries()
    inventory = [h["host"] for h in hosts] + ["host-new.example.com"]
    with HistoryStore.open(path) as store:
        spill, report, plain = assembled(tmp_path, hosts, run_hosts=run_hosts(store, hosts))
        try:
            expected = _fleet_view.fleet_state(store, plain, inventory, NOW)
            read = []
            monkeypatch.setattr(store, "previous_open_updates", lambda *args: read.append(args))
            assert _fleet_view.fleet_state(store, report, inventory, NOW) == expected
            assert read == []       # the gathered figures, not the store's rows again
            # a clock past midnight since: the breaches as of that day, from the hosts
            monkeypatch.undo()
            tomorrow = NOW + datetime.timedelta(days=1)
            assert (_fleet_view.fleet_state(store, report, inventory, tomorrow)
                    == _fleet_view.fleet_state(store, plain, inventory, tomorrow))
        finally:
            spill.remove()
    since = expected["since_previous"]
    assert since["new"] > 0 and since["resolved"] > 0
    breached = dict((h["host"], h["sla_breached"]) for h in expected["hosts"])
    assert breached["host-edges.example.com"] >= 2 and breached["host-never.example.com"] == 0


def test_a_store_that_fails_to_give_earlier_assessments_leaves_the_fleet_state_out(tmp_path, monkeypatch):
    path = str(tmp_path / "h.sqlite")
    history(path)
    hosts = entries()
    with HistoryStore.open(path) as store:
        def refuse(*args):
            raise HistoryStoreError("Failed to read earlier assessments from history store x: refused", path)
        monkeypatch.setattr(store, "previous_open_updates", refuse)
        gathering = run_hosts(store, hosts)
        spill, report, plain = assembled(tmp_path, hosts, run_hosts=gathering)
        try:
            with pytest.raises(HistoryStoreError, match="refused"):
                _fleet_view.fleet_state(store, report, [], NOW)
            with pytest.raises(HistoryStoreError, match="refused"):
                _fleet_view.fleet_state(store, plain, [], NOW)
        finally:
            spill.remove()


def test_the_callbacks_end_of_run_says_the_fleet_state_is_missing_and_still_stores_the_run(tmp_path, monkeypatch):
    from test_report_run import finish, observations
    from test_report_model import record, update
    finish(tmp_path, observations(a=record(update("x"))), "r1")

    def refuse(self, *args):
        raise HistoryStoreError("Failed to read earlier assessments from history store x: refused", "x")
    monkeypatch.setattr(HistoryStore, "previous_open_updates", refuse)
    report, files, problems = finish(tmp_path, observations(a=record(update("x"))), "r2")
    assert problems == ["the fleet's known state is not in this report: "
                        "Failed to read earlier assessments from history store x: refused"]
    assert "fleet" not in report
    with HistoryStore.open(str(tmp_path / "h.sqlite")) as store:
        assert [r["run_id"] for r in store.runs()] == ["r1", "r2"]
