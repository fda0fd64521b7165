"""Run the AWX workflow of playbooks/awx_configure.yml the way AWX runs it, without AWX: every job
through ansible_runner.run() (AWX's own execution engine), with the extra variables AWX builds for a
workflow node and the variables it injects about the job, and each node's set_stats artifacts (the
playbook_on_stats event's artifact_data) passed on to the nodes after it.

What AWX does, and this module with it (awx/main/models/workflow.py WorkflowJobNode.get_job_kwargs,
awx/main/models/unified_jobs.py and jobs.py awx_meta_vars, AWX 24):
- a node's ancestor artifacts are, over its parents in order, the parent's own ancestor artifacts,
  then the artifacts of the parent's job; a root node has none; an approval node has no job and passes
  its ancestors' artifacts on;
- a job's extra variables: the job template's (and its survey's defaults), then the node's prompted
  extra_data (only when the template asks for variables on launch), then the ancestor artifacts
  (without `_ansible_no_log`), then the workflow job's extra variables, which win over artifacts;
  the awx_* / tower_* variables about the job last (a playbook cannot override them);
- after a node, its success_nodes run when it succeeded (an approval approved), its failure_nodes when
  it failed (denied); a workflow fails when a node failed without a failure path.

The graph, the job templates and their variables are read from playbooks/awx_configure.yml, so the
driver runs the workflow that playbook configures."""
import copy
import itertools
import json
import os
import subprocess
import sys
import threading

import ansible_runner
import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGURE_PLAYBOOK = os.path.join(REPO_ROOT, "playbooks", "awx_configure.yml")
APPROVAL = "approval"


class _ConfigLoader(yaml.SafeLoader):
    """The playbook's YAML with Ansible's !unsafe kept as the raw string (AWX stores it as written)."""


_ConfigLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def load_configuration(overrides=None):
    """The configuration playbook's variables (its defaults, then overrides, as `-e` would give them),
    with the names and values the AWX objects get: {'workflow_name', 'templates': {key: {name,
    playbook, extra_vars, ask_variables_on_launch, survey_defaults}}, 'nodes': {identifier: node}}."""
    with open(CONFIGURE_PLAYBOOK) as handle:
        play = yaml.load(handle, Loader=_ConfigLoader)[0]
    variables = dict(play["vars"], **(overrides or {}))
    prefix = variables["fleetpatch_awx_prefix"]
    templates = {}
    for key, spec in variables["__fleetpatch_awx_templates"].items():
        extra_vars = copy.deepcopy(spec["extra_vars"])
        extra_vars.update(copy.deepcopy(variables[spec["vars_from"]]) if "vars_from" in spec else {})
        survey_defaults = {}
        if spec["survey"]:
            extra_vars.update(copy.deepcopy(variables["fleetpatch_awx_patch_vars"]))
            extra_vars.update({"fleetpatch_awx_baselines": copy.deepcopy(variables["fleetpatch_awx_baselines"]),
                               "fleetpatch_policy": variables["__fleetpatch_awx_policy_expr"]})
            survey_defaults = {"fleetpatch_baseline": variables["fleetpatch_awx_default_baseline"]}
        templates[key] = {"name": "%s %s" % (prefix, key.replace("_", " ")), "playbook": spec["playbook"],
                          "extra_vars": extra_vars, "ask_variables_on_launch": key == "rollback",
                          "survey_defaults": survey_defaults}
    nodes = {}
    for node in variables["__fleetpatch_awx_workflow_nodes"]:
        nodes[node["identifier"]] = dict(node, extra_data=node.get("extra_data") or {})
    return {"workflow_name": "%s rollout" % prefix, "templates": templates, "nodes": nodes,
            "inventory_name": prefix, "variables": variables}


def roots(nodes):
    children = set(child for node in nodes.values() for link in ("success", "failure") for child in node[link])
    return [identifier for identifier in nodes if identifier not in children]


def awx_meta_vars(job):
    """The variables AWX adds to a job's extra variables (both prefixes, as AWX 24 does). job: dict
    with id, launch_type, template_id, template_name, inventory_id, inventory_name, project_revision and
    optionally workflow_job_id, workflow_job_name, parent_schedule_id/_name (a scheduled workflow),
    schedule_id/_name (a scheduled job template) or user {id, username, email, first_name, last_name}."""
    values = {"job_id": job["id"], "job_launch_type": job["launch_type"]}
    if job.get("workflow_job_id") is not None:
        values.update(workflow_job_id=job["workflow_job_id"], workflow_job_name=job["workflow_job_name"])
        if job.get("parent_schedule_id") is not None:
            values.update(parent_job_schedule_id=job["parent_schedule_id"], parent_job_schedule_name=job["parent_schedule_name"])
    user = job.get("user")
    if user:
        values.update(user_id=user["id"], user_name=user["username"], user_email=user["email"],
                      user_first_name=user["first_name"], user_last_name=user["last_name"])
    elif job.get("schedule_id") is not None:
        values.update(schedule_id=job["schedule_id"], schedule_name=job["schedule_name"])
    values.update(inventory_id=job["inventory_id"], inventory_name=job["inventory_name"],
                  project_revision=job["project_revision"], job_template_id=job["template_id"],
                  job_template_name=job["template_name"])
    return dict(("%s_%s" % (prefix, key), value) for prefix in ("awx", "tower") for key, value in values.items())


