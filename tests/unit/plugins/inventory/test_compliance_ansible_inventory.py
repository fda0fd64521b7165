"""The compliance inventory plugin through the real `ansible-inventory`, `ansible-playbook` and `ansible-doc`,
on the lab's inventory shape, against a real SQLite store and, with FLEETPATCH_TEST_POSTGRES_URL, a real
PostgreSQL, both filled with the lab-shaped history of tests/support/compliance_lab.py (dated from now).
"""
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(HERE))))
sys.path.insert(0, os.path.join(REPO, "tests", "support"))
import compliance_lab  # noqa: E402
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore  # noqa: E402

BIN = os.path.dirname(sys.executable)
HOSTS = os.path.join(FIXTURES, "lab_hosts.yml")
CONFIG = os.path.join(FIXTURES, "lab.compliance.yml")
POSTGRES_URL = os.environ.get("FLEETPATCH_TEST_POSTGRES_URL")
NO_POSTGRES = "FLEETPATCH_TEST_POSTGRES_URL is not set (eval \"$(tests/tools/start-postgres)\" sets it)"
PREFIX = "fleetpatch_"
# Credentials and stores the tests do not set must not leak in from the calling shell.
HERMETIC = ("ANSIBLE_INVENTORY", "FLEETPATCH_STORE", "FLEETPATCH_COMPLIANCE_STALE_DAYS", "PGUSER", "PGPASSWORD",
            "PGSERVICE", "PGPASSFILE", "ANSIBLE_INVENTORY_CACHE", "ANSIBLE_CACHE_PLUGIN")


def run(tool, *args, env=None, check=True):
    full_env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
                    ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="1", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    for name in HERMETIC:
        full_env.pop(name, None)
    full_env.update(env or {})
    proc = subprocess.run([os.path.join(BIN, tool)] + list(args), capture_output=True, text=True, env=full_env,
                          check=False, timeout=180)
    if check and proc.returncode != 0:
        raise AssertionError("%s %s failed (%d):\n%s" % (tool, " ".join(args), proc.returncode, proc.stderr))
    return proc


def says(stderr, message):
    """Whether Ansible's message output holds `message`, whatever its line wrapping (ansible-core < 2.19
    wraps warnings at 80 columns, even inside a path)."""
    return re.sub(r"\s+", "", message) in re.sub(r"\s+", "", stderr)


def says_match(stderr, pattern):
    return re.search(pattern.replace(" ", ""), re.sub(r"\s+", "", stderr)) is not None


def sources(*paths):
    args = []
    for path in paths:
        args += ["-i", path]
    return args


def inventory_list(*paths, env=None, extra=()):
    return json.loads(run("ansible-inventory", *(sources(*paths) + ["--list"] + list(extra)), env=env).stdout)


def graph(*paths, env=None, extra=()):
    """{group: hosts directly in it} from `ansible-inventory --graph`."""
    out = run("ansible-inventory", *(sources(*paths) + ["--graph"] + list(extra)), env=env).stdout
    groups, current = {}, None
    for line in out.splitlines():
        match = re.match(r"^[ |]*--@(\S+):$", line)
        if match:
            current = groups.setdefault(match.group(1), set())
        elif current is not None and re.match(r"^[ |]*--(\S+)$", line):
            current.add(line.rsplit("--", 1)[1])
    return groups


def compliance_groups(groups, prefix=PREFIX):
    return {name[len(prefix):]: hosts for name, hosts in groups.items()
            if name.startswith(prefix) and name[len(prefix):] in compliance_lab.EXPECTED_GROUPS}


def store_env(location):
    return {"FLEETPATCH_STORE": location}


def now():
    return datetime.datetime.now(datetime.timezone.utc)


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("store") / "history.sqlite")
    compliance_lab.fill(path, now(), HistoryStore)
    return path


def with_search_path(url, schema):
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query) + [("options", "-c search_path=%s" % schema)]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query, quote_via=urllib.parse.quote)))


