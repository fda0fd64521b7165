# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: compliance
short_description: Group hosts by their latest patch compliance state, from the fleetpatch history store
version_added: 0.1.0
author:
  - fleetpatch contributors (@fleetpatch)
description:
  - Reads the history store that the C(fleetpatch.patching.compliance) callback fills (a SQLite file or a
    PostgreSQL database) and puts hosts into groups by their latest state, for example to roll patches out to
    the hosts that need them only, by excluding the up-to-date ones from the rollout rings (see EXAMPLES).
  - "Do not narrow the rollout with C(--limit fleetpatch_noncompliant): its gates run on C(localhost), which
    the limit excludes, so they would be skipped (the test ring patched unjudged, the later rings installing
    nothing)."
  - "Groups, always created (possibly empty), with the default O(group_prefix) V(fleetpatch_):
    C(fleetpatch_compliant) (latest status V(compliant));
    C(fleetpatch_noncompliant) (latest status V(non_compliant), V(pending_reboot), V(failed) or V(rolled_back):
    the last run left something to install, finish or retry; unreachable hosts are not in it);
    C(fleetpatch_pending_reboot) (latest status V(pending_reboot), or the latest run says a reboot is pending);
    C(fleetpatch_failed) (latest status V(failed) or V(rolled_back), or the latest run rolled the host back);
    C(fleetpatch_unreachable) (latest status V(unreachable));
    C(fleetpatch_unknown) (latest status V(unknown): the package manager's answer was incomplete, or a transaction
    was left unfinished, so nothing proves the host compliant);
    C(fleetpatch_sla_breach) (an approved update still missing or failed past its SLA due date, as of the
    host's latest run that assessed it);
    C(fleetpatch_stale) (not assessed for more than O(stale_days) days, or never: hosts the store does not know,
    and hosts no stored run could assess)."
  - "Sets the host variable C(fleetpatch_compliance): C(status), C(in_store), C(run_id), C(ended_at), C(ring),
    C(os), C(pkg_mgr), C(policy) (from the latest run), C(assessed_at), C(assessed_run_id), C(days_since_assessed)
    (from the latest run that assessed the host), C(stale), C(reboot_required), C(rebooted), C(rolled_back),
    C(counts) (the latest run's counts: C(missing), C(failed), C(critical_non_compliant)...), C(sla_breaches)
    (how many updates are past their SLA) and C(sla_days_overdue) (the most overdue, in days). Every key is
    always present; a host the store does not know has C(status=null) and C(in_store=false)."
  - With O(add_hosts=false) (the default) the plugin annotates the hosts that the sources listed before it
    loaded, like P(ansible.builtin.constructed#inventory); hosts are matched by inventory name, the name the
    callback stored. With O(add_hosts=true) it also adds every host of the store, by name only.
  - "Values read from the store are never templated. Strings made only of letters, digits, space and
    C(_ . , : / + -) are exported as plain strings; any other is marked unsafe."
  - Then O(compose), O(groups) and O(keyed_groups) run, and can use C(fleetpatch_compliance).
  - The configuration file name must end with C(.compliance.yml) or C(.compliance.yaml), or be
    C(fleetpatch_compliance.yml) or C(fleetpatch_compliance.yaml).
  - See C(docs/inventory.md) in the collection for the rules, caching and the use as an AWX inventory source.
requirements:
  - psycopg 3 on the controller for a PostgreSQL store (C(pip install 'psycopg[binary]')).
options:
  plugin:
    description: The name of this plugin; it makes the file a configuration for it.
    required: true
    type: str
    choices: [fleetpatch.patching.compliance]
  store:
    description:
      - The history store, as the C(fleetpatch.patching.compliance) callback's C(store) option names it, and with
        the same default, environment variable and C(ansible.cfg) entry.
      - A SQLite file path (C(~) is expanded); the file must exist, it is never created.
      - Or a C(postgresql://) URL, for example C(postgresql://fleetpatch@db.example.com/fleetpatch?sslmode=verify-full).
        Keep the password out of the URL; use O(password) or the environment (see O(password)).
      - Messages name the store with any password replaced by C(***).
    type: str
    default: ~/.ansible/fleetpatch/history.sqlite
    env:
      - name: FLEETPATCH_STORE
    ini:
      - section: fleetpatch
        key: store
  user:
    description:
      - PostgreSQL only. The database user, when the O(store) URL does not name one (naming it in both is an error).
      - Without it, libpq takes C(PGUSER), then the operating system user.
    type: str
  password:
    description:
      - PostgreSQL only. The database password, when the O(store) URL carries none (giving it in both is an error).
        It is never shown in a message.
      - Without it, libpq (through psycopg) reads C(PGPASSWORD), C(~/.pgpass) or a C(PGSERVICE) service file, so
        an AWX credential can inject C(PGPASSWORD) and C(FLEETPATCH_STORE) and nothing secret sits in a file.
      - In a file, encrypt it with C(ansible-vault encrypt_string).
    type: str
  stale_days:
    description:
      - A host whose latest assessment is more than this many days old is in the C(<prefix>stale) group. Hosts
        never assessed are always stale.
    type: int
    default: 7
    env:
      - name: FLEETPATCH_COMPLIANCE_STALE_DAYS
  add_hosts:
    description:
      - V(false) (the default) annotates only the hosts that earlier sources loaded; list this source after them.
        Hosts the store does not know go into C(<prefix>stale), as never assessed; store hosts missing from the
        inventory are left out.
      - V(true) also adds every host the store knows, by name only; connection variables must come from
        elsewhere, for example C(group_vars/all.yml).
    type: bool
    default: false
  group_prefix:
    description:
      - Prefix of every group name the plugin creates; letters, digits and underscores, or empty.
      - Change it when another source already uses C(fleetpatch_compliant)-like names, or to keep the groups of
        two stores apart. Playbooks and C(--limit) patterns must then use the new names.
    type: str
    default: fleetpatch_
extends_documentation_fragment:
  - constructed
  - inventory_cache
notes:
  - "The plugin reads the store once per inventory load (about 1 s for 10,000 hosts with 50 open updates each).
    With O(cache=true) and a persistent cache plugin (for example C(ansible.builtin.jsonfile)) the rows read
    from the store are cached, not the groups; C(--flush-cache) (ansible-playbook, and ansible-inventory from
    ansible-core 2.19) and C(meta: refresh_inventory) read the store again. SLA breaches are counted as of the
    read, so with caching a newly overdue update shows up once the cache expires (O(cache_timeout)); staleness
    is always computed at load time."
  - With O(add_hosts=false), listed before the sources that load the hosts, it sees none and warns.
  - Opening a store applies its pending schema migrations (after a collection upgrade), which needs write access
    once; reading needs C(SELECT) only.
seealso:
  - plugin: fleetpatch.patching.rings
    plugin_type: inventory
  - plugin: ansible.builtin.constructed
    plugin_type: inventory
"""

EXAMPLES = r"""
# fleet.compliance.yml - annotate the hosts of the sources listed before it, from the default SQLite store:
# ansible-inventory -i hosts.yml -i fleet.compliance.yml --graph
# ansible-playbook fleetpatch.patching.assess -i hosts.yml -i fleet.compliance.yml --limit fleetpatch_stale
plugin: fleetpatch.patching.compliance
---
# inventories/production/50-fleet.compliance.yml - roll out to the hosts that need it only: this source sorts
# after the hosts and before 90-fleet.rings.yml, whose "exclude_groups: [fleetpatch_up_to_date]" keeps
# up-to-date hosts out of every ring (and so out of the gates' counts).
# ansible-playbook fleetpatch.patching.rollout -i inventories/production
plugin: fleetpatch.patching.compliance
groups:
  fleetpatch_up_to_date: fleetpatch_compliance.status == 'compliant' and not fleetpatch_compliance.stale
---
# A PostgreSQL store; the password comes from PGPASSWORD (or ~/.pgpass), never from this file.
plugin: fleetpatch.patching.compliance
store: postgresql://fleetpatch@db.example.com/fleetpatch?sslmode=verify-full
stale_days: 14
---
# Every host the store knows, cached for an hour in JSON files, with groups by status and by ring.
plugin: fleetpatch.patching.compliance
store: /var/lib/fleetpatch/history.sqlite
add_hosts: true
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/fleetpatch-inventory
cache_timeout: 3600
keyed_groups:
  - key: fleetpatch_compliance.status | default('never_assessed', true)
    prefix: compliance
  - key: fleetpatch_compliance.ring
    prefix: last_ring
groups:
  critical_missing: fleetpatch_compliance.counts.critical_non_compliant | default(0) > 0
compose:
  open_updates: fleetpatch_compliance.counts.missing | default(0) + fleetpatch_compliance.counts.failed | default(0)
"""

import datetime
import os
from typing import TYPE_CHECKING

from ansible.errors import AnsibleParserError
from ansible.inventory.helpers import get_group_vars
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.vars import combine_vars

from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import gc_pause as _gc
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._inventory import compliance_groups as rules
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store import postgres as _store_postgres
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore, HistoryStoreError

if TYPE_CHECKING:
    from ansible.inventory.data import InventoryData
    from ansible.parsing.dataloader import DataLoader

_FILE_NAMES = ("fleetpatch_compliance.yml", "fleetpatch_compliance.yaml")
_SUFFIXES = (".compliance.yml", ".compliance.yaml")


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    """Group hosts by their latest compliance state, read from the fleetpatch history store."""

    NAME = "fleetpatch.patching.compliance"

    def verify_file(self, path: str) -> bool:
        if not super(InventoryModule, self).verify_file(path):
            return False
        name = os.path.basename(path)
        return name in _FILE_NAMES or name.endswith(_SUFFIXES)

    def parse(self, inventory: InventoryData, loader: DataLoader, path: str, cache: bool = True) -> None:
        super(InventoryModule, self).parse(inventory, loader, path, cache=cache)
        config = self._read_config_data(path)
        try:
            unknown = sorted(str(key) for key in config if key not in self._options)
            if unknown:
                raise rules.ComplianceConfigError("unknown option(s) %s (ansible-doc -t inventory %s lists them)"
                                                  % (", ".join(unknown), self.NAME))
            prefix = rules.parse_prefix(self.get_option("group_prefix"))
            stale_days = rules.parse_stale_days(self.get_option("stale_days"))
            location, shown = self._store_location(path)
        except rules.ComplianceConfigError as ex:
            raise AnsibleParserError("Invalid fleetpatch.patching.compliance configuration %s: %s" % (path, ex))
        now = datetime.datetime.now(datetime.timezone.utc)

        # Setting ~30 values on each of 10,000 hosts (which ansible-core 2.19 copies value by
        # value to tag its origin) would otherwise set off full collections that free nothing.
        # perf: parse() at 10,000 hosts, median of 3 rounds: 1.58 s with the pause, 2.23 s without;
        # 4.37 s and 5.99 s through ansible-inventory's wrapper (bench/compliance_inventory_bench.py,
        # 2026-12-02, docs/benchmarks.md).
        with _gc.collector_paused():
            self._populate(path, location, shown, cache, now, stale_days, prefix)

    def _populate(self, path, location, shown, cache, now, stale_days, prefix):
        inventory = self.inventory
        add_hosts = self.get_option("add_hosts")
        snap = self._snapshot(path, location, shown, cache, now)
        known = list(inventory.hosts)
        if not known and not add_hosts:
            self.display.warning("fleetpatch.patching.compliance (%s): the inventory has no hosts yet; list this "
                                 "source after the sources that load the hosts, or set add_hosts: true" % path)
        elif known and snap["hosts"] and not add_hosts and not any(e["host"] in inventory.hosts for e in snap["hosts"]):
            self.display.warning("fleetpatch.patching.compliance (%s): none of the %d inventory hosts is in the "
                                 "history store %s (%d hosts); the store knows hosts by the inventory names the "
                                 "runs used" % (path, len(known), shown, len(snap["hosts"])))
        states = rules.host_states(snap, known, now, stale_days, add_hosts=add_hosts)
        self._write(states, prefix)
        self._construct(states, self.get_option("strict"))

    def _store_location(self, path):
        """(the location to open, the location as shown). A missing SQLite file is an error here,
        before HistoryStore.open, which would create an empty store."""
        location = self.get_option("store")
        location = "" if location is None else str(location).strip()
        if not location or location.lower() == "none":
            raise rules.ComplianceConfigError("no history store: set store (or FLEETPATCH_STORE) to a SQLite file "
                                              "or a postgresql:// URL")
        user, password = self.get_option("user"), self.get_option("password")
        if _store_postgres.is_url(location):
            return rules.with_credentials(location, user, password), _store_postgres.redact_url(location)
        if user or password:
            # The location is not quoted: whatever it is, it might carry a password.
            raise rules.ComplianceConfigError("user and password apply to a PostgreSQL store (a postgresql:// URL) "
                                              "only")
        if "://" in location:
            # Let HistoryStore name what it does not support.
            return location, location.split("://", 1)[0] + "://..."
        full = os.path.abspath(os.path.expanduser(location))
        if not os.path.isfile(full):
            what = "is not a file" if os.path.exists(full) else "does not exist"
            raise AnsibleParserError("fleetpatch.patching.compliance (%s): the history store %s %s; run a playbook "
                                     "with the fleetpatch.patching.compliance callback enabled first, or set store "
                                     "(FLEETPATCH_STORE) to the store it writes" % (path, full, what))
        return full, full

    def _snapshot(self, path, location, shown, cache, now):
        """The store's rows: from the inventory cache when enabled, not flushed, and for this store;
        otherwise read from the store (and cached when enabled)."""
        use_cache = bool(self.get_option("cache"))
        cache_key = self.get_cache_key(path) if use_cache else None
        if use_cache and cache:
            try:
                cached = self._cache[cache_key]
            except KeyError:
                cached = None
            if rules.usable_snapshot(cached, shown):
                return cached
        try:
            with HistoryStore.open(location) as store:
                snap = rules.snapshot(shown, now, store.latest_hosts(), store.last_assessed(), store.sla_breach_counts(now))
        except HistoryStoreError as ex:
            # The message names the store with its password removed, and never chains the driver's error.
            raise AnsibleParserError("fleetpatch.patching.compliance (%s): %s" % (path, ex))
        if use_cache:
            self._cache[cache_key] = snap
        return snap

    def _write(self, states, prefix):
        inventory = self.inventory
        names = rules.group_names(prefix)
        for group in names.values():
            inventory.add_group(group)
        memo = {}
        clashing = [host for host in states if not host or host in inventory.groups]
        if clashing:
            # Ansible resolves a name to the group first: writing these would set a group's variables
            # or nest a group (all, ungrouped, one of ours) inside ours. Skipped, named, never a crash.
            self.display.warning("fleetpatch.patching.compliance: %d host name(s) in the store are also group names "
                                 "(or empty) and are left out: %s" % (
                                     len(clashing), ", ".join(repr(h) for h in sorted(clashing)[:10])))
        for host, state in states.items():
            if not host or host in inventory.groups:
                continue
            if host not in inventory.hosts:
                inventory.add_host(host)
            inventory.set_variable(host, rules.COMPLIANCE_VAR, rules.store_value(state.variables, memo))
            for key in state.groups:
                inventory.add_child(names[key], host)

    def _construct(self, states, strict):
        compose = self.get_option("compose")
        groups = self.get_option("groups")
        keyed_groups = self.get_option("keyed_groups")
        if not (compose or groups or keyed_groups):
            return
        for name in states:
            host = self.inventory.hosts.get(name)
            if host is None or name in self.inventory.groups:      # left out by _write
                continue
            hostvars = combine_vars(get_group_vars(host.get_groups()), host.get_vars())
            self._set_composite_vars(compose, hostvars, name, strict=strict)
            hostvars = combine_vars(get_group_vars(host.get_groups()), host.get_vars())
            self._add_host_to_composed_groups(groups, hostvars, name, strict=strict, fetch_hostvars=False)
            self._add_host_to_keyed_groups(keyed_groups, hostvars, name, strict=strict, fetch_hostvars=False)
