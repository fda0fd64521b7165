# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report document as the history store keeps it: the JSON zlib-compressed at PACK_LEVEL, as
base64 text (one TEXT type serves both engines), in pieces of PIECE_CHARS characters, a row each
of the table report_pieces (migration 5); the run's row says how many (runs.report = IN_PIECES +
the count). Neither the packed document nor the database driver's copies of it are ever held
whole: a 100,000-host x 50-update run's packed document is about 142 MB, which the driver held
about three times over when it was one value. A run stored before migration 5 keeps its document
whole in runs.report (PACKED + the text, or plain JSON) and still reads back.
Private to this collection: may change without notice."""

from __future__ import annotations

import base64
import queue
import threading
import zlib
from typing import Any, Callable, Iterable, Iterator

from ansible_collections.fleetpatch.patching.plugins.module_utils._background import InBackground

# runs.report of a run stored before migration 5: the whole packed document
PACKED = "zlib+base64:"
# runs.report of a run whose document is in report_pieces: this, then the number of pieces
IN_PIECES = "zlib+base64+pieces:"
# perf: level 6 packs the 10,000-host report.json (211 MB) into 14.2 MB of text instead of 28.6 MB at
# level 1 (2.9 CPU s instead of 1.2; level 9: 13.4 MB in 9.0 s; level 4: 20.0 MB in 2.0 s), measured
# 2026-12-02 on bench/compliance_pipeline_bench.py's report: the store's file grows by that much a run.
PACK_LEVEL = 6
# Characters of base64 text a piece holds (a multiple of 4, so that every piece but the last decodes
# on its own): about 60 MB of report.json each; a 100,000-host document is about 35 pieces.
PIECE_CHARS = 4 << 20
_READ_BYTES = 1 << 20


def file_chunks(path: str, chunk_size: int = _READ_BYTES) -> Iterator[bytes]:
    """The bytes of a file, chunk_size at a time (a 100,000-host report.json is 2 GB)."""
    with open(path, "rb", buffering=0) as handle:
        while True:
            chunk = handle.read(chunk_size)
            if not chunk:
                return
            yield chunk


def pack_chunks(chunks: Iterable[bytes], piece_chars: int | None = None) -> Iterator[str]:
    """The pieces of base64 text of the zlib stream of the concatenated chunks: each piece_chars
    (PIECE_CHARS) long but the last, which is never empty. Joined, they are the base64 text of the
    whole stream."""
    compressor = zlib.compressobj(PACK_LEVEL)
    piece_bytes = (piece_chars or PIECE_CHARS) // 4 * 3
    pending = bytearray()
    for chunk in chunks:
        pending += compressor.compress(chunk)
        while len(pending) >= piece_bytes:
            yield base64.b64encode(pending[:piece_bytes]).decode("ascii")
            del pending[:piece_bytes]
    pending += compressor.flush()
    while len(pending) > piece_bytes:
        yield base64.b64encode(pending[:piece_bytes]).decode("ascii")
        del pending[:piece_bytes]
    yield base64.b64encode(pending).decode("ascii")


def pieces_of(document: str | bytes, piece_chars: int | None = None) -> Iterator[str]:
    """The pieces of a document given whole: its JSON text, its JSON zlib-compressed (bytes), or
    packed already (PACKED + base64 text, as runs.report held it before migration 5)."""
    if isinstance(document, bytes):
        text = base64.b64encode(document).decode("ascii")
    elif not isinstance(document, str):
        raise TypeError("the report document is %s, not JSON text nor zlib-compressed bytes"
                        % document.__class__.__name__)
    elif document.startswith(PACKED):
        text = document[len(PACKED):]
    else:
        yield from pack_chunks([document.encode("utf-8")], piece_chars)
        return
    step = (piece_chars or PIECE_CHARS) // 4 * 4
    for start in range(0, max(len(text), 1), step):
        yield text[start:start + step]


def unpack(stored: str, pieces: Callable[[int], Iterator[str]]) -> str:
    """The document's JSON text from runs.report; pieces(count) gives its report_pieces' text in
    order (count: how many the run's row says it has). A missing piece is a ValueError."""
    if stored.startswith(IN_PIECES):
        count = int(stored[len(IN_PIECES):])
        decompressor = zlib.decompressobj()
        text = bytearray()      # not a list of parts and their join: one copy fewer of a 2 GB document
        read = 0
        for piece in pieces(count):
            text += decompressor.decompress(base64.b64decode(piece))
            read += 1
        if read != count or not decompressor.eof:
            raise ValueError("its stored report document is incomplete (%d of %d pieces)" % (read, count))
        return text.decode("utf-8")
    if stored.startswith(PACKED):
        return zlib.decompress(base64.b64decode(stored[len(PACKED):])).decode("utf-8")
    return stored


_END = object()


class PiecesInBackground(object):
    """A document's pieces made in a thread of its own (pieces: a function returning them), handed
    over as they are ready, so that the caller writes them between its other writes and at most a
    few are held at a time. zlib releases the GIL while it compresses, as the database drivers do
    while they write: on two cores most of the packing costs no wall-clock time."""

    def __init__(self, pieces: Callable[[threading.Event], Iterable[str]]) -> None:
        """pieces(cancelled): the pieces; cancelled is set when they are no longer wanted."""
        self._queue = queue.SimpleQueue()
        self._cancelled = threading.Event()
        self._ended = False
        self._worker = InBackground(lambda: self._produce(pieces), name="fleetpatch-pack-document")

    def _produce(self, pieces):
        try:
            for piece in pieces(self._cancelled):
                if self._cancelled.is_set():
                    return
                self._queue.put(piece)
        finally:
            self._queue.put(_END)

    def ready(self) -> list[str]:
        """The pieces made since the last call, without waiting."""
        taken = []
        while not self._ended:
            try:
                piece = self._queue.get_nowait()
            except queue.Empty:
                break
            if piece is _END:
                self._ended = True
            else:
                taken.append(piece)
        return taken

    def rest(self) -> Iterator[str]:
        """Every piece not taken yet, waiting for each; then what pieces() raised, if it raised."""
        while not self._ended:
            piece = self._queue.get()
            if piece is _END:
                self._ended = True
            else:
                yield piece
        self._worker.result()

    def cancel(self) -> None:
        """Stop making pieces (the write they were for failed); the thread ends at its next piece."""
        self._cancelled.set()


def _until(cancelled: threading.Event, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks until cancelled is set: a failed write stops reading a 2 GB report.json at once."""
    for chunk in chunks:
        if cancelled.is_set():
            return
        yield chunk


class PiecesInPlace(object):
    """PiecesInBackground's interface for a document at hand: its pieces made as rest() is read, in
    the caller's thread (the report's own JSON may be read from the callback's spill file, whose
    connection is the caller's)."""

    def __init__(self, pieces: Callable[[], Iterable[str]]) -> None:
        self._pieces = pieces

    def ready(self) -> list[str]:
        return []

    def rest(self) -> Iterator[str]:
        return iter(self._pieces())

    def cancel(self) -> None:
        pass


class DocumentFile(object):
    """append_run's document read from a file of the report's JSON (the callback's report.json)."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path


def pieces_for(document: Any, whole: Callable[[], str]) -> PiecesInBackground | PiecesInPlace:
    """append_run's document as pieces: a DocumentFile (packed from the file) or a function returning
    a whole document, in a thread of their own while the run's rows are written; a whole document,
    or None (whole() makes the report's JSON), in the caller's thread."""
    if isinstance(document, DocumentFile):
        return PiecesInBackground(lambda cancelled: pack_chunks(_until(cancelled, file_chunks(document.path))))
    if callable(document):
        return PiecesInBackground(lambda cancelled: pieces_of(document()))
    if document is None:
        return PiecesInPlace(lambda: pieces_of(whole()))
    return PiecesInPlace(lambda: pieces_of(document))
