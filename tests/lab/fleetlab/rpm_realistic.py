"""A realistic RPM repository: what real Fedora/RHEL/SUSE updateinfo.xml carries, which the lab's
waves (one advisory per package, noarch only) do not.

- several advisories per package (3.0.7-2 fixes two CVEs, 3.0.7-3 a third, both still listed) and
  several packages per advisory (libs and tools, x86_64 and i686);
- multilib: rl-openssl-libs installed for x86_64 and i686 (dnf; zypper keeps one architecture
  of a name, SUSE's 32-bit libraries being separate -32bit packages);
- a multiversion (install-only) kernel, with a reboot-suggested advisory;
- every severity (Critical, Important, Moderate, Low, None) and SUSE's categories (recommended,
  optional), Red Hat style dates ("YYYY-MM-DD HH:MM:SS") and SUSE style ones (epoch seconds),
  ids with colons (RLSA-2026:1001, SUSE-SU-2026:1040-1);
- an epoch that rises while the version falls (rl-tool 3.0-1 -> 1:2.0-1);
- obsoletes (rl-modern obsoletes rl-legacy);
- an update whose dependency no repository provides (rl-broken 1.1-1), and a package zypper keeps
  locked (rl-locked), each with a security advisory: the host is exposed and cannot be patched.

Format: createrepo_c's updateinfo (the `<update>` elements modifyrepo_c adds), as libdnf and
libzypp read it: see shared/recipes/rpm/updateinfo.xml and createrepo_c's updateinfo tests.
The repository is installed into an installroot (`root=`) on the dnf and zypper lab hosts by the
conformance test; nothing else uses it.
"""
import os
import shutil
import tempfile
from collections import namedtuple
from xml.sax.saxutils import escape, quoteattr

from .util import run

Package = namedtuple("Package", "name epoch version release arch extra")
Advisory = namedtuple("Advisory", "id kind severity issued title cves reboot packages")

EVR_LIBS = [("1", "3.0.7", "1"), ("1", "3.0.7", "2"), ("1", "3.0.7", "3")]


def _pkgs():
    found = []
    for epoch, version, release in EVR_LIBS:
        for arch in ("x86_64", "i686"):
            found.append(Package("rl-openssl-libs", epoch, version, release, arch, ""))
        found.append(Package("rl-openssl", epoch, version, release, "x86_64",
                             "Requires: rl-openssl-libs = %s:%s-%s\n" % (epoch, version, release)))
    kernel = "Provides: installonlypkg(kernel)\n"
    found += [
        # what a distribution's *-release package provides: dnf reads releasever from it
        Package("rl-release", "0", "12", "1", "noarch", "Provides: system-release\nProvides: system-release(releasever) = 12\n"),
        Package("rl-kernel", "0", "5.14.0", "1", "x86_64", kernel),
        Package("rl-kernel", "0", "5.14.0", "3", "x86_64", kernel),
        Package("rl-tzdata", "0", "2025a", "1", "noarch", ""),
        Package("rl-tzdata", "0", "2026a", "1", "noarch", ""),
        Package("rl-tool", "0", "3.0", "1", "noarch", ""),
        Package("rl-tool", "1", "2.0", "1", "noarch", ""),
        Package("rl-legacy", "0", "1.0", "1", "noarch", ""),
        Package("rl-modern", "0", "2.0", "1", "noarch", "Obsoletes: rl-legacy < 2.0\nProvides: rl-legacy = 2.0\n"),
        Package("rl-broken", "0", "1.0", "1", "noarch", ""),
        Package("rl-broken", "0", "1.1", "1", "noarch", "Requires: rl-missing-lib >= 2\n"),
        Package("rl-locked", "0", "1.0", "1", "noarch", ""),
        Package("rl-locked", "0", "1.1", "1", "noarch", ""),
        Package("rl-suse-tool", "0", "1.0", "1", "noarch", ""),
        Package("rl-suse-tool", "0", "1.1", "1", "noarch", ""),
        Package("rl-suse-tool", "0", "1.2", "1", "noarch", ""),
    ]
    return found


PACKAGES = _pkgs()
# What the installroot starts with: the oldest of each name (both arches of the libraries).
OLDEST_VERSIONS = (("3.0.7", "1"), ("5.14.0", "1"), ("2025a", "1"), ("3.0", "1"), ("1.0", "1"), ("12", "1"))
INSTALLED = [p for p in PACKAGES if (p.version, p.release) in OLDEST_VERSIONS]
LOCKED = "rl-locked"


def _by(name, release=None, version=None):
    return [p for p in PACKAGES if p.name == name and (release is None or p.release == release)
            and (version is None or p.version == version)]


ADVISORIES = [
    Advisory("RLSA-2026:1001", "security", "Important", "2026-01-10 00:00:00", "Important: rl-openssl security update",
             ["CVE-2026-1001", "CVE-2026-1002"], False, _by("rl-openssl-libs", "2") + _by("rl-openssl", "2")),
    Advisory("RLSA-2026:1005", "security", "Critical", "1768521600", "Critical: rl-openssl security update",
             ["CVE-2026-1005"], False, _by("rl-openssl-libs", "3") + _by("rl-openssl", "3")),
    Advisory("RLSA-2026:1010", "security", "Moderate", "2026-01-20 08:30:00", "Moderate: rl-kernel security update",
             ["CVE-2026-1010", "CVE-2026-1011", "CVE-2026-1012"], True, _by("rl-kernel", "3")),
    Advisory("RLBA-2026:1020", "bugfix", "Low", "2026-01-21 00:00:00", "rl-tzdata bug fix and enhancement update",
             [], False, _by("rl-tzdata", version="2026a")),
    Advisory("RLEA-2026:1030", "enhancement", "None", "2026-01-22 00:00:00", "rl-tool enhancement update",
             [], False, _by("rl-tool", version="2.0")),
    Advisory("SUSE-SU-2026:1040-1", "security", "important", "1769212800", "Security update for rl-broken",
             ["CVE-2026-1040"], False, _by("rl-broken", version="1.1")),
    Advisory("SUSE-SU-2026:1041-1", "security", "low", "1769299200", "Security update for rl-locked",
             ["CVE-2026-1041"], False, _by("rl-locked", version="1.1")),
    Advisory("SUSE-RU-2026:1050-1", "recommended", "moderate", "1769385600", "Recommended update for rl-suse-tool",
             [], False, _by("rl-suse-tool", version="1.1")),
    Advisory("SUSE-OU-2026:1051-1", "optional", "low", "1769472000", "Optional update for rl-suse-tool",
             [], False, _by("rl-suse-tool", version="1.2")),
]

