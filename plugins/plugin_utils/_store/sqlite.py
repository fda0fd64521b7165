# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The history store's SQLite connection: a file on the controller, zero set-up. Private to this
collection: may change without notice.

The same small interface as _store_postgres (connect, has_table, query, execute, insert_rows,
insert_grouped_rows, write_transaction, scrub, close); _history_store holds every query and turns
errors into HistoryStoreError.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
from typing import Any, Iterable, Iterator, Sequence

# The history names hosts and the vulnerabilities they still carry: keep it to the controller user.
from ansible_collections.fleetpatch.patching.plugins.module_utils._files import FILE_MODE, private_directory

NAME = "sqlite"


def _create_private(path):
    """An empty file is a valid new SQLite database; creating it ourselves sets its mode (SQLite
    gives the -wal and -shm files the database file's mode)."""
    private_directory(os.path.dirname(path))
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass   # another controller created it first


# Rows per multi-row INSERT: powers of two up to this, so that a few statements (each prepared once
# and cached) serve every group size.
LARGEST_BLOCK = 64


def _largest_block(variable_limit, prefix_width, row_width):
    fits = max(1, (variable_limit - prefix_width) // row_width)
    block = 1
    while block * 2 <= min(fits, LARGEST_BLOCK):
        block *= 2
    return block


def _block_size(remaining, largest):
    """The next statement's row count: the largest block while it fits, then the binary
    decomposition of the rest (50 rows: 32 + 16 + 2)."""
    if remaining >= largest:
        return largest
    block = 1
    while block * 2 <= remaining:
        block *= 2
    return block


class SqliteConnection(object):
    errors = (sqlite3.Error, OSError)

    def __init__(self, location: str, timeout: float) -> None:
        self.path = os.path.abspath(os.path.expanduser(location))
        self.location = self.path
        self.timeout = timeout
        self._conn = None
        self._grouped_sql = {}

    def connect(self) -> None:
        if not os.path.exists(self.path):
            _create_private(self.path)
        # isolation_level=None: transactions are begun explicitly (BEGIN IMMEDIATE), never implicitly
        # by the sqlite3 module. timeout is SQLite's busy timeout: a second controller appending at
        # the same moment waits for the first instead of failing.
        # check_same_thread=False: the callback closes the store (which checkpoints the WAL) from a
        # thread of its own while it draws the other files; a store is never used by two at once.
        self._conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        # WAL: readers (the inventory plugin, reports) never block the writer nor see half a run.
        mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError("cannot use write-ahead logging (journal mode stays %s)" % mode)
        # NORMAL is WAL's recommended setting: a crash or power loss can lose the last run appended,
        # never corrupt the store; FULL would sync every commit, and a 10,000-host run is 300 MB of WAL.
        self._conn.execute("PRAGMA synchronous=NORMAL")
        # A big run's rows sort and build the index in memory rather than in temporary files.
        self._conn.execute("PRAGMA temp_store=MEMORY")
        # No checkpoint inside COMMIT (copying a big run from the WAL into the database file): close()
        # does it, which the callback runs beside its other work.
        self._conn.execute("PRAGMA wal_autocheckpoint=0")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(sql, params)

    def has_table(self, name: str) -> bool:
        return bool(self.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))

    def insert_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        sql = "INSERT INTO %s (%s) VALUES (%s)" % (table, ", ".join(columns), ", ".join("?" * len(columns)))
        self._conn.executemany(sql, rows)

    def insert_grouped_rows(self, table: str, columns: tuple[str, ...],
                            groups: Iterable[tuple[Sequence[Any], Sequence[Sequence[Any]]]]) -> None:
        """groups: (prefix, rows) pairs; each stored row is prefix + row (a host's updates share
        its run and name). One multi-row INSERT per group, the prefix bound once: the sqlite3
        module releases the GIL around each statement it steps, so a statement per row would hand
        the GIL back and forth half a million times while the callback draws its other files."""
        limit = self._conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        # perf: a group's statements ((start, end, SQL) each) are worked out once per group shape, and
        # each statement's values joined in C: this Python work was an eighth of append_run's time
        # at 2,000 hosts x 50 updates (cProfile, 2026-12-02); append_run without its document, six
        # alternated rounds on a loaded machine: 0.84 CPU s mean instead of 0.90.
        plans = {}
        execute, chain = self._conn.execute, itertools.chain
        for prefix, rows in groups:
            shape = (len(prefix), len(rows))
            plan = plans.get(shape)
            if plan is None:
                plan = plans[shape] = self._plan(table, columns, len(prefix), len(rows), limit)
            for start, end, sql in plan:
                execute(sql, list(chain(prefix, chain.from_iterable(rows[start:end]))))

    def _plan(self, table, columns, prefix_width, row_count, limit):
        largest = _largest_block(limit, prefix_width, len(columns) - prefix_width)
        plan = []
        start = 0
        while start < row_count:
            count = _block_size(row_count - start, largest)
            plan.append((start, start + count, self._grouped_insert(table, columns, prefix_width, count)))
            start += count
        return plan

    def _grouped_insert(self, table, columns, prefix_width, row_count):
        key = (table, columns, prefix_width, row_count)
        sql = self._grouped_sql.get(key)
        if sql is None:
            # Numbered parameters: ?1..?prefix_width in every row, then each row's own values.
            shared = ["?%d" % (n + 1) for n in range(prefix_width)]
            width = len(columns) - prefix_width
            rows = ("(%s)" % ", ".join(shared + ["?%d" % (prefix_width + r * width + n + 1) for n in range(width)])
                    for r in range(row_count))
            sql = "INSERT INTO %s (%s) VALUES %s" % (table, ", ".join(columns), ", ".join(rows))
            self._grouped_sql[key] = sql
        return sql

    @contextlib.contextmanager
    def write_transaction(self) -> Iterator[None]:
        # IMMEDIATE takes the write lock now, so concurrent writers queue on the busy timeout
        # instead of failing when a read transaction cannot be upgraded.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise

    def scrub(self, text: str) -> str:
        return text

    def close(self) -> None:
        if self._conn is not None:
            try:
                # PASSIVE: copies what no reader still needs and never waits for one; the last
                # connection to close checkpoints the rest anyway.
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                self._conn.close()
                self._conn = None
