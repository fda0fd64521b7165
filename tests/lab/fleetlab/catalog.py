"""The lab's package catalog: every package version the lab repositories can offer, and the
wave that first offers it.

One description drives both the .deb and the .rpm builds, so the apt, dnf and zypper hosts see
the same story. Waves are cumulative: staging wave N publishes every version of waves 0..N,
because a real repository keeps older versions, and rollback needs them.

Wave 0 ("baseline") is what the hosts have installed after `lab up`.
Wave 1 ("security"): a security fix, a bugfix, a reboot-requiring update, an epoch bump and
        an update that pulls in a new dependency. All of it installs and works.
Wave 2 ("regression"): a version that installs cleanly but breaks its service (health check
        fails): what only a health check after patching catches, and a rollback undoes.
Wave 3 ("broken"): adds a version whose install fails (failing maintainer script).
Wave 4 ("fixed"): fixed successors of the broken versions, and a newer security fix, so a
        test can show that a later ring installs the manifest, not what is newest.
"""
from dataclasses import dataclass, field
from typing import Optional, Tuple

WAVES = ("baseline", "security", "regression", "broken", "fixed")


@dataclass(frozen=True)
class Advisory:
    """What the RPM updateinfo says (and the apt pocket implies) about a version."""
    id: str
    kind: str                      # security | bugfix | enhancement
    severity: str = "None"         # Critical | Important | Moderate | Low | None
    title: str = ""
    cves: Tuple[str, ...] = ()
    issued: str = "2025-01-01 00:00:00"
    reboot_suggested: bool = False


@dataclass(frozen=True)
class Version:
    package: str
    version: str                   # upstream version
    release: str                   # Debian revision / RPM release
    wave: int
    epoch: int = 0
    depends: Tuple[str, ...] = ()  # names of lab packages this version requires
    advisory: Optional[Advisory] = None
    # behaviour of the built package
    fails_install: bool = False    # maintainer script exits 1
    breaks_service: bool = False   # the service it ships exits at start (port closed)
    requires_reboot: bool = False  # asks for a reboot the way each OS family does
    ships_service: bool = False    # a systemd service listening on the host's address, port 8080
    description: str = ""
    notes: Tuple[str, ...] = field(default_factory=tuple)

    @property
    def deb_version(self):
        prefix = "%d:" % self.epoch if self.epoch else ""
        return "%s%s-%s" % (prefix, self.version, self.release)

    @property
    def rpm_evr(self):
        prefix = "%d:" % self.epoch if self.epoch else ""
        return "%s%s-%s" % (prefix, self.version, self.release)

    @property
    def security_pocket(self):
        """apt publishes security fixes in the -security suite, as Debian does."""
        return self.advisory is not None and self.advisory.kind == "security"


SERVICE_PORT = 8080

