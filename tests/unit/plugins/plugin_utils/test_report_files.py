"""Writing the report's files: the store's compressed copy of report.json, made in a thread."""
import os
import zlib

import pytest
from ansible_collections.fleetpatch.patching.plugins.plugin_utils import _report_files


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


def test_atomic_write_leaves_a_private_file_and_no_temporary_one(tmp_path):
    path = str(tmp_path / "report.csv")
    _report_files.atomic_write(path, ["a,", "b\r\n"], 0o600)
    assert open(path, encoding="utf-8", newline="").read() == "a,b\r\n"
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert os.listdir(str(tmp_path)) == ["report.csv"]
