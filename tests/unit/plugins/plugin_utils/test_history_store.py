"""The history store, on a real SQLite file and a real PostgreSQL server: round trips, replacement
of a run, trend order, first-seen dates and SLA breaches across runs, each host's latest state,
migrations, errors, and concurrent writers.

PostgreSQL runs when FLEETPATCH_TEST_POSTGRES_URL is set (tests/tools/start-postgres prints it);
each test gets a schema of its own, dropped afterwards.
"""
import datetime
import json
import multiprocessing
import os
import sqlite3
import stat
import subprocess
import sys
import urllib.parse
import uuid

import jsonschema
import pytest
import synthetic_fleet
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store import postgres as _store_postgres
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store import schema as store_schema
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore, HistoryStoreError

POSTGRES_URL = os.environ.get("FLEETPATCH_TEST_POSTGRES_URL")
NO_POSTGRES = "FLEETPATCH_TEST_POSTGRES_URL is not set (eval \"$(tests/tools/start-postgres)\" sets it)"
REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", ".."))
SCHEMA_PATH = os.path.join(REPO, "docs", "schemas", "compliance_report.schema.json")


# ---- stores ---------------------------------------------------------------------------------

def with_search_path(url, schema):
    """The URL with libpq's options=-c search_path=<schema> (a space is %20 to libpq, never +)."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query) + [("options", "-c search_path=%s" % schema)]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query, quote_via=urllib.parse.quote)))


@pytest.fixture
def postgres_location():
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    import psycopg
    schema = "fleetpatch_test_%s" % uuid.uuid4().hex[:12]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA %s" % schema)
    try:
        yield with_search_path(POSTGRES_URL, schema)
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute("DROP SCHEMA %s CASCADE" % schema)


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "history" / "history.sqlite")
    return request.getfixturevalue("postgres_location")


def raw_execute(location, sql, params=()):
    """Run SQL straight on the store's database, beside the code under test."""
    if location.startswith("postgresql://"):
        import psycopg
        with psycopg.connect(location, autocommit=True) as conn:
            cursor = conn.execute(sql.replace("?", "%s"), params)
            return cursor.fetchall() if cursor.description else None
    conn = sqlite3.connect(location)
    try:
        with conn:
            return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# ---- reports --------------------------------------------------------------------------------

def run_meta(run_id, ended_at, started_at=None, aborted_by=None):
    return {"run_id": run_id, "started_at": started_at or ended_at, "ended_at": ended_at,
            "playbooks": ["playbooks/rollout.yml"], "check_mode": False, "controller": "controller1",
            "ansible_version": "2.19.14", "collection_version": "0.1.0", "aborted_by": aborted_by}


def synthetic_report(run_id, ended_at, hosts=24, updates=8, seed=1, **run):
    entries = []
    for host, ring, events in synthetic_fleet.fleet(hosts, updates, seed=seed):
        observations = model.HostObservations(host)
        observations.ring = ring
        for action, result, failed, unreachable in events:
            observations.observe(action, result, "task", failed, unreachable)
        entries.append(model.host_entry(observations))
    return model.build_report(run_meta(run_id, ended_at, **run), entries)


def update(name, version, state="missing", decision="approved", sla_due=None, first_seen=None, severity="important"):
    return {"name": name, "arch": "amd64", "installed_version": "0", "available_version": version,
            "classification": "security", "severity": severity, "advisories": ["DSA-1"], "title": None,
            "cves": ["CVE-2026-1"], "issued": "2026-10-01", "first_seen": first_seen, "decision": decision,
            "reason": "", "sla_due": sla_due, "sla_breached": False, "state": state}


def entry(host, *updates, status="non_compliant", assessed_at="2026-11-01T09:00:00Z", ring="production"):
    updates = list(updates)
    return {"host": host, "ring": ring, "status": status, "pkg_mgr": "apt", "os": "Debian 12",
            "kernel_running": "6.1.0", "assessed_at": assessed_at, "policy": "default", "reboot_required": False,
            "reboot_reasons": [], "rebooted": False, "rolled_back": False, "journal": None, "changes": [],
            "failure": None, "health": None, "counts": model.host_counts(None, updates, False), "updates": updates}


def unreachable(host):
    return entry(host, status="unreachable", assessed_at=None)


def report(run_id, ended_at, *entries, **run):
    return model.build_report(run_meta(run_id, ended_at, **run), list(entries))


def run_ids(runs):
    return [run["run_id"] for run in runs]


def trend_ids(store, **kwargs):
    return [point["run_id"] for point in store.trend(**kwargs)]


# ---- round trips ------------------------------------------------------------------------------

