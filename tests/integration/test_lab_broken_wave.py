"""Wave 2 goes wrong on purpose: fp-db's install fails in a maintainer script, fp-webapp
installs cleanly but its service no longer starts. Rollback and health checks are proved on it."""
import socket

import pytest
from conftest import first_host, on_host, run_lab

INSTALL = {
    "apt": ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-q", "-y", "install"],
    "dnf": ["dnf", "-q", "-y", "upgrade"],
    "zypper": ["zypper", "--non-interactive", "update"],
}

# dnf keeps scriptlet output in its rpm log and names the failing scriptlet instead.
FAILURE_MESSAGE = {
    "apt": "schema migration failed",
    "dnf": "Error in PREIN scriptlet in rpm package fp-db",
    "zypper": "schema migration failed",
}


@pytest.fixture(scope="module")
def broken_wave(fresh_lab, fleet):
    run_lab("stage", "broken")
    hosts = {m: first_host(fleet, m) for m in ("apt", "dnf", "zypper")}
    on_host(hosts["apt"], "apt-get", "-qq", "update")
    on_host(hosts["zypper"], "zypper", "--non-interactive", "--quiet", "refresh")
    return hosts


def port_open(address, port=8080):
    try:
        socket.create_connection((address, port), timeout=2).close()
        return True
    except OSError:
        return False


@pytest.mark.parametrize("manager", ["apt", "dnf", "zypper"])
def test_service_breaking_update_installs_but_closes_the_port(broken_wave, manager):
    host = broken_wave[manager]
    assert port_open(host.address), "fp-webapp 1.0 should be serving before the update"
    on_host(host, *(INSTALL[manager] + ["fp-webapp"]))
    assert on_host(host, "fp-webapp", check=True).stdout.strip() == "fp-webapp 1.1-1"
    on_host(host, "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do "
            "systemctl is-failed --quiet fp-webapp && exit 0; sleep 0.3; done; exit 1")
    assert not port_open(host.address)


# Runs last: on apt the half-configured fp-db makes every later apt-get run fail too.
@pytest.mark.parametrize("manager", ["apt", "dnf", "zypper"])
def test_failing_install_fails_with_the_scripts_message(broken_wave, manager):
    host = broken_wave[manager]
    result = on_host(host, *(INSTALL[manager] + ["fp-db"]), check=False)
    assert result.returncode != 0, result.stdout
    assert FAILURE_MESSAGE[manager] in result.stdout + result.stderr
