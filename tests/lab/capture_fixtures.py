"""Capture the real package-manager output the unit tests parse, from the lab's hosts.

    tests/lab/lab up && python3 tests/lab/capture_fixtures.py

For each wave and manager it runs, on the lab host of that manager, the exact commands the
fleetpatch backends run, and writes tests/unit/plugins/module_utils/fixtures/<manager>-<wave>/
<name>.stdout, .stderr and .json (the command, its rc, the host, the tool version, the date).
Leaves the lab at the baseline wave. Re-run it when a backend's commands change.

    python3 tests/lab/capture_fixtures.py this-machine

captures apt-real-bookworm from the Debian machine it runs on (no lab needed): a real host with
the real archive's pending updates, Multi-Arch: same libraries and security fixes whose candidate
comes from a point release; with `apt-get -s dist-upgrade` beside it as the oracle the unit tests
compare with.
"""
import datetime
import json
import os
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, ".build", "collections"))

from fleetlab import config, hosts  # noqa: E402
from ansible_collections.fleetpatch.patching.plugins.module_utils import _apt, _dnf, _rpm_common  # noqa: E402

OUT = os.path.join(REPO, "tests", "unit", "plugins", "module_utils", "fixtures")
WAVES = ("baseline", "security", "fixed")

COMMANDS = {
    "apt": [
        ("dpkg-query", ["dpkg-query", "--show", "--showformat", _apt.DPKG_QUERY_FORMAT]),
    ],
    "dnf": [
        ("rpm-qa", ["rpm", "--query", "--all", "--queryformat", _rpm_common.RPM_QUERY_FORMAT]),
        ("repoquery", ["dnf", "--quiet", "--assumeno", "--setopt=skip_if_unavailable=False", "repoquery",
                       "--upgrades", "--latest-limit=1", "--queryformat", _dnf.REPOQUERY_FORMAT]),
        ("updateinfo-list", ["dnf", "--quiet", "--assumeno", "--setopt=skip_if_unavailable=False", "updateinfo", "list"]),
        ("updateinfo-info", ["dnf", "--quiet", "--assumeno", "--setopt=skip_if_unavailable=False", "updateinfo", "info"]),
    ],
    "zypper": [
        ("rpm-qa", ["rpm", "--query", "--all", "--queryformat", _rpm_common.RPM_QUERY_FORMAT]),
        ("list-updates", ["zypper", "--non-interactive", "--xmlout", "list-updates"]),
        ("list-patches", ["zypper", "--non-interactive", "--xmlout", "list-patches"]),
    ],
}
REFRESH = {"apt": ["apt-get", "update", "--quiet"], "dnf": ["dnf", "--quiet", "makecache"],
           "zypper": ["zypper", "--non-interactive", "refresh"]}
VERSION = {"apt": ["apt-get", "--version"], "dnf": ["dnf", "--version"], "zypper": ["zypper", "--version"]}


def remote(host, argv):
    return subprocess.run(hosts.ssh_argv(host) + ["env LC_ALL=C TZ=UTC " + " ".join(shlex.quote(a) for a in argv)],
                          capture_output=True, text=True, check=False)


def save(directory, name, host, argv, proc, tool_version):
    os.makedirs(directory, exist_ok=True)
    base = os.path.join(directory, name)
    with open(base + ".stdout", "w") as f:
        f.write(proc.stdout)
    with open(base + ".stderr", "w") as f:
        f.write(proc.stderr)
    with open(base + ".json", "w") as f:
        json.dump({"cmd": argv, "rc": proc.returncode, "host": host.name, "tool_version": tool_version,
                   "captured": datetime.date.today().isoformat(), "env": {"LC_ALL": "C", "TZ": "UTC"}}, f, indent=1)
        f.write("\n")


def save_releases(host, directory):
    """The Release/InRelease files apt fetched, cut before their checksum lists, in one JSON file
    (their names contain ':', which some file systems refuse)."""
    releases = {}
    for name in remote(host, ["ls", _apt.LISTS_DIR]).stdout.split():
        if name.endswith("Release"):
            text = remote(host, ["cat", os.path.join(_apt.LISTS_DIR, name)]).stdout
            releases[name] = text.split("\nMD5Sum:")[0].split("\nSHA256:")[0] + "\n"
    with open(os.path.join(directory, "releases.json"), "w") as f:
        json.dump(releases, f, indent=1, sort_keys=True)
        f.write("\n")


