"""The history store's copy of report.json (_store/document.py): packed at PACK_LEVEL in a thread of
its own while the run's rows are written, stored in pieces of report_pieces that are written as
they come, read back whole; documents stored whole before migration 5 still read back. SQLite, and
PostgreSQL when FLEETPATCH_TEST_POSTGRES_URL is set (test_history_store's fixtures)."""
import base64
import json
import threading
import zlib

import pytest
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store import document
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store import schema as store_schema
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore, HistoryStoreError

from test_history_store import location, postgres_location  # noqa: F401  pylint: disable=unused-import
from test_history_store import raw_execute

RUN = {"run_id": "r1", "started_at": "2026-11-25T10:00:00Z", "ended_at": "2026-11-25T10:05:00Z",
       "playbooks": ["playbooks/rollout.yml"], "check_mode": False, "controller": "controller1",
       "ansible_version": "2.19.14", "collection_version": "0.1.0", "aborted_by": None}


def _report(hosts=3, run_id="r1"):
    entries = [model.host_entry(model.HostObservations("host%02d" % number)) for number in range(hosts)]
    return model.build_report(dict(RUN, run_id=run_id), entries)


def _pieces(location, run_id="r1"):
    return [row[0] for row in raw_execute(
        location, "SELECT data FROM report_pieces WHERE run_id = ? ORDER BY piece", (run_id,))]


@pytest.fixture
def small_pieces(monkeypatch):
    """Pieces of 64 characters: a small report's document takes several."""
    monkeypatch.setattr(document, "PIECE_CHARS", 64)
    return 64


def test_a_document_file_is_packed_beside_the_rows_and_stored_in_pieces(location, tmp_path, small_pieces,
                                                                        monkeypatch):
    report = _report(hosts=40)
    text = json.dumps(report)
    source = tmp_path / "report.json"
    source.write_text(text)
    packers = []
    real_chunks = document.file_chunks

    def watched_chunks(path, *args):
        packers.append(threading.get_ident())
        return real_chunks(path, *args)

    monkeypatch.setattr(document, "file_chunks", watched_chunks)
    with HistoryStore.open(location) as store:
        store.append_run(report, document=document.DocumentFile(str(source)))
        assert store.get_report("r1") == report
    assert packers and packers != [threading.get_ident()]      # not the writer's own thread
    pieces = _pieces(location)
    assert len(pieces) > 3 and all(len(p) == small_pieces for p in pieces[:-1]) and 0 < len(pieces[-1]) <= small_pieces
    assert raw_execute(location, "SELECT report FROM runs")[0][0] == "%s%d" % (document.IN_PIECES, len(pieces))
    # joined, the pieces are the base64 text of report.json compressed at the documented level
    assert base64.b64decode("".join(pieces)) == zlib.compress(text.encode("utf-8"), document.PACK_LEVEL)


@pytest.mark.parametrize("given", ["json", "bytes", "packed", "function", "none"])
def test_every_kind_of_document_reads_back(location, given, small_pieces):
    report = _report(hosts=5)
    text = json.dumps(report)
    documents = {"json": text, "bytes": zlib.compress(text.encode("utf-8")),
                 "packed": document.PACKED + base64.b64encode(zlib.compress(text.encode("utf-8"))).decode("ascii"),
                 "function": lambda: text, "none": None}
    with HistoryStore.open(location) as store:
        store.append_run(report, document=documents[given])
        assert store.get_report("r1") == report
    assert len(_pieces(location)) > 1


def test_pack_level_is_the_documented_one(tmp_path):
    # The level decides how much the store grows by each run (docs/history-store.md).
    source = tmp_path / "report.json"
    hosts = b",".join(b'{"host":"h%d","x":"%s"}' % (n, b"y" * (n % 50)) for n in range(5000))
    source.write_bytes(b'{"hosts":[' + hosts + b"]}")
    packed = "".join(document.pack_chunks(document.file_chunks(str(source))))
    assert document.PACK_LEVEL == 6
    assert base64.b64decode(packed) == zlib.compress(source.read_bytes(), 6)


