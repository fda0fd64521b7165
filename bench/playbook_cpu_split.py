"""Run ansible-playbook and write, when it exits, the CPU seconds of its own process apart from its
workers'.

    python bench/playbook_cpu_split.py OUT.json ansible-playbook-arguments...

Used by bench/callback_overhead_bench.py for every run: callback plugins run in ansible-playbook's
own process (the controller's main process), the tasks in the worker processes it forks and reaps.
What a callback adds is the main process's CPU; the workers' varies from run to run by as much as
the whole callback costs on a shared machine, so a ratio of the two processes together says less.
Writes {main_cpu_s, workers_cpu_s, main_rss_mib, workers_rss_mib} (getrusage RUSAGE_SELF and
RUSAGE_CHILDREN: the workers reaped by then, which is all of them once the run has ended).
"""
import atexit
import json
import resource
import sys


def write(path):
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(path, "w") as handle:
        json.dump({"main_cpu_s": round(own.ru_utime + own.ru_stime, 2),
                   "workers_cpu_s": round(workers.ru_utime + workers.ru_stime, 2),
                   "main_rss_mib": round(own.ru_maxrss / 1024.0, 1),
                   "workers_rss_mib": round(workers.ru_maxrss / 1024.0, 1)}, handle)


def main():
    atexit.register(write, sys.argv[1])
    sys.argv = ["ansible-playbook"] + sys.argv[2:]
    from ansible.cli.playbook import main as playbook_main
    playbook_main()


if __name__ == "__main__":
    main()