def node_extra_vars(template, node, ancestor_artifacts, workflow_extra_vars):
    """The extra variables AWX gives the job of a workflow node (before the awx_* variables)."""
    extra_vars = copy.deepcopy(template["extra_vars"])
    extra_vars.update(template["survey_defaults"])
    if template["ask_variables_on_launch"]:
        extra_vars.update(node["extra_data"])
    functional = dict(ancestor_artifacts)
    functional.pop("_ansible_no_log", None)
    extra_vars.update(functional)
    extra_vars.update(workflow_extra_vars)
    return extra_vars


def ancestor_artifacts_of(identifier, parents, finished):
    """A node's ancestor artifacts from its parents that ran (finished: identifier -> NodeRun)."""
    merged = {}
    for parent in parents.get(identifier, []):
        run = finished.get(parent)
        if run is not None:
            merged.update(run.ancestor_artifacts)
            merged.update(run.artifacts)
    return merged


class NodeRun:
    def __init__(self, identifier, status, ancestor_artifacts, artifacts=None, extra_vars=None, runner=None, events=()):
        self.identifier = identifier
        self.status = status                 # successful, failed, approved, denied
        self.ancestor_artifacts = ancestor_artifacts
        self.artifacts = artifacts or {}
        self.extra_vars = extra_vars or {}
        self.runner = runner
        self.events = list(events)

    @property
    def succeeded(self):
        return self.status in ("successful", "approved")


class WorkflowDriver:
    """Runs the workflow node by node. run_job(template, extra_vars, job) -> (status, artifacts,
    runner, events) runs one job; approve(identifier, ancestor_artifacts) -> bool stands for the person."""

    def __init__(self, configuration, run_job, approve, workflow_extra_vars=None, workflow_job_id=9000,
                 first_job_id=9001, user=None, parent_schedule=None):
        self.configuration = configuration
        self.run_job = run_job
        self.approve = approve
        self.workflow_extra_vars = workflow_extra_vars or {}
        self.workflow_job_id = workflow_job_id
        self.job_ids = itertools.count(first_job_id)
        self.user = user
        self.parent_schedule = parent_schedule
        self.finished = {}
        self.order = []

    def run(self):
        nodes = self.configuration["nodes"]
        parents = {}
        for identifier, node in nodes.items():
            for link in ("success", "failure"):
                for child in node[link]:
                    parents.setdefault(child, []).append(identifier)
        pending = list(roots(nodes))
        while pending:
            identifier = pending.pop(0)
            node = nodes[identifier]
            ancestors = ancestor_artifacts_of(identifier, parents, self.finished)
            if node["template"] == APPROVAL:
                run = NodeRun(identifier, "approved" if self.approve(identifier, ancestors) else "denied", ancestors)
            else:
                run = self._run_job_node(identifier, node, ancestors)
            self.finished[identifier] = run
            self.order.append(identifier)
            pending.extend(node["success"] if run.succeeded else node["failure"])
        return self

    def _run_job_node(self, identifier, node, ancestors):
        template = self.configuration["templates"][node["template"]]
        job_id = next(self.job_ids)
        job = {"id": job_id, "launch_type": "workflow", "template_id": template_id(self.configuration, node["template"]),
               "template_name": template["name"], "inventory_id": 7, "inventory_name": self.configuration["inventory_name"],
               "project_revision": _git_revision(), "workflow_job_id": self.workflow_job_id,
               "workflow_job_name": self.configuration["workflow_name"], "user": self.user}
        if self.parent_schedule:
            job.update(parent_schedule_id=self.parent_schedule[0], parent_schedule_name=self.parent_schedule[1])
        extra_vars = node_extra_vars(template, node, ancestors, self.workflow_extra_vars)
        extra_vars.update(awx_meta_vars(job))
        status, artifacts, runner, events = self.run_job(template, extra_vars, job)
        return NodeRun(identifier, status, ancestors, artifacts, extra_vars, runner, events)

    @property
    def failed(self):
        """AWX: a workflow fails when a node failed (or was denied) and has no failure path."""
        nodes = self.configuration["nodes"]
        return any(not run.succeeded and not nodes[identifier]["failure"] for identifier, run in self.finished.items())


def template_id(configuration, key):
    """The id AWX gave a job template (here: its rank among the configured templates, from 100)."""
    return 100 + sorted(configuration["templates"]).index(key)