SPEC = """Name:           {name}
Epoch:          {epoch}
Version:        {version}
Release:        {release}
Summary:        realistic repository fixture
License:        MIT
{buildarch}AutoReqProv:    no
{extra}
%description
realistic repository fixture

%install
mkdir -p %{{buildroot}}/usr/share/{name}
echo {version}-{release} > %{{buildroot}}/usr/share/{name}/{install_name}

%files
/usr/share/{name}/{install_name}
"""


def rpm_file(p):
    return "%s-%s-%s.%s.rpm" % (p.name, p.version, p.release, p.arch)


def build_rpm(p, topdir):
    # install-only and multilib packages coexist: their file names must differ
    install_name = "%s-%s.%s" % (p.version, p.release, p.arch)
    # Debian's rpm builds i686 from x86_64 with --target but refuses BuildArch: i686
    spec = SPEC.format(name=p.name, epoch=p.epoch, version=p.version, release=p.release, extra=p.extra,
                       buildarch="BuildArch:      noarch\n" if p.arch == "noarch" else "", install_name=install_name)
    path = os.path.join(topdir, "SPECS", "%s-%s-%s.%s.spec" % (p.name, p.version, p.release, p.arch))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(spec)
    run(["rpmbuild", "--quiet", "-bb", "--target", p.arch, "--define", "_topdir %s" % topdir,
         "--define", "_buildhost fleetlab", path])
    return os.path.join(topdir, "RPMS", p.arch, rpm_file(p))


def updateinfo_xml():
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<updates>"]
    for a in ADVISORIES:
        refs = "".join('      <reference href=%s id=%s type="cve" title=%s/>\n'
                       % (quoteattr("https://www.cve.org/CVERecord?id=" + c), quoteattr(c), quoteattr(c))
                       for c in a.cves)
        pkgs = "".join(
            '        <package name="%s" version="%s" release="%s" epoch="%s" arch="%s" src="%s-%s-%s.src.rpm">\n'
            '          <filename>%s</filename>\n%s        </package>\n'
            % (p.name, p.version, p.release, p.epoch, p.arch, p.name, p.version, p.release, rpm_file(p),
               "          <reboot_suggested>True</reboot_suggested>\n" if a.reboot else "")
            for p in a.packages)
        out.append("""  <update from="security@example.invalid" status="stable" type="{kind}" version="1">
    <id>{id}</id>
    <title>{title}</title>
    <severity>{severity}</severity>
    <release>realistic</release>
    <issued date="{issued}"/>
    <summary>{title}</summary>
    <description>{title}
Line two of the description.
Conflicts   : nothing &lt; 9</description>
    <references>
{refs}    </references>
    <pkglist>
      <collection short="realistic">
        <name>realistic</name>
{pkgs}      </collection>
    </pkglist>
  </update>""".format(kind=a.kind, id=escape(a.id), title=escape(a.title), severity=a.severity, issued=a.issued,
                      refs=refs, pkgs=pkgs))
    out.append("</updates>")
    return "\n".join(out) + "\n"


def build_repository(dest):
    """Write dest: every package above, repodata, updateinfo. Idempotent (skips a built one)."""
    if os.path.exists(os.path.join(dest, "repodata", "repomd.xml")):
        return dest
    topdir = tempfile.mkdtemp(prefix="fleetlab-rl-")
    work = dest + ".building"
    try:
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        for p in PACKAGES:
            shutil.copy2(build_rpm(p, topdir), work)
        run(["createrepo_c", "--quiet", work])
        info = os.path.join(topdir, "updateinfo.xml")
        with open(info, "w") as f:
            f.write(updateinfo_xml())
        run(["modifyrepo_c", "--mdtype=updateinfo", info, os.path.join(work, "repodata")])
        shutil.rmtree(dest, ignore_errors=True)
        os.rename(work, dest)
    finally:
        shutil.rmtree(topdir, ignore_errors=True)
    return dest


def installed_specs(manager):
    """The installroot's starting packages, as dnf (NAME-EPOCH:VERSION-RELEASE.ARCH) or zypper
    (NAME.ARCH=EPOCH:VERSION-RELEASE) names them."""
    if manager == "dnf":
        return ["%s-%s:%s-%s.%s" % (p.name, p.epoch, p.version, p.release, p.arch) for p in INSTALLED]
    # zypper keeps one architecture of a name (SUSE ships 32-bit libraries as NAME-32bit): an
    # i686 install would replace the x86_64 one, so the zypper root has x86_64 only
    return ["%s.%s=%s:%s-%s" % (p.name, p.arch, p.epoch, p.version, p.release) for p in INSTALLED if p.arch != "i686"]


def repo_file(path):
    return ("[realistic]\nname=realistic\nbaseurl=file://%s\nenabled=1\ngpgcheck=0\nmetadata_expire=0\n"
            "autorefresh=1\ntype=rpm-md\n" % path)
