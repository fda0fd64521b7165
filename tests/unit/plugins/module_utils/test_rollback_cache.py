"""The rollback cache's decisions (where a file comes from, what is refused, what is pruned) with a
stand-in backend whose "package files" are small text files. The lab tests the real apt, dnf and
zypper files (tests/integration/test_rollback_cache.py)."""
import datetime
import os

import pytest
from ansible_collections.fleetpatch.patching.plugins.module_utils import _apply, _journal, _rollback_cache, _snapshot
from ansible_collections.fleetpatch.patching.plugins.module_utils._commands import CommandRunner
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError


class FileBackend:
    """A package manager whose package files hold "name|version|arch"."""
    name = "apt"

    def __init__(self, tmp_path, offered=None, manager_cache=None, rebuildable=True):
        self.offered = offered or {}
        self.manager_cache = str(tmp_path / "manager-cache")
        os.makedirs(self.manager_cache, exist_ok=True)
        for name, version in (manager_cache or {}).items():
            self.write(os.path.join(self.manager_cache, self.package_file_name(name, version, "all")), name, version)
        self.rebuildable = rebuildable
        self.calls = []

    @staticmethod
    def write(path, name, version, arch="all"):
        with open(path, "w") as f:
            f.write("%s|%s|%s" % (name, version, arch))

    @staticmethod
    def package_file_name(name, version, arch):
        return "%s_%s_%s.pkg" % (name, version.replace(":", "%3a"), arch)

    def package_cache_paths(self, name, version, arch):
        return [os.path.join(self.manager_cache, self.package_file_name(name, version, arch))]

    def package_file_identity(self, path):
        with open(path) as f:
            return tuple(f.read().split("|"))

    def available_versions(self, names):
        return dict((n, set(self.offered.get(n, ()))) for n in names)

    def download_package(self, name, version, arch, directory, query_name=None):
        self.calls.append(("download", name, version))
        self.write(os.path.join(directory, self.package_file_name(name, version, arch)), name, version)

    def can_rebuild(self):
        return self.rebuildable

    def rebuild_package(self, name, version, arch, directory, query_name=None):
        self.calls.append(("rebuild", name, version))
        self.write(os.path.join(directory, "rebuilt.pkg"), name, version)


INSTALLED = [{"name": "a", "version": "1.0", "arch": "all"}, {"name": "b", "version": "2.0", "arch": "all"},
             {"name": "c", "version": "3.0", "arch": "all"}]


def test_each_version_comes_from_the_first_source_that_has_it(tmp_path):
    """a from the manager's cache, b downloaded (offered), c rebuilt (installed, offered nowhere),
    d (absent before the change) needs nothing."""
    backend = FileBackend(tmp_path, offered={"b": {"2.0"}}, manager_cache={"a": "1.0"})
    state = str(tmp_path / "state")
    touched = {"a": "1.0", "b": "2.0", "c": "3.0", "d": None}
    summary = _rollback_cache.secure_change(backend, state, [], touched, INSTALLED)
    sources = dict((n, e["source"]) for n, e in summary["files"].items())
    assert sources == {"a": "package-cache", "b": "download", "c": "rebuilt"}
    assert summary["gaps"] == {} and summary["possible"] is True
    for name, entry in summary["files"].items():
        assert os.path.dirname(entry["path"]) == os.path.join(state, "rollback-cache")
        assert backend.package_file_identity(entry["path"])[:2] == (name, touched[name])
        assert (entry["sha256"], entry["size"]) == _rollback_cache.checksum(entry["path"])
    assert "conffiles" in summary["files"]["c"]["note"]
    assert oct(os.stat(os.path.join(state, "rollback-cache")).st_mode & 0o777) == "0o700"
    # a second change of the same versions keeps the files its journal names, and fetches nothing again
    _journal.create(state, "apt", touched, [], {}, rollback_files=summary["files"])
    backend.calls = []
    again = _rollback_cache.secure_change(backend, state, _journal.load_all(state), touched, INSTALLED)
    assert again["files"] == summary["files"] and backend.calls == []
    assert again["cache"]["files"] == 3 and again["cache"]["pruned"]["files"] == 0
    # files no journal names (a run that stopped before writing its journal) are pruned
    assert _rollback_cache.secure_change(backend, state, [], {}, INSTALLED)["cache"]["pruned"]["files"] == 3