def test_get_report_returns_the_appended_document_exactly(location):
    original = synthetic_report("r1", "2026-11-25T10:05:00Z", started_at="2026-11-25T10:00:00Z")
    with HistoryStore.open(location) as store:
        store.append_run(original)
        assert store.get_report("r1") == original
        assert json.dumps(store.get_report("r1")) == json.dumps(original)   # key order too
        assert store.get_report("no-such-run") is None


UPDATE_ROW_SQL = ("SELECT host, name, arch, installed_version, available_version, classification, severity, "
                  "decision, state, issued, first_seen, sla_due, sla_breached, advisories, cves FROM updates "
                  "WHERE run_id = ? ORDER BY host, name")


@pytest.mark.parametrize("counts", [(0, 1, 2, 3), (31, 32, 33), (50, 64, 65), (129, 150)])
def test_every_update_is_one_row_whatever_the_hosts_update_count(location, counts):
    # Hosts' updates are inserted a block of rows per statement: every size must land whole.
    def numbered(i):
        return dict(update("pkg%04d" % i, "%d.0" % i, first_seen="2026-10-0%d" % (i % 9 + 1)),
                    sla_breached=bool(i % 2), cves=["CVE-2026-%d" % i, "CVE-2026-9"])

    entries = [entry("host%d" % count, *[numbered(i) for i in range(count)]) for count in counts]
    with HistoryStore.open(location) as store:
        store.append_run(report("r1", "2026-11-25T10:05:00Z", *entries))
    expected = sorted(
        (e["host"], u["name"], "amd64", "0", u["available_version"], "security", "important", "approved", "missing",
         "2026-10-01", u["first_seen"], None, 1 if u["sla_breached"] else 0, "DSA-1", " ".join(u["cves"]))
        for e in entries for u in e["updates"])
    assert [tuple(row) for row in raw_execute(location, UPDATE_ROW_SQL, ("r1",))] == expected


def test_updates_missing_optional_fields_are_stored_with_defaults(location):
    # A report from elsewhere (an older callback, a hand-made document) may lack fields.
    sparse = {"name": "pkg", "available_version": "2.0"}
    full = update("full", "1.0")
    document = report("r1", "2026-11-25T10:05:00Z", entry("a", full))
    document["hosts"][0]["updates"] = [sparse, full]
    with HistoryStore.open(location) as store:
        store.append_run(document)
    assert [tuple(row) for row in raw_execute(location, UPDATE_ROW_SQL, ("r1",))] == [
        ("a", "full", "amd64", "0", "1.0", "security", "important", "approved", "missing", "2026-10-01", None, None,
         0, "DSA-1", "CVE-2026-1"),
        ("a", "pkg", None, None, "2.0", "other", "unknown", "approved", "missing", None, None, None, 0, "", ""),
    ]


def test_sqlite_rows_land_whole_under_the_oldest_variable_limit(tmp_path):
    # SQLite before 3.32 allows 999 bound values per statement; a block must never need more.
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store import sqlite as _store_sqlite
    db = _store_sqlite.SqliteConnection(str(tmp_path / "h.sqlite"), 5)
    db.connect()
    db._conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    db.execute("CREATE TABLE t (a TEXT, b TEXT, c INTEGER, d INTEGER)")
    groups = [(("x", "g%d" % g), [(i, i * 2) for i in range(size)]) for g, size in enumerate((0, 1, 499, 500, 1003))]
    db.insert_grouped_rows("t", ("a", "b", "c", "d"), groups)
    rows = db.query("SELECT a, b, c, d FROM t ORDER BY b, c")
    db.close()
    assert rows == sorted(("x", "g%d" % g, i, i * 2) for g, size in enumerate((0, 1, 499, 500, 1003))
                          for i in range(size))


def test_trend_is_oldest_first_and_stops_before_the_given_run(location):
    # Run ids that do not sort in time order, appended out of order.
    reports = dict((run_id, synthetic_report(run_id, ended_at, seed=seed)) for run_id, ended_at, seed in (
        ("m", "2026-11-03T10:00:00Z", 3), ("z", "2026-11-01T10:00:00Z", 1), ("a", "2026-11-02T10:00:00Z", 2)))
    with HistoryStore.open(location) as store:
        assert store.trend() == []
        for run_id in ("m", "z", "a"):
            store.append_run(reports[run_id])
        assert store.trend() == [model.trend_point(reports[r]) for r in ("z", "a", "m")]
        assert trend_ids(store, limit=2) == ["a", "m"]
        assert trend_ids(store, before_run_id="m") == ["z", "a"]
        assert trend_ids(store, before_run_id="m", limit=1) == ["a"]
        assert trend_ids(store, before_run_id="z") == []
        assert trend_ids(store, before_run_id="new") == ["z", "a", "m"]   # a run not stored yet


