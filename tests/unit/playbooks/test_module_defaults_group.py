"""The package_manager action group (meta/runtime.yml): module_defaults set once for the play reach
every module that takes the shared package-manager options, through their action plugins too, and
the group lists only modules that take every one of those options (module_defaults hands each
option to each member; a member without it would fail)."""
import json
import os
import subprocess
import sys

import yaml

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
SHARED = {"pkg_mgr", "root", "lock_timeout", "state_dir"}
PLAY = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/fleetpatch.patching.package_manager:
      state_dir: {state_dir}
      pkg_mgr: apt
  tasks:
    - name: Roll back with the play's defaults
      fleetpatch.patching.patch_rollback:
        journal: latest
      check_mode: true
"""


def group():
    with open(os.path.join(REPO, "meta", "runtime.yml")) as handle:
        return yaml.safe_load(handle)["action_groups"]["package_manager"]


def test_every_member_takes_every_shared_option():
    from ansible_collections.fleetpatch.patching.plugins.module_utils import _module_args
    for spec in (_module_args.backend_argument_spec, _module_args.facts_argument_spec,
                 _module_args.apply_argument_spec, _module_args.rollback_argument_spec):
        assert SHARED <= set(spec()), spec.__name__
    for name in group():
        with open(os.path.join(REPO, "plugins", "modules", name + ".py")) as handle:
            source = handle.read()
        documentation = yaml.safe_load(source.split('DOCUMENTATION = r"""', 1)[1].split('"""', 1)[0])
        assert "fleetpatch.patching._backend" in documentation["extends_documentation_fragment"], name
        assert "_module_args import" in source and "argument_spec(" in source, name


def test_a_default_set_for_the_group_reaches_the_module(tmp_path):
    state_dir = tmp_path / "state-from-defaults"
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAY.format(state_dir=state_dir))
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_NOCOLOR="1",
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"))
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", str(playbook),
                           "-e", "ansible_python_interpreter=" + sys.executable],
                          capture_output=True, text=True, env=env, check=False, stdin=subprocess.DEVNULL, timeout=300)
    result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert result["msg"] == "Failed to find a rollback journal: %s/journal holds none" % state_dir
