"""Benchmark: what one controller does with 25, 50 and 100 real lab hosts (issue 21, item 2).

    .venv/bin/python bench/fleet_bench.py [--sizes 25,50,100] [--rounds 3]
                                          [--phases assess,matrix,rollout,rollout-matrix]
                                          [--matrix-size 50] [--rollout-sizes 25,50,100]
                                          [--rollout-matrix-size 50] [--rollout-rounds 1] [--keep-fleet]
    make bench-fleet

The hosts are the lab's extra fleet (`tests/lab/lab up --hosts N`: light apt hosts, systemd-nspawn
on overlay clones of a provisioned lab host, docs/scaling.md). Every ansible-playbook runs in a
fresh process, its variants one after the other in one round, their order rotated every round,
ratios taken against the baseline of the same round. Phases:
  assess   at each size: fleetpatch.patching.patch_facts (bench/playbooks/patch_facts.yml) against
           the do-it-yourself tasks (bench/playbooks/diy_assessment.yml: package_facts, a shell
           `apt list --upgradable`, a stat of the reboot flag); the baseline is patch_facts
  matrix   patch_facts at --matrix-size, the settings one at a time against the baseline
           (forks 25, SSH pipelining on, ControlPersist on, default callback only): forks 10 and
           50, pipelining off, ControlPersist off (ControlMaster=no), the compliance callback on
  rollout  playbooks/patch_ring.yml on one ring of N hosts that are all in that ring: assess,
           preflight, apply (the lab's security wave: fp-crypto and fp-firmware, which needs a
           reboot), reboot, a service health check, gate; without and with the compliance
           callback. A rollout changes its hosts, so each run takes fresh ones; when the fleet
           has too few left for a round, it is made again with as many as one round of the phase
           takes (`lab up --hosts 0`, then `--hosts N`, not timed)
  rollout-matrix  the rollout at --rollout-matrix-size, the settings one at a time against the
           rollout's baseline (forks 25, pipelining on, ControlPersist on, default callback): forks
           10 and 50, pipelining off, ControlPersist off; each variant on fresh hosts of its own
Before the phases, the fleet's apt lists are refreshed once with the security wave staged, so an
assessment finds the same five updates on every host whatever the lab's repository serves later.
Per run: wall seconds, hosts per minute, the 1-minute load average before and after it (the
machine's other work counts in the wall time), controller CPU seconds (user + system of ansible-playbook
and every child it waited for: its forks and their ssh clients; a ControlPersist master daemonises,
so its CPU is not counted) and peak RSS (ru_maxrss: the largest single process of that tree). The
lab hosts run on the same two cores, so wall time includes their work. The assess and matrix
phases hold the lab's lock (/tmp/fleetpatch-lab.lock) for one size of one round, the rollout phases
for one rollout (the security wave staged for it, the baseline staged again after), and release it
between, so other lab users get their turn. Results go to bench/results/fleet-<stamp>.json after every round; a line fit
(least squares) of wall, CPU and peak RSS against the number of hosts closes each phase.
"""
import argparse
import contextlib
import datetime
import fcntl
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from callback_overhead_bench import save

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
COLLECTIONS = os.path.join(REPO, ".build", "collections")
LAB = os.path.join(REPO, "tests", "lab", "lab")
LAB_LOCK = "/tmp/fleetpatch-lab.lock"
sys.path.insert(0, os.path.join(REPO, "tests", "lab"))
from fleetlab import fleet as labfleet  # noqa: E402  (the lab's own description of its fleet)

PLAYBOOKS = {"patch_facts": os.path.join(HERE, "playbooks", "patch_facts.yml"),
             "diy": os.path.join(HERE, "playbooks", "diy_assessment.yml"),
             "refresh": os.path.join(HERE, "playbooks", "fleet_refresh.yml"),
             "rollout": "fleetpatch.patching.patch_ring"}
BASELINE = {"playbook": "patch_facts", "forks": 25, "pipelining": True, "control_persist": True, "callback": False}
ASSESS_VARIANTS = {"patch_facts": {}, "diy": {"playbook": "diy"}}
MATRIX_VARIANTS = {"baseline": {}, "forks10": {"forks": 10}, "forks50": {"forks": 50},
                   "no_pipelining": {"pipelining": False}, "no_controlpersist": {"control_persist": False},
                   "compliance": {"callback": True}}
