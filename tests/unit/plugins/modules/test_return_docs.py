"""Every key a module returns is in its RETURN block (issue 17 item 7).

The modules' own main() runs through AnsibleModule (patch_module_args, exit_json/fail_json
captured), on POSIX hosts over the package-manager output captured from the lab (replay.py) or an
in-memory package manager for the paths that install (the journal, the rollback cache and the
reassessment are the real code), and on Windows hosts through the action plugins over recorded
ansible.windows results (windows_replay.py). The keys each run returns, the host patch record's
keys and its updates' keys are compared with the parsed RETURN; the record's schema
(docs/schemas/host_patch_record.schema.json) must be documented too, since a record field may
appear only on a host the runs here do not model.
"""
import json
import os
import sys

import pytest
import yaml
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.fleetpatch.patching.plugins.action import patch_apply as apply_action
from ansible_collections.fleetpatch.patching.plugins.action import patch_facts as facts_action
from ansible_collections.fleetpatch.patching.plugins.action import patch_rollback as rollback_action
from ansible_collections.fleetpatch.patching.plugins.module_utils import _apt, _backend, _dnf, _journal, _zypper
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError
from ansible_collections.fleetpatch.patching.plugins.modules import compliance_report, health_check, patch_apply
from ansible_collections.fleetpatch.patching.plugins.modules import patch_cycle, patch_facts, patch_preflight
from ansible_collections.fleetpatch.patching.plugins.modules import patch_rollback
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._advisory import feed as _advisory_feed

HERE = os.path.dirname(os.path.abspath(__file__))
for _helpers in ("module_utils", "action"):      # replay.py, windows_replay.py
    sys.path.insert(0, os.path.join(HERE, "..", _helpers))
from replay import ReplayRunner, apt_replay_backend  # noqa: E402  pylint: disable=wrong-import-position
from windows_replay import Replay, windows_action  # noqa: E402  pylint: disable=wrong-import-position

SCHEMA_PATH = os.path.join(HERE, "..", "..", "..", "..", "docs", "schemas", "host_patch_record.schema.json")

# Ansible's common return values (docs: "Return Values"), documented once by Ansible, not per module.
COMMON = {"changed", "failed", "msg", "warnings", "deprecations", "invocation", "diff", "exception", "unreachable",
          "skipped"}


def documented(module):
    return yaml.safe_load(module.RETURN)


def contains(spec, *path):
    """The `contains` of RETURN's key at path (a list of keys, each one level of contains)."""
    for key in path:
        spec = spec[key].get("contains") or {}
    return spec


def undocumented(keys, spec):
    return sorted(set(keys) - set(spec) - COMMON)


def assert_documented(keys, spec, where):
    missing = undocumented(keys, spec)
    assert not missing, "%s returns keys its RETURN does not list: %s" % (where, ", ".join(missing))


class Exit(Exception):
    def __init__(self, result):
        Exception.__init__(self, result)
        self.result = result


@pytest.fixture
def run_module(monkeypatch):
    """main() of a module with these arguments: the result it exits or fails with."""
    def exit_json(self, **result):
        raise Exit(dict(result, changed=result.get("changed", False)))

    def fail_json(self, msg, **result):
        raise Exit(dict(result, msg=msg, failed=True))

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)

    def run(module, args, backend=None, check_mode=False):
        if backend is not None:
            monkeypatch.setattr(module, "select_backend", lambda _module, _runner: backend)
        if check_mode:
            args = dict(args, _ansible_check_mode=True)
        with patch_module_args(args), pytest.raises(Exit) as raised:
            module.main()
        return raised.value.result
    return run


class QuietRunner:
    """The in-memory manager's runner: every command it is asked (dpkg --audit) finds nothing."""

    def __init__(self):
        self.history = []

    def run(self, argv, action, ok_rcs=(0,), data=None):
        self.history.append({"cmd": list(argv), "rc": 0})
        return 0, "", ""


