"""The compliance callback's end of run, with a real SQLite store and real files: which hosts are
reported, trend and first-seen dates from the store, queries, and errors that stay warnings."""
import json
import os

import pytest
import yaml
from ansible.executor.stats import AggregateStats

from ansible_collections.fleetpatch.patching.plugins.callback import compliance

from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import assemble
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import query
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import run

from test_report_model import FACTS, RUN, record, update

OPTIONS = {"formats": ["json", "csv", "markdown"], "file_mode": "0600", "trend_runs": 30}


def observations(**hosts):
    result = {}
    for name, facts in hosts.items():
        result[name] = model.HostObservations(name)
        result[name].observe(FACTS, {"ansible_facts": {"fleetpatch": facts}}, "Assess")
    return result


def document(files):
    with open(files["json"]) as handle:
        return json.load(handle)


def finish(tmp_path, obs, run_id, stats=None, store=True, **options):
    opts = dict(OPTIONS, report_dir=str(tmp_path / "reports"), store=str(tmp_path / "h.sqlite") if store else "none")
    opts.update(options)
    return run.finish(dict(RUN, run_id=run_id), obs, set(obs), {"a": "test"}, stats, opts)


def test_nothing_is_written_when_fleetpatch_did_nothing(tmp_path):
    assert run.finish(RUN, {}, set(), {}, None, dict(OPTIONS, report_dir=str(tmp_path))) == (None, {}, [])
    assert os.listdir(tmp_path) == []


def test_reports_and_the_store_carry_trend_and_first_seen_across_runs(tmp_path):
    first = record(update("x"))
    report1, files, problems = finish(tmp_path, observations(a=first), "r1")
    assert problems == [] and sorted(files) == ["csv", "json", "markdown"]
    # finish() returns the hosts' briefs (what the summary and counts read: report.json has the rest)
    assert report1["hosts"][0]["ring"] == "test" and "updates" not in report1["hosts"][0]
    later = record(dict(update("x"), first_seen="2026-11-20"))       # the host's own state was wiped
    report2, files2 = finish(tmp_path, observations(a=later), "r2")[:2]
    assert [p["run_id"] for p in report2["trend"]] == ["r1", "r2"]
    assert document(files2)["hosts"][0]["updates"][0]["first_seen"] == "2026-11-01"
    whole = document(files)
    assert [dict((k, h[k]) for k in assemble.BRIEF_FIELDS) for h in whole["hosts"]] == [
        dict((k, v) for k, v in h.items() if k != "changes_count") for h in report1["hosts"]]
    assert dict(whole, hosts=None) == dict(report1, hosts=None)


def test_failed_and_unreachable_hosts_are_reported_but_not_the_controller(tmp_path):
    stats = AggregateStats()
    stats.increment("dark", "gone")
    stats.increment("failures", "broken")
    stats.increment("failures", "localhost")       # a closed gate fails on the controller
    report = finish(tmp_path, observations(a=record()), "r1", stats=stats, store=False)[0]
    assert dict((h["host"], h["status"]) for h in report["hosts"]) == {
        "a": "compliant", "broken": "failed", "gone": "unreachable"}


def test_the_store_keeps_the_days_asked_for(tmp_path):
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore
    old = dict(RUN, run_id="old", started_at="2025-01-01T10:00:00Z", ended_at="2025-01-01T10:05:00Z")
    with HistoryStore.open(str(tmp_path / "h.sqlite")) as store:
        store.append_run(model.build_report(old, [model.host_entry(observations(a=record())["a"])]))
    finish(tmp_path, observations(a=record()), "kept-all")
    with HistoryStore.open(str(tmp_path / "h.sqlite")) as store:
        assert [r["run_id"] for r in store.runs()] == ["old", "kept-all"]
    problems = finish(tmp_path, observations(a=record()), "pruning", store_keep_days=30)[2]
    assert problems == []
    with HistoryStore.open(str(tmp_path / "h.sqlite")) as store:
        assert sorted(r["run_id"] for r in store.runs()) == ["kept-all", "pruning"]


def test_a_broken_store_is_a_problem_not_a_lost_report(tmp_path):
    (tmp_path / "h.sqlite").write_text("this is not a database")
    report, files, problems = finish(tmp_path, observations(a=record()), "r1", formats=["json", "pdf"])
    assert report is not None and os.path.exists(files["json"])
    assert any("history store" in p for p in problems), problems
    assert any("pdf" in p for p in problems), problems


def test_a_store_problem_is_written_in_the_report_files_not_only_on_stdout(tmp_path):
    """Issue 15: a store that could not be opened, or did not take the run, was said only on the
    terminal; report.json and report.md claimed nothing was wrong."""
    (tmp_path / "h.sqlite").write_text("this is not a database")
    files = finish(tmp_path, observations(a=record()), "unopened")[1]
    with open(files["json"]) as handle:
        said = json.load(handle)["run"]["problems"]
    assert len(said) == 1 and said[0].startswith("the history store is not used for this run"), said
    with open(files["markdown"]) as handle:
        assert "**Not recorded as asked**: the history store is not used" in handle.read()


