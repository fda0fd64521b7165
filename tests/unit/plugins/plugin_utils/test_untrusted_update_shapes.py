"""Whatever type a host sends in any field of an update, or of a change the run made, the end of the
run writes every report file and the store takes the run: one host's bad data never costs another
host its entry (the class of b924743, where a list in a severity broke every host's report). Driven
through the real end of a run (_report/run.finish: the spill file, the one pass, every renderer, a
real SQLite store)."""
import json
import os

import jsonschema
import pytest

from host_updates import CONTROLLER_NOW as NOW, FACTS, RUN, record, update

from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import run as _report_run
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._store.history import HistoryStore

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SCHEMA = json.load(open(os.path.join(REPO, "docs", "schemas", "compliance_report.schema.json")))
APPLY = "fleetpatch.patching.patch_apply"
# Every JSON type a module's answer can carry where text, a word, a list of ids or a date belongs.
BAD_VALUES = [[], ["x"], {}, {"k": "v"}, 0, 5, 1.5, True, False, "", "DSA-1"]
UPDATE_FIELDS = ("name", "arch", "installed_version", "available_version", "title", "reason", "severity",
                 "classification", "decision", "advisories", "cves", "issued", "first_seen", "sla_due")


def observations(broken_updates, broken_changes=None):
    """A host that sent broken_updates (and changed broken_changes after an earlier record with the same
    updates), and a clean host beside it."""
    obs = {}
    for host, updates, changes in (("broken", broken_updates, broken_changes), ("fine", [update("fp-b")], None)):
        seen = obs[host] = model.HostObservations(host, clock=lambda: NOW)
        seen.observe(FACTS, {"ansible_facts": {"fleetpatch": record(*json.loads(json.dumps(updates)))}}, "Assess")
        if changes is not None:
            seen.observe(APPLY, {"changed": True, "changes": changes}, "Apply")
            seen.observe(FACTS, {"ansible_facts": {"fleetpatch": record()}}, "Assess again")
    return obs


def finish(tmp_path, obs):
    store = str(tmp_path / "history.sqlite")
    report, files, problems = _report_run.finish(
        dict(RUN, run_id="hostile"), obs, list(obs), {}, None, {"report_dir": str(tmp_path / "reports"), "store": store})
    assert problems == [], problems
    assert sorted(files) == ["csv", "html", "json", "junit", "markdown", "updates"]
    with open(files["json"]) as handle:
        document = json.load(handle)
    jsonschema.validate(document, SCHEMA)
    with HistoryStore.open(store) as history:
        assert [r["run_id"] for r in history.runs()] == ["hostile"]
    return dict((h["host"], h) for h in document["hosts"])


def test_the_clean_run_is_the_reference(tmp_path):
    hosts = finish(tmp_path, observations([update("fp-a")]))
    assert hosts["broken"]["data_warnings"] == [] and hosts["fine"]["data_warnings"] == []


@pytest.mark.parametrize("field", UPDATE_FIELDS)
@pytest.mark.parametrize("bad", BAD_VALUES, ids=repr)
def test_any_type_in_any_field_of_an_update_costs_no_host_its_report(tmp_path, field, bad):
    hosts = finish(tmp_path, observations([update("fp-a", **{field: bad}), update("fp-c")]))
    assert hosts["fine"]["data_warnings"] == [] and hosts["fine"]["updates"][0]["name"] == "fp-b"
    broken = hosts["broken"]
    assert len(broken["updates"]) == 2
    shown = broken["updates"][0] if broken["updates"][0]["name"] != "fp-c" else broken["updates"][1]
    if field in ("advisories", "cves"):
        # ids are a list of text: anything else is none, said on the host (never the letters of a string)
        assert shown[field] == (["x"] if bad == ["x"] else []), shown[field]
        warned = any(field in warning for warning in broken["data_warnings"])
        assert warned == (bad not in ([], "", ["x"])), broken["data_warnings"]
    elif field in ("severity", "classification", "decision", "issued", "first_seen", "sla_due"):
        assert shown[field] is None or isinstance(shown[field], str)
        if bad not in ("",):
            assert any(field in warning for warning in broken["data_warnings"]), broken["data_warnings"]
    else:
        assert shown[field] is None or isinstance(shown[field], str), shown[field]


@pytest.mark.parametrize("field", ("name", "before", "after"))
@pytest.mark.parametrize("bad", BAD_VALUES, ids=repr)
def test_any_type_in_a_change_or_an_earlier_records_arch_costs_no_host_its_report(tmp_path, field, bad):
    earlier = [update("fp-a", arch=bad if field == "name" else "amd64"), update("fp-c")]
    change = {"name": "fp-a", "before": "1", "after": "2"}
    change[field] = bad
    hosts = finish(tmp_path, observations(earlier, [change]))
    assert hosts["fine"]["data_warnings"] == [] and hosts["fine"]["updates"][0]["name"] == "fp-b"
    assert all(isinstance(c["name"], str) for c in hosts["broken"]["changes"])