@pytest.fixture(scope="module")
def postgres_store():
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    import psycopg
    schema = "fleetpatch_test_%s" % uuid.uuid4().hex[:12]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA %s" % schema)
    try:
        url = with_search_path(POSTGRES_URL, schema)
        compliance_lab.fill(url, now(), HistoryStore)
        yield url
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute("DROP SCHEMA %s CASCADE" % schema)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# ---- SQLite ------------------------------------------------------------------------------------------

def test_graph_groups_the_lab_hosts_by_their_latest_state(sqlite_store):
    groups = graph(HOSTS, CONFIG, env=store_env(sqlite_store))
    assert compliance_groups(groups) == compliance_lab.EXPECTED_GROUPS
    assert groups["lab_apt"] == {"lab-apt1", "lab-apt2", "lab-apt3", "lab-apt4"}   # the source's groups untouched
    assert compliance_lab.RETIRED not in set().union(*groups.values())        # annotate only


def test_list_sets_fleetpatch_compliance_as_plain_json(sqlite_store):
    listing = inventory_list(HOSTS, CONFIG, env=store_env(sqlite_store))
    hostvars = listing["_meta"]["hostvars"]
    statuses = {host: v["fleetpatch_compliance"]["status"] for host, v in hostvars.items()}
    assert statuses == compliance_lab.EXPECTED_STATUS
    apt2 = hostvars["lab-apt2"]["fleetpatch_compliance"]
    assert (apt2["run_id"], apt2["ring"], apt2["os"], apt2["pkg_mgr"], apt2["in_store"], apt2["stale"]) == (
        "r-last", "production", "Debian 12", "apt", True, False)
    assert (apt2["sla_breaches"], apt2["sla_days_overdue"], apt2["counts"]["missing"],
            apt2["counts"]["critical_non_compliant"]) == (1, 10, 2, 1)
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", apt2["assessed_at"])
    zypper = hostvars["lab-zypper1"]["fleetpatch_compliance"]
    assert (zypper["run_id"], zypper["assessed_run_id"], zypper["days_since_assessed"]) == ("r-last", "r-prev", 2)
    assert hostvars["lab-apt3"]["fleetpatch_compliance"]["days_since_assessed"] == 30
    # Inert strings are exported as plain strings (AWX imports them as they are) ...
    plain = json.dumps({h: v["fleetpatch_compliance"] for h, v in hostvars.items() if h != "lab-apt1"})
    assert "__ansible_unsafe" not in plain
    # ... and the one that holds a template stays marked unsafe.
    assert hostvars["lab-apt1"]["fleetpatch_compliance"]["os"] == {"__ansible_unsafe": compliance_lab.HOSTILE_OS + " 12"}


def test_store_values_are_never_templated(sqlite_store, tmp_path):
    config = write(tmp_path, "fleet.compliance.yml", "plugin: fleetpatch.patching.compliance\n"
                   "compose:\n  os_copy: fleetpatch_compliance.os\n")
    playbook = write(tmp_path, "show.yml", "- hosts: localhost\n  connection: local\n  gather_facts: false\n"
                     "  tasks:\n    - ansible.builtin.debug:\n"
                     "        msg: \"OS=[{{ hostvars['lab-apt1'].fleetpatch_compliance.os }}] "
                     "COPY=[{{ hostvars['lab-apt1'].os_copy }}]\"\n")
    out = run("ansible-playbook", *(sources(HOSTS, config) + [playbook]), env=store_env(sqlite_store)).stdout
    shown = compliance_lab.HOSTILE_OS + " 12"
    assert "OS=[%s] COPY=[%s]" % (shown, shown) in out
    assert "42" not in out


def test_add_hosts_adds_every_host_of_the_store(sqlite_store, tmp_path):
    config = write(tmp_path, "fleetpatch_compliance.yml", "plugin: fleetpatch.patching.compliance\nadd_hosts: true\n")
    alone = graph(config, env=store_env(sqlite_store))
    assert compliance_groups(alone) == compliance_lab.EXPECTED_GROUPS_ADDED
    assert alone["ungrouped"] == set()
    on_top = inventory_list(HOSTS, config, env=store_env(sqlite_store))
    assert set(on_top["_meta"]["hostvars"]) == set(compliance_lab.LAB_HOSTS) | {compliance_lab.RETIRED}
    assert on_top["_meta"]["hostvars"]["lab-apt1"]["ansible_host"] == "127.0.0.101"   # annotated, not replaced