def test_a_report_built_with_the_stores_trend_is_valid(location):
    with open(SCHEMA_PATH) as f:
        validator = jsonschema.Draft202012Validator(json.load(f))
    with HistoryStore.open(location) as store:
        store.append_run(synthetic_report("r1", "2026-11-01T10:00:00Z"))
        later = synthetic_report("r2", "2026-11-02T10:00:00Z", seed=2)
        later = model.build_report(later["run"], later["hosts"], trend=store.trend(before_run_id="r2"))
        validator.validate(later)
        store.append_run(later)
        assert [p["run_id"] for p in store.get_report("r2")["trend"]] == ["r1", "r2"]


def test_appending_a_run_again_replaces_it(location):
    earlier = report("r0", "2026-11-01T10:00:00Z", entry("c", update("libc", "2.1", sla_due="2026-11-02")))
    partial = report("r1", "2026-11-02T10:00:00Z", entry("a", update("pkg", "1.1")),
                     entry("b", update("pkg", "1.1")), entry("c", update("libc", "2.1")), aborted_by="SIGINT")
    final = report("r1", "2026-11-02T11:00:00Z", entry("a", update("pkg", "1.1")),
                   entry("b", update("pkg", "1.1"), status="failed"))
    with HistoryStore.open(location) as store:
        store.append_run(earlier)
        store.append_run(partial)
        assert partial["run"]["status"] == "aborted"
        assert {h["host"]: h["run_id"] for h in store.latest_hosts()} == {"a": "r1", "b": "r1", "c": "r1"}
        store.append_run(final)
        assert [r["run_id"] for r in store.runs()] == ["r0", "r1"]
        assert store.get_report("r1") == final
        assert trend_ids(store) == ["r0", "r1"]
        # c is not in the final report: its latest state falls back to the run before.
        latest = {h["host"]: (h["run_id"], h["status"]) for h in store.latest_hosts()}
        assert latest == {"a": ("r1", "non_compliant"), "b": ("r1", "failed"), "c": ("r0", "non_compliant")}
        assert [(b["host"], b["run_id"]) for b in store.sla_breaches("2026-11-20")] == [("c", "r0")]
        assert raw_execute(location, "SELECT COUNT(*) FROM updates WHERE run_id = ?", ("r1",))[0][0] == 2


def test_a_failed_append_leaves_the_stored_run_untouched(location):
    good = report("r1", "2026-11-02T10:00:00Z", entry("a", update("pkg", "1.1")))
    bad = report("r1", "2026-11-02T11:00:00Z", entry("a", update("pkg", "1.1")), entry("b"))
    bad["hosts"][1]["counts"]["missing"] = "many"     # fails after the run row is already written
    with HistoryStore.open(location) as store:
        store.append_run(good)
        with pytest.raises(HistoryStoreError, match="Failed to append run r1 to history store"):
            store.append_run(bad)
        assert store.get_report("r1") == good
        assert [h["host"] for h in store.latest_hosts()] == ["a"]
        assert raw_execute(location, "SELECT COUNT(*) FROM hosts")[0][0] == 1


def test_a_document_that_cannot_be_made_rolls_the_whole_run_back(location):
    # The callback hands a function that waits for report.json to be compressed; if that fails,
    # the rows already inserted for the run must go too.
    good = report("r1", "2026-11-02T10:00:00Z", entry("a", update("pkg", "1.1")))
    later = report("r2", "2026-11-03T10:00:00Z", entry("a", update("pkg", "1.2")), entry("b", update("x", "1")))

    def broken_document():
        raise OSError("report.json: No such file or directory")

    with HistoryStore.open(location) as store:
        store.append_run(good, document=lambda: json.dumps(good))
        with pytest.raises(HistoryStoreError, match="append run r2 .*No such file"):
            store.append_run(later, document=broken_document)
        assert run_ids(store.runs()) == ["r1"]
        assert store.get_report("r1") == good
    assert raw_execute(location, "SELECT COUNT(*) FROM updates")[0][0] == 1
    assert raw_execute(location, "SELECT COUNT(*) FROM host_latest")[0][0] == 1


def test_closing_sqlite_checkpoints_the_write_ahead_log(tmp_path):
    # Commits leave the run in the WAL (no checkpoint inside COMMIT); close() copies it into the
    # database file, so a reader that opens the file alone still finds every run.
    path = str(tmp_path / "history.sqlite")
    store = HistoryStore.open(path)
    store.append_run(synthetic_report("r1", "2026-11-25T10:05:00Z", hosts=50, updates=20))
    assert os.path.getsize(path + "-wal") > 0
    store.close()
    assert not os.path.exists(path + "-wal") or os.path.getsize(path + "-wal") == 0
    conn = sqlite3.connect("file:%s?immutable=1" % path, uri=True)   # reads the database file only
    try:
        assert conn.execute("SELECT COUNT(*) FROM updates").fetchone()[0] == 1000
    finally:
        conn.close()


# ---- first-seen dates and SLA breaches ---------------------------------------------------------

