"""The advisory feed for apt hosts: Debian's tracker JSON and DSA/DLA lists (fixtures/advisory_feed,
hand-written in the published formats, see its README), indexed, cached and joined to records."""
import functools
import http.server
import json
import os
import threading
import time

import jsonschema
import pytest

from ansible_collections.fleetpatch.patching.plugins.action.patch_facts import ActionModule
from ansible_collections.fleetpatch.patching.plugins.module_utils import _apt, _policy, _vocabulary
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._advisory import feed as _advisory_feed
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._advisory import debian
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._advisory import index as feed_index
from ansible_collections.fleetpatch.patching.plugins.module_utils._versions import compare_deb

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures", "advisory_feed")
REPO = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
SCHEMA = json.load(open(os.path.join(REPO, "docs", "schemas", "host_patch_record.schema.json")))
SHOW = os.path.join(HERE, "..", "module_utils", "fixtures", "apt-show-sources", "apt-cache-show.stdout")


def read(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


@pytest.fixture(name="index")
def fixture_index():
    return debian.build_index(read("tracker.json"), [("DSA-list", read("DSA-list")), ("DLA-list", read("DLA-list"))])


def test_several_cves_and_advisories_between_installed_and_available(index):
    found = index.lookup("openssl", "bookworm", "3.0.11-1~deb12u2", "3.0.14-1~deb12u1")
    assert found == {"advisories": ["DSA-5621-1", "DSA-5621-2", "DSA-5691-1"],
                     "cves": ["CVE-2024-0727", "CVE-2024-2511", "CVE-2024-4603"],
                     "issued": "2024-05-16",          # the newest advisory, as dnf/zypper fold them
                     "severity": "critical"}          # CVE-2024-2511: urgency high, in DSA-5691-1


def test_a_cve_fixed_in_two_steps_counts_for_the_second_step(index):
    found = index.lookup("openssl", "bookworm", "3.0.13-1~deb12u1", "3.0.13-1~deb12u2")
    assert found["advisories"] == ["DSA-5621-2"]
    assert found["cves"] == ["CVE-2024-0727"]
    assert found["issued"] == "2024-02-05"
    assert found["severity"] == "moderate"            # no urgency, but an advisory


def test_a_version_between_two_advisories_gets_only_the_older_one(index):
    found = index.lookup("openssl", "bookworm", "3.0.11-1~deb12u2", "3.0.13-1~deb12u2")
    assert found["advisories"] == ["DSA-5621-1", "DSA-5621-2"]
    assert found["cves"] == ["CVE-2024-0727"]
    assert "CVE-2024-2511" not in found["cves"]


def test_an_update_that_already_has_every_fix_gets_nothing(index):
    assert index.lookup("openssl", "bookworm", "3.0.14-1~deb12u1", "3.0.15-1~deb12u1") is None


def test_epochs_are_compared_as_dpkg_does():
    # the tracker's 9.19.0-1 (epoch 0) is older than the installed 1:9.18.19: it brings nothing
    index = debian.build_index(read("tracker.json"), [])
    found = index.lookup("bind9", "bookworm", "1:9.18.19-1~deb12u1", "1:9.18.24-1")
    assert found["cves"] == ["CVE-2023-50387"]
    assert found["severity"] == "moderate"           # urgency medium, no advisory in this index
    assert found["advisories"] == [] and found["issued"] is None


def test_medium_urgency_with_an_advisory_is_important(index):
    found = index.lookup("bind9", "bookworm", "1:9.18.19-1~deb12u1", "1:9.18.24-1")
    assert found["advisories"] == ["DSA-5620-1"]
    assert found["cves"] == ["CVE-2023-4408", "CVE-2023-50387"]
    assert found["severity"] == "important"


def test_unfixed_not_affected_and_undetermined_entries_fix_nothing(index):
    fixed = index.fixes_for("openssl", "bookworm")
    listed = set(row[0] for rows in fixed.values() for row in rows)
    assert "CVE-2024-9143" not in listed              # open: <unfixed>
    assert "CVE-2023-6129" not in listed              # fixed_version "0": <not-affected>
    assert ("curl", "bookworm") not in index.fixes    # undetermined
    assert index.lookup("curl", "bookworm", "7.88.1-10+deb12u4", "7.88.1-10+deb12u5") is None


def test_releases_stay_apart(index):
    found = index.lookup("openssl", "bullseye", "1.1.1w-0+deb11u1", "1.1.1w-0+deb11u2")
    assert found == {"advisories": ["DLA-3726-1"], "cves": ["CVE-2024-0727"], "issued": "2024-02-06",
                     "severity": "moderate"}
    assert index.lookup("openssl", "trixie", "3.0.11-1", "3.0.14-1") is None


@pytest.mark.parametrize("urgency,advisory,nodsa,severity", [
    ("high", True, False, "critical"), ("high", False, False, "important"), ("medium", True, False, "important"),
    ("medium", False, False, "moderate"), ("low", True, False, "moderate"), ("low*", False, False, "low"),
    ("unimportant", False, False, "low"), ("not yet assigned", True, False, "moderate"),
    ("not yet assigned", False, True, "low"), ("not yet assigned", False, False, "unknown"),
    ("end-of-life", False, False, "unknown"), ("", False, False, "unknown")])
def test_severity_mapping(urgency, advisory, nodsa, severity):
    assert debian.severity_of(urgency, advisory, nodsa) == severity
    assert severity in _vocabulary.SEVERITIES


@pytest.mark.parametrize("text", ['{"openssl": {"CVE-1": ', "[1, 2]", '{"a": {}} trailing', '{"a": 1}',
                                  '{"a": {"CVE-1": {"releases": []}}}'])
def test_a_tracker_export_that_does_not_parse_is_refused(text):
    with pytest.raises(debian.FeedError):
        debian.parse_tracker(text)


def test_a_list_that_does_not_parse_is_refused():
    with pytest.raises(debian.FeedError, match="line 1: not a date"):
        debian.parse_advisory_list("[31 Foo 2024] DSA-1-1 x - y\n")
    with pytest.raises(debian.FeedError, match="line 2: not an advisory line"):
        debian.parse_advisory_list("[01 Feb 2024] DSA-1-1 x - y\n<html>\n")


def test_the_streaming_parser_equals_json_load():
    text = read("tracker.json")
    assert dict(feed_index.json_members(text, "t")) == json.loads(text)


# --- the source packages apt names (captured apt-cache show) -----------------------------------

def test_apt_cache_show_gives_source_names_and_versions():
    with open(SHOW) as f:
        sources = _apt.parse_show_sources(f.read())
    assert sources[("libssl3", "amd64", "3.0.22-1~deb12u2")] == ("openssl", "3.0.22-1~deb12u2")
    assert sources[("bash", "amd64", "5.2.15-2+b13")] == ("bash", "5.2.15-2")     # a binNMU
    updates = _apt.annotate_sources([
        {"name": "libssl3", "arch": "amd64", "installed_version": "3.0.19-1~deb12u2", "available_version": "3.0.22-1~deb12u2"},
        {"name": "bash", "arch": "amd64", "installed_version": "5.2.15-2+b8", "available_version": "5.2.15-2+b13"},
        {"name": "zlib1g", "arch": "amd64", "installed_version": "1", "available_version": "2"}], sources)
    assert (updates[0]["source_package"], updates[0]["installed_source_version"], updates[0]["source_version"]) == \
        ("openssl", "3.0.19-1~deb12u2", "3.0.22-1~deb12u2")
    assert updates[1]["installed_source_version"] == updates[1]["source_version"] == "5.2.15-2"
    assert "source_package" not in updates[2]        # apt did not answer: nothing is guessed


# --- loading, the cache, the join --------------------------------------------------------------

def feed_files(tmp_path, tracker=None):
    path = tmp_path / "tracker.json"
    path.write_text(read("tracker.json") if tracker is None else tracker)
    dsa = tmp_path / "DSA-list"
    dsa.write_text(read("DSA-list"))
    return {"debian_tracker": str(path), "debian_advisories": [str(dsa)], "max_age": 3600, "timeout": 5,
            "cache_dir": str(tmp_path / "cache"), "required": False}


def record(updates, codename="bookworm", **fields):
    """An apt host's record as the module returns it, decided by the default baseline; fields: the
    host's own (distribution, version...)."""
    base = {"name": "libssl3", "arch": "amd64", "classification": "other", "severity": "unknown", "advisories": [],
            "cves": [], "issued": None, "first_seen": "2024-06-01", "repository": "Debian:bookworm/main",
            "reboot_suggested": False, "decision": "approved", "reason": "x", "sla_due": None, "sla_breached": False}
    rec = {"schema_version": 1, "pkg_mgr": "apt", "os_family": "Debian", "distribution": "Debian GNU/Linux",
           "version": "12", "codename": codename, "kernel_running": None, "kernel_latest": None,
           "collected_at": "2024-06-10T00:00:00Z", "installed_count": 10, "reboot_required": False,
           "reboot_reasons": [], "services_needing_restart": [], "incomplete": [], "unfinished": [],
           "updates": [dict(base, **u) for u in updates]}
    rec.update(fields)
    return _policy.evaluate(rec, None, now="2024-06-10")


LIBSSL = {"installed_version": "3.0.11-1~deb12u2", "available_version": "3.0.14-1~deb12u1",
          "source_package": "openssl", "installed_source_version": "3.0.11-1~deb12u2", "source_version": "3.0.14-1~deb12u1"}
CURL = {"name": "curl", "installed_version": "7.88.1-10+deb12u4", "available_version": "7.88.1-10+deb12u5",
        "source_package": "curl", "installed_source_version": "7.88.1-10+deb12u4", "source_version": "7.88.1-10+deb12u5"}


def plugin():
    return ActionModule.__new__(ActionModule)


def test_the_join_sets_the_advisories_and_redecides(tmp_path):
    feed = feed_files(tmp_path)
    policy = {"sla_days": {"critical": 7, "default": 30}}
    result = plugin().join_feed({"ansible_facts": {"fleetpatch": record([LIBSSL, CURL])}}, feed, policy)
    rec = result["ansible_facts"]["fleetpatch"]
    libssl, curl = rec["updates"]
    assert (libssl["classification"], libssl["severity"], libssl["issued"]) == ("security", "critical", "2024-05-16")
    assert libssl["advisories"] == ["DSA-5621-1", "DSA-5621-2", "DSA-5691-1"]
    assert libssl["sla_due"] == "2024-05-23" and libssl["sla_breached"] is True   # 7 days from the DSA's date
    assert (curl["severity"], curl["issued"], curl["classification"]) == ("unknown", None, "other")  # first-seen stays
    assert curl["sla_due"] == "2024-07-01"
    assert rec["counts"]["critical_non_compliant"] == 1
    info = rec["advisory_feed"]
    assert info["warning"] is None and info["joined"] == 1 and info["release"] == "bookworm"
    assert info["entries"] == 6 and info["advisories"] == 4
    jsonschema.validate(rec, SCHEMA)


def test_a_feed_that_does_not_parse_leaves_the_record_and_warns(tmp_path):
    feed = feed_files(tmp_path, tracker='{"openssl": {')
    original = record([LIBSSL])
    result = plugin().join_feed({"ansible_facts": {"fleetpatch": original}}, feed, None)
    rec = result["ansible_facts"]["fleetpatch"]
    assert rec["updates"] == original["updates"]
    assert "does not parse" in rec["advisory_feed"]["warning"] and result["warnings"]
    jsonschema.validate(rec, SCHEMA)
    failed = plugin().join_feed({"ansible_facts": {"fleetpatch": original}}, dict(feed, required=True), None)
    assert failed["failed"] and "does not parse" in failed["msg"]


def test_a_stale_file_is_not_used(tmp_path):
    feed = feed_files(tmp_path)
    old = time.time() - 7200
    os.utime(feed["debian_tracker"], (old, old))
    with pytest.raises(debian.FeedError, match="stale"):
        _advisory_feed.load(feed, "bookworm")
    assert _advisory_feed.load(dict(feed, max_age=0), "bookworm")[1]["age_seconds"] >= 7200


def test_a_release_the_feed_does_not_cover_is_a_warning(tmp_path):
    result = plugin().join_feed({"ansible_facts": {"fleetpatch": record([LIBSSL], codename="jammy")}},
                                feed_files(tmp_path), None)
    rec = result["ansible_facts"]["fleetpatch"]
    assert "has no release jammy" in rec["advisory_feed"]["warning"]
    assert rec["updates"][0]["severity"] == "unknown"


def test_the_index_is_built_once_and_read_by_release(tmp_path, monkeypatch):
    feed = feed_files(tmp_path)
    _advisory_feed.load(feed, "bookworm")
    _advisory_feed._LOADED.clear()                    # another worker process
    monkeypatch.setattr(debian, "build_index", lambda *a: pytest.fail("the index was built again"))
    index, info = _advisory_feed.load(feed, "bookworm")
    assert index.store is not None and info["index"].endswith(".sqlite") and os.path.exists(info["index"])
    assert index.lookup("openssl", "bookworm", "3.0.11-1~deb12u2", "3.0.14-1~deb12u1")["severity"] == "critical"
    assert index.lookup("bind9", "bookworm", "1:9.18.19-1~deb12u1", "1:9.18.24-1")["advisories"] == ["DSA-5620-1"]
    # new data (another mtime) is another index
    os.utime(feed["debian_tracker"], (time.time() - 10, time.time() - 10))
    monkeypatch.undo()
    newer = _advisory_feed.load(feed, "bookworm")[1]["index"]
    assert newer != info["index"] and os.path.exists(newer)
    assert not os.path.exists(info["index"])          # the older feed's index is removed


@pytest.fixture(name="server")
def fixture_server(tmp_path):
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "json").write_text(read("tracker.json"))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "www"))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()     # a second close is harmless