VERSIONS = (
    # --- wave 0: the baseline every host starts from -----------------------------------
    Version("fp-crypto", "1.0", "1", 0, description="TLS helper library (security fixes land here)"),
    Version("fp-tools", "2.0", "1", 0, description="command-line tools (bugfixes land here)"),
    Version("fp-firmware", "1.0", "1", 0, description="firmware blobs (updates need a reboot)"),
    Version("fp-clock", "3.0", "1", 0, description="time sync daemon (re-versioned with an epoch)"),
    Version("fp-agent", "1.0", "1", 0, description="monitoring agent (gains a dependency)"),
    Version("fp-db", "1.0", "1", 0, description="database server (an update fails to install)"),
    Version("fp-webapp", "1.0", "1", 0, ships_service=True,
            description="web application (an update breaks its service)"),

    # --- wave 1: updates that install and work ----------------------------------------
    Version("fp-crypto", "1.0", "2", 1, advisory=Advisory(
        "FPSA-2025:0101", "security", "Critical", "Critical: fp-crypto security update",
        cves=("CVE-2025-10001", "CVE-2025-10002"), issued="2025-03-04 00:00:00"),
        description="TLS helper library, fixes CVE-2025-10001 and CVE-2025-10002"),
    Version("fp-tools", "2.1", "1", 1, advisory=Advisory(
        "FPBA-2025:0102", "bugfix", "None", "fp-tools bug fix update", issued="2025-03-05 00:00:00"),
        description="command-line tools, fixes a crash"),
    Version("fp-firmware", "1.1", "1", 1, requires_reboot=True, advisory=Advisory(
        "FPSA-2025:0103", "security", "Important", "Important: fp-firmware security update",
        cves=("CVE-2025-10003",), issued="2025-03-06 00:00:00", reboot_suggested=True),
        description="firmware blobs, needs a reboot"),
    Version("fp-clock", "2.5", "1", 1, epoch=1, advisory=Advisory(
        "FPEA-2025:0104", "enhancement", "None", "fp-clock enhancement update",
        issued="2025-03-07 00:00:00"),
        description="time sync daemon, upstream re-versioned 3.0 to 2.5, hence epoch 1"),
    Version("fp-agent-plugins", "1.0", "1", 1, description="plugins for fp-agent (new package)"),
    Version("fp-agent", "1.1", "1", 1, depends=("fp-agent-plugins",), advisory=Advisory(
        "FPBA-2025:0105", "bugfix", "None", "fp-agent bug fix update", issued="2025-03-08 00:00:00"),
        description="monitoring agent, now requires fp-agent-plugins"),

    # --- waves 2 and 3: updates that go wrong ---------------------------------------
    Version("fp-db", "1.1", "1", 3, fails_install=True, advisory=Advisory(
        "FPBA-2025:0201", "bugfix", "None", "fp-db bug fix update", issued="2025-04-01 00:00:00"),
        description="database server whose schema migration fails during install"),
    Version("fp-webapp", "1.1", "1", 2, ships_service=True, breaks_service=True, advisory=Advisory(
        "FPSA-2025:0202", "security", "Moderate", "Moderate: fp-webapp security update",
        cves=("CVE-2025-20001",), issued="2025-04-02 00:00:00"),
        description="web application that installs cleanly but no longer starts"),

    # --- wave 4: the fixes, and a newer security update --------------------------------
    Version("fp-db", "1.2", "1", 4, advisory=Advisory(
        "FPBA-2025:0301", "bugfix", "None", "fp-db bug fix update", issued="2025-05-01 00:00:00"),
        description="database server, migration fixed"),
    Version("fp-webapp", "1.2", "1", 4, ships_service=True, advisory=Advisory(
        "FPSA-2025:0302", "security", "Moderate", "Moderate: fp-webapp security update",
        cves=("CVE-2025-20001",), issued="2025-05-02 00:00:00"),
        description="web application, starts again"),
    Version("fp-crypto", "1.0", "3", 4, advisory=Advisory(
        "FPSA-2025:0303", "security", "Important", "Important: fp-crypto security update",
        cves=("CVE-2025-30001",), issued="2025-05-03 00:00:00"),
        description="TLS helper library, fixes CVE-2025-30001"),
)

BASELINE_PACKAGES = tuple(v.package for v in VERSIONS if v.wave == 0)


def wave_number(name_or_number):
    """Accept a wave by name ('security') or number ('1'); raise ValueError naming the choices."""
    text = str(name_or_number)
    if text.isdigit() and int(text) < len(WAVES):
        return int(text)
    if text in WAVES:
        return WAVES.index(text)
    raise ValueError("unknown wave %r: choose one of %s (or 0-%d)"
                     % (text, ", ".join(WAVES), len(WAVES) - 1))


def versions_up_to(wave):
    return [v for v in VERSIONS if v.wave <= wave]


def latest_only(versions):
    """Only the newest version of each package (a package's versions enter in later waves as they
    get newer): what Debian's security archive publishes, and RPM repositories that drop
    superseded updates. `lab stage WAVE --latest-only`: the versions the hosts run are gone."""
    newest = {}
    for version in versions:
        if version.package not in newest or version.wave >= newest[version.package].wave:
            newest[version.package] = version
    return [v for v in versions if newest[v.package] is v]


def baseline():
    return [v for v in VERSIONS if v.wave == 0]
