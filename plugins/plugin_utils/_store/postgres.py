# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The history store's PostgreSQL connection, for AWX and for several controllers sharing one
history. Private to this collection: may change without notice.

psycopg 3 is imported only when a postgresql:// URL is used, so SQLite users need nothing beyond
the standard library. The URL is handed to libpq as it is (sslmode, options=-c search_path=...,
and PGPASSWORD or ~/.pgpass instead of a password in the URL all work); only its redacted form
is ever shown.
"""

from __future__ import annotations

import contextlib
import importlib
from typing import Any, Iterable, Iterator, Sequence

from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

NAME = "postgresql"
SCHEMES = ("postgresql", "postgres")
REDACTED = "***"
CONNECT_TIMEOUT_SECONDS = 10
# Appends and migrations take this transaction-level advisory lock, so writers from several
# controllers queue one after the other, as they do on SQLite (b"fleetpat" as a big-endian int).
WRITE_LOCK_KEY = 0x666C656574706174


class DriverMissing(Exception):
    pass


def is_url(location: Any) -> bool:
    return str(location).split("://", 1)[0].lower() in SCHEMES and "://" in str(location)


def _secrets(url):
    """Every password the URL carries, as written and percent-decoded."""
    parts = urlsplit(url)
    found = []
    userinfo = parts.netloc.rpartition("@")[0]
    if ":" in userinfo:
        found.append(userinfo.split(":", 1)[1])
    found.extend(value for key, value in parse_qsl(parts.query, keep_blank_values=True) if key == "password")
    found.extend(unquote(s) for s in list(found))
    return sorted(set(s for s in found if s), key=len, reverse=True)


def redact_url(url: str) -> str:
    """The URL without its password (in the user part or as a password= parameter)."""
    parts = urlsplit(url)
    userinfo, at, hostinfo = parts.netloc.rpartition("@")
    if ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":" + REDACTED
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(key == "password" for key, value in pairs):
        query = urlencode([(key, REDACTED if key == "password" else value) for key, value in pairs], safe="*")
    return urlunsplit((parts.scheme, userinfo + at + hostinfo, parts.path, query, parts.fragment))


def _import_psycopg():
    try:
        return importlib.import_module("psycopg")
    except ImportError as exc:
        raise DriverMissing("the Python package psycopg (version 3) is not installed on the controller"
                            " (pip install 'psycopg[binary]'): %s" % exc)


class PostgresConnection(object):

    def __init__(self, location: Any, timeout: float) -> None:
        self._url = str(location)
        self._secrets = _secrets(self._url)
        self.location = redact_url(self._url)
        self.timeout = timeout
        self._psycopg = _import_psycopg()
        self.errors = (self._psycopg.Error,)
        self._conn = None

    def connect(self) -> None:
        options = {"autocommit": True, "application_name": "fleetpatch.patching"}
        if "connect_timeout" not in self._url:
            options["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        self._conn = self._psycopg.connect(self._url, **options)
        # Like SQLite's busy timeout: wait for another controller's lock, but not for ever.
        self._conn.execute("SELECT set_config('lock_timeout', %s, false)", ("%ds" % self.timeout,))

    @staticmethod
    def _sql(sql):
        return sql.replace("?", "%s")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(self._sql(sql), params).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(self._sql(sql), params)

    def has_table(self, name: str) -> bool:
        # to_regclass follows search_path, so a schema chosen in the URL (options=-c search_path=...) counts.
        return bool(self.query("SELECT to_regclass(?) IS NOT NULL", (name,))[0][0])

    def insert_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        # COPY: one stream instead of a statement per row; half a million update rows per run
        # is a normal report for a large fleet.
        with self._conn.cursor() as cursor:
            with cursor.copy("COPY %s (%s) FROM STDIN" % (table, ", ".join(columns))) as copy:
                for row in rows:
                    copy.write_row(row)

    def insert_grouped_rows(self, table: str, columns: tuple[str, ...],
                            groups: Iterable[tuple[Sequence[Any], Sequence[Sequence[Any]]]]) -> None:
        """groups: (prefix, rows) pairs; each stored row is prefix + row. COPY streams them all."""
        self.insert_rows(table, columns, (tuple(prefix) + tuple(row) for prefix, rows in groups for row in rows))

    @contextlib.contextmanager
    def write_transaction(self) -> Iterator[None]:
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,))
            yield

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