ROLLOUT_VARIANTS = {"plain": {"playbook": "rollout"}, "compliance": {"playbook": "rollout", "callback": True}}
ROLLOUT_MATRIX_VARIANTS = {"baseline": {"playbook": "rollout"}, "forks50": {"playbook": "rollout", "forks": 50},
                           "no_pipelining": {"playbook": "rollout", "pipelining": False},
                           "no_controlpersist": {"playbook": "rollout", "control_persist": False},
                           "forks10": {"playbook": "rollout", "forks": 10}}
ROLLOUT_RING = "test"
ROLLOUT_WAVE = "security"
ROLLOUT_VARS = {"fleetpatch_ring": ROLLOUT_RING, "patch_security_only": True,
                "patch_health_checks": [{"type": "service", "service": "fp-webapp"}],
                "patch_health_retries": 2, "patch_health_delay": 1}
FIGURES = ("wall_s", "cpu_s", "peak_rss_mib")


@contextlib.contextmanager
def lab_lock():
    """The lab's rule: every use of it holds this lock (docs/testing.md); held per phase step."""
    with open(LAB_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def lab(*args):
    proc = subprocess.run([LAB] + list(args), stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit("lab %s failed (rc=%d):\n%s" % (" ".join(args), proc.returncode, proc.stderr[-3000:]))
    return proc.stderr


def write_inventory(path, fleet_hosts, ring=None):
    """The fleet inventory of these hosts only; with `ring`, every one of them in that ring."""
    if ring:
        fleet_hosts = [labfleet.FleetHost(h.name, h.address, h.pkg_mgr, ring) for h in fleet_hosts]
    with open(path, "w") as handle:
        handle.write(labfleet.render_inventory(fleet_hosts))
    return path


def settings(variant):
    chosen = dict(BASELINE)
    chosen.update(variant)
    return chosen


def snapshot_collection(top):
    """The collection as committed (git archive HEAD), not the working tree, which other work may
    be changing mid-run; returns (collections path, commit)."""
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    root = os.path.join(top, "collections")
    target = os.path.join(root, "ansible_collections", "fleetpatch", "patching")
    os.makedirs(target)
    archive = subprocess.Popen(["git", "-C", REPO, "archive", "--format=tar", commit], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", target], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise SystemExit("git archive %s failed" % commit)
    return root, commit


def run_env(chosen, rundir, inventory):
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "FLEETPATCH_")))
    env.update(ANSIBLE_COLLECTIONS_PATH=os.environ.get("FLEET_BENCH_COLLECTIONS", COLLECTIONS),
               ANSIBLE_INVENTORY=inventory, ANSIBLE_STDOUT_CALLBACK="default",
               ANSIBLE_HOME=os.path.join(rundir, "ansible-home"), ANSIBLE_LOCAL_TEMP=os.path.join(rundir, "tmp"),
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_HOST_KEY_CHECKING="True",
               ANSIBLE_PIPELINING=str(chosen["pipelining"]),
               # a control socket directory of each run's own: no run reuses another's connections
               ANSIBLE_SSH_CONTROL_PATH_DIR=os.path.join(rundir, "cp"),
               PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""))
    if not chosen["control_persist"]:
        env["ANSIBLE_SSH_ARGS"] = "-C -o ControlMaster=no"    # ansible-core's default without the master
    if chosen["callback"]:
        env.update(ANSIBLE_CALLBACKS_ENABLED="fleetpatch.patching.compliance",
                   FLEETPATCH_REPORT_DIR=os.path.join(rundir, "reports"),
                   FLEETPATCH_STORE=os.path.join(rundir, "history.sqlite"), FLEETPATCH_PRINT_SUMMARY="false")
    return env


def recap_hosts(log):
    """{host: (ok, failed, unreachable)} from PLAY RECAP."""
    found = {}
    for line in log:
        if " : ok=" in line:
            name, counts = line.split(" : ", 1)
            fields = dict(part.split("=") for part in counts.split())
            found[name.strip()] = (int(fields["ok"]), int(fields["failed"]), int(fields["unreachable"]))
    return found


