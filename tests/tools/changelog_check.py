"""Release the changelog fragments as a dry run and check what a reader would get.

    python tests/tools/changelog_check.py      # make changelog-check (part of make test)

Copies what antsibull-changelog reads (galaxy.yml, meta/, plugins/, roles/, playbooks/,
changelogs/) into a temporary ansible_collections/<namespace>/<name>, runs
`antsibull-changelog lint` and `antsibull-changelog release` there (the checkout is not touched),
and fails when the release:

- shows Ansible documentation markup literally: C(), M(), I(), O(), V()... mean something in
  module documentation, not in a changelog, which is reStructuredText (use ``literal``);
- lists a module or plugin twice: antsibull-changelog adds every module and plugin whose
  version_added is the release to "New Modules" / "New Plugins" by itself, so a fragment saying
  "<name> - new module" repeats it;
- links to another repository than galaxy.yml's `repository` / `issues`.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COPIED = ("galaxy.yml", "meta", "plugins", "roles", "playbooks", "changelogs")
# Ansible's documentation markup: B() C() E() I() L() M() O() P() R() U() V().
MARKUP = re.compile(r"(?<![\w.:/\\])([BCEILMOPRUV])\(")
# "<names> - new module ...", "<names> - new aggregate callback ...", "<names> - new filter ..."
ANNOUNCED = re.compile(r"^(?P<names>[^\n]+?) - new (?:\w+ )?(?P<kind>module|plugin|filter|callback|lookup|test)\b")
LINK = re.compile(r"https?://github\.com/[^\s)>`]+")


def release(root):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.dirname(os.path.dirname(os.path.dirname(root))))
    for args in (["lint"], ["release"]):
        proc = subprocess.run(["antsibull-changelog"] + args, cwd=root, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
        if proc.returncode != 0:
            sys.exit("changelog-check: antsibull-changelog %s failed:\n%s" % (args[0], proc.stdout))


def problems(root, galaxy):
    with open(os.path.join(root, "CHANGELOG.rst")) as handle:
        rst = handle.read()
    with open(os.path.join(root, "changelogs", "changelog.yaml")) as handle:
        changes = yaml.safe_load(handle)["releases"][str(galaxy["version"])]
    found = []
    for number, line in enumerate(rst.splitlines(), 1):
        markup = sorted(set(MARKUP.findall(re.sub(r"``.*?``", "", line))))     # ``C(x)`` is quoted on purpose
        if markup:
            found.append("CHANGELOG.rst:%d: literal %s markup (write ``...``): %s"
                         % (number, ", ".join(m + "(...)" for m in markup), line.strip()[:160]))
    generated = {m["name"] for m in changes.get("modules", [])}
    generated |= {p["name"] for plugins in changes.get("plugins", {}).values() for p in plugins}
    prefix = "%s.%s." % (galaxy["namespace"], galaxy["name"])
    for section, entries in changes.get("changes", {}).items():
        for entry in entries if isinstance(entries, list) else []:
            match = ANNOUNCED.match(entry)
            if not match:
                continue
            names = {n.strip().replace(prefix, "") for n in re.split(r",| and ", match.group("names"))}
            for name in sorted(names & generated):
                found.append("%s: %r is announced as a new %s here and again in the generated New Modules/"
                             "New Plugins list: %s" % (section, name, match.group("kind"), entry[:160]))
    allowed = tuple(galaxy[k].rstrip("/") + "/" for k in ("repository", "issues") if galaxy.get(k))
    allowed += tuple(a[:-1] for a in allowed)           # the repository URL itself
    for url in sorted(set(LINK.findall(rst))):
        if not url.rstrip(".,;").startswith(allowed) and url.rstrip(".,;") not in allowed:
            found.append("link to another repository than galaxy.yml's %s: %s" % (galaxy["repository"], url))
    return found


def main():
    with open(os.path.join(REPO, "galaxy.yml")) as handle:
        galaxy = yaml.safe_load(handle)
    tmp = tempfile.mkdtemp(prefix="changelog-check-")
    try:
        root = os.path.join(tmp, "ansible_collections", galaxy["namespace"], galaxy["name"])
        os.makedirs(root)
        for name in COPIED:
            source = os.path.join(REPO, name)
            if os.path.isdir(source):
                shutil.copytree(source, os.path.join(root, name),
                                ignore=shutil.ignore_patterns("__pycache__", ".plugin-cache.yaml"))
            elif os.path.exists(source):
                shutil.copy2(source, os.path.join(root, name))
        release(root)
        found = problems(root, galaxy)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if found:
        print("changelog-check: the release notes of %s would have %d problem(s):" % (galaxy["version"], len(found)))
        for problem in found:
            print("  " + problem)
        print("Fix the fragments in changelogs/fragments/.")
        return 1
    print("changelog-check: a release of %s renders cleanly" % galaxy["version"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