class MemoryBackend(_backend.Backend):
    """A package manager held in memory, for the paths that install and roll back (the replayed
    fixtures hold assessments only): packages {name: version}, offered {name: newest version}."""
    name = "apt"
    compare = staticmethod(_apt.compare_deb)

    def __init__(self, packages, offered, fail_with=None):
        self.runner = QuietRunner()
        self.root, self.lock_timeout, self.incomplete, self.unfinished = None, 120, [], []
        self.packages, self.offered, self.fail_with = dict(packages), dict(offered), fail_with

    def refresh(self, cache_valid_time=0):
        return True

    def cache_age(self):
        return 0

    def installed(self):
        return [{"name": n, "version": v, "arch": "all"} for n, v in sorted(self.packages.items())]

    def updates(self, installed=None):
        return [{"name": n, "arch": "all", "installed_version": self.packages.get(n), "available_version": v,
                 "classification": "security", "severity": "important", "advisories": ["DSA-5800-1"],
                 "cves": ["CVE-2026-0001"], "issued": "2026-11-01", "repository": "memory", "reboot_suggested": False}
                for n, v in sorted(self.offered.items()) if self.compare(v, self.packages.get(n, "0")) > 0]

    def resolve(self, updates):
        for update in updates:
            update["installable"] = True
        return [], []

    def plan(self, versions, remove=()):
        return [{"name": n, "arch": "all", "before": self.packages.get(n), "after": v} for n, v in sorted(versions.items())]

    def apply(self, versions, remove=(), downgrade=False, files=None):
        if self.fail_with:
            raise self.fail_with
        self.packages.update(versions)
        for name in remove:
            del self.packages[name]

    def recover(self, journal=None):
        pass

    def available_versions(self, names):
        return dict((n, set(v for v in (self.packages.get(n), self.offered.get(n)) if v)) for n in names)

    def reboot_status(self):
        return ["/run/reboot-required exists"], ["ssh"]

    def package_file_name(self, name, version, arch):
        return "%s_%s_%s.deb" % (name, version, arch)

    def package_cache_paths(self, name, version, arch):
        return []

    def package_file_identity(self, path):
        return tuple(json.load(open(path)))

    def download_package(self, name, version, arch, directory, query_name=None):
        with open(os.path.join(directory, self.package_file_name(name, version, arch)), "w") as f:
            json.dump([name, version, arch], f)

    def installed_sizes(self, names):
        return dict((n, 1024) for n in names if n in self.packages)


def memory_backend(**kwargs):
    return MemoryBackend({"openssl": "3.0.15-1", "libc6": "2.36-9"}, {"openssl": "3.0.16-1", "libc6": "2.36-9"},
                         **kwargs)


def replay_backend(manager, scenario, tmp_path, monkeypatch):
    if manager == "apt":
        (tmp_path / "lists").mkdir()
        backend = apt_replay_backend(scenario, tmp_path / "lists", monkeypatch)
    else:
        module, backend_class = {"dnf": (_dnf, _dnf.DnfBackend), "zypper": (_zypper, _zypper.ZypperBackend)}[manager]
        monkeypatch.setattr(module, "wait_for_locks", lambda *a, **k: None)
        backend = backend_class(ReplayRunner(scenario))
    monkeypatch.setattr(backend, "reboot_status", lambda: (["/run/reboot-required exists"], []))
    return backend


# --- patch_facts -----------------------------------------------------------------------------------

def facts_results(run_module, tmp_path, monkeypatch):
    """patch_facts' results: every package manager's captured assessment (the record as the module
    returns it), one through the action plugin's advisory-feed join, one that fails."""
    results = []
    for manager in ("apt", "dnf", "zypper"):
        path = tmp_path / manager
        path.mkdir()
        backend = replay_backend(manager, "%s-security" % manager, path, monkeypatch)
        results.append(run_module(patch_facts, {"pkg_mgr": manager, "update_cache": False, "resolve": False,
                                                "include_installed": True, "state_dir": str(path)}, backend))
    # the in-memory manager resolves (installable) and its record goes through the feed join
    resolved = run_module(patch_facts, {"include_installed": True, "state_dir": str(tmp_path)}, memory_backend())
    results.append(resolved)
    feed, _args, invalid = _advisory_feed.split_task_args(
        {"advisory_feed": {"debian_tracker": str(tmp_path / "no-tracker.json"), "cache_dir": str(tmp_path / "cache")}},
        "fleetpatch.patching.patch_facts")
    assert invalid is None
    results.append(facts_action.ActionModule.join_feed(None, json.loads(json.dumps(resolved)), feed, None))
    results.append(run_module(patch_facts, {"state_dir": str(tmp_path)}, failing_refresh_backend()))
    return results


def failing_refresh_backend():
    backend = memory_backend()

    def refresh(cache_valid_time=0):
        raise PatchError("Failed to refresh the package lists: E: could not open lock", cmd=["apt-get", "update"], rc=100,
                         stdout="", stderr="E: could not open lock")
    backend.refresh = refresh
    return backend


