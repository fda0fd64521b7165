"""Grouping rules of the fleetpatch.patching.compliance inventory plugin (pure helpers), and the snapshot
they work from, read from a real SQLite store and, with FLEETPATCH_TEST_POSTGRES_URL, a real PostgreSQL."""
import datetime
import json
import os
import urllib.parse
import uuid

import compliance_lab
import pytest
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._inventory import compliance_groups as rules
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store import postgres as _store_postgres
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore

NOW = datetime.datetime(2026, 11, 25, 12, 0, 0, tzinfo=datetime.timezone.utc)
POSTGRES_URL = os.environ.get("FLEETPATCH_TEST_POSTGRES_URL")
NO_POSTGRES = "FLEETPATCH_TEST_POSTGRES_URL is not set (eval \"$(tests/tools/start-postgres)\" sets it)"
COUNTS = {"installed": 300, "missing": 2, "failed": 0, "critical_non_compliant": 1}


def ago(**delta):
    return compliance_lab.stamp(NOW - datetime.timedelta(**delta))


def row(host, status, reboot_required=False, rolled_back=False, **extra):
    entry = {"host": host, "run_id": "r9", "ended_at": ago(hours=1), "ring": "pilot", "status": status,
             "os": "Debian 12", "pkg_mgr": "apt", "policy": "default", "assessed_at": ago(hours=2),
             "reboot_required": reboot_required, "rebooted": False, "rolled_back": rolled_back,
             "counts": dict(COUNTS)}
    entry.update(extra)
    return entry


def assessed(hours=2, **extra):
    value = {"run_id": "r9", "ended_at": ago(hours=1), "assessed_at": ago(hours=hours)}
    value.update(extra)
    return value


def groups_of(entry, last=None, breach=None, stale_days=7):
    return set(rules.host_state(entry, last, breach, NOW, stale_days).groups)


# ---- the rules, one status at a time -------------------------------------------------------------

@pytest.mark.parametrize("status, flags, expected", [
    ("compliant", {}, {"compliant"}),
    ("non_compliant", {}, {"noncompliant"}),
    ("non_compliant", {"reboot_required": True}, {"noncompliant", "pending_reboot"}),
    ("pending_reboot", {"reboot_required": True}, {"noncompliant", "pending_reboot"}),
    ("failed", {}, {"noncompliant", "failed"}),
    ("rolled_back", {"rolled_back": True}, {"noncompliant", "failed"}),
    ("unreachable", {}, {"unreachable"}),
    # lost after its rollback: unreachable, and the rollback still counts as a failure
    ("unreachable", {"rolled_back": True}, {"unreachable", "failed"}),
    # the package manager's answer was incomplete: its own group, never compliant
    ("unknown", {}, {"unknown"}),
])
def test_groups_follow_the_latest_status(status, flags, expected):
    assert groups_of(row("h", status, **flags), assessed()) == expected


def test_an_sla_breach_adds_its_group_whatever_the_status():
    assert groups_of(row("h", "unreachable"), assessed(hours=50), breach=[2, "2026-11-15"]) == {
        "unreachable", "sla_breach"}
    state = rules.host_state(row("h", "non_compliant"), assessed(), [3, "2026-11-10"], NOW, 7)
    assert "sla_breach" in state.groups
    assert (state.variables["sla_breaches"], state.variables["sla_days_overdue"]) == (3, 15)


# ---- staleness, with a fixed now -----------------------------------------------------------------

@pytest.mark.parametrize("last, stale, days", [
    (assessed(hours=2), False, 0),
    (assessed(hours=7 * 24), False, 7),                   # exactly 7 days: not yet stale
    (assessed(hours=7 * 24, assessed_at=ago(days=7, seconds=1)), True, 7),
    (assessed(hours=30 * 24), True, 30),
    (None, True, None),                                   # never assessed
    ({"run_id": "r1", "ended_at": ago(days=3), "assessed_at": None}, False, 3),   # falls back to the run's end
    ({"run_id": "r1", "ended_at": None, "assessed_at": "yesterday"}, True, None),  # unreadable: never
    (assessed(assessed_at=compliance_lab.stamp(NOW + datetime.timedelta(hours=3))), False, 0),  # clock skew
])
def test_stale_after_stale_days_and_when_never_assessed(last, stale, days):
    state = rules.host_state(row("h", "compliant"), last, None, NOW, 7)
    assert ("stale" in state.groups, state.variables["stale"], state.variables["days_since_assessed"]) == (
        stale, stale, days)


def test_stale_days_is_the_threshold():
    last = assessed(hours=10 * 24)
    assert "stale" in groups_of(row("h", "compliant"), last, stale_days=7)
    assert "stale" not in groups_of(row("h", "compliant"), last, stale_days=14)


