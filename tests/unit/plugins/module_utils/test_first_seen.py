"""First-seen dates: kept, pruned, atomic and root-only, never written in check mode."""
import json
import os
import stat

from ansible_collections.fleetpatch.patching.plugins.module_utils import _first_seen


def updates(*versions):
    return [{"name": "pkg", "arch": "all", "available_version": v} for v in versions]


def test_first_sight_is_kept_and_old_versions_pruned(tmp_path):
    state = str(tmp_path / "state")
    first = updates("1.1")
    assert _first_seen.annotate(first, state, "2025-01-01", check_mode=False) is True
    assert first[0]["first_seen"] == "2025-01-01"
    again = updates("1.1", "1.2")
    _first_seen.annotate(again, state, "2025-01-05", check_mode=False)
    assert [u["first_seen"] for u in again] == ["2025-01-01", "2025-01-05"]
    later = updates("1.2")
    assert _first_seen.annotate(later, state, "2025-01-09", check_mode=False) is True   # 1.1 pruned
    with open(os.path.join(state, "first_seen.json")) as f:
        assert json.load(f)["seen"] == {"pkg|all|1.2": "2025-01-05"}
    assert stat.S_IMODE(os.stat(os.path.join(state, "first_seen.json")).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    assert [n for n in os.listdir(state) if n.startswith(".first_seen.")] == []


def test_check_mode_never_writes(tmp_path):
    state = str(tmp_path / "state")
    u = updates("1.1")
    assert _first_seen.annotate(u, state, "2025-01-01", check_mode=True) is True
    assert u[0]["first_seen"] == "2025-01-01"
    assert not os.path.exists(state)


def test_a_damaged_file_is_replaced(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "first_seen.json").write_text("{not json")
    u = updates("1.1")
    _first_seen.annotate(u, str(state), "2025-02-02", check_mode=False)
    assert u[0]["first_seen"] == "2025-02-02"
    assert json.loads((state / "first_seen.json").read_text())["format"] == 1