def test_a_version_no_source_has_is_a_gap_with_every_reason(tmp_path):
    backend = FileBackend(tmp_path, rebuildable=False)
    summary = _rollback_cache.secure_change(backend, str(tmp_path / "state"), [], {"a": "1.0"}, INSTALLED)
    assert summary["files"] == {} and summary["possible"] is False
    assert "a 1.0: not in the package cache, no repository offers it" in summary["gaps"]["a"]


def test_a_file_whose_header_names_another_version_is_refused(tmp_path):
    """A cache holding a file under the right name but another package inside is not trusted."""
    backend = FileBackend(tmp_path, rebuildable=False)
    backend.write(backend.package_cache_paths("a", "1.0", "all")[0], "a", "0.9")
    summary = _rollback_cache.secure_change(backend, str(tmp_path / "state"), [], {"a": "1.0"}, INSTALLED)
    assert "holds a 0.9 all, not a 1.0 (all)" in summary["gaps"]["a"]


def test_a_download_that_fails_falls_back_and_keeps_the_cause(tmp_path):
    class Failing(FileBackend):
        def download_package(self, *args, **kwargs):
            raise PatchError("Failed to download a 1.0: apt-get exited with rc=100: E: Failed to fetch")
    backend = Failing(tmp_path, offered={"a": {"1.0"}})
    summary = _rollback_cache.secure_change(backend, str(tmp_path / "state"), [], {"a": "1.0"}, INSTALLED)
    assert summary["files"]["a"]["source"] == "rebuilt"
    backend.rebuildable = False
    summary = _rollback_cache.secure_change(backend, str(tmp_path / "state2"), [], {"a": "1.0"}, INSTALLED)
    assert "download failed: Failed to download a 1.0: apt-get exited with rc=100" in summary["gaps"]["a"]


def test_the_cache_never_grows_past_its_limit(tmp_path):
    backend = FileBackend(tmp_path, offered={"a": {"1.0"}})
    summary = _rollback_cache.secure_change(backend, str(tmp_path / "state"), [], {"a": "1.0"}, INSTALLED, max_mb=0)
    assert "would exceed its limit" in summary["gaps"]["a"]
    assert _rollback_cache.usage(str(tmp_path / "state"))["files"] == 0


def test_check_mode_predicts_and_secures_nothing(tmp_path):
    backend = FileBackend(tmp_path, offered={"b": {"2.0"}}, manager_cache={"a": "1.0"}, rebuildable=False)
    state = str(tmp_path / "state")
    summary = _rollback_cache.secure_change(backend, state, [], {"a": "1.0", "b": "2.0", "c": "3.0"}, INSTALLED,
                                            check_mode=True)
    assert summary["predicted"] == {"a": "package-cache", "b": "download", "c": None}
    assert summary["files"] == {} and list(summary["gaps"]) == ["c"]
    assert not os.path.exists(os.path.join(state, "rollback-cache")) and backend.calls == []


def _journal_with_files(tmp_path, backend, touched, offered_at_rollback):
    state = str(tmp_path / "state")
    summary = _rollback_cache.secure_change(backend, state, [], touched, INSTALLED)
    journal = _journal.create(state, "apt", touched, [], {}, rollback_files=summary["files"],
                              rollback_gaps=summary["gaps"])
    return state, journal


def test_restore_takes_each_secured_file_but_a_rebuilt_one_the_repository_still_offers(tmp_path):
    backend = FileBackend(tmp_path, offered={"a": {"1.0"}, "b": {"2.0"}})
    _state, journal = _journal_with_files(tmp_path, backend, {"a": "1.0", "b": "2.0", "c": "3.0"}, None)
    assert journal["rollback_files"]["c"]["source"] == "rebuilt"
    restore = {"a": "1.0", "b": "2.0", "c": "3.0"}
    files, problems = _rollback_cache.restore_files(journal, restore, {"a": {"1.0"}, "c": {"3.0"}})
    assert problems == [] and sorted(files) == ["a", "b"] and files["b"] == journal["rollback_files"]["b"]["path"]
    # no repository has c any more: the rebuilt file is the way back
    files, problems = _rollback_cache.restore_files(journal, restore, {})
    assert problems == [] and sorted(files) == ["a", "b", "c"]
    # a changed file is not used; the repository's package is, while it offers the version
    with open(journal["rollback_files"]["a"]["path"], "a") as f:
        f.write("x")
    files, problems = _rollback_cache.restore_files(journal, restore, {"a": {"1.0"}})
    assert problems == [] and sorted(files) == ["b", "c"]