def test_first_seen_dates_survive_across_runs(location):
    first = report("r1", "2026-11-01T10:30:00Z",
                   entry("a", update("pkg", "1.1"), update("old", "3.0", first_seen="2026-10-20")),
                   entry("b", update("pkg", "1.1")), started_at="2026-11-01T10:00:00Z")
    # The host's state was wiped: it now says it first saw pkg 1.1 today.
    second = report("r2", "2026-11-10T10:30:00Z", entry("a", update("pkg", "1.1", first_seen="2026-11-10"),
                                                        update("pkg2", "2.0", first_seen="2026-11-09")),
                    started_at="2026-11-10T10:00:00Z")
    with HistoryStore.open(location) as store:
        store.append_run(first)
        store.append_run(second)
        assert store.first_seen() == {("a", "pkg", "1.1"): "2026-11-01", ("a", "old", "3.0"): "2026-10-20",
                                      ("a", "pkg2", "2.0"): "2026-11-09", ("b", "pkg", "1.1"): "2026-11-01"}
        assert store.first_seen(["b", "nobody"]) == {("b", "pkg", "1.1"): "2026-11-01"}
        assert store.first_seen("b") == {("b", "pkg", "1.1"): "2026-11-01"}
        assert store.first_seen([]) == {}


def first_seen_of_every_run(location):
    """What first_seen() said before migration 6, grouped from every stored run's rows: the oracle
    first_seen_dates is held to while no run is deleted."""
    rows = raw_execute(location, "SELECT u.host, u.name, u.available_version, MIN(u.first_seen), MIN(r.started_at) "
                                 "FROM updates u JOIN runs r ON r.run_id = u.run_id "
                                 "GROUP BY u.host, u.name, u.available_version")
    return dict(((host, name, version), min(d[:10] for d in (seen, started) if d))
                for host, name, version, seen, started in rows)


def test_first_seen_dates_are_those_of_every_stored_run(location):
    """Runs appended out of order, hosts' own dates earlier and later than their run's start, a run
    appended again: the dates kept on append equal the grouping of every stored run's rows."""
    runs = [synthetic_report("s%d" % number, "2026-11-%02dT10:00:00Z" % day, hosts=30, updates=6, seed=seed,
                             started_at="2026-11-%02dT09:00:00Z" % day)
            for number, (day, seed) in enumerate([(12, 1), (3, 2), (20, 1), (7, 3)])]
    runs[1]["hosts"][0]["updates"][0]["first_seen"] = "2026-01-15"       # long before any run
    runs[2]["hosts"][1]["updates"][0]["first_seen"] = "2026-12-31T23:00:00Z"  # after its run's start
    with HistoryStore.open(location) as store:
        for run in runs + runs[:1]:
            store.append_run(run)
        assert store.first_seen() == first_seen_of_every_run(location)
        assert len(store.first_seen()) > 30
        some = sorted(set(host for host, _name, _version in store.first_seen()))[:5]
        assert store.first_seen(some) == dict((key, day) for key, day in first_seen_of_every_run(location).items()
                                              if key[0] in some)


def test_an_update_offered_for_two_architectures_is_one_first_seen_date(location):
    """Multiarch: the same package and version twice in one host's updates (amd64, i386) is one key of
    first_seen_dates, with the earlier day; a later run with an earlier day of its own lowers it."""
    lib64, lib32 = update("libc6", "2.36-9"), dict(update("libc6", "2.36-9", first_seen="2026-10-02"), arch="i386")
    with HistoryStore.open(location) as store:
        store.append_run(report("r1", "2026-11-01T10:30:00Z", entry("a", lib64, lib32), started_at="2026-11-01T10:00:00Z"))
        assert store.first_seen(["a"]) == {("a", "libc6", "2.36-9"): "2026-10-02"}
        store.append_run(report("r2", "2026-11-02T10:30:00Z", entry("a", update("libc6", "2.36-9", first_seen="2026-09-30")),
                                started_at="2026-11-02T10:00:00Z"))
        assert store.first_seen(["a"]) == {("a", "libc6", "2.36-9"): "2026-09-30"}
        assert store.first_seen(["a"]) == first_seen_of_every_run(location)


def test_first_seen_reads_the_kept_dates_not_the_history(location):
    """The class of the cost: first_seen() grouped every stored run's rows of the hosts asked, 1.1 s
    per stored run at 10,000 hosts x 50 updates. It reads first_seen_dates, kept on append."""
    with HistoryStore.open(location) as store:
        store.append_run(report("r1", "2026-11-01T10:30:00Z", entry("a", update("pkg", "1.1", first_seen="2026-10-20")),
                                started_at="2026-11-01T10:00:00Z"))
        raw_execute(location, "DELETE FROM updates")
        assert store.first_seen(["a"]) == {("a", "pkg", "1.1"): "2026-10-20"}


