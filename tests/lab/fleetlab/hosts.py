"""Create, boot, provision and stop the lab hosts (systemd-nspawn containers on overlays)."""
import concurrent.futures
import glob
import os
import shlex
import signal
import socket
import subprocess
import time

from . import archive, catalog, config, debs, rpms
from .util import LabError, log, mounted, pid_alive, read_pid, run, write

SUPERVISE = os.path.join(config.LAB_DIR, "supervise.sh")
BOOT_TIMEOUT = 90
STOP_TIMEOUT = 60
PROVISION_STAMP = "/var/lib/fleetpatch-lab/provisioned"


def _paths(host):
    d = host.dir
    return {
        "upper": os.path.join(d, "upper"), "work": os.path.join(d, "work"), "merged": host.root,
        "supervisor_pid": os.path.join(d, "supervisor.pid"), "nspawn_pid": os.path.join(d, "nspawn.pid"),
        "stop": os.path.join(d, "stopping"), "console": os.path.join(d, "console.log"),
    }


def upper_dir(host):
    return _paths(host)["upper"]


def ensure_ssh_key():
    if not os.path.exists(config.SSH_KEY):
        os.makedirs(os.path.dirname(config.SSH_KEY), mode=0o700, exist_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fleetpatch-lab", "-f", config.SSH_KEY])


def create(host, base):
    """Mount the host's overlay and give it its identity (idempotent)."""
    p = _paths(host)
    for d in (p["upper"], p["work"], p["merged"]):
        os.makedirs(d, exist_ok=True)
    if not mounted(p["merged"]):
        run(["mount", "-t", "overlay", "overlay", "-o",
             "lowerdir=%s,upperdir=%s,workdir=%s" % (base, p["upper"], p["work"]), p["merged"]])
    r = p["merged"]
    write(os.path.join(r, "etc/hostname"), host.name + "\n")
    write(os.path.join(r, "etc/hosts"), "127.0.0.1 localhost\n%s %s\n" % (host.address, host.name))
    write(os.path.join(r, "etc/ssh/sshd_config.d/listen.conf"), "ListenAddress %s:22\n" % host.address)
    write(os.path.join(r, "etc/fleetpatch-lab/address"), host.address + "\n")
    if not glob.glob(os.path.join(r, "etc/ssh/ssh_host_*_key")):
        run(["ssh-keygen", "-q", "-A", "-f", r])
        with open("/proc/sys/kernel/random/uuid") as f:
            write(os.path.join(r, "etc/machine-id"), f.read().strip().replace("-", "") + "\n", 0o444)
    with open(config.SSH_KEY + ".pub") as f:
        write(os.path.join(r, "root/.ssh/authorized_keys"), f.read(), 0o600)
    if host.archive:
        sources = os.path.join(r, "etc/apt/sources.list.d/debian.list")
        if not os.path.exists(sources):     # provisioning may have narrowed it (archive.py)
            write(sources, archive.sources_list())
    elif host.pkg_mgr == "apt":
        write(os.path.join(r, "etc/apt/sources.list.d/fleetlab.list"), debs.sources_list(config.REPO_URL))
    elif host.pkg_mgr == "dnf":
        write(os.path.join(r, "etc/yum.repos.d/fleetlab.repo"), rpms.repo_file(config.REPO_URL))
        keep_downloaded_packages(r)
    else:
        write(os.path.join(r, "etc/zypp/repos.d/fleetlab.repo"), rpms.repo_file(config.REPO_URL, keep_packages=True))
    hide_other_managers(host, r)


def keep_downloaded_packages(root):
    """dnf deletes the packages it downloaded after each transaction unless keepcache=1; an operator
    who wants rollbacks to find the versions a host ran in its package cache sets it (so does the
    lab, for dnf and zypper, as apt keeps its archives by default: docs/apply-and-rollback.md).
    Tests that need the other sources of the rollback cache empty the caches first."""
    path = os.path.join(root, "etc/dnf/dnf.conf")
    with open(path) as f:
        text = f.read()
    if "keepcache=" not in text:
        write(path, text.rstrip("\n") + "\nkeepcache=1\n")


# The front ends a real host of each manager does not have. The lab's hosts share one Debian base
# with all three installed; an RPM distribution has no apt-get (and a dnf one no zypper), and
# fleetpatch's detection looks for apt-get first, so they are set aside on the RPM hosts.
OTHER_MANAGERS = {"dnf": ("usr/bin/apt-get", "usr/bin/zypper"), "zypper": ("usr/bin/apt-get",)}
HIDDEN_SUFFIX = ".fleetlab-other-manager"


def hide_other_managers(host, root):
    for path in OTHER_MANAGERS.get(host.pkg_mgr, ()):
        binary = os.path.join(root, path)
        if os.path.lexists(binary):
            os.rename(binary, binary + HIDDEN_SUFFIX)


def host_key_line(host):
    with open(os.path.join(host.root, "etc/ssh/ssh_host_ed25519_key.pub")) as f:
        key = f.read().split()
    return "%s %s %s\n" % (host.address, key[0], key[1])


def is_running(host):
    return pid_alive(read_pid(_paths(host)["supervisor_pid"]))


def boot(host):
    p = _paths(host)
    if is_running(host):
        return
    try:
        socket.create_connection((host.address, 22), timeout=1).close()
        raise LabError("%s:22 already answers but %s is not running here (another lab from another "
                       "checkout?); stop it, or set FLEETLAB_NET/FLEETLAB_FIRST" % (host.address, host.name))
    except OSError:
        pass
    if os.path.exists(p["stop"]):
        os.unlink(p["stop"])
    console = open(p["console"], "ab")
    proc = subprocess.Popen([SUPERVISE, host.name, p["merged"], p["stop"], p["nspawn_pid"]],
                            stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                            start_new_session=True)
    console.close()
    write(p["supervisor_pid"], "%d\n" % proc.pid)


def wait_for_ssh(host, timeout=BOOT_TIMEOUT):
    deadline = time.time() + timeout
    last = ""
    while time.time() < deadline:
        try:
            with socket.create_connection((host.address, 22), timeout=2) as s:
                if s.recv(64).startswith(b"SSH-"):
                    if ssh(host, ["true"], check=False, timeout=15).returncode == 0:
                        return
        except OSError as exc:
            last = str(exc)
        if not is_running(host):
            raise LabError("%s stopped while booting; see %s" % (host.name, _paths(host)["console"]))
        time.sleep(0.3)
    raise LabError("%s: no SSH on %s:22 after %ds (%s); see %s"
                   % (host.name, host.address, timeout, last, _paths(host)["console"]))


def ssh_argv(host):
    return ["ssh", "-i", config.SSH_KEY, "-o", "UserKnownHostsFile=%s" % config.KNOWN_HOSTS,
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
            "-o", "LogLevel=ERROR", "root@%s" % host.address]


def ssh(host, argv, check=True, timeout=300):
    """Run argv on the host (each argument quoted for the remote shell)."""
    # stdin of its own: ssh sets its stdin non-blocking and, when killed, leaves it so - on a
    # shared stdin that breaks every later ansible-playbook ("requires blocking IO")
    proc = subprocess.run(ssh_argv(host) + [" ".join(shlex.quote(a) for a in argv)], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise LabError("%s: %s failed (rc=%d): %s"
                       % (host.name, " ".join(argv), proc.returncode, (proc.stderr or proc.stdout).strip()[-2000:]))
    return proc


def provision(host):
    """Install the baseline versions with the host's package manager (once per host)."""
    if ssh(host, ["test", "-e", PROVISION_STAMP], check=False).returncode == 0:
        return False
    base = catalog.baseline()
    if host.archive:
        proc = subprocess.run(ssh_argv(host) + ["sh -eu"], input=archive.provision_script(), capture_output=True,
                              text=True, timeout=900, check=False)
        if proc.returncode != 0:
            raise LabError("%s: provisioning from the Debian archive failed (rc=%d): %s"
                           % (host.name, proc.returncode, (proc.stderr or proc.stdout).strip()[-2000:]))
    elif host.pkg_mgr == "apt":
        ssh(host, ["apt-get", "-q", "update"])
        ssh(host, ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-q", "-y", "install"]
            + ["%s=%s" % (v.package, v.deb_version) for v in base])
    elif host.pkg_mgr == "dnf":
        ssh(host, ["rpm", "--initdb"])
        ssh(host, ["dnf", "-q", "-y", "install", "fleetlab-release"]
            + ["%s-%s" % (v.package, v.rpm_evr) for v in base])
    else:
        ssh(host, ["rpm", "--initdb"])
        ssh(host, ["zypper", "--non-interactive", "--quiet", "install", "fleetlab-release"]
            + ["%s=%s" % (v.package, v.rpm_evr) for v in base])
    ssh(host, ["sh", "-c", "mkdir -p /var/lib/fleetpatch-lab && date -u +%FT%TZ > " + PROVISION_STAMP])
    return True


# What the guest's systemd prints when its halt cannot run (seen here now and then: "Failed to attach
# to cgroup /system.slice/systemd-halt.service", a cgroup race); the container then waits for ever.
HALT_FAILED = b"Dependency failed for halt.target"


def _console_size(p):
    try:
        return os.path.getsize(p["console"])
    except OSError:
        return 0


def _halt_failed(p, since):
    try:
        with open(p["console"], "rb") as f:
            f.seek(since)
            return HALT_FAILED in f.read()
    except OSError:
        return False


def stop(host):
    """Shut the container down cleanly (SIGTERM to nspawn: the guest halts), then unmount. When the
    guest's halt fails, a second SIGTERM ends the container at once, as nspawn offers, instead of
    waiting out STOP_TIMEOUT."""
    p = _paths(host)
    write(p["stop"], "")
    supervisor = read_pid(p["supervisor_pid"])
    nspawn = read_pid(p["nspawn_pid"])
    console_from = _console_size(p)
    if pid_alive(nspawn):
        os.kill(nspawn, signal.SIGTERM)
    deadline = time.time() + STOP_TIMEOUT
    while pid_alive(supervisor) and time.time() < deadline:
        if pid_alive(nspawn) and _halt_failed(p, console_from):
            log("%s: its halt failed (see %s); terminating the container" % (host.name, p["console"]))
            os.kill(nspawn, signal.SIGTERM)
            console_from = _console_size(p)
        time.sleep(0.2)
    for pid in (read_pid(p["nspawn_pid"]), supervisor):
        if pid_alive(pid):
            log("%s: did not stop within %ds, killing pid %d" % (host.name, STOP_TIMEOUT, pid))
            os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 10
    while pid_alive(supervisor) and time.time() < deadline:
        time.sleep(0.1)
    for path in (p["supervisor_pid"], p["nspawn_pid"]):
        if os.path.exists(path):
            os.unlink(path)
    if mounted(p["merged"]):
        for attempt in range(20):
            if run(["umount", p["merged"]], check=False).returncode == 0:
                break
            time.sleep(0.25)
        else:
            raise LabError("%s: cannot unmount %s (still busy)" % (host.name, p["merged"]))


def cut_power(host, timeout=30):
    """A power loss: SIGKILL the container's init, so the kernel kills every process of the
    container at once (no shutdown, nothing the guest could finish). Its supervisor then ends, as
    the guest did not ask for a reboot; boot() powers the host on again. The kernel is shared, so
    the page cache survives: this is a host vanishing mid-work, not a torn disk write."""
    if not is_running(host):
        raise LabError("%s is not running: no power to cut" % host.name)
    deadline = time.time() + timeout
    # Until the supervisor ends: a guest in the middle of its reboot may have no init yet, or the
    # supervisor may just have started the next boot (a new nspawn pid): cut that one too.
    while is_running(host):
        if time.time() > deadline:
            raise LabError("%s: still running %ds after its power was cut" % (host.name, timeout))
        nspawn = read_pid(_paths(host)["nspawn_pid"])
        for pid, parent in _parents().items():
            if nspawn and parent == nspawn:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:     # ended meanwhile
                    pass
        time.sleep(0.1)


def _parents():
    """{pid: parent pid} of every process."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return parents


def boot_id(host):
    return ssh(host, ["cat", "/proc/sys/kernel/random/boot_id"]).stdout.strip()


def parallel(fn, hosts):
    """Run fn on every host at once; raise one LabError listing every host that failed."""
    errors = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
        futures = {pool.submit(fn, h): h for h in hosts}
        results = {}
        for fut in concurrent.futures.as_completed(futures):
            h = futures[fut]
            try:
                results[h.name] = fut.result()
            except Exception as exc:  # report every host, not just the first
                errors.append("%s: %s" % (h.name, exc))
    if errors:
        raise LabError("\n".join(sorted(errors)))
    return results
