"""Build the lab's .deb packages and the two apt repositories (regular and security pocket).

The security repository's Release file says Label Debian-Security and Suite/Codename
bookworm-security, as deb.debian.org/debian-security does, because that is how apt tooling
(unattended-upgrades, fleetpatch) recognises a security update.
"""
import gzip
import os
import shutil
import tempfile

from . import payload
from .util import run

SUITES = {
    # pocket: (suite/codename, label)
    "main": ("bookworm", "Debian"),
    "security": ("bookworm-security", "Debian-Security"),
}


def build_deb(v, pool):
    work = tempfile.mkdtemp(prefix="fleetlab-deb-")
    try:
        debian = os.path.join(work, "DEBIAN")
        os.makedirs(debian)
        files = payload.files(v)
        for rel, (mode, text) in files.items():
            _write(os.path.join(work, rel), text, mode)
        control = [
            "Package: %s" % v.package,
            "Version: %s" % v.deb_version,
            "Architecture: all",
            "Maintainer: fleetpatch lab <lab@example.invalid>",
            "Section: misc",
            "Priority: optional",
            # as dpkg-gencontrol computes it (KiB, each file rounded up): what dpkg-query and
            # patch_preflight's rollback check read
            "Installed-Size: %d" % sum(-(-len(text.encode()) // 1024) for _mode, text in files.values()),
        ]
        if v.depends:
            control.append("Depends: %s" % ", ".join(v.depends))
        control.append("Description: %s" % (v.description or v.package))
        _write(os.path.join(debian, "control"), "\n".join(control) + "\n", 0o644)
        post = payload.after_install_script(v, "deb")
        if post:
            _write(os.path.join(debian, "postinst"),
                   '#!/bin/sh\nset -e\nif [ "$1" = configure ]; then\n%s\nfi\n' % post, 0o755)
        pre_remove = payload.before_remove_script(v)
        if pre_remove:
            _write(os.path.join(debian, "prerm"),
                   '#!/bin/sh\nif [ "$1" = remove ]; then\n%s\nfi\nexit 0\n' % pre_remove, 0o755)
        # Debian pool file names leave the epoch out.
        out = os.path.join(pool, "%s_%s-%s_all.deb" % (v.package, v.version, v.release))
        run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", work, out])
        return out
    finally:
        shutil.rmtree(work)


def build_repositories(versions, dest):
    """Write dest/main and dest/security, each a one-suite apt repository."""
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    for pocket, (suite, label) in SUITES.items():
        root = os.path.join(dest, pocket)
        pool = os.path.join(root, "pool")
        os.makedirs(pool, exist_ok=True)
        for v in versions:
            if v.security_pocket == (pocket == "security"):
                build_deb(v, pool)
        binary = os.path.join(root, "dists", suite, "main", "binary-%s" % arch)
        os.makedirs(binary, exist_ok=True)
        packages = run(["apt-ftparchive", "packages", "pool"], cwd=root).stdout
        _write(os.path.join(binary, "Packages"), packages, 0o644)
        with gzip.open(os.path.join(binary, "Packages.gz"), "wt") as f:
            f.write(packages)
        release = run([
            "apt-ftparchive",
            "-o", "APT::FTPArchive::Release::Origin=Debian",
            "-o", "APT::FTPArchive::Release::Label=%s" % label,
            "-o", "APT::FTPArchive::Release::Suite=%s" % suite,
            "-o", "APT::FTPArchive::Release::Codename=%s" % suite,
            "-o", "APT::FTPArchive::Release::Version=12",
            "-o", "APT::FTPArchive::Release::Architectures=%s" % arch,
            "-o", "APT::FTPArchive::Release::Components=main",
            "release", os.path.join("dists", suite)], cwd=root).stdout
        _write(os.path.join(root, "dists", suite, "Release"), release, 0o644)


def sources_list(base_url):
    """The apt sources a lab host uses: the regular pocket and the security pocket."""
    return "".join("deb [trusted=yes] %s/apt/%s %s main\n" % (base_url, pocket, suite)
                   for pocket, (suite, _label) in SUITES.items())


def _write(path, text, mode):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