def test_a_store_of_schema_5_gets_its_first_seen_dates_from_its_runs(location):
    with HistoryStore.open(location) as store:
        for number, day in enumerate((5, 1, 9)):
            store.append_run(synthetic_report("m%d" % number, "2026-11-%02dT10:00:00Z" % day, hosts=20, updates=5,
                                              seed=number + 1, started_at="2026-11-%02dT09:00:00Z" % day))
    expected = first_seen_of_every_run(location)
    raw_execute(location, "DROP TABLE first_seen_dates")        # as a release before migration 6 left it
    raw_execute(location, "DELETE FROM schema_migrations WHERE version = 6")
    with HistoryStore.open(location) as store:
        assert [m["version"] for m in store.migrations()][-1] == 6
        assert store.first_seen() == expected and len(expected) > 20


def test_sla_breaches_come_from_each_hosts_latest_run(location):
    first = report("r1", "2026-11-01T10:00:00Z",
                   entry("fixed", update("pkg", "1.1", sla_due="2026-11-05")),
                   entry("late", update("pkg", "1.1", sla_due="2026-11-05"),
                         update("held", "2.0", state="deferred", decision="deferred", sla_due="2026-11-01"),
                         update("due-today", "3.0", sla_due="2026-11-20"),
                         update("broken", "4.0", state="failed", sla_due="2026-11-15", severity="critical")),
                   entry("gone", update("pkg", "1.1", sla_due="2026-11-10")))
    second = report("r2", "2026-11-12T10:00:00Z",
                    entry("fixed", update("pkg", "1.1", state="installed", sla_due="2026-11-05"), status="compliant"),
                    unreachable("gone"))
    with HistoryStore.open(location) as store:
        store.append_run(first)
        store.append_run(second)
        breaches = store.sla_breaches(datetime.date(2026, 11, 20))
        assert [(b["host"], b["name"], b["version"], b["sla_due"], b["days_overdue"], b["state"], b["run_id"])
                for b in breaches] == [
            ("late", "pkg", "1.1", "2026-11-05", 15, "missing", "r1"),
            # unreachable in r2: its open updates are still those r1 assessed
            ("gone", "pkg", "1.1", "2026-11-10", 10, "missing", "r1"),
            ("late", "broken", "4.0", "2026-11-15", 5, "failed", "r1")]
        assert breaches[2]["severity"] == "critical"
        assert [b["host"] for b in store.sla_breaches("2026-11-08T23:59:59Z")] == ["late"]
        assert [b["host"] for b in store.sla_breaches(datetime.datetime(2026, 11, 1))] == []


# ---- latest state and runs -------------------------------------------------------------------------

def test_latest_hosts_gives_each_hosts_newest_entry(location):
    first = report("r1", "2026-11-01T10:00:00Z", entry("a", update("pkg", "1.1"), ring="test"),
                   entry("b", update("pkg", "1.1"), update("lib", "2"), ring="pilot"))
    second = report("r2", "2026-11-02T10:00:00Z", entry("a", status="compliant", ring="test"), unreachable("c"))
    with HistoryStore.open(location) as store:
        store.append_run(second)     # order of appends does not matter, only of the runs
        store.append_run(first)
        latest = store.latest_hosts()
    assert [h["host"] for h in latest] == ["a", "b", "c"]
    a, b, c = latest
    assert (a["run_id"], a["ended_at"], a["status"], a["ring"], a["counts"]["missing"]) == (
        "r2", "2026-11-02T10:00:00Z", "compliant", "test", 0)
    assert (b["run_id"], b["status"], b["ring"], b["counts"]["missing"], b["os"], b["pkg_mgr"]) == (
        "r1", "non_compliant", "pilot", 2, "Debian 12", "apt")
    assert (c["run_id"], c["status"], c["assessed_at"]) == ("r2", "unreachable", None)
    assert sorted(a["counts"]) == sorted(model.HOST_COUNT_KEYS)
    assert a["reboot_required"] is False


def test_runs_in_a_time_range(location):
    with HistoryStore.open(location) as store:
        for day in (1, 2, 3):
            store.append_run(report("r%d" % day, "2026-11-%02dT10:30:00Z" % day, entry("a"),
                                    started_at="2026-11-%02dT10:00:00Z" % day))
        assert run_ids(store.runs()) == ["r1", "r2", "r3"]
        assert run_ids(store.runs(since="2026-11-02")) == ["r2", "r3"]
        assert run_ids(store.runs(until="2026-11-02T10:00:00Z")) == ["r1"]     # until is exclusive
        assert run_ids(store.runs(datetime.date(2026, 11, 2), datetime.date(2026, 11, 3))) == ["r2"]
        east = datetime.timezone(datetime.timedelta(hours=10))
        assert run_ids(store.runs(since=datetime.datetime(2026, 11, 3, 20, 0, tzinfo=east))) == ["r3"]
        run = store.runs(since="2026-11-03")[0]
        assert run == dict(report("r3", "2026-11-03T10:30:00Z", entry("a"), started_at="2026-11-03T10:00:00Z")["run"],
                           hosts=1, compliant_percent=0.0, awx=None, group="r3")
        with pytest.raises(HistoryStoreError, match="not a date or timestamp: 'last tuesday'"):
            store.runs(since="last tuesday")