def capture_with_debian_archive(host):
    """apt-security-archive: the security wave on a host whose lists also hold the Debian
    archive, as a real host's do (signed InRelease files, tens of thousands of packages)."""
    from fleetlab import rootfs
    directory = os.path.join(OUT, "apt-security-archive")
    subprocess.run(hosts.ssh_argv(host) + ["cat > /etc/apt/sources.list.d/debian-archive.list"],
                   input="deb [trusted=yes] %s bookworm main\n" % rootfs.mirror(), text=True, check=True)
    try:
        remote(host, REFRESH["apt"])
        version = remote(host, VERSION["apt"]).stdout.splitlines()[0].strip()
        argv = COMMANDS["apt"][0][1]
        proc = remote(host, argv)
        save(directory, "dpkg-query", host, argv, proc, version)
        argv = _apt.POLICY + [p["query_name"] for p in _apt.parse_dpkg_query(
            proc.stdout, _apt.AptBackend.native_arch(None, proc.stdout))]
        save(directory, "policy", host, argv, remote(host, argv), version)
        save_releases(host, directory)
    finally:
        remote(host, ["rm", "-f", "/etc/apt/sources.list.d/debian-archive.list"])
        remote(host, REFRESH["apt"])
    print("captured apt-security-archive from %s" % host.name)


def main():
    lab = os.path.join(HERE, "lab")
    fleet = {h.pkg_mgr: h for h in reversed(config.fleet())}
    try:
        for wave in WAVES:
            subprocess.run([lab, "stage", wave], check=True)
            for manager, commands in COMMANDS.items():
                host = fleet[manager]
                remote(host, REFRESH[manager])
                version = remote(host, VERSION[manager]).stdout.splitlines()[0].strip()
                for name, argv in commands:
                    proc = remote(host, argv)
                    save(os.path.join(OUT, "%s-%s" % (manager, wave)), name, host, argv, proc, version)
                if manager == "apt":
                    # policy over every installed package, and the Release files apt reads
                    with open(os.path.join(OUT, "apt-%s" % wave, "dpkg-query.stdout")) as f:
                        text = f.read()
                    names = [p["query_name"] for p in _apt.parse_dpkg_query(text, _apt.AptBackend.native_arch(None, text))]
                    argv = _apt.POLICY + names
                    save(os.path.join(OUT, "apt-%s" % wave), "policy", host, argv, remote(host, argv), version)
                    save_releases(host, os.path.join(OUT, "apt-%s" % wave))
                if manager == "dnf":
                    # the obsoleters of the installed names, as the backend asks (one call)
                    with open(os.path.join(OUT, "dnf-%s" % wave, "rpm-qa.stdout")) as f:
                        names = sorted(set(p["name"] for p in _rpm_common.parse_rpm_query(f.read())))
                    argv = ["dnf", "--quiet", "--assumeno", "--setopt=skip_if_unavailable=False", "repoquery",
                            "--latest-limit=1", "--whatobsoletes", ",".join(names), "--queryformat",
                            _dnf.OBSOLETES_FORMAT]
                    save(os.path.join(OUT, "dnf-%s" % wave), "obsoletes", host, argv, remote(host, argv), version)
                if manager == "zypper":
                    # the info call names the patches list-patches found, as the backend does
                    from ansible_collections.fleetpatch.patching.plugins.module_utils._zypper import parse_list_patches
                    with open(os.path.join(OUT, "zypper-%s" % wave, "list-patches.stdout")) as f:
                        ids = sorted(parse_list_patches(f.read()))
                    if ids:
                        argv = ["zypper", "--non-interactive", "--xmlout", "info", "-t", "patch"] + ids
                        save(os.path.join(OUT, "zypper-%s" % wave), "patch-info", host, argv, remote(host, argv), version)
                print("captured %s-%s from %s" % (manager, wave, host.name))
            if wave == "security":
                capture_with_debian_archive(fleet["apt"])
    finally:
        subprocess.run([lab, "stage", "baseline"], check=True)


class Local:
    name = "this-machine"


def capture_this_machine():
    directory = os.path.join(OUT, "apt-real-bookworm")
    local = Local()
    env = dict(os.environ, LC_ALL="C", TZ="UTC")

    def here(argv):
        return subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    version = here(VERSION["apt"]).stdout.splitlines()[0].strip()
    argv = COMMANDS["apt"][0][1]
    proc = here(argv)
    save(directory, "dpkg-query", local, argv, proc, version)
    argv = _apt.POLICY + [p["query_name"] for p in _apt.parse_dpkg_query(
        proc.stdout, _apt.AptBackend.native_arch(None, proc.stdout))]
    save(directory, "policy", local, argv, here(argv), version)
    argv = ["apt-get", "--simulate", "--quiet", "dist-upgrade"]
    save(directory, "oracle-dist-upgrade", local, argv, here(argv), version)
    releases = {}
    for name in os.listdir(_apt.LISTS_DIR):
        if name.endswith("Release"):
            with open(os.path.join(_apt.LISTS_DIR, name), errors="replace") as f:
                releases[name] = f.read().split("\nMD5Sum:")[0].split("\nSHA256:")[0] + "\n"
    with open(os.path.join(directory, "releases.json"), "w") as f:
        json.dump(releases, f, indent=1, sort_keys=True)
        f.write("\n")
    print("captured apt-real-bookworm from this machine")


if __name__ == "__main__":
    if sys.argv[1:] == ["this-machine"]:
        capture_this_machine()
    else:
        main()