def test_hosts_the_store_does_not_know_are_stale(sqlite_store, tmp_path):
    extra = write(tmp_path, "new.yml", "all:\n  hosts:\n    lab-apt5: {ansible_host: 127.0.0.107}\n")
    listing = inventory_list(HOSTS, extra, CONFIG, env=store_env(sqlite_store))
    assert set(listing["fleetpatch_stale"]["hosts"]) == {"lab-apt3", "lab-apt5"}
    new = listing["_meta"]["hostvars"]["lab-apt5"]["fleetpatch_compliance"]
    assert (new["status"], new["in_store"], new["stale"], new["assessed_at"], new["counts"]) == (
        None, False, True, None, {})


def test_prefix_stale_days_and_constructed_groups(sqlite_store, tmp_path):
    config = write(tmp_path, "site.compliance.yaml", (
        "plugin: fleetpatch.patching.compliance\n"
        "group_prefix: patch_\n"
        "stale_days: 40\n"
        "strict: true\n"
        "keyed_groups:\n"
        "  - key: fleetpatch_compliance.status\n    prefix: status\n    default_value: never_assessed\n"
        "  - key: fleetpatch_compliance.ring\n    prefix: last_ring\n    default_value: none\n"
        "groups:\n  overdue: fleetpatch_compliance.sla_days_overdue > 5\n"
        "compose:\n  open_updates: fleetpatch_compliance.counts.missing | default(0)\n"))
    extra = write(tmp_path, "new.yml", "all:\n  hosts:\n    lab-apt5:\n")
    listing = inventory_list(HOSTS, extra, config, env=store_env(sqlite_store))
    members = {group: set(value.get("hosts", [])) for group, value in listing.items() if group != "_meta"}
    assert members["patch_stale"] == {"lab-apt5"}          # lab-apt3 (30 days) is within 40 days
    assert members["patch_noncompliant"] == compliance_lab.EXPECTED_GROUPS["noncompliant"]
    assert not [g for g in members if g.startswith("fleetpatch_")]
    assert members["status_compliant"] == {"lab-apt1", "lab-apt3"}
    assert members["status_rolled_back"] == {"lab-dnf1"}
    assert members["status_never_assessed"] == {"lab-apt5"}
    assert members["last_ring_test"] == {"lab-dnf1", "lab-zypper1"}
    assert members["last_ring_none"] == {"lab-apt5"}   # strict: a null key needs a default_value
    assert members["overdue"] == {"lab-apt2", "lab-zypper1"}
    assert int(listing["_meta"]["hostvars"]["lab-apt2"]["open_updates"]) == 2   # a string before 2.19


SHOW_GROUPS = """\
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.debug:
        msg: "GROUPS={{ groups | dict2items | selectattr('key', 'match', 'fleetpatch_') | items2dict | to_json }}"
"""


def playbook_groups(playbook, *paths, env=None, extra=()):
    """The compliance groups as a playbook sees them, run with `extra` options (--flush-cache)."""
    out = run("ansible-playbook", *(sources(*paths) + list(extra) + [playbook]), env=env).stdout
    shown = json.loads(re.search(r'"GROUPS=(.*)"\s*$', out, re.M).group(1).replace('\\"', '"'))
    return compliance_groups({group: set(hosts) for group, hosts in shown.items()})


def ansible_inventory_has_flush_cache():
    return "--flush-cache" in run("ansible-inventory", "--help").stdout   # ansible-core 2.19 and later


