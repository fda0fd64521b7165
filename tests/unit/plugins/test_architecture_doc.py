"""docs/architecture.md matches the tree (issue 17): every file it names exists, every function,
class or constant it names beside a file is defined in that file, and every controller file of
plugins/plugin_utils/ is named in it, so that a file moved, renamed or added without its place in
the architecture fails here rather than misleading the next developer."""

import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DOC = os.path.join(ROOT, "docs", "architecture.md")

# `path/to/file.py` or `file.py: name(), Class.method(), CONSTANT`, in backticks.
REFERENCE = re.compile(r"`([\w/]+\.py)(?::\s*([^`]+))?`")


def python_files():
    """The collection's Python files the doc may name: plugins/, and the tests and benches it
    points developers to."""
    found = []
    for top in ("plugins", "tests", "bench"):
        for directory, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if not d.startswith((".", "__"))]     # the lab's host trees, caches
            found.extend(os.path.relpath(os.path.join(directory, name), ROOT).replace(os.sep, "/")
                         for name in files if name.endswith(".py") and name != "__init__.py")
    return sorted(found)


def references():
    with open(DOC, encoding="utf-8") as stream:
        text = stream.read()
    return [(m.group(1), m.group(2) or "") for m in REFERENCE.finditer(text)]


def files_named(path, files):
    """The files a reference can mean: the doc writes paths from the root, from plugins/, from
    plugins/plugin_utils/ or module_utils/, or a bare name inside a table row of its package."""
    return [f for f in files if f == path or f.endswith("/" + path)]


def defined_names(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as stream:
        source = stream.read()
    return set(re.findall(r"^\s*(?:def|class)\s+(\w+)", source, re.M)) | set(re.findall(r"^(\w+)\s*=", source, re.M))


def test_the_doc_names_files_at_all():
    assert len(references()) > 40


@pytest.mark.parametrize("path,names", sorted(set(references())), ids=str)
def test_every_file_and_name_the_doc_gives_exists(path, names):
    candidates = files_named(path, python_files())
    assert candidates, "docs/architecture.md names %s, which is not in plugins/, tests/ or bench/" % path
    for name in re.split(r",\s*", names):
        name = name.strip().rstrip("()").split(".")[-1]
        if not name:
            continue
        assert any(name in defined_names(f) for f in candidates), (
            "docs/architecture.md names %s in %s, which defines no such name" % (name, path))


def test_every_controller_file_has_its_place_in_the_doc():
    named = set()
    files = python_files()
    for path, _names in references():
        named.update(files_named(path, files))
    missing = [f for f in files if f.startswith("plugins/plugin_utils/") and f not in named]
    assert not missing, "docs/architecture.md does not say where these belong: %s" % ", ".join(missing)