def test_a_url_is_fetched_into_the_cache_and_used_until_max_age(tmp_path, server):
    url = "http://127.0.0.1:%d/json" % server.server_address[1]
    feed = {"debian_tracker": url, "max_age": 3600, "timeout": 5, "cache_dir": str(tmp_path / "cache")}
    index, info = _advisory_feed.load(feed, "bookworm")
    assert info["source"] == [url] and info["age_seconds"] < 60 and info["entries"] == 6
    server.shutdown()                                 # the cached copy serves the next host
    assert _advisory_feed.load(feed, "bookworm")[1]["entries"] == 6
    server.server_close()                             # nothing listens there now: unreachable
    with pytest.raises(debian.FeedError, match="Failed to fetch"):
        _advisory_feed.load(dict(feed, cache_dir=str(tmp_path / "other")), "bookworm")


@pytest.mark.parametrize("query", [
    ("openssl", "bookworm", "3.0.11-1~deb12u2", "3.0.14-1~deb12u1"), ("openssl", "bookworm", "3.0.13-1~deb12u1", "3.0.13-1~deb12u2"),
    ("openssl", "bullseye", "1.1.1w-0+deb11u1", "1.1.1w-0+deb11u2"), ("bind9", "bookworm", "1:9.18.19-1~deb12u1", "1:9.18.24-1"),
    ("curl", "bookworm", "7.88.1-10+deb12u4", "7.88.1-10+deb12u5")])
