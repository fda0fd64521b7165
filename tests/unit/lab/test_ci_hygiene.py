"""What CI and the test toolchain do to the machine they run on (issue 14, items 7 and 9).

- tests/lab/install-deps waits for the apt and dpkg locks that unattended-upgrades holds on a fresh
  cloud machine, and leaves no PostgreSQL running that its installation started;
- tests/tools/stop-postgres stops the server tests/tools/start-postgres started, and no other;
- no script that runs apt-get on the controller does so without a lock timeout.

install-deps and stop-postgres run for real here, against stand-ins for apt-get, dpkg-query and
PostgreSQL's cluster tools put first on PATH.
"""
import os
import re
import stat
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
INSTALL_DEPS = os.path.join(REPO, "tests", "lab", "install-deps")
STOP_POSTGRES = os.path.join(REPO, "tests", "tools", "stop-postgres")
LOCK_HELD = "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 812 (apt-get)"


def write_tool(bin_dir, name, body):
    path = bin_dir / name
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def machine(tmp_path):
    """A fake Debian machine: nothing installed; apt-get logs each call and, for `update`, fails
    on a held lists lock as many times as the file locked-updates says; pg_lsclusters shows the
    clusters listed in the file clusters (the install adds the one postgresql's postinst starts)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "locked-updates").write_text("0")
    (tmp_path / "clusters").write_text("")
    write_tool(bin_dir, "dpkg-query", "exit 1\n")
    write_tool(bin_dir, "apt-get", """
state=%(state)s
printf '%%s\\n' "$*" >>"$state/apt-get.log"
case " $* " in
  *" update "*)
    if [ -n "${FAKE_UPDATE_ERROR:-}" ]; then echo "$FAKE_UPDATE_ERROR" >&2; exit 100; fi
    left=$(cat "$state/locked-updates")
    if [ "$left" -gt 0 ]; then
      echo $((left - 1)) >"$state/locked-updates"
      echo "%(lock)s" >&2; echo "E: Unable to lock directory /var/lib/apt/lists/" >&2; exit 100
    fi ;;
  *" install "*)
    echo "15 main 5432 online postgres /var/lib/postgresql/15/main /var/log/postgresql/postgresql-15-main.log" >>"$state/clusters" ;;
esac
""" % {"state": tmp_path, "lock": LOCK_HELD})
    write_tool(bin_dir, "pg_lsclusters", 'cat "%s/clusters"\n' % tmp_path)
    write_tool(bin_dir, "pg_ctlcluster", 'printf "%%s\\n" "$*" >>"%s/pg_ctlcluster.log"\n' % tmp_path)
    env = dict(os.environ, PATH="%s:%s" % (bin_dir, os.environ["PATH"]), FLEETPATCH_APT_LOCK_POLL="0")
    env.pop("FLEETPATCH_APT_LOCK_TIMEOUT", None)
    return tmp_path, env


def calls(path):
    return path.read_text().splitlines() if path.exists() else []


def test_install_deps_waits_for_the_lists_lock_and_every_apt_get_waits_for_the_dpkg_lock(machine):
    state, env = machine
    (state / "locked-updates").write_text("2")
    proc = subprocess.run(["bash", INSTALL_DEPS], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    apt = calls(state / "apt-get.log")
    assert [c.split()[2] for c in apt] == ["update", "update", "update", "install"]
    assert all(c.startswith("-o DPkg::Lock::Timeout=600 ") for c in apt), apt
    assert proc.stderr.count("lists lock is held") == 2
    assert "make git ca-certificates" in apt[-1] and "postgresql" in apt[-1]


def test_install_deps_gives_up_when_the_lock_outlasts_the_timeout(machine):
    state, env = machine
    (state / "locked-updates").write_text("1000")
    env["FLEETPATCH_APT_LOCK_TIMEOUT"] = "0"
    proc = subprocess.run(["bash", INSTALL_DEPS], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    assert LOCK_HELD in proc.stderr
    assert not any(" install " in c for c in calls(state / "apt-get.log"))


def test_install_deps_does_not_retry_what_is_not_a_lock(machine):
    state, env = machine
    env["FAKE_UPDATE_ERROR"] = "E: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease"
    proc = subprocess.run(["bash", INSTALL_DEPS], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode != 0 and "Failed to fetch" in proc.stderr
    assert len(calls(state / "apt-get.log")) == 1


def test_install_deps_stops_the_postgresql_its_install_started_and_only_that(machine):
    state, env = machine
    proc = subprocess.run(["bash", INSTALL_DEPS], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert calls(state / "pg_ctlcluster.log") == ["15 main stop"]

    (state / "apt-get.log").unlink()
    (state / "pg_ctlcluster.log").unlink()
    (state / "clusters").write_text("15 main 5432 online postgres /var/lib/postgresql/15/main x\n")
    proc = subprocess.run(["bash", INSTALL_DEPS], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert calls(state / "pg_ctlcluster.log") == []        # it was running before: someone's server


@pytest.mark.parametrize("status, marker, stopped", [
    ("online", True, True),        # started by start-postgres: stopped
    ("down", True, False),         # already stopped: nothing to do, marker cleared
    ("online", False, False),      # not started by start-postgres: left running
])
def test_stop_postgres_stops_only_what_start_postgres_started(machine, status, marker, stopped):
    state, env = machine
    (state / "clusters").write_text("15 main 5432 %s postgres /var/lib/postgresql/15/main x\n" % status)
    env["FLEETPATCH_TEST_POSTGRES_MARKER"] = str(state / "started")
    if marker:
        (state / "started").write_text("15 main\n")
    proc = subprocess.run([STOP_POSTGRES], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert calls(state / "pg_ctlcluster.log") == (["15 main stop"] if stopped else [])
    assert not (state / "started").exists()


def controller_scripts():
    """.ci/run and every shell script under tests/ (by its shebang), outside the lab's state."""
    found = [os.path.join(REPO, ".ci", "run")]
    for root, dirs, files in os.walk(os.path.join(REPO, "tests")):
        dirs[:] = [d for d in dirs if d not in (".state", "__pycache__", "fixtures", "stub_collections")]
        for name in files:
            path = os.path.join(root, name)
            try:
                with open(path, "rb") as handle:
                    first = handle.readline()
            except OSError:
                continue
            if re.match(rb"#!.*\b(ba)?sh\b", first):
                found.append(path)
    return found


def test_every_apt_get_on_the_controller_waits_for_the_lock():
    unguarded = []
    for path in controller_scripts():
        with open(path) as handle:
            for number, line in enumerate(handle, 1):
                code = re.sub(r'"[^"]*"', '""', line.split("#", 1)[0] if line.lstrip().startswith("#") else line)
                if re.search(r"(^|[\s;|&(])apt-get\s", code) and "DPkg::Lock::Timeout" not in line:
                    unguarded.append("%s:%d: %s" % (os.path.relpath(path, REPO), number, line.strip()))
    assert "tests/lab/install-deps" in {os.path.relpath(p, REPO) for p in controller_scripts()}
    assert not unguarded, "apt-get without -o DPkg::Lock::Timeout:\n" + "\n".join(unguarded)
