"""Benchmark: what the compliance callback costs while a run goes on (issue 21, item 3), against the
same run with only the default stdout callback, with ARA's callback (offline, SQLite) and with
ansible-core's junit callback.

    .venv/bin/python bench/callback_overhead_bench.py [--hosts 500,2000] [--rounds 3] [--updates 50]
                                                      [--forks 5] [--hook-times]

An inventory of N localhost aliases (ansible_connection=local, in the three ring groups) runs one
small playbook: a host patch record (bench/replay_plugins/patch_facts.py, an action that replays a
synthetic record on the controller, so no module and no package manager runs), a generic
set_fact, and a second record (as patch_apply's post-change record would be). Variants, each
ansible-playbook in a fresh process, one after the other, their order rotated every round:
  plain       the default stdout callback only (the baseline)
  compliance  plus fleetpatch.patching.compliance (its SQLite store and every report format)
  ara         plus ARA's callback, ARA_API_CLIENT=offline, its default SQLite database in a
              temporary ARA_BASE_DIR (migrated before the run, not timed: an operator's database
              exists already)
  junit       plus ansible.builtin.junit (ansible-core's; community.general has none)
Per run: wall seconds, controller CPU seconds (user + system of the ansible-playbook process tree,
getrusage(RUSAGE_CHILDREN) in a measuring child of its own) and peak RSS (ru_maxrss of that tree:
its largest process, the controller), and the same CPU split between ansible-playbook's own process,
where callbacks run (main_cpu_s), and its forked workers (workers_cpu_s), through
bench/playbook_cpu_split.py. Ratios to plain, per round and their median; added_main_cpu_share: what
a variant adds to the main process, over the plain run's whole CPU (the workers' run-to-run noise,
as large as a callback's cost on a shared machine, left out of the difference). Each run's
output is checked (the report has N hosts, ARA's database has the results, the JUnit file exists).
--hook-times adds one compliance run per size through bench/callback_hook_timer.py: the time the
callback spends per hook (per result, and at the end of the run). Results go to bench/results/.
"""
import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
COLLECTIONS = os.path.join(REPO, ".build", "collections")
REPLAY_PLUGINS = os.path.join(HERE, "replay_plugins")
HOOK_TIMER = os.path.join(HERE, "callback_hook_timer.py")
CPU_SPLIT = os.path.join(HERE, "playbook_cpu_split.py")
VARIANTS = ("plain", "compliance", "ara", "junit")
RINGS = ("test", "pilot", "production", "production", "production")

PLAYBOOK = """---
- name: Callback overhead
  hosts: all
  gather_facts: false
  tasks:
    - name: Assess (a replayed host patch record)
      patch_facts:
        updates: {updates}
        seed: 0
    - name: A task of any playbook
      ansible.builtin.set_fact:
        bench_note: "{{{{ inventory_hostname }}}} assessed"
    - name: The record after the change
      patch_facts:
        updates: {updates}
        seed: 1
"""
PLAYBOOK_TASKS = 3


