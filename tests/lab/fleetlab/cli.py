"""lab: the fleetpatch test lab. Usage: lab up [--hosts N] | down | status | stage WAVE [--latest-only] | reset | ssh HOST [CMD...]"""
import argparse
import contextlib
import fcntl
import os
import shutil
import sys
import time

from . import catalog, config, fleet as fleetmod, golden, hosts, inventory, repos, rootfs
from .util import LabError, end_guest_processes, guest_processes, log, mounted, pid_alive, read_pid, write

WAVE_HELP = ", ".join("%d=%s" % (i, name) for i, name in enumerate(catalog.WAVES))


def cmd_up(args):
    started = time.time()
    fleet = config.fleet()
    every = fleet + config.archive_hosts()
    base = rootfs.ensure_base()
    os.makedirs(config.STATE, exist_ok=True)
    hosts.ensure_ssh_key()
    if repos.ensure_built():
        log("built the package repositories for waves %s" % WAVE_HELP)
    repos.start_server()
    for h in every:
        hosts.create(h, base)
    write(config.KNOWN_HOSTS, "".join(hosts.host_key_line(h) for h in every), 0o600)
    for h in every:
        hosts.boot(h)
    hosts.parallel(hosts.wait_for_ssh, every)
    provisioned = hosts.parallel(hosts.provision, every)
    new = sorted(name for name, done in provisioned.items() if done)
    if new:
        log("provisioned %s" % ", ".join(new))
        _keep_provisioned([h for h in fleet if h.name in new], base)
    path = inventory.write_inventory(fleet)
    inventory.write_archive_inventory(config.archive_hosts())
    log("%d hosts (%d of them on the real Debian archive) up in %.1fs; wave %s; inventory: %s"
        % (len(every), len(every) - len(fleet), time.time() - started, catalog.WAVES[repos.current_wave()], path))
    print(path)
    if getattr(args, "hosts", None) is not None:
        extra = fleetmod.up(args.hosts, base)
        if extra:
            log("%d fleet hosts up; their inventory: %s" % (args.hosts, extra))
            print(extra)
        else:
            log("no fleet hosts (--hosts 0): every one stopped and its state removed")
    return 0


def _keep_provisioned(new_hosts, base):
    """Copy the freshly provisioned hosts' state for `lab reset` (golden.py): stopped for the copy,
    then booted again."""
    hosts.parallel(hosts.stop, new_hosts)
    for h in new_hosts:
        golden.save(h, base, hosts.upper_dir(h))
    for h in new_hosts:
        hosts.create(h, base)
        hosts.boot(h)
    hosts.parallel(hosts.wait_for_ssh, new_hosts)


def cmd_down(args, keep_fleet=False):
    """keep_fleet: `lab reset` leaves the extra fleet hosts (fleet.py) running, untouched."""
    fleet = _known_hosts()
    hosts.parallel(hosts.stop, fleet)
    extra = [] if keep_fleet else fleetmod.down()
    repos.stop_server()
    spared = fleetmod.FLEET_DIR if keep_fleet else None
    # A guest whose nspawn had to be killed keeps running in its own namespaces: end it too.
    for pid, name in end_guest_processes(config.STATE, spare=spared):
        log("down: guest process %d (%s) survived SIGKILL" % (pid, name))
    leftovers = _leftovers(fleet + extra, spared)
    if leftovers:
        raise LabError("lab down left behind: %s" % "; ".join(leftovers))
    log("down: %d hosts stopped%s, repository server stopped, nothing left running or mounted"
        % (len(fleet) + len(extra), " (%d of the extra fleet)" % len(extra) if extra else ""))
    return 0


def _known_hosts():
    """Hosts with a directory on disk, plus the configured fleet (a changed FLEETLAB_HOSTS
    must not leave hosts of an earlier, larger lab running)."""
    fleet = {h.name: h for h in config.fleet() + config.archive_hosts()}
    for directory, is_archive in ((config.HOSTS_DIR, False), (config.ARCHIVE_HOSTS_DIR, True)):
        if os.path.isdir(directory):
            for name in os.listdir(directory):
                if name not in fleet:
                    fleet[name] = config.Host(name, "", "apt", "", archive=is_archive)
    return list(fleet.values())


def _leftovers(fleet, spared=None):
    found = []
    for h in fleet:
        for pidfile in ("supervisor.pid", "nspawn.pid"):
            pid = read_pid(os.path.join(h.dir, pidfile))
            if pid_alive(pid):
                found.append("%s process %d" % (h.name, pid))
        if mounted(h.root):
            found.append("mount %s" % h.root)
    if repos.server_running():
        found.append("repository server pid %s" % read_pid(config.SERVER_PID))
    found.extend("guest process %d (%s) in its own namespaces" % guest
                 for guest in guest_processes(config.STATE, spare=spared))
    return found


def cmd_status(args):
    fleet = config.fleet() + config.archive_hosts()
    wave = repos.current_wave()
    print("repository: %s  %s  wave: %s" % (
        config.REPO_URL, "serving" if repos.server_running() else "stopped",
        "-" if wave is None else "%d (%s)%s" % (wave, catalog.WAVES[wave],
                                                ", newest versions only" if repos.current_is_latest_only() else "")))
    print("%-12s %-15s %-7s %-11s %-8s %s" % ("HOST", "ADDRESS", "MANAGER", "RING", "STATE", "BOOT ID"))
    all_up = True
    for h in fleet:
        state, boot = "stopped", "-"
        if hosts.is_running(h):
            state = "booting"
            try:
                boot = hosts.boot_id(h)
                state = "up"
            except Exception:  # status must report, not fail, on a host that does not answer
                pass
        all_up = all_up and state == "up"
        print("%-12s %-15s %-7s %-11s %-8s %s" % (h.name, h.address, h.pkg_mgr,
                                                  "(archive)" if h.archive else h.ring, state, boot))
    extra = fleetmod.on_disk()
    if extra:
        # the fleet's boot ids would take one SSH round trip per host: running is enough here
        running = sum(1 for h in extra if hosts.is_running(h))
        print("fleet (lab up --hosts N): %d hosts, %d running" % (len(extra), running))
        for h in extra:
            print("%-12s %-15s %-7s %-11s %-8s %s" % (h.name, h.address, h.pkg_mgr, h.ring,
                                                      "running" if hosts.is_running(h) else "stopped", "-"))
        print("fleet inventory: %s" % fleetmod.FLEET_INVENTORY)
    if os.path.exists(config.INVENTORY):
        print("inventory: %s" % config.INVENTORY)
    return 0 if all_up else 3


