"""Private directories and atomic private files (_files): safe when two processes make the same
directory at once, exact modes, nothing left behind by a failed write; and every caller (journal,
first-seen dates, history store, reports) going through them."""
import errno
import os
import stat
import sys
import threading

import pytest
from ansible_collections.fleetpatch.patching.plugins.module_utils import _files, _first_seen, _journal
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import files as _report_files
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store import sqlite as _store_sqlite


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    """Set the process umask for one test (restored afterwards)."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield os.umask
    os.umask(saved)


def appears_before_mkdir(monkeypatch, target):
    """Another process creates target just before this one's mkdir of it: the race of checking
    first (isdir) and making second (makedirs), made certain."""
    real_mkdir = os.mkdir

    def mkdir(path, *args, **kwargs):
        if os.path.abspath(path) == os.path.abspath(target) and not os.path.lexists(path):
            real_mkdir(path, 0o700)      # the other process wins
        return real_mkdir(path, *args, **kwargs)
    monkeypatch.setattr(os, "mkdir", mkdir)


# ---- private_directory ----------------------------------------------------------------------

def make_at_once(start, target, errors):
    start.wait()
    try:
        _files.private_directory(target)
    except Exception as exc:     # collected: an exception in a thread would pass unnoticed
        errors.append(exc)


def test_many_threads_making_the_same_directory_at_once_all_succeed(tmp_path):
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)          # switch threads as often as possible: widen any race
    try:
        for attempt in range(30):
            target = str(tmp_path / ("attempt%d" % attempt) / "a" / "b" / "c")
            start = threading.Barrier(16)
            errors = []
            threads = [threading.Thread(target=make_at_once, args=(start, target, errors)) for number in range(16)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert errors == []
            assert mode_of(target) == 0o700
    finally:
        sys.setswitchinterval(old_interval)


def test_a_directory_made_by_someone_else_after_a_look_is_not_an_error(tmp_path, monkeypatch):
    target = str(tmp_path / "state" / "journal")
    appears_before_mkdir(monkeypatch, target)
    assert _files.private_directory(target) == target
    assert os.path.isdir(target)


def test_an_existing_directory_that_isdir_missed_is_not_an_error(tmp_path, monkeypatch):
    target = str(tmp_path / "journal")
    os.mkdir(target, 0o700)
    real_isdir = os.path.isdir
    monkeypatch.setattr(os.path, "isdir", lambda path: False if path == target else real_isdir(path))
    assert _files.private_directory(target) == target


def test_a_new_directory_gets_its_mode_whatever_the_umask(tmp_path, umask):
    umask(0o277)                      # would leave 0o500: not even writable by its owner
    _files.private_directory(str(tmp_path / "one" / "two"))
    umask(0o022)
    _files.private_directory(str(tmp_path / "three"), 0o750)
    assert mode_of(str(tmp_path / "one" / "two")) == 0o700
    assert mode_of(str(tmp_path / "three")) == 0o750


def test_an_existing_directory_is_left_as_it_is(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)              # /tmp, a state directory an operator made: never tightened
    assert _files.private_directory(str(shared)) == str(shared)
    assert mode_of(str(shared)) == 0o755


def test_a_symbolic_link_to_a_directory_is_a_directory(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert _files.private_directory(str(tmp_path / "link")) == str(tmp_path / "link")


def test_a_file_in_the_way_is_a_clear_error(tmp_path):
    in_the_way = tmp_path / "journal"
    in_the_way.write_text("not a directory")
    with pytest.raises(NotADirectoryError, match="Exists and is not a directory") as caught:
        _files.private_directory(str(in_the_way))
    assert caught.value.errno == errno.ENOTDIR
    assert caught.value.filename == str(in_the_way)
    assert isinstance(caught.value, OSError)       # callers turn OSError into their own messages


# ---- write_private_file ---------------------------------------------------------------------

def test_text_pieces_and_a_writer_function_are_written_as_given(tmp_path):
    path = str(tmp_path / "report.csv")
    assert _files.write_private_file(path, ["a,", "b\r\n"]) == path
    assert open(path, encoding="utf-8", newline="").read() == "a,b\r\n"
    _files.write_private_file(path, "é\n")
    assert open(path, "rb").read() == b"\xc3\xa9\n"
    _files.write_private_file(path, lambda stream: stream.write("from a function"))
    assert open(path, encoding="utf-8").read() == "from a function"
    assert os.listdir(str(tmp_path)) == ["report.csv"]


def test_the_file_gets_its_mode_whatever_the_umask(tmp_path, umask):
    umask(0)
    _files.write_private_file(str(tmp_path / "private.json"), "{}")
    _files.write_private_file(str(tmp_path / "shared.html"), "<p>", 0o640)
    assert mode_of(str(tmp_path / "private.json")) == 0o600
    assert mode_of(str(tmp_path / "shared.html")) == 0o640
    existing = tmp_path / "existing.json"
    existing.write_text("old")
    existing.chmod(0o644)
    _files.write_private_file(str(existing), "new")
    assert mode_of(str(existing)) == 0o600        # replaced: the new file's mode, not the old one's


def pieces_then(error):
    yield "half a "
    raise error


@pytest.mark.parametrize("error", [ValueError("cannot encode"), KeyboardInterrupt()], ids=["error", "interrupt"])
def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path, error):
    path = tmp_path / "first_seen.json"
    path.write_text("old")
    with pytest.raises(type(error)):
        _files.write_private_file(str(path), pieces_then(error))
    assert path.read_text() == "old"
    assert os.listdir(str(tmp_path)) == ["first_seen.json"]


@pytest.mark.parametrize("failing", ["replace", "fsync", "fchmod"])
def test_a_failed_sync_or_rename_leaves_no_temporary_file(tmp_path, monkeypatch, failing):
    def fail(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")
    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(OSError, match="Input/output error"):
        _files.write_private_file(str(tmp_path / "journal.json"), "{}")
    assert os.listdir(str(tmp_path)) == []


def test_a_directory_that_cannot_be_synced_is_no_error(tmp_path, monkeypatch):
    real_fsync = os.fsync

    def fsync(fd):
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "Invalid argument")    # some file systems cannot sync a directory
        return real_fsync(fd)
    monkeypatch.setattr(os, "fsync", fsync)
    _files.write_private_file(str(tmp_path / "journal.json"), "{}")
    assert (tmp_path / "journal.json").read_text() == "{}"


def test_the_directory_is_synced_after_the_rename(tmp_path, monkeypatch):
    real_fsync = os.fsync
    synced = []

    def fsync(fd):
        synced.append("directory" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        return real_fsync(fd)
    monkeypatch.setattr(os, "fsync", fsync)
    _files.write_private_file(str(tmp_path / "journal.json"), "{}")
    assert synced == ["file", "directory"]


def test_a_missing_directory_is_an_error_and_nothing_is_made(tmp_path):
    with pytest.raises(FileNotFoundError):
        _files.write_private_file(str(tmp_path / "missing" / "journal.json"), "{}")
    assert os.listdir(str(tmp_path)) == []


# ---- every caller goes through them ----------------------------------------------------------

def journal(state):
    return _journal.create(state, "apt", {"a": "1.0"}, [], {"a": "1.1"})


def first_seen(state):
    _first_seen.save(os.path.join(state, _first_seen.FILE_NAME), {"a|all|1.1": "2025-01-01"})


def history_store(state):
    _store_sqlite._create_private(os.path.join(state, "history.sqlite"))


def report(state):
    _report_files.write_reports({"run": {"run_id": "run-1"}, "hosts": []}, state, ["json"], link_latest=False)


CALLERS = {journal: "journal", first_seen: "", history_store: "", report: "run-1"}


@pytest.mark.parametrize("caller", list(CALLERS), ids=lambda caller: caller.__name__)
def test_a_directory_another_process_makes_at_the_same_moment_is_no_error(tmp_path, monkeypatch, caller):
    state = str(tmp_path / "state")
    appears_before_mkdir(monkeypatch, os.path.join(state, CALLERS[caller]).rstrip(os.sep))
    caller(state)
    files = [name for top, dirs, names in os.walk(state) for name in names]
    assert files and not [name for name in files if name.startswith(".")]


@pytest.mark.parametrize("caller", list(CALLERS), ids=lambda caller: caller.__name__)
def test_every_caller_makes_private_directories_and_files(tmp_path, umask, caller):
    umask(0)
    state = str(tmp_path / "state")
    caller(state)
    for top, subdirectories, names in os.walk(state):
        if top != str(tmp_path / "state") or not CALLERS[caller]:   # state itself is made as a parent
            assert mode_of(top) == 0o700, top
        for name in names:
            assert mode_of(os.path.join(top, name)) == 0o600, name


def test_a_file_in_place_of_the_journal_directory_fails_clearly(tmp_path):
    (tmp_path / "journal").write_text("")
    with pytest.raises(PatchError, match="Failed to write the rollback journal in .*journal: .*Exists and is not a "
                                         "directory"):
        journal(str(tmp_path))
