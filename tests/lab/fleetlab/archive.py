"""Real-archive hosts: lab hosts fed by the real Debian archive instead of the lab's repositories.

The lab's own packages are synthetic, which is right for staging waves and wrong for proving that
patch_facts tells the truth about what real fleets run. A real-archive host is an overlay clone of
the same base (the `bookworm` point release, main), with the machine's Debian mirror for
bookworm, bookworm-updates, bookworm-security and bookworm-backports, and what real hosts have
that the lab hosts lack:

- real pending updates, security ones among them, and Multi-Arch: same libraries (libssl3, ...);
- a foreign architecture (i386) with a Multi-Arch: same library installed for it;
- a package pinned to bookworm-backports, a held package, a package in dpkg's rc state
  (removed, configuration kept) and a local .deb that no repository offers.

The archive moves: nothing here writes a version down. Tests compare patch_facts with apt on the
host, live. These hosts are outside every ring and in their own inventory
(config.ARCHIVE_INVENTORY), so rollouts and their tests never touch them.
"""
import glob
import os

from .rootfs import mirror

SUITE = "bookworm"
POCKETS = ("bookworm", "bookworm-updates", "bookworm-backports")
FOREIGN_ARCH = "i386"
FOREIGN_LIBRARY = "zlib1g"          # small, Multi-Arch: same, pulls libc6:i386
# Installed packages that bookworm-backports has offered newer versions of; the first one it
# still offers is pinned there (990), as operators pin a backported tool.
BACKPORTS_CANDIDATES = ("curl", "libcurl4", "iproute2", "sudo", "systemd", "openssh-client")
LOCAL_PACKAGE = "fleetlab-local-tool"
RC_PACKAGE = "fleetlab-removed-tool"


def security_mirror():
    """The security archive this machine uses (deb.debian.org/debian-security by default)."""
    if os.environ.get("FLEETLAB_SECURITY_MIRROR"):
        return os.environ["FLEETLAB_SECURITY_MIRROR"]
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")) + ["/etc/apt/sources.list"]:
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f:
                words = line.split()
                if "security" in line and words[:1] in (["URIs:"], ["deb"]):
                    return [w for w in words[1:] if not w.startswith("[")][0]
    return "http://deb.debian.org/debian-security"


def sources_list():
    """Signed sources (the base has debian-archive-keyring), main only, as a stock host has."""
    lines = ["deb %s %s main\n" % (mirror(), pocket) for pocket in POCKETS]
    lines.append("deb %s %s-security main\n" % (security_mirror(), SUITE))
    return "".join(lines)


def _deb_script(name, version, conffile=None):
    """Shell lines that build a tiny .deb named name in /tmp/fleetlab-debs (inside the host)."""
    lines = [
        "d=/tmp/fleetlab-debs/%s" % name,
        'mkdir -p "$d/DEBIAN" "$d/usr/share/doc/%s"' % name,
        'printf "Package: %s\\nVersion: %s\\nArchitecture: all\\nMaintainer: fleetpatch lab '
        '<lab@example.invalid>\\nDescription: real-archive host fixture\\n" > "$d/DEBIAN/control"' % (name, version),
        'echo "%s" > "$d/usr/share/doc/%s/README"' % (name, name),
    ]
    if conffile:
        lines += ['mkdir -p "$d/etc"', 'echo "setting=1" > "$d%s"' % conffile,
                  'echo "%s" > "$d/DEBIAN/conffiles"' % conffile]
    lines.append('dpkg-deb --root-owner-group --build "$d" /tmp/fleetlab-debs/%s.deb >/dev/null' % name)
    return lines


def provision_script():
    """What `lab up` runs once on a real-archive host (as root, with sh -eu)."""
    candidates = " ".join(BACKPORTS_CANDIDATES)
    lines = [
        "export DEBIAN_FRONTEND=noninteractive",
        "dpkg --add-architecture %s" % FOREIGN_ARCH,
        # A mirror that serves a stale index for the foreign architecture (seen here: the
        # security archive's i386 Packages.xz, "File has unexpected size") fails every later
        # refresh; keep that pocket to the native architecture then, and say so.
        "if ! apt-get -q update; then",
        "  native=$(dpkg --print-architecture)",
        "  sed -i \"s|^deb \\(http[^ ]*security\\)|deb [arch=$native] \\1|\" /etc/apt/sources.list.d/debian.list",
        "  echo 'lab: the security pocket is kept to the native architecture (a stale foreign index)' >&2",
        "  apt-get -q update",
        "fi",
        "apt-get -q -y install %s:%s" % (FOREIGN_LIBRARY, FOREIGN_ARCH),
        # pin the first installed package that backports offers
        "pinned=",
        "for p in %s; do" % candidates,
        "  if dpkg-query -W -f '${Status}' \"$p\" 2>/dev/null | grep -q 'ok installed' && "
        "apt-cache madison \"$p\" | grep -q bookworm-backports; then pinned=$p; break; fi",
        "done",
        'if [ -n "$pinned" ]; then',
        '  printf "Package: %s\\nPin: release n=bookworm-backports\\nPin-Priority: 990\\n" "$pinned" '
        "> /etc/apt/preferences.d/fleetlab-backports",
        "fi",
        "rm -rf /tmp/fleetlab-debs && mkdir -p /tmp/fleetlab-debs",
    ]
    lines += _deb_script(LOCAL_PACKAGE, "1.0-1")
    lines += _deb_script(RC_PACKAGE, "1.0-1", conffile="/etc/%s.conf" % RC_PACKAGE)
    lines += [
        "dpkg -i /tmp/fleetlab-debs/%s.deb /tmp/fleetlab-debs/%s.deb >/dev/null" % (LOCAL_PACKAGE, RC_PACKAGE),
        "dpkg --remove %s >/dev/null" % RC_PACKAGE,
        # hold a package that has an update (not the pinned one), else sudo
        "held=$(apt list --upgradable 2>/dev/null | sed -n 's|^\\([^/]*\\)/.*|\\1|p' | "
        'grep -v -x -e "${pinned:-none}" | head -n 1)',
        'apt-mark hold "${held:-sudo}" >/dev/null',
        "rm -rf /tmp/fleetlab-debs",
    ]
    return "\n".join(lines) + "\n"
