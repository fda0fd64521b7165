"""The compliance callback on real lab runs: the reports of a rollout that a broken wave stops and
of one that reaches every ring validate against the schema and say what happened; the history
store gives the trend and re-draws any report; a run killed with SIGTERM still leaves a report
marked aborted and a consistent store; nothing censored reaches the files."""
import base64
import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import types
import xml.etree.ElementTree as ET

import jsonschema
import pytest
from conftest import REPO_ROOT, ansible_playbook, run_lab, sigterm_when
from test_apply_rollback import refresh

sys.path.insert(0, os.path.join(REPO_ROOT, ".build", "collections"))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "support"))
import cdp_client  # noqa: E402
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore  # noqa: E402

PLAYBOOKS = os.path.join(REPO_ROOT, "playbooks")
SCHEMA = json.load(open(os.path.join(REPO_ROOT, "docs", "schemas", "compliance_report.schema.json")))
CHECKS = [{"type": "service", "service": "fp-webapp"},
          {"type": "http", "url": "http://{{ ansible_host }}:8080/", "body_regex": "fp-webapp .* ok"}]
ROLLOUT_VARS = {"patch_health_checks": CHECKS, "patch_health_delay": 1, "patch_health_retries": 2,
                "patch_reboot": "never"}


def callback_env(report_dir, store, **more):
    env = {"ANSIBLE_CALLBACKS_ENABLED": "fleetpatch.patching.compliance", "FLEETPATCH_REPORT_DIR": str(report_dir),
           "FLEETPATCH_STORE": str(store), "FLEETPATCH_PRINT_SUMMARY": "false"}
    env.update(more)
    return env


def load_report(report_dir, run_id):
    with open(os.path.join(report_dir, run_id, "report.json")) as handle:
        report = json.load(handle)
    jsonschema.validate(report, SCHEMA)
    return report


def hosts_by_name(report):
    return dict((h["host"], h) for h in report["hosts"])


@pytest.fixture(scope="module")
def two_rollouts(fresh_lab, fleet, tmp_path_factory):
    """A broken wave stopped at the first gate, then the fixed wave through every ring."""
    inventory = fresh_lab
    run_lab("reset")
    report_dir = tmp_path_factory.mktemp("reports")
    store = report_dir / "history.sqlite"
    reports = []
    for wave, run_id in (("broken", "run-broken"), ("fixed", "run-fixed")):
        run_lab("stage", wave)
        refresh(list(fleet.values()))
        rc, output = ansible_playbook(os.path.join(PLAYBOOKS, "rollout.yml"), inventory, check=False,
                                      extra_vars=ROLLOUT_VARS,
                                      env=callback_env(report_dir, store, FLEETPATCH_RUN_ID=run_id))
        assert (rc != 0) == (wave == "broken"), output["stats"]
        reports.append(load_report(report_dir, run_id))
    return types.SimpleNamespace(inventory=inventory, report_dir=report_dir, store=store,
                                 broken=reports[0], fixed=reports[1])


def test_a_stopped_rollout_reports_the_rollback_and_the_closed_gate(two_rollouts):
    broken = two_rollouts.broken
    assert broken["run"]["status"] == "failed" and broken["run"]["playbooks"] == ["rollout.yml"]
    assert [(g["ring"], g["passed"], g["rolled_back"]) for g in broken["run"]["gates"]] == [("test", False, 3)]
    hosts = hosts_by_name(broken)
    assert set(hosts) == {"lab-apt1", "lab-dnf1", "lab-zypper1", "lab-apt2", "lab-apt3", "lab-apt4"}
    for name in ("lab-apt1", "lab-dnf1", "lab-zypper1"):
        host = hosts[name]
        assert (host["ring"], host["status"], host["rolled_back"]) == ("test", "rolled_back", True), name
        assert host["journal"] and "Failed to install" in host["failure"]["message"], name
        # every update the run tried and did not keep is failed, not merely missing
        assert (host["counts"]["failed"], host["counts"]["missing"]) == (7, 0), name
    for name in ("lab-apt2", "lab-apt3", "lab-apt4"):             # never patched: still missing all 7
        assert (hosts[name]["status"], hosts[name]["counts"]["missing"]) == ("non_compliant", 7), name
    assert broken["summary"]["by_status"]["rolled_back"] == 3
    assert broken["summary"]["by_ring"]["test"]["by_status"]["rolled_back"] == 3