def test_delete_run_falls_back_to_the_previous_run(location):
    with HistoryStore.open(location) as store:
        store.append_run(report("r1", "2026-11-01T10:00:00Z", entry("a", update("pkg", "1.1")), entry("b")))
        store.append_run(report("r2", "2026-11-02T10:00:00Z", entry("a", status="compliant")))
        assert store.delete_run("r2") is True
        assert store.delete_run("r2") is False
        assert [(h["host"], h["run_id"], h["status"]) for h in store.latest_hosts()] == [
            ("a", "r1", "non_compliant"), ("b", "r1", "non_compliant")]
        assert trend_ids(store) == ["r1"]


def test_prune_deletes_old_history_but_keeps_every_hosts_current_state(location):
    with HistoryStore.open(location) as store:
        store.append_run(report("r1", "2026-09-01T10:00:00Z", entry("a", update("pkg", "1.1", first_seen="2026-08-20")),
                                entry("b", update("lib", "2.0", sla_due="2026-09-15"))))
        store.append_run(report("r2", "2026-09-10T10:00:00Z", entry("a", update("pkg", "1.1"))))
        store.append_run(report("r3", "2026-11-20T10:00:00Z", unreachable("a")))
        # r1 is still b's latest run, r2 a's latest assessment: nothing goes yet.
        assert store.prune("2026-11-01") == []
        before = (store.latest_hosts(), store.last_assessed(), store.sla_breaches("2026-11-25"))
        store.append_run(report("r4", "2026-11-21T10:00:00Z", entry("a", update("pkg", "1.1")),
                                entry("b", update("lib", "2.0", sla_due="2026-09-15"))))
        assert store.prune("2026-11-01") == ["r1", "r2"]
        assert run_ids(store.runs()) == ["r3", "r4"]
        assert store.get_report("r1") is None
        assert [(h["host"], h["run_id"]) for h in store.latest_hosts()] == [("a", "r4"), ("b", "r4")]
        assert [(b["host"], b["name"], b["run_id"]) for b in store.sla_breaches("2026-11-25")] == [("b", "lib", "r4")]
        # The first-seen date of r1 outlives r1 (first_seen_dates, migration 6), though r4's own
        # row says nothing of it: before, the store forgot it with r1 and said r4's start.
        assert store.first_seen(["a"]) == {("a", "pkg", "1.1"): "2026-08-20"}
        assert store.prune("2026-11-21T10:00:01Z") == ["r3"]      # nobody's current state any more
        assert store.prune("2027-01-01") == []                     # r4 is everybody's latest
    assert before[0][0]["run_id"] == "r3" and before[1]["a"]["run_id"] == "r2"
    assert raw_execute(location, "SELECT COUNT(*) FROM updates")[0][0] == 2
    assert raw_execute(location, "SELECT COUNT(*) FROM hosts")[0][0] == 2


def test_prune_refuses_what_is_not_a_date(location):
    with HistoryStore.open(location) as store:
        with pytest.raises(HistoryStoreError, match="prune runs from .*not a date"):
            store.prune("last tuesday")


# ---- schema and migrations --------------------------------------------------------------------------

def test_migrations_are_recorded_once(location):
    with HistoryStore.open(location) as store:
        store.append_run(report("r1", "2026-11-01T10:00:00Z", entry("a")))
        applied = store.migrations()
    assert [(m["version"], m["name"]) for m in applied] == [
        (1, "runs, hosts, updates and each host's latest run"),
        (2, "the AWX job of each run"), (3, "the AWX job template of each run (the slices of a sliced job)"),
        (4, "the host counts deferred and rejected, named as the report's schema 2 names them"),
        (5, "the report document in pieces"), (6, "the day each update was first offered to each host")]
    with HistoryStore.open(location) as store:     # reopening migrates nothing and keeps the data
        assert store.migrations() == applied
        assert trend_ids(store) == ["r1"]
    assert raw_execute(location, "SELECT COUNT(*) FROM schema_migrations")[0][0] == 6


def schema_1_report(run_id, ended_at, *entries):
    """What fleetpatch wrote before the report's schema 2: the counts deferred and rejected were
    named installed_other and installed_rejected."""
    document = json.loads(json.dumps(report(run_id, ended_at, *entries)))
    document["schema_version"] = 1
    for counted in [document["summary"]] + document["hosts"]:
        counted["counts"]["installed_other"] = counted["counts"].pop("deferred")
        counted["counts"]["installed_rejected"] = counted["counts"].pop("rejected")
    return document


