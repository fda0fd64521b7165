"""Conformance: the package manager is the oracle. On every lab host in every wave, and on the
real-archive host, what patch_facts reports must equal what apt, dnf and zypper themselves answer
on that host, asked live with their own commands and parsed here independently of the backends:

- apt: `apt-get -s dist-upgrade` (updates and what it keeps back) and `apt-cache policy` (the
  candidate of a kept-back package), `dpkg-query` (installed count), `unattended-upgrade
  --dry-run` restricted to security origins (security classification), `apt-get -s install`
  of exactly what patch_facts calls installable (and of each blocked update, which must fail);
- dnf: `dnf check-update`, `rpm -q`, `dnf updateinfo list` (advisories) and `--security`,
  `--bugfix`, `--enhancement` (classification), `dnf install --assumeno` of the installable set;
- zypper: `zypper list-updates` (its text table), `zypper patch --dry-run --category security`
  (which packages security patches upgrade), `rpm -qa`.

Nothing here is written down in advance: the real-archive host moves with the Debian archive.
"""
import re

import pytest
from conftest import ansible_playbook, on_host, run_lab, task_results

from fleetlab import config

WAVES = ("baseline", "security", "broken", "fixed")
UU_SECURITY_ONLY = ('#clear Unattended-Upgrade::Origins-Pattern;\n'
                    'Unattended-Upgrade::Origins-Pattern { "codename=${distro_codename}-security"; '
                    '"label=Debian-Security"; };\n')
UU_CONF = "/etc/apt/apt.conf.d/99zz-fleetpatch-oracle"


def records(inventory, hosts, extra_inventory=None):
    extra = ["-i", extra_inventory] if extra_inventory else []
    _rc, out = ansible_playbook("conformance_facts.yml", inventory, limit=",".join(h.name for h in hosts),
                                extra_args=extra)
    results = task_results(out, "Patch facts")
    return dict((h.name, results[h.name]["ansible_facts"]["fleetpatch"]) for h in hosts)


def key(name, arch, native="amd64"):
    """apt's way of naming a package: foreign architectures qualified."""
    return name if arch in (native, "all", None) else "%s:%s" % (name, arch)


# --- apt -----------------------------------------------------------------------------------

# a trailing "[other-pkg ]" names what the step temporarily breaks
INST = re.compile(r"^Inst (?P<name>\S+) \[(?P<old>[^\]]+)\] \((?P<new>\S+) .*\[(?P<arch>[^\]]+)\]\)(?: \[.*\])?$")


def apt_oracle(host):
    sim = on_host(host, "env", "LC_ALL=C", "apt-get", "--simulate", "dist-upgrade").stdout
    updates, kept, in_kept = {}, [], False
    for line in sim.splitlines():
        match = INST.match(line)
        if match:
            name = match.group("name")
            updates[name if ":" in name else key(name, match.group("arch"))] = (match.group("old"), match.group("new"))
        if line.startswith("The following packages have been kept back"):
            in_kept = True
            continue
        if in_kept:
            if line.startswith("  "):
                kept.extend(line.split())
                continue
            in_kept = False
    if kept:
        policy = on_host(host, "env", "LC_ALL=C", "apt-cache", "policy", *kept).stdout
        current = None
        fields = {}
        for line in policy.splitlines():
            if not line.startswith(" "):
                current = line.rstrip(":")
                fields[current] = {}
            elif line.strip().startswith(("Installed:", "Candidate:")):
                label, value = line.strip().split(": ", 1)
                fields[current][label] = value
        for name in kept:
            updates[name] = (fields[name]["Installed"], fields[name]["Candidate"])
    states = on_host(host, "dpkg-query", "--show", "--showformat", "${db:Status-Status}\n").stdout.split()
    installed = sum(1 for s in states if s not in ("not-installed", "config-files"))
    on_host(host, "sh", "-c", "cat > %s <<'EOF'\n%sEOF" % (UU_CONF, UU_SECURITY_ONLY))
    try:
        uu = on_host(host, "env", "LC_ALL=C", "unattended-upgrade", "--dry-run", "--debug").stderr + \
            on_host(host, "env", "LC_ALL=C", "unattended-upgrade", "--dry-run", "--debug", check=False).stdout
    finally:
        on_host(host, "rm", "-f", UU_CONF)
    found = re.search(r"^Packages that will be upgraded: (.*)$", uu, re.M)
    security = set(found.group(1).split()) if found else set()
    return updates, installed, security


