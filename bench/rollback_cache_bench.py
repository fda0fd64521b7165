"""Benchmark: what the rollback cache costs per package (time and disk), next to the install itself.

    python bench/rollback_cache_bench.py [--rounds N]      (the lab up; not part of make test)

On the test ring's apt, dnf and zypper hosts, with the security wave staged, each round installs
the same updates twice, interleaved: once with the rollback cache, once without
(rollback_cache.enabled=false), rolling back after each so every apply starts from the same
baseline. Each source is measured where it is the one used: apt from its package cache
(/var/cache/apt/archives) and rebuilt by dpkg-repack (archives emptied first, the wave published
with only the newest versions), dnf and zypper by download (their package caches emptied first).

Reported per scenario, as medians: the seconds patch_apply spent securing the files (its
rollback.seconds), per package; the patch_apply task with and without the cache, and their ratio;
the bytes the cache holds per package. Only the ratio is a result; the absolute times are context.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "lab"))

from fleetlab import config, hosts  # noqa: E402

LAB = os.path.join(REPO, "tests", "lab", "lab")
NAMES = ["fp-crypto", "fp-tools", "fp-firmware", "fp-clock"]
CLEAR = {"package-cache": "rm -rf /var/lib/fleetpatch/rollback-cache",
         "rebuilt": "rm -rf /var/lib/fleetpatch/rollback-cache /var/cache/apt/archives/*.deb",
         "download": "rm -rf /var/lib/fleetpatch/rollback-cache /var/cache/dnf/*/packages/* /var/cache/zypp/packages/*"}
# (manager, source, how the security wave is published): rebuilt only where no repository offers
# the replaced versions (only the newest version of each package, as Debian's security archive).
SCENARIOS = (("apt", "package-cache", []), ("apt", "rebuilt", ["--latest-only"]), ("dnf", "download", []),
             ("zypper", "download", []))


def task(host, module, args):
    """(task seconds, result) of one module run through ansible-playbook (json callback)."""
    playbook = [{"hosts": host.name, "gather_facts": False,
                 "tasks": [{"name": "bench", module: args}]}]
    path = "/tmp/fleetpatch-rollback-bench.yml"
    with open(path, "w") as f:
        json.dump(playbook, f)
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    proc = subprocess.run(["ansible-playbook", "-i", config.INVENTORY, path], capture_output=True, text=True,
                          env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit("%s on %s failed:\n%s\n%s" % (module, host.name, proc.stdout[-3000:], proc.stderr[-2000:]))
    result = json.loads(proc.stdout)["plays"][0]["tasks"][0]
    duration = result["task"]["duration"]
    start = datetime.datetime.fromisoformat(duration["start"].replace("Z", "+00:00"))
    end = datetime.datetime.fromisoformat(duration["end"].replace("Z", "+00:00"))
    return (end - start).total_seconds(), result["hosts"][host.name]


def apply_once(host, source, cache, back_to=None):
    """Apply NAMES with or without the cache, then go back. Without it, the way back is the files
    the round's apply with the cache secured (back_to: its journal): in the newest-only publication
    no repository offers the old versions."""
    if cache:
        hosts.ssh(host, ["sh", "-c", CLEAR[source]])
    seconds, result = task(host, "fleetpatch.patching.patch_apply",
                           {"names": NAMES, "update_cache": False, "rollback_cache": {"enabled": cache}})
    task(host, "fleetpatch.patching.patch_rollback", {"journal": back_to or result["journal"]})
    return seconds, result


def measure(host, source, rounds):
    with_cache, without, securing, per_file_bytes = [], [], [], []
    apply_once(host, source, True)       # warm-up
    for _round in range(rounds):
        seconds, result = apply_once(host, source, True)
        secured = result["rollback"]
        sources = set(entry["source"] for entry in secured["files"].values())
        if sources != {source} or secured["gaps"]:
            raise SystemExit("%s: expected every file from %s, got %s (gaps %s)"
                             % (host.name, source, sources, secured["gaps"]))
        with_cache.append(seconds)
        securing.append(secured["seconds"] / len(secured["files"]))
        per_file_bytes.append(sum(e["size"] for e in secured["files"].values()) / len(secured["files"]))
        seconds, _result = apply_once(host, source, False, back_to=result["journal"])
        without.append(seconds)
    return {
        "host": host.name, "packages": len(NAMES),
        "securing_per_package_median_s": round(statistics.median(securing), 4),
        "apply_with_cache_median_s": round(statistics.median(with_cache), 3),
        "apply_without_cache_median_s": round(statistics.median(without), 3),
        "ratio_apply_with_over_without": round(statistics.median(with_cache) / statistics.median(without), 3),
        "bytes_per_package_median": int(statistics.median(per_file_bytes)),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    subprocess.run([LAB, "up"], check=True, capture_output=True)
    fleet = config.fleet()
    result = {"date": datetime.date.today().isoformat(), "rounds": args.rounds, "updates": NAMES, "scenarios": {}}
    try:
        for manager, source, publication in SCENARIOS:
            subprocess.run([LAB, "stage", "security"] + publication, check=True, capture_output=True)
            host = next(h for h in fleet if h.pkg_mgr == manager and h.ring == "test")
            if manager == "zypper":
                hosts.ssh(host, ["zypper", "-n", "-q", "refresh"])
            if manager == "apt":
                hosts.ssh(host, ["apt-get", "-qq", "update"])
            result["scenarios"]["%s_%s" % (manager, source)] = measure(host, source, args.rounds)
    finally:
        subprocess.run([LAB, "stage", "baseline"], check=True, capture_output=True)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", "rollback_cache-%s.json" % datetime.datetime.now().strftime("%Y%m%dT%H%M%S"))
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))
    print("written to %s" % path)


if __name__ == "__main__":
    main()
