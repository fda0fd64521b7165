"""Replay package-manager output captured from the lab (fixtures/, see tests/lab/capture_fixtures.py)."""
import json
import os

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def fixture(scenario, name):
    """(stdout, rc, cmd) of one captured command."""
    base = os.path.join(FIXTURES, scenario, name)
    with open(base + ".stdout") as f:
        stdout = f.read()
    with open(base + ".json") as f:
        meta = json.load(f)
    return stdout, meta["rc"], meta["cmd"]


class ReplayRunner:
    """A CommandRunner stand-in: answers each command with the fixture captured for exactly that
    command line (so a backend whose commands drift from the captured ones fails the test)."""

    def __init__(self, scenario, answers=None):
        self.env = {}
        self.history = []
        self.recorded = {}
        directory = os.path.join(FIXTURES, scenario)
        for entry in sorted(os.listdir(directory)):
            if entry.endswith(".json") and os.path.exists(os.path.join(directory, entry[:-5] + ".stdout")):
                stdout, rc, cmd = fixture(scenario, entry[:-5])
                self.recorded[tuple(cmd)] = (rc, stdout, "")
        self.recorded.update(answers or {})

    def run(self, argv, action, ok_rcs=(0,), data=None):
        key = tuple(str(a) for a in argv)
        self.history.append({"cmd": list(key)})
        if key not in self.recorded:
            raise AssertionError("no fixture for %r; captured: %r" % (key, sorted(self.recorded)))
        rc, out, err = self.recorded[key]
        if rc not in ok_rcs:
            self.raise_for(argv, action, rc, out, err)
        return rc, out, err

    @staticmethod
    def raise_for(argv, action, rc, out, err):
        from ansible_collections.fleetpatch.patching.plugins.module_utils._commands import CommandRunner
        CommandRunner.raise_for([str(a) for a in argv], action, rc, out, err)


def replay_backend(module, backend_class, scenario, monkeypatch, **kwargs):
    """A backend of `module` answering from a captured scenario, with lock waits disabled."""
    monkeypatch.setattr(module, "wait_for_locks", lambda *a, **k: None)
    return backend_class(ReplayRunner(scenario), **kwargs)


def apt_replay_backend(scenario, tmp_path, monkeypatch, answers=None):
    """An apt backend answering from a captured scenario, with the Release files it captured
    written to tmp_path as its lists directory."""
    from ansible_collections.fleetpatch.patching.plugins.module_utils import _apt
    monkeypatch.setattr(_apt, "wait_for_locks", lambda *a, **k: None)
    with open(os.path.join(FIXTURES, scenario, "releases.json")) as f:
        for name, text in json.load(f).items():
            (tmp_path / name).write_text(text)
    return _apt.AptBackend(ReplayRunner(scenario, answers), lists_dir=str(tmp_path))
