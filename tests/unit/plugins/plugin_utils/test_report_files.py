"""Writing the report's files: the store's compressed copy of report.json, made in a thread.
(Writing each file atomically and privately: tests/unit/plugins/module_utils/test_files.py.)"""
import zlib

import pytest
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import files as _report_files


def test_compress_file_packs_the_whole_file_whatever_the_chunk_size(tmp_path):
    path = tmp_path / "report.json"
    text = "".join('{"host":"h%05d","updates":[]},' % n for n in range(5000)).encode("utf-8")
    path.write_bytes(text)
    for chunk_size in (1, 1000, 1 << 20):
        assert zlib.decompress(_report_files.compress_file(str(path), chunk_size=chunk_size)) == text


def test_the_compressor_thread_gives_the_packed_file(tmp_path):
    path = tmp_path / "report.json"
    path.write_bytes(b'{"kind":"x"}' * 1000)
    compressor = _report_files.FileCompressor(str(path))
    compressor.start()
    assert zlib.decompress(compressor.result()) == path.read_bytes()


def test_the_compressor_thread_raises_its_error_in_the_caller(tmp_path):
    compressor = _report_files.FileCompressor(str(tmp_path / "missing.json"))
    compressor.start()
    with pytest.raises(FileNotFoundError):
        compressor.result()