def measure(chosen, rundir, inventory, hosts):
    """In a child process of its own (RUSAGE_CHILDREN is then this run's alone): run
    ansible-playbook, check every host finished, print its figures."""
    env = run_env(chosen, rundir, inventory)
    command = ["ansible-playbook", "-f", str(chosen["forks"]), PLAYBOOKS[chosen["playbook"]]]
    if chosen["playbook"] == "rollout":
        command += ["-e", json.dumps(ROLLOUT_VARS)]
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    with open(os.path.join(rundir, "stdout.log"), "w") as out:
        proc = subprocess.run(command, env=env, cwd=rundir, stdin=subprocess.DEVNULL, stdout=out,
                              stderr=subprocess.STDOUT, check=False)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(os.path.join(rundir, "stdout.log")) as handle:
        log = handle.read().splitlines()
    recap = recap_hosts(log)
    bad = sorted(name for name, (_ok, failed, unreachable) in recap.items()
                 if (failed or unreachable) and name != "localhost")
    if proc.returncode != 0 or bad or len([n for n in recap if n != "localhost"]) != hosts:
        raise SystemExit("ansible-playbook rc=%s, %d hosts in the recap, failed or unreachable: %s\n%s"
                         % (proc.returncode, len(recap), bad[:10], "\n".join(log[-40:])))
    if chosen["callback"]:
        with open(os.path.join(rundir, "reports", "latest", "report.json")) as handle:
            reported = len(json.load(handle)["hosts"])
        if reported != hosts:
            raise SystemExit("the compliance report holds %d hosts, not %d" % (reported, hosts))
    print(json.dumps({"wall_s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
                      "peak_rss_mib": round(usage.ru_maxrss / 1024.0, 1),
                      "hosts_per_min": round(hosts * 60.0 / wall, 1),
                      "load_before": round(load_before, 1), "load_after": round(os.getloadavg()[0], 1)}))


def run_variant(chosen, top, inventory, hosts):
    rundir = tempfile.mkdtemp(prefix="%s-" % chosen["playbook"], dir=top)
    os.makedirs(os.path.join(rundir, "tmp"))
    command = [sys.executable, os.path.abspath(__file__), "--measure", json.dumps(chosen),
               "--rundir", rundir, "--inventory", inventory, "--hosts", str(hosts)]
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit("%s at %d hosts failed (kept: %s):\n%s%s" % (chosen, hosts, rundir, out.stdout, out.stderr))
    shutil.rmtree(rundir)
    return json.loads(out.stdout.strip().splitlines()[-1])


def rotated(names, number):
    """The variants' order in round `number`: each round starts one further along."""
    names = list(names)
    return names[number % len(names):] + names[:number % len(names)]


def one_round(number, variants, top, inventories, hosts, hold=contextlib.nullcontext, after_each=None):
    """Every variant once, in an order rotated by the round; `inventories` gives each variant
    its inventory (rollouts need hosts of their own); `hold()` is entered around each run,
    `after_each(measured so far)` called after it."""
    measured = {}
    for name in rotated(variants, number):
        with hold():
            measured[name] = run_variant(settings(variants[name]), top, inventories[name], hosts)
        print("round %d, %d hosts, %s: %s" % (number + 1, hosts, name, measured[name]), file=sys.stderr, flush=True)
        if after_each:
            after_each(measured)
    return measured


def summarise(rounds, baseline):
    """Per variant: median and range of each figure over the rounds, and the median of each
    round's ratio to that round's baseline."""
    summary = {}
    for name in rounds[0]:
        runs = [r[name] for r in rounds]
        entry = {}
        for key in FIGURES + ("hosts_per_min",):
            values = [run[key] for run in runs]
            entry[key] = {"median": round(statistics.median(values), 2), "min": min(values), "max": max(values)}
        if name != baseline:
            for key in FIGURES:
                entry["ratio_" + key] = round(statistics.median(r[name][key] / r[baseline][key] for r in rounds), 3)
        summary[name] = entry
    return summary


def fit(points):
    """Least squares y = a + b*n over [(n, y)]; with R^2, and the per-host figure at the smallest
    and the largest n (a line through the origin keeps it constant)."""
    ns, ys = [p[0] for p in points], [p[1] for p in points]
    mean_n, mean_y = statistics.mean(ns), statistics.mean(ys)
    spread = sum((n - mean_n) ** 2 for n in ns)
    slope = sum((n - mean_n) * (y - mean_y) for n, y in points) / spread if spread else 0.0
    intercept = mean_y - slope * mean_n
    total = sum((y - mean_y) ** 2 for y in ys)
    residual = sum((y - intercept - slope * n) ** 2 for n, y in points)
    return {"per_host": round(slope, 4), "fixed": round(intercept, 2),
            "r2": round(1 - residual / total, 4) if total else None}