def test_staleness_counts_the_last_assessment_not_the_latest_run():
    # Unreachable an hour ago, assessed three days ago: not stale.
    entry = row("h", "unreachable", assessed_at=None)
    state = rules.host_state(entry, assessed(hours=72, run_id="r8"), None, NOW, 7)
    assert state.groups == {"unreachable"}
    assert (state.variables["assessed_at"], state.variables["assessed_run_id"], state.variables["run_id"]) == (
        ago(hours=72), "r8", "r9")


@pytest.mark.parametrize("latest, last_known, expected", [
    # a later run that could not reach the host, or did not assess it, keeps what is known
    ("unreachable", "non_compliant", {"unreachable", "noncompliant"}),
    ("unreachable", "compliant", {"unreachable", "compliant"}),
    ("unknown", "non_compliant", {"unknown", "noncompliant"}),
    # a run that assessed it says otherwise: that is what counts
    ("compliant", "non_compliant", {"compliant"}),
])
def test_a_run_that_did_not_assess_the_host_keeps_its_last_known_state(latest, last_known, expected):
    entry = row("h", latest, assessed_at=None)
    last = assessed(hours=30, run_id="r8", status=last_known, counts={"missing": 2})
    if latest == "compliant":
        last = assessed(hours=1, run_id="r9", status=latest)
    state = rules.host_state(entry, last, None, NOW, 7)
    assert state.groups == expected
    assert state.variables["status"] == latest
    assert state.variables["last_known_status"] == (latest if latest == "compliant" else last_known)


# ---- the variable ---------------------------------------------------------------------------------

VARIABLE_KEYS = {"status", "in_store", "run_id", "ended_at", "ring", "os", "pkg_mgr", "policy", "assessed_at",
                 "assessed_run_id", "days_since_assessed", "stale", "reboot_required", "rebooted", "rolled_back",
                 "counts", "sla_breaches", "sla_days_overdue", "last_known_status", "assessed_counts"}


def test_the_variable_of_a_known_host():
    state = rules.host_state(row("h", "non_compliant"), assessed(), [1, "2026-11-20"], NOW, 7)
    assert state.variables == {
        "status": "non_compliant", "in_store": True, "run_id": "r9", "ended_at": ago(hours=1), "ring": "pilot",
        "os": "Debian 12", "pkg_mgr": "apt", "policy": "default", "assessed_at": ago(hours=2),
        "assessed_run_id": "r9", "days_since_assessed": 0, "stale": False, "reboot_required": False,
        "rebooted": False, "rolled_back": False, "counts": COUNTS, "sla_breaches": 1, "sla_days_overdue": 5,
        "last_known_status": "non_compliant", "assessed_counts": {}}


def test_a_host_the_store_does_not_know_has_every_key_and_is_stale():
    state = rules.host_state(None, None, None, NOW, 7)
    assert state.groups == {"stale"}
    assert set(state.variables) == VARIABLE_KEYS
    assert state.variables["status"] is None and state.variables["in_store"] is False
    assert state.variables["counts"] == {} and state.variables["sla_breaches"] == 0
    assert state.variables["rolled_back"] is False and state.variables["days_since_assessed"] is None


# ---- annotate or add --------------------------------------------------------------------------

def snap_of(*entries, **breaches):
    return rules.snapshot("/store", NOW, list(entries), {e["host"]: assessed() for e in entries}, [
        {"host": host, "sla_due": due} for host, dues in breaches.items() for due in dues])


def test_annotate_writes_the_inventory_hosts_only_and_the_unknown_ones_are_stale():
    snap = snap_of(row("a", "compliant"), row("b", "failed"), row("retired", "non_compliant"))
    states = rules.host_states(snap, ["b", "a", "new"], NOW, 7)
    assert list(states) == ["a", "b", "new"]
    assert states["new"].groups == {"stale"} and states["new"].variables["in_store"] is False
    assert rules.group_members(states) == {"compliant": ["a"], "noncompliant": ["b"], "pending_reboot": [],
                                           "failed": ["b"], "unreachable": [], "unknown": [], "sla_breach": [],
                                           "stale": ["new"]}


def test_add_hosts_adds_every_store_host_and_still_annotates_the_inventory():
    snap = snap_of(row("a", "compliant"), row("retired", "non_compliant"))
    states = rules.host_states(snap, ["a", "new"], NOW, 7, add_hosts=True)
    assert list(states) == ["a", "new", "retired"]
    assert states["retired"].groups == {"noncompliant"}
    assert rules.host_states(snap, [], NOW, 7, add_hosts=True).keys() == {"a", "retired"}
    assert rules.host_states(snap, [], NOW, 7) == {}


