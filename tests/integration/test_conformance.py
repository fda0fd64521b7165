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
import concurrent.futures
import os
import re
import shutil

import pytest
from conftest import ansible_playbook, first_host, on_host, run_lab, task_results

from fleetlab import config, rpm_realistic

WAVES = ("baseline", "security", "regression", "broken", "fixed")
UU_SECURITY_ONLY = ('#clear Unattended-Upgrade::Origins-Pattern;\n'
                    'Unattended-Upgrade::Origins-Pattern { "codename=${distro_codename}-security"; '
                    '"label=Debian-Security"; };\n')
UU_CONF = "/etc/apt/apt.conf.d/99zz-fleetpatch-oracle"


def records(inventory, hosts, extra_inventory=None, **args):
    extra = ["-i", extra_inventory] if extra_inventory else []
    _rc, out = ansible_playbook("conformance_facts.yml", inventory, limit=",".join(h.name for h in hosts),
                                extra_args=extra, extra_vars={"facts_args": args})
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
        proc = on_host(host, "env", "LC_ALL=C", "unattended-upgrade", "--dry-run", "--debug")
        uu = proc.stdout + proc.stderr
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
    # what we call installable, apt installs as asked, removing nothing; what we call blocked, apt
    # refuses, or installs only by removing an installed package (which apt-get upgrade and
    # unattended-upgrades never do: they keep the update back)
    installable = [u for u in record["updates"] if u["decision"] == "approved"]
    if installable:
        proc = on_host(host, "env", "LC_ALL=C", "apt-get", "--simulate", "install", *[apt_spec(u) for u in installable])
        for u in installable:
            assert re.search(r"^Inst %s(:\S+)? .*\(%s " % (re.escape(u["name"]), re.escape(u["available_version"])),
                             proc.stdout, re.M), (host.name, u["name"])
        assert not re.search(r"^Remv ", proc.stdout, re.M), (host.name, proc.stdout)
    for blocked in [u for u in record["updates"] if u["decision"] == "blocked"]:
        proc = on_host(host, "env", "LC_ALL=C", "apt-get", "--simulate", "install",
                       *[apt_spec(u) for u in installable + [blocked]], check=False)
        assert proc.returncode != 0 or re.search(r"^Remv ", proc.stdout, re.M), \
            (host.name, blocked["name"], blocked["reason"])


# --- dnf -----------------------------------------------------------------------------------

def rpm_installed(host, root=None):
    out = on_host(host, "rpm", *(["--root", root] if root else []), "-qa", "--qf",
                  "%{NAME}|%{EPOCHNUM}|%{VERSION}-%{RELEASE}|%{ARCH}\n").stdout
    found = {}
    for line in out.split():
        name, epoch, vr, arch = line.split("|")
        if name != "gpg-pubkey":
            found[(name, arch)] = vr if epoch == "0" else "%s:%s" % (epoch, vr)
    return found


def dnf(host, root, *args, check=True):
    return on_host(host, "env", "LC_ALL=C", "TZ=UTC", "dnf", "-q",
                   *(["--installroot=" + root, "--releasever=12"] if root else []), *args, check=check)