def test_the_index_on_disk_answers_as_the_parsed_data(tmp_path, index, query):
    feed = feed_files(tmp_path)
    dla = tmp_path / "DLA-list"      # a copy: written now, so max_age judges the test's data, not the checkout's age
    dla.write_text(read("DLA-list"))
    feed["debian_advisories"].append(str(dla))
    on_disk, _info = _advisory_feed.load(feed, query[1])
    assert on_disk.lookup(*query) == index.lookup(*query)


DPKG_VERSIONS = ["", "0", "1", "1.0", "1.0.0", "1.0~rc1", "1.0~~", "1.0~", "1.0a", "1.0a0", "1.0+b1", "1.0.1", "1:0.9",
                 "2:1.0", "1.0-1", "1.0-1~deb12u1", "1.0-1+deb12u1", "1.0-1.1", "1.0-10", "1.0-9", "3.0.13-1~deb12u2",
                 "1:9.18.24-1", "9.19.0-1", "1.2.3-A", "1.2.3-a", "1.2.3-+", "10", "010", "1.00", "0:1.0", "1.0-0"]


@pytest.mark.parametrize("a", DPKG_VERSIONS)
def test_the_sort_key_orders_as_compare_deb(a):
    for b in DPKG_VERSIONS:
        expected = compare_deb(a, b)
        key_a, key_b = feed_index.dpkg_key(a), feed_index.dpkg_key(b)
        assert ((key_a > key_b) - (key_a < key_b)) == expected, (a, b)


