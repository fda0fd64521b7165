"""The base root filesystem every lab host is an overlay clone of.

Built once with mmdebstrap from the machine's own Debian mirror and cached under
config.CACHE, keyed by everything that goes into it, so that `lab up` on a machine that has
built it before starts in seconds.
"""
import glob
import hashlib
import os
import shutil
import tempfile

from . import config
from .util import LabError, log, run, write

SUITE = "bookworm"
PACKAGES = (
    "python3", "python3-apt", "openssh-server", "sudo", "ca-certificates", "iproute2", "procps",
    "systemd-sysv", "dbus", "apt-utils", "curl",
    # the oracle for apt's security classification (tests/integration/test_conformance.py)
    "unattended-upgrades",
    # what patch_apply rebuilds a package no repository offers with (the rollback cache)
    "dpkg-repack",
    # the RPM side: rpm with its database on /, dnf 4 and zypper, as Debian packages them
    "rpm", "dnf", "zypper",
    # what dnf-plugins-core (unpacked below, for needs-restarting) imports
    "python3-dateutil", "python3-dbus",
)
# Bump when customize() changes, so cached bases are rebuilt.
CUSTOMIZE_VERSION = "5"

SSHD_CONFIG = """PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
"""
# Compressed lists keep a host small; the binary package cache stays on, as on any Debian host
# (without it every apt command re-parses all lists, which distorts benchmarks).
APT_CONFIG = """Acquire::GzipIndexes "true";
Acquire::Languages "none";
APT::Install-Recommends "false";
"""
# Timers that would take the dpkg lock at random moments and make tests flaky.
MASKED_UNITS = ("apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer",
                "e2scrub_all.timer", "fstrim.timer", "e2scrub_reap.service", "getty@tty1.service",
                "systemd-pstore.service", "unattended-upgrades.service")


def mirror():
    """The Debian mirror this machine uses (so the lab works wherever apt works)."""
    if os.environ.get("FLEETLAB_MIRROR"):
        return os.environ["FLEETLAB_MIRROR"]
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        with open(path) as f:
            for line in f:
                if line.startswith("URIs:") and "security" not in line:
                    return line.split()[1]
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    parts = line.split()
                    if parts[:1] == ["deb"] and "security" not in line:
                        return [p for p in parts[1:] if not p.startswith("[")][0]
    return "http://deb.debian.org/debian"


def cache_key():
    h = hashlib.sha256()
    h.update(("%s|%s|%s|%s" % (SUITE, ",".join(PACKAGES), CUSTOMIZE_VERSION, mirror())).encode())
    return h.hexdigest()[:12]


def base_dir():
    return os.path.join(config.CACHE, "base-%s" % cache_key())


def ensure_base():
    """Return the cached base rootfs directory, building it first if needed."""
    target = base_dir()
    if os.path.exists(os.path.join(target, ".fleetlab-complete")):
        return target
    for tool in ("mmdebstrap", "systemd-nspawn", "dpkg-deb", "rpmbuild", "createrepo_c", "apt-ftparchive"):
        if not shutil.which(tool):
            raise LabError("%s is not installed; run tests/lab/install-deps (apt-get install of the lab's "
                           "tools) first" % tool)
    os.makedirs(config.CACHE, exist_ok=True)
    work = tempfile.mkdtemp(prefix="base-build-", dir=config.CACHE)
    try:
        tarball = os.path.join(work, "rootfs.tar")
        log("building the base rootfs with mmdebstrap from %s (once; cached in %s)" % (mirror(), config.CACHE))
        run(["mmdebstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES),
             SUITE, tarball, mirror()])
        root = os.path.join(work, "root")
        os.makedirs(root)
        run(["tar", "-C", root, "-xf", tarball])
        os.unlink(tarball)
        customize(root, work)
        write(os.path.join(root, ".fleetlab-complete"), cache_key() + "\n")
        if os.path.exists(target):
            shutil.rmtree(target)
        os.rename(root, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def customize(root, work):
    """What every host shares: sshd and apt settings, the RPM database location, no timers,
    no host identity (each host gets its own keys and machine-id at creation)."""
    write(os.path.join(root, "etc/ssh/sshd_config.d/fleetlab.conf"), SSHD_CONFIG)
    for key in glob.glob(os.path.join(root, "etc/ssh/ssh_host_*")):
        os.unlink(key)
    write(os.path.join(root, "etc/machine-id"), "")
    write(os.path.join(root, "etc/apt/apt.conf.d/90fleetlab"), APT_CONFIG)
    write(os.path.join(root, "etc/apt/sources.list"), "# lab hosts use only the lab repositories\n")
    for cache_file in glob.glob(os.path.join(root, "var/cache/apt/*.bin")):
        os.unlink(cache_file)
    # Debian's rpm keeps its database under $HOME unless told otherwise.
    write(os.path.join(root, "etc/rpm/macros.fleetlab"), "%_dbpath /var/lib/rpm\n")
    for unit in MASKED_UNITS:
        link = os.path.join(root, "etc/systemd/system", unit)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink("/dev/null", link)
    os.makedirs(os.path.join(root, "root/.ssh"), mode=0o700, exist_ok=True)
    os.makedirs(os.path.join(root, "etc/fleetpatch-lab"), exist_ok=True)
    _unpack_dnf_plugins_core(root, work)


def _unpack_dnf_plugins_core(root, work):
    """dnf-plugins-core (needs-restarting, versionlock) declares Breaks: zypper in Debian over a
    shared man page only, so apt will not install both; unpack its files instead."""
    download = os.path.join(work, "debs")
    os.makedirs(download)
    run(["apt-get", "download", "dnf-plugins-core"], cwd=download)
    deb = glob.glob(os.path.join(download, "dnf-plugins-core_*.deb"))[0]
    unpacked = os.path.join(work, "dnf-plugins-core")
    run(["dpkg-deb", "-x", deb, unpacked])
    for sub in ("usr/lib/python3/dist-packages", "usr/bin", "etc/dnf"):
        src = os.path.join(unpacked, sub)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(root, sub), dirs_exist_ok=True, symlinks=True)
    # `local` adds a gpg-checked repository of every installed package (dnf then refuses to
    # install anything unsigned); show-leaves only adds noise to every transaction.
    for plugin in ("local", "show-leaves"):
        write(os.path.join(root, "etc/dnf/plugins/%s.conf" % plugin), "[main]\nenabled = 0\n")
