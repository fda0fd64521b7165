"""The views drawn from a report: by update (and its CSV), SLA, and what the run changed; counted
against the report's own host entries, not against expected figures."""
import csv
import io

from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import markdown_summary as _render_markdown
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import updates_csv as _render_updates_csv
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import run as _report_run
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import views as _report_views

import synthetic_report

RUN = {"run_id": "r1", "started_at": "2026-11-25T09:00:00Z", "ended_at": "2026-11-25T10:00:00Z",
       "playbooks": ["rollout.yml"], "check_mode": False, "controller": "c", "ansible_version": "2.19",
       "collection_version": "0.1.0", "aborted_by": None}


def update(name, state, advisories=("DSA-1",), cves=("CVE-1",), severity="important", sla_due=None, version="2"):
    return {"name": name, "arch": "amd64", "installed_version": "1", "available_version": version,
            "classification": "security", "severity": severity, "advisories": list(advisories), "title": None,
            "cves": list(cves), "issued": "2026-11-01", "first_seen": "2026-11-02", "decision": "approved",
            "reason": "", "sla_due": sla_due, "sla_breached": bool(sla_due and sla_due < "2026-11-25"), "state": state}


def host(name, *updates, **fields):
    entry = {"host": name, "ring": "test", "status": "non_compliant", "updates": list(updates), "changes": [],
             "rebooted": False, "rolled_back": False, "failure": None, "counts": {}}
    entry.update(fields)
    return entry


def report(*hosts, gates=()):
    return {"run": dict(RUN, gates=list(gates)), "hosts": list(hosts)}


def test_by_update_groups_hosts_by_advisory_then_by_package():
    rows = _report_views.by_update(report(
        host("a", update("libssl3", "missing", severity="critical", cves=("CVE-2", "CVE-1")),
             update("vim", "missing", advisories=(), cves=())),
        host("b", update("openssl", "failed", severity="moderate"), update("vim", "installed", advisories=(), cves=())),
        host("c", update("libssl3", "deferred"))))
    dsa = rows[0]
    assert (dsa["id"], dsa["kind"], dsa["severity"]) == ("DSA-1", "advisory", "critical")   # the worst severity
    assert dsa["packages"] == ["libssl3", "openssl"] and dsa["cves"] == ["CVE-1", "CVE-2"]
    assert (dsa["missing"], dsa["failed"], dsa["held"]) == (["a"], ["b"], ["c"])
    vim = rows[1]
    assert (vim["id"], vim["kind"], vim["missing"], vim["installed"]) == ("vim 2", "package", ["a"], ["b"])


def test_the_updates_csv_has_every_host_of_every_row():
    full = synthetic_report.build(40, 10)
    rows = list(csv.DictReader(io.StringIO(_render_updates_csv_text(full))))
    views = _report_views.by_update(full)
    assert [r["id"] for r in rows] == [v["id"] for v in views]
    for row, view in zip(rows, views):
        assert row["missing_hosts"].split() == view["missing"] and int(row["missing"]) == len(view["missing"])
    # every open (host, advisory) pair of the report is in some row
    pairs = set((h["host"], a) for h in full["hosts"] for u in h["updates"] if u["state"] == "missing"
                for a in u["advisories"])
    assert pairs == set((name, r["id"]) for r in rows for name in r["missing_hosts"].split())


def _render_updates_csv_text(rep):
    out = io.StringIO()
    _render_updates_csv.write(rep, out)
    return out.getvalue()


def test_sla_splits_overdue_and_due_soon_by_the_runs_day():
    updates = [update("p1", "missing", sla_due="2026-11-20", severity="critical"),
               update("p2", "missing", sla_due="2026-11-27"), update("p3", "missing", sla_due="2026-12-20"),
               update("p4", "installed", sla_due="2026-11-01")]
    data = _report_views.sla(report(host("a", *updates)))
    assert [(r["name"], r["days"]) for r in data["overdue"]] == [("p1", 5)]
    assert [(r["name"], r["days"]) for r in data["due_soon"]] == [("p2", 2)]
    assert data["by_severity"]["critical"] == {"overdue": 1, "due_soon": 0}
    assert data["by_severity"]["important"] == {"overdue": 0, "due_soon": 1}


def test_run_changes_roll_up_installs_failures_and_the_promoted_manifest():
    gate = {"ring": "test", "passed": True, "message": "", "hosts": 2, "succeeded": 1, "rolled_back": 1, "failed": 0,
            "unreachable": 0, "manifest": {"apt": {"fp-crypto": "1.0-2"}}}
    data = _report_views.run_changes(report(
        host("a", changes=[{"name": "fp-crypto", "before": "1.0-1", "after": "1.0-2"}], rebooted=True),
        host("b", update("fp-webapp", "failed"), changes=[{"name": "fp-webapp", "before": "1.0", "after": "1.1"}],
             rolled_back=True, status="rolled_back", failure={"task": "health", "message": "health checks failed"}),
        gates=[gate]))
    assert data["installed"] == [{"name": "fp-crypto", "after": "1.0-2", "hosts": ["a"]}]
    assert (data["rebooted"], data["rolled_back"]) == (["a"], ["b"])
    assert data["failures_by_package"] == [{"name": "fp-webapp", "hosts": ["b"]}]
    assert data["failures_by_message"] == [{"message": "health checks failed", "hosts": ["b"]}]
    assert data["manifest"] == {"apt": {"fp-crypto": "1.0-2"}}


def test_the_gate_watcher_keeps_the_manifest_of_an_open_gate():
    class Task(object):
        action = "ansible.builtin.assert"

        class _role(object):
            @staticmethod
            def get_name():
                return "fleetpatch.patching.gate"
    watcher = _report_run.GateWatcher()
    watcher.observe(Task, {"ansible_facts": {"gate_result": {"ring": "test", "hosts": 1, "succeeded": 1}}}, False)
    watcher.observe(Task, {"msg": "Gate open after ring test"}, False)
    watcher.observe(Task, {"ansible_facts": {"gate_manifest": {"apt": {"fp-crypto": "1.0-2"}, "dnf": {}}}}, False)
    assert watcher.decisions[0]["manifest"] == {"apt": {"fp-crypto": "1.0-2"}, "dnf": {}}


def test_the_markdown_summary_has_sla_and_the_most_urgent_updates():
    full = synthetic_report.build(40, 10)
    text = _render_markdown.render(full)
    sla = _report_views.sla(full)
    assert "SLA: **%d overdue**" % len(sla["overdue"]) in text
    top = [r for r in _report_views.by_update(full) if r["missing"] or r["failed"]][0]
    assert "| %s | %s | %d |" % (top["id"], top["severity"], len(top["missing"]) + len(top["failed"])) in text


def test_the_by_update_view_counts_what_the_hosts_count():
    full = synthetic_report.build(40, 10)
    rows = _report_views.by_update(full)
    # each open update of a host is in exactly one package row, or in one row per advisory
    for host in full["hosts"]:
        for update in host["updates"]:
            keys = _report_views.update_key(update)
            listed = [r for r in rows if (r["kind"], r["id"]) in keys]
            assert len(listed) == len(keys)
            if update["state"] in ("missing", "failed"):
                assert all(host["host"] in r[update["state"]] for r in listed)
