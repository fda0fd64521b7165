"""The patch cycle's own parts: which journals are unfinished, how a later run takes them over,
what completed cycles verified, and the per-host run lock."""
import datetime
import json
import os

import pytest
from ansible_collections.fleetpatch.patching.plugins.module_utils import _apply, _journal, _run_lock
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError

NOW = datetime.datetime(2026, 12, 1, 10, 0, 0, tzinfo=datetime.timezone.utc)


def at(minutes, wall_minutes=None, boot_id="boot-1"):
    """The host's clocks `minutes` after the test's start: the boot clock, and the wall clock (which
    may say otherwise: a clock that jumped)."""
    wall = minutes if wall_minutes is None else wall_minutes
    return {"now": NOW + datetime.timedelta(minutes=wall), "boot": (boot_id, 1000.0 + minutes * 60)}


def journal(state, before, status, cycle=True, changes=()):
    created = _journal.create(state, "apt", before, [], {}, cycle=cycle)
    return _journal.update(state, created, status=status, changes=list(changes))


@pytest.mark.parametrize("status, cycle, unfinished", [
    ("applying", False, True),      # the install itself was interrupted, whoever ran it
    ("applying", True, True),
    ("applied", True, True),        # applied, never confirmed: reboot or health check never happened
    ("failed", True, True),         # failed and never rolled back (the run died in its rescue)
    ("applied", False, False),      # a bare patch_apply: its cycle ends with the apply
    ("failed", False, False),
    ("completed", True, False),
    ("rolled_back", True, False),
    ("superseded", True, False),
])
def test_which_journals_are_unfinished(tmp_path, status, cycle, unfinished):
    journal(str(tmp_path), {"a": "1.0"}, status, cycle=cycle)
    assert bool(_journal.pending(str(tmp_path))) is unfinished


def test_a_damaged_journal_is_not_skipped_silently(tmp_path):
    journal(str(tmp_path), {"a": "1.0"}, "completed")
    with open(os.path.join(str(tmp_path), "journal", "20990101T000000Z-deadbeef.json"), "w") as f:
        f.write('{"status": "appl')        # a torn write
    with pytest.raises(PatchError, match="Failed to read rollback journals .*20990101T000000Z-deadbeef.json"):
        _journal.pending(str(tmp_path))


def test_confirm_closes_the_cycle_once(tmp_path):
    state = str(tmp_path)
    first = journal(state, {"a": "1.0"}, "applied")
    confirmed = _journal.confirm(state, first["id"])
    assert (confirmed["status"], confirmed["cycle"]) == ("completed", "closed") and confirmed["completed_at"]
    rolled = journal(state, {"b": "1.0"}, "rolled_back")
    assert _journal.confirm(state, rolled["id"])["status"] == "rolled_back"     # a finished journal stays as it is
    assert _journal.pending(state) == []


def test_the_oldest_journal_knows_the_version_before_fleetpatch_began():
    older = {"before": {"a": "1.0", "b": None}}
    newer = {"before": {"a": "1.1", "c": "2.0"}}
    assert _apply.merged_before([older, newer]) == {"a": "1.0", "b": None, "c": "2.0"}


def test_verified_versions_are_completed_recent_and_still_installed():
    def entry(day, status, changes):
        return {"id": "202611%02dT000000Z-0000000%d" % (day, day % 10), "status": status,
                "changes": [{"name": n, "before": "0", "after": a} for n, a in changes]}
    journals = [entry(1, "completed", [("old", "1.0")]),                       # older than 30 days
                entry(20, "completed", [("a", "1.1"), ("b", "2.0"), ("gone", None)]),
                entry(25, "completed", [("a", "1.2")]),                       # newer wins
                entry(26, "rolled_back", [("c", "3.0")]),                     # not a completed cycle
                entry(27, "completed", [("b", "2.1")])]                       # no longer installed: b is 2.0
    installed = {"old": "1.0", "a": "1.2", "b": "2.0", "c": "3.0"}
    assert _apply.verified_versions(journals, installed, 30, now=NOW) == {"a": "1.2", "b": "2.0"}


def test_a_re_run_promotes_only_verified_versions_its_name_filters_allow():
    verified = {"openssl": "3.0.16", "libssl3": "3.0.16", "fp-tools": "2.0-1"}
    assert _apply.by_name(verified) == verified
    assert _apply.by_name(verified, names=["*ssl*"], exclude=["libssl*"]) == {"openssl": "3.0.16"}