def test_restore_refuses_a_missing_or_changed_file_naming_it(tmp_path):
    backend = FileBackend(tmp_path, offered={"a": {"1.0"}, "b": {"2.0"}})
    _state, journal = _journal_with_files(tmp_path, backend, {"a": "1.0", "b": "2.0"}, None)
    with open(journal["rollback_files"]["a"]["path"], "a") as f:
        f.write("tampered")
    os.unlink(journal["rollback_files"]["b"]["path"])
    _files, problems = _rollback_cache.restore_files(journal, {"a": "1.0", "b": "2.0"}, {})
    assert len(problems) == 2
    assert problems[0].startswith("a 1.0: the secured file") and "does not match the journal" in problems[0]
    assert problems[1].startswith("b 2.0: the secured file") and "missing or unreadable" in problems[1]


def test_rollback_installs_from_files_or_refuses_before_any_change(tmp_path):
    """_apply.rollback end to end with the stand-in: the repository lost 1.0, the file restores it;
    a corrupted file refuses with nothing installed."""
    from test_transactions import FakeBackend
    backend = FileBackend(tmp_path, offered={"a": {"1.0"}})
    state, journal = _journal_with_files(tmp_path, backend, {"a": "1.0"}, None)
    host = FakeBackend({"a": "1.1"}, {"a": {"1.1"}})
    result = _apply.rollback(host, state)
    assert host.files_used == {"a": journal["rollback_files"]["a"]["path"]} and result["from_files"] == {"a": "download"}
    _journal.update(state, _journal.load(state), status="applied")
    host.packages["a"] = "1.1"
    with open(journal["rollback_files"]["a"]["path"], "w") as f:
        f.write("a|1.0|all-but-changed")
    host.applied = []
    with pytest.raises(PatchError, match="a 1.0: the secured file .* does not match the journal.*nothing was changed"):
        _apply.rollback(host, state)
    assert host.applied == []


def _old_id(days):
    return _journal.new_id(now=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days))


def test_prune_releases_old_finished_journals_and_keeps_open_or_recent_ones(tmp_path):
    backend = FileBackend(tmp_path, offered={"a": {"1.0"}, "b": {"2.0"}, "c": {"3.0"}})
    state = str(tmp_path / "state")
    summary = _rollback_cache.secure_change(backend, state, [], {"a": "1.0", "b": "2.0", "c": "3.0"}, INSTALLED)
    files = summary["files"]
    old_done = {"id": _old_id(40), "status": "completed", "cycle": "closed", "rollback_files": {"a": files["a"]}}
    old_open = {"id": _old_id(40), "status": "applied", "cycle": "open", "rollback_files": {"b": files["b"]}}
    recent = {"id": _old_id(2), "status": "completed", "cycle": "closed", "rollback_files": {"c": files["c"]}}
    for journal in (old_done, old_open, recent):
        _journal.write(state, dict(journal, format=1, pkg_mgr="apt", before={}))
    removed = _rollback_cache.prune(state, _journal.load_all(state), keep_days=30)
    assert removed == {"files": 1, "bytes": files["a"]["size"]}
    assert not os.path.exists(files["a"]["path"]) and os.path.exists(files["b"]["path"])
    assert os.path.exists(files["c"]["path"])
    assert _journal.load(state, old_done["id"])["rollback_files_pruned_at"]
    _files, problems = _rollback_cache.restore_files(_journal.load(state, old_done["id"]), {"a": "1.0"}, {})
    assert "rollback_keep_days" in problems[0]


class PlanningBackend(FileBackend):
    """Plans exactly the targets (before: installed)."""
    def plan(self, versions, remove=(), downgrade=False):
        current = dict((p["name"], p["version"]) for p in INSTALLED)
        return [{"name": n, "before": current.get(n), "after": v} for n, v in sorted(versions.items())]