def test_a_store_of_schema_3_keeps_its_counts_under_their_new_names(location, monkeypatch):
    """A store written before migration 4 (columns installed_other, installed_rejected) is
    migrated in place: its hosts' counts read back under the names deferred and rejected."""
    with monkeypatch.context() as patched:
        patched.setattr(store_schema, "MIGRATIONS", store_schema.MIGRATIONS[:3])
        HistoryStore.open(location).close()
    raw_execute(location, "INSERT INTO hosts (run_id, host, ended_at, status, reboot_required, rebooted, "
                "rolled_back, installed, installed_other, installed_pending_reboot, installed_rejected, missing, "
                "failed, not_applicable, critical_non_compliant, security_non_compliant, other_non_compliant, "
                "sla_breached) VALUES ('r0', 'a', '2026-10-01T10:00:00Z', 'non_compliant', 0, 0, 0, "
                "90, 3, 0, 2, 1, 0, 0, 0, 1, 0, 0)")
    raw_execute(location, "INSERT INTO host_latest (host, run_id, ended_at, assessed_run_id, assessed_ended_at) "
                "VALUES ('a', 'r0', '2026-10-01T10:00:00Z', 'r0', '2026-10-01T10:00:00Z')")
    with HistoryStore.open(location) as store:
        [host] = store.latest_hosts()
        assert [m["version"] for m in store.migrations()] == [1, 2, 3, 4, 5, 6]
    assert host["counts"]["deferred"] == 3 and host["counts"]["rejected"] == 2 and host["counts"]["missing"] == 1
    assert "installed_other" not in host["counts"] and "installed_rejected" not in host["counts"]


def test_a_schema_1_report_is_stored_and_read_back_as_schema_2(location):
    old = schema_1_report("r1", "2026-11-01T10:00:00Z",
                          entry("a", update("pkg", "1.1", state="deferred", decision="deferred"),
                                update("lib", "2.0", state="rejected", decision="rejected")))
    with HistoryStore.open(location) as store:
        store.append_run(old)
        stored = store.get_report("r1")
        [host] = store.latest_hosts()
    assert stored["schema_version"] == model.SCHEMA_VERSION == 2
    assert stored["hosts"][0]["counts"]["deferred"] == 1 and stored["hosts"][0]["counts"]["rejected"] == 1
    assert stored["summary"]["counts"]["deferred"] == 1 and "installed_other" not in stored["summary"]["counts"]
    assert host["counts"]["deferred"] == 1 and host["counts"]["rejected"] == 1
    assert old["schema_version"] == 1 and "installed_other" in old["hosts"][0]["counts"]   # left alone


def test_a_store_from_a_newer_collection_is_refused(location):
    HistoryStore.open(location).close()
    raw_execute(location, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (99, "from the future", "2027-01-01T00:00:00Z"))
    with pytest.raises(HistoryStoreError, match=r"written by a newer fleetpatch.patching \(schema version 99"):
        HistoryStore.open(location)


def test_sqlite_uses_wal_and_a_private_file(tmp_path):
    path = tmp_path / "new" / "history.sqlite"
    with HistoryStore.open(str(path)) as store:
        store.append_run(report("r1", "2026-11-01T10:00:00Z", entry("a")))
        assert raw_execute(str(path), "PRAGMA journal_mode")[0][0] == "wal"
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(path.parent)).st_mode) == 0o700


def test_sqlite_path_with_tilde_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with HistoryStore.open("~/fleetpatch/history.sqlite") as store:
        assert store.location == str(tmp_path / "fleetpatch" / "history.sqlite")
    assert (tmp_path / "fleetpatch" / "history.sqlite").is_file()


# ---- errors -----------------------------------------------------------------------------------------

