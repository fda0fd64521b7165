"""The lab's extra fleet: `lab up --hosts N` adds N light apt hosts (lab-fleet001...) for scale
measurements (bench/fleet_bench.py), beside the seven hosts the tests use.

Each fleet host is an overlay whose lower layers are a copy of lab-apt1's provisioned state
(golden.py) over the base rootfs, so it starts provisioned: nothing is installed at boot, and
its own upper directory holds only what it changes. The fleet lives apart from the other hosts
(its own directory, inventory and known_hosts): the integration tests' playbooks target `all` of
the lab inventory and must not see it, and `lab reset` (the tests run it often) leaves it alone.
Only `lab down` and `lab up --hosts M` with a smaller M stop fleet hosts.

FLEETLAB_FLEET_NET  first two octets and the first third octet of the fleet's addresses
                    default: 127.0.2 (127.0.2.1-250, then 127.0.3.1-250...)
FLEETLAB_FLEET_BOOTS  hosts booting at once                        default: 6
"""
import concurrent.futures
import json
import os
import shutil
import socket
import statistics
import subprocess
import time

from . import config, golden, hosts, inventory
from .util import LabError, log, mounted, run, write

FLEET_DIR = os.path.join(config.STATE, "fleet")
FLEET_HOSTS_DIR = os.path.join(FLEET_DIR, "hosts")
FLEET_INVENTORY = os.path.join(config.STATE, "fleet-inventory.yml")
FLEET_KNOWN_HOSTS = os.path.join(config.STATE, "ssh", "fleet_known_hosts")
FLEET_NET = os.environ.get("FLEETLAB_FLEET_NET", "127.0.2")
BOOTS_AT_ONCE = int(os.environ.get("FLEETLAB_FLEET_BOOTS", "6"))
MAX_HOSTS = 999             # the names' three digits
PER_OCTET = 250             # x.y.z.1-250 on each third octet
PREFIX = "lab-fleet"
GROUP = "lab_fleet"
# The lab host whose provisioned state every fleet host starts from.
TEMPLATE = "lab-apt1"
# What makes a host itself; taken out of the copy so each fleet host gets its own (hosts.create).
IDENTITY = ("etc/hostname", "etc/hosts", "etc/machine-id", "etc/ssh/sshd_config.d/listen.conf",
            "etc/fleetpatch-lab/address", "root/.ssh/authorized_keys", "var/lib/systemd/random-seed")
BOOT_TIMEOUT = 240          # a boot waits for the others' CPU on two cores


class FleetHost(config.Host):
    @property
    def dir(self):
        return os.path.join(FLEET_HOSTS_DIR, self.name)


def addresses(count, net=FLEET_NET, reserved=()):
    """The first `count` fleet addresses: net.1-250, then the next third octet. Refuses an
    address in `reserved` (the lab's other hosts) or past 127.x.255."""
    octets = net.split(".")
    if len(octets) != 3 or not all(o.isdigit() for o in octets) or octets[0] != "127":
        raise LabError("FLEETLAB_FLEET_NET must be three octets of a loopback address (127.a.b), got %r" % net)
    first, second, third = (int(o) for o in octets)
    found = []
    for i in range(count):
        octet = third + i // PER_OCTET
        if octet > 255:
            raise LabError("%d fleet hosts do not fit after %s.1 (at most %d)"
                           % (count, net, (256 - third) * PER_OCTET))
        address = "%d.%d.%d.%d" % (first, second, octet, 1 + i % PER_OCTET)
        if address in reserved:
            raise LabError("fleet address %s is a lab host's already; set FLEETLAB_FLEET_NET elsewhere" % address)
        found.append(address)
    return found