def slice_jobs(configuration, key, count, launch_extra_vars, workflow_job_id, first_job_id, user=None):
    """[(job, extra_vars)] of the jobs AWX makes of one launch of job template `key` with
    job_slice_count `count` (AWX 24, JobTemplate.create_unified_job): a workflow job named after the
    template, with one root node per slice whose ancestor_artifacts {job_slice: n} only set the
    job's job_slice_number (WorkflowJobNode.get_job_kwargs: a root node's artifacts never reach its
    extra variables). Each slice job gets the template's variables, the launch's extra variables
    (the workflow job's), and awx_meta_vars with its own job id and the workflow job's id and name:
    no variable says which slice it is."""
    template = configuration["templates"][key]
    jobs = []
    for number in range(1, count + 1):
        job = {"id": first_job_id + number - 1, "launch_type": "workflow", "template_id": template_id(configuration, key),
               "template_name": template["name"], "inventory_id": 7, "inventory_name": configuration["inventory_name"],
               "project_revision": _git_revision(), "workflow_job_id": workflow_job_id,
               "workflow_job_name": template["name"], "user": user, "slice_number": number, "slice_count": count}
        extra_vars = node_extra_vars(template, {"extra_data": {}}, {}, launch_extra_vars)
        extra_vars.update(awx_meta_vars(job))
        jobs.append((job, extra_vars))
    return jobs


def slice_inventory(inventory, number, count, dest):
    """What AWX gives slice `number` of `count` (Inventory.get_script_data, get_sliced_hosts): the
    inventory's hosts ordered by name, every count-th from number-1, each group keeping only those;
    written as an inventory script (dest). inventory: sync_inventory's result. Returns the hosts."""
    hostvars = inventory["_meta"]["hostvars"]
    names = sorted(set(hostvars) | set(h for group in inventory.values() for h in group.get("hosts", ())))
    kept = names[number - 1::count]
    sliced = {}
    for name, group in inventory.items():
        if name == "_meta":
            sliced[name] = {"hostvars": dict((h, v) for h, v in hostvars.items() if h in kept)}
        else:
            sliced[name] = dict(group, **({"hosts": [h for h in group["hosts"] if h in kept]} if "hosts" in group else {}))
    with open(dest, "w") as handle:
        handle.write("#!%s\nimport sys\nsys.stdout.write(%r)\n" % (sys.executable, json.dumps(sliced)))
    os.chmod(dest, 0o700)
    return kept


def run_concurrently(calls):
    """Run each call () -> result in a thread of its own, as AWX runs slice jobs side by side;
    return their results in order (a call's exception is raised here)."""
    results = [None] * len(calls)

    def run(index, call):
        try:
            results[index] = ("ok", call())
        except BaseException as exc:       # re-raised in the caller's thread
            results[index] = ("error", exc)
    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for kind, value in results:
        if kind == "error":
            raise value
    return [value for _kind, value in results]


def _git_revision():
    proc = subprocess.run(["git", "-C", REPO_ROOT, "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    return proc.stdout.strip() or "unknown"


def sync_inventory(sources, dest, limit=None):
    """What an AWX inventory update does: ansible-inventory over the sources (host files, then the
    rings plugin's configuration; limit: the inventory source's `limit` field), its result stored;
    and what AWX gives a job: an executable inventory script printing that JSON (dest)."""
    argv = ["ansible-inventory", "--list", "--export"] + (["--limit", limit] if limit else [])
    for source in sources:
        argv += ["-i", source]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise AssertionError("inventory sync failed (rc=%d): %s" % (proc.returncode, proc.stderr[-2000:]))
    inventory = json.loads(proc.stdout)
    with open(dest, "w") as handle:
        handle.write("#!%s\nimport sys\nsys.stdout.write(%r)\n" % (sys.executable, json.dumps(inventory)))
    os.chmod(dest, 0o700)
    return inventory


def runner_job(private_root, inventory, envvars):
    """run_job for WorkflowDriver: ansible_runner.run() in a private data dir of its own per job
    (<private_root>/job_<id>), as AWX's dispatcher does; envvars: what the job's credentials and the
    EE put in its environment."""
    def run_job(template, extra_vars, job):
        private_data_dir = os.path.join(private_root, "job_%d" % job["id"])
        os.makedirs(private_data_dir, mode=0o700)
        runner = ansible_runner.run(private_data_dir=private_data_dir, ident=str(job["id"]),
                                    playbook=os.path.join(REPO_ROOT, template["playbook"]), inventory=inventory,
                                    extravars=extra_vars, envvars=envvars, quiet=True)
        events = list(runner.events)
        stats = [event for event in events if event.get("event") == "playbook_on_stats"]
        artifacts = stats[-1]["event_data"].get("artifact_data", {}) if stats else {}
        return ("successful" if runner.status == "successful" else "failed"), artifacts, runner, events
    return run_job