def test_the_sort_key_orders_as_compare_deb_on_random_versions():
    hypothesis = pytest.importorskip("hypothesis")
    strategies = hypothesis.strategies
    version = strategies.builds(
        lambda epoch, up, rev: ("%d:" % epoch if epoch else "") + up + ("-" + rev if rev else ""),
        strategies.integers(0, 3), strategies.from_regex(r"\A[0-9][0-9a-zA-Z.+~]{0,8}\Z"),
        strategies.from_regex(r"\A[0-9a-zA-Z.+~]{0,6}\Z"))

    @hypothesis.settings(max_examples=300, deadline=None)
    @hypothesis.given(version, version)
    def check(a, b):
        key_a, key_b = feed_index.dpkg_key(a), feed_index.dpkg_key(b)
        assert ((key_a > key_b) - (key_a < key_b)) == compare_deb(a, b), (a, b)

    check()


def test_a_version_with_characters_dpkg_does_not_order_matches_nothing(tmp_path):
    with pytest.raises(ValueError):
        feed_index.dpkg_key("1.0\u00e9")
    index, _info = _advisory_feed.load(feed_files(tmp_path), "bookworm")
    assert index.lookup("openssl", "bookworm", "3.0.11-1~deb12u2", "3.0.14-1 deb12u1") is None


