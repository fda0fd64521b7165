"""Build the lab's .rpm packages and an RPM repository with updateinfo (advisories).

The same catalog as the .debs; advisories carry type, severity, CVE references, issued date
and reboot_suggested, which dnf (`updateinfo`) and zypper (patches) both read.
"""
import os
import shutil
import tempfile
from xml.sax.saxutils import escape, quoteattr

from . import payload
from .util import run

SPEC = """Name:           {name}
Epoch:          {epoch}
Version:        {version}
Release:        {release}
Summary:        {summary}
License:        MIT
BuildArch:      noarch
AutoReqProv:    no
{requires}{provides}
%description
{summary}

%install
{install}

%files
{files}
{scripts}
"""


def build_rpm(v, topdir):
    tree = payload.files(v)
    install = []
    for rel, (mode, text) in sorted(tree.items()):
        # The file bodies travel through the spec as heredocs; none of them contains the marker.
        install.append("mkdir -p %%{buildroot}/%s" % os.path.dirname(rel))
        install.append("cat > %%{buildroot}/%s <<'FLEETLAB_EOF'\n%sFLEETLAB_EOF" % (rel, text.replace("%", "%%")))
        install.append("chmod %o %%{buildroot}/%s" % (mode, rel))
    requires = "".join("Requires:       %s\n" % d for d in v.depends)
    provides = ""
    if v.requires_reboot:
        # libzypp writes /run/reboot-needed after installing a package with this provide.
        provides = "Provides:       installhint(reboot-needed)\n"
    scripts = []
    pre = payload.before_install_script(v, "rpm")
    if pre:
        scripts.append("%%pre\n%s" % pre)
    post = payload.after_install_script(v, "rpm")
    if post:
        scripts.append("%%post\n%s" % post)
    pre_remove = payload.before_remove_script(v)
    if pre_remove:
        scripts.append("%%preun\nif [ $1 -eq 0 ]; then\n%s\nfi" % pre_remove)
    spec = SPEC.format(
        name=v.package, epoch=v.epoch, version=v.version, release=v.release,
        summary=v.description or v.package, requires=requires, provides=provides,
        install="\n".join(install), files="\n".join("/" + rel for rel in sorted(tree)),
        scripts="\n".join(scripts))
    spec_path = os.path.join(topdir, "SPECS", "%s-%s-%s.spec" % (v.package, v.version, v.release))
    os.makedirs(os.path.dirname(spec_path), exist_ok=True)
    with open(spec_path, "w") as f:
        f.write(spec)
    run(["rpmbuild", "--quiet", "-bb", "--define", "_topdir %s" % topdir, "--define", "_buildhost fleetlab",
         spec_path])
    return os.path.join(topdir, "RPMS", "noarch", "%s-%s-%s.noarch.rpm" % (v.package, v.version, v.release))


RELEASE_SPEC = """Name:           fleetlab-release
Version:        12
Release:        1
Summary:        fleetpatch lab system release (what a distribution's *-release package provides)
License:        MIT
BuildArch:      noarch
AutoReqProv:    no
Provides:       system-release
Provides:       system-release(releasever) = 12
Provides:       /bin/sh
Provides:       /usr/bin/python3

%description
The lab's RPM hosts are Debian systems whose RPM database starts empty. This package tells dnf
the release version and satisfies the interpreter dependencies that rpmbuild adds to scriptlets.

%files
"""


def build_release_rpm(topdir):
    spec_path = os.path.join(topdir, "SPECS", "fleetlab-release.spec")
    os.makedirs(os.path.dirname(spec_path), exist_ok=True)
    with open(spec_path, "w") as f:
        f.write(RELEASE_SPEC)
    run(["rpmbuild", "--quiet", "-bb", "--define", "_topdir %s" % topdir, spec_path])
    return os.path.join(topdir, "RPMS", "noarch", "fleetlab-release-12-1.noarch.rpm")


def updateinfo_xml(versions):
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<updates>"]
    for v in versions:
        a = v.advisory
        if a is None:
            continue
        refs = "".join(
            '      <reference href=%s id=%s type="cve" title=%s/>\n'
            % (quoteattr("https://www.cve.org/CVERecord?id=" + c), quoteattr(c), quoteattr(c))
            for c in a.cves)
        out.append("""  <update from="lab@example.invalid" status="stable" type="{kind}" version="1">
    <id>{id}</id>
    <title>{title}</title>
    <severity>{severity}</severity>
    <release>fleetpatch lab</release>
    <issued date="{issued}"/>
    <updated date="{issued}"/>
    <summary>{title}</summary>
    <description>{description}</description>
    <references>
{refs}    </references>
    <pkglist>
      <collection short="fleetlab">
        <name>fleetpatch lab</name>
        <package name="{name}" version="{version}" release="{release}" epoch="{epoch}" arch="noarch" src="{name}-{version}-{release}.src.rpm">
          <filename>{name}-{version}-{release}.noarch.rpm</filename>
          <reboot_suggested>{reboot}</reboot_suggested>
        </package>
      </collection>
    </pkglist>
  </update>""".format(kind=a.kind, id=escape(a.id), title=escape(a.title), severity=escape(a.severity),
                      issued=a.issued, description=escape(v.description), refs=refs, name=v.package,
                      version=v.version, release=v.release, epoch=v.epoch,
                      reboot="True" if a.reboot_suggested else "False"))
    out.append("</updates>")
    return "\n".join(out) + "\n"


def build_repository(versions, dest):
    """Write dest (an RPM repository: the packages, repodata, updateinfo)."""
    topdir = tempfile.mkdtemp(prefix="fleetlab-rpm-")
    try:
        os.makedirs(dest, exist_ok=True)
        shutil.copy2(build_release_rpm(topdir), dest)
        for v in versions:
            shutil.copy2(build_rpm(v, topdir), dest)
        run(["createrepo_c", "--quiet", dest])
        info = os.path.join(topdir, "updateinfo.xml")
        with open(info, "w") as f:
            f.write(updateinfo_xml(versions))
        run(["modifyrepo_c", "--mdtype=updateinfo", info, os.path.join(dest, "repodata")])
    finally:
        shutil.rmtree(topdir)


def repo_file(base_url, keep_packages=False):
    """The repository definition for dnf (/etc/yum.repos.d) and zypper (/etc/zypp/repos.d).
    keep_packages: zypper's per-repository keeppackages (dnf's keepcache is in dnf.conf)."""
    return ("[fleetlab]\nname=fleetpatch lab\nbaseurl=%s/rpm\nenabled=1\ngpgcheck=0\n"
            "metadata_expire=0\nautorefresh=1\ntype=rpm-md\n%s" % (base_url, "keeppackages=1\n" if keep_packages else ""))
