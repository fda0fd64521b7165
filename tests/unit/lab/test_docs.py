"""What the README and docs/ tell a user to run exists and works as far as it can without hosts
(issue 14, items 10 and 11).

- every `-e @file` they show names a shipped file (docs/examples/), whose variables are the roles'
  (checked against each role's meta/argument_specs.yml, the baseline against the policy
  validation, health checks against health_check's) or the playbooks';
- every `ansible-playbook fleetpatch.patching.<playbook>` command in the README passes
  `ansible-playbook --syntax-check` with its extra variables;
- every image under docs/images is shown by some document;
- the ansible-core versions claimed are the one the tests run on (requirements.txt's pin).
"""
import glob
import json
import os
import re
import shlex
import subprocess

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.fleetpatch.patching.plugins.module_utils import _health, _policy

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DOCS = [os.path.join(REPO, "README.md")] + sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))
EXAMPLES = os.path.join(REPO, "docs", "examples")
ROLES = ("assess", "patch", "gate", "rollback", "report")
# Variables the playbooks read themselves (not a role's).
PLAYBOOK_VARS = ("fleetpatch_serial", "fleetpatch_max_fail_percentage", "fleetpatch_targets", "fleetpatch_ring",
                 "fleetpatch_manifest")
# Variables several roles default to (roles/*/defaults/main.yml).
SHARED_VARS = ("fleetpatch_policy",)
PKG_MGRS = ("apt", "dnf", "yum", "zypper", "windows")


def read(path):
    with open(path) as handle:
        return handle.read()


def code_blocks(path):
    return re.findall(r"```(?:sh|bash)?\n(.*?)```", read(path), re.S)


def extra_var_files(path):
    return [(m.group(1), path) for block in code_blocks(path) for m in re.finditer(r"-e @(\S+)", block)]


def role_spec(role):
    with open(os.path.join(REPO, "roles", role, "meta", "argument_specs.yml")) as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]


def example_vars():
    return sorted(glob.glob(os.path.join(EXAMPLES, "*.yml")))


def test_every_variables_file_the_docs_pass_exists():
    referenced = [ref for doc in DOCS for ref in extra_var_files(doc)]
    assert len(referenced) >= 3
    missing = ["%s: -e @%s" % (os.path.relpath(doc, REPO), name) for name, doc in referenced
               if not os.path.isfile(os.path.join(REPO, name))]
    assert not missing, "files the docs pass with -e @ that do not exist:\n" + "\n".join(missing)


def test_the_readme_uses_the_shipped_examples():
    shown = {ref[0] for ref in extra_var_files(os.path.join(REPO, "README.md"))}
    shipped = {os.path.relpath(p, REPO) for p in glob.glob(os.path.join(EXAMPLES, "*"))}
    assert shipped and shipped <= shown


@pytest.mark.parametrize("path", example_vars(), ids=os.path.basename)
def test_example_variables_are_what_the_roles_and_playbooks_take(path):
    with open(path) as handle:
        variables = yaml.safe_load(handle)
    assert variables
    playbooks = "".join(read(p) for p in glob.glob(os.path.join(REPO, "playbooks", "*.yml")))
    unknown = [k for k in variables if not k.startswith(tuple(r + "_" for r in ROLES))
               and k not in PLAYBOOK_VARS + SHARED_VARS]
    assert not unknown, "not a variable of any role or playbook: %s" % unknown
    defaults = "".join(read(p) for p in glob.glob(os.path.join(REPO, "roles", "*", "defaults", "main.yml")))
    for name in variables:
        if name in SHARED_VARS:
            assert name in defaults, name
    for name in variables:
        if name in PLAYBOOK_VARS:
            assert name in playbooks, name
    for role in ROLES:
        params = {k: v for k, v in variables.items() if k.startswith(role + "_")}
        if params:
            result = ArgumentSpecValidator(role_spec(role)).validate(params)
            assert not result.error_messages, "%s: %s" % (role, result.error_messages)
    for key in ("assess_policy", "patch_policy", "fleetpatch_policy"):
        if key in variables:
            _policy.normalize_policy(variables[key])           # raises PatchError naming the bad key
    for key in ("patch_health_checks", "rollback_health_checks"):
        assert _health.validate(variables.get(key, [])) == []


def test_example_manifest_is_what_patch_ring_takes():
    with open(os.path.join(EXAMPLES, "manifest.json")) as handle:
        data = json.load(handle)
    assert list(data) == ["fleetpatch_manifest"]        # patch_ring.yml installs a manifest only under this name
    manifest = data["fleetpatch_manifest"]
    assert manifest and set(manifest) <= set(PKG_MGRS)
    for packages in manifest.values():
        assert packages and all(isinstance(n, str) and isinstance(v, str) and v for n, v in packages.items())


def readme_commands():
    commands = []
    for block in code_blocks(os.path.join(REPO, "README.md")):
        for line in block.splitlines():
            if line.startswith("ansible-playbook fleetpatch.patching."):
                commands.append(shlex.split(line, comments=True))
    return commands


@pytest.mark.parametrize("argv", readme_commands(), ids=lambda argv: argv[1])
def test_readme_commands_pass_the_syntax_check(argv):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
               ANSIBLE_INVENTORY=os.devnull)   # never "localhost,": a list, whose empty item is the cwd
    proc = subprocess.run(argv[:1] + ["--syntax-check"] + argv[1:], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_image_is_shown_by_a_document():
    documents = "".join(read(p) for p in DOCS + glob.glob(os.path.join(REPO, "roles", "*", "README.md")))
    unshown = [os.path.relpath(p, REPO) for p in glob.glob(os.path.join(REPO, "docs", "images", "*"))
               if os.path.basename(p) not in documents]
    assert not unshown, "images no document shows: %s" % unshown


def pinned_ansible_core():
    pin = re.search(r"^ansible-core==(\d+)\.(\d+)\.\d+$", read(os.path.join(REPO, "requirements.txt")), re.M)
    return "%s.%s" % pin.groups()


def test_the_supported_ansible_core_is_the_tested_one():
    tested = pinned_ansible_core()
    with open(os.path.join(REPO, "meta", "runtime.yml")) as handle:
        assert yaml.safe_load(handle)["requires_ansible"] == ">=%s.0" % tested
    for role in ROLES:
        with open(os.path.join(REPO, "roles", role, "meta", "main.yml")) as handle:
            assert yaml.safe_load(handle)["galaxy_info"]["min_ansible_version"] == tested, role
    claims = []
    for path in [os.path.join(REPO, "README.md"), os.path.join(REPO, "docs", "support.md"),
                 os.path.join(REPO, "meta", "runtime.yml"), os.path.join(REPO, "galaxy.yml")]:
        for number, line in enumerate(read(path).splitlines(), 1):
            if re.search(r"ansible-core|requires_ansible|ansible \d", line):
                claims += ["%s:%d: %s" % (os.path.relpath(path, REPO), number, line.strip())
                           for version in re.findall(r"\b2\.\d+\b", line) if version != tested]
    assert not claims, "ansible-core versions claimed but not tested (only %s is):\n%s" % (tested, "\n".join(claims))