def cmd_stage(args):
    try:
        number = catalog.wave_number(args.wave)
    except ValueError as exc:
        raise LabError(str(exc))
    os.makedirs(config.STATE, exist_ok=True)
    repos.ensure_built()
    repos.stage(number, latest_only=args.latest_only)
    if args.latest_only:
        offered = catalog.latest_only(catalog.versions_up_to(number))
        log("staged wave %d (%s), only the newest version of each package: %s"
            % (number, catalog.WAVES[number], ", ".join("%s %s" % (v.package, v.deb_version) for v in offered)))
        return 0
    offered = [v for v in catalog.VERSIONS if v.wave == number]
    log("staged wave %d (%s): %s" % (number, catalog.WAVES[number],
                                     ", ".join("%s %s" % (v.package, v.deb_version) for v in offered)))
    return 0


def cmd_reset(args):
    """Back to a freshly provisioned fleet at the baseline wave (the extra fleet hosts of
    `lab up --hosts N` keep running as they are)."""
    cmd_down(args, keep_fleet=True)
    if os.path.isdir(config.HOSTS_DIR):
        shutil.rmtree(config.HOSTS_DIR)
    os.makedirs(config.STATE, exist_ok=True)
    repos.ensure_built()
    repos.stage(0)
    base = rootfs.ensure_base()
    restored = [h.name for h in config.fleet() if golden.restore(h, base, hosts.upper_dir(h))]
    if restored:
        log("reset: %d hosts restored as provisioned (no provisioning needed)" % len(restored))
    return cmd_up(args)


def cmd_ssh(args):
    every = config.fleet() + config.archive_hosts()
    match = [h for h in every if h.name == args.host]
    if not match:
        extra = [h for h in fleetmod.on_disk() if h.name == args.host]
        if extra:
            os.execvp("ssh", fleetmod.ssh_argv(extra[0]) + args.remote_command)
        raise LabError("no lab host %r; hosts: %s" % (args.host, ", ".join(h.name for h in every)))
    os.execvp("ssh", hosts.ssh_argv(match[0]) + args.remote_command)


def parser():
    p = argparse.ArgumentParser(prog="lab", description="The fleetpatch lab: real Debian hosts "
                                "(systemd-nspawn) managed by apt, dnf and zypper, with local repositories.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    up = sub.add_parser("up", help="build what is missing, boot every host, provision the baseline (idempotent)")
    up.add_argument("--hosts", type=int, metavar="N",
                    help="also N extra apt hosts (lab-fleet001...; 0 removes them) in their own inventory, "
                    "%s, for scale measurements (docs/scaling.md)" % os.path.relpath(
                        fleetmod.FLEET_INVENTORY, config.REPO_ROOT))
    sub.add_parser("down", help="stop every host and the repository server; unmount everything")
    sub.add_parser("status", help="show the hosts, their boot ids and the staged wave (rc 3 if not all up)")
    stage = sub.add_parser("stage", help="publish a wave of updates: " + WAVE_HELP)
    stage.add_argument("wave", help=WAVE_HELP)
    stage.add_argument("--latest-only", action="store_true",
                       help="publish only the newest version of each package (as Debian's security archive does): "
                       "the versions the hosts run are then offered nowhere")
    sub.add_parser("reset", help="down, discard every lab host's changes (real-archive hosts keep theirs), "
                   "stage the baseline, up")
    ssh = sub.add_parser("ssh", help="open a shell or run a command on a lab host")
    ssh.add_argument("host")
    ssh.add_argument("remote_command", nargs=argparse.REMAINDER)
    return p


# Two of these at once provision the same guests twice (apt-get against apt-get in one host:
# "Could not get lock /var/lib/dpkg/lock-frontend"); a second one waits for the first.
CHANGING_COMMANDS = ("up", "down", "stage", "reset")


@contextlib.contextmanager
def one_at_a_time():
    os.makedirs(config.STATE, exist_ok=True)
    with open(os.path.join(config.STATE, "lab.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


COMMANDS = {"up": cmd_up, "down": cmd_down, "status": cmd_status, "stage": cmd_stage,
            "reset": cmd_reset, "ssh": cmd_ssh}


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    if not args.command:
        p.print_usage(sys.stderr)
        sys.stderr.write("lab: error: a command is required (up, down, status, stage WAVE, reset, ssh)\n")
        return 2
    if os.geteuid() != 0 and args.command in ("up", "down", "reset"):
        sys.stderr.write("lab: error: '%s' needs root (it mounts overlays and boots containers)\n" % args.command)
        return 2
    try:
        if args.command in CHANGING_COMMANDS:
            with one_at_a_time():
                return COMMANDS[args.command](args)
        return COMMANDS[args.command](args)
    except LabError as exc:
        sys.stderr.write("lab: error: %s\n" % exc)
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("lab: interrupted\n")
        return 130