def hosts_per_round(sizes, variants):
    """Fresh hosts one round of a rollout phase takes: every variant at every size on its own."""
    return len(variants) * sum(sizes)


def fleet_size(phases, sizes, matrix_size, rollout_sizes, rollout_matrix_size):
    """The fleet the bench makes first: the largest that one round of any chosen phase needs."""
    needs = [0]
    if "assess" in phases:
        needs += sizes
    if "matrix" in phases:
        needs.append(matrix_size)
    if "rollout" in phases:
        needs.append(hosts_per_round(rollout_sizes, ROLLOUT_VARIANTS))
    if "rollout-matrix" in phases:
        needs.append(hosts_per_round([rollout_matrix_size], ROLLOUT_MATRIX_VARIANTS))
    return max(needs)


def take(unused, n, names):
    """Hand `n` of the `unused` hosts to each variant: ({name: hosts}, the hosts left)."""
    if len(unused) < n * len(names):
        raise ValueError("%d unused hosts, %d variants of %d wanted" % (len(unused), len(names), n))
    taken = {}
    for name in names:
        taken[name], unused = unused[:n], unused[n:]
    return taken, unused


def fits(results, phase, sizes):
    """A line per variant and figure over the sizes, from every round's runs."""
    out = {}
    for name in results[phase][str(sizes[0])]["summary"]:
        out[name] = {}
        for key in FIGURES:
            points = [(n, run[name][key]) for n in sizes for run in results[phase][str(n)]["rounds"]]
            out[name][key] = fit(points)
    return out


def fresh_fleet(count):
    lab("up", "--hosts", "0")
    lab("up", "--hosts", str(count))
    return labfleet.on_disk()


@contextlib.contextmanager
def rollout_hold():
    """Around one rollout: the lab's lock, with the security wave staged while it runs."""
    with lab_lock():
        lab("stage", ROLLOUT_WAVE)
        try:
            yield
        finally:
            lab("stage", "baseline")


def rollout_phase(results, path, phase, variants, baseline, sizes, rounds, top, fleet):
    """Every variant at every size on fresh hosts of its own, `rounds` times; `fleet["unused"]`
    are the hosts no rollout has changed yet (assessing changes nothing), shared between phases;
    when a round's size finds too few, the fleet is made again with one round's worth."""
    results[phase] = {}
    for number in range(rounds):
        for n in sizes:
            if len(fleet["unused"]) < n * len(variants):
                with lab_lock():
                    fleet["unused"] = fresh_fleet(hosts_per_round(sizes, variants))
                    refresh_lists(top, fleet["unused"])
            taken, fleet["unused"] = take(fleet["unused"], n, variants)
            inventories = {name: write_inventory(os.path.join(top, "%s-%s.yml" % (phase, name)), taken[name],
                                                 ring=ROLLOUT_RING) for name in variants}
            entry = results[phase].setdefault(str(n), {"rounds": []})

            def keep(so_far, entry=entry):
                # a rollout takes minutes: a round cut short keeps the runs it finished
                entry["unfinished_round"] = dict(so_far)
                save(results, path)
            measured = one_round(number, variants, top, inventories, n, hold=rollout_hold, after_each=keep)
            del entry["unfinished_round"]
            entry["rounds"].append(measured)
            entry["summary"] = summarise(entry["rounds"], baseline)
            save(results, path)
    if len(sizes) > 1:
        results[phase + "_fit"] = fits(results, phase, sizes)
        save(results, path)


