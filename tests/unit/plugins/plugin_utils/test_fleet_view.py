"""The report's fleet view from a real history store (SQLite; PostgreSQL with
FLEETPATCH_TEST_POSTGRES_URL): each host's last known state and age, stale and never-assessed hosts,
new and resolved updates since each host's previous assessment, and mean time to remediate."""
import datetime
import json
import os
import sqlite3

import jsonschema
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import fleet_view as _fleet_view
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store import schema
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore
from test_history_store import location, postgres_location  # noqa: F401  pylint: disable=unused-import
from test_history_store import entry, report, unreachable, update

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", ".."))
SCHEMA = json.load(open(os.path.join(REPO, "docs", "schemas", "compliance_report.schema.json")))
NOW = datetime.datetime(2026, 11, 20, 12, 0, tzinfo=datetime.timezone.utc)


def history(location):
    """Three runs: a (compliant, 19 days ago) is never seen again; b has two open updates, then
    one of them installed and a new one; c is unreachable in the newest run."""
    with HistoryStore.open(location) as store:
        store.append_run(report("r1", "2026-11-01T10:00:00Z",
                                entry("a", status="compliant", assessed_at="2026-11-01T09:00:00Z"),
                                entry("b", update("curl", "2", first_seen="2026-10-30"),
                                      update("zlib", "3", first_seen="2026-10-30", severity="critical"),
                                      assessed_at="2026-11-01T09:00:00Z"),
                                entry("c", update("bash", "5"), assessed_at="2026-11-01T09:00:00Z")))
        store.append_run(report("r2", "2026-11-10T10:00:00Z",
                                entry("b", update("curl", "2"), update("zlib", "3", state="installed",
                                                                       first_seen="2026-10-30", severity="critical"),
                                      assessed_at="2026-11-10T09:00:00Z"),
                                entry("c", update("bash", "5"), assessed_at="2026-11-10T09:00:00Z")))


def this_run():
    return report("r3", "2026-11-20T11:00:00Z",
                  entry("b", update("curl", "2"), update("vim", "9"), assessed_at="2026-11-20T10:30:00Z"),
                  unreachable("c"), started_at="2026-11-20T10:00:00Z")


def test_the_fleet_view_keeps_every_hosts_last_known_state(location):
    history(location)
    current = this_run()
    with HistoryStore.open(location) as store:
        fleet = _fleet_view.fleet_state(store, current, ["a", "b", "c", "d"], NOW, stale_days=7)
    current["fleet"] = fleet
    jsonschema.validate(current, SCHEMA)
    hosts = dict((h["host"], h) for h in fleet["hosts"])
    # a: compliant 19 days ago, stale; c: unreachable now, its last assessment still stands
    assert (hosts["a"]["last_known_status"], hosts["a"]["stale"], hosts["a"]["days_since_assessed"]) == (
        "compliant", True, 19)
    assert (hosts["c"]["latest_status"], hosts["c"]["last_known_status"], hosts["c"]["open"]) == (
        "unreachable", "non_compliant", 1)
    assert hosts["c"]["days_since_assessed"] == 10 and hosts["c"]["stale"]       # stale_days 7
    # b: this run's assessment, laid over the store before the run is appended
    assert (hosts["b"]["latest_status"], hosts["b"]["assessed_at"], hosts["b"]["open"]) == (
        "non_compliant", "2026-11-20T10:30:00Z", 2)
    # d: in the inventory, never assessed
    assert fleet["never_assessed"] == ["d"] and hosts["d"]["in_store"] is False
    # b had curl at its previous assessment (r2); now curl and vim: one new, none resolved
    assert fleet["since_previous"] == {"new": 1, "resolved": 0}
    # zlib (critical) first seen 2026-10-30, installed by r2 on 2026-11-10: 11 days
    assert fleet["mttr_days"] == {"critical": 11.0}


def test_resolved_updates_are_counted(location):
    history(location)
    fixed = report("r3", "2026-11-20T11:00:00Z", entry("b", assessed_at="2026-11-20T10:30:00Z"),
                   entry("c", assessed_at="2026-11-20T10:30:00Z", status="compliant"), started_at="2026-11-20T10:00:00Z")
    with HistoryStore.open(location) as store:
        fleet = _fleet_view.fleet_state(store, fixed, [], NOW)
    assert fleet["since_previous"] == {"new": 0, "resolved": 2}     # b's curl, c's bash


def test_a_version_1_store_migrates_and_keeps_its_data(tmp_path):
    path = str(tmp_path / "old.sqlite")
    history(path)
    conn = sqlite3.connect(path)
    with conn:    # as a store written before migration 2
        conn.execute("DROP INDEX runs_by_awx_workflow")
        for _key, column in schema.AWX_COLUMNS:
            conn.execute("ALTER TABLE runs DROP COLUMN %s" % column)
        conn.execute("ALTER TABLE hosts RENAME COLUMN deferred TO installed_other")       # migration 4
        conn.execute("ALTER TABLE hosts RENAME COLUMN rejected TO installed_rejected")
        conn.execute("DROP TABLE report_pieces")                                          # migration 5
        conn.execute("DROP TABLE first_seen_dates")                                       # migration 6
        conn.execute("DELETE FROM schema_migrations WHERE version > 1")
    conn.close()
    with HistoryStore.open(path) as store:
        assert [m["version"] for m in store.migrations()] == [1, 2, 3, 4, 5, 6]
        # the first-seen dates of the runs stored before migration 6
        assert store.first_seen(["b"])[("b", "curl", "2")] == "2026-10-30"
        assert [r["run_id"] for r in store.runs()] == ["r1", "r2"] and store.runs()[0]["awx"] is None
        assert store.remediation_days("2026-01-01") == {"critical": (1, 11.0)}


def test_remediation_reads_one_row_per_run_not_the_updates(tmp_path):
    """perf: mean time to remediate adds each run's own figures (bench/fleet_views_bench.py: 11 s
    over 10,000 hosts x 90 runs when it counted update rows)."""
    path = str(tmp_path / "h.sqlite")
    history(path)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DELETE FROM updates")          # the rows are not what it reads
    conn.close()
    with HistoryStore.open(path) as store:
        assert store.remediation_days("2026-01-01") == {"critical": (1, 11.0)}
        assert store.remediation_days("2026-11-05") == {"critical": (1, 11.0)}
        assert store.remediation_days("2026-11-11") == {}
