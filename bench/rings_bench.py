"""Benchmark: the fleetpatch.patching.rings inventory plugin on a generated fleet, against baselines.

    python bench/rings_bench.py [--hosts 10000] [--rounds 5]

Needs no lab. In a temporary directory it writes a YAML inventory of N hosts (100 sites, application
groups, canaries, a frozen group, a few explicit rings and exclusions) and a rings configuration
(group rules, exclusions, spread across `site`), then measures, interleaved, in the same run:
(a) in-process: the plugin's parse() on the loaded inventory, against loading the YAML inventory
    itself (the baseline every run pays), with spread_by as a variable name and as a Jinja expression;
    the first parse in the process also imports the plugin and reads its documentation, as in every
    `ansible-inventory` run, so it is reported on its own and the target applies to the slowest parse;
(b) `ansible-inventory --list` with and without the rings source.
Prints JSON (medians, ratios) and writes it to bench/results/. Target: parse() <= 2 s for 10,000 hosts.
"""
import argparse
import datetime
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
COLLECTIONS = os.path.join(REPO, ".build", "collections")
BIN = os.path.dirname(sys.executable)
TARGET_SECONDS = 2.0


def ensure_collection_link():
    link = os.path.join(COLLECTIONS, "ansible_collections", "fleetpatch", "patching")
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(REPO, link)


def vocabulary():
    """_vocabulary, importable once init_plugin_loader() has installed the collection finder."""
    from ansible_collections.fleetpatch.patching.plugins.module_utils import _vocabulary
    return _vocabulary


def write_fleet(directory, count):
    """A YAML inventory of `count` hosts and two rings configurations; returns their paths."""
    sites = ["site%02d" % i for i in range(100)]
    apps = ["app_%s" % a for a in ("web", "api", "db", "cache", "queue", "batch")]
    hosts, groups = [], {"db_canary": [], "frozen": []}
    groups.update({a: [] for a in apps})
    for i in range(count):
        name = "host%05d.example.net" % i
        address = "10.%d.%d.%d" % (i // 65536 % 256, i // 256 % 256, i % 256)
        line = "    %s: {ansible_host: %s, site: %s" % (name, address, sites[i * 7 % len(sites)])
        if i % 997 == 0:
            line += ", %s: test" % vocabulary().RING_VAR
        if i % 1499 == 0:
            line += ", fleetpatch_exclude: true"
        hosts.append(line + "}")
        groups[apps[i % len(apps)]].append(name)
        if i % 211 == 0:
            groups["db_canary"].append(name)
        if i % 503 == 0:
            groups["frozen"].append(name)
    lines = ["all:", "  hosts:"] + hosts + ["  children:"]
    for group, members in groups.items():
        lines += ["    %s:" % group, "      hosts:"] + ["        %s:" % m for m in members]
    inventory = os.path.join(directory, "hosts.yml")
    with open(inventory, "w") as f:
        f.write("\n".join(lines) + "\n")
    common = ("plugin: fleetpatch.patching.rings\n"
              "rings:\n  - {name: test, fraction: 0.01}\n  - {name: pilot, fraction: 0.1}\n  - {name: production}\n"
              "group_rules:\n  test: [db_canary]\n"
              "exclude_groups: [frozen]\n"
              "seed: bench\n")
    configs = {}
    for label, spread in (("spread_by_variable", "site"), ("spread_by_expression", "site | upper")):
        configs[label] = os.path.join(directory, "%s.rings.yml" % label)
        with open(configs[label], "w") as f:
            f.write(common + "spread_by: %s\n" % json.dumps(spread))
    return inventory, configs


def in_process(inventory_path, config_path):
    """(seconds to load the YAML inventory, seconds of the rings parse(), ring counts)."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import inventory_loader

    loader = DataLoader()
    gc.collect()  # the previous round's inventory (host <-> group cycles) is not collected on our clock
    start = time.perf_counter()
    manager = InventoryManager(loader=loader, sources=[inventory_path])
    loaded = time.perf_counter() - start
    plugin = inventory_loader.get("fleetpatch.patching.rings")
    gc.collect()
    start = time.perf_counter()
    plugin.parse(manager._inventory, loader, config_path)
    parsed = time.perf_counter() - start
    prefix = vocabulary().RING_GROUP_PREFIX
    counts = {name[len(prefix):]: len(group.hosts)
              for name, group in manager._inventory.groups.items() if name.startswith(prefix)}
    return loaded, parsed, counts


def cli_list(sources):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="1")
    args = [os.path.join(BIN, "ansible-inventory"), "--list"]
    for source in sources:
        args += ["-i", source]
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit("ansible-inventory failed:\n%s" % proc.stderr[-3000:])
    return elapsed, json.loads(proc.stdout)


def median(values):
    return round(statistics.median(values), 4)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    ensure_collection_link()
    from ansible.plugins.loader import init_plugin_loader
    init_plugin_loader([COLLECTIONS])

    with tempfile.TemporaryDirectory(prefix="rings-bench-") as tmp:
        inventory, configs = write_fleet(tmp, args.hosts)
        load, parse, counts = {k: [] for k in configs}, {k: [] for k in configs}, {}
        cli_base, cli_rings = [], []
        for dummy in range(args.rounds):
            for label, config in configs.items():
                loaded, parsed, counts[label] = in_process(inventory, config)
                load[label].append(loaded)
                parse[label].append(parsed)
            seconds, dummy = cli_list([inventory])
            cli_base.append(seconds)
            seconds, listing = cli_list([inventory, configs["spread_by_variable"]])
            cli_rings.append(seconds)
        hostvars = listing["_meta"]["hostvars"]
        sources = {}
        for values in hostvars.values():
            sources[values.get("fleetpatch_ring_source")] = sources.get(values.get("fleetpatch_ring_source"), 0) + 1

    in_process_results = {}
    for label in configs:
        in_process_results[label] = {
            "baseline_load_yaml_inventory_s": median(load[label]),
            "rings_parse_s": median(parse[label]),
            "rings_parse_first_in_process_s": round(parse[label][0], 4),
            "rings_parse_max_s": round(max(parse[label]), 4),
            "ratio_parse_to_load": round(statistics.median(parse[label]) / statistics.median(load[label]), 3),
            "target_parse_s": TARGET_SECONDS,
            "target_met": max(parse[label]) <= TARGET_SECONDS,
            "ring_sizes": counts[label],
        }
    result = {
        "benchmark": "fleetpatch.patching.rings",
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "hosts": args.hosts,
        "rounds": args.rounds,
        "python": sys.version.split()[0],
        "ansible_core": __import__("ansible.release", fromlist=["__version__"]).__version__,
        "in_process": in_process_results,
        "ansible_inventory_list": {
            "baseline_without_rings_s": median(cli_base),
            "with_rings_s": median(cli_rings),
            "rings_overhead_s": round(statistics.median(cli_rings) - statistics.median(cli_base), 4),
            "ratio_with_to_without": round(statistics.median(cli_rings) / statistics.median(cli_base), 3),
            "ring_sources": sources,
        },
    }
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", "rings-%s.json" % datetime.datetime.now().strftime("%Y%m%dT%H%M%S"))
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
