"""The AWX job a run was: read from the awx_* extra variables AWX adds (checked, since extra
variables are whatever the launcher passed), kept in the report and the history store, shown and
linked in the dashboard and the summary."""
import datetime

from ansible_collections.fleetpatch.patching.plugins.plugin_utils import _awx_job
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import dashboard_html as _render_html
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import markdown_summary as _render_markdown
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore
from test_history_store import entry, report

# What AWX 24 passes a workflow node's job (awx_meta_vars), tower_ beside awx_.
AWX_VARS = {"awx_job_id": 123, "awx_job_launch_type": "workflow", "awx_workflow_job_id": 45,
            "awx_workflow_job_name": "fleetpatch monthly", "awx_user_name": "alice", "awx_inventory_name": "fleet",
            "awx_project_revision": "0f3c", "awx_job_template_id": 7, "awx_job_template_name": "patch test",
            "tower_job_id": 123}


def test_job_metadata_reads_awxs_variables_and_checks_them():
    awx = _awx_job.job_metadata(AWX_VARS)
    assert (awx["job_id"], awx["workflow_job_id"], awx["job_template_name"], awx["user_name"], awx["launch_type"]) == (
        123, 45, "patch test", "alice", "workflow")
    assert awx["schedule_id"] is None
    assert _awx_job.job_metadata({"tower_job_id": "9"})["job_id"] == 9         # the older prefix, as text
    assert _awx_job.job_metadata({"awx_job_id": True}) is None                 # not an id
    assert _awx_job.job_metadata({"awx_job_id": 1, "awx_user_name": {"x": 1}})["user_name"] is None
    assert len(_awx_job.job_metadata({"awx_job_id": 1, "awx_job_template_name": "n" * 9999})["job_template_name"]) == 256
    assert _awx_job.job_metadata({"fleetpatch_ring": "test"}) is None


def test_job_url_only_from_an_http_base():
    awx = _awx_job.job_metadata(AWX_VARS)
    assert _awx_job.job_url("https://awx.example.com/", awx) == "https://awx.example.com/#/jobs/playbook/123/output"
    assert _awx_job.job_url("javascript:alert(1)", awx) is None
    assert _awx_job.job_url(None, awx) is None and _awx_job.job_url("https://awx", None) is None


def test_the_job_is_stored_shown_and_linked(tmp_path):
    rep = report("r1", "2026-11-01T10:00:00Z", entry("a"))
    rep["run"]["awx"] = _awx_job.job_metadata(AWX_VARS)
    rep["run"]["awx_url"] = _awx_job.job_url("https://awx.example.com", rep["run"]["awx"])
    with HistoryStore.open(str(tmp_path / "h.sqlite")) as store:
        store.append_run(rep)
        stored = store.runs(since=datetime.date(2026, 11, 1))[0]["awx"]
    assert stored == {"job_id": 123, "workflow_job_id": 45, "job_template_name": "patch test",
                      "workflow_job_name": "fleetpatch monthly", "user_name": "alice", "schedule_name": None,
                      "launch_type": "workflow", "job_template_id": 7}
    page = _render_html.render(rep)
    assert ('<a class="awx" href="https://awx.example.com/#/jobs/playbook/123/output" rel="noreferrer">AWX job 123 '
            '&quot;patch test&quot; (workflow job 45 &quot;fleetpatch monthly&quot;, launched by alice, workflow)</a>') in page
    assert 'AWX job 123 "patch test" (workflow job 45 "fleetpatch monthly", launched by alice, workflow)' in \
        _render_markdown.render(rep)