class TestRunLock(object):
    def test_the_same_run_takes_it_again_another_is_refused_with_the_holder(self, tmp_path):
        state = str(tmp_path / "state")
        lock, replaced = _run_lock.acquire(state, "run-1", "ctl1", 4242, ttl=3600, **at(0))
        assert (lock["owner"], lock["controller"], lock["pid"], replaced) == ("run-1", "ctl1", 4242, None)
        assert oct(os.stat(os.path.join(state, "run.lock")).st_mode & 0o777) == "0o600"
        again = _run_lock.acquire(state, "run-1", "ctl1", 4242, ttl=3600, **at(5))[0]
        assert again["started"] == lock["started"] and again["refreshed"] != lock["refreshed"]
        with pytest.raises(PatchError, match="Another fleetpatch run holds this host: run run-1 from ctl1 "
                                             r"\(pid 4242\).*refreshed 300 s ago") as caught:
            _run_lock.acquire(state, "run-2", "ctl2", 1, ttl=3600, **at(10))
        assert caught.value.held["owner"] == "run-1"

    def test_a_stale_lock_is_taken_over_and_said(self, tmp_path):
        state = str(tmp_path)
        _run_lock.acquire(state, "run-1", "ctl1", 4242, ttl=3600, **at(0))
        lock, replaced = _run_lock.acquire(state, "run-2", "ctl1", 5, ttl=3600, **at(120))
        assert lock["owner"] == "run-2" and replaced["owner"] == "run-1" and lock["replaced_stale"]["pid"] == 4242

    def test_a_run_proven_dead_is_taken_over_only_by_name(self, tmp_path):
        state = str(tmp_path)
        _run_lock.acquire(state, "run-1", "ctl1", 4242, ttl=3600, now=NOW)
        with pytest.raises(PatchError):
            _run_lock.acquire(state, "run-2", "ctl1", 5, ttl=3600, now=NOW, take_over="run-0")
        lock, replaced = _run_lock.acquire(state, "run-2", "ctl1", 5, ttl=3600, now=NOW, take_over="run-1")
        assert lock["owner"] == "run-2" and replaced["owner"] == "run-1"

    def test_a_torn_lock_file_proves_nobody_owns_it(self, tmp_path):
        with open(os.path.join(str(tmp_path), "run.lock"), "w") as f:
            f.write('{"owner": "ru')
        lock, replaced = _run_lock.acquire(str(tmp_path), "run-2", now=NOW)
        assert lock["owner"] == "run-2" and replaced["damaged"]

    def test_release_drops_only_its_own_lock(self, tmp_path):
        state = str(tmp_path)
        _run_lock.acquire(state, "run-1", now=NOW)
        assert _run_lock.release(state, "run-2")["owner"] == "run-1"
        assert os.path.exists(os.path.join(state, "run.lock"))
        _run_lock.release(state, "run-1")
        assert not os.path.exists(os.path.join(state, "run.lock"))
        assert _run_lock.release(state, "run-1") is None

    def test_a_wall_clock_jump_never_makes_a_live_lock_stale(self, tmp_path):
        """Clock skew: the host's wall clock jumps three hours ahead (an NTP step, a restored VM) ten
        minutes into a run. On the wall clock the lock is older than its ttl and another run would
        take it over; on the boot clock it is ten minutes old, and the other run is refused."""
        state = str(tmp_path)
        _run_lock.acquire(state, "run-1", "ctl1", 4242, ttl=3600, **at(0))
        with pytest.raises(PatchError, match=r"refreshed 600 s ago \(stale after 3600 s\)"):
            _run_lock.acquire(state, "run-2", "ctl2", 7, ttl=3600, **at(10, wall_minutes=190))
        with pytest.raises(PatchError, match="refreshed 600 s ago"):      # and a jump back changes nothing
            _run_lock.acquire(state, "run-2", "ctl2", 7, ttl=3600, **at(10, wall_minutes=-600))

    def test_after_a_reboot_the_wall_clock_ages_the_lock(self, tmp_path):
        state = str(tmp_path)
        _run_lock.acquire(state, "run-1", "ctl1", 4242, ttl=3600, **at(0))
        with pytest.raises(PatchError, match="refreshed 1800 s ago"):
            _run_lock.acquire(state, "run-2", "ctl2", 7, ttl=3600, **at(1, wall_minutes=30, boot_id="boot-2"))
        lock, replaced = _run_lock.acquire(state, "run-2", "ctl2", 7, ttl=3600, **at(1, wall_minutes=61, boot_id="boot-2"))
        assert replaced["owner"] == "run-1" and lock["boot_id"] == "boot-2"

    def test_check_mode_writes_nothing(self, tmp_path):
        _run_lock.acquire(str(tmp_path), "run-1", now=NOW, check_mode=True)
        assert not os.path.exists(os.path.join(str(tmp_path), "run.lock"))


def test_journals_keep_their_order_when_the_host_clock_goes_back(tmp_path):
    """Clock skew: the clock went back a day between two runs. Journal ids are time-ordered, so the
    second run's journal sorted first: "latest" (what the rollback playbook restores by default) was
    the older one, and a rollback would have restored the versions of two runs ago."""
    state = str(tmp_path)
    first = _journal.create(state, "apt", {"a": "1.0"}, [], {})
    clock_back = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    second_id = _journal.new_id(os.listdir(os.path.join(state, "journal")), now=clock_back)
    assert second_id > first["id"]
    second = _journal.write(state, dict(first, id=second_id, before={"a": "1.1"}))
    assert _journal.load(state)["id"] == second["id"] == _journal.load_all(state)[-1]["id"]
    later = _journal.new_id([second_id + ".json", "notes.json"], now=clock_back + datetime.timedelta(days=3))
    assert later[:16] == (clock_back + datetime.timedelta(days=3)).strftime(_journal.ID_TIME_FORMAT)


def test_journal_records_its_cycle_and_what_it_resumes(tmp_path):
    created = _journal.create(str(tmp_path), "dnf", {"a": "1"}, [], {}, cycle=True, resumes=["x"])
    with open(os.path.join(str(tmp_path), "journal", created["id"] + ".json")) as f:
        stored = json.load(f)
    assert (stored["cycle"], stored["resumes"]) == ("open", ["x"])