def test_an_unwritable_path_is_an_error_naming_it(tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    path = str(tmp_path / "a-file" / "history.sqlite")
    with pytest.raises(HistoryStoreError) as caught:
        HistoryStore.open(path)
    assert str(caught.value).startswith("Failed to open history store %s: " % path)
    assert caught.value.location == path


def test_a_corrupt_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "history.sqlite"
    path.write_bytes(b"this is no database, " * 400)
    with pytest.raises(HistoryStoreError, match="Failed to open history store %s: file is not a database" % path):
        HistoryStore.open(str(path))


def test_something_else_than_a_report_is_refused(location):
    with HistoryStore.open(location) as store:
        with pytest.raises(HistoryStoreError, match="not a fleetpatch compliance report"):
            store.append_run({"run": {"run_id": "x"}})
        no_end = report("r1", "2026-11-01T10:00:00Z", entry("a"))
        no_end["run"]["ended_at"] = None
        with pytest.raises(HistoryStoreError, match="Failed to append run r1 to .*: the report's run has no ended_at"):
            store.append_run(no_end)
        assert store.runs() == []


@pytest.mark.parametrize("location", ["", "mysql://db/fleet", "sqlite:///tmp/x"])
def test_unsupported_locations(location):
    with pytest.raises(HistoryStoreError, match="Failed to open history store"):
        HistoryStore.open(location)


def test_a_closed_store_reports_errors_as_its_own(tmp_path):
    store = HistoryStore.open(str(tmp_path / "h.sqlite"))
    store.close()
    store.close()                                     # twice is fine
    with pytest.raises(HistoryStoreError, match="Failed to read the trend from history store .*: the store is closed"):
        store.trend()


# ---- PostgreSQL: credentials and the driver ------------------------------------------------------------

@pytest.mark.parametrize("url, redacted", [
    ("postgresql://fp:s3cret@db.example.com:5432/fleet", "postgresql://fp:***@db.example.com:5432/fleet"),
    ("postgres://fp:p%40ss%3Aword@db/fleet?sslmode=require", "postgres://fp:***@db/fleet?sslmode=require"),
    ("postgresql://fp@db/fleet?password=s3cret&sslmode=verify-full",
     "postgresql://fp@db/fleet?password=***&sslmode=verify-full"),
    ("postgresql://db/fleet", "postgresql://db/fleet"),
    ("postgresql://fp:s3cret@h1:5432,h2:5433/fleet", "postgresql://fp:***@h1:5432,h2:5433/fleet"),
])
def test_urls_are_shown_without_passwords(url, redacted):
    assert _store_postgres.redact_url(url) == redacted


def test_a_wrong_password_is_reported_without_it():
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    parts = urllib.parse.urlsplit(POSTGRES_URL)
    wrong = "Wr0ng-pass-%s" % uuid.uuid4().hex[:8]
    netloc = "%s:%s@%s" % (parts.username, wrong, parts.netloc.rpartition("@")[2])
    url = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    with pytest.raises(HistoryStoreError) as caught:
        HistoryStore.open(url)
    message = str(caught.value)
    assert wrong not in message and wrong not in repr(caught.value)
    assert message.startswith("Failed to open history store postgresql://%s:***@" % parts.username)
    assert "password authentication failed" in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_an_unreachable_server_is_an_error_naming_it():
    url = "postgresql://fp:topsecret@127.0.0.1:9/fleet?connect_timeout=2"   # port 9: discard, nothing listens
    pytest.importorskip("psycopg")
    with pytest.raises(HistoryStoreError) as caught:
        HistoryStore.open(url)
    assert str(caught.value).startswith("Failed to open history store postgresql://fp:***@127.0.0.1:9/fleet")
    assert "topsecret" not in str(caught.value)


def test_without_psycopg_a_url_names_the_missing_package(tmp_path):
    # python -S: no site-packages, so psycopg is really absent; the collection comes from PYTHONPATH.
    collections = os.path.join(REPO, ".build", "collections")
    code = ("from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore\n"
            "HistoryStore.open(%r).close()\n"
            "try:\n"
            "    HistoryStore.open('postgresql://fp:topsecret@db.example.com/fleet')\n"
            "except Exception as exc:\n"
            "    print(type(exc).__name__, exc)\n" % str(tmp_path / "sqlite-needs-nothing.sqlite"))
    out = subprocess.run([sys.executable, "-S", "-c", code], env=dict(os.environ, PYTHONPATH=collections),
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("HistoryStoreError Failed to open history store postgresql://fp:***@db.example.com/fleet:"
                          " the Python package psycopg (version 3) is not installed on the controller")
    assert "topsecret" not in out


# ---- two controllers at once ---------------------------------------------------------------------------

def _append_runs(location, prefix, count):
    with HistoryStore.open(location) as store:
        for number in range(count):
            store.append_run(synthetic_report("%s-%d" % (prefix, number), "2026-11-%02dT10:00:00Z" % (number + 1),
                                              hosts=60, updates=20, seed=number))


def test_two_controllers_append_at_once(location):
    context = multiprocessing.get_context("spawn")     # each writer a fresh interpreter, as two controllers are
    writers = [context.Process(target=_append_runs, args=(location, prefix, 4)) for prefix in ("one", "two")]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
    assert [writer.exitcode for writer in writers] == [0, 0]
    with HistoryStore.open(location) as store:
        assert len(store.runs()) == 8
        assert len(store.latest_hosts()) == 60
        assert store.get_report("two-3")["run"]["run_id"] == "two-3"
    if not location.startswith("postgresql://"):
        assert raw_execute(location, "PRAGMA integrity_check") == [("ok",)]