def test_cache_keeps_the_store_rows_until_flushed(tmp_path):
    store = str(tmp_path / "history.sqlite")
    started = now()
    compliance_lab.fill(store, started, HistoryStore)
    cache_dir = tmp_path / "cache"
    env = dict(store_env(store), ANSIBLE_INVENTORY_CACHE="true", ANSIBLE_INVENTORY_CACHE_PLUGIN="ansible.builtin.jsonfile",
               ANSIBLE_INVENTORY_CACHE_CONNECTION=str(cache_dir))
    assert compliance_groups(graph(HOSTS, CONFIG, env=env)) == compliance_lab.EXPECTED_GROUPS
    cached = [json.loads(path.read_text()) for path in cache_dir.iterdir()]
    assert len(cached) == 1
    if "__payload__" in cached[0]:      # ansible-core 2.19's jsonfile wraps the value
        cached = [json.loads(cached[0]["__payload__"])]
    assert sorted(cached[0]) == ["fetched_at", "hosts", "last_assessed", "location", "sla_breaches", "version"]
    assert "fleetpatch_stale" not in json.dumps(cached)    # the rows, not the groups

    # A new run fixes everything; the cache still answers until --flush-cache.
    def fix_all(run_id, moment):
        fixed = compliance_lab.report(run_id, moment, [
            compliance_lab.entry(host, "production", compliance_lab.facts(compliance_lab.record(
                host, compliance_lab.stamp(moment)))) for host in compliance_lab.LAB_HOSTS])
        with HistoryStore.open(store) as opened:
            opened.append_run(fixed)

    fix_all("r-fix", started)
    playbook = write(tmp_path, "show.yml", SHOW_GROUPS)
    assert compliance_groups(graph(HOSTS, CONFIG, env=env)) == compliance_lab.EXPECTED_GROUPS
    assert playbook_groups(playbook, HOSTS, CONFIG, env=env) == compliance_lab.EXPECTED_GROUPS
    everything = set(compliance_lab.LAB_HOSTS)
    flushed = playbook_groups(playbook, HOSTS, CONFIG, env=env, extra=["--flush-cache"])
    assert flushed["compliant"] == everything and flushed["stale"] == set() and flushed["sla_breach"] == set()
    assert compliance_groups(graph(HOSTS, CONFIG, env=env)) == flushed      # the flush refreshed the cache

    if ansible_inventory_has_flush_cache():
        # lab-apt2 regresses; ansible-inventory --flush-cache sees it.
        regressed = compliance_lab.report("r-regress", started + datetime.timedelta(seconds=1), [
            compliance_lab.entry("lab-apt2", "production", compliance_lab.facts(compliance_lab.record(
                "lab-apt2", compliance_lab.stamp(started), [compliance_lab.update("curl", "8.0")])))])
        with HistoryStore.open(store) as opened:
            opened.append_run(regressed)
        assert compliance_groups(graph(HOSTS, CONFIG, env=env))["noncompliant"] == set()
        assert compliance_groups(graph(HOSTS, CONFIG, env=env, extra=["--flush-cache"]))["noncompliant"] == {"lab-apt2"}

    # The same configuration pointed at another store does not use this store's cache entry.
    other = str(tmp_path / "other.sqlite")
    HistoryStore.open(other).close()
    assert compliance_groups(graph(HOSTS, CONFIG, env=dict(env, FLEETPATCH_STORE=other)))["stale"] == everything


# ---- PostgreSQL ----------------------------------------------------------------------------------------

def test_postgres_store_gives_the_same_groups(postgres_store):
    listing = inventory_list(HOSTS, CONFIG, env=store_env(postgres_store))
    members = {group[len(PREFIX):]: set(value.get("hosts", [])) for group, value in listing.items()
               if group.startswith(PREFIX)}
    # --list leaves out groups without hosts (fleetpatch_unknown, in the lab's store)
    assert members == dict((g, hosts) for g, hosts in compliance_lab.EXPECTED_GROUPS.items() if hosts)
    statuses = {host: v["fleetpatch_compliance"]["status"] for host, v in listing["_meta"]["hostvars"].items()}
    assert statuses == compliance_lab.EXPECTED_STATUS


def without_credentials(url):
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])), parts.username, \
        urllib.parse.unquote(parts.password or "")


