"""Benchmark: the report renderers on a large synthetic fleet (default 10,000 hosts x 50 updates).

    .venv/bin/python bench/render_bench.py [--hosts N] [--updates N] [--rounds N]

The report is built the way the callback builds it (tests/support/synthetic_report.py, through
_report/model.py), then each renderer is timed `rounds` times (wall clock, best and median) and run
once more under tracemalloc for the peak memory it allocates on top of the report. Prints JSON.
No lab needed.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "unit"))
sys.path.insert(0, os.path.join(REPO, "tests", "support"))

# Makes the checkout importable as ansible_collections.fleetpatch.patching.
import conftest  # noqa: E402,F401  # pylint: disable=unused-import
import synthetic_report  # noqa: E402
from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import utc_stamp  # noqa: E402
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import hosts_csv as _render_csv
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import dashboard_html as _render_html
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import junit_xml as _render_junit
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import markdown_summary as _render_markdown


def csv_to_file(report):
    """What a caller writing report.csv can do instead: stream it to the file (here /dev/null)."""
    with open(os.devnull, "w", newline="", encoding="utf-8") as stream:
        _render_csv.write(report, stream)
    return ""


RENDERERS = (("html", _render_html.render), ("csv", _render_csv.render), ("csv_write_stream", csv_to_file),
             ("junit", _render_junit.render), ("markdown", _render_markdown.render),
             ("json_dumps_for_reference", lambda report: json.dumps(report, indent=1, sort_keys=True)))


def measure(render, report, rounds):
    times = []
    for _round in range(rounds):
        start = time.perf_counter()
        output = render(report)
        times.append(time.perf_counter() - start)
    size = len(output.encode("utf-8"))
    del output
    tracemalloc.start()
    tracemalloc.reset_peak()
    render(report)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"seconds_best": round(min(times), 3), "seconds_median": round(statistics.median(times), 3),
            "output_bytes": size, "output_mib": round(size / 1048576.0, 2), "peak_alloc_mib": round(peak / 1048576.0, 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--hosts", type=int, default=10000)
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    start = time.perf_counter()
    report = synthetic_report.build(args.hosts, args.updates, hostile=True)
    build_seconds = time.perf_counter() - start
    result = {
        "date": utc_stamp(),
        "python": platform.python_version(), "machine": platform.machine(),
        "hosts": args.hosts, "updates_per_host": args.updates,
        "update_rows": sum(max(1, len(h["updates"])) for h in report["hosts"]),
        "report_build_seconds": round(build_seconds, 2), "rounds": args.rounds,
        "html_detail_limits": dict(zip(("open_updates_per_host", "installed_per_host"),
                                       _render_html.detail_limits(report["hosts"]))),
        "renderers": dict((name, measure(render, report, args.rounds)) for name, render in RENDERERS),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
