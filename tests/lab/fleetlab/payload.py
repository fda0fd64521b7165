"""What each lab package contains and does, independent of the package format.

Both builders (debs.py, rpms.py) turn a catalog Version into files plus maintainer-script
snippets from here, so a behaviour (fail the install, break the service, ask for a reboot) is
written once.
"""
from .catalog import SERVICE_PORT

SERVICE_UNIT_PATH = "usr/lib/systemd/system/fp-webapp.service"
ADDRESS_FILE = "/etc/fleetpatch-lab/address"   # written per host by `lab up`

WEBAPP_SERVER = '''#!/usr/bin/python3
"""fp-webapp @VERSION@: answers GET / on the host's lab address, port %(port)d."""
import http.server
import sys

VERSION = "@VERSION@"
BROKEN = @BROKEN@

if BROKEN:
    sys.stderr.write("fp-webapp %%s: cannot parse /etc/fp-webapp.conf (format 2 expected)\\n" %% VERSION)
    sys.exit(1)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("fp-webapp %%s ok\\n" %% VERSION).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


with open("%(address_file)s") as f:
    address = f.read().strip()
http.server.ThreadingHTTPServer((address, %(port)d), Handler).serve_forever()
''' % {"port": SERVICE_PORT, "address_file": ADDRESS_FILE}

SERVICE_UNIT = """[Unit]
Description=fleetpatch lab web application
After=network.target

[Service]
Type=simple
ExecStart=/usr/lib/fleetpatch-lab/fp-webapp-server
Restart=no

[Install]
WantedBy=multi-user.target
"""

# Shell snippets run after install/upgrade. `systemctl` only where systemd runs, so that
# building or installing into a chroot never tries to start anything.
START_SERVICE = """if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable fp-webapp.service >/dev/null 2>&1 || true
  systemctl restart fp-webapp.service || true
fi
"""
STOP_SERVICE = """if [ -d /run/systemd/system ]; then
  systemctl disable --now fp-webapp.service >/dev/null 2>&1 || true
fi
"""
FAIL_INSTALL = """echo "%(name)s %(version)s: schema migration failed: table 'sessions' is locked" >&2
exit 1
"""
# Debian's convention (update-notifier, unattended-upgrades read it).
DEB_REQUEST_REBOOT = """touch /run/reboot-required
echo %(name)s >> /run/reboot-required.pkgs
"""


def files(v):
    """{relative path: (mode, text)} for a catalog Version."""
    evr = v.deb_version
    tree = {
        "usr/share/%s/VERSION" % v.package: (0o644, "%s %s\n" % (v.package, evr)),
        "usr/bin/%s" % v.package: (0o755, '#!/bin/sh\necho "%s %s"\n' % (v.package, evr)),
    }
    if v.ships_service:
        server = WEBAPP_SERVER.replace("@VERSION@", evr).replace("@BROKEN@", str(v.breaks_service))
        tree["usr/lib/fleetpatch-lab/fp-webapp-server"] = (0o755, server)
        tree[SERVICE_UNIT_PATH] = (0o644, SERVICE_UNIT)
    if v.requires_reboot:
        # dnf's needs-restarting -r reads package names from this directory.
        tree["etc/dnf/plugins/needs-restarting.d/%s.conf" % v.package] = (0o644, v.package + "\n")
    return tree


# Tests hook into every package's post-install step here, e.g. to make it slow enough to be
# interrupted (tests/integration/test_apply_rollback.py). Absent on a normal lab host.
TEST_HOOK = """if [ -x /etc/fleetpatch-lab/hooks/post-install ]; then
  /etc/fleetpatch-lab/hooks/post-install %(name)s
fi
"""


def after_install_script(v, family):
    """Body of the post-install script (deb postinst configure / rpm %post)."""
    parts = [TEST_HOOK % {"name": v.package}]
    if v.ships_service:
        parts.append(START_SERVICE)
    if v.requires_reboot and family == "deb":
        parts.append(DEB_REQUEST_REBOOT % {"name": v.package})
    if v.fails_install and family == "deb":
        # Debian: a failing postinst leaves the package half-configured, the usual real failure.
        parts.append(FAIL_INSTALL % {"name": v.package, "version": v.deb_version})
    return "".join(parts)


def before_install_script(v, family):
    """Body of the pre-install script. RPM ignores a failing %post, so fail in %pre there."""
    if v.fails_install and family == "rpm":
        return FAIL_INSTALL % {"name": v.package, "version": v.rpm_evr}
    return ""


def before_remove_script(v):
    return STOP_SERVICE if v.ships_service else ""