def test_postgres_credentials_from_options_or_from_libpq_environment(postgres_store, tmp_path):
    url, user, password = without_credentials(postgres_store)
    config = write(tmp_path, "pg.compliance.yml", "plugin: fleetpatch.patching.compliance\nstore: %s\nuser: %s\n"
                   "password: %s\n" % (json.dumps(url), json.dumps(user), json.dumps(password)))
    assert compliance_groups(graph(HOSTS, config)) == compliance_lab.EXPECTED_GROUPS
    # AWX style: FLEETPATCH_STORE without credentials, PGUSER/PGPASSWORD injected, read by libpq itself.
    assert compliance_groups(graph(HOSTS, CONFIG, env={"FLEETPATCH_STORE": url, "PGUSER": user,
                                                       "PGPASSWORD": password})) == compliance_lab.EXPECTED_GROUPS


def test_postgres_wrong_password_fails_without_showing_it(postgres_store, tmp_path):
    url, user, dummy = without_credentials(postgres_store)
    wrong = "Wr0ng-%s" % uuid.uuid4().hex[:8]
    config = write(tmp_path, "pg.compliance.yml", "plugin: fleetpatch.patching.compliance\nstore: %s\nuser: %s\n"
                   "password: %s\n" % (json.dumps(url), user, wrong))
    proc = run("ansible-inventory", *(sources(HOSTS, config) + ["--list"]), check=False)
    assert proc.returncode != 0
    assert wrong not in proc.stderr + proc.stdout
    assert says(proc.stderr, "password authentication failed")
    assert says(proc.stderr, "password=***")


# ---- errors ----------------------------------------------------------------------------------------

def test_an_unreachable_postgres_server_is_named_without_its_password(tmp_path):
    pytest.importorskip("psycopg")
    proc = run("ansible-inventory", *(sources(HOSTS, CONFIG) + ["--list"]), check=False,
               env=store_env("postgresql://fp:topsecret@127.0.0.1:9/fleet?connect_timeout=2"))
    assert proc.returncode != 0
    assert says(proc.stderr, "Failed to open history store postgresql://fp:***@127.0.0.1:9/fleet")
    assert "topsecret" not in proc.stderr + proc.stdout


def test_a_missing_sqlite_store_is_an_error_and_is_not_created(tmp_path):
    missing = tmp_path / "nowhere" / "history.sqlite"
    proc = run("ansible-inventory", *(sources(HOSTS, CONFIG) + ["--list"]), env=store_env(str(missing)), check=False)
    assert proc.returncode != 0
    assert says(proc.stderr, "the history store %s does not exist" % missing)
    assert says(proc.stderr, "fleetpatch.patching.compliance callback")
    assert not missing.parent.exists()


@pytest.mark.parametrize("config, message", [
    ("stale_days: 0\n", r"stale_days must be a whole number of days, 1 or more, got 0"),
    ("group_prefix: 1st_\n", r"group_prefix '1st_' must be letters, digits and underscores"),
    ("user: fp\n", r"user and password apply to a PostgreSQL store \(a postgresql:// URL\) only"),
    ("stale_dayz: 3\n", r"unknown option\(s\) stale_dayz"),
    ("store: ''\n", r"no history store: set store \(or FLEETPATCH_STORE\)"),
    ("store: 'postgresql://fp:topsecret@db/fleet'\npassword: other\n", r"the store URL already carries a password"),
])
def test_bad_configuration_fails_with_a_clear_message(sqlite_store, tmp_path, config, message):
    path = write(tmp_path, "bad.compliance.yml", "plugin: fleetpatch.patching.compliance\n" + config)
    proc = run("ansible-inventory", *(sources(HOSTS, path) + ["--list"]), env=store_env(sqlite_store), check=False)
    assert proc.returncode != 0
    assert says_match(proc.stderr, r"Invalid fleetpatch.patching.compliance configuration .*bad.compliance.yml: "
                      + message), proc.stderr
    assert "topsecret" not in proc.stderr


def test_verify_file_wants_the_compliance_suffix(sqlite_store, tmp_path):
    wrong = write(tmp_path, "compliance.yml", open(CONFIG).read())
    proc = run("ansible-inventory", *(sources(HOSTS, wrong) + ["--list"]), env=store_env(sqlite_store), check=False)
    assert proc.returncode != 0
    assert says(proc.stderr, "could not be verified by inventory plugin 'fleetpatch.patching.compliance'")
    for name in ("fleetpatch_compliance.yaml", "fleet.compliance.yaml"):
        right = write(tmp_path, name, open(CONFIG).read())
        assert graph(HOSTS, right, env=store_env(sqlite_store))["fleetpatch_stale"] == {"lab-apt3"}