def test_a_run_stored_whole_before_migration_5_reads_back(location, monkeypatch):
    report = _report()
    text = json.dumps(report)
    with monkeypatch.context() as patched:
        patched.setattr(store_schema, "MIGRATIONS", store_schema.MIGRATIONS[:4])
        HistoryStore.open(location).close()
    # runs.report as a release before migration 5 wrote it
    packed = "zlib+base64:" + base64.b64encode(zlib.compress(text.encode("utf-8"))).decode("ascii")
    for run_id, stored in (("r-packed", packed), ("r-plain", text)):
        raw_execute(location, "INSERT INTO runs (run_id, started_at, ended_at, status, check_mode, playbooks, "
                    "host_count, compliant_percent, summary, report, stored_at) VALUES "
                    "(?, '2026-11-25T10:00:00Z', '2026-11-25T10:05:00Z', 'completed', 0, '[]', 3, 0, '{}', ?, "
                    "'2026-11-25T10:05:01Z')", (run_id, stored))
    with HistoryStore.open(location) as store:
        assert [m["version"] for m in store.migrations()][-1] == store_schema.MIGRATIONS[-1][0]
        assert store.get_report("r-packed") == report and store.get_report("r-plain") == report


def test_a_missing_piece_is_an_error_not_a_shorter_report(location, small_pieces):
    with HistoryStore.open(location) as store:
        store.append_run(_report(hosts=20))
    count = len(_pieces(location))
    raw_execute(location, "DELETE FROM report_pieces WHERE run_id = 'r1' AND piece = ?", (count - 1,))
    with HistoryStore.open(location) as store:
        with pytest.raises(HistoryStoreError, match=r"read run r1 from .*incomplete \(%d of %d pieces\)"
                           % (count - 1, count)):
            store.get_report("r1")


def test_a_replaced_deleted_or_pruned_run_leaves_no_pieces(location, small_pieces):
    with HistoryStore.open(location) as store:
        store.append_run(_report(hosts=20))
        first = len(_pieces(location))
        store.append_run(_report(hosts=2))           # the same run_id again: replaced, fewer pieces
        assert 0 < len(_pieces(location)) < first
        store.append_run(_report(hosts=2, run_id="r2"))
        assert store.delete_run("r1") and _pieces(location) == []
        assert store.get_report("r2") == _report(hosts=2, run_id="r2")
    assert raw_execute(location, "SELECT COUNT(*) FROM report_pieces")[0][0] == len(_pieces(location, "r2"))


def test_a_failing_row_write_leaves_no_run_and_stops_the_packing(location, tmp_path, small_pieces, monkeypatch):
    report = _report()
    # Not a host entry, in hosts that are not a list (as the spill file's): found while the rows are written.
    report["hosts"] = tuple(report["hosts"]) + ({"host": ""},)
    source = tmp_path / "report.json"
    source.write_text(json.dumps(_report(hosts=50)))
    started, release, chunks_read = threading.Event(), threading.Event(), []
    real_chunks = document.file_chunks

    def slow_chunks(path, *args):
        started.set()
        release.wait(10)        # the row write fails while the document is being packed
        for chunk in real_chunks(path, 16):
            chunks_read.append(chunk)
            yield chunk

    monkeypatch.setattr(document, "file_chunks", slow_chunks)
    with HistoryStore.open(location) as store:
        with pytest.raises(HistoryStoreError, match="not a list of host entries"):
            store.append_run(report, document=document.DocumentFile(str(source)))
        assert started.wait(10)
        release.set()
        assert store.runs() == []
    assert raw_execute(location, "SELECT COUNT(*) FROM report_pieces")[0][0] == 0
    for _attempt in range(200):      # the packer stops at its next chunk, well before the file's end
        if not any(t.name == "fleetpatch-pack-document" for t in threading.enumerate()):
            break
        threading.Event().wait(0.05)
    assert 0 < sum(map(len, chunks_read)) < source.stat().st_size / 2
