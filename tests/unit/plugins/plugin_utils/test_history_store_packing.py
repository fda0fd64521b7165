"""The history store's copy of report.json: pack_file's text at PACK_LEVEL, made in a thread of its
own while the run's rows are written, stored as the same document."""
import base64
import json
import sqlite3
import threading
import zlib

import pytest
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store import history
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore, HistoryStoreError

RUN = {"run_id": "r1", "started_at": "2026-11-25T10:00:00Z", "ended_at": "2026-11-25T10:05:00Z",
       "playbooks": ["playbooks/rollout.yml"], "check_mode": False, "controller": "controller1",
       "ansible_version": "2.19.14", "collection_version": "0.1.0", "aborted_by": None}


def _report(hosts=3):
    entries = [model.host_entry(model.HostObservations("host%02d" % number)) for number in range(hosts)]
    return model.build_report(dict(RUN), entries)


def _stored_document(path):
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT report FROM runs").fetchone()[0]
    finally:
        conn.close()


def test_the_document_is_packed_beside_the_rows_and_stored(tmp_path):
    report = _report()
    text = json.dumps(report)
    source = tmp_path / "report.json"
    source.write_text(text)
    callers = []

    def packed():
        callers.append(threading.get_ident())
        return history.pack_file(str(source))

    path = str(tmp_path / "history.sqlite")
    with HistoryStore.open(path) as store:
        store.append_run(report, document=packed)
        assert store.get_report("r1") == report
    assert callers and callers != [threading.get_ident()]      # not the writer's own thread
    stored = _stored_document(path)
    assert stored == history.pack_file(str(source))
    assert zlib.decompress(base64.b64decode(stored[len("zlib+base64:"):])).decode("utf-8") == text


def test_pack_level_is_the_documented_one(tmp_path):
    # The level decides how much memory the end of a 100,000-host run holds (docs/history-store.md).
    source = tmp_path / "report.json"
    hosts = b",".join(b'{"host":"h%d","x":"%s"}' % (n, b"y" * (n % 50)) for n in range(5000))
    source.write_bytes(b'{"hosts":[' + hosts + b"]}")
    packed = history.pack_file(str(source))
    assert history.PACK_LEVEL == 6
    assert base64.b64decode(packed[len("zlib+base64:"):]) == zlib.compress(source.read_bytes(), 6)


def test_a_failing_row_write_leaves_no_run_while_the_document_is_packed(tmp_path):
    report = _report()
    # Not a host entry, in hosts that are not a list (as the spill file's): found while the rows are written.
    report["hosts"] = tuple(report["hosts"]) + ({"host": ""},)
    started = threading.Event()

    def packed():
        started.set()
        return json.dumps(report)

    with HistoryStore.open(str(tmp_path / "history.sqlite")) as store:
        with pytest.raises(HistoryStoreError, match="not a list of host entries"):
            store.append_run(report, document=packed)
        assert store.runs() == []
    assert started.wait(10)
