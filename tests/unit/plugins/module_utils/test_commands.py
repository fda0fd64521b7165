"""CommandRunner's transaction bound, with real processes: a hung maintainer script (a command that
waits on a child that never ends) is stopped whole, and the error names what was still running."""
import time

import pytest
from ansible_collections.fleetpatch.patching.plugins.module_utils import _commands
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError

# A "package manager" whose "maintainer script" hangs, in a session of its own as apt runs dpkg
# (behind a pseudo-terminal): the script's pid is written down first.
HANGING = 'echo "Setting up fp-crypto"; setsid sh -c "echo \\$\\$ > %s; exec sleep 300"; echo never'


def ended(pid, within=5):
    deadline = time.time() + within
    while time.time() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.1)
    return False


def test_a_hung_transaction_is_stopped_whole_and_named(tmp_path):
    marker = tmp_path / "script.pid"
    runner = _commands.CommandRunner(transaction_timeout=2)
    started = time.time()
    with pytest.raises(PatchError) as failure:
        runner.run(["sh", "-c", HANGING % marker], "install with apt", transaction=True)
    message = str(failure.value)
    assert time.time() - started < 20
    assert message.startswith("Failed to install with apt: sh -c echo"), message
    assert "did not finish within 2 seconds (transaction_timeout) and was stopped" in message
    chain = message.split("still running then: ")[1].split(". The package database")[0]
    assert chain.startswith("sh -c echo") and chain.endswith(" > sleep 300"), chain     # the command > the script
    assert "the next run repairs it first" in message
    assert failure.value.fail_kwargs()["stdout"].startswith("Setting up fp-crypto")
    assert ended(int(marker.read_text())), "the hung script outlived the stopped transaction"
    assert runner.history[-1]["rc"] is None


def test_only_transactions_are_bounded_and_zero_means_no_bound():
    runner = _commands.CommandRunner(transaction_timeout=1)
    assert runner.run(["sh", "-c", "sleep 1.5; echo read"], "list apt updates")[1] == "read\n"
    assert runner.run(["sh", "-c", "echo done; exit 0"], "install", transaction=True)[:2] == (0, "done\n")
    with pytest.raises(PatchError, match="exited with rc=3: broken"):
        runner.run(["sh", "-c", "echo broken >&2; exit 3"], "install", transaction=True)
    unbounded = _commands.CommandRunner(transaction_timeout=0)
    assert unbounded.run(["sh", "-c", "sleep 1.5"], "install", transaction=True)[0] == 0


def test_the_environment_is_the_c_locale_in_the_bounded_path_too():
    out = _commands.CommandRunner(transaction_timeout=5).run(["sh", "-c", "echo $LC_ALL $TZ"], "x", transaction=True)[1]
    assert out == "C UTC\n"


def test_the_chain_named_is_the_deepest_not_the_newest_process():
    """zypper starts `systemd-inhibit ... cat` beside rpm; when that cat is younger than the hung
    scriptlet's sleep (its dbus call can take a while), the newest leaf is the helper, and the
    message named the wrong chain (CI, lab-zypper1). Real processes: the helper starts last."""
    script = ('sh -c "sh -c \\"exec sleep 300\\"" & sleep 0.5; '
              'sh -c "exec sleep 301" & wait')
    runner = _commands.CommandRunner(transaction_timeout=2)
    with pytest.raises(PatchError) as caught:
        runner.run(["sh", "-c", script], "install updates", transaction=True)
    hung = str(caught.value).split("still running then: ")[1].split(". The package database")[0]
    assert hung.endswith("> sleep 300"), hung


def test_running_chain_prefers_depth_then_the_newest_leaf():
    table = {10: (1, "zypper install"), 11: (10, "systemd-inhibit --who=zypp cat"), 19: (11, "cat"),
             12: (10, "rpm -U"), 13: (12, "/bin/sh rpm-tmp"), 14: (13, "hook fp-crypto"), 15: (14, "sleep 120")}
    assert _commands.running_chain(10, table=table) == "zypper install > rpm -U > /bin/sh rpm-tmp > hook fp-crypto > sleep 120"
    table[16] = (13, "logger done")     # as deep as the hook: the newer of the two at depth 3
    table[17] = (16, "sleep 5")
    assert _commands.running_chain(10, table=table).endswith("logger done > sleep 5")
    assert _commands.running_chain(99, table=table) == ""
    assert _commands.running_chain(19, table=table) == "cat"
