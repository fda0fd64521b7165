"""Version ordering against dpkg itself and rpm's documented cases."""
import shutil
import subprocess

import pytest
from ansible_collections.fleetpatch.patching.plugins.module_utils._versions import compare_deb, compare_rpm_evr

DEB_PAIRS = [("1.0-1", "1.0-2"), ("1:2.5-1", "3.0-1"), ("1.0~rc1-1", "1.0-1"), ("1.0a-1", "1.0-1"),
             ("2.0-10", "2.0-9"), ("1.0+b1", "1.0"), ("3.0.15-1~deb12u1", "3.0.16-1~deb12u1"), ("1.0", "1.0"),
             ("0.9.8zh-1", "0.9.8-1"), ("2:1.0", "1:9.9")]


@pytest.mark.skipif(not shutil.which("dpkg"), reason="needs dpkg to compare against")
@pytest.mark.parametrize("a, b", DEB_PAIRS)
def test_deb_order_matches_dpkg(a, b):
    def dpkg(op):
        return subprocess.run(["dpkg", "--compare-versions", a, op, b], check=False).returncode == 0
    expected = -1 if dpkg("lt") else (0 if dpkg("eq") else 1)
    assert compare_deb(a, b) == expected


@pytest.mark.parametrize("a, b, expected", [
    ("1.0-1", "1.0-2", -1), ("1:2.5-1", "3.0-1", 1), ("1.0~rc1-1", "1.0-1", -1), ("1.0^git1-1", "1.0-1", 1),
    ("1.0a-1", "1.0.1-1", -1), ("5.14.0-427.el9", "5.14.0-70.el9", 1), ("1.0-1", "1.0-1", 0), ("2.0", "2.0.0", -1),
])
def test_rpm_order(a, b, expected):
    assert compare_rpm_evr(a, b) == expected