def test_listed_first_it_sees_no_hosts_and_says_so(sqlite_store):
    proc = run("ansible-inventory", *(sources(CONFIG, HOSTS) + ["--list"]), env=store_env(sqlite_store))
    assert says(proc.stderr, "the inventory has no hosts yet")


def test_an_inventory_the_store_does_not_know_warns(sqlite_store, tmp_path):
    other = write(tmp_path, "other.yml", "all:\n  hosts:\n    web01.example.net:\n")
    proc = run("ansible-inventory", *(sources(other, CONFIG) + ["--graph"]), env=store_env(sqlite_store))
    assert says_match(proc.stderr, r"none of the 1 inventory hosts is in the history store .*history.sqlite \(7 hosts\)")
    assert "web01.example.net" in proc.stdout.split("@fleetpatch_stale:")[1]


def test_ansible_doc_renders_every_option_with_type_and_description():
    assert "fleetpatch.patching.compliance" in run("ansible-doc", "-t", "inventory",
                                                   "fleetpatch.patching.compliance").stdout
    doc = json.loads(run("ansible-doc", "-t", "inventory", "--json", "fleetpatch.patching.compliance").stdout)
    doc = doc["fleetpatch.patching.compliance"]
    options = doc["doc"]["options"]
    for name in ("plugin", "store", "user", "password", "stale_days", "add_hosts", "group_prefix", "compose",
                 "groups", "keyed_groups", "strict", "use_extra_vars", "cache", "cache_plugin", "cache_timeout",
                 "cache_connection", "cache_prefix"):
        assert options[name]["description"], name
        assert options[name].get("type") or name == "cache_prefix", name   # core's fragment gives it no type
    assert options["store"]["env"] == [{"name": "FLEETPATCH_STORE"}]
    assert options["store"]["ini"] == [{"section": "fleetpatch", "key": "store"}]
    assert "plugin: fleetpatch.patching.compliance" in doc["examples"]


def test_the_shipped_example_works_on_the_lab_shape(sqlite_store):
    example = os.path.join(REPO, "inventory", "compliance.example.compliance.yml")
    groups = graph(HOSTS, example, env=store_env(sqlite_store))
    assert compliance_groups(groups) == compliance_lab.EXPECTED_GROUPS
    assert groups["compliance_non_compliant"] == {"lab-apt2"}
    assert groups["critical_missing"] == {"lab-apt2"}
    assert groups["fleetpatch_up_to_date"] == {"lab-apt1"}      # lab-apt3 is compliant but stale


def test_rings_after_compliance_leave_up_to_date_hosts_out_of_the_rollout(sqlite_store, tmp_path):
    """The documented way to roll out to the hosts that need it only (a --limit would skip the gates)."""
    directory = tmp_path / "production"
    directory.mkdir()
    shutil.copy(HOSTS, str(directory / "10-hosts.yml"))
    shutil.copy(os.path.join(REPO, "inventory", "compliance.example.compliance.yml"),
                str(directory / "50-fleet.compliance.yml"))
    (directory / "90-fleet.rings.yml").write_text(open(os.path.join(FIXTURES, "lab.rings.yml")).read()
                                                  + "exclude_groups: [fleetpatch_up_to_date]\n")
    groups = graph(str(directory), env=store_env(sqlite_store))
    assert groups["fleetpatch_ring_excluded"] == {"lab-apt1"}
    assert groups["fleetpatch_ring_test"] == {"lab-dnf1", "lab-zypper1"}
    ringed = groups["fleetpatch_ring_pilot"] | groups["fleetpatch_ring_production"]
    assert ringed == {"lab-apt2", "lab-apt3", "lab-apt4"}


def test_the_store_is_read_not_written(sqlite_store):
    before = os.stat(sqlite_store).st_mtime_ns
    graph(HOSTS, CONFIG, env=store_env(sqlite_store))
    assert os.stat(sqlite_store).st_mtime_ns == before
