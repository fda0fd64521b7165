"""Provisioned hosts, kept: `lab reset` puts each lab host back to the state it had right after
provisioning by restoring a copy of that state's overlay upper directory, instead of provisioning
again (installing the baseline with each package manager was most of a reset's time, and the
integration tests reset the lab some forty times).

The copy is taken by `lab up` right after it provisioned a host, with the host stopped, and is
only used while everything that went into it is unchanged (key()): the base rootfs, the lab's
package repositories and the code that creates and provisions hosts. Real-archive hosts are
never reset, so never copied.
"""
import hashlib
import os
import shutil

from . import config, repos
from .util import run, write

GOLDEN_DIR = os.path.join(config.STATE, "golden")
_INPUTS = ("hosts.py", "rootfs.py", "config.py", "golden.py")


def key(host, base):
    digest = hashlib.sha256()
    digest.update(("%s|%s|%s|%s|%s" % (base, repos.sources_digest(), host.name, host.address, host.pkg_mgr)).encode())
    for name in _INPUTS:
        with open(os.path.join(os.path.dirname(__file__), name), "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def _paths(host):
    return os.path.join(GOLDEN_DIR, host.name), os.path.join(GOLDEN_DIR, host.name + ".key")


def save(host, base, upper):
    """Keep a copy of a stopped host's upper directory (whiteouts and overlay xattrs included)."""
    copy, key_file = _paths(host)
    os.makedirs(GOLDEN_DIR, exist_ok=True)
    tmp = copy + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    run(["cp", "-a", upper, tmp])
    shutil.rmtree(copy, ignore_errors=True)
    os.rename(tmp, copy)
    write(key_file, key(host, base) + "\n")


def restore(host, base, upper):
    """Put the kept copy in place as the (absent) upper directory; False when there is no valid copy."""
    copy, key_file = _paths(host)
    try:
        with open(key_file) as f:
            if f.read().strip() != key(host, base):
                return False
    except OSError:
        return False
    if not os.path.isdir(copy) or os.path.exists(upper):
        return False
    os.makedirs(os.path.dirname(upper), exist_ok=True)
    run(["cp", "-a", copy, upper])
    return True