def test_snapshot_keeps_rows_and_summarises_breaches_per_host():
    snap = snap_of(row("a", "non_compliant"), row("b", "compliant"), a=["2026-11-20", "2026-11-02", "2026-11-10"])
    assert snap["sla_breaches"] == {"a": [3, "2026-11-02"]}
    assert snap["fetched_at"] == "2026-11-25T12:00:00Z" and snap["location"] == "/store"
    assert [h["host"] for h in snap["hosts"]] == ["a", "b"]
    # What a JSON cache gives back decides the same.
    again = json.loads(json.dumps(snap))
    assert rules.host_states(again, ["a", "b"], NOW, 7) == rules.host_states(snap, ["a", "b"], NOW, 7)
    assert rules.usable_snapshot(again, "/store")
    assert not rules.usable_snapshot(again, "/other/store")
    assert not rules.usable_snapshot(dict(again, version=0), "/store")
    assert not rules.usable_snapshot(dict(again, hosts=None), "/store")
    assert not rules.usable_snapshot(None, "/store") and not rules.usable_snapshot("junk", "/store")


# ---- options -----------------------------------------------------------------------------------

def test_group_names_and_prefix():
    assert list(rules.group_names("fleetpatch_").values()) == [
        "fleetpatch_compliant", "fleetpatch_noncompliant", "fleetpatch_pending_reboot", "fleetpatch_failed",
        "fleetpatch_unreachable", "fleetpatch_unknown", "fleetpatch_sla_breach", "fleetpatch_stale"]
    assert rules.parse_prefix(None) == "fleetpatch_"
    assert rules.parse_prefix("") == "" and rules.parse_prefix("patch_") == "patch_"
    assert rules.group_names("")["stale"] == "stale"


@pytest.mark.parametrize("prefix", ["1st_", "fleet-patch_", "fleet patch", "{{ x }}", 5])
def test_bad_prefixes_are_refused(prefix):
    with pytest.raises(rules.ComplianceConfigError, match="group_prefix .* must be letters, digits and underscores"):
        rules.parse_prefix(prefix)


@pytest.mark.parametrize("days", [0, -1, True, "7", 1.5])
def test_bad_stale_days_are_refused(days):
    with pytest.raises(rules.ComplianceConfigError, match="stale_days must be a whole number of days, 1 or more"):
        rules.parse_stale_days(days)


def test_stale_days_default_and_values():
    assert rules.parse_stale_days(None) == 7 and rules.parse_stale_days(30) == 30


# ---- credentials -------------------------------------------------------------------------------

def test_credentials_become_uri_parameters_and_are_redacted():
    url = rules.with_credentials("postgresql://db.example.com/fleet?sslmode=require", "fp", "p@ss:w&rd/+ %")
    parts = urllib.parse.urlsplit(url)
    assert dict(urllib.parse.parse_qsl(parts.query)) == {
        "sslmode": "require", "user": "fp", "password": "p@ss:w&rd/+ %"}
    assert _store_postgres.redact_url(url) == "postgresql://db.example.com/fleet?sslmode=require&user=fp&password=***"
    assert rules.with_credentials("postgresql://db/fleet", None, "s3cret") == "postgresql://db/fleet?password=s3cret"
    assert rules.with_credentials("postgresql://fp@db/fleet", None, None) == "postgresql://fp@db/fleet"


@pytest.mark.parametrize("url, user, password, message", [
    ("postgresql://fp@db/fleet", "other", None, "already names a user"),
    ("postgresql://db/fleet?user=fp", "other", None, "already names a user"),
    ("postgresql://fp:topsecret@db/fleet", None, "another", "already carries a password"),
    ("postgresql://db/fleet?password=topsecret", None, "another", "already carries a password"),
])
def test_credentials_in_both_places_are_refused_without_quoting_them(url, user, password, message):
    with pytest.raises(rules.ComplianceConfigError, match=message) as caught:
        rules.with_credentials(url, user, password)
    assert "topsecret" not in str(caught.value) and "another" not in str(caught.value)


# ---- values into the inventory ------------------------------------------------------------------

STORE_VALUES = {"status": "compliant", "os": "openSUSE Leap 15.6", "ended_at": "2026-11-25T10:05:00Z",
                "hostile": "Debian {{ lookup('pipe', 'id') }}", "hash": "#jinja2:x", "pct": "{% x %}",
                "brackets": "[[ x ]]", "counts": {"missing": 2}, "stale": False, "run_id": None,
                "list": ["a-1", "{{ x }}"]}
INERT = ("status", "os", "ended_at")
TEMPLATES = ("hostile", "hash", "pct", "brackets")