def test_a_damaged_index_is_built_again(tmp_path):
    feed = feed_files(tmp_path)
    _index, info = _advisory_feed.load(feed, "bookworm")
    _advisory_feed._LOADED.clear()
    with open(info["index"], "wb") as f:
        f.write(b"not a database")
    index, again = _advisory_feed.load(feed, "bookworm")
    assert again["index"] == info["index"]
    assert index.lookup("openssl", "bookworm", "3.0.11-1~deb12u2", "3.0.14-1~deb12u1")["severity"] == "critical"


# --- patch_apply: the controller's join handed to the module (advisory_data) -------------------

def test_patch_apply_selects_apt_updates_by_cve_with_the_feeds_data(tmp_path):
    from ansible_collections.fleetpatch.patching.plugins.module_utils import _apply
    host = record([LIBSSL, CURL])
    # the host alone: apt updates carry no CVE, so a selection by CVE installs nothing
    assert _apply.select_targets(host, cves=["CVE-2024-2511"])[0] == {}
    joined, info = _advisory_feed.join_record(host, feed_files(tmp_path))
    data = _advisory_feed.advisory_data(joined)
    assert list(data) == ["libssl3|amd64|3.0.14-1~deb12u1"]                 # curl: nothing to add
    assert json.loads(json.dumps(data)) == data                              # it travels as module arguments
    policy = {"approve_after_days": {"critical": 0, "default": 30}}
    merged = _apply.merge_advisory_data(host, data, policy, now="2024-06-10")
    assert _apply.select_targets(merged, cves=["CVE-2024-2511"])[0] == {"libssl3": "3.0.14-1~deb12u1"}
    assert _apply.select_targets(merged, advisories=["DSA-5691-1"])[0] == {"libssl3": "3.0.14-1~deb12u1"}
    decided = dict((u["name"], u["decision"]) for u in merged["updates"])
    assert decided == {"libssl3": "approved", "curl": "deferred"}            # critical: 0 days; curl: first seen
    # an update whose version moved since the controller asked keeps what the host says
    moved = record([dict(LIBSSL, available_version="3.0.15-1~deb12u1")])
    assert _apply.merge_advisory_data(moved, data, policy, now="2024-06-10")["updates"][0]["cves"] == []