def apt_spec(u):
    return "%s=%s" % (key(u["name"], u["arch"]), u["available_version"])


def check_apt(host, record):
    updates, installed, uu_security = apt_oracle(host)
    ours = dict((key(u["name"], u["arch"]), (u["installed_version"], u["available_version"])) for u in record["updates"])
    assert ours == updates, host.name
    assert record["installed_count"] == installed, host.name
    # unattended-upgrades installs exactly our security updates that apt can install
    ours_security = set(u["name"] for u in record["updates"]
                        if u["classification"] == "security" and u.get("installable", True) and not u.get("held"))
    assert ours_security == uu_security, host.name
    # what we call installable, apt installs as asked; what we call blocked, apt refuses
    installable = [u for u in record["updates"] if u["decision"] == "approved"]
    if installable:
        proc = on_host(host, "env", "LC_ALL=C", "apt-get", "--simulate", "install", *[apt_spec(u) for u in installable])
        for u in installable:
            assert re.search(r"^Inst %s(:\S+)? .*\(%s " % (re.escape(u["name"]), re.escape(u["available_version"])),
                             proc.stdout, re.M), (host.name, u["name"])
    for blocked in [u for u in record["updates"] if u["decision"] == "blocked"]:
        proc = on_host(host, "env", "LC_ALL=C", "apt-get", "--simulate", "install",
                       *[apt_spec(u) for u in installable + [blocked]], check=False)
        assert proc.returncode != 0, (host.name, blocked["name"], blocked["reason"])


# --- dnf -----------------------------------------------------------------------------------

def rpm_installed(host):
    out = on_host(host, "rpm", "-qa", "--qf", "%{NAME}|%{EPOCHNUM}|%{VERSION}-%{RELEASE}|%{ARCH}\n").stdout
    found = {}
    for line in out.split():
        name, epoch, vr, arch = line.split("|")
        if name != "gpg-pubkey":
            found[(name, arch)] = vr if epoch == "0" else "%s:%s" % (epoch, vr)
    return found


def check_dnf(host, record):
    proc = on_host(host, "env", "LC_ALL=C", "dnf", "-q", "check-update", check=False)
    assert proc.returncode in (0, 100), proc.stderr
    offered = {}
    for line in proc.stdout.splitlines():
        words = line.split()
        if len(words) == 3 and "." in words[0]:
            name, arch = words[0].rsplit(".", 1)
            offered[(name, arch)] = words[1]
    installed = rpm_installed(host)
    ours = dict(((u["name"], u["arch"]), u["available_version"]) for u in record["updates"])
    assert ours == offered, host.name
    for u in record["updates"]:
        assert u["installed_version"] == installed[(u["name"], u["arch"])], (host.name, u["name"])
    assert record["installed_count"] == len(installed)
    by_type = {}
    for kind in ("security", "bugfix", "enhancement"):
        out = on_host(host, "env", "LC_ALL=C", "dnf", "-q", "updateinfo", "list", "--" + kind).stdout
        for line in out.splitlines():
            words = line.split()
            if len(words) == 3:
                name = re.match(r"^(.+)-[^-]+-[^-]+$", words[2]).group(1)
                by_type.setdefault(name, set()).add(kind)
    advisories = {}
    for line in on_host(host, "env", "LC_ALL=C", "dnf", "-q", "updateinfo", "list").stdout.splitlines():
        words = line.split()
        if len(words) == 3:
            advisories.setdefault(re.match(r"^(.+)-[^-]+-[^-]+$", words[2]).group(1), set()).add(words[0])
    rank = ("security", "bugfix", "enhancement")
    for u in record["updates"]:
        kinds = by_type.get(u["name"], set())
        expected = next((k for k in rank if k in kinds), "other")
        assert u["classification"] == expected, (host.name, u["name"])
        assert set(u["advisories"]) == advisories.get(u["name"], set()), (host.name, u["name"])
    installable = [u for u in record["updates"] if u["decision"] == "approved"]
    if installable:
        proc = on_host(host, "env", "LC_ALL=C", "dnf", "--assumeno", "install",
                       *["%s-%s.%s" % (u["name"], u["available_version"], u["arch"]) for u in installable], check=False)
        assert "Operation aborted" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