def windows_facts():
    replay = Replay(win_updates=["search"])
    plugin, task_vars = windows_action(facts_action.ActionModule, {}, replay, facts={"hostname": "WIN01"})
    return plugin.run(task_vars=task_vars)


def records(results):
    return [r["ansible_facts"]["fleetpatch"] for r in results if "ansible_facts" in r]


def test_patch_facts_returns_only_documented_keys(run_module, tmp_path, monkeypatch):
    results = facts_results(run_module, tmp_path, monkeypatch) + [windows_facts()]
    spec = documented(patch_facts)
    record_spec = contains(spec, "ansible_facts", "fleetpatch")
    found = {"result": set(), "record": set(), "update": set(), "counts": set(), "advisory_feed": set()}
    for result in results:
        found["result"] |= set(result)
    for record in records(results):
        found["record"] |= set(record)
        found["counts"] |= set(record["counts"])
        found["advisory_feed"] |= set(record.get("advisory_feed") or {})
        for update in record["updates"]:
            found["update"] |= set(update)
    assert found["update"] and found["advisory_feed"] and any(r.get("failed") for r in results)
    assert_documented(found["result"], spec, "patch_facts")
    assert_documented(found["record"], record_spec, "patch_facts: the record")
    assert_documented(found["update"], contains(record_spec, "updates"), "patch_facts: an update")
    assert_documented(found["counts"], contains(record_spec, "counts"), "patch_facts: the counts")
    assert_documented(found["advisory_feed"], contains(record_spec, "advisory_feed"), "patch_facts: advisory_feed")


def test_patch_facts_documents_the_record_schema():
    """A field the schema allows (apt's held, dnf's obsoletes...) is documented even where no replay shows it."""
    with open(SCHEMA_PATH) as f:
        schema = json.load(f)
    record_spec = contains(documented(patch_facts), "ansible_facts", "fleetpatch")
    assert_documented(schema["properties"], record_spec, "the record schema")
    assert_documented(schema["$defs"]["update"]["properties"], contains(record_spec, "updates"), "the record schema: an update")
    assert_documented(schema["$defs"]["counts"]["properties"], contains(record_spec, "counts"), "the record schema: the counts")
    assert_documented(schema["properties"]["advisory_feed"]["properties"], contains(record_spec, "advisory_feed"), "the record schema: advisory_feed")
    assert_documented(schema["properties"]["rollback_cache"]["properties"], contains(record_spec, "rollback_cache"), "the record schema: rollback_cache")


# --- patch_apply, patch_rollback -------------------------------------------------------------------

def apply_results(run_module, tmp_path):
    state = str(tmp_path)
    args = {"state_dir": state, "update_cache": False}
    results = [run_module(patch_apply, args, memory_backend(), check_mode=True)]
    installed = memory_backend()
    results.append(run_module(patch_apply, args, installed))
    results.append(run_module(patch_apply, args, MemoryBackend(installed.packages, installed.offered)))   # nothing to do
    failure = PatchError("Failed to install: E: Sub-process /usr/bin/dpkg returned an error code (1)",
                         cmd=["apt-get", "install", "openssl=3.0.16-1"], rc=100, stdout="Setting up openssl ...\n",
                         stderr="E: Sub-process /usr/bin/dpkg returned an error code (1)")
    results.append(run_module(patch_apply, dict(args, state_dir=str(tmp_path / "failing")),
                              memory_backend(fail_with=failure)))
    return results


def windows_apply():
    replay = Replay(win_updates=["search", "install_failure"])
    plugin, task_vars = windows_action(apply_action.ActionModule, {"names": ["KB5034129", "KB5033920"]}, replay)
    failed = plugin.run(task_vars=task_vars)
    replay = Replay(win_updates=["search", "install_reboot", "search_after_install"])
    plugin, task_vars = windows_action(apply_action.ActionModule, {"names": ["KB5034129", "KB5033920"]}, replay)
    applied = plugin.run(task_vars=task_vars)
    return replay, [failed, applied]


def test_patch_apply_returns_only_documented_keys(run_module, tmp_path):
    results = apply_results(run_module, tmp_path) + windows_apply()[1]
    assert [bool(r.get("failed")) for r in results] == [False, False, False, True, True, False]
    spec = documented(patch_apply)
    assert_documented(set().union(*results), spec, "patch_apply")
    records = [r["record"] for r in results if r.get("record")]
    assert_documented(set().union(*records), contains(documented(patch_facts), "ansible_facts", "fleetpatch"),
                      "patch_apply: the record")
    rollback = [r["rollback"] for r in results if r.get("rollback")]
    assert rollback
    assert_documented(set().union(*rollback), contains(spec, "rollback"), "patch_apply: rollback")


