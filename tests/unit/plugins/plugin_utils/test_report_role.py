"""The report role (playbooks/report.yml) on a real SQLite store, through the real ansible-playbook:
the line it prints says how compliant the run was, and a run of no hosts is never "0%" or "None%"
compliant (no hosts is not a percentage: docs/reporting.md)."""
import json
import os
import subprocess
import sys

import pytest
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore
from test_history_store import entry, report, update

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def printed(store, run_id, dest):
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_NOCOLOR="1",
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"))
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                           "-c", "local", os.path.join(REPO, "playbooks", "report.yml"),
                           "-e", json.dumps({"report_store": store, "report_run_id": run_id, "report_dest": dest,
                                             "report_formats": ["json"]})],
                          capture_output=True, text=True, env=env, check=False, stdin=subprocess.DEVNULL, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for play in json.loads(proc.stdout)["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"].endswith("Show where the report is"):
                return task["hosts"]["localhost"]["msg"]
    raise AssertionError("the role printed no summary line")


@pytest.mark.parametrize("hosts, expected", [
    ((), "empty: 0 hosts, none to call compliant, 0 non-compliant"),
    (("web01", "web02"), "two: 2 hosts, 50.0% compliant, 1 non-compliant"),
])
def test_the_summary_line_says_how_compliant_the_run_was(tmp_path, hosts, expected):
    run_id = expected.split(":")[0]
    entries = [entry(h, *([update("openssl", "3.0.1")] if h == "web02" else []),
                     status="non_compliant" if h == "web02" else "compliant") for h in hosts]
    store = str(tmp_path / "history.sqlite")
    with HistoryStore.open(store) as opened:
        opened.append_run(report(run_id, "2026-11-20T10:00:00Z", *entries))
    assert printed(store, run_id, str(tmp_path / "reports")).startswith(expected)
