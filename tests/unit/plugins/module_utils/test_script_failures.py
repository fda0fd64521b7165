"""Which maintainer script failed, and what it said: from the output apt, dnf and zypper printed on
the lab's hosts when fp-db 1.1-1's script failed (captured with patch_apply names=fp-db in the
broken wave; fixtures/script-failures/HOST.stdout|stderr; dpkg's carriage returns stored as
newlines, which is how splitlines() reads them anyway). Issue 14: the reason recorded was each
package manager's last line ("E: Sub-process /usr/bin/dpkg returned an error code (1)",
"Error: Transaction failed", "Please see the above error message for a hint.")."""
import os

import pytest
from ansible_collections.fleetpatch.patching.plugins.module_utils import _script_failures
from replay import FIXTURES

SAID = "fp-db 1.1-1: schema migration failed: table 'sessions' is locked"


def captured(host):
    base = os.path.join(FIXTURES, "script-failures", host)
    with open(base + ".stdout") as out, open(base + ".stderr") as err:
        return out.read(), err.read()


@pytest.mark.parametrize("host, script", [
    ("lab-apt1", "post-install"),      # Debian: a failing postinst, the package left half-configured
    ("lab-dnf1", "pre-install"),       # RPM ignores a failing %post, so the lab fails %pre
    ("lab-zypper1", "pre-install"),
])
def test_the_failing_script_and_its_words_are_found(host, script):
    failures = _script_failures.explain(*captured(host))
    assert [(f["package"], f["version"], f["script"], f["status"], f["output"]) for f in failures] == [
        ("fp-db", "1.1-1", script, "exit 1", SAID)]
    assert _script_failures.summary(failures) == "fp-db 1.1-1 %s script failed (exit 1): %s" % (script, SAID)


def test_output_without_a_failed_script_explains_nothing():
    assert _script_failures.explain("E: Unable to locate package nosuch\n", "") == []
    assert _script_failures.explain("", "Error: Unable to find a match: nosuch\n") == []


def test_a_script_that_said_nothing_and_a_nonzero_epoch():
    err = "error: %post(tzdata-2:2025b-1.el9.noarch) scriptlet failed, signal 9\n"
    assert _script_failures.explain("", err) == [{
        "package": "tzdata", "version": "2:2025b-1.el9", "manager": "rpm", "script": "post-install",
        "status": "signal 9", "output": None}]
    assert _script_failures.summary(_script_failures.explain("", err)) == \
        "tzdata 2:2025b-1.el9 post-install script failed (signal 9)"


def test_the_version_when_apt_installs_several_packages():
    """Failed in CI before the fix: with several packages apt numbers the archives
    (.../3-fp-db_1.1-1_all.deb), and the version was lost."""
    out = ("Preparing to unpack .../3-fp-db_1.1-1_all.deb ...\n"
           "Unpacking fp-db (1.1-1) over (1.0-1) ...\n"
           "Preparing to unpack .../4-fp-clock_1%3a2.5-1_all.deb ...\n"
           "Setting up fp-clock (1:2.5-1) ...\n"
           "Setting up fp-db (1.1-1) ...\n" + SAID + "\n"
           "dpkg: error processing package fp-db (--configure):\n"
           " installed fp-db package post-installation script subprocess returned error exit status 1\n")
    assert _script_failures.summary(_script_failures.explain(out, "")) == \
        "fp-db 1.1-1 post-install script failed (exit 1): " + SAID
    assert _script_failures._dpkg_versions(["Preparing to unpack .../4-fp-clock_1%3a2.5-1_all.deb ..."]) == {
        "fp-clock": "1:2.5-1"}
