"""Run ansible-playbook with the time each callback plugin spends in each of its hooks counted.

    python bench/callback_hook_timer.py OUT.json ansible-playbook-arguments...

Used by bench/callback_overhead_bench.py (--hook-times): it wraps, per loaded callback plugin, the
methods TaskQueueManager.send_callback calls (an instance attribute wins over the class's method),
so the figures are each plugin's own time in its hooks, in the controller's main process, where
Ansible calls callbacks. Ansible's copy of each task result per plugin (as_callback_task_result) is
outside the hooks and not counted. Writes {plugin: {hook: {calls, wall_s, thread_cpu_s}}} to OUT.json at
exit: wall time counts the GIL waits behind Ansible's result thread and other processes on a busy
machine; thread_cpu_s (time.thread_time) is the hook's own CPU time.
"""
import atexit
import json
import sys
import time

from ansible.executor.task_queue_manager import TaskQueueManager

TIMES = {}


def timed(plugin_name, hook, method):
    slot = TIMES.setdefault(plugin_name, {}).setdefault(hook, [0, 0.0, 0.0])

    def wrapper(*args, **kwargs):
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return method(*args, **kwargs)
        finally:
            slot[0] += 1
            slot[1] += time.perf_counter() - started
            slot[2] += time.thread_time() - cpu
    return wrapper


def load_callbacks(self, _original=TaskQueueManager.load_callbacks):
    _original(self)
    for plugin in self._callback_plugins:
        if getattr(plugin, "_bench_timed", False):     # Ansible calls load_callbacks once per play
            continue
        plugin._bench_timed = True
        name = getattr(plugin, "_load_name", None) or type(plugin).__module__
        for hook in plugin._implemented_callback_methods:
            setattr(plugin, hook, timed(name, hook, getattr(plugin, hook)))


def write(path):
    with open(path, "w") as handle:
        json.dump(dict((plugin, dict((hook, {"calls": calls, "wall_s": round(wall, 4), "thread_cpu_s": round(cpu, 4)})
                                     for hook, (calls, wall, cpu) in hooks.items() if calls))
                       for plugin, hooks in TIMES.items()), handle, indent=1)


def main():
    out = sys.argv[1]
    TaskQueueManager.load_callbacks = load_callbacks
    atexit.register(write, out)
    sys.argv = ["ansible-playbook"] + sys.argv[2:]
    from ansible.cli.playbook import main as playbook_main
    playbook_main()


if __name__ == "__main__":
    main()