def test_a_run_the_store_refused_is_said_in_report_json_written_before_the_append(tmp_path):
    import sqlite3
    finish(tmp_path, observations(a=record()), "r1")
    with sqlite3.connect(str(tmp_path / "h.sqlite")) as db:   # a real SQLite failure inside the append
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON runs BEGIN SELECT RAISE(ABORT, 'simulated I/O error'); END")
    report, files, problems = finish(tmp_path, observations(a=record()), "r2")
    assert len(problems) == 1 and "not added to the history store" in problems[0], problems
    assert "simulated I/O error" in problems[0]
    with open(files["json"]) as handle:
        assert json.load(handle)["run"]["problems"] == problems
    with open(files["markdown"]) as handle:
        assert "not added to the history store" in handle.read()
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import dashboard_html as _render_html
    assert 'role="alert">Not recorded as asked: the run was not added' in _render_html.render(report)


def test_queries_select_hosts_and_recompute_the_summary(tmp_path):
    report = document(finish(tmp_path, observations(a=record(update("x")), b=record()), "r1", store=False)[1])
    narrowed = query.narrowed(report, "[?status=='non_compliant']")
    assert [h["host"] for h in narrowed["hosts"]] == ["a"] and narrowed["summary"]["hosts"] == 1
    with pytest.raises(query.ReportQueryError, match="invalid JMESPath"):
        query.narrowed(report, "[?status==")
    with pytest.raises(query.ReportQueryError, match="must select host entries"):
        query.narrowed(report, "[].host")


class Display(object):
    verbosity = 0

    def __init__(self):
        self.warnings, self.shown = [], []

    def warning(self, msg):
        self.warnings.append(msg)

    def display(self, msg, **kwargs):
        self.shown.append(msg)

    def v(self, msg):
        self.shown.append(msg)

    vvv = v


class Host(object):
    def __init__(self, name):
        self.name = name

    def get_name(self):
        return self.name


class Task(object):
    _role = None

    def __init__(self, action):
        self.action = self.resolved_action = action

    def get_name(self):
        return "Assess"


class Result(object):
    def __init__(self, host, action, payload):
        self._host, self._task, self._result = Host(host), Task(action), payload


def callback(tmp_path, report_dir):
    plugin = compliance.CallbackModule(display=Display())
    # The documented defaults, as Ansible's config manager would give them (the integration tests
    # set them through the environment).
    documented = yaml.safe_load(compliance.DOCUMENTATION)["options"]
    plugin._plugin_options = dict((k, v.get("default")) for k, v in documented.items())
    plugin._plugin_options.update(report_dir=str(report_dir), store=str(tmp_path / "h.sqlite"))
    plugin._run_id = "cb1"
    plugin.v2_runner_on_ok(Result("a", FACTS, {"ansible_facts": {"fleetpatch": record(update("x"))}}))
    return plugin


def test_the_callback_writes_and_prints_its_summary(tmp_path):
    plugin = callback(tmp_path, tmp_path / "reports")
    plugin.v2_playbook_on_stats(AggregateStats())
    assert plugin._display.warnings == []
    assert any("## fleetpatch compliance" in text for text in plugin._display.shown)
    assert os.path.exists(tmp_path / "reports" / "cb1" / "report.html")
    assert sorted(os.listdir(tmp_path / "reports")) == ["cb1", "latest"]     # the spill file is gone


def test_the_callback_prunes_the_store_with_its_keep_days_option(tmp_path):
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore
    old = dict(RUN, run_id="old", started_at="2025-01-01T10:00:00Z", ended_at="2025-01-01T10:05:00Z")
    with HistoryStore.open(str(tmp_path / "h.sqlite")) as store:
        store.append_run(model.build_report(old, [model.host_entry(observations(a=record())["a"])]))
    plugin = callback(tmp_path, tmp_path / "reports")
    assert plugin.get_option("store_keep_days") == 0          # documented default: keep everything
    plugin._plugin_options["store_keep_days"] = 30
    plugin.v2_playbook_on_stats(AggregateStats())
    assert plugin._display.warnings == []
    with HistoryStore.open(str(tmp_path / "h.sqlite")) as store:
        assert [r["run_id"] for r in store.runs()] == ["cb1"]


def test_the_callback_turns_its_own_errors_into_warnings(tmp_path):
    (tmp_path / "not-a-dir").write_text("")
    plugin = callback(tmp_path, tmp_path / "not-a-dir")
    plugin.v2_runner_on_ok(Result("a", FACTS, {"results": "not a list"}))
    plugin.v2_playbook_on_stats(AggregateStats())          # must not raise
    # No spill file beside the report either: the updates stayed in memory, and it said so.
    assert len(plugin._display.warnings) == 2 and "no spill file" in plugin._display.warnings[0]
    assert "could not write the report" in plugin._display.warnings[1]
