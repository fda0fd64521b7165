"""A run after an operator's first, through the real end of a run (_report/run.finish) and a real
SQLite store that holds the run before: the fleet state's reads of that earlier run are a batch of
hosts at a time (each host's previous open updates) or counted by the store per host (the SLA
breaches), never the fleet's rows at once, and its figures are those of the whole fleet. The class of
bug: at 10,000 hosts x 50 updates, the store's previous open updates and SLA breaches held one
object per update of the fleet and grew the end of the run's peak by 182 MiB
(bench/compliance_pipeline_bench.py --previous-runs 1)."""
import datetime
import json

import pytest

from host_updates import FACTS, RUN, record, update

from ansible_collections.fleetpatch.patching.plugins.plugin_utils._inventory import compliance_groups as rules
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import fleet_view
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import run as _report_run
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore

HOSTS = ["h%04d" % number for number in range(1234)]      # three batches of run.FIRST_SEEN_BATCH, the last short
PAST_DUE = "2026-11-01"         # before any day these tests run on: a breach
NOT_DUE = "2099-01-01"
FIRST = dict(RUN, run_id="first", started_at="2026-11-25T09:50:00Z", ended_at="2026-11-25T10:05:00Z")
SECOND = dict(RUN, run_id="second", started_at="2026-11-26T09:50:00Z", ended_at="2026-11-26T10:05:00Z")


def observations(updates_of):
    obs = {}
    for name in HOSTS:
        seen = obs[name] = model.HostObservations(name)
        seen.observe(FACTS, {"ansible_facts": {"fleetpatch": record(*updates_of(name))}}, "Assess")
    return obs


def first_updates(name):
    return [update("fp-a", sla_due=PAST_DUE), update("fp-b", sla_due=NOT_DUE)]


def second_updates(name):
    """Odd hosts installed fp-a; every host has a new fp-c."""
    kept = [update("fp-b", sla_due=NOT_DUE), update("fp-c", sla_due=NOT_DUE)]
    return kept if int(name[1:]) % 2 else [update("fp-a", sla_due=PAST_DUE)] + kept


def finish(tmp_path, run, updates_of, store=True):
    options = {"report_dir": str(tmp_path / "reports"), "store": str(tmp_path / "history.sqlite") if store else "none",
               "formats": ["json"]}
    report, files, problems = _report_run.finish(run, observations(updates_of), list(HOSTS), {}, None, options,
                                                 inventory_hosts=HOSTS)
    assert problems == [], problems
    return report, files


@pytest.fixture
def held(monkeypatch):
    """How many of the store's host entries latest_hosts() and last_assessed() gave the end of a run."""
    counts = {}
    for method in ("latest_hosts", "last_assessed"):
        real = getattr(HistoryStore, method)

        def counted(store, *args, _real=real, _method=method, **kwargs):
            result = _real(store, *args, **kwargs)
            counts[_method] = len(result)
            return result
        monkeypatch.setattr(HistoryStore, method, counted)
    return counts


def test_the_store_entries_of_the_runs_own_hosts_are_not_held(tmp_path, held):
    """The run replaces its hosts' latest entries and (assessed) last assessments: the store's are
    not read into memory (they were 2 KB a host, 100 MiB at 30,000 hosts). A host of the inventory
    the run did not touch still comes from the store."""
    finish(tmp_path, FIRST, first_updates)
    report = finish(tmp_path, SECOND, second_updates)[0]
    assert held == {"latest_hosts": 0, "last_assessed": 0}
    assert sorted(host["host"] for host in report["fleet"]["hosts"]) == HOSTS


@pytest.fixture
def reads(monkeypatch):
    """The hosts of each previous_open_updates() call; sla_breaches(), a row per overdue update of
    the fleet, is not for the end of a run."""
    calls = []
    real = HistoryStore.previous_open_updates

    def previous_open_updates(store, hosts, before):
        hosts = list(hosts)
        calls.append(hosts)
        return real(store, hosts, before)

    def sla_breaches(store, now=None):
        raise AssertionError("the end of a run read every SLA breach of the fleet as rows")
    monkeypatch.setattr(HistoryStore, "previous_open_updates", previous_open_updates)
    monkeypatch.setattr(HistoryStore, "sla_breaches", sla_breaches)
    return calls


def test_a_run_after_the_first_reads_the_earlier_run_a_batch_of_hosts_at_a_time(tmp_path, reads):
    finish(tmp_path, FIRST, first_updates)
    del reads[:]
    report = finish(tmp_path, SECOND, second_updates)[0]
    assert max(len(batch) for batch in reads) <= _report_run.FIRST_SEEN_BATCH
    assert sorted(name for batch in reads for name in batch) == HOSTS
    fleet = report["fleet"]
    # every host: fp-c new; odd hosts: fp-a resolved
    assert fleet["since_previous"] == {"new": len(HOSTS), "resolved": len(HOSTS) // 2}
    breached = dict((host["host"], host["sla_breached"]) for host in fleet["hosts"])
    assert breached == dict((name, 0 if int(name[1:]) % 2 else 1) for name in HOSTS)


def test_the_plain_documents_way_reads_a_batch_at_a_time_too(tmp_path, reads):
    """fleet_view.since_previous on a report without what the one pass gathered (the second run's
    report.json, drawn without the store) gives the same figures, a batch at a time."""
    finish(tmp_path, FIRST, first_updates)
    with open(finish(tmp_path, SECOND, second_updates, store=False)[1]["json"]) as handle:
        document = json.load(handle)
    del reads[:]
    with HistoryStore.open(str(tmp_path / "history.sqlite")) as store:
        figures = fleet_view.since_previous(store, document, document["run"]["started_at"])
    assert figures == {"new": len(HOSTS), "resolved": len(HOSTS) // 2}
    assert max(len(batch) for batch in reads) <= fleet_view.PREVIOUS_BATCH
    assert sorted(name for batch in reads for name in batch) == HOSTS


@pytest.mark.parametrize("day", ["2026-10-31", PAST_DUE, "2026-11-02", "2027-01-01"])
def test_the_stores_breach_counts_are_its_breaches_counted(tmp_path, day):
    finish(tmp_path, FIRST, first_updates)
    with HistoryStore.open(str(tmp_path / "history.sqlite")) as store:
        first = store.get_report("first")
        store.append_run(dict(first, run=dict(first["run"], run_id="later", ended_at="2026-11-27T10:00:00Z")))
        now = datetime.date.fromisoformat(day)
        assert store.sla_breach_counts(now) == rules.breach_counts(HistoryStore.sla_breaches(store, now))
