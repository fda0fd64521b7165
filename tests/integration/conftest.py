"""Fixtures for the integration tests: they run against the real lab (tests/lab), which
`make integration` brings up first. Every test module that changes hosts starts from a reset
lab, so modules do not depend on each other's leftovers."""
import datetime
import json
import os
import signal
import subprocess
import sys
import time

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(REPO_ROOT, "tests", "lab", "lab")
PLAYBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks")
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "lab"))

from fleetlab import config, hosts as lab_hosts  # noqa: E402


def run_lab(*args, check=True):
    proc = subprocess.run([LAB] + list(args), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900,
                          check=False)
    if check and proc.returncode != 0:
        raise AssertionError("lab %s failed (rc=%d):\n%s%s" % (" ".join(args), proc.returncode, proc.stdout, proc.stderr))
    return proc


@pytest.fixture(autouse=True)
def blocking_standard_streams():
    """Every test starts with blocking stdin, stdout and stderr. A child that shared them and was
    killed (ssh sets its stdin non-blocking while it runs) leaves them non-blocking for the whole
    process, and every later ansible-playbook refuses to start ("requires blocking IO"). Children
    get a stdin of their own; this heals what got through anyway."""
    for fd in (0, 1, 2):
        try:
            if not os.get_blocking(fd):
                os.set_blocking(fd, True)
        except OSError:
            pass
    yield


@pytest.fixture(scope="session")
def lab_up():
    run_lab("up")
    return config.INVENTORY


@pytest.fixture(scope="module")
def fresh_lab(lab_up):
    """A lab whose hosts are back at the baseline, with the baseline wave staged."""
    run_lab("reset")
    yield config.INVENTORY
    run_lab("stage", "baseline")


@pytest.fixture(scope="session")
def fleet():
    return {h.name: h for h in config.fleet()}


def on_host(host, *argv, check=True):
    """Run a command on a lab host over SSH (independent of Ansible, to check its work)."""
    return lab_hosts.ssh(host, list(argv), check=check)


def first_host(fleet, manager):
    return next(h for h in fleet.values() if h.pkg_mgr == manager)


# SSH pipelining (one SSH round trip per task instead of three): a check-mode rollout of the test
# ring took 33-42 s with it against 37-52 s without, alternated on the lab. The lab tests run with
# it (every ansible-playbook and ansible-runner they start inherits it); Molecule and `make demo`
# keep ansible-core's default (off), so both paths stay exercised.
os.environ.setdefault("ANSIBLE_PIPELINING", "True")


class TaskTimes:
    """Wall time per task name over every playbook the tests run (from the json callback's task
    durations), printed at the end of the session: where lab time goes, task by task, so CI time
    is cut where it is spent (the 50-minute budget)."""

    def __init__(self):
        self.seconds = {}
        self.runs = {}

    def add(self, output):
        for play in output.get("plays") or ():
            for task in play.get("tasks") or ():
                duration = task.get("task", {}).get("duration") or {}
                try:
                    spent = (datetime.datetime.fromisoformat(duration["end"].replace("Z", "+00:00"))
                             - datetime.datetime.fromisoformat(duration["start"].replace("Z", "+00:00")))
                except (KeyError, TypeError, ValueError):
                    continue
                name = task["task"].get("name") or "(unnamed)"
                self.seconds[name] = self.seconds.get(name, 0.0) + spent.total_seconds()
                self.runs[name] = self.runs.get(name, 0) + 1

    def lines(self, count=25):
        slowest = sorted(self.seconds.items(), key=lambda item: -item[1])[:count]
        return ["%8.1fs %4d x  %s" % (seconds, self.runs[name], name) for name, seconds in slowest]


TASK_TIMES = TaskTimes()


def pytest_terminal_summary(terminalreporter):
    if TASK_TIMES.seconds:
        terminalreporter.write_sep("=", "slowest Ansible tasks over every playbook run (wall time, runs)")
        for line in TASK_TIMES.lines():
            terminalreporter.write_line(line)


def ansible_playbook(playbook, inventory, limit=None, extra_vars=None, check=True, extra_args=(), env=None):
    """Run a playbook (a name in playbooks/ or a path) with the json callback; return
    (rc, parsed output). check=True asserts it succeeded. env: extra environment variables."""
    argv = ["ansible-playbook", "-i", inventory, os.path.join(PLAYBOOKS, playbook)] + list(extra_args)
    if limit:
        argv += ["--limit", limit]
    if extra_vars:
        argv += ["--extra-vars", json.dumps(extra_vars)]
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_NOCOLOR="1", **(env or {}))
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=900,
                          check=False)
    try:
        output = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("ansible-playbook printed no JSON (rc=%d):\n%s\n%s"
                             % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    TASK_TIMES.add(output)
    if check and proc.returncode != 0:
        raise AssertionError("ansible-playbook %s failed (rc=%d): %s"
                             % (playbook, proc.returncode, json.dumps(output.get("stats"), indent=1)
                                + proc.stderr[-3000:]))
    return proc.returncode, output


def sigterm_when(argv, env, marker, delay):
    """Run argv (an ansible-playbook) and send it SIGTERM, what an AWX cancel sends, delay seconds
    after its output shows marker. Returns (rc, the output seen); fails if marker never came."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            stdin=subprocess.DEVNULL)
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if marker in line:
                time.sleep(delay)
                proc.send_signal(signal.SIGTERM)
                break
        proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert any(marker in line for line in seen), "never reached %r:\n%s" % (marker, "".join(seen[-30:]))
    return proc.returncode, "".join(seen)


def task_results(output, task_name):
    """{host: result} for the task named task_name in a json-callback run."""
    for play in output["plays"]:
        for task in play["tasks"]:
            name = task["task"]["name"]
            if name == task_name or name.endswith(" : " + task_name):   # role tasks: "role : name"
                return task["hosts"]
    raise AssertionError("no task named %r in the run" % task_name)