def test_a_complete_rollout_reports_every_ring_compliant_with_its_trend(two_rollouts):
    report_dir, broken, fixed = two_rollouts.report_dir, two_rollouts.broken, two_rollouts.fixed
    assert fixed["run"]["status"] == "completed"
    assert [(g["ring"], g["passed"]) for g in fixed["run"]["gates"]] == [("test", True), ("pilot", True)]
    for host in fixed["hosts"]:
        assert host["status"] in ("compliant", "pending_reboot"), (host["host"], host["status"])
        installed = {u["name"]: u["available_version"] for u in host["updates"] if u["state"] == "installed"}
        assert installed and {c["name"] for c in host["changes"]} >= set(installed), host["host"]
        assert host["counts"]["missing"] == 0
    assert fixed["summary"]["by_ring"]["production"]["hosts"] == 2
    assert [p["run_id"] for p in fixed["trend"]] == ["run-broken", "run-fixed"]
    assert fixed["trend"][0]["by_status"] == broken["summary"]["by_status"]
    assert os.readlink(os.path.join(report_dir, "latest")) == "run-fixed"


def test_every_format_is_written_private_and_consistent(two_rollouts):
    report_dir, fixed = two_rollouts.report_dir, two_rollouts.fixed
    run_dir = os.path.join(report_dir, "run-fixed")
    names = sorted(os.listdir(run_dir))
    assert names == ["report.csv", "report.html", "report.json", "report.junit.xml", "report.md", "report.updates.csv"]
    for name in names:
        assert os.stat(os.path.join(run_dir, name)).st_mode & 0o777 == 0o600, name
    with open(os.path.join(run_dir, "report.csv"), newline="") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) - 1 == sum(max(1, len(h["updates"])) for h in fixed["hosts"])
    suites = ET.parse(os.path.join(run_dir, "report.junit.xml")).getroot()
    assert len(suites.findall(".//testcase")) == len(fixed["hosts"])
    with open(os.path.join(run_dir, "report.md")) as handle:
        assert "run-fixed" in handle.read()


def test_the_dashboard_of_a_lab_run_opens_cleanly_in_chromium(two_rollouts, tmp_path):
    binary = cdp_client.find_chromium()
    if binary is None:
        pytest.skip("no Chromium binary found (Debian: apt-get install chromium)")
    browser = cdp_client.Chromium(binary, str(tmp_path / "profile"))
    try:
        assert cdp_client.load(browser, os.path.join(str(two_rollouts.report_dir), "run-broken", "report.html")) == []
        text = browser.evaluate("document.body.innerText")
        assert "run-broken" in text and all(h in text for h in ("lab-apt1", "lab-dnf1", "lab-zypper1", "lab-apt4"))
        png = base64.b64decode(browser.page("Page.captureScreenshot", {"format": "png"})["data"])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20000
        if os.environ.get("FLEETPATCH_UPDATE_SCREENSHOT") == "1":
            (tmp_path / "shot.png").write_bytes(png)
            shutil.copyfile(str(tmp_path / "shot.png"), os.path.join(REPO_ROOT, "docs", "images", "lab-rollout-report.png"))
        # The views of the lab's runs: the broken one rolled the test ring back; the fixed one installed
        # the wave everywhere and promoted its manifest, with the store's view of the fleet.
        changes = browser.evaluate("document.getElementById('changes').innerText")
        assert "Rolled back (3)" in changes and "Failures by package" in changes
        fixed = two_rollouts.fixed
        assert cdp_client.load(browser, os.path.join(str(two_rollouts.report_dir), "run-fixed", "report.html")) == []
        changes = browser.evaluate("document.getElementById('changes').innerText")
        installed = sorted(set(c["name"] for h in fixed["hosts"] for c in h["changes"]))
        assert installed and all(name in changes for name in installed) and "Promoted manifest" in changes
        fleet = browser.evaluate("document.getElementById('fleet').innerText")
        assert "%d hosts known" % len(fixed["fleet"]["hosts"]) in fleet
        assert fixed["fleet"]["since_previous"]["resolved"] > 0       # the broken run had left them open
        # by-update lists what the fixed wave installed, by advisory, and the filter finds a CVE
        cve = next(c for h in fixed["hosts"] for u in h["updates"] if u["state"] == "installed" for c in u["cves"])
        shown = browser.evaluate(
            "var q = document.getElementById('upd-q'); q.value = %r; q.dispatchEvent(new Event('input'));"
            "Array.prototype.map.call(document.querySelectorAll('#upd-list tbody tr:not([hidden])'),"
            " function (r) { return r.textContent; })" % cve)
        assert shown and all(cve in row for row in shown)
        assert cdp_client.problems(browser) == []
    finally:
        browser.quit()


