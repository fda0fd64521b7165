# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The history store: every compliance report a run produced, kept so that trends, first-seen
dates and SLA breaches survive across runs (and across AWX's throw-away execution environments).
Private to this collection: may change without notice.

    with HistoryStore.open("~/.ansible/fleetpatch/history.sqlite") as store:
        report = build_report(run, hosts, trend=store.trend(before_run_id=run["run_id"]))
        store.append_run(report)

A file path opens SQLite (_store_sqlite); a postgresql:// or postgres:// URL opens PostgreSQL
through psycopg 3 (_store_postgres). Both hold the same tables, created and upgraded by the same
ordered migrations (_store_schema). Every failure leaves as HistoryStoreError, whose message names
the store (never its password) and the cause.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import operator
import re
from typing import Any, Callable, Collection, Iterable

from ansible_collections.fleetpatch.patching.plugins.module_utils import _vocabulary
from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import OPEN_STATES
from ansible_collections.fleetpatch.patching.plugins.plugin_utils import _awx_job, _host_values
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import gc_pause as _gc
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model as _report_model
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store import document as _document
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store import postgres as _store_postgres
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store import schema
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store import sqlite as _store_sqlite

DEFAULT_TIMEOUT_SECONDS = 30
TREND_LIMIT = 30
# Hosts per IN (...) list: under the 999 bound parameters that older SQLite builds allow.
CHUNK = 500
# Hosts whose rows are inserted together when a run is appended: their update rows are held until
# then (100 hosts x 50 updates: a few MB).
ROW_BATCH_HOSTS = 100
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class HistoryStoreError(Exception):
    """A history store could not be opened, written or read. The message names the store."""

    def __init__(self, msg: str, location: str | None = None) -> None:
        super(HistoryStoreError, self).__init__(msg)
        self.msg = msg
        self.location = location


class _BadInput(ValueError):
    """A caller's argument the store cannot use; reported like a database error."""


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def _timestamp(value):
    """A report timestamp (UTC, ...Z) from a datetime (naive means UTC), a date (midnight UTC)
    or an ISO 8601 string."""
    if isinstance(value, datetime.datetime):
        return _vocabulary.utc_stamp(value)
    if isinstance(value, datetime.date):
        return value.isoformat() + "T00:00:00Z"
    text = str(value)
    if _STAMP.match(text):
        return text
    if _DAY.match(text):
        return text + "T00:00:00Z"
    try:
        return _vocabulary.utc_stamp(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise _BadInput("not a date or timestamp: %r" % (value,)) from None


def _day(value):
    return _timestamp(value)[:10]


# Compact: a 10,000-host report is a couple of hundred megabytes of JSON already. One encoder,
# because json.dumps builds a new one per call when given separators (a million calls a run).
_json = json.JSONEncoder(separators=(",", ":")).encode


def _flag(value):
    return 1 if value else 0


def _chunks(items):
    items = list(items)
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def _batches(items, size=CHUNK):
    """Lists of up to size items from any iterable, never all of it at once."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _marks(count):
    return ", ".join("?" * count)


def _connection_for(location, timeout):
    if not location or not str(location).strip():
        raise HistoryStoreError("Failed to open history store: no location given (a file path or a postgresql:// URL)")
    if _store_postgres.is_url(location):
        return _store_postgres.PostgresConnection(location, timeout)
    if "://" in str(location):
        raise HistoryStoreError("Failed to open history store %s://...: only file paths (SQLite) and postgresql:// "
                                "URLs are supported" % str(location).split("://", 1)[0])
    return _store_sqlite.SqliteConnection(location, timeout)


# ---- the report, as rows ------------------------------------------------------------------------

# Rows are built as dicts and read out in the schema's column order, so no value can land in
# another column.
_RUN_ROW = operator.itemgetter(*schema.RUN_COLUMNS)
_HOST_ROW = operator.itemgetter(*schema.HOST_COLUMNS)


def _check_report(report):
    """The report (upgraded to the current schema_version, _report_model.upgrade()) if the store can
    take it; _BadInput names what is wrong otherwise."""
    report = _report_model.upgrade(report)
    if not isinstance(report, dict) or report.get("kind") != _report_model.KIND:
        raise _BadInput("not a fleetpatch compliance report (kind %s expected)" % _report_model.KIND)
    if report.get("schema_version") != _report_model.SCHEMA_VERSION:
        raise _BadInput("report schema_version %r is not %d" % (report.get("schema_version"),
                                                                _report_model.SCHEMA_VERSION))
    run = report.get("run") or {}
    for key in ("run_id", "started_at", "ended_at"):
        if not isinstance(run.get(key), str) or not run.get(key):
            raise _BadInput("the report's run has no %s" % key)
    summary = report.get("summary")
    if not isinstance(summary, dict) or not isinstance(summary.get("by_status"), dict):
        raise _BadInput("the report has no summary")
    hosts = report.get("hosts")
    # A list, or the callback's hosts read back from its spill file (each entry checked as it is read).
    if isinstance(hosts, (str, bytes, dict)) or not hasattr(hosts, "__iter__") or not hasattr(hosts, "__len__"):
        raise _BadInput("the report's hosts are not a list of host entries")
    if isinstance(hosts, list):
        for host in hosts:
            _check_host(host)
    return report


def _check_host(host):
    if not isinstance(host, dict) or not host.get("host"):
        raise _BadInput("the report's hosts are not a list of host entries")


def _run_row(report, stored_document):
    """stored_document: runs.report (_store/document.py)."""
    run, summary = report["run"], report["summary"]
    values = {
        "run_id": run["run_id"], "started_at": run["started_at"], "ended_at": run["ended_at"],
        "status": run.get("status") or _report_model.run_status(report["hosts"], run.get("aborted_by")),
        "aborted_by": run.get("aborted_by"), "check_mode": _flag(run.get("check_mode")),
        "controller": run.get("controller"), "playbooks": _json(list(run.get("playbooks") or [])),
        "ansible_version": run.get("ansible_version"), "collection_version": run.get("collection_version"),
        "host_count": int(summary.get("hosts", len(report["hosts"]))),
        # NOT NULL in the schema: a run of no hosts stores 0, and reads back as None (trend()).
        "compliant_percent": float(summary.get("compliant_percent") or 0.0),
        "summary": _json(summary), "report": stored_document,
        "stored_at": _vocabulary.utc_stamp(),
    }
    awx = run.get("awx") if isinstance(run.get("awx"), dict) else {}
    values.update((column, awx.get(key)) for key, column in schema.AWX_COLUMNS)
    return _RUN_ROW(values)


def _host_row(run_id, ended_at, host):
    counts = host.get("counts") or {}
    values = {
        "run_id": run_id, "host": host["host"], "ended_at": ended_at, "ring": host.get("ring"),
        "status": host.get("status") or "unknown", "os": host.get("os"), "pkg_mgr": host.get("pkg_mgr"),
        "policy": host.get("policy"), "assessed_at": host.get("assessed_at"),
        "reboot_required": _flag(host.get("reboot_required")), "rebooted": _flag(host.get("rebooted")),
        "rolled_back": _flag(host.get("rolled_back")),
    }
    values.update((column, int(counts.get(column) or 0)) for column in schema.COUNT_COLUMNS)
    return _HOST_ROW(values)


# Update rows are the bulk of a run (half a million at 10,000 hosts), so they are built as tuples
# directly, grouped by host: (run_id, host) once, then each update's columns in this order, which
# must stay the schema's column order.
_UPDATE_PREFIX = ("run_id", "host")
_UPDATE_ORDER = _UPDATE_PREFIX + ("name", "arch", "installed_version", "available_version", "classification",
                                  "severity", "decision", "state", "issued", "first_seen", "sla_due",
                                  "sla_breached", "advisories", "cves")
if _UPDATE_ORDER != schema.UPDATE_COLUMNS:
    raise ImportError("_history_store's update row order differs from _store_schema.UPDATE_COLUMNS")


def _ids(values):
    """Advisory or CVE ids as one space-separated text (ids hold no spaces): searchable with LIKE,
    and a tenth of the cost of JSON per row. The exact lists stay in the stored report document."""
    return " ".join(str(v) for v in values) if values else ""


# The fields a report's update always has (the schema requires them), read in one C call.
_SHAPED_FIELDS = operator.itemgetter("name", "arch", "installed_version", "available_version", "classification",
                                     "severity", "decision", "state", "issued", "first_seen", "sla_due")


def _update_row(update):
    get = update.get
    return (str(get("name")), get("arch"), get("installed_version"), str(get("available_version") or ""),
            get("classification") or "other", get("severity") or "unknown", get("decision") or "approved",
            get("state") or "missing", get("issued"), get("first_seen"), get("sla_due"),
            _flag(get("sla_breached")), _ids(get("advisories")), _ids(get("cves")))


def _host_update_rows(updates):
    try:
        return [_SHAPED_FIELDS(update) + (1 if update["sla_breached"] else 0, " ".join(update["advisories"]),
                                          " ".join(update["cves"]))
                for update in updates]
    except (KeyError, TypeError):      # a document from elsewhere, missing a field: the careful way
        return [_update_row(update) for update in updates]


# Where an update row (_host_update_rows) holds what first_seen_dates keeps of it.
_ROW_NAME, _ROW_VERSION, _ROW_FIRST_SEEN = 0, 3, 9
if (_UPDATE_ORDER[2 + _ROW_NAME], _UPDATE_ORDER[2 + _ROW_VERSION], _UPDATE_ORDER[2 + _ROW_FIRST_SEEN]) != (
        "name", "available_version", "first_seen"):
    raise ImportError("_history_store's first-seen positions differ from the update row order")


def _first_seen_days(groups, started_day):
    """{(host, name, available_version): day} of these hosts' update rows: the day each update was
    first offered, as far as this run knows: the row's own first_seen, or the run's start day when
    that is earlier or the row has none (migration 6 fills the table from stored runs by the same
    rule); the earliest when a host lists an update twice (two architectures)."""
    days = {}
    for (_run_id, host), rows in groups:
        for row in rows:
            seen = row[_ROW_FIRST_SEEN]
            day = seen[:10] if seen.__class__ is str and seen and seen[:10] < started_day else started_day
            key = (host, row[_ROW_NAME], row[_ROW_VERSION])
            if key not in days or day < days[key]:
                days[key] = day
    return days


def _keep_first_seen(db, groups, started_day):
    """Bring first_seen_dates up to date with a batch of hosts' update rows, inside the append's
    transaction (which keeps other writers out): the days stored for these hosts are read, and only
    an update not seen before is inserted, only an earlier day written. perf: appends of 10,000
    hosts x 50 updates took 9.1-13.2 s with an upsert of every row (INSERT ... ON CONFLICT DO
    UPDATE), 8.8-10.5 s this way, 6.7-8.5 s before there was a table (bench/history_store_bench.py
    --runs 5, one run each, 2026-12-02); first_seen() of every host after those five runs fell from
    5.5 to 0.9 s, and it is read at the end of every run."""
    days = _first_seen_days(groups, started_day)
    if not days:
        return
    hosts = sorted(set(host for host, _name, _version in days))
    stored = {}
    for chunk in _chunks(hosts):
        stored.update(((host, name, version), day) for host, name, version, day in db.query(
            "SELECT host, name, available_version, first_seen FROM first_seen_dates WHERE host IN (%s)"
            % _marks(len(chunk)), chunk))
    new = [key + (day,) for key, day in days.items() if key not in stored]
    earlier = [(day,) + key for key, day in days.items() if key in stored and day < stored[key]]
    db.insert_rows("first_seen_dates", schema.FIRST_SEEN_KEY + (schema.FIRST_SEEN_COLUMN,), new)
    for row in earlier:
        db.execute("UPDATE first_seen_dates SET first_seen = ? WHERE host = ? AND name = ? AND available_version = ?",
                   row)


# ---- each host's latest run -------------------------------------------------------------------------
# A pointer is (ended_at, run_id): the newer run ended later, and run_id settles a tie the same way
# on both engines because Python, not a database collation, compares them.

def _newer(current, candidate):
    if candidate is None:
        return current
    return candidate if current is None or candidate > current else current


def _offer(pointers, host, key, assessed):
    latest, latest_assessed = pointers.get(host, (None, None))
    pointers[host] = (_newer(latest, key), _newer(latest_assessed, key if assessed else None))


def _offer_history(db, pointers, hosts):
    """Offer every stored run of these hosts (their pointer named a run that is gone)."""
    for chunk in _chunks(hosts):
        for host, run_id, ended_at, assessed_at in db.query(
                "SELECT host, run_id, ended_at, assessed_at FROM hosts WHERE host IN (%s)" % _marks(len(chunk)),
                chunk):
            _offer(pointers, host, (ended_at, run_id), bool(assessed_at))


def _stored_pointers(db, hosts):
    stored = {}
    for chunk in _chunks(hosts):
        for host, run_id, ended_at, assessed_run_id, assessed_ended_at in db.query(
                "SELECT %s FROM host_latest WHERE host IN (%s)" % (", ".join(schema.POINTER_COLUMNS),
                                                                   _marks(len(chunk))), chunk):
            stored[host] = ((ended_at, run_id), (assessed_ended_at, assessed_run_id) if assessed_run_id else None)
    return stored


def _save_pointers(db, pointers):
    stored = _stored_pointers(db, sorted(pointers))
    changed = {}
    for host, (latest, assessed) in pointers.items():
        old_latest, old_assessed = stored.get(host, (None, None))
        new = (_newer(old_latest, latest), _newer(old_assessed, assessed))
        if new != (old_latest, old_assessed) and new[0] is not None:
            changed[host] = new
    for chunk in _chunks(sorted(h for h in changed if h in stored)):
        db.execute("DELETE FROM host_latest WHERE host IN (%s)" % _marks(len(chunk)), chunk)
    db.insert_rows("host_latest", schema.POINTER_COLUMNS,
                   [(host, latest[1], latest[0], assessed[1] if assessed else None, assessed[0] if assessed else None)
                    for host, (latest, assessed) in sorted(changed.items())])


def _delete_run(db, run_id):
    """Remove a run; return the hosts whose pointers named it."""
    orphans = [row[0] for row in db.query(
        "SELECT host FROM host_latest WHERE run_id = ? OR assessed_run_id = ?", (run_id, run_id))]
    db.execute("DELETE FROM host_latest WHERE run_id = ? OR assessed_run_id = ?", (run_id, run_id))
    hosts = [row[0] for row in db.query("SELECT host FROM hosts WHERE run_id = ?", (run_id,))]
    for chunk in _chunks(hosts):
        db.execute("DELETE FROM updates WHERE host IN (%s) AND run_id = ?" % _marks(len(chunk)), chunk + [run_id])
    for table in ("hosts", "report_pieces", "runs"):
        db.execute("DELETE FROM %s WHERE run_id = ?" % table, (run_id,))
    return orphans


# ---- logical runs ------------------------------------------------------------------------------
# The slices of one sliced AWX job are stored as runs of their own (each slice's callback appends
# its run) and read as one run: _awx_job.run_group names the group from these columns.
_GROUP_COLUMNS = ("awx_workflow_job_id", "awx_job_template_id")
_RUN_STATUS_RANK = ("completed", "failed", "aborted")


def _group_of(run_id, values):
    return _awx_job.run_group(run_id, dict(zip(("workflow_job_id", "job_template_id"), values)))


def _trend_point(run_ids, rows, merged_hosts):
    """One trend point of a logical run: run_ids newest first, rows {run_id: (ended_at, status,
    host_count, compliant_percent, summary)}; merged_hosts: its hosts, each once (several runs)."""
    newest = rows[run_ids[0]]
    summaries = [json.loads(rows[run_id][4]) for run_id in run_ids]
    point = {"run_id": run_ids[0], "ended_at": newest[0],
             "status": max((rows[run_id][1] for run_id in run_ids), key=_RUN_STATUS_RANK.index)}
    if merged_hosts is None:
        point.update(hosts=newest[2], compliant_percent=newest[3] if newest[2] else None,
                     by_status=summaries[0]["by_status"],
                     by_ring=_report_model.ring_points(summaries[0].get("by_ring")))
    else:
        by_status = _report_model.status_counts(merged_hosts)
        point.update(hosts=len(merged_hosts),
                     compliant_percent=_report_model.percent(by_status["compliant"], len(merged_hosts)),
                     by_status=by_status,
                     by_ring=_report_model.ring_points(_report_model.grouped(merged_hosts, "ring")))
    # open updates add up over the slices: a sliced job's slices have no host in common
    opened = [_report_model.open_figures(summary) for summary in summaries]
    point["open"] = dict((key, sum(figures[key] for figures in opened)) for key in opened[0])
    return point


# ---- migrations -----------------------------------------------------------------------------

def _schema_version(db):
    if not db.has_table("schema_migrations"):
        return 0
    return db.query("SELECT MAX(version) FROM schema_migrations")[0][0] or 0


def _refuse_newer(version):
    newest = schema.MIGRATIONS[-1][0]
    if version > newest:
        raise _BadInput("it was written by a newer fleetpatch.patching (schema version %d; this one knows up to %d)"
                        % (version, newest))


def _migrate(db):
    version = _schema_version(db)
    _refuse_newer(version)
    if version == schema.MIGRATIONS[-1][0]:
        return
    with db.write_transaction():
        # Again under the write lock: another controller may have migrated in the meantime.
        db.execute(schema.MIGRATIONS_TABLE)
        applied = set(row[0] for row in db.query("SELECT version FROM schema_migrations"))
        _refuse_newer(max(applied or [0]))
        for number, name, statements in schema.MIGRATIONS:
            if number in applied:
                continue
            for statement in statements:
                db.execute(statement)
            db.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                       (number, name, _vocabulary.utc_stamp()))


# ---- the store -------------------------------------------------------------------------------

class HistoryStore(object):
    """Open with HistoryStore.open(location); usable as a context manager."""

    def __init__(self, db: _store_sqlite.SqliteConnection | _store_postgres.PostgresConnection) -> None:
        self._db = db
        self.location = db.location
        self._closed = False

    @classmethod
    def open(cls, location: str, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> HistoryStore:
        """location: a file path (SQLite, created with its directory if missing) or a
        postgresql:// URL. timeout: seconds to wait for another writer's lock."""
        try:
            db = _connection_for(location, timeout)
        except _store_postgres.DriverMissing as exc:
            shown = _store_postgres.redact_url(str(location))
            raise HistoryStoreError("Failed to open history store %s: %s" % (shown, exc), shown) from None
        store = cls(db)
        with store._failing("open"):
            try:
                db.connect()
                _migrate(db)
            except BaseException:
                db.close()
                raise
        return store

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return "HistoryStore(%r)" % self.location

    @contextlib.contextmanager
    def _failing(self, action):
        """Every failure leaves here, as one exception type naming the store, passwords removed.
        Never chained: a driver's exception may quote the connection string."""
        expected = (ValueError, TypeError, OSError) + tuple(self._db.errors)   # OSError: a document file
        try:
            if self._closed:
                raise _BadInput("the store is closed")
            yield
        except HistoryStoreError:
            raise
        except expected as exc:
            cause = self._db.scrub(" ".join(str(exc).split()) or exc.__class__.__name__)
            raise HistoryStoreError("Failed to %s history store %s: %s" % (action, self.location, cause),
                                    self.location) from None

    def append_run(self, report: dict[str, Any],
                   document: str | bytes | Callable[[], str | bytes] | _document.DocumentFile | None = None) -> None:
        """Store one compliance report in one transaction. A run_id already stored is replaced
        (the partial report of an aborted run, then the final one, are one run). document: the
        report as JSON text, zlib-compressed JSON (bytes) or packed text (_store/document.PACKED + base64),
        when the caller has it already; or a function returning one, or a DocumentFile (a file of
        the report's JSON: the callback's report.json), packed in a thread of its own while the rows
        are written; what it raises, append_run raises. Stored in pieces (_store/document.py)."""
        run_id = (report.get("run") or {}).get("run_id") if isinstance(report, dict) else None
        with self._failing("append run %s to" % (run_id or "(none)")):
            report = _check_report(report)
            self._write_run(report, document)

    def _write_run(self, report, document):
        run_id, ended_at = report["run"]["run_id"], report["run"]["ended_at"]
        # perf: a document file (report.json) or function is packed in a thread of its own while the
        # rows are written, and its pieces are written as they come, between batches of rows: 2.9 CPU s
        # of packing at 10,000 hosts x 50 updates (PACK_LEVEL) off the wall clock on two cores, and at
        # 100,000 hosts never the whole packed document (142 MB) held, let alone the driver's copies.
        pieces = _document.pieces_for(document, lambda: _json(report))
        try:
            with self._db.write_transaction():
                orphans = _delete_run(self._db, run_id)
                pointers = {}
                written = 0
                # One pass over the hosts (the callback's are read back from its spill file, one at a
                # time), their rows inserted a batch of hosts at a time: the hosts' rows, then their
                # updates, a multi-row INSERT per host.
                started_day = str(report["run"]["started_at"])[:10]
                for batch in _batches(self._rows_of(run_id, ended_at, report["hosts"], pointers), ROW_BATCH_HOSTS):
                    self._db.insert_rows("hosts", schema.HOST_COLUMNS, [host_row for host_row, _group in batch])
                    groups = [group for _row, group in batch if group]
                    self._db.insert_grouped_rows("updates", schema.UPDATE_COLUMNS, groups)
                    _keep_first_seen(self._db, groups, started_day)
                    written = self._write_pieces(run_id, pieces.ready(), written)
                _offer_history(self._db, pointers, orphans)
                _save_pointers(self._db, pointers)
                written = self._write_pieces(run_id, pieces.rest(), written)
                self._db.insert_rows("runs", schema.RUN_COLUMNS, [_run_row(report, _document.IN_PIECES + str(written))])
        except BaseException:
            pieces.cancel()
            raise

    def _write_pieces(self, run_id, pieces, written):
        """Insert pieces as the next of the run's report_pieces; returns how many it has now."""
        for piece in pieces:
            self._db.insert_rows("report_pieces", schema.PIECE_COLUMNS, [(run_id, written, piece)])
            written += 1
        return written

    def _read_pieces(self, run_id, count):
        """The run's report_pieces' text in order, up to count, one at a time (stops at a missing one)."""
        for number in range(count):
            rows = self._db.query("SELECT data FROM report_pieces WHERE run_id = ? AND piece = ?", (run_id, number))
            if not rows:
                return
            yield rows[0][0]

    @staticmethod
    def _rows_of(run_id, ended_at, hosts, pointers):
        """(host row, ((run_id, host), update rows) or None) for each host; offers each host's
        pointer to pointers."""
        key = (ended_at, run_id)
        for host in hosts:
            _check_host(host)
            _offer(pointers, host["host"], key, bool(host.get("assessed_at")))
            updates = host.get("updates")
            yield (_host_row(run_id, ended_at, host),
                   ((run_id, host["host"]), _host_update_rows(updates)) if updates else None)

    def delete_run(self, run_id: str) -> bool:
        """Remove one run (retention); each host's latest run falls back to its previous one.
        Returns whether the run was stored."""
        with self._failing("delete run %s from" % run_id):
            with self._db.write_transaction():
                found = bool(self._db.query("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)))
                pointers = {}
                _offer_history(self._db, pointers, _delete_run(self._db, run_id))
                _save_pointers(self._db, pointers)
        return found

    def prune(self, before: datetime.date | str) -> list[str]:
        """Delete the runs that ended before `before` (a date, datetime or ISO string), except a
        run that is still some host's latest run or latest assessment: the history goes, every
        host's current state stays (a host unreachable for months still shows what it lacked).
        First-seen dates survive (first_seen_dates). Returns the deleted run ids, oldest first. One
        transaction; on SQLite, VACUUM gives the space back."""
        with self._failing("prune runs from"):
            cutoff = _timestamp(before)
            with self._db.write_transaction():
                pruned = [row[0] for row in self._db.query(
                    "SELECT run_id FROM runs WHERE ended_at < ? "
                    "AND run_id NOT IN (SELECT run_id FROM host_latest) "
                    "AND run_id NOT IN (SELECT assessed_run_id FROM host_latest WHERE assessed_run_id IS NOT NULL) "
                    "ORDER BY ended_at, run_id", (cutoff,))]
                for run_id in pruned:
                    _delete_run(self._db, run_id)     # no host points at it: nothing to re-point
        return pruned

    def trend(self, limit: int = TREND_LIMIT, before_run_id: str | None = None,
              awx: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Trend points (the report schema's trend_point) of the last `limit` logical runs that ended
        before run `before_run_id` (all runs but it, if it is not stored), oldest first. The slices
        of one sliced AWX job (_awx_job.run_group) are one point; the other slices of
        `before_run_id`'s own job are left out (awx: its run.awx, when it is not stored yet)."""
        with self._failing("read the trend from"):
            where, params = "", []
            own_group = _awx_job.run_group(before_run_id, awx) if before_run_id is not None else None
            if before_run_id is not None:
                ended = self._db.query("SELECT ended_at, %s FROM runs WHERE run_id = ?" % ", ".join(_GROUP_COLUMNS),
                                       (before_run_id,))
                if ended:
                    where = "WHERE ended_at < ? OR (ended_at = ? AND run_id < ?)"
                    params = [ended[0][0], ended[0][0], before_run_id]
                    own_group = _group_of(before_run_id, ended[0][1:])
                else:
                    where, params = "WHERE run_id <> ?", [before_run_id]
            # Which runs, newest first, grouped; then the summaries of the `limit` newest groups only.
            groups = {}
            for row in self._db.query("SELECT run_id, %s FROM runs %s ORDER BY ended_at DESC, run_id DESC"
                                      % (", ".join(_GROUP_COLUMNS), where), params):
                group = _group_of(row[0], row[1:])
                if group != own_group and (group in groups or len(groups) < int(limit)):
                    groups.setdefault(group, []).append(row[0])
            members = [run_id for run_ids in groups.values() for run_id in run_ids]
            rows = dict((row[0], row[1:]) for chunk in _chunks(members) for row in self._db.query(
                "SELECT run_id, ended_at, status, host_count, compliant_percent, summary FROM runs "
                "WHERE run_id IN (%s)" % _marks(len(chunk)), chunk))
            points = [_trend_point(run_ids, rows, self._merged_hosts(run_ids) if len(run_ids) > 1 else None)
                      for run_ids in groups.values()]
        return list(reversed(points))

    def _merged_hosts(self, run_ids):
        """The host entries of several runs of one logical run, each host as the newest of them saw
        it: {status, ring, counts} (what a trend point counts)."""
        newest = {}
        for chunk in _chunks(run_ids):
            for row in self._db.query("SELECT host, ended_at, run_id, status, ring, %s FROM hosts WHERE run_id IN (%s)"
                                      % (", ".join(schema.COUNT_COLUMNS), _marks(len(chunk))), chunk):
                if row[0] not in newest or row[1:3] > newest[row[0]][1:3]:
                    newest[row[0]] = row
        return [{"status": row[3], "ring": row[4], "counts": dict(zip(schema.COUNT_COLUMNS, row[5:]))}
                for _host, row in sorted(newest.items())]

    def first_seen(self, hosts: str | Iterable[str] | None = None) -> dict[tuple[str, str, str], str]:
        """{(host, name, available_version): "YYYY-MM-DD"}: the earliest date any stored run saw
        that update offered to that host (the host's own first-seen date, or the run's start),
        so approval delays and SLA clocks survive a host whose state was wiped. Kept when runs are
        deleted or pruned: the store's memory of when it first saw each update. hosts: limit to
        these inventory names. perf: read from first_seen_dates, kept up to date on append, rather
        than grouped from every stored run's rows (1.1 s per stored run at 10,000 hosts x 50
        updates, bench/compliance_pipeline_bench.py --previous-runs, 2026-12-02)."""
        sql = "SELECT host, name, available_version, first_seen FROM first_seen_dates %s"
        with self._failing("read first-seen dates from"):
            if hosts is None:
                batches = [self._db.query(sql % "")]
            else:
                names = [hosts] if isinstance(hosts, str) else sorted(set(hosts))
                batches = (self._db.query(sql % ("WHERE host IN (%s)" % _marks(len(chunk))), chunk)
                           for chunk in _chunks(names))
            return dict(((host, name, version), day) for rows in batches for host, name, version, day in rows)

    # The join both readers of SLA breaches share: each host's rows of its newest run that assessed it
    # (CROSS JOIN makes SQLite walk the pointers and look each host's rows up, rather than scan every
    # stored update; PostgreSQL plans it as the plain join it is), approved, still open, due before ?.
    _BREACHES = ("FROM host_latest l CROSS JOIN updates u WHERE u.host = l.host AND u.run_id = l.assessed_run_id "
                 "AND u.decision = 'approved' AND u.state IN (%s) AND u.sla_due IS NOT NULL AND u.sla_due < ?"
                 % _marks(len(OPEN_STATES)))

    def sla_breaches(self, now: datetime.date | str | None = None) -> list[dict[str, Any]]:
        """Approved updates still missing (or failed) past their sla_due, as of each host's latest
        run that assessed it: [{host, name, arch, version, sla_due, days_overdue, severity,
        classification, state, run_id}], most overdue first. now: a date, datetime or ISO
        string; today (UTC) by default. One dict per overdue update of the fleet: what needs only
        each host's count reads sla_breach_counts()."""
        with self._failing("read SLA breaches from"):
            today = _day(now if now is not None else _utc_now())
            rows = self._db.query(
                "SELECT u.host, u.name, u.arch, u.available_version, u.sla_due, u.severity, u.classification, "
                "u.state, u.run_id " + self._BREACHES, list(OPEN_STATES) + [today])
            # A stored date that is no calendar day (an older run's host wrote 2026-02-30) is skipped,
            # never a failure of the whole query: one host's bad data never hurts another.
            breaches = [{"host": host, "name": name, "arch": arch, "version": version, "sla_due": sla_due[:10],
                         "days_overdue": overdue, "severity": severity, "classification": classification,
                         "state": state, "run_id": run_id}
                        for host, name, arch, version, sla_due, severity, classification, state, run_id in rows
                        for overdue in [_host_values.days_between(sla_due, today)] if overdue is not None]
        breaches.sort(key=lambda b: (-b["days_overdue"], b["host"], b["name"], b["arch"] or ""))
        return breaches

    def sla_breach_counts(self, now: datetime.date | str | None = None) -> dict[str, list[Any]]:
        """{host: [count, earliest sla_due]}: sla_breaches() counted per host, the form the fleet state
        and the compliance inventory keep. Counted by the database a due day at a time, so that no row
        per overdue update is ever held: with sla_breaches() the end of a run's peak grew by 113 MiB at
        10,000 hosts x 50 updates once the store held an earlier run of that fleet (bench/
        compliance_pipeline_bench.py --previous-runs 1, 2026-12-02): 1.1 GiB extrapolated to 100,000."""
        with self._failing("read SLA breaches from"):
            today = _day(now if now is not None else _utc_now())
            rows = self._db.query(
                "SELECT u.host, substr(u.sla_due, 1, 10), COUNT(*) " + self._BREACHES
                + " GROUP BY u.host, substr(u.sla_due, 1, 10)", list(OPEN_STATES) + [today])
        counts = {}
        for host, due, count in rows:
            # as sla_breaches(): a stored date that is no calendar day counts nothing
            if _host_values.days_between(due, today) is None:
                continue
            known = counts.get(host)
            if known is None:
                counts[host] = [int(count), due]
            else:
                known[0] += int(count)
                if due < known[1]:
                    known[1] = due
        return counts

    def latest_hosts(self, skip: Collection[str] = ()) -> list[dict[str, Any]]:
        """Each host's entry in its latest run: [{host, run_id, ended_at, ring, status, os,
        pkg_mgr, policy, assessed_at, reboot_required, rebooted, rolled_back, counts}], by host.
        skip: hosts left out (the fleet state's run replaces their entries: 2 KB a host it need not
        hold, 100 MiB at 30,000 hosts, bench/compliance_pipeline_bench.py --previous-runs 1)."""
        columns = ("host", "run_id", "ended_at", "ring", "status", "os", "pkg_mgr", "policy", "assessed_at",
                   "reboot_required", "rebooted", "rolled_back")
        with self._failing("read the latest host states from"):
            rows = self._db.query(
                "SELECT %s FROM host_latest l JOIN hosts h ON h.run_id = l.run_id AND h.host = l.host"
                % ", ".join("h." + c for c in columns + schema.COUNT_COLUMNS))
        flags = ("reboot_required", "rebooted", "rolled_back")
        hosts = []
        for row in rows:
            if row[0] in skip:
                continue
            entry = dict(zip(columns, row[:len(columns)]))
            entry.update((flag, bool(entry[flag])) for flag in flags)
            entry["counts"] = dict(zip(schema.COUNT_COLUMNS, row[len(columns):]))
            hosts.append(entry)
        hosts.sort(key=lambda h: h["host"])
        return hosts

    def last_assessed(self, skip: Collection[str] = ()) -> dict[str, dict[str, Any]]:
        """{host: {run_id, ended_at, assessed_at, status, counts}}: each host's newest run that
        assessed it, with what that assessment found (its last known state), which is older than
        its latest_hosts() entry when later runs could not reach it or did not assess it. Hosts
        that no stored run assessed are absent. skip: hosts left out (as latest_hosts())."""
        with self._failing("read the last assessments from"):
            rows = self._db.query(
                "SELECT l.host, l.assessed_run_id, l.assessed_ended_at, h.assessed_at, h.status, %s "
                "FROM host_latest l JOIN hosts h ON h.run_id = l.assessed_run_id AND h.host = l.host"
                % ", ".join("h." + c for c in schema.COUNT_COLUMNS))
        return {row[0]: {"run_id": row[1], "ended_at": row[2], "assessed_at": row[3], "status": row[4],
                         "counts": dict(zip(schema.COUNT_COLUMNS, row[5:]))}
                for row in rows if row[0] not in skip}

    def remediation_days(self, since: datetime.date | str) -> dict[str, tuple[int, float]]:
        """{severity: (updates installed, mean days from first seen to installed)} over the runs
        that ended at or after `since` (a date, datetime or ISO string): mean time to remediate.
        From each run's summary (its `remediated` figures, counted when the report was built), so
        it reads one row per run. perf: counting the installed update rows instead took 11 s over
        10,000 hosts x 90 runs (bench/fleet_views_bench.py). Runs stored without those figures
        (before fleetpatch.patching 0.1.0's views) count nothing."""
        with self._failing("read remediation times from"):
            rows = self._db.query("SELECT summary FROM runs WHERE ended_at >= ?", (_timestamp(since),))
        totals = {}
        for (summary,) in rows:
            for severity, figures in (json.loads(summary).get("remediated") or {}).items():
                count, days = totals.get(severity, (0, 0))
                totals[severity] = (count + int(figures.get("count") or 0), days + int(figures.get("days") or 0))
        return dict((severity, (count, round(float(days) / count, 1)))
                    for severity, (count, days) in totals.items() if count)

    def previous_open_updates(self, hosts: Iterable[str],
                              before: datetime.date | str) -> dict[str, set[tuple[str, str | None, str]]]:
        """{host: {(name, arch, available_version)}}: the updates each of these hosts still needed at its
        last stored assessment, if that ended before `before` (an ISO timestamp; the run being reported
        is not stored yet, or is its own earlier, aborted copy, which is left out): what "new" and
        "resolved since the previous run" compare with. Hosts never assessed before are absent. Only
        the hosts asked for are read (the callback asks a batch at a time: the whole fleet's open
        updates held at once grew the end of a run's peak by 69 MiB at 10,000 hosts x 50 updates,
        bench/compliance_pipeline_bench.py --previous-runs 1, 2026-12-02)."""
        cutoff = _timestamp(before)
        found = {}
        with self._failing("read earlier assessments from"):
            for chunk in _chunks(sorted(set(hosts))):
                marks = _marks(len(chunk))
                for host, ended_at in self._db.query(
                        "SELECT host, assessed_ended_at FROM host_latest WHERE assessed_run_id IS NOT NULL "
                        "AND host IN (%s)" % marks, chunk):
                    if ended_at < cutoff:
                        found[host] = set()
                # As sla_breaches(): walk the pointers, look each host's rows up.
                for host, name, arch, version in self._db.query(
                        "SELECT u.host, u.name, u.arch, u.available_version FROM host_latest l CROSS JOIN updates u "
                        "WHERE l.host IN (%s) AND u.host = l.host AND u.run_id = l.assessed_run_id "
                        "AND l.assessed_ended_at < ? AND u.state IN (%s)" % (marks, _marks(len(OPEN_STATES))),
                        list(chunk) + [cutoff] + list(OPEN_STATES)):
                    if host in found:
                        found[host].add((name, arch, version))
        return found

    def get_report(self, run_id: str) -> dict[str, Any] | None:
        """The report document as appended (a document of an earlier schema_version upgraded,
        _report_model.upgrade()), or None if the run is not stored."""
        with self._failing("read run %s from" % run_id):
            rows = self._db.query("SELECT report FROM runs WHERE run_id = ?", (run_id,))
            if not rows:
                return None
            # perf: parsing a 10,000-host x 50-update document (211 MB) takes 2.0-2.4 CPU s with the
            # collector paused, 5.8-6.6 s without (2026-12-02, docs/benchmarks.md): every object it
            # makes stays alive, so each full collection walks all of them for nothing.
            with _gc.collector_paused():
                return _report_model.upgrade(json.loads(
                    _document.unpack(rows[0][0], lambda count: self._read_pieces(run_id, count))))

    def runs(self, since: datetime.date | str | None = None, until: datetime.date | str | None = None) -> list[dict[str, Any]]:
        """The stored runs that started in [since, until), oldest first: each run's metadata
        (the report's run object) with its host count and compliant_percent, and `group`: the
        logical run it is part of (logical_run(); its own run_id unless it is an AWX job's slice)."""
        awx_columns = tuple(column for _key, column in schema.AWX_COLUMNS)
        columns = ("run_id", "started_at", "ended_at", "status", "aborted_by", "check_mode", "controller",
                   "playbooks", "ansible_version", "collection_version", "host_count", "compliant_percent") + awx_columns
        with self._failing("list runs in"):
            where, params = [], []
            if since is not None:
                where.append("started_at >= ?")
                params.append(_timestamp(since))
            if until is not None:
                where.append("started_at < ?")
                params.append(_timestamp(until))
            rows = self._db.query("SELECT %s FROM runs %s ORDER BY started_at, run_id" % (
                ", ".join(columns), ("WHERE " + " AND ".join(where)) if where else ""), params)
        runs = []
        for row in rows:
            run = dict(zip(columns, row))
            run["check_mode"] = bool(run["check_mode"])
            run["playbooks"] = json.loads(run["playbooks"])
            run["hosts"] = run.pop("host_count")
            awx = dict((key, run.pop(column)) for key, column in schema.AWX_COLUMNS)
            run["awx"] = awx if awx["job_id"] is not None else None
            run["group"] = _awx_job.run_group(run["run_id"], run["awx"])
            runs.append(run)
        return runs

    def logical_run(self, run_id: str) -> list[str]:
        """The run ids of the logical run `run_id` belongs to, oldest first: every slice of a sliced
        AWX job (the runs of one job template in one workflow job), or the run alone. run_id: a
        stored run's id, or a group's name (_awx_job.run_group, "awx-workflow-45-template-7").
        [] when neither is stored."""
        with self._failing("read run %s from" % run_id):
            job = _awx_job.group_job(run_id)
            if job is None:
                stored = self._db.query("SELECT %s FROM runs WHERE run_id = ?" % ", ".join(_GROUP_COLUMNS), (run_id,))
                if not stored:
                    return []
                job = stored[0] if None not in stored[0] else None
            if job is None:
                return [run_id]
            return [row[0] for row in self._db.query(
                "SELECT run_id FROM runs WHERE %s = ? AND %s = ? ORDER BY ended_at, run_id" % _GROUP_COLUMNS,
                list(job))]

    def migrations(self) -> list[dict[str, Any]]:
        """The applied schema migrations: [{version, name, applied_at}], in order."""
        with self._failing("read the schema version of"):
            rows = self._db.query("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
        return [{"version": v, "name": n, "applied_at": a} for v, n, a in rows]

    def close(self) -> None:
        if not self._closed:
            with self._failing("close"):
                self._closed = True
                self._db.close()
