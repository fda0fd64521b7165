"""Runs on the lab host (stdlib only): times a module payload against the raw commands it
needs, and against the floor of any Ansible module (ansible.builtin.ping's payload), interleaved
so that drift on the machine affects all alike. Prints JSON."""
import json
import statistics
import subprocess
import sys
import time

payload, floor_payload, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
# the approved updates patch_facts resolves (NAME[:ARCH]=VERSION, one a line), when there are any
SPECS = open(sys.argv[4]).read().split() if len(sys.argv) > 4 else []
ENV = {"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


def raw_commands():
    """What patch_facts needs on an apt host, as a shell script would run it: the installed
    packages, `apt-cache policy` over them, the simulated install of the approved updates
    (resolution), the reboot flag."""
    out = subprocess.run(["dpkg-query", "--show", "--showformat",
                          "${db:Status-Abbrev}\t${binary:Package}\t${Version}\t${Architecture}\n"],
                         capture_output=True, text=True, env=ENV, check=False).stdout
    names = [line.split("\t")[1] for line in out.splitlines() if line[1:2] == "i"]
    subprocess.run(["apt-cache", "policy"] + names, stdout=subprocess.DEVNULL, env=ENV, check=False)
    if SPECS:
        subprocess.run(["apt-get", "--simulate", "--quiet", "-o", "Debug::NoLocking=true", "install"] + SPECS,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, check=False)
    subprocess.run(["test", "-e", "/run/reboot-required"], env=ENV, check=False)


def timed(argv_list):
    start = time.perf_counter()
    if argv_list is RAW:
        raw_commands()
    for argv in argv_list:
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, check=False)
    return time.perf_counter() - start


RAW = []


module, raw, floor = [], [], []
timed([[sys.executable, payload]])   # warm the page cache for all three
timed([[sys.executable, floor_payload]])
timed(RAW)
for _ in range(rounds):
    module.append(timed([[sys.executable, payload]]))
    raw.append(timed(RAW))
    floor.append(timed([[sys.executable, floor_payload]]))
print(json.dumps({"module_s": module, "raw_s": raw, "floor_s": floor,
                  "module_median_s": statistics.median(module), "raw_median_s": statistics.median(raw),
                  "floor_median_s": statistics.median(floor)}))