def test_store_values_are_trusted_only_when_they_cannot_be_templates():
    template = pytest.importorskip("ansible.template")
    if not hasattr(template, "is_trusted_as_template"):
        pytest.skip("ansible-core < 2.19 has no template trust (see the next test)")
    value = rules.store_value(STORE_VALUES)
    trusted = template.is_trusted_as_template
    assert all(trusted(value[k]) for k in INERT)
    assert not any(trusted(value[k]) for k in TEMPLATES)
    assert value["hostile"] == "Debian {{ lookup('pipe', 'id') }}"
    assert trusted(value["list"][0]) and not trusted(value["list"][1])
    assert value["counts"] == {"missing": 2} and value["stale"] is False and value["run_id"] is None


def test_store_values_that_could_be_templates_are_wrapped_unsafe_before_2_19():
    template = pytest.importorskip("ansible.template")
    if hasattr(template, "is_trusted_as_template"):
        pytest.skip("ansible-core 2.19 and later: see the previous test")
    from ansible.utils.unsafe_proxy import AnsibleUnsafe
    value = rules.store_value(STORE_VALUES)
    assert not any(isinstance(value[k], AnsibleUnsafe) for k in INERT)
    assert all(isinstance(value[k], AnsibleUnsafe) for k in TEMPLATES)
    assert isinstance(value["list"][1], AnsibleUnsafe) and not isinstance(value["list"][0], AnsibleUnsafe)


def test_marking_is_memoised_across_hosts():
    memo = {}
    first = rules.store_value({"status": "compliant", "os": "{{ x }}"}, memo)
    second = rules.store_value({"status": "compliant", "os": "{{ x }}"}, memo)
    assert first["status"] is second["status"] and first["os"] is second["os"]
    assert sorted(memo) == ["compliant", "{{ x }}"]


# ---- from a real store ---------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "history.sqlite")
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    import psycopg
    schema = "fleetpatch_test_%s" % uuid.uuid4().hex[:12]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA %s" % schema)
    parts = urllib.parse.urlsplit(POSTGRES_URL)
    query = urllib.parse.parse_qsl(parts.query) + [("options", "-c search_path=%s" % schema)]
    request.addfinalizer(lambda: _drop(schema))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query, quote_via=urllib.parse.quote)))


def _drop(schema):
    import psycopg
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute("DROP SCHEMA %s CASCADE" % schema)


def read_snapshot(location, now):
    with HistoryStore.open(location) as store:
        return rules.snapshot(store.location, now, store.latest_hosts(), store.last_assessed(), store.sla_breaches(now))


def test_last_assessed_is_the_newest_run_that_assessed_each_host(location):
    compliance_lab.fill(location, NOW, HistoryStore)
    with HistoryStore.open(location) as store:
        last = store.last_assessed()
        latest = {h["host"]: h for h in store.latest_hosts()}
    assert latest["lab-zypper1"]["run_id"] == "r-last" and latest["lab-zypper1"]["assessed_at"] is None
    zypper = dict(last["lab-zypper1"])
    counts = zypper.pop("counts")
    assert zypper == {"run_id": "r-prev", "ended_at": ago(days=2), "assessed_at": ago(days=2, minutes=15),
                      "status": "non_compliant"}
    assert (counts["missing"], counts["sla_breached"]) == (1, 1)     # what that assessment found
    assert last["lab-apt3"]["run_id"] == "r-old" and last["lab-apt1"]["run_id"] == "r-last"
    assert set(last) == set(latest)     # every host of the lab history was assessed once


def test_the_lab_history_gives_the_expected_groups(location):
    compliance_lab.fill(location, NOW, HistoryStore)
    snap = read_snapshot(location, NOW)
    states = rules.host_states(snap, compliance_lab.LAB_HOSTS, NOW, 7)
    members = {key: set(hosts) for key, hosts in rules.group_members(states).items()}
    assert members == compliance_lab.EXPECTED_GROUPS
    assert {h: s.variables["status"] for h, s in states.items()} == compliance_lab.EXPECTED_STATUS
    assert states["lab-zypper1"].variables["last_known_status"] == "non_compliant"
    zypper = states["lab-zypper1"].variables
    assert (zypper["sla_breaches"], zypper["sla_days_overdue"], zypper["days_since_assessed"]) == (1, 10, 2)
    assert states["lab-apt3"].variables["days_since_assessed"] == 30
    assert states["lab-apt1"].variables["os"] == compliance_lab.HOSTILE_OS + " 12"
    added = rules.host_states(snap, compliance_lab.LAB_HOSTS, NOW, 7, add_hosts=True)
    assert {k: set(v) for k, v in rules.group_members(added).items()} == compliance_lab.EXPECTED_GROUPS_ADDED
    # A month later everything is stale, and lab-apt2's critical update is 40 days overdue.
    later = rules.host_states(snap, compliance_lab.LAB_HOSTS, NOW + datetime.timedelta(days=30), 7)
    assert set(rules.group_members(later)["stale"]) == set(compliance_lab.LAB_HOSTS)
    assert later["lab-apt2"].variables["sla_days_overdue"] == 40