def test_the_store_redraws_a_run_and_a_time_range(two_rollouts, tmp_path):
    inventory, store = two_rollouts.inventory, two_rollouts.store
    broken, fixed = two_rollouts.broken, two_rollouts.fixed
    with HistoryStore.open(str(store)) as history:
        assert history.get_report("run-broken") == broken
    ansible_playbook(os.path.join(PLAYBOOKS, "report.yml"), inventory,
                     extra_vars={"report_store": str(store), "report_run_id": "run-broken",
                                 "report_query": "[?ring=='test']", "report_dest": str(tmp_path)})
    redrawn = load_report(tmp_path, "run-broken")
    assert [h["host"] for h in redrawn["hosts"]] == ["lab-apt1", "lab-dnf1", "lab-zypper1"]
    assert redrawn["summary"]["by_status"]["rolled_back"] == 3
    ansible_playbook(os.path.join(PLAYBOOKS, "report.yml"), inventory,
                     extra_vars={"report_store": str(store), "report_since": "2000-01-01",
                                 "report_dest": str(tmp_path)})
    combined = load_report(tmp_path, "range-2000-01-01-now")
    assert hosts_by_name(combined) == hosts_by_name(fixed)      # each host as its newest run saw it
    assert [p["run_id"] for p in combined["trend"]] == ["run-broken", "range-2000-01-01-now"]


def test_the_summary_is_printed_and_censored_values_stay_out(fresh_lab, tmp_path):
    secret = "S3cret-%d" % os.getpid()
    playbook = tmp_path / "assess_with_secret.yml"
    playbook.write_text(
        "- hosts: lab_apt\n  gather_facts: false\n  tasks:\n"
        "    - name: Use a secret\n      ansible.builtin.debug:\n        msg: \"{{ token }}\"\n      no_log: true\n"
        "    - name: Assess\n      fleetpatch.patching.patch_facts:\n        update_cache: false\n")
    env = dict(os.environ, **callback_env(tmp_path / "r", tmp_path / "h.sqlite", FLEETPATCH_PRINT_SUMMARY="true",
                                          FLEETPATCH_RUN_ID="run-secret"))
    proc = subprocess.run(["ansible-playbook", "-i", fresh_lab, str(playbook), "-e", "token=" + secret],
                          capture_output=True, text=True, env=env, timeout=600, check=False, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "## fleetpatch compliance" in proc.stdout and "run-secret" in proc.stdout
    assert load_report(tmp_path / "r", "run-secret")["summary"]["hosts"] == 4
    for root, dummy_dirs, files in os.walk(tmp_path):
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                assert secret.encode() not in handle.read(), name


def test_sigterm_mid_run_leaves_an_aborted_report_and_a_consistent_store(fresh_lab, fleet, tmp_path):
    run_lab("reset")
    run_lab("stage", "security")
    refresh(list(fleet.values()))
    report_dir, store = tmp_path / "r", tmp_path / "h.sqlite"
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", **callback_env(report_dir, store, FLEETPATCH_RUN_ID="run-killed"))
    # cancelled once the test ring is being patched
    rc, seen = sigterm_when(["ansible-playbook", "-i", fresh_lab, os.path.join(PLAYBOOKS, "rollout.yml"),
                             "-e", json.dumps({"patch_reboot": "always"})], env,
                            "TASK [fleetpatch.patching.patch : Install the updates", delay=2)
    assert rc != 0, seen[-3000:]
    report = load_report(report_dir, "run-killed")
    assert (report["run"]["status"], report["run"]["aborted_by"]) == ("aborted", "SIGTERM")
    assert report["summary"]["hosts"] == 6                     # the assessment had reached every host
    with HistoryStore.open(str(store)) as history:
        assert history.get_report("run-killed") == report
    with sqlite3.connect(str(store)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    run_lab("reset")                                           # a host may be mid-transaction