def check_dnf(host, record, root=None):
    proc = dnf(host, root, "check-update", check=False)
    assert proc.returncode in (0, 100), proc.stderr
    offered, obsoleted = {}, set()
    for line in proc.stdout.splitlines():
        words = line.split()
        if line.startswith(" ") and len(words) == 3:
            # under "Obsoleting Packages": what the package above it obsoletes
            obsoleted.add(words[0].rsplit(".", 1)[0])
        elif len(words) == 3 and "." in words[0]:
            name, arch = words[0].rsplit(".", 1)
            offered[(name, arch)] = words[1]
    installed = rpm_installed(host, root)
    ours = dict(((u["name"], u["arch"]), u["available_version"]) for u in record["updates"])
    assert ours == offered, host.name
    for u in record["updates"]:
        assert u["installed_version"] == installed.get((u["name"], u["arch"])), (host.name, u["name"])
    assert set(n for u in record["updates"] for n in u.get("obsoletes", [])) == obsoleted, host.name
    assert record["installed_count"] == len(installed)
    by_type = {}
    for kind in ("security", "bugfix", "enhancement"):
        out = dnf(host, root, "updateinfo", "list", "--" + kind).stdout
        for line in out.splitlines():
            words = line.split()
            if len(words) == 3:
                name = re.match(r"^(.+)-[^-]+-[^-]+$", words[2]).group(1)
                by_type.setdefault(name, set()).add(kind)
    advisories = {}
    for line in dnf(host, root, "updateinfo", "list").stdout.splitlines():
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
    specs = ["%s-%s.%s" % (u["name"], u["available_version"], u["arch"]) for u in installable]
    if installable:
        proc = on_host(host, "env", "LC_ALL=C", "dnf", "--assumeno", *(["--installroot=" + root] if root else []),
                       "install", *specs, check=False)
        assert "Operation aborted" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    for blocked in [u for u in record["updates"] if u["decision"] == "blocked"]:
        proc = on_host(host, "env", "LC_ALL=C", "dnf", "--assumeno", *(["--installroot=" + root] if root else []),
                       "install", *(specs + ["%s-%s.%s" % (blocked["name"], blocked["available_version"],
                                                           blocked["arch"])]), check=False)
        assert "Operation aborted" not in proc.stdout + proc.stderr, (host.name, blocked["name"])


# --- zypper --------------------------------------------------------------------------------

def zypper(host, root, *args, check=True):
    return on_host(host, "env", "LC_ALL=C", "zypper", "-n", *(["--root", root] if root else []), *args, check=check)


def check_zypper(host, record, root=None):
    table = zypper(host, root, "list-updates").stdout
    offered = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) == 6 and cells[0] == "v":
            offered[(cells[2], cells[5])] = (cells[3], cells[4])
    ours = dict(((u["name"], u["arch"]), (u["installed_version"], u["available_version"]))
                for u in record["updates"] if u.get("installable", True))
    assert ours == offered, host.name
    assert record["installed_count"] == len(rpm_installed(host, root))
    # zypper's own answer, patch by patch: which packages each needed security patch upgrades,
    # and which patches it cannot apply (a lock, a dependency nothing provides)
    upgraded, refused = set(), set()
    for patch_id in needed_patches(host, root, "security"):
        dry = zypper(host, root, "--non-interactive-include-reboot-patches", "install", "--dry-run",
                     "patch:" + patch_id, check=False)
        if dry.returncode == 4:
            refused.add(patch_id)
            continue
        assert dry.returncode in (0, 100, 101, 102, 103), dry.stdout + dry.stderr
        block = re.search(r"The following (?:\d+ )?packages? (?:is|are) going to be upgraded:\n((?:  .*\n)+)", dry.stdout)
        upgraded |= set(block.group(1).split()) if block else set()
    ours_security = set(u["name"] for u in record["updates"] if u["classification"] == "security"
                        and u.get("installable", True))
    assert ours_security == upgraded, host.name
    blocked = [u for u in record["updates"] if u.get("installable") is False]
    assert set(a for u in blocked for a in u["advisories"]) == refused, host.name
    assert all(u["decision"] in ("blocked", "rejected") for u in blocked)


def needed_patches(host, root, category):
    table = zypper(host, root, "list-patches", "--category", category).stdout
    rows = [[c.strip() for c in line.split("|")] for line in table.splitlines() if "|" in line]
    if not rows:
        return []
    header = rows[0]
    name, status = header.index("Name"), header.index("Status")
    return [row[name] for row in rows[1:] if len(row) == len(header) and row[status] == "needed"]


CHECKS = {"apt": check_apt, "dnf": check_dnf, "zypper": check_zypper}


@pytest.mark.parametrize("wave", WAVES)
def test_every_lab_host_agrees_with_its_package_manager(fresh_lab, fleet, wave):
    run_lab("stage", wave)
    hosts = list(fleet.values())
    found = records(fresh_lab, hosts)

    def check(host):
        record = found[host.name]
        assert record["incomplete"] == [] and record["unfinished"] == [], host.name
        assert record["cache_refreshed"] is True and record["cache_age"] is not None
        CHECKS[host.pkg_mgr](host, record)
    # the hosts answer independently: ask them at once (most of the time is SSH and the oracles)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        for future in [pool.submit(check, h) for h in hosts]:
            future.result()


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


