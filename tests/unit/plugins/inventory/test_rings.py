"""Ring assignment rules of the fleetpatch.patching.rings inventory plugin (pure helpers)."""
import collections
import hashlib
import math
import random

import pytest
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._inventory import rings as _rings
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._inventory.rings import HostFacts, RingsConfigError

DEFAULT = _rings.parse_rings(None)
THREE = _rings.parse_rings([{"name": "test", "fraction": 0.05}, {"name": "pilot", "fraction": 0.1},
                            {"name": "production"}])


def assign(hosts, rings=DEFAULT, rules=None, **kwargs):
    return _rings.assign_rings(hosts, rings, _rings.parse_group_rules(rules or {}, rings), **kwargs)


def fleet(count, prefix="h", sites=None, rng=None):
    rng = rng or random.Random(0)
    return [HostFacts("%s%05d" % (prefix, i), bucket=None if sites is None else rng.choice(sites))
            for i in range(count)]


# --- the hash ---------------------------------------------------------------------------------

def test_sample_point_is_sha256_of_seed_and_hostname():
    expected = int(hashlib.sha256(b"s1web01.example.net").hexdigest()[:16], 16) / 2.0 ** 64
    assert _rings.sample_point("s1", "web01.example.net") == expected
    assert 0.0 <= expected < 1.0
    assert _rings.sample_point("s2", "web01.example.net") != expected


def test_sampled_ring_takes_cumulative_shares_and_the_last_ring_the_rest():
    assert _rings.sample_bounds(THREE) == pytest.approx([0.05, 0.15])
    assert [_rings.sampled_ring(p, THREE) for p in (0.0, 0.0499, 0.05, 0.1499, 0.1501, 0.9999)] == [
        "test", "test", "pilot", "pilot", "production", "production"]


# --- precedence -------------------------------------------------------------------------------

def test_precedence_variable_then_group_rule_then_sample():
    hosts = [
        HostFacts("explicit", explicit_ring="production", groups=frozenset({"db_canary"})),
        HostFacts("ruled", groups=frozenset({"db_canary", "web"})),
        HostFacts("sampled", groups=frozenset({"web"})),
    ]
    result = assign(hosts, rules={"test": ["db_canary"]})
    assert result["explicit"][:2] == ("production", "var")
    assert result["ruled"][:2] == ("test", "group_rule")
    assert result["sampled"].source == "sample"
    assert result["sampled"].ring == _rings.sampled_ring(_rings.sample_point("", "sampled"), DEFAULT)


def test_exclusion_wins_over_variable_and_rules():
    hosts = [HostFacts("frozen", explicit_ring="test", groups=frozenset({"db_canary"}), excluded=True)]
    assert assign(hosts, rules={"test": ["db_canary"]})["frozen"] == (None, None, None)


def test_earliest_ring_wins_when_rules_disagree_and_ring_groups_count_as_rules():
    hosts = [HostFacts("both", groups=frozenset({"payments", "db_canary"})),
             HostFacts("grouped", groups=frozenset({"fleetpatch_ring_pilot"})),
             HostFacts("grouped_and_pinned", groups=frozenset({"fleetpatch_ring_pilot", "payments"}))]
    result = assign(hosts, rules={"test": ["db_canary"], "production": ["payments"]})
    assert result["both"][:2] == ("test", "group_rule")
    assert result["grouped"][:2] == ("pilot", "group_rule")
    assert result["grouped_and_pinned"][:2] == ("pilot", "group_rule")


def test_an_explicit_ring_that_is_not_configured_is_refused():
    with pytest.raises(RingsConfigError, match=r"host web1 has fleetpatch_ring='prod', which is not one of the "
                                               r"configured rings \(test, pilot, production\)"):
        assign([HostFacts("web1", explicit_ring="prod")])


def test_an_empty_explicit_ring_means_no_choice():
    assert assign([HostFacts("web1", explicit_ring="")])["web1"].source == "sample"


# --- stability --------------------------------------------------------------------------------

