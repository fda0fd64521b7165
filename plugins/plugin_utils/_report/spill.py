# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compliance callback's spill file: a host's heavy data (its records' updates, its changes)
leaves memory as it arrives, into a temporary SQLite file beside the report, and the end of the
run reads it back one host at a time. What stays in memory per host is small (HostObservations
without those lists), so the callback's memory does not grow with the updates of the fleet.
Private to this collection: may change without notice.

The file (report_dir/.spill-<run id>-<pid>.sqlite, private) holds two tables:
  pieces:  the lists taken out of a HostObservations, each replaced in memory by a Spilled marker,
           marshalled (JSON text for what marshal refuses, such as a str subclass);
  entries: each host's finished report entry, written by the end of the run and read back by every
           file drawn from the report (SpilledHosts): as report.json's compact JSON, copied into it
           as is, and marshalled, which every other reader decodes (three times faster than JSON;
           the file never outlives the process that wrote it, so marshal's format is safe).
It is removed when the run's report is written (remove()); nothing in it outlives the run.
"""

from __future__ import annotations

import copy
import json
import marshal
import os
import sqlite3
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from ansible_collections.fleetpatch.patching.plugins.module_utils._files import FILE_MODE, private_directory

if TYPE_CHECKING:
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report.model import HostObservations

# The HostObservations lists that hold a host's bulk: spilled when not empty.
SPILLED_FIELDS = ("updates", "changes")

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_decode = json.JSONDecoder().decode


class Spilled(object):
    """Stands in memory for a list kept in the spill file. True like the non-empty list it replaces
    (HostObservations asks `if self.updates:`)."""

    __slots__ = ("piece",)

    def __init__(self, piece: int) -> None:
        self.piece = piece

    def __bool__(self) -> bool:
        return True


class Spill(object):
    """Open with Spill.create(report_dir, run_id); one per run, used by the controller process only."""

    def __init__(self, path: str) -> None:
        self.path = path
        private_directory(os.path.dirname(path))
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        os.close(fd)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # A scratch file: a crash loses the run's report anyway, so no journal and no sync.
        self._conn.execute("PRAGMA journal_mode=OFF")
        self._conn.execute("PRAGMA synchronous=OFF")
        # data: marshal's bytes (a BLOB), or JSON text for a piece marshal refuses
        self._conn.execute("CREATE TABLE pieces (piece INTEGER PRIMARY KEY, data BLOB NOT NULL)")
        self._conn.execute("CREATE TABLE entries (host TEXT PRIMARY KEY, text TEXT NOT NULL, data BLOB NOT NULL)")
        # One transaction open while results arrive: a commit per result would sync nothing (synchronous
        # is off) but still costs a journal round; read-backs see the transaction's own writes.
        self._conn.execute("BEGIN")

    @classmethod
    def create(cls, report_dir: str, run_id: str) -> Spill:
        from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import files as _report_files
        name = ".spill-%s-%d.sqlite" % (_report_files.safe_name(run_id), os.getpid())
        return cls(os.path.join(report_dir, name))

    # --- while the run goes on: observations -------------------------------------------------------

    def _put(self, value):
        # perf: marshal, not JSON: the pieces' encoding took 3.3 and their decoding 2.4 of the 48 CPU s
        # of a run at 10,000 hosts x 50 updates (bench/compliance_pipeline_bench.py, /tmp/prof-639.txt);
        # marshal is 3-5 times faster both ways, and the file never outlives the process that wrote it.
        # What a module returns (decoded from JSON) comes back from either as it went in; a lone
        # surrogate a host sent, which SQLite's UTF-8 text refused, now spills too.
        try:
            data = marshal.dumps(value)
        except ValueError:      # a str subclass (Ansible's unsafe text) is no marshal type: JSON's plain copy
            data = _encode(value)
        return self._conn.execute("INSERT INTO pieces (data) VALUES (?)", (data,)).lastrowid

    def _get(self, marker):
        data = self._conn.execute("SELECT data FROM pieces WHERE piece = ?", (marker.piece,)).fetchone()[0]
        return marshal.loads(data) if data.__class__ is bytes else _decode(data)

    def stash(self, obs: HostObservations) -> None:
        """Move obs's heavy lists into the file; the markers left behind are what restored() reads."""
        for field in SPILLED_FIELDS:
            value = getattr(obs, field)
            if isinstance(value, list) and value:
                setattr(obs, field, Spilled(self._put(value)))
        earlier = obs.earlier_updates
        if any(isinstance(item, list) for item in earlier):
            obs.earlier_updates = [Spilled(self._put(item)) if isinstance(item, list) else item for item in earlier]

    def restored(self, obs: HostObservations) -> HostObservations:
        """A copy of obs with its lists read back (obs keeps its markers: an aborted run's report can be
        drawn again when the run ends after all)."""
        full = copy.copy(obs)
        # The copy checks its updates with a HostValues of its own (its lists and dicts copied): the
        # warnings checking them gives go with the copy, not into the observations the callback keeps
        # until the run ends.
        full.values = copy.copy(obs.values)
        full.values.__dict__.update((key, copy.copy(value)) for key, value in vars(obs.values).items()
                                    if isinstance(value, (dict, list)))
        for field in SPILLED_FIELDS:
            value = getattr(obs, field)
            if isinstance(value, Spilled):
                setattr(full, field, self._get(value))
        full.earlier_updates = [self._get(item) if isinstance(item, Spilled) else item for item in obs.earlier_updates]
        return full

    # --- at the end: the finished host entries -----------------------------------------------------

    def clear_entries(self) -> None:
        self._conn.execute("DELETE FROM entries")

    def put_entry(self, host: str, entry: dict[str, Any], text: str) -> None:
        """entry: the host's report entry; text: the same as report.json holds it (compact JSON)."""
        try:
            data = marshal.dumps(entry)
        except ValueError:      # a str subclass (Ansible's unsafe text) is no marshal type: its plain copy is
            data = marshal.dumps(_decode(text))
        self._conn.execute("INSERT OR REPLACE INTO entries (host, text, data) VALUES (?, ?, ?)", (host, text, data))

    def entry_texts(self) -> Iterator[str]:
        """The entries' JSON text, by host name."""
        for (text,) in self._conn.execute("SELECT text FROM entries ORDER BY host"):
            yield text

    def entries(self, hosts: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        """The entries, by host name, or in the order of hosts (names)."""
        if hosts is None:
            for (data,) in self._conn.execute("SELECT data FROM entries ORDER BY host"):
                yield marshal.loads(data)
            return
        for host in hosts:
            yield marshal.loads(self._conn.execute("SELECT data FROM entries WHERE host = ?", (host,)).fetchone()[0])

    def remove(self) -> None:
        """Close and delete the file (twice is harmless)."""
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
        for suffix in ("", "-journal"):
            try:
                os.unlink(self.path + suffix)
            except FileNotFoundError:
                pass


def briefs(hosts: Sequence[dict[str, Any]] | SpilledHosts) -> Sequence[dict[str, Any]]:
    """A report's hosts for what needs no update or change of theirs (names, statuses, counts): the
    briefs of SpilledHosts, held in memory, else the host entries themselves."""
    return getattr(hosts, "briefs", hosts)


class SpilledHosts(object):
    """A report's `hosts`, read from the spill file each time it is iterated, one entry at a time, by
    host name as report.json lists them. briefs: each host's entry without its updates and changes, by
    host name (what the summary and the order of the hosts are computed from, kept in memory)."""

    def __init__(self, spill: Spill, briefs: list[dict[str, Any]]) -> None:
        self.spill = spill
        self.briefs = briefs

    def __len__(self) -> int:
        return len(self.briefs)

    def __bool__(self) -> bool:
        return bool(self.briefs)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self.spill.entries()

    def texts(self) -> Iterator[str]:
        """The entries as report.json writes them: their JSON text, never decoded."""
        return self.spill.entry_texts()

    def ordered(self, key: Callable[[dict[str, Any]], Any]) -> Iterator[dict[str, Any]]:
        """The entries sorted by key (a function of an entry that reads no update or change: it is
        given the brief), read one at a time."""
        return self.spill.entries([brief["host"] for brief in sorted(self.briefs, key=key)])

    def named(self, names: Iterable[str]) -> Iterator[dict[str, Any]]:
        """The entries of these host names, in their order, read one at a time."""
        return self.spill.entries(names)