def test_require_rollback_leaves_out_what_cannot_be_secured(tmp_path):
    backend = PlanningBackend(tmp_path, offered={"a": {"1.0"}}, rebuildable=False)
    targets, skipped = {"a": "1.1", "b": "2.1"}, {}
    baseline = dict((p["name"], p["version"]) for p in INSTALLED)
    plan, touched, secured = _apply._plan_and_secure(
        backend, targets, None, baseline, {}, skipped, str(tmp_path / "state"), [], INSTALLED,
        {"require_rollback": True}, None, False)
    assert [c["name"] for c in plan] == ["a"] and touched == {"a": "1.0"} and targets == {"a": "1.1"}
    assert skipped["b"].startswith("rollback not possible (require_rollback): b 2.0:")
    assert secured["possible"] is True
    # without require_rollback the update goes ahead, its gap recorded
    targets = {"a": "1.1", "b": "2.1"}
    plan, _touched, secured = _apply._plan_and_secure(
        backend, targets, None, baseline, {}, {}, str(tmp_path / "state"), [], INSTALLED, {}, None, False)
    assert len(plan) == 2 and list(secured["gaps"]) == ["b"] and secured["possible"] is False


def test_require_rollback_refuses_when_a_dependency_cannot_be_secured(tmp_path):
    class WithDependency(PlanningBackend):
        def plan(self, versions, remove=(), downgrade=False):
            return PlanningBackend.plan(self, versions) + [{"name": "c", "before": "3.0", "after": "3.1"}]
    backend = WithDependency(tmp_path, offered={"a": {"1.0"}}, rebuildable=False)
    baseline = dict((p["name"], p["version"]) for p in INSTALLED)
    with pytest.raises(PatchError, match="require_rollback.*c 3.0: .*nothing was changed"):
        _apply._plan_and_secure(backend, {"a": "1.1"}, None, baseline, {}, {}, str(tmp_path / "state"), [], INSTALLED,
                                {"require_rollback": True}, None, False)


# --- snapshot hooks: real commands through the real CommandRunner ---------------------------------

def test_the_snapshot_command_gets_the_change_and_its_last_line_is_the_id(tmp_path):
    runner = CommandRunner()
    log = tmp_path / "calls"
    command = ["sh", "-c", 'echo "$FLEETPATCH_RUN_ID: $FLEETPATCH_PACKAGES" >> %s; echo creating; echo snap-7' % log]
    snapshot = _snapshot.take(runner, command, "run-1", {"b": "1", "a": None}, "2026-12-01T00:00:00Z")
    assert snapshot == {"id": "snap-7", "command": command, "taken_at": "2026-12-01T00:00:00Z"}
    assert log.read_text() == "run-1: a b\n"
    assert "FLEETPATCH_PACKAGES" not in runner.env      # only that command's environment


def test_a_failing_or_silent_snapshot_command_stops_the_apply(tmp_path):
    runner = CommandRunner()
    with pytest.raises(PatchError, match="take a snapshot before the change.*rc=1: .*no space left for snapshots"):
        _snapshot.take(runner, ["sh", "-c", "echo working; echo 'no space left for snapshots' >&2; exit 1"], None, {},
                       "now")
    with pytest.raises(PatchError, match="printed no snapshot id.*nothing was changed"):
        _snapshot.take(runner, ["true"], None, {}, "now")


def test_rollback_runs_the_snapshot_command_after_restoring_with_the_journal_ids(tmp_path):
    from test_transactions import FakeBackend
    state = str(tmp_path / "state")
    journal = _journal.create(state, "apt", {"a": "1.0"}, [], {}, snapshot={"id": "snap-7", "command": ["x"]})
    host = FakeBackend({"a": "1.1"}, {"a": {"1.0", "1.1"}})
    host.runner = CommandRunner()
    log = tmp_path / "calls"
    command = ["sh", "-c", 'echo "$FLEETPATCH_SNAPSHOT_ID $FLEETPATCH_JOURNAL_ID" >> %s; echo rolled' % log]
    result = _apply.rollback(host, state, snapshot_command=command)
    assert host.packages == {"a": "1.0"} and result["snapshot_command_output"] == "rolled"
    assert log.read_text() == "snap-7 %s\n" % journal["id"]
    # its failure fails the rollback, which says the packages are back
    _journal.update(state, _journal.load(state), status="applied")
    host.packages["a"] = "1.1"
    with pytest.raises(PatchError, match="packages of journal .* are restored, but Failed to run the snapshot command"):
        _apply.rollback(host, state, snapshot_command=["false"])
    assert host.packages == {"a": "1.0"} and _journal.load(state)["status"] == "rolled_back"


