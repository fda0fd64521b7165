# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check the build context `ansible-builder create` wrote for the fleetpatch execution environment,
and what the image's builder stage would install, without building the image (no registry is
reachable here). `make ee-check` runs it:

    python execution-environment/check_context.py CONTEXT_DIR INTROSPECT_DIR

CONTEXT_DIR is ansible-builder's output; INTROSPECT_DIR holds ansible_collections/ with the
collection installed from the context's tarball and its dependencies, as the image's galaxy stage
would install them. The builder stage's own script (CONTEXT_DIR/_build/scripts/introspect.py)
merges their requirements here exactly as it would in the image. Exits 1 naming every problem."""

import json
import os
import re
import subprocess
import sys
import tarfile

import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EE_DIR = os.path.join(REPO_ROOT, "execution-environment")
# what ansible-builder's introspection leaves out of a collection's requirements (already in every EE)
BUILDER_EXCLUDES = {"ansible-core", "ansible", "pyyaml", "ansible-runner"}


def requirement_lines(path):
    """The requirement lines of a pip or bindep file, comments and blank lines dropped."""
    with open(path) as handle:
        return [line.split("#", 1)[0].strip() for line in handle if line.split("#", 1)[0].strip()]


def project_name(requirement):
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower()


def check_containerfile(context, problems):
    path = os.path.join(context, "Containerfile")
    if not os.path.isfile(path):
        problems.append("no Containerfile in %s" % context)
        return
    with open(path) as handle:
        text = handle.read()
    with open(os.path.join(EE_DIR, "execution-environment.yml")) as handle:
        definition = yaml.safe_load(handle)
    base = definition["images"]["base_image"]["name"]
    if 'ARG EE_BASE_IMAGE="%s"' % base not in text or "FROM $EE_BASE_IMAGE AS base" not in text:
        problems.append("the Containerfile does not take the base image as the build argument EE_BASE_IMAGE (default %s)" % base)
    core = [line for line in requirement_lines(os.path.join(REPO_ROOT, "requirements.txt")) if project_name(line) == "ansible-core"]
    if not core or core[0] not in text:
        problems.append("the Containerfile does not install the tested %s" % (core or ["ansible-core"])[0])
    if "ENV ANSIBLE_CALLBACKS_ENABLED=fleetpatch.patching.compliance" not in text:
        problems.append("the Containerfile does not enable the compliance callback")


def check_collection(context, problems):
    """The galaxy requirements name the collection's tarball, which is in the context and is this
    checkout's collection (version, dependencies, its execution environment metadata)."""
    with open(os.path.join(context, "_build", "requirements.yml")) as handle:
        requirements = yaml.safe_load(handle)
    with open(os.path.join(REPO_ROOT, "galaxy.yml")) as handle:
        galaxy = yaml.safe_load(handle)
    files = [entry["name"] for entry in requirements.get("collections", []) if entry.get("type") == "file"]
    if len(files) != 1:
        problems.append("the galaxy requirements name %d collection tarballs, not 1: %s" % (len(files), files))
        return
    tarball = os.path.join(context, "_build", files[0])
    if not os.path.isfile(tarball):
        problems.append("the collection tarball %s is not in the build context" % files[0])
        return
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
        manifest = json.load(archive.extractfile("MANIFEST.json"))["collection_info"]
    wanted = (galaxy["namespace"], galaxy["name"], galaxy["version"], galaxy.get("dependencies") or {})
    found = (manifest["namespace"], manifest["name"], manifest["version"], manifest["dependencies"])
    if found != wanted:
        problems.append("the tarball holds %s, not this checkout's %s" % (found, wanted))
    for member in ("meta/execution-environment.yml", "requirements.txt", "bindep.txt"):
        if member not in names:
            problems.append("the tarball lacks %s: an EE installing it would miss its dependencies" % member)


def check_merged_requirements(context, introspect_dir, problems):
    """Run the builder stage's introspection; every runtime requirement of ours must come out of it."""
    pip_out = os.path.join(introspect_dir, "merged-requirements.txt")
    bindep_out = os.path.join(introspect_dir, "merged-bindep.txt")
    for stale in (pip_out, bindep_out):
        if os.path.exists(stale):
            os.unlink(stale)
    proc = subprocess.run([sys.executable, os.path.join(context, "_build", "scripts", "introspect.py"), "introspect",
                           introspect_dir, "--write-pip", pip_out, "--write-bindep", bindep_out],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        problems.append("introspection failed (rc=%d): %s" % (proc.returncode, proc.stderr[-2000:]))
        return
    merged_pip = requirement_lines(pip_out) if os.path.exists(pip_out) else []
    merged_bindep = requirement_lines(bindep_out) if os.path.exists(bindep_out) else []
    for line in requirement_lines(os.path.join(REPO_ROOT, "requirements.txt")):
        if project_name(line) not in BUILDER_EXCLUDES and line not in merged_pip:
            problems.append("%r (requirements.txt) is not in the image's merged Python requirements %s" % (line, merged_pip))
    for line in requirement_lines(os.path.join(REPO_ROOT, "bindep.txt")):
        if line not in merged_bindep:
            problems.append("%r (bindep.txt) is not in the image's merged system requirements %s" % (line, merged_bindep))
    from bindep.depends import Depends     # ansible-builder's own dependency: the parser the image's build uses
    try:
        Depends("\n".join(merged_bindep) + "\n")
    except Exception as exc:      # bindep raises its parser's own errors
        problems.append("the merged bindep file does not parse: %s" % exc)
    print("merged Python requirements: %s" % merged_pip)
    print("merged system requirements: %s" % merged_bindep)


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: check_context.py CONTEXT_DIR INTROSPECT_DIR")
    context, introspect_dir = argv[1], argv[2]
    problems = []
    check_containerfile(context, problems)
    check_collection(context, problems)
    check_merged_requirements(context, introspect_dir, problems)
    for problem in problems:
        print("ee-check: %s" % problem, file=sys.stderr)
    if problems:
        sys.exit(1)
    print("ee-check: the build context is complete (%s)" % context)


if __name__ == "__main__":
    main(sys.argv)