def test_patch_rollback_returns_only_documented_keys(run_module, tmp_path):
    state = str(tmp_path)
    backend = memory_backend()
    assert not run_module(patch_apply, {"state_dir": state, "update_cache": False}, backend).get("failed")
    results = [run_module(patch_rollback, {"state_dir": state}, backend, check_mode=True),
               run_module(patch_rollback, {"state_dir": state}, backend),
               run_module(patch_rollback, {"state_dir": state, "journal": "nope"}, backend)]
    replay, _results = windows_apply()
    replay.scripts["ansible.windows.win_hotfix"] = ["hotfix_absent_net", "hotfix_absent_cu"]
    plugin, task_vars = windows_action(rollback_action.ActionModule, {}, replay)
    results.append(plugin.run(task_vars=task_vars))
    assert [bool(r.get("failed")) for r in results] == [False, False, True, False]
    assert results[1]["changed"] and results[3]["changed"]
    assert _journal.load(state)["status"] == "rolled_back"
    assert_documented(set().union(*results), documented(patch_rollback), "patch_rollback")


# --- patch_cycle, patch_preflight, health_check, compliance_report ----------------------------------

def test_patch_cycle_returns_only_documented_keys(run_module, tmp_path):
    state = str(tmp_path)
    results = [run_module(patch_cycle, {"state": "begin", "run_token": "run-1", "controller": "ctl1",
                                        "controller_pid": 4242, "state_dir": state}),
               run_module(patch_cycle, {"state": "begin", "run_token": "run-2", "state_dir": state}),
               run_module(patch_cycle, {"state": "end", "run_token": "run-1", "state_dir": state})]
    assert [bool(r.get("failed")) for r in results] == [False, True, False]
    assert_documented(set().union(*results), documented(patch_cycle), "patch_cycle")


def test_patch_preflight_returns_only_documented_keys(run_module, tmp_path):
    args = {"state_dir": str(tmp_path), "check_repositories": False, "min_free_mb": {str(tmp_path): 0}}
    results = [run_module(patch_preflight, args, memory_backend()),
               run_module(patch_preflight, dict(args, min_free_mb={str(tmp_path): 1 << 40}), memory_backend())]
    assert [bool(r.get("failed")) for r in results] == [False, True], results
    spec = documented(patch_preflight)
    assert_documented(set().union(*results), spec, "patch_preflight")


def test_health_check_returns_only_documented_keys(run_module):
    ok = {"name": "true", "type": "command", "argv": ["true"]}
    bad = {"name": "false", "type": "command", "argv": ["false"]}
    results = [run_module(health_check, {"checks": [ok], "retries": 1, "delay": 0}),
               run_module(health_check, {"checks": [ok, bad], "retries": 1, "delay": 0})]
    assert [bool(r.get("failed")) for r in results] == [False, True]
    assert_documented(set().union(*results), documented(health_check), "health_check")
    entries = [entry for r in results for entry in r["results"]]
    assert_documented(set().union(*entries), contains(documented(health_check), "results"), "health_check: a check")


def test_compliance_report_documents_what_its_action_returns():
    """The action plugin runs on the controller over a history store (tested with the report
    role); the keys it sets are those of its result.update() and result[...] assignments."""
    import ast
    import inspect
    import textwrap
    from ansible_collections.fleetpatch.patching.plugins.action import compliance_report as action
    keys = set()
    for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(action.ActionModule.run)))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "update":
            keys |= set(k.arg for k in node.keywords)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) \
                and getattr(node.value, "id", None) == "result":
            keys.add(node.slice.value)
    assert {"run_id", "summary", "directory", "hosts", "files"} <= keys
    assert_documented(keys, documented(compliance_report), "compliance_report")


@pytest.mark.parametrize("module", [compliance_report, health_check, patch_apply, patch_cycle, patch_facts,
                                    patch_preflight, patch_rollback], ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_returned_key_has_type_returned_and_description(module):
    def walk(spec, path):
        for key, entry in spec.items():
            for field in ("description", "returned", "type"):
                assert entry.get(field), "%s: %s has no %s" % (module.__name__, ".".join(path + [key]), field)
            walk(entry.get("contains") or {}, path + [key])
    walk(documented(module), [])
