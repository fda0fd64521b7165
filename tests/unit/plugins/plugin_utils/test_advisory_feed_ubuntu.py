"""The advisory feed for Ubuntu hosts: the USN database and Ubuntu's OVAL priorities
(fixtures/advisory_feed_ubuntu, hand-written in the published formats, see its README), through the
index, cache and join Debian's data uses. Ubuntu is tested on these fixtures only: the lab has no
Ubuntu host (docs/assessment.md)."""
import bz2
import json
import os

import jsonschema
import pytest

from ansible_collections.fleetpatch.patching.plugins.action.patch_facts import ActionModule
from ansible_collections.fleetpatch.patching.plugins.module_utils import _apply, _vocabulary
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._advisory import feed as _advisory_feed
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._advisory import ubuntu
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._advisory.index import FeedError
from test_advisory_feed import record as debian_record

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures", "advisory_feed_ubuntu")
REPO = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
SCHEMA = json.load(open(os.path.join(REPO, "docs", "schemas", "host_patch_record.schema.json")))
OVALS = ("com.ubuntu.jammy.usn.oval.xml", "com.ubuntu.noble.cve.oval.xml")


def read(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


@pytest.fixture(name="index")
def fixture_index():
    return ubuntu.build_index(read("database.json"), [(name, read(name)) for name in OVALS])


def test_several_usns_and_cves_between_installed_and_available(index):
    found = index.lookup("openssl", "jammy", "3.0.2-0ubuntu1.13", "3.0.2-0ubuntu1.16")
    assert found == {"advisories": ["USN-6560-1", "USN-6560-2", "USN-6790-1"],
                     "cves": ["CVE-2024-0727", "CVE-2024-2511", "CVE-2024-4603"],   # no Launchpad bug URL
                     "issued": "2024-05-16",          # the newest USN's timestamp, as a UTC date
                     "severity": "important"}         # CVE-2024-2511: priority high


def test_a_cve_fixed_in_two_steps_counts_for_the_second_step(index):
    found = index.lookup("openssl", "jammy", "3.0.2-0ubuntu1.14", "3.0.2-0ubuntu1.15")
    assert found == {"advisories": ["USN-6560-2"], "cves": ["CVE-2024-0727"], "issued": "2024-02-06",
                     "severity": "low"}


def test_a_version_between_two_usns_gets_only_the_older_ones(index):
    found = index.lookup("openssl", "jammy", "3.0.2-0ubuntu1.13", "3.0.2-0ubuntu1.15")
    assert found["advisories"] == ["USN-6560-1", "USN-6560-2"]
    assert "CVE-2024-4603" not in found["cves"]


def test_an_update_that_already_has_every_fix_gets_nothing(index):
    assert index.lookup("openssl", "jammy", "3.0.2-0ubuntu1.16", "3.0.2-0ubuntu1.17") is None


def test_epochs_are_compared_as_dpkg_does(index):
    # 9.18.18-0ubuntu0.22.04.2 without the epoch would be older than the installed 1:9.18.12
    found = index.lookup("bind9", "jammy", "1:9.18.12-0ubuntu0.22.04.1", "1:9.18.18-0ubuntu0.22.04.2")
    assert found["cves"] == ["CVE-2023-4408", "CVE-2023-50387"] and found["severity"] == "critical"
    assert index.lookup("bind9", "jammy", "1:9.18.18-0ubuntu0.22.04.2", "1:9.18.24-0ubuntu0.22.04.1") is None


def test_releases_stay_apart_and_the_cve_oval_rates_its_release(index):
    found = index.lookup("openssl", "noble", "3.0.13-0ubuntu3", "3.0.13-0ubuntu3.1")
    # noble's rating comes from noble's CVE OVAL (CVE-2024-0727 low; CVE-2024-2511 unrated there),
    # not from jammy's USN OVAL, where CVE-2024-2511 is high
    assert found == {"advisories": ["USN-6560-1"], "cves": ["CVE-2024-0727", "CVE-2024-2511"],
                     "issued": "2024-02-01", "severity": "low"}


def test_without_oval_data_a_usn_is_security_of_unknown_severity():
    found = ubuntu.build_index(read("database.json"), []).lookup(
        "openssl", "jammy", "3.0.2-0ubuntu1.13", "3.0.2-0ubuntu1.14")
    assert found["advisories"] == ["USN-6560-1"] and found["severity"] == "unknown"


@pytest.mark.parametrize("priority,severity", [
    ("critical", "critical"), ("high", "important"), ("medium", "moderate"), ("low", "low"),
    ("negligible", "low"), ("High", "important"), ("untriaged", "unknown"), ("", "unknown"), (None, "unknown")])
def test_severity_mapping(priority, severity):
    assert ubuntu.severity_of(priority) == severity
    assert severity in _vocabulary.SEVERITIES


def test_oval_priorities_per_release_and_cve():
    jammy = ubuntu.parse_oval(read(OVALS[0]), OVALS[0])
    assert jammy == {("jammy", "CVE-2024-0727"): "low", ("jammy", "CVE-2024-2511"): "high",
                     ("jammy", "CVE-2024-4603"): "negligible", ("jammy", "CVE-2023-4408"): "medium",
                     ("jammy", "CVE-2023-50387"): "critical", ("jammy", "CVE-2024-52046"): "high"}
    assert ubuntu.parse_oval(read(OVALS[1]), OVALS[1]) == {("noble", "CVE-2024-0727"): "low"}


def test_a_cve_rated_twice_takes_the_higher_rating():
    lower = read(OVALS[0]).replace('priority="high" public="20240408"', 'priority="low" public="20240408"')
    index = ubuntu.build_index(read("database.json"), [("a", lower), ("b", read(OVALS[0]))])
    assert index.lookup("openssl", "jammy", "3.0.2-0ubuntu1.13", "3.0.2-0ubuntu1.14")["severity"] == "important"


# --- bad data: unknown or a warning, never a wrong "security" ---------------------------------

def test_a_usn_without_releases_a_bad_version_and_esm_fix_nothing(index):
    assert index.counts == {"without_releases": 1, "unusable": 1, "esm": 1}
    assert ("curl", "jammy") not in index.advisories                  # 6901-1: no release
    assert ("zlib", "jammy") not in index.advisories                  # 6902-1: "... (broken)"
    assert index.lookup("zlib", "jammy", "1:1.2.11.dfsg-2ubuntu9.2", "1:1.2.11.dfsg-2ubuntu9.3") is None
    assert index.lookup("mina2", "jammy", "2.1.5-1", "2.1.5-1ubuntu0.1~esm1") is None      # ESM: off
    esm = ubuntu.build_index(read("database.json"), [(OVALS[0], read(OVALS[0]))], esm=True)
    assert esm.lookup("mina2", "jammy", "2.1.5-1", "2.1.5-1ubuntu0.1~esm1")["severity"] == "important"


def test_a_host_version_that_does_not_parse_matches_nothing(index):
    assert index.lookup("openssl", "jammy", "3.0.2 0ubuntu1.13", "3.0.2-0ubuntu1.16") is None
    assert index.lookup("openssl", "jammy", "3.0.2-0ubuntu1.13", "") is None


@pytest.mark.parametrize("text", ['{"6560-1": ', "[1, 2]", '{"6560-1": 1}', '{"6560-1": {"releases": "jammy"}}'])
def test_a_database_that_does_not_parse_is_refused(text):
    with pytest.raises(FeedError):
        ubuntu.parse_usn_db(text)


@pytest.mark.parametrize("text,message", [
    ("<oval_definitions><definitions>", "does not parse as XML"),
    ("<html><body>Service unavailable</body></html>", "not an OVAL definitions document"),
    ('<!DOCTYPE x [<!ENTITY a "b">]><oval_definitions/>', "DTD")])
def test_an_oval_file_that_does_not_parse_is_refused(text, message):
    with pytest.raises(FeedError, match=message):
        ubuntu.parse_oval(text, "oval")


# --- loading, the cache, the join --------------------------------------------------------------

def feed_files(tmp_path, database=None, compress=False):
    data = (read("database.json") if database is None else database).encode("utf-8")
    path = tmp_path / ("database.json.bz2" if compress else "database.json")
    path.write_bytes(bz2.compress(data) if compress else data)
    ovals = []
    for name in OVALS:
        (tmp_path / name).write_text(read(name))
        ovals.append(str(tmp_path / name))
    return {"ubuntu_usn": str(path), "ubuntu_oval": ovals, "ubuntu_esm": False, "debian_advisories": [],
            "max_age": 3600, "timeout": 5, "cache_dir": str(tmp_path / "cache"), "required": False}


def record(updates, codename="jammy", distribution="Ubuntu"):
    return debian_record([dict(u, repository="Ubuntu:jammy-security/main") for u in updates], codename,
                         distribution=distribution, version="22.04")


LIBSSL = {"installed_version": "3.0.2-0ubuntu1.13", "available_version": "3.0.2-0ubuntu1.16",
          "source_package": "openssl", "installed_source_version": "3.0.2-0ubuntu1.13",
          "source_version": "3.0.2-0ubuntu1.16"}
ZLIB = {"name": "zlib1g", "installed_version": "1:1.2.11.dfsg-2ubuntu9.2", "available_version": "1:1.2.11.dfsg-2ubuntu9.3",
        "source_package": "zlib", "installed_source_version": "1:1.2.11.dfsg-2ubuntu9.2",
        "source_version": "1:1.2.11.dfsg-2ubuntu9.3"}


def plugin():
    return ActionModule.__new__(ActionModule)


@pytest.mark.parametrize("compress", [False, True])
def test_an_ubuntu_host_is_joined_to_the_usn_data(tmp_path, compress):
    policy = {"sla_days": {"important": 7, "default": 30}}
    result = plugin().join_feed({"ansible_facts": {"fleetpatch": record([LIBSSL, ZLIB])}},
                                feed_files(tmp_path, compress=compress), policy)
    rec = result["ansible_facts"]["fleetpatch"]
    libssl, zlib = rec["updates"]
    assert (libssl["classification"], libssl["severity"], libssl["issued"]) == ("security", "important", "2024-05-16")
    assert libssl["advisories"] == ["USN-6560-1", "USN-6560-2", "USN-6790-1"]
    assert libssl["sla_due"] == "2024-05-23" and libssl["sla_breached"] is True     # 7 days from the USN
    # the USN whose version does not parse gave nothing: zlib keeps what the host said
    assert (zlib["classification"], zlib["severity"], zlib["advisories"]) == ("other", "unknown", [])
    info = rec["advisory_feed"]
    assert info["warning"] is None and info["joined"] == 1 and info["release"] == "jammy"
    assert info["left_out"] == {"without_releases": 1, "unusable": 1, "esm": 1}
    assert info["source"][0].endswith(".bz2" if compress else "database.json")
    assert os.path.basename(info["index"]).startswith("index-ubuntu-")
    jsonschema.validate(rec, SCHEMA)


def test_an_unknown_codename_is_a_warning_and_unknown_severity(tmp_path):
    result = plugin().join_feed({"ansible_facts": {"fleetpatch": record([LIBSSL], codename="plucky")}},
                                feed_files(tmp_path), None)
    rec = result["ansible_facts"]["fleetpatch"]
    assert rec["advisory_feed"]["warning"] == "the Ubuntu data has no release plucky (it covers jammy, noble)"
    assert (rec["updates"][0]["severity"], rec["updates"][0]["classification"]) == ("unknown", "other")
    assert result["warnings"]
    jsonschema.validate(rec, SCHEMA)


def test_a_debian_host_is_not_joined_to_ubuntu_data(tmp_path):
    # the same codename in Ubuntu's data does not make it Ubuntu's: Debian hosts get Debian's data
    result = plugin().join_feed({"ansible_facts": {"fleetpatch": record([LIBSSL], distribution="Debian GNU/Linux")}},
                                feed_files(tmp_path), None)
    rec = result["ansible_facts"]["fleetpatch"]
    assert "names no Debian data" in rec["advisory_feed"]["warning"]
    assert rec["updates"][0]["severity"] == "unknown"


def test_an_ubuntu_host_without_ubuntu_data_is_a_warning(tmp_path):
    feed = dict(feed_files(tmp_path), ubuntu_usn=None, debian_tracker=str(tmp_path / "database.json"))
    result = plugin().join_feed({"ansible_facts": {"fleetpatch": record([LIBSSL])}}, feed, None)
    assert "names no Ubuntu data" in result["ansible_facts"]["fleetpatch"]["advisory_feed"]["warning"]
    failed = plugin().join_feed({"ansible_facts": {"fleetpatch": record([LIBSSL])}}, dict(feed, required=True), None)
    assert failed["failed"] and "ubuntu_usn" in failed["msg"]


def test_a_database_that_does_not_parse_leaves_the_record_and_warns(tmp_path):
    original = record([LIBSSL])
    result = plugin().join_feed({"ansible_facts": {"fleetpatch": original}},
                                feed_files(tmp_path, database='{"6560-1": {'), None)
    rec = result["ansible_facts"]["fleetpatch"]
    assert rec["updates"] == original["updates"] and "does not parse" in rec["advisory_feed"]["warning"]
    jsonschema.validate(rec, SCHEMA)


def test_a_truncated_bzip2_file_is_refused(tmp_path):
    feed = feed_files(tmp_path, compress=True)
    with open(feed["ubuntu_usn"], "r+b") as f:
        f.truncate(200)
    with pytest.raises(FeedError, match="not a whole bzip2 file"):
        _advisory_feed.load(feed, "jammy", "ubuntu")


def test_debian_and_ubuntu_indexes_share_the_cache_and_keep_each_other(tmp_path):
    feed = feed_files(tmp_path)
    debian_dir = os.path.join(HERE, "fixtures", "advisory_feed")
    (tmp_path / "DSA-list").write_text(open(os.path.join(debian_dir, "DSA-list")).read())
    feed["debian_advisories"] = [str(tmp_path / "DSA-list")]
    (tmp_path / "cache").mkdir(mode=0o700)
    old_format = tmp_path / "cache" / "index-0123456789abcdef01234567.sqlite"     # before index format 3
    old_format.write_bytes(b"")
    _d, debian_info = _advisory_feed.load(feed, "bookworm", "debian")
    assert not old_format.exists()
    _u, ubuntu_info = _advisory_feed.load(feed, "jammy", "ubuntu")
    assert os.path.exists(debian_info["index"]) and os.path.exists(ubuntu_info["index"])
    # a new Ubuntu database replaces the Ubuntu index only
    _advisory_feed._LOADED.clear()
    os.utime(feed["ubuntu_usn"], (os.stat(feed["ubuntu_usn"]).st_mtime - 5,) * 2)
    newer = _advisory_feed.load(feed, "jammy", "ubuntu")[1]["index"]
    assert newer != ubuntu_info["index"] and not os.path.exists(ubuntu_info["index"])
    assert os.path.exists(debian_info["index"])


def test_the_esm_option_is_part_of_the_index_identity(tmp_path):
    feed = feed_files(tmp_path)
    off = _advisory_feed.load(feed, "jammy", "ubuntu")[0]
    on = _advisory_feed.load(dict(feed, ubuntu_esm=True), "jammy", "ubuntu")[0]
    assert off.lookup("mina2", "jammy", "2.1.5-1", "2.1.5-1ubuntu0.1~esm1") is None
    assert on.lookup("mina2", "jammy", "2.1.5-1", "2.1.5-1ubuntu0.1~esm1")["advisories"] == ["USN-6900-1"]


@pytest.mark.parametrize("query", [
    ("openssl", "jammy", "3.0.2-0ubuntu1.13", "3.0.2-0ubuntu1.16"), ("openssl", "jammy", "3.0.2-0ubuntu1.14", "3.0.2-0ubuntu1.15"),
    ("openssl", "noble", "3.0.13-0ubuntu3", "3.0.13-0ubuntu3.1"),
    ("bind9", "jammy", "1:9.18.12-0ubuntu0.22.04.1", "1:9.18.18-0ubuntu0.22.04.2"),
    ("zlib", "jammy", "1:1.2.11.dfsg-2ubuntu9.2", "1:1.2.11.dfsg-2ubuntu9.3")])
def test_the_index_on_disk_answers_as_the_parsed_data(tmp_path, index, query):
    on_disk, _info = _advisory_feed.load(feed_files(tmp_path), query[1], "ubuntu")
    assert on_disk.lookup(*query) == index.lookup(*query)


def test_patch_apply_selects_ubuntu_updates_by_cve_and_usn(tmp_path):
    host = record([LIBSSL, ZLIB])
    assert _apply.select_targets(host, cves=["CVE-2024-2511"])[0] == {}
    joined, _info = _advisory_feed.join_record(host, feed_files(tmp_path))
    data = _advisory_feed.advisory_data(joined)
    assert list(data) == ["libssl3|amd64|3.0.2-0ubuntu1.16"]
    merged = _apply.merge_advisory_data(host, data, None, now="2024-06-10")
    assert _apply.select_targets(merged, cves=["CVE-2024-2511"])[0] == {"libssl3": "3.0.2-0ubuntu1.16"}
    assert _apply.select_targets(merged, advisories=["USN-6790-1"])[0] == {"libssl3": "3.0.2-0ubuntu1.16"}