# --- zypper --------------------------------------------------------------------------------

def check_zypper(host, record):
    table = on_host(host, "env", "LC_ALL=C", "zypper", "-n", "list-updates").stdout
    offered = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) == 6 and cells[0] == "v":
            offered[(cells[2], cells[5])] = (cells[3], cells[4])
    ours = dict(((u["name"], u["arch"]), (u["installed_version"], u["available_version"]))
                for u in record["updates"] if u.get("installable", True))
    assert ours == offered, host.name
    assert record["installed_count"] == len(rpm_installed(host))
    dry = on_host(host, "env", "LC_ALL=C", "zypper", "-n", "--non-interactive-include-reboot-patches", "patch",
                  "--dry-run", "--category", "security", check=False)
    assert dry.returncode in (0, 100, 101, 102, 103), dry.stdout + dry.stderr
    upgraded = set()
    block = re.search(r"The following (?:\d+ )?packages? (?:is|are) going to be upgraded:\n((?:  .*\n)+)", dry.stdout)
    if block:
        upgraded = set(block.group(1).split())
    ours_security = set(u["name"] for u in record["updates"] if u["classification"] == "security")
    assert ours_security == upgraded, host.name


CHECKS = {"apt": check_apt, "dnf": check_dnf, "zypper": check_zypper}


@pytest.mark.parametrize("wave", WAVES)
def test_every_lab_host_agrees_with_its_package_manager(fresh_lab, fleet, wave):
    run_lab("stage", wave)
    hosts = list(fleet.values())
    found = records(fresh_lab, hosts)
    for host in hosts:
        record = found[host.name]
        assert record["incomplete"] == [] and record["unfinished"] == [], host.name
        assert record["cache_refreshed"] is True and record["cache_age"] is not None
        CHECKS[host.pkg_mgr](host, record)


def test_the_real_archive_host_agrees_with_apt(fresh_lab):
    """Real pending updates from the Debian archive, Multi-Arch: same libraries, an i386 copy,
    a backports pin, a hold, an rc package and a local .deb: apt's own answers, live."""
    archive_hosts = config.archive_hosts()
    if not archive_hosts:
        pytest.skip("FLEETLAB_ARCHIVE_HOSTS=0: no real-archive host in this lab")
    host = archive_hosts[0]
    record = records(fresh_lab, [host], extra_inventory=config.ARCHIVE_INVENTORY)[host.name]
    assert record["pkg_mgr"] == "apt" and record["incomplete"] == []
    check_apt(host, record)
    foreign = on_host(host, "dpkg-query", "--show", "--showformat", "${binary:Package}\n").stdout.split()
    assert any(name.endswith(":i386") for name in foreign)
    held = on_host(host, "apt-mark", "showhold").stdout.split()
    assert held and all(u["decision"] == "rejected" for u in record["updates"] if u["name"] in held)
    # the rc package is not installed, the local package is, and neither is an update
    names = [u["name"] for u in record["updates"]]
    assert "fleetlab-removed-tool" not in names and "fleetlab-local-tool" not in names
