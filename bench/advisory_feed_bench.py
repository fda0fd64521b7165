"""Benchmark: the advisory feed for apt hosts (plugins/plugin_utils/_advisory/*.py) on an export the
size of Debian's, against json.load of the same file measured in the same run.

    .venv/bin/python bench/advisory_feed_bench.py [--packages 12000] [--entries 90000] [--rounds 3]

Needs no lab and no network. It writes, in a temporary directory, a synthetic Security Tracker JSON
export in the published shape (source -> CVE -> description, scope, releases for bullseye,
bookworm, trixie and sid with repositories, status, fixed_version, urgency, some nodsa), with a
long-tailed number of CVEs per package (the kernel-like head has thousands), and DSA and DLA lists
in their published shape. The real export could not be fetched here; the defaults give a file of
about 80 MB, at or above the real one's size (tens of MB), so the figures are an upper bound.

Each measurement runs in a fresh Python process (as each Ansible worker is one), reporting wall
time, CPU time (the machine is shared: CPU time is the steadier figure; per-host figures are CPU
time) and peak RSS (ru_maxrss, the process's whole footprint including the interpreter and imports):
(a) baseline: read the file and json.load it;
(b) build: parse and index the export and the lists (debian.build_index), what the first worker does,
    and write the per-release index (_advisory_feed.load with an empty cache);
(c) read: _advisory_feed.load with the index built (every other worker: one release file);
(d) join: per host, a record with 60 apt updates (40 of packages the feed knows, each from
    +deb12uN to +deb12uN+2: two security updates' worth of fixes, tens of CVEs for the long tail's
    head) joined with a cold memo, as in a fresh worker: median CPU time per host.
Targets (issue 19): load and index < 2 s and < 300 MB; join < 5 ms per host.
Prints JSON and writes it to bench/results/.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
COLLECTIONS = os.path.join(REPO, ".build", "collections")
RELEASES = (("bullseye", "deb11u"), ("bookworm", "deb12u"), ("trixie", "deb13u"), ("sid", None))
URGENCIES = ("not yet assigned",) * 6 + ("unimportant",) * 3 + ("low", "medium", "high", "low*")
WORDS = ("buffer overflow in the parser allows remote attackers to cause a denial of service or possibly "
         "execute arbitrary code via a crafted file use-after-free in the handler when processing").split()


def source_version(rng, release_suffix, n):
    upstream = "%d.%d.%d" % (rng.randint(0, 9), rng.randint(0, 30), rng.randint(0, 99))
    return upstream, ("%s-%d+%s%d" % (upstream, rng.randint(1, 5), release_suffix, n) if release_suffix else
                      "%s-%d" % (upstream, rng.randint(1, 9)))


def make_export(path, packages, entries, seed=1):
    """Write a synthetic tracker export and DSA/DLA lists; return the names, their versions and
    the file size."""
    rng = random.Random(seed)
    # long tail: package i gets a share proportional to 1/(i+1)**0.9 (linux, chromium, firefox... lead)
    weights = [1.0 / (i + 1) ** 0.9 for i in range(packages)]
    total = sum(weights)
    counts = [max(1, int(entries * w / total)) for w in weights]
    names = ["pkg%05d" % i for i in range(packages)]
    base = {}
    dsa, dla = [], []
    advisory = 6000
    with open(path, "w") as out:
        out.write("{")
        for index, (name, count) in enumerate(zip(names, counts)):
            upstream = "%d.%d" % (rng.randint(0, 9), rng.randint(0, 40))
            base[name] = upstream
            out.write("%s%s: {" % ("," if index else "", json.dumps(name)))
            for n in range(count):
                cve = "CVE-%d-%d" % (rng.randint(2005, 2025), rng.randint(1000, 59999) * 10 + n % 10)
                releases = {}
                for release, suffix in RELEASES:
                    status = rng.choice(("resolved",) * 8 + ("open", "undetermined"))
                    fix = "%s-1+%s%d" % (upstream, suffix, 1 + n % 40) if suffix else "%s-%d" % (upstream, 2 + n % 40)
                    entry = {"status": status, "repositories": {release: "%s-1" % upstream}}
                    if suffix:
                        entry["repositories"][release + "-security"] = fix
                    if status == "resolved":
                        entry["fixed_version"] = "0" if rng.random() < 0.1 else fix
                    entry["urgency"] = rng.choice(URGENCIES)
                    if rng.random() < 0.15:
                        entry["nodsa"] = "Minor issue"
                        entry["nodsa_reason"] = ""
                    releases[release] = entry
                issue = {"description": " ".join(rng.choices(WORDS, k=rng.randint(20, 60))),
                         "scope": rng.choice(("local", "remote"))}
                if rng.random() < 0.3:
                    issue["debianbug"] = rng.randint(900000, 1100000)
                issue["releases"] = releases
                out.write("%s%s: %s" % ("," if n else "", json.dumps(cve), json.dumps(issue)))
                if n % 25 == 0 and len(dsa) < 6000:
                    advisory += 1
                    dsa.append("[%02d Jan 2024] DSA-%d-1 %s - security update\n\t{%s}\n\t[bookworm] - %s %s-1+deb12u%d\n"
                               % (1 + n % 28, advisory, name, cve, name, upstream, 1 + n % 40))
                    dla.append("[%02d Feb 2024] DLA-%d-1 %s - security update\n\t{%s}\n\t[bullseye] - %s %s-1+deb11u%d\n"
                               % (1 + n % 28, advisory, name, cve, name, upstream, 1 + n % 40))
            out.write("}")
        out.write("}")
    lists = []
    for kind, rows in (("DSA", dsa), ("DLA", dla)):
        list_path = os.path.join(os.path.dirname(path), "%s-list" % kind)
        with open(list_path, "w") as f:
            f.writelines(reversed(rows))
        lists.append(list_path)
    return base, lists, os.path.getsize(path)


CHILD = r'''
import json, os, resource, sys, time
sys.path.insert(0, COLLECTIONS)
what, tracker, lists, cache, base_path = sys.argv[1:6]
lists = json.loads(lists)
start, start_cpu = time.perf_counter(), time.process_time()
extra = {}
if what == "baseline":
    with open(tracker) as f:
        data = json.load(f)
elif what in ("build", "read", "join"):
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._advisory import feed as _advisory_feed
    feed = {"debian_tracker": tracker, "debian_advisories": lists, "cache_dir": cache, "max_age": 0}
    if what == "join":
        with open(base_path) as f:
            base = json.load(f)
        names = sorted(base)
        times = []
        for host in range(50):
            _advisory_feed._LOADED.clear()            # a fresh worker
            t0 = time.process_time()
            index, info = _advisory_feed.load(feed, "bookworm")
            loaded = time.process_time()
            updates = []
            for i in range(60):
                name = names[(host * 37 + i * 101) % len(names)] if i < 40 else "unknown%d" % i
                up = base.get(name, "1.0")
                updates.append({"name": name, "source_package": name,
                                "installed_source_version": "%s-1+deb12u%d" % (up, 1 + i % 30),
                                "source_version": "%s-1+deb12u%d" % (up, 3 + i % 30)})
            record, joined, _ = _advisory_feed.join({"codename": "bookworm", "updates": updates}, index)
            times.append((loaded - t0, time.process_time() - loaded, joined))
        extra = {"read_per_host": sorted(t[0] for t in times)[len(times) // 2],
                 "join_per_host": sorted(t[1] for t in times)[len(times) // 2],
                 "joined_updates_per_host": sorted(t[2] for t in times)[len(times) // 2]}
    else:
        index, info = _advisory_feed.load(feed, "bookworm")
        extra = {"entries": info["entries"], "advisories": info["advisories"]}
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print(json.dumps(dict(extra, seconds=elapsed, cpu_seconds=time.process_time() - start_cpu, peak_rss_mb=peak)))
'''.replace("COLLECTIONS", repr(COLLECTIONS))


def child(what, tracker, lists, cache, base_path):
    out = subprocess.run([sys.executable, "-c", CHILD, what, tracker, json.dumps(lists), cache, base_path],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--packages", type=int, default=12000)
    parser.add_argument("--entries", type=int, default=90000, help="(source package, CVE) pairs")
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fleetpatch-feed-bench-") as tmp:
        tracker = os.path.join(tmp, "json")
        t0 = time.perf_counter()
        base, lists, size = make_export(tracker, opts.packages, opts.entries)
        generated = time.perf_counter() - t0
        base_path = os.path.join(tmp, "versions.json")     # each package's upstream version: the hosts' records
        with open(base_path, "w") as f:
            json.dump(base, f)
        rounds = {"baseline": [], "build": [], "read": [], "join": []}
        for number in range(opts.rounds):
            cache = os.path.join(tmp, "cache-%d" % number)
            for what in ("baseline", "build", "read", "join"):    # build first: read and join use its index
                rounds[what].append(child(what, tracker, lists, cache, base_path))
        med = dict((what, dict((k, statistics.median(r[k] for r in runs)) for k in runs[0])) for what, runs in rounds.items())
        result = {
            "date": time.strftime("%Y-%m-%d"), "python": sys.version.split()[0], "cpus": os.cpu_count(),
            "export_mb": round(size / 1e6, 1), "packages": opts.packages, "generate_seconds": round(generated, 1),
            "medians": med,
            "ratios_to_json_load": {"build_seconds": med["build"]["seconds"] / med["baseline"]["seconds"],
                                    "build_cpu_seconds": med["build"]["cpu_seconds"] / med["baseline"]["cpu_seconds"],
                                    "build_peak_rss": med["build"]["peak_rss_mb"] / med["baseline"]["peak_rss_mb"]},
            "targets": {"build_under_2s": med["build"]["cpu_seconds"] < 2.0, "build_under_300mb": med["build"]["peak_rss_mb"] < 300,
                        "join_under_5ms": med["join"]["join_per_host"] < 0.005},
        }
    text = json.dumps(result, indent=2)
    print(text)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "advisory_feed_%s.json" % time.strftime("%Y%m%d-%H%M%S")), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
