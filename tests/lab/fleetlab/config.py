"""Where the lab keeps its files and what its fleet looks like. Environment overrides:

FLEETLAB_STATE   per-checkout state (hosts, repos, keys, inventory)   default: tests/lab/.state
FLEETLAB_CACHE   the cached base rootfs, shared between checkouts     default: /var/cache/fleetpatch-lab
FLEETLAB_HOSTS   number of hosts (at least 3: one apt, one dnf, one zypper)   default: 6
FLEETLAB_PORT    the package repository's port on 127.0.0.1          default: 8089
FLEETLAB_NET     first three octets of the hosts' loopback addresses  default: 127.0.0
FLEETLAB_FIRST   last octet of the first host's address               default: 101
FLEETLAB_ARCHIVE_HOSTS  real-archive hosts (fleetlab/archive.py), 0 for none      default: 1
"""
import os
from dataclasses import dataclass

LAB_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(os.path.dirname(LAB_DIR))

STATE = os.environ.get("FLEETLAB_STATE", os.path.join(LAB_DIR, ".state"))
CACHE = os.environ.get("FLEETLAB_CACHE", "/var/cache/fleetpatch-lab")
PORT = int(os.environ.get("FLEETLAB_PORT", "8089"))
NET = os.environ.get("FLEETLAB_NET", "127.0.0")
FIRST = int(os.environ.get("FLEETLAB_FIRST", "101"))
HOST_COUNT = int(os.environ.get("FLEETLAB_HOSTS", "6"))
ARCHIVE_COUNT = int(os.environ.get("FLEETLAB_ARCHIVE_HOSTS", "1"))

REPO_URL = "http://127.0.0.1:%d" % PORT
HOSTS_DIR = os.path.join(STATE, "hosts")
# Real-archive hosts live apart: `lab reset` discards the lab hosts, not their slow provisioning.
ARCHIVE_HOSTS_DIR = os.path.join(STATE, "archive-hosts")
ARCHIVE_INVENTORY = os.path.join(STATE, "archive-inventory.yml")
REPOS_DIR = os.path.join(STATE, "repos")
SSH_KEY = os.path.join(STATE, "ssh", "id_ed25519")
KNOWN_HOSTS = os.path.join(STATE, "ssh", "known_hosts")
INVENTORY = os.path.join(STATE, "inventory.yml")
WAVE_FILE = os.path.join(STATE, "wave")
SERVER_PID = os.path.join(STATE, "repo-server.pid")
SERVER_LOG = os.path.join(STATE, "repo-server.log")

RINGS = ("test", "pilot", "production")


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    pkg_mgr: str      # apt | dnf | zypper: which manager owns the lab packages on this host
    ring: str
    archive: bool = False   # fed by the real Debian archive (fleetlab/archive.py), in no ring
    # fleetpatch detects the package manager (no fleetpatch_pkg_mgr in the inventory), as on most
    # fleets; the other hosts set it, so that both paths are tested
    detect: bool = False

    @property
    def dir(self):
        return os.path.join(ARCHIVE_HOSTS_DIR if self.archive else HOSTS_DIR, self.name)

    @property
    def root(self):
        return os.path.join(self.dir, "merged")


def fleet(count=None):
    """The lab's hosts. The first ring gets one host of each manager so that what a ring
    rollout tests first covers apt, dnf and zypper; the rest are apt hosts, as in most fleets."""
    count = HOST_COUNT if count is None else count
    if count < 3:
        raise ValueError("FLEETLAB_HOSTS must be at least 3 (one apt, one dnf, one zypper host), got %d" % count)
    if FIRST + count > 255:
        raise ValueError("FLEETLAB_FIRST + FLEETLAB_HOSTS must stay below 255")
    managers = ["apt", "dnf", "zypper"] + ["apt"] * (count - 3)
    # test: the three managers; pilot and production share the rest, pilot the smaller part.
    rings = ["test"] * 3
    rest = count - 3
    pilot = (rest + 1) // 3 if rest else 0
    rings += ["pilot"] * pilot + ["production"] * (rest - pilot)
    hosts = []
    counters = {}
    for i, (mgr, ring) in enumerate(zip(managers, rings)):
        counters[mgr] = counters.get(mgr, 0) + 1
        hosts.append(Host("lab-%s%d" % (mgr, counters[mgr]), "%s.%d" % (NET, FIRST + i), mgr, ring,
                          detect=counters[mgr] == 1))
    return hosts


def archive_hosts(count=None):
    """The real-archive hosts, on the addresses after the fleet's."""
    count = ARCHIVE_COUNT if count is None else count
    if FIRST + HOST_COUNT + count > 255:
        raise ValueError("FLEETLAB_FIRST + FLEETLAB_HOSTS + FLEETLAB_ARCHIVE_HOSTS must stay below 255")
    return [Host("lab-debian%d" % (i + 1), "%s.%d" % (NET, FIRST + HOST_COUNT + i), "apt", "", archive=True,
                 detect=True)
            for i in range(count)]