# --- the preflight's rollback check -----------------------------------------------------------

class PendingUpdates(FileBackend):
    """Every INSTALLED package has an update; each takes 3 MiB installed."""
    def installed(self):
        return INSTALLED

    def updates(self, installed):
        return [{"name": p["name"], "installed_version": p["version"]} for p in installed()]

    def installed_sizes(self, names):
        return dict((n, 3 << 20) for n in names)


def test_preflight_says_which_updates_cannot_be_rolled_back_and_the_room_needed(tmp_path):
    from ansible_collections.fleetpatch.patching.plugins.module_utils import _preflight
    backend = PendingUpdates(tmp_path, offered={"b": {"2.0"}}, manager_cache={"a": "1.0"}, rebuildable=False)
    check = _preflight.check_rollback(backend, str(tmp_path / "state"))
    assert check["status"] == "fail" and "1 of 3 pending updates could not be rolled back" in check["reason"]
    assert "c 3.0" in check["reason"] and check["need_mb"] == 6
    assert check["updates"] == {"a": {"version": "1.0", "source": "package-cache"},
                                "b": {"version": "2.0", "source": "download"}, "c": {"version": "3.0", "source": None}}
    backend.rebuildable = True
    check = _preflight.check_rollback(backend, str(tmp_path / "state"))
    assert check["status"] == "pass" and check["need_mb"] == 9
    assert "1 download, 1 package-cache, 1 rebuilt" in check["reason"]
    # the disk check asks the state dir for that room on top of its own threshold
    thresholds = _preflight.disk_thresholds(None, "apt", "/var/lib/fleetpatch", rollback_mb=check["need_mb"])
    assert thresholds["/var/lib/fleetpatch"] == _preflight.STATE_DIR_MIN_FREE_MB + 9
    assert _preflight.disk_thresholds({"/": 10}, "apt", "/var/lib/fleetpatch", rollback_mb=9) == \
        {"/": 10, "/var/lib/fleetpatch": 9}


def test_sizes_are_read_per_name_and_add_up_across_architectures():
    assert _rollback_cache.sizes_from("libc6\t100\nlibc6\t50\nbad line\nzlib1g\tx\n", 1024) == {"libc6": 150 * 1024}


def test_a_run_taking_over_an_interrupted_one_carries_its_files_over(tmp_path):
    """The interrupted run secured a 1.0 before changing it; the host now runs 1.1 and nothing is
    left to install. The new journal (which supersedes the old) must still hold the file."""
    backend = PlanningBackend(tmp_path, offered={"a": {"1.0"}})
    state = str(tmp_path / "state")
    first = _rollback_cache.secure_change(backend, state, [], {"a": "1.0"}, INSTALLED)
    _journal.create(state, "apt", {"a": "1.0"}, [], {}, cycle=True, rollback_files=first["files"])
    backend.calls, backend.offered = [], {}
    now_installed = [{"name": "a", "version": "1.1", "arch": "all"}]
    plan, touched, secured = _apply._plan_and_secure(
        backend, {}, None, {"a": "1.0"}, {"a": "1.0"}, {}, state, _journal.load_all(state), now_installed,
        {"require_rollback": True}, None, False)
    assert plan == [] and touched == {"a": "1.0"} and backend.calls == []
    assert secured["files"] == first["files"] and secured["possible"] is True


def test_a_file_taken_from_the_package_cache_is_linked_and_keeps_its_mode(tmp_path):
    """The package manager's file is shared, not changed: its mode stays as the manager made it."""
    backend = FileBackend(tmp_path, manager_cache={"a": "1.0"}, rebuildable=False)
    original = backend.package_cache_paths("a", "1.0", "all")[0]
    os.chmod(original, 0o644)
    summary = _rollback_cache.secure_change(backend, str(tmp_path / "state"), [], {"a": "1.0"}, INSTALLED)
    secured = summary["files"]["a"]["path"]
    assert os.path.samefile(secured, original) and oct(os.stat(original).st_mode & 0o777) == "0o644"