def test_same_inventory_same_rings_whatever_the_order():
    hosts = fleet(3000, sites=["a", "b", "c", "d"])
    shuffled = list(hosts)
    random.Random(7).shuffle(shuffled)
    assert assign(hosts, THREE, seed="x") == assign(shuffled, THREE, seed="x")
    assert assign(hosts, THREE, seed="x", spread_by_bucket=True) == assign(shuffled, THREE, seed="x",
                                                                           spread_by_bucket=True)


def test_adding_or_removing_hosts_moves_no_other_host():
    rng = random.Random(1)
    hosts = fleet(5000)
    before = assign(hosts, THREE, seed="s")
    for batch in range(5):
        hosts += [HostFacts("new-%d-%d.example.net" % (batch, i)) for i in range(rng.randint(1, 400))]
        after = assign(hosts, THREE, seed="s")
        assert {h: after[h] for h in before} == before
        before = after
    survivors = hosts[::3]
    after = assign(survivors, THREE, seed="s")
    assert all(after[h.name] == before[h.name] for h in survivors)


def test_a_rank_based_selection_would_have_moved_hosts():
    """The property above is not vacuous: picking the 10 % lowest points (a rank) does move hosts."""
    def rank_based(names):
        ranked = sorted(names, key=lambda n: _rings.sample_point("s", n))
        return set(ranked[:len(ranked) // 10])
    names = ["h%05d" % i for i in range(1000)]
    grown = names + ["new%03d" % i for i in range(100)]
    assert (rank_based(names) ^ rank_based(grown)) & set(names)

    def threshold(hosts):
        return {n for n, a in assign(hosts, DEFAULT, seed="s").items() if a.ring == "pilot"}
    assert threshold([HostFacts(n) for n in names]) <= threshold([HostFacts(n) for n in grown])


def test_with_spread_adding_a_host_moves_only_spread_corrected_hosts_of_its_own_bucket():
    rng = random.Random(3)
    moves = collections.Counter()
    for trial in range(150):
        fractions = [rng.uniform(0.01, 0.4) for dummy in range(rng.randint(1, 3))]
        rings = _rings.parse_rings([{"name": "r%d" % i, "fraction": f} for i, f in enumerate(fractions)]
                                   + [{"name": "last"}])
        sites = ["s%d" % i for i in range(rng.randint(1, 25))]
        hosts = [HostFacts("t%d-h%d" % (trial, i), groups=frozenset({"canary"}) if rng.random() < 0.05 else frozenset(),
                           excluded=rng.random() < 0.02, bucket=rng.choice(sites))
                 for i in range(rng.randint(2, 150))]
        before = assign(hosts, rings, {"r0": ["canary"]}, seed="x", spread_by_bucket=True)
        for step in range(6):
            added = HostFacts("t%d-new%d" % (trial, step), bucket=rng.choice(sites))
            hosts.append(added)
            after = assign(hosts, rings, {"r0": ["canary"]}, seed="x", spread_by_bucket=True)
            moved = [h for h in before if before[h].ring != after[h].ring]
            bucket = {h.name: h.bucket for h in hosts}
            for name in moved:
                assert bucket[name] == added.bucket
                assert "spread" in (before[name].source, after[name].source)
            assert len(moved) <= len(rings)
            moves[len(moved)] += 1
            before = after
    assert moves[0] > 0.7 * sum(moves.values())


# --- spread -----------------------------------------------------------------------------------

def site_fleet(rng, count=10000):
    sizes = {"site%03d" % i: rng.choice([1, 2, 3, 5, 8, 10, 12, 20, 40, 150]) for i in range(400)}
    pool = [site for site, size in sizes.items() for dummy in range(size)]
    return [HostFacts("node%05d.%s" % (i, site), bucket=site) for i, site in enumerate(rng.sample(pool, count))]


def test_spread_every_big_enough_site_has_a_pilot_and_no_site_is_patched_before_the_last_ring():
    hosts = site_fleet(random.Random(5))
    result = assign(hosts, THREE, seed="fleet", spread_by_bucket=True)
    by_site = collections.defaultdict(list)
    for host in hosts:
        by_site[host.bucket].append(result[host.name].ring)
    checked = collections.Counter()
    for site, rings in by_site.items():
        for ring in THREE[:-1]:
            if len(rings) >= math.ceil(1 / ring.fraction):  # 20 for test, 10 for pilot
                assert ring.name in rings, (site, rings)
                checked[ring.name] += 1
        if len(rings) >= 2:
            assert "production" in rings, (site, rings)
            checked["kept_out"] += 1
    assert checked["pilot"] > 50 and checked["test"] > 20 and checked["kept_out"] > 200
    # Without spread the same fleet breaks the properties somewhere: the corrections do the work.
    plain = assign(hosts, THREE, seed="fleet")
    plain_by_site = collections.defaultdict(list)
    for host in hosts:
        plain_by_site[host.bucket].append(plain[host.name].ring)
    assert any(len(rings) >= 2 and "production" not in rings for rings in plain_by_site.values())
    assert any(len(rings) >= 10 and "pilot" not in rings for rings in plain_by_site.values())


def test_spread_min_hosts_per_ring():
    assert [_rings.spread_min_hosts(r) for r in THREE] == [20, 10, 0]
    assert _rings.spread_min_hosts(_rings.Ring("x", 0.07)) == 15
    assert _rings.spread_min_hosts(_rings.Ring("x", 0.3)) == 4
    assert _rings.spread_min_hosts(_rings.Ring("x", 0.0)) == 0
    assert _rings.spread_min_hosts(_rings.Ring("x", 0.1), override=2) == 2


def test_spread_keeps_one_host_out_and_never_moves_explicit_or_ruled_hosts():
    rings = _rings.parse_rings([{"name": "pilot", "fraction": 1.0}, {"name": "production"}])
    hosts = [HostFacts("a1", bucket="a"), HostFacts("a2", bucket="a"), HostFacts("a3", bucket="a"),
             HostFacts("b1", explicit_ring="pilot", bucket="b"), HostFacts("b2", groups=frozenset({"can"}), bucket="b"),
             HostFacts("c1", bucket="c")]
    result = assign(hosts, rings, {"pilot": ["can"]}, spread_by_bucket=True)
    site_a = sorted(result[n].ring for n in ("a1", "a2", "a3"))
    assert site_a == ["pilot", "pilot", "production"]
    moved = [n for n in ("a1", "a2", "a3") if result[n].ring == "production"][0]
    assert result[moved].source == "spread"
    assert result[moved].point == max(result[n].point for n in ("a1", "a2", "a3"))
    assert result["b1"][:2] == ("pilot", "var") and result["b2"][:2] == ("pilot", "group_rule")
    assert result["c1"][:2] == ("pilot", "sample")  # a bucket of one host is left alone


def test_hosts_without_a_bucket_are_not_spread():
    rings = _rings.parse_rings([{"name": "pilot", "fraction": 1.0}, {"name": "production"}])
    result = assign([HostFacts("x1"), HostFacts("x2")], rings, spread_by_bucket=True)
    assert {a.ring for a in result.values()} == {"pilot"}


@pytest.mark.parametrize("spread", [False, True])
def test_fractions_are_roughly_honoured_on_10000_hosts(spread):
    hosts = site_fleet(random.Random(11)) if spread else fleet(10000)
    counts = _rings.ring_counts(assign(hosts, THREE, seed="fleet", spread_by_bucket=spread), THREE)
    assert sum(counts.values()) == 10000
    assert counts["test"] / 10000 == pytest.approx(0.05, abs=0.012)
    assert counts["pilot"] / 10000 == pytest.approx(0.10, abs=0.015)
    assert counts["production"] / 10000 == pytest.approx(0.85, abs=0.02)


def test_bucket_key():
    assert _rings.bucket_key(None) is None and _rings.bucket_key("") is None and _rings.bucket_key([]) is None
    assert _rings.bucket_key("paris") == "paris" and _rings.bucket_key(3) == "3"
    assert _rings.bucket_key(["b", "a"]) == _rings.bucket_key(["a", "b"]) == ("a", "b")


# --- configuration ----------------------------------------------------------------------------

def test_default_rings():
    assert DEFAULT == (("test", 0.0), ("pilot", 0.1), ("production", None))


@pytest.mark.parametrize("rings, message", [
    ([], "rings must be a non-empty list"),
    ("test", "rings must be a non-empty list"),
    ([{"fraction": 0.1}, {"name": "b"}], r"rings entry 1: name None must be letters, digits and underscores"),
    ([{"name": "pi lot", "fraction": 0.1}, {"name": "b"}], "must be letters, digits and underscores"),
    ([{"name": "excluded", "fraction": 0.1}, {"name": "b"}], "'excluded' is reserved"),
    ([{"name": "a", "fraction": 0.1}, {"name": "a"}], "ring 'a' is listed twice"),
    ([{"name": "a", "fraction": 0.1}, {"name": "b", "fraction": 0.9}],
     r"'b' is the last ring and takes every sampled host .* remove its fraction"),
    ([{"name": "a", "fraction": 0.6}, {"name": "b", "fraction": 0.5}, {"name": "c"}],
     r"the ring fractions add up to 1.1 \(a=0.6, b=0.5\); they must add up to at most 1"),
    ([{"name": "a", "fraction": -0.1}, {"name": "b"}], "ring 'a': fraction must be between 0 and 1"),
    ([{"name": "a", "fraction": "ten"}, {"name": "b"}], "ring 'a': fraction must be a number"),
    ([{"name": "a", "fraction": True}, {"name": "b"}], "ring 'a': fraction must be a number"),
    ([{"name": "a", "share": 0.1}, {"name": "b"}], r"unknown key\(s\) share"),
])
def test_bad_rings_are_refused(rings, message):
    with pytest.raises(RingsConfigError, match=message):
        _rings.parse_rings(rings)


def test_fractions_may_add_up_to_exactly_one_and_names_may_be_bare_strings():
    rings = _rings.parse_rings([{"name": "a", "fraction": 0.7}, {"name": "b", "fraction": 0.3}, "c"])
    assert rings[-1] == ("c", None)
    assert _rings.parse_rings(["only"]) == (("only", None),)


@pytest.mark.parametrize("rules, message", [
    ({"canary": ["db"]}, r"group_rules names ring\(s\) 'canary' that rings does not define "
                         r"\(rings: test, pilot, production\)"),
    ({"test": ["db"], "pilot": ["db"]}, "group 'db' is in the group_rules of both 'test' and 'pilot'"),
    ({"test": {"db": 1}}, "group_rules.test must be a list of group names"),
    ({"test": [None]}, "group_rules.test: None is not a group name"),
    (["test"], "group_rules must map a ring name to a list of groups"),
])
def test_bad_group_rules_are_refused(rules, message):
    with pytest.raises(RingsConfigError, match=message):
        _rings.parse_group_rules(rules, DEFAULT)


def test_group_rules_add_every_ring_group():
    assert _rings.parse_group_rules({"test": "db_canary"}, DEFAULT) == {
        "db_canary": "test", "fleetpatch_ring_test": "test", "fleetpatch_ring_pilot": "pilot",
        "fleetpatch_ring_production": "production"}


@pytest.mark.parametrize("value, expected", [
    (True, True), (False, False), (None, False), ("yes", True), ("True", True), ("1", True), (1, True),
    ("no", False), ("false", False), ("", False), (0, False)])
def test_exclusion_flags(value, expected):
    assert _rings.parse_flag(value, "fleetpatch_exclude") is expected


def test_an_exclusion_flag_that_is_not_a_boolean_is_refused():
    with pytest.raises(RingsConfigError, match=r"fleetpatch_exclude on host a must be a boolean, got 'maybe'"):
        _rings.parse_flag("maybe", "fleetpatch_exclude on host a")