def write_inputs(workdir, hosts, updates):
    """The inventory (N local aliases in ring groups) and the playbook."""
    groups = {}
    for index in range(hosts):
        groups.setdefault(RINGS[index % len(RINGS)], []).append("host%05d" % index)
    lines = ["[all:vars]", "ansible_connection=local", "ansible_python_interpreter=%s" % sys.executable]
    for ring, names in groups.items():
        lines.append("[fleetpatch_ring_%s]" % ring)
        lines.extend(names)
    with open(os.path.join(workdir, "inventory.ini"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    with open(os.path.join(workdir, "playbook.yml"), "w") as handle:
        handle.write(PLAYBOOK.format(updates=updates))


def ara_plugins_dir():
    out = subprocess.run([sys.executable, "-m", "ara.setup.callback_plugins"], capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


def ara_database(rundir):
    return os.path.join(rundir, "ara", "ansible.sqlite")


def migrate_ara(template_dir):
    """A migrated ARA database (ara-manage migrate), copied into every ARA run's base directory."""
    env = dict(os.environ, ARA_BASE_DIR=os.path.join(template_dir, "ara"), ARA_DATABASE_ENGINE="django.db.backends.sqlite3")
    subprocess.run([os.path.join(os.path.dirname(sys.executable), "ara-manage"), "migrate"], env=env,
                   capture_output=True, text=True, check=True)
    return ara_database(template_dir)


def variant_env(variant, rundir, workdir):
    env = dict((k, v) for k, v in os.environ.items()
               if not k.startswith(("ANSIBLE_", "FLEETPATCH_", "ARA_", "JUNIT_")))
    env.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_ACTION_PLUGINS=REPLAY_PLUGINS,
               ANSIBLE_INVENTORY=os.path.join(workdir, "inventory.ini"), ANSIBLE_STDOUT_CALLBACK="default",
               ANSIBLE_LOCAL_TEMP=os.path.join(rundir, "tmp"),
               ANSIBLE_HOME=os.path.join(rundir, "ansible-home"), ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_RETRY_FILES_ENABLED="0", PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""))
    if variant == "compliance":
        env.update(ANSIBLE_CALLBACKS_ENABLED="fleetpatch.patching.compliance",
                   FLEETPATCH_REPORT_DIR=os.path.join(rundir, "reports"),
                   FLEETPATCH_STORE=os.path.join(rundir, "history.sqlite"))
    elif variant == "ara":
        env.update(ANSIBLE_CALLBACK_PLUGINS=ara_plugins_dir(), ARA_API_CLIENT="offline",
                   ARA_BASE_DIR=os.path.join(rundir, "ara"))
    elif variant == "junit":
        env.update(ANSIBLE_CALLBACKS_ENABLED="ansible.builtin.junit", JUNIT_OUTPUT_DIR=os.path.join(rundir, "junit"))
    return env


def check_output(variant, rundir, hosts):
    """The variant's callback really ran: what it wrote holds the run's hosts."""
    if variant == "compliance":
        with open(os.path.join(rundir, "reports", "latest", "report.json")) as handle:
            found = len(json.load(handle)["hosts"])
    elif variant == "ara":
        with sqlite3.connect(ara_database(rundir)) as db:
            found = db.execute("SELECT COUNT(*) FROM hosts").fetchone()[0]
    elif variant == "junit":
        names = os.listdir(os.path.join(rundir, "junit"))
        with open(os.path.join(rundir, "junit", names[0])) as handle:
            found = handle.read().count("<testcase") // PLAYBOOK_TASKS     # a testcase per host and task
    else:
        return
    if found != hosts:
        raise SystemExit("%s: its output holds %s hosts, not %s (%s)" % (variant, found, hosts, rundir))


def measure(variant, workdir, rundir, hosts, forks, hook_out=None):
    """In a child process of its own (so RUSAGE_CHILDREN is this run's alone): run ansible-playbook
    and print {wall_s, cpu_s, peak_rss_mib}, and main_cpu_s and workers_cpu_s unless the hooks are
    timed (hook_out)."""
    env = variant_env(variant, rundir, workdir)
    command = ["ansible-playbook", "-f", str(forks), os.path.join(workdir, "playbook.yml")]
    split_out = None
    if hook_out:
        command = [sys.executable, HOOK_TIMER, hook_out] + command[1:]
    else:
        split_out = os.path.join(rundir, "cpu-split.json")
        command = [sys.executable, CPU_SPLIT, split_out] + command[1:]
    started = time.perf_counter()
    with open(os.path.join(rundir, "stdout.log"), "w") as out:
        proc = subprocess.run(command, env=env, cwd=rundir, stdout=out, stderr=subprocess.STDOUT, check=False)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(os.path.join(rundir, "stdout.log")) as handle:
        log = handle.read().splitlines()
    if proc.returncode != 0:
        raise SystemExit("%s: ansible-playbook exited %s:\n%s" % (variant, proc.returncode, "\n".join(log[-30:])))
    warnings = [line.strip() for line in log if "[WARNING]" in line or "ERROR" in line]
    check_output(variant, rundir, hosts)
    figures = {"wall_s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
               "peak_rss_mib": round(usage.ru_maxrss / 1024.0, 1)}
    if split_out:
        with open(split_out) as handle:
            split = json.load(handle)
        figures.update(main_cpu_s=split["main_cpu_s"], workers_cpu_s=split["workers_cpu_s"])
    figures["warnings"] = warnings[:5]
    print(json.dumps(figures))


def run_variant(variant, workdir, hosts, forks, ara_template, hook_out=None):
    rundir = tempfile.mkdtemp(prefix="%s-" % variant, dir=workdir)
    os.makedirs(os.path.join(rundir, "tmp"))
    if variant == "ara":
        os.makedirs(os.path.dirname(ara_database(rundir)))
        shutil.copy(ara_template, ara_database(rundir))
    command = [sys.executable, os.path.abspath(__file__), "--measure", variant, "--workdir", workdir,
               "--rundir", rundir, "--hosts", str(hosts), "--forks", str(forks)]
    if hook_out:
        command += ["--hook-out", hook_out]
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit("%s at %d hosts failed:\n%s%s" % (variant, hosts, out.stdout, out.stderr))
    shutil.rmtree(rundir)
    return json.loads(out.stdout.strip().splitlines()[-1])


# Each round's run's figures (main_cpu_s and workers_cpu_s: playbook_cpu_split.py; the --hook-times
# run, timed through callback_hook_timer.py instead, is in no round)
FIGURES = ("wall_s", "cpu_s", "peak_rss_mib", "main_cpu_s", "workers_cpu_s")


def summarise(rounds):
    """Medians per variant, and the median of each round's ratio to that round's plain run."""
    summary = {}
    for variant in VARIANTS:
        runs = [r[variant] for r in rounds if variant in r]
        if not runs:
            continue
        entry = dict((key, statistics.median(run[key] for run in runs)) for key in FIGURES)
        if variant != "plain":
            for key in FIGURES:
                entry["ratio_" + key] = round(statistics.median(r[variant][key] / r["plain"][key] for r in rounds), 3)
            # What the callback adds where callbacks run, against the plain run's whole CPU: the
            # workers' share left out of the difference, not of the scale.
            entry["added_main_cpu_share"] = round(statistics.median(
                (r[variant]["main_cpu_s"] - r["plain"]["main_cpu_s"]) / r["plain"]["cpu_s"] for r in rounds), 3)
        summary[variant] = entry
    return summary


def save(results, path):
    results["load_after"] = os.getloadavg()
    results["when"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        json.dump(results, handle, indent=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="500,2000", help="comma-separated inventory sizes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--updates", type=int, default=50, help="updates in each host patch record")
    parser.add_argument("--forks", type=int, default=5, help="ansible-playbook -f (5 is Ansible's default)")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--hook-times", action="store_true", help="one more compliance run per size, hooks timed")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--rundir", help=argparse.SUPPRESS)
    parser.add_argument("--hook-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        return measure(args.measure, args.workdir, args.rundir, int(args.hosts), args.forks, args.hook_out)
    variants = [v for v in args.variants.split(",") if v]
    if "plain" not in variants:
        raise SystemExit("the plain run is the baseline: keep it in --variants")
    sizes = [int(n) for n in args.hosts.split(",")]
    top = tempfile.mkdtemp(prefix="callback-overhead-bench-")
    ara_template = migrate_ara(os.path.join(top, "ara-template")) if "ara" in variants else None
    results = {"bench": "callback_overhead", "updates_per_host": args.updates, "forks": args.forks,
               "python": platform.python_version(), "cpus": os.cpu_count(), "load_before": os.getloadavg(),
               "sizes": {}}
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
    path = os.path.join(HERE, "results", "callback_overhead-%s.json" % stamp)
    try:
        rounds = dict((n, []) for n in sizes)
        for number in range(args.rounds):
            for hosts in sizes:
                workdir = os.path.join(top, "hosts-%d" % hosts)
                if not os.path.isdir(workdir):
                    os.makedirs(workdir)
                    write_inputs(workdir, hosts, args.updates)
                order = variants[number % len(variants):] + variants[:number % len(variants)]
                measured = {}
                for variant in order:
                    measured[variant] = run_variant(variant, workdir, hosts, args.forks, ara_template)
                    print("round %d, %d hosts, %s: %s" % (number + 1, hosts, variant, measured[variant]),
                          file=sys.stderr, flush=True)
                rounds[hosts].append(measured)
                results["sizes"][str(hosts)] = {"rounds": rounds[hosts], "summary": summarise(rounds[hosts])}
                save(results, path)         # after every round: a long run stopped early keeps its rounds
        for hosts in sizes:
            entry = results["sizes"][str(hosts)]
            if args.hook_times:
                hook_out = os.path.join(top, "hooks-%d.json" % hosts)
                entry["hook_run"] = run_variant("compliance", os.path.join(top, "hosts-%d" % hosts), hosts,
                                                args.forks, ara_template, hook_out)
                with open(hook_out) as handle:
                    entry["hook_times"] = json.load(handle)
                save(results, path)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    for hosts, entry in results["sizes"].items():
        print("%s hosts:" % hosts)
        for variant, figures in entry["summary"].items():
            print("  %-10s %s" % (variant, json.dumps(figures)))
        if "hook_times" in entry:
            print("  hooks: %s" % json.dumps(entry["hook_times"]))


if __name__ == "__main__":
    main()