def refresh_lists(top, fleet_hosts):
    """apt-get update on every fleet host with the security wave staged (untimed)."""
    inventory = write_inventory(os.path.join(top, "refresh.yml"), fleet_hosts)
    lab("stage", ROLLOUT_WAVE)
    try:
        run_variant(settings({"playbook": "refresh"}), top, inventory, len(fleet_hosts))
    finally:
        lab("stage", "baseline")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="25,50,100", help="fleet sizes of the assess phase")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the assess and matrix phases")
    parser.add_argument("--phases", default="assess,matrix,rollout,rollout-matrix")
    parser.add_argument("--matrix-size", type=int, default=50)
    parser.add_argument("--rollout-sizes", default="25,50,100", help="ring sizes of the rollout phase")
    parser.add_argument("--rollout-matrix-size", type=int, default=50, help="ring size of the rollout-matrix phase")
    parser.add_argument("--rollout-rounds", type=int, default=1, help="rounds of the two rollout phases")
    parser.add_argument("--collection", choices=("head", "checkout"), default="head",
                        help="the collection measured: as committed (default) or the checkout's working tree")
    parser.add_argument("--keep-fleet", action="store_true", help="leave the fleet running at the end")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--rundir", help=argparse.SUPPRESS)
    parser.add_argument("--inventory", help=argparse.SUPPRESS)
    parser.add_argument("--hosts", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        return measure(json.loads(args.measure), args.rundir, args.inventory, args.hosts)
    if os.geteuid() != 0:
        raise SystemExit("fleet_bench: needs root (it brings up the lab's fleet)")
    sizes = [int(n) for n in args.sizes.split(",")]
    rollout_sizes = [int(n) for n in args.rollout_sizes.split(",")]
    phases = [p for p in args.phases.split(",") if p]
    unknown = set(phases) - {"assess", "matrix", "rollout", "rollout-matrix"}
    if unknown:
        raise SystemExit("fleet_bench: unknown phase(s) %s" % ", ".join(sorted(unknown)))
    largest = fleet_size(phases, sizes, args.matrix_size, rollout_sizes, args.rollout_matrix_size)
    top = tempfile.mkdtemp(prefix="fleet-bench-")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
    path = os.path.join(HERE, "results", "fleet-%s.json" % stamp)
    results = {"bench": "fleet", "python": platform.python_version(), "cpus": os.cpu_count(), "phases": phases,
               "load_before": os.getloadavg(), "baseline": BASELINE, "boots_at_once": labfleet.BOOTS_AT_ONCE}
    finished = False
    if args.collection == "head":
        # children inherit it: every ansible-playbook of this run uses the same committed collection
        os.environ["FLEET_BENCH_COLLECTIONS"], results["commit"] = snapshot_collection(top)
    else:
        results["commit"] = "working tree"
    try:
        with lab_lock():
            fleet_hosts = fresh_fleet(largest)
            refresh_lists(top, fleet_hosts)
        results["fleet_up"] = "%d hosts" % len(fleet_hosts)
        if "assess" in phases:
            results["assess"] = {}
            for number in range(args.rounds):
                for n in sizes:
                    inventory = write_inventory(os.path.join(top, "assess-%d.yml" % n), fleet_hosts[:n])
                    with lab_lock():
                        measured = one_round(number, ASSESS_VARIANTS, top, dict.fromkeys(ASSESS_VARIANTS, inventory), n)
                    entry = results["assess"].setdefault(str(n), {"rounds": []})
                    entry["rounds"].append(measured)
                    entry["summary"] = summarise(entry["rounds"], "patch_facts")
                    save(results, path)
            results["assess_fit"] = fits(results, "assess", sizes)
            save(results, path)
        if "matrix" in phases:
            n = args.matrix_size
            inventory = write_inventory(os.path.join(top, "matrix-%d.yml" % n), fleet_hosts[:n])
            entry = results.setdefault("matrix", {}).setdefault(str(n), {"rounds": []})
            for number in range(args.rounds):
                with lab_lock():
                    entry["rounds"].append(one_round(number, MATRIX_VARIANTS, top,
                                                     dict.fromkeys(MATRIX_VARIANTS, inventory), n))
                entry["summary"] = summarise(entry["rounds"], "baseline")
                save(results, path)
        fleet = {"unused": list(fleet_hosts)}
        if "rollout" in phases:
            rollout_phase(results, path, "rollout", ROLLOUT_VARIANTS, "plain", rollout_sizes, args.rollout_rounds,
                          top, fleet)
        if "rollout-matrix" in phases:
            rollout_phase(results, path, "rollout-matrix", ROLLOUT_MATRIX_VARIANTS, "baseline",
                          [args.rollout_matrix_size], args.rollout_rounds, top, fleet)
        finished = True
    finally:
        if not args.keep_fleet:
            with lab_lock():
                lab("up", "--hosts", "0")
        if finished:            # a failed run's logs stay for a look
            shutil.rmtree(top, ignore_errors=True)
    shown = {k: v for k, v in results.items()
             if k.endswith("_fit") or k in ("assess", "matrix", "rollout", "rollout-matrix")}
    print(json.dumps(shown, indent=1, default=str)[:20000])
    print("results: %s" % path)


if __name__ == "__main__":
    main()
