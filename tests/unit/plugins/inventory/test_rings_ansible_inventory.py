"""The rings inventory plugin through the real `ansible-inventory` and `ansible-doc`, on the lab's inventory shape.

fixtures/lab_hosts.yml is the lab inventory without its fleetpatch_ring variables and groups; the
plugin has to place lab-dnf1 and lab-zypper1 by group rule and the apt hosts by the hashed sample.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(HERE))))
BIN = os.path.dirname(sys.executable)
HOSTS = os.path.join(FIXTURES, "lab_hosts.yml")
OVERRIDES = os.path.join(FIXTURES, "lab_overrides.yml")
RINGS = os.path.join(FIXTURES, "lab.rings.yml")
LAB = {"lab-apt1", "lab-apt2", "lab-apt3", "lab-apt4", "lab-dnf1", "lab-zypper1"}


def run(tool, *args, check=True):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
               ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="1", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    env.pop("ANSIBLE_INVENTORY", None)
    proc = subprocess.run([os.path.join(BIN, tool)] + list(args), capture_output=True, text=True, env=env,
                          check=False, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError("%s %s failed (%d):\n%s" % (tool, " ".join(args), proc.returncode, proc.stderr))
    return proc


def inventory_list(*sources, extra=()):
    args = []
    for source in sources:
        args += ["-i", source]
    return json.loads(run("ansible-inventory", *(args + ["--list"] + list(extra))).stdout)


def members(listing, group):
    return set(listing.get(group, {}).get("hosts", []))


def ring_groups(listing):
    return {name: members(listing, name) for name in listing
            if name.startswith("fleetpatch_ring_")}


def test_graph_shows_rings_by_group_rule_and_sample():
    graph = run("ansible-inventory", "-i", HOSTS, "-i", RINGS, "--graph").stdout
    groups, current = {}, None
    for line in graph.splitlines():
        match = re.match(r"^[ |]*--@(\S+):$", line)
        if match:
            current = groups.setdefault(match.group(1), set())
        elif current is not None and re.match(r"^[ |]*--(\S+)$", line):
            current.add(line.rsplit("--", 1)[1])
    assert groups["fleetpatch_ring_test"] == {"lab-dnf1", "lab-zypper1"}  # group_rules: lab_dnf, lab_zypper
    assert groups["fleetpatch_ring_pilot"] == {"lab-apt1"}  # sample point 0.039 < 0.25 with seed "lab"
    assert groups["fleetpatch_ring_production"] == {"lab-apt2", "lab-apt3", "lab-apt4"}
    assert groups["fleetpatch_ring_excluded"] == set()
    assert groups["lab_apt"] == {"lab-apt1", "lab-apt2", "lab-apt3", "lab-apt4"}  # the source's groups untouched


def test_list_sets_ring_and_source_with_variable_first_and_exclusion():
    listing = inventory_list(HOSTS, OVERRIDES, RINGS)
    hostvars = listing["_meta"]["hostvars"]
    got = {host: (v["fleetpatch_ring"], v["fleetpatch_ring_source"]) for host, v in hostvars.items()}
    assert got == {
        "lab-dnf1": ("test", "group_rule"),
        "lab-zypper1": ("test", "group_rule"),
        "lab-apt1": ("pilot", "sample"),
        "lab-apt2": ("pilot", "var"),          # its own fleetpatch_ring beats the sample (production)
        "lab-apt3": ("production", "sample"),
        "lab-apt4": (None, "excluded"),        # fleetpatch_exclude: true
    }
    assert ring_groups(listing) == {
        "fleetpatch_ring_test": {"lab-dnf1", "lab-zypper1"},
        "fleetpatch_ring_pilot": {"lab-apt1", "lab-apt2"},
        "fleetpatch_ring_production": {"lab-apt3"},
        "fleetpatch_ring_excluded": {"lab-apt4"},
    }


def test_extra_vars_never_move_hosts(tmp_path):
    config = tmp_path / "extra.rings.yml"
    config.write_text(open(RINGS).read() + "use_extra_vars: true\nspread_by: site\n")
    plain = ring_groups(inventory_list(HOSTS, str(config)))
    with_extra = ring_groups(inventory_list(HOSTS, str(config), extra=["-e", "fleetpatch_ring=production",
                                                                       "-e", "fleetpatch_exclude=true"]))
    assert with_extra == plain
    assert not plain.get("fleetpatch_ring_excluded")


def test_spread_and_keyed_groups_on_the_assigned_ring(tmp_path):
    config = tmp_path / "spread.rings.yml"
    config.write_text(
        "plugin: fleetpatch.patching.rings\n"
        "rings: [{name: pilot, fraction: 0.5}, {name: production}]\n"
        "spread_by: '{{ site | upper }}'\n"
        "keyed_groups:\n  - key: fleetpatch_ring ~ '_' ~ site\n    prefix: ring\n"
        "compose:\n  patch_wave: fleetpatch_ring_source\n")
    listing = inventory_list(HOSTS, str(config))
    rings = ring_groups(listing)
    sites = {"north": {"lab-apt1", "lab-dnf1"}, "south": {"lab-zypper1", "lab-apt2"}, "east": {"lab-apt3", "lab-apt4"}}
    for site, hosts in sites.items():  # two hosts a site, spread_min_hosts 2: one pilot, one production each
        assert len(hosts & rings["fleetpatch_ring_pilot"]) == 1, site
        assert members(listing, "ring_pilot_" + site) | members(listing, "ring_production_" + site) == hosts
    hostvars = listing["_meta"]["hostvars"]
    assert hostvars["lab-apt1"]["patch_wave"] == "spread"  # both north hosts sampled into production; 0.542 < 0.849
    assert {v["fleetpatch_ring_source"] for v in hostvars.values()} == {"sample", "spread"}


def test_use_vars_plugins_reads_host_vars_files(tmp_path):
    shutil.copy(HOSTS, tmp_path / "hosts.yml")
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "lab-apt3.yml").write_text("fleetpatch_ring: test\n")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "lab_zypper.yml").write_text("fleetpatch_exclude: yes\n")
    config = tmp_path / "zz.rings.yml"
    config.write_text(open(RINGS).read())
    without = inventory_list(str(tmp_path / "hosts.yml"), str(config))["_meta"]["hostvars"]
    assert without["lab-apt3"]["fleetpatch_ring_source"] == "sample"
    config.write_text(open(RINGS).read() + "use_vars_plugins: true\n")
    listing = inventory_list(str(tmp_path / "hosts.yml"), str(config))
    assert listing["_meta"]["hostvars"]["lab-apt3"]["fleetpatch_ring_source"] == "var"
    assert members(listing, "fleetpatch_ring_test") == {"lab-apt3", "lab-dnf1"}
    assert members(listing, "fleetpatch_ring_excluded") == {"lab-zypper1"}


def test_ring_groups_of_earlier_sources_are_respected_and_kept_exclusive(tmp_path):
    static = tmp_path / "static.yml"
    static.write_text("all:\n  children:\n    fleetpatch_ring_production:\n      hosts:\n        lab-dnf1:\n"
                      "        lab-apt1:\n    fleetpatch_ring_pilot:\n      hosts:\n        lab-apt1:\n")
    listing = inventory_list(HOSTS, str(static), RINGS)
    rings = ring_groups(listing)
    # lab-dnf1: the rule for lab_dnf (test) comes before its production group; lab-apt1: pilot is earlier.
    assert rings["fleetpatch_ring_test"] == {"lab-dnf1", "lab-zypper1"}
    assert rings["fleetpatch_ring_pilot"] == {"lab-apt1"}
    assert rings["fleetpatch_ring_production"] == {"lab-apt2", "lab-apt3", "lab-apt4"}
    placed = [h for hosts in rings.values() for h in hosts]
    assert sorted(placed) == sorted(LAB)


def test_a_hand_made_excluded_group_keeps_its_hosts_out_of_every_ring(tmp_path):
    """Issue 14: a host in a hand-made fleetpatch_ring_excluded group still got a ring and was patched."""
    static = tmp_path / "static.yml"
    static.write_text("all:\n  children:\n    fleetpatch_ring_excluded:\n      hosts:\n        lab-dnf1:\n"
                      "        lab-apt2:\n          fleetpatch_ring: pilot\n")
    listing = inventory_list(HOSTS, str(static), RINGS)
    rings = ring_groups(listing)
    assert rings["fleetpatch_ring_excluded"] == {"lab-dnf1", "lab-apt2"}
    assert all(not hosts & {"lab-dnf1", "lab-apt2"} for name, hosts in rings.items()
               if name != "fleetpatch_ring_excluded")
    hostvars = listing["_meta"]["hostvars"]
    assert hostvars["lab-apt2"]["fleetpatch_ring"] is None and hostvars["lab-dnf1"]["fleetpatch_ring_source"] == "excluded"


@pytest.mark.parametrize("config, message", [
    ("group_rules:\n  canary: [lab_dnf]\n",
     r"group_rules names ring\(s\) 'canary' that rings does not define \(rings: test, pilot, production\)"),
    ("rings:\n  - {name: a, fraction: 0.7}\n  - {name: b, fraction: 0.6}\n  - {name: c}\n",
     r"the ring fractions add up to 1.3"),
    ("rings: []\n", r"rings must be a non-empty list"),
    ("spread_by: 'site |'\n", r"spread_by 'site \|' is not a Jinja2 expression"),
])
def test_bad_configuration_fails_with_a_clear_message(tmp_path, config, message):
    path = tmp_path / "bad.rings.yml"
    path.write_text("plugin: fleetpatch.patching.rings\n" + config)
    proc = run("ansible-inventory", "-i", HOSTS, "-i", str(path), "--list", check=False)
    assert proc.returncode != 0
    assert re.search(r"Invalid fleetpatch.patching.rings configuration .*bad.rings.yml: " + message,
                     proc.stderr), proc.stderr


def test_an_unknown_explicit_ring_fails_naming_the_host(tmp_path):
    path = tmp_path / "typo.yml"
    path.write_text("all:\n  hosts:\n    lab-apt3: {fleetpatch_ring: prod}\n")
    proc = run("ansible-inventory", "-i", HOSTS, "-i", str(path), "-i", RINGS, "--list", check=False)
    assert proc.returncode != 0
    assert "host lab-apt3 has fleetpatch_ring='prod', which is not one of the configured rings" in proc.stderr


def test_verify_file_wants_the_rings_suffix(tmp_path):
    wrong = tmp_path / "lab.yml"
    wrong.write_text(open(RINGS).read())
    proc = run("ansible-inventory", "-i", HOSTS, "-i", str(wrong), "--list", check=False)
    assert proc.returncode != 0
    assert "could not be verified by inventory plugin 'fleetpatch.patching.rings'" in proc.stderr
    for name in ("fleetpatch_rings.yml", "fleet.rings.yaml"):
        right = tmp_path / name
        right.write_text(open(RINGS).read())
        assert members(inventory_list(HOSTS, str(right)), "fleetpatch_ring_pilot") == {"lab-apt1"}


def test_a_rings_source_listed_first_sees_no_hosts_and_says_so():
    proc = run("ansible-inventory", "-i", RINGS, "-i", HOSTS, "--list")
    assert "the inventory has no hosts yet" in re.sub(r"\s+", " ", proc.stderr)


def test_ansible_doc_renders_every_option_with_type_and_description():
    assert "fleetpatch.patching.rings" in run("ansible-doc", "-t", "inventory", "fleetpatch.patching.rings").stdout
    doc = json.loads(run("ansible-doc", "-t", "inventory", "--json", "fleetpatch.patching.rings").stdout)
    doc = doc["fleetpatch.patching.rings"]
    options = doc["doc"]["options"]
    for name in ("plugin", "rings", "group_rules", "exclude_groups", "exclude_var", "spread_by", "spread_min_hosts",
                 "seed", "use_vars_plugins", "compose", "groups", "keyed_groups", "strict", "use_extra_vars"):
        assert options[name]["description"], name
        assert options[name]["type"], name
    assert options["seed"]["env"] == [{"name": "FLEETPATCH_RINGS_SEED"}]
    assert "plugin: fleetpatch.patching.rings" in doc["examples"]


def test_the_shipped_example_works_on_its_example_fleet():
    listing = inventory_list(os.path.join(REPO, "inventory", "rings.example.hosts.yml"),
                             os.path.join(REPO, "inventory", "rings.example.rings.yml"))
    hostvars = listing["_meta"]["hostvars"]
    sources = {host: v["fleetpatch_ring_source"] for host, v in hostvars.items()}
    assert sources["build01.example.net"] == "var"
    assert sources["db01.mad.example.net"] == "group_rule" and hostvars["db01.mad.example.net"]["fleetpatch_ring"] == "test"
    assert hostvars["db01.par.example.net"]["fleetpatch_ring"] == "production"
    assert members(listing, "fleetpatch_ring_excluded") == {"web04.par.example.net", "legacy01.example.net"}
    for site in ("paris", "berlin", "madrid"):  # spread_min_hosts 3: every site has a pilot host
        assert members(listing, "ring_pilot_" + site), site
    assert not [group for group in listing if group.startswith("ring_None")]