def rings(count):
    """Spread as a fleet usually is: a tenth in test (at least one), about three in ten in
    pilot, the rest in production."""
    test = max(1, count // 10) if count else 0
    pilot = min(count - test, (count * 3 + 5) // 10)
    return ["test"] * test + ["pilot"] * pilot + ["production"] * (count - test - pilot)


def fleet(count):
    if not 0 <= count <= MAX_HOSTS:
        raise LabError("--hosts takes 0 to %d fleet hosts, not %d" % (MAX_HOSTS, count))
    reserved = {h.address for h in config.fleet() + config.archive_hosts()} | {"127.0.0.1"}
    return [FleetHost("%s%03d" % (PREFIX, i + 1), address, "apt", ring)
            for i, (address, ring) in enumerate(zip(addresses(count, reserved=reserved), rings(count)))]


def on_disk():
    """Fleet hosts with a directory (running or not), in name order, whatever --hosts said last."""
    if not os.path.isdir(FLEET_HOSTS_DIR):
        return []
    names = sorted(n for n in os.listdir(FLEET_HOSTS_DIR) if n.startswith(PREFIX))
    known = {h.name: h for h in fleet(len(names))} if names else {}
    found = []
    for name in names:
        try:
            with open(os.path.join(FLEET_HOSTS_DIR, name, "host.json")) as f:
                data = json.load(f)
            found.append(FleetHost(name, data["address"], "apt", data["ring"]))
        except (OSError, ValueError, KeyError):
            found.append(known.get(name, FleetHost(name, "", "apt", "")))
    return found


def render_inventory(fleet_hosts):
    """The fleet's own inventory: the collection's ring groups (so playbooks/rollout.yml and
    patch_ring.yml run on it as on any fleet) under one group, lab_fleet. A file of its own: the
    lab inventory's `all` stays the seven hosts the tests know."""
    variables = dict(inventory.connection_vars(), fleetlab_repo_url=config.REPO_URL)
    variables["ansible_ssh_common_args"] = ("-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes"
                                            % FLEET_KNOWN_HOSTS)
    children = {}
    for ring in config.RINGS:
        children["fleetpatch_ring_%s" % ring] = {"hosts": {h.name: {} for h in fleet_hosts if h.ring == ring}}
    tree = {"all": {"vars": variables,
                    "hosts": {h.name: {"ansible_host": h.address, "fleetpatch_ring": h.ring,
                                       "fleetpatch_pkg_mgr": "apt", "fleetlab_pkg_mgr": "apt"}
                              for h in fleet_hosts},
                    "children": {GROUP: {"children": children}}}}
    return "# generated by tests/lab/lab up --hosts N; do not edit\n" + json.dumps(tree, indent=2) + "\n"


def ssh_argv(host):
    argv = hosts.ssh_argv(host)
    return [a.replace("UserKnownHostsFile=%s" % config.KNOWN_HOSTS, "UserKnownHostsFile=%s" % FLEET_KNOWN_HOSTS)
            for a in argv]


def _image(base):
    """A copy of the template's provisioned upper directory without its identity, made once per
    golden key: golden.save replaces its copy whole when the lab is provisioned again, which a
    mounted overlay must not see under it."""
    template = next(h for h in config.fleet() if h.name == TEMPLATE)
    source = os.path.join(golden.GOLDEN_DIR, TEMPLATE)
    try:
        with open(source + ".key") as f:
            valid = f.read().strip() == golden.key(template, base)
    except OSError:
        valid = False
    if not valid or not os.path.isdir(source):
        raise LabError("no current provisioned copy of %s to clone (golden.py); run `lab reset` first" % TEMPLATE)
    image = os.path.join(FLEET_DIR, "image-%s" % golden.key(template, base)[:16])
    if not os.path.isdir(image):
        tmp = image + ".tmp"
        os.makedirs(FLEET_DIR, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        run(["cp", "-a", source, tmp])
        for path in IDENTITY:
            if os.path.lexists(os.path.join(tmp, path)):
                os.unlink(os.path.join(tmp, path))
        for key in os.listdir(os.path.join(tmp, "etc/ssh")):
            if key.startswith("ssh_host_"):
                os.unlink(os.path.join(tmp, "etc/ssh", key))
        os.rename(tmp, image)
    return image


def _in_use_images():
    used = set()
    for h in on_disk():
        try:
            with open(os.path.join(h.dir, "host.json")) as f:
                used.add(json.load(f)["image"])
        except (OSError, ValueError, KeyError):
            continue
    return used


def wait_for_ssh(host, timeout=BOOT_TIMEOUT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((host.address, 22), timeout=2) as s:
                if s.recv(64).startswith(b"SSH-"):
                    proc = subprocess.run(ssh_argv(host) + ["true"], stdin=subprocess.DEVNULL,
                                          capture_output=True, timeout=30, check=False)
                    if proc.returncode == 0:
                        return
        except (OSError, subprocess.TimeoutExpired):
            pass
        if not hosts.is_running(host):
            raise LabError("%s stopped while booting; see %s" % (host.name, os.path.join(host.dir, "console.log")))
        time.sleep(0.3)
    raise LabError("%s: no SSH on %s:22 after %ds" % (host.name, host.address, timeout))


def bounded(fn, items, workers):
    """fn on every item, `workers` at a time; one LabError naming every item that failed."""
    errors, results = [], {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(fn, item): item for item in items}
        for fut in concurrent.futures.as_completed(futures):
            try:
                results[futures[fut].name] = fut.result()
            except Exception as exc:  # report every host, not just the first
                errors.append("%s: %s" % (futures[fut].name, exc))
    if errors:
        raise LabError("\n".join(sorted(errors)))
    return results


def _boot(host):
    started = time.time()
    hosts.boot(host)
    wait_for_ssh(host)
    return time.time() - started


def _identity(host):
    """A new host's own host key and machine-id, put in its upper directory before the mount:
    one ed25519 key takes milliseconds, where hosts.create's `ssh-keygen -A` (RSA 3072, ECDSA and
    ed25519) took about a second of CPU a host, most of the time `lab up --hosts 100` took."""
    upper = hosts.upper_dir(host)
    key = os.path.join(upper, "etc/ssh/ssh_host_ed25519_key")
    if os.path.exists(key) or os.path.isdir(os.path.join(upper, "etc")):
        return
    os.makedirs(os.path.dirname(key), mode=0o755)
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "root@%s" % host.name, "-f", key])
    with open("/proc/sys/kernel/random/uuid") as f:
        write(os.path.join(upper, "etc/machine-id"), f.read().strip().replace("-", "") + "\n", 0o444)


def discard(host):
    """Stop a fleet host and delete everything it had."""
    hosts.stop(host)
    if mounted(host.root):
        raise LabError("%s: %s still mounted" % (host.name, host.root))
    shutil.rmtree(host.dir)


# Each booted systemd holds several inotify instances (systemd itself, journald, logind...); at
# Debian's default of 128 per user, the 13th to 14th fleet host here failed to boot with "Failed
# to create control group inotify object: Too many open files". Raised, never lowered.
INOTIFY_LIMITS = {"/proc/sys/fs/inotify/max_user_instances": 16 * (MAX_HOSTS + 16),
                  "/proc/sys/fs/inotify/max_user_watches": 1048576}


def raise_inotify_limits():
    for path, wanted in INOTIFY_LIMITS.items():
        with open(path) as f:
            current = int(f.read())
        if current < wanted:
            write_sysctl(path, wanted)
            log("fleet: %s %d -> %d (every guest's systemd uses inotify)"
                % (path.replace("/proc/sys/", "").replace("/", "."), current, wanted))


def write_sysctl(path, value):
    with open(path, "w") as f:
        f.write("%d\n" % value)


def _used_mib():
    with open("/proc/meminfo") as f:
        info = dict((line.split(":")[0], int(line.split()[1])) for line in f)
    return (info["MemTotal"] - info["MemAvailable"]) / 1024.0


def up(count, base):
    """Make the fleet exactly `count` hosts, all running: create and boot the missing ones
    (BOOTS_AT_ONCE at a time), discard those past `count` or on an outdated image."""
    wanted = fleet(count)
    image = _image(base) if count else None
    wanted_names = {h.name: h for h in wanted}
    stale = []
    for h in on_disk():
        try:
            with open(os.path.join(h.dir, "host.json")) as f:
                made = json.load(f)
            # the ring is the inventory's business only: a host keeps its disk when N moves it
            same = (made["address"], made["image"]) == (wanted_names[h.name].address, image)
        except (OSError, ValueError, KeyError):
            same = False
        if not same:
            stale.append(h)
    if stale:
        bounded(discard, stale, 16)
        log("fleet: discarded %d hosts (past --hosts %d, or made from an older image)" % (len(stale), count))
    for old in os.listdir(FLEET_DIR) if os.path.isdir(FLEET_DIR) else ():
        if old.startswith("image-") and os.path.join(FLEET_DIR, old) not in _in_use_images() | {image}:
            shutil.rmtree(os.path.join(FLEET_DIR, old))
    if not count:
        for path in (FLEET_INVENTORY, FLEET_KNOWN_HOSTS):
            if os.path.exists(path):
                os.unlink(path)
        if os.path.isdir(FLEET_DIR) and not on_disk():
            shutil.rmtree(FLEET_DIR)
        return None
    raise_inotify_limits()
    lower = "%s:%s" % (image, base)
    for h in wanted:
        _identity(h)
        hosts.create(h, lower)
        write(os.path.join(h.dir, "host.json"), json.dumps({"address": h.address, "ring": h.ring, "image": image}))
    write(FLEET_KNOWN_HOSTS, "".join(hosts.host_key_line(h) for h in wanted), 0o600)
    to_boot = [h for h in wanted if not hosts.is_running(h)]
    used_before, started = _used_mib(), time.time()
    boot_times = bounded(_boot, to_boot, BOOTS_AT_ONCE) if to_boot else {}
    if boot_times:
        took = time.time() - started
        # settle: the last hosts' boot jobs are still running when their sshd answers
        time.sleep(5)
        per_host = (_used_mib() - used_before) / len(boot_times)
        log("fleet: booted %d hosts in %.1fs, %d at a time; to SSH per host median %.1fs, max %.1fs; "
            "memory used grew by %.0f MiB a host" % (len(boot_times), took, BOOTS_AT_ONCE,
                                                     statistics.median(boot_times.values()),
                                                     max(boot_times.values()), per_host))
    write(FLEET_INVENTORY, render_inventory(wanted))
    return FLEET_INVENTORY


def down():
    """Stop every fleet host (their state stays, as `lab down` keeps the other hosts')."""
    found = on_disk()
    if found:
        bounded(hosts.stop, found, 16)
    return found
