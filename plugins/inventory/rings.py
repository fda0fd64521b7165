# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: rings
short_description: Assign every host of the inventory to a rollout ring
version_added: 0.1.0
author:
  - fleetpatch contributors (@fleetpatch)
description:
  - Runs after the other inventory sources, like P(ansible.builtin.constructed#inventory), and puts every host they
    loaded into one rollout ring (by default V(test), V(pilot), V(production)), for
    C(playbooks/rollout.yml) and the C(fleetpatch.patching.gate) role.
  - "Precedence, first match wins: an excluded host gets no ring; then the host's own C(fleetpatch_ring)
    variable; then O(group_rules) (every host of a listed group; the earliest ring wins when several
    match; a host already in a C(fleetpatch_ring_<ring>) group counts as a rule for that ring); then a
    stable hashed sample of the remaining hosts: ring I(i) takes the hosts whose sample point
    (the first 8 bytes of sha256(O(seed) + hostname) divided by 2^64) falls in its share of [0, 1),
    the last ring takes the rest."
  - The same inventory always yields the same rings, and a host's sampled ring depends on its own
    name only, so adding or removing hosts never moves another host. With O(spread_by) set, a few
    corrections within each spread bucket can also move (see O(spread_by)); they are marked
    C(fleetpatch_ring_source=spread).
  - Creates the groups C(fleetpatch_ring_<ring>) (each host in exactly one of them) and
    C(fleetpatch_ring_excluded), and sets the host variables C(fleetpatch_ring) (null for excluded
    hosts) and C(fleetpatch_ring_source) (V(var), V(group_rule), V(sample), V(spread) or V(excluded)).
  - The C(fleetpatch_ring) and exclusion variables are read from the inventory only, never from extra
    vars, so C(-e fleetpatch_ring=pilot) on a playbook never moves hosts.
  - Then O(compose), O(groups) and O(keyed_groups) run, and can use C(fleetpatch_ring).
  - The configuration file name must end with C(.rings.yml) or C(.rings.yaml), or be C(fleetpatch_rings.yml)
    or C(fleetpatch_rings.yaml). List it after the sources that load the hosts (C(-i hosts.yml -i fleet.rings.yml),
    or in an inventory directory name it so that it sorts last).
  - See C(docs/inventory.md) in the collection for the full rules and the use as an AWX inventory source.
options:
  plugin:
    description: The name of this plugin; it makes the file a configuration for it.
    required: true
    type: str
    choices: [fleetpatch.patching.rings]
  rings:
    description:
      - The rings in rollout order. Each entry has a O(rings[].name) and, except the last, a
        O(rings[].fraction) of the sampled hosts (hosts not placed by their variable or a group rule).
      - The fractions must add up to at most 1; the last ring takes every sampled host the others do not.
    type: list
    elements: dict
    default:
      - name: test
        fraction: 0.0
      - name: pilot
        fraction: 0.1
      - name: production
    suboptions:
      name:
        description: The ring name (letters, digits, underscores); its group is C(fleetpatch_ring_<name>).
        type: str
        required: true
      fraction:
        description:
          - Share of the sampled hosts this ring takes, from 0 to 1. Not allowed on the last ring.
          - Omitted or V(0) means the ring holds only hosts placed by their variable or a group rule.
        type: float
  group_rules:
    description:
      - "Ring name to the list of groups whose hosts go into that ring, for example C({test: [db_canary]})."
      - Groups count with their child groups. A host in groups of several rings goes into the earliest ring.
      - A group may lead to one ring only; a ring not in O(rings) is an error.
    type: dict
    default: {}
  exclude_groups:
    description:
      - Hosts of these groups (or their child groups) get no ring and go into the group C(fleetpatch_ring_excluded).
      - Hosts an earlier inventory source put in C(fleetpatch_ring_excluded) itself are always excluded.
      - Exclusion wins over every other rule.
    type: list
    elements: str
    default: []
    env:
      - name: FLEETPATCH_RINGS_EXCLUDE_GROUPS
  exclude_var:
    description:
      - A host whose inventory variable of this name is true (V(true), V(yes), V(1)...) gets no ring and goes
        into the group C(fleetpatch_ring_excluded). A value that is not a boolean is an error.
      - Set to an empty string to turn variable exclusion off.
    type: str
    default: fleetpatch_exclude
    env:
      - name: FLEETPATCH_RINGS_EXCLUDE_VAR
  spread_by:
    description:
      - A variable name or a Jinja2 expression evaluated per host (for example V(site), or
        V(group_names | select('match', 'app_') | first)) whose value is the host's spread bucket.
      - "Within each bucket the sampled hosts are corrected after sampling: (1) for every ring but the
        last with a fraction f > 0, a bucket of at least O(spread_min_hosts) ringed hosts (default ceil(1/f),
        a bucket whose share is at least one host) with no host in that ring gets one, the bucket's
        sampled host of the last ring with the lowest sample point; (2) a bucket of at least 2 ringed
        hosts with none in the last ring gets one, a sampled host of its fullest earlier ring with the
        highest sample point. So no bucket of two hosts or more is patched entirely before the last ring."
      - Only sampled hosts move; hosts placed by their variable or a group rule never do.
      - Adding a host can move, besides none of the hosts of other buckets, only hosts of its own bucket
        whose source is (or becomes) V(spread).
      - Hosts whose key is undefined or empty are in no bucket (an error with O(strict)).
    type: str
    env:
      - name: FLEETPATCH_RINGS_SPREAD_BY
  spread_min_hosts:
    description:
      - The bucket size from which every ring with a fraction above 0 must hold a host of the bucket.
      - Default, per ring, ceil(1/fraction), for example 10 for a fraction of 0.1.
    type: int
  seed:
    description:
      - Mixed into the hash of every host name. Changing it reshuffles the sampled hosts, once, on purpose.
    type: str
    default: ''
    env:
      - name: FLEETPATCH_RINGS_SEED
  use_vars_plugins:
    description:
      - Also read variables that vars plugins provide (the C(host_vars/) and C(group_vars/) directories next
        to the inventory) when looking at C(fleetpatch_ring), the exclusion variable and O(spread_by).
      - Off by default because it is slower. Turn it on when you set C(fleetpatch_ring) or
        C(fleetpatch_exclude) in C(host_vars/) or C(group_vars/) files; otherwise the plugin does not see them.
    type: bool
    default: false
extends_documentation_fragment:
  - constructed
notes:
  - The plugin reads the hosts that earlier sources loaded; listed first, it sees none and warns.
  - Caching does not apply; the assignment is computed from the inventory, quickly (10,000 hosts well under a second).
seealso:
  - plugin: ansible.builtin.constructed
    plugin_type: inventory
"""

EXAMPLES = r"""
# fleet.rings.yml - the defaults: 10 % of the hosts in pilot, the rest in production,
# the test ring only from explicit fleetpatch_ring variables.
# ansible-inventory -i hosts.yml -i fleet.rings.yml --graph
plugin: fleetpatch.patching.rings
---
# site.rings.yml - canaries by group, a sample spread across sites, exclusions.
plugin: fleetpatch.patching.rings
rings:
  - name: test
    fraction: 0.0
  - name: pilot
    fraction: 0.1
  - name: production
group_rules:
  test: [db_canary, lab_dnf]
  production: [payments_db]
exclude_groups: [frozen]
exclude_var: fleetpatch_exclude
spread_by: site
seed: "2025"
keyed_groups:
  - key: "(fleetpatch_ring ~ '_' ~ site) if fleetpatch_ring else ''"
    prefix: ring_site
---
# four rings, spread across application groups
plugin: fleetpatch.patching.rings
rings:
  - {name: canary, fraction: 0.01}
  - {name: early, fraction: 0.05}
  - {name: broad, fraction: 0.3}
  - {name: late}
spread_by: group_names | select('match', '^app_') | sort | first | default('')
"""

import os
import re
from typing import TYPE_CHECKING

from jinja2 import Environment, meta

from ansible.errors import AnsibleParserError
from ansible.inventory.helpers import get_group_vars
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable
from ansible.utils.vars import combine_vars

from ansible_collections.fleetpatch.patching.plugins.plugin_utils._inventory import rings as _rings

if TYPE_CHECKING:
    from ansible.inventory.data import InventoryData
    from ansible.parsing.dataloader import DataLoader

try:
    from ansible.vars.plugins import get_vars_from_inventory_sources
except ImportError:  # pragma: no cover - present in every supported ansible-core
    get_vars_from_inventory_sources = None

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core < 2.19: plain strings are already serialized as plain strings
    def trust_as_template(value: str) -> str:
        return value

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FILE_NAMES = ("fleetpatch_rings.yml", "fleetpatch_rings.yaml")
_SUFFIXES = (".rings.yml", ".rings.yaml")
_MISSING = object()
_BRACES = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.S)


def _freeze(value):
    """A hashable stand-in for a variable value, distinct for values that template differently."""
    if value is _MISSING:
        return ("missing",)
    if value is None or isinstance(value, bool):
        return ("const", value)
    if isinstance(value, str):
        return ("str", str(value))
    if isinstance(value, int):
        return ("int", int(value))
    if isinstance(value, float):
        return ("float", float(value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted(((str(k), _freeze(v)) for k, v in value.items()), key=lambda kv: kv[0])))
    if isinstance(value, (list, tuple)):
        return ("list", tuple(_freeze(v) for v in value))
    return ("other", type(value).__name__, repr(value))


class InventoryModule(BaseInventoryPlugin, Constructable):
    """Assign the hosts earlier inventory sources loaded to rollout rings."""

    NAME = "fleetpatch.patching.rings"

    def __init__(self) -> None:
        super(InventoryModule, self).__init__()
        self._spread_names = None
        self._spread_cache = {}

    def verify_file(self, path: str) -> bool:
        if not super(InventoryModule, self).verify_file(path):
            return False
        name = os.path.basename(path)
        return name in _FILE_NAMES or name.endswith(_SUFFIXES)

    def parse(self, inventory: InventoryData, loader: DataLoader, path: str, cache: bool = True) -> None:
        super(InventoryModule, self).parse(inventory, loader, path, cache=cache)
        self._read_config_data(path)
        try:
            rings = _rings.parse_rings(self.get_option("rings"))
            rules = _rings.parse_group_rules(self.get_option("group_rules"), rings)
            # A host an earlier source put in fleetpatch_ring_excluded by hand stays excluded,
            # as hand-made ring groups keep their hosts (docs/inventory.md).
            exclude_groups = frozenset(self.get_option("exclude_groups") or ()) | {_rings.EXCLUDED_RING_GROUP}
            min_hosts = self.get_option("spread_min_hosts")
            if min_hosts is not None and min_hosts < 1:
                raise _rings.RingsConfigError("spread_min_hosts must be 1 or more, got %r" % (min_hosts,))
        except _rings.RingsConfigError as ex:
            raise AnsibleParserError("Invalid fleetpatch.patching.rings configuration %s: %s" % (path, ex))
        spread_by = self._spread_expression(path)
        strict = self.get_option("strict")
        self._spread_cache = {}

        self._warn_unknown_groups(path, rules, exclude_groups)
        sources = self._vars_plugin_sources()
        exclude_var = self.get_option("exclude_var") or None
        facts = []
        for name, host in inventory.hosts.items():
            hostvars = self._host_vars(host, sources)
            facts.append(self._host_facts(name, host, hostvars, exclude_groups, exclude_var, spread_by, strict))
        if not facts:
            self.display.warning("fleetpatch.patching.rings (%s): the inventory has no hosts yet; list this source "
                                 "after the sources that load the hosts" % path)
        try:
            result = _rings.assign_rings(facts, rings, rules, seed=self.get_option("seed") or "",
                                         spread_by_bucket=spread_by is not None, min_hosts=min_hosts)
        except _rings.RingsConfigError as ex:
            raise AnsibleParserError("Failed to assign rings from %s: %s" % (path, ex))

        self._write(result, rings)
        self._construct(result, sources, strict)

    def _vars_plugin_sources(self):
        if not self.get_option("use_vars_plugins"):
            return None
        if get_vars_from_inventory_sources is None:
            raise AnsibleParserError("use_vars_plugins needs a newer ansible-core")
        try:
            return self.inventory.processed_sources
        except AttributeError:
            raise AnsibleParserError("use_vars_plugins is set but this inventory does not say which sources it read")

    def _host_vars(self, host, sources):
        """The host's inventory variables (group and host), never extra vars."""
        groupvars = get_group_vars(host.get_groups())
        hostvars = host.get_vars()
        if sources is not None:
            plugin_groupvars = get_vars_from_inventory_sources(self.loader, sources, host.get_groups(), "all")
            groupvars = combine_vars(groupvars, plugin_groupvars)
            hostvars = combine_vars(hostvars, get_vars_from_inventory_sources(self.loader, sources, [host], "all"))
        return combine_vars(groupvars, hostvars)

    def _host_facts(self, name, host, hostvars, exclude_groups, exclude_var, spread_by, strict):
        groups = frozenset(group.name for group in host.get_groups())
        excluded = bool(exclude_groups & groups)
        if not excluded and exclude_var:
            try:
                excluded = _rings.parse_flag(hostvars.get(exclude_var), "%s on host %s" % (exclude_var, name))
            except _rings.RingsConfigError as ex:
                raise AnsibleParserError("Failed to decide whether to exclude %s: %s" % (name, ex))
        explicit = hostvars.get(_rings.RING_VAR)
        bucket = None
        if spread_by is not None and not excluded:
            bucket = _rings.bucket_key(self._spread_value(spread_by, name, hostvars, strict))
            if bucket is None and strict:
                raise AnsibleParserError("Failed to spread host %s: spread_by %r is undefined or empty for it"
                                         % (name, spread_by))
        return _rings.HostFacts(name, None if explicit is None else str(explicit), groups, excluded, bucket)

    def _spread_expression(self, path):
        """The spread_by expression (braces removed) and, for an expression, the variables it reads."""
        spread_by = self.get_option("spread_by")
        if not spread_by or not str(spread_by).strip():
            return None
        spread_by = str(spread_by)
        braced = _BRACES.match(spread_by)
        if braced:
            spread_by = braced.group(1)
        spread_by = spread_by.strip()
        self._spread_names = None
        if not _IDENTIFIER.match(spread_by):
            try:
                parsed = Environment(extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"]).parse(
                    "{{ %s }}" % spread_by)
            except Exception as ex:  # jinja2 raises TemplateSyntaxError and others
                raise AnsibleParserError("Invalid fleetpatch.patching.rings configuration %s: spread_by %r is not a "
                                         "Jinja2 expression: %s" % (path, spread_by, ex))
            self._spread_names = tuple(sorted(meta.find_undeclared_variables(parsed)))
        # The operator wrote it in the configuration: as trusted as the file (or env var) it came from.
        return trust_as_template(spread_by)

    def _spread_value(self, spread_by, name, hostvars, strict):
        extra = (self._vars or {}) if self.get_option("use_extra_vars") else {}
        if self._spread_names is None:
            # A plain variable name needs no templating.
            value = extra.get(spread_by, hostvars.get(spread_by, _MISSING))
            return None if value is _MISSING else value
        # Templating costs ~0.5 ms a host, so evaluate once per distinct value of the variables the
        # expression reads (it must be a pure function of them: no lookups, no random).
        key = tuple(_freeze(extra.get(n, hostvars.get(n, _MISSING))) for n in self._spread_names)
        cached = self._spread_cache.get(key, _MISSING)
        if cached is _MISSING:
            try:
                cached = (self._compose(spread_by, hostvars), None)
            except Exception as ex:  # templating raises many kinds; each means "no bucket"
                cached = (None, ex)
            self._spread_cache[key] = cached
        value, error = cached
        if error is not None and strict:
            raise AnsibleParserError("Failed to evaluate spread_by %r for host %s: %s" % (spread_by, name, error))
        return value

    def _write(self, result, rings):
        inventory = self.inventory
        ring_groups = {ring.name: _rings.ring_group(ring.name) for ring in rings}
        ring_names = frozenset(ring_groups.values())
        for group in list(ring_groups.values()) + [_rings.EXCLUDED_RING_GROUP]:
            inventory.add_group(group)
        for name, assignment in result.items():
            host = inventory.hosts[name]
            target = ring_groups.get(assignment.ring, _rings.EXCLUDED_RING_GROUP)
            # Each host in exactly one ring group, even if an earlier source put it in another.
            others = [g for g in host.get_groups() if g.name in ring_names and g.name != target]
            for group in others:
                group.remove_host(host)
            inventory.add_child(target, name)
            # Ring names are validated identifiers, so trusting them is safe; untrusted strings would
            # reach `ansible-inventory --list` (and so AWX) as {"__ansible_unsafe": ...} objects.
            ring = None if assignment.ring is None else trust_as_template(assignment.ring)
            inventory.set_variable(name, _rings.RING_VAR, ring)
            inventory.set_variable(name, _rings.SOURCE_VAR, trust_as_template(assignment.source or "excluded"))
            stray = others and [g.name for g in host.get_groups() if g.name in ring_names and g.name != target]
            if stray:
                self.display.warning("fleetpatch.patching.rings: host %s is in %s but also, through a child group, "
                                     "in %s; make the ring groups of earlier sources list hosts directly"
                                     % (name, target, ", ".join(sorted(stray))))

    def _construct(self, result, sources, strict):
        compose = self.get_option("compose")
        groups = self.get_option("groups")
        keyed_groups = self.get_option("keyed_groups")
        if not (compose or groups or keyed_groups):
            return
        for name in result:
            host = self.inventory.hosts[name]
            hostvars = self._host_vars(host, sources)
            self._set_composite_vars(compose, hostvars, name, strict=strict)
            hostvars = self._host_vars(host, sources)
            self._add_host_to_composed_groups(groups, hostvars, name, strict=strict, fetch_hostvars=False)
            self._add_host_to_keyed_groups(keyed_groups, hostvars, name, strict=strict, fetch_hostvars=False)

    def _warn_unknown_groups(self, path, rules, exclude_groups):
        known = self.inventory.groups
        implicit = set(_rings.ring_group(ring) for ring in rules.values())
        named = [g for g in rules if g not in implicit] + sorted(exclude_groups)
        missing = sorted(set(g for g in named if g not in known))
        if missing and self.inventory.hosts:
            self.display.warning("fleetpatch.patching.rings (%s): no group named %s in the inventory; check "
                                 "group_rules and exclude_groups for typos" % (path, ", ".join(missing)))
