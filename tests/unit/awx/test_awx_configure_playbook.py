"""playbooks/awx_configure.yml run for real against a stand-in awx.awx collection whose modules
return the arguments they were given (no AWX can run here): what each AWX object would be created
with is checked, and checked against what the workflow driver (tests/integration/awx_workflow.py)
reads from the same playbook, so the lab test runs the workflow this playbook configures."""
import calendar
import datetime
import json
import os
import re
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from awx_workflow import load_configuration  # noqa: E402

PLAYBOOK = os.path.join(REPO, "playbooks", "awx_configure.yml")
AWX_MODULES = ("execution_environment", "project", "credential_type", "credential", "inventory", "inventory_source",
               "job_template", "workflow_job_template", "schedule")
# An old-style module (WANT_JSON): Ansible hands it the arguments file; it hands them back.
ECHO_MODULE = """#!/usr/bin/python
# WANT_JSON
import json
import sys
with open(sys.argv[1]) as handle:
    args = json.load(handle)
print(json.dumps({"changed": False, "args": dict((k, v) for k, v in args.items() if not k.startswith("_ansible"))}))
"""
SECRET = "s3cret-store-password"


@pytest.fixture(scope="module")
def stand_in_awx(tmp_path_factory):
    root = tmp_path_factory.mktemp("awx_collections")
    modules = root / "ansible_collections" / "awx" / "awx" / "plugins" / "modules"
    modules.mkdir(parents=True)
    for name in AWX_MODULES:
        (modules / (name + ".py")).write_text(ECHO_MODULE)
    return str(root)


def run_configure(stand_in_awx, extra_vars):
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_NOCOLOR="1",
               ANSIBLE_COLLECTIONS_PATH=stand_in_awx + os.pathsep + os.path.join(REPO, ".build", "collections"))
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    # this Python runs the stand-in modules (interpreter discovery may find a broken one here)
    extra_vars = dict(extra_vars, ansible_python_interpreter=sys.executable)
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,", PLAYBOOK, "-e", json.dumps(extra_vars)],
                          capture_output=True, text=True, env=env, check=False, stdin=subprocess.DEVNULL, timeout=300)
    return proc, json.loads(proc.stdout)


def results(output, task_name):
    for play in output["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"] == task_name:
                return task["hosts"]["localhost"]
    raise AssertionError("no task %r" % task_name)


@pytest.fixture(scope="module")
def configured(stand_in_awx):
    proc, output = run_configure(stand_in_awx, {"fleetpatch_awx_store_password": SECRET})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, output


def test_the_job_templates_are_what_the_workflow_driver_runs(configured):
    proc, output = configured
    configuration = load_configuration()
    created = dict((item["args"]["name"], item["args"]) for item in results(output, "Create the job templates")["results"])
    assert set(created) == set(t["name"] for t in configuration["templates"].values())
    for template in configuration["templates"].values():
        args = created[template["name"]]
        assert args["playbook"] == template["playbook"] and os.path.isfile(os.path.join(REPO, args["playbook"]))
        assert args["extra_vars"] == template["extra_vars"]
        assert bool(args["ask_variables_on_launch"]) == template["ask_variables_on_launch"]
        assert args["credentials"] == ["fleetpatch machine", "fleetpatch history store"]
        if template["survey_defaults"]:
            question = args["survey_spec"]["spec"][0]
            assert {question["variable"]: question["default"]} == template["survey_defaults"]
            assert sorted(question["choices"]) == sorted(configuration["variables"]["fleetpatch_awx_baselines"])
            assert args["survey_enabled"] is True
        else:
            assert "survey_spec" not in args and args["survey_enabled"] is False


def test_the_workflow_graph_is_the_one_the_driver_walks(configured):
    proc, output = configured
    configuration = load_configuration()
    nodes = results(output, "Create the workflow")["args"]["workflow_nodes"]
    assert [n["identifier"] for n in nodes] == list(configuration["nodes"])
    names = dict((key, t["name"]) for key, t in configuration["templates"].items())
    for node in nodes:
        expected = configuration["nodes"][node["identifier"]]
        if expected["template"] == "approval":
            assert node["unified_job_template"]["type"] == "workflow_approval"
        else:
            assert node["unified_job_template"] == {"name": names[expected["template"]], "type": "job_template",
                                                    "organization": {"name": "Default"}}
        assert node["extra_data"] == expected["extra_data"]
        for link in ("success", "failure"):
            assert [n["identifier"] for n in node["related"][link + "_nodes"]] == expected[link]