REALISTIC_ROOT = "/srv/realistic"
REALISTIC_REPO = "/srv/realistic-repo"


@pytest.fixture(scope="module")
def realistic_roots(fresh_lab, fleet):
    """An installroot on the dnf and the zypper host at the oldest versions of the realistic
    repository (fleetlab/rpm_realistic.py), rl-locked locked for zypper."""
    repo = rpm_realistic.build_repository(os.path.join(config.REPOS_DIR, "realistic"))
    hosts = {}
    for manager in ("dnf", "zypper"):
        host = first_host(fleet, manager)
        shutil.rmtree(os.path.join(host.root, REALISTIC_REPO.lstrip("/")), ignore_errors=True)
        shutil.copytree(repo, os.path.join(host.root, REALISTIC_REPO.lstrip("/")))
        on_host(host, "rm", "-rf", REALISTIC_ROOT)
        repos_dir = "etc/yum.repos.d" if manager == "dnf" else "etc/zypp/repos.d"
        os.makedirs(os.path.join(host.root, REALISTIC_ROOT.lstrip("/"), repos_dir))
        with open(os.path.join(host.root, REALISTIC_ROOT.lstrip("/"), repos_dir, "realistic.repo"), "w") as f:
            f.write(rpm_realistic.repo_file(REALISTIC_REPO))
        if manager == "dnf":
            on_host(host, "dnf", "-q", "-y", "--installroot=" + REALISTIC_ROOT, "--releasever=12",
                    "--setopt=tsflags=noscripts", "install", *rpm_realistic.installed_specs("dnf"))
        else:
            proc = on_host(host, "zypper", "-n", "-q", "--root", REALISTIC_ROOT, "install",
                           *rpm_realistic.installed_specs("zypper"), check=False)
            assert proc.returncode in (0, 107), proc.stderr     # 107: a scriptlet could not run in the root
            on_host(host, "zypper", "-n", "-q", "--root", REALISTIC_ROOT, "addlock", rpm_realistic.LOCKED)
        hosts[manager] = host
    return hosts


@pytest.mark.parametrize("manager", ["dnf", "zypper"])
def test_a_realistic_rpm_repository_agrees_with_the_package_manager(fresh_lab, realistic_roots, manager):
    """Multilib, several advisories per package and packages per advisory, every severity, SUSE
    categories and epoch-second dates, an install-only kernel, a rising epoch, obsoletes, an
    unresolvable dependency and a locked package, in an installroot."""
    host = realistic_roots[manager]
    record = records(fresh_lab, [host], root=REALISTIC_ROOT)[host.name]
    assert record["incomplete"] == [] and record["root"] == REALISTIC_ROOT
    CHECKS[manager](host, record, REALISTIC_ROOT)
    by = dict(((u["name"], u["arch"]), u) for u in record["updates"])
    # multilib (dnf): both copies of the library, each with both advisories and all three CVEs
    for arch in ("x86_64", "i686") if manager == "dnf" else ("x86_64",):
        libs = by[("rl-openssl-libs", arch)]
        assert libs["available_version"] == "1:3.0.7-3"
        assert libs["advisories"] == ["RLSA-2026:1001", "RLSA-2026:1005"]
        assert libs["cves"] == ["CVE-2026-1001", "CVE-2026-1002", "CVE-2026-1005"]
        assert libs["severity"] == "critical" and libs["issued"] == "2026-01-16"
    assert by[("rl-tool", "noarch")]["available_version"] == "1:2.0-1"
    # unresolvable (dnf offers it and cannot install it; zypper does not offer it): blocked either way
    assert by[("rl-broken", "noarch")]["decision"] == "blocked", by[("rl-broken", "noarch")]
    if manager == "dnf":
        # obsoletes: the obsoleting package is an update, what it replaces a removal
        assert by[("rl-modern", "noarch")]["obsoletes"] == ["rl-legacy"]
        assert {"name": "rl-legacy", "version": "1.0-1"} in record["removals"]
    else:
        assert by[("rl-locked", "noarch")]["decision"] == "blocked"