def test_the_store_reaches_the_job_as_the_callbacks_environment_never_as_extra_vars(configured):
    proc, output = configured
    callback = open(os.path.join(REPO, "plugins", "callback", "compliance.py")).read()
    documentation = yaml.safe_load(re.search(r'DOCUMENTATION = r"""(.*?)"""', callback, re.S).group(1))
    store_env = documentation["options"]["store"]["env"][0]["name"]
    injected = results(output, "Create the history store's credential type")["args"]["injectors"]["env"]
    assert set(injected) == {store_env, "PGPASSWORD"}
    assert injected[store_env].startswith("postgresql://{{ username }}@{{ host }}")
    assert "password" not in injected[store_env] and injected["PGPASSWORD"] == "{{ password }}"
    credential = results(output, "Create the history store's credential")
    assert credential.get("censored")                          # no_log: the password is never shown
    assert SECRET not in proc.stdout and SECRET not in proc.stderr
    for item in results(output, "Create the job templates")["results"]:
        assert not any(key.startswith(("FLEETPATCH_", "PG")) or "store" in key for key in item["args"]["extra_vars"])


def second_tuesday(year, month):
    tuesdays = [d for d in calendar.Calendar().itermonthdates(year, month) if d.month == month and d.weekday() == 1]
    return tuesdays[1]


def rrule_days(rrule, year, month):
    """The days of a month a MONTHLY;BYDAY=..;BYMONTHDAY=.. rule (what the playbook writes) selects."""
    fields = dict(part.split("=", 1) for part in rrule.split("RRULE:", 1)[1].split(";"))
    assert fields["FREQ"] == "MONTHLY" and fields["INTERVAL"] == "1" and set(fields) == {"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY"}
    weekday = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"].index(fields["BYDAY"])
    days = [int(day) for day in fields["BYMONTHDAY"].split(",")]
    return [datetime.date(year, month, day) for day in days
            if day <= calendar.monthrange(year, month)[1] and datetime.date(year, month, day).weekday() == weekday]


@pytest.mark.parametrize("days_after", [0, 6, 14])
def test_the_schedule_runs_once_a_month_n_days_after_patch_tuesday(stand_in_awx, days_after):
    proc, output = run_configure(stand_in_awx, {"fleetpatch_awx_store_password": SECRET,
                                                "fleetpatch_awx_schedule_days_after_patch_tuesday": days_after,
                                                "fleetpatch_awx_schedule_timezone": "Europe/Paris"})
    assert proc.returncode == 0, proc.stdout[-2000:]
    rrule = results(output, "Schedule the workflow")["args"]["rrule"]
    assert rrule.startswith("DTSTART;TZID=Europe/Paris:20270101T020000 RRULE:")
    for year in (2027, 2028):
        for month in range(1, 13):
            assert rrule_days(rrule, year, month) == [second_tuesday(year, month) + datetime.timedelta(days=days_after)]


@pytest.mark.parametrize("bad", [{"fleetpatch_awx_store_password": ""},
                                 {"fleetpatch_awx_store_password": SECRET, "fleetpatch_awx_schedule_days_after_patch_tuesday": 15}])
def test_bad_variables_stop_before_anything_is_created(stand_in_awx, bad):
    proc, output = run_configure(stand_in_awx, bad)
    assert proc.returncode != 0
    assert results(output, "Check the variables")["failed"]
    assert all(task["task"]["name"] == "Check the variables" for play in output["plays"] for task in play["tasks"])


def test_job_slicing_is_set_per_job_template(stand_in_awx, configured):
    """fleetpatch_awx_job_slices sets a job template's job_slice_count (docs/awx.md, Job slicing);
    the others run unsliced."""
    _proc, output = configured
    default = dict((item["item"]["key"], item["args"]["job_slice_count"])
                   for item in results(output, "Create the job templates")["results"])
    assert set(default.values()) == {1}
    proc, output = run_configure(stand_in_awx, {"fleetpatch_awx_store_password": SECRET,
                                                "fleetpatch_awx_job_slices": {"patch_production": 4}})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    sliced = dict((item["item"]["key"], item["args"]["job_slice_count"])
                  for item in results(output, "Create the job templates")["results"])
    assert sliced == dict(default, patch_production=4)
