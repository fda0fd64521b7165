# -*- coding: utf-8 -*-
# Copyright (c) fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The history store's tables, as ordered migrations. Private to this collection: may change
without notice.

One SQL text serves SQLite and PostgreSQL: only types both understand (TEXT, INTEGER, and DOUBLE
PRECISION, which SQLite reads as REAL), booleans as 0/1, timestamps as the report's UTC ISO
strings (their text order is their time order), JSON as text (the report document zlib-compressed, as base64 text), and `?` placeholders, which the
PostgreSQL connection rewrites. No foreign keys: SQLite enforces them only per connection, so
rows are deleted explicitly and both engines behave alike.

A migration, once released, is never edited (its SQL is spelled out, not derived from the tuples
below, so that editing them cannot change it): a new one is appended with the next number, and
the column tuples follow the newest schema.
"""

from __future__ import annotations

from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report.model import HOST_COUNT_KEYS

# A host's counts, one column each (hosts table). A new count needs a migration adding its column.
COUNT_COLUMNS = HOST_COUNT_KEYS

# The AWX job a run was (migrations 2 and 3): report key in run.awx -> column.
AWX_COLUMNS = (("job_id", "awx_job_id"), ("workflow_job_id", "awx_workflow_job_id"),
               ("job_template_name", "awx_job_template"), ("workflow_job_name", "awx_workflow_job_name"),
               ("user_name", "awx_user"), ("schedule_name", "awx_schedule"), ("launch_type", "awx_launch_type"),
               ("job_template_id", "awx_job_template_id"))

RUN_COLUMNS = ("run_id", "started_at", "ended_at", "status", "aborted_by", "check_mode", "controller", "playbooks",
               "ansible_version", "collection_version", "host_count", "compliant_percent", "summary", "report",
               "stored_at") + tuple(column for _key, column in AWX_COLUMNS)

HOST_COLUMNS = ("run_id", "host", "ended_at", "ring", "status", "os", "pkg_mgr", "policy", "assessed_at",
                "reboot_required", "rebooted", "rolled_back") + COUNT_COLUMNS

UPDATE_COLUMNS = ("run_id", "host", "name", "arch", "installed_version", "available_version", "classification",
                  "severity", "decision", "state", "issued", "first_seen", "sla_due", "sla_breached", "advisories",
                  "cves")

# The report document, a piece a row (_store/document.py): runs.report says how many pieces it has.
PIECE_COLUMNS = ("run_id", "piece", "data")

POINTER_COLUMNS = ("host", "run_id", "ended_at", "assessed_run_id", "assessed_ended_at")

# first_seen_dates (migration 6): its key, then the day.
FIRST_SEEN_KEY = ("host", "name", "available_version")
FIRST_SEEN_COLUMN = "first_seen"

MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
)"""

_MIGRATION_1 = (
    """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    ended_at TEXT NOT NULL,
    status TEXT NOT NULL,
    aborted_by TEXT,
    check_mode INTEGER NOT NULL,
    controller TEXT,
    playbooks TEXT NOT NULL,
    ansible_version TEXT,
    collection_version TEXT,
    host_count INTEGER NOT NULL,
    compliant_percent DOUBLE PRECISION NOT NULL,
    summary TEXT NOT NULL,
    report TEXT NOT NULL,
    stored_at TEXT NOT NULL
)""",
    "CREATE INDEX runs_by_end ON runs (ended_at, run_id)",
    "CREATE INDEX runs_by_start ON runs (started_at)",
    # ended_at is copied from runs so that "which run is newest for this host" needs no join.
    """
CREATE TABLE hosts (
    run_id TEXT NOT NULL,
    host TEXT NOT NULL,
    ended_at TEXT NOT NULL,
    ring TEXT,
    status TEXT NOT NULL,
    os TEXT,
    pkg_mgr TEXT,
    policy TEXT,
    assessed_at TEXT,
    reboot_required INTEGER NOT NULL,
    rebooted INTEGER NOT NULL,
    rolled_back INTEGER NOT NULL,
    installed INTEGER NOT NULL,
    installed_other INTEGER NOT NULL,
    installed_pending_reboot INTEGER NOT NULL,
    installed_rejected INTEGER NOT NULL,
    missing INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    not_applicable INTEGER NOT NULL,
    critical_non_compliant INTEGER NOT NULL,
    security_non_compliant INTEGER NOT NULL,
    other_non_compliant INTEGER NOT NULL,
    sla_breached INTEGER NOT NULL,
    PRIMARY KEY (run_id, host)
)""",
    "CREATE INDEX hosts_by_host ON hosts (host, ended_at)",
    """
CREATE TABLE updates (
    run_id TEXT NOT NULL,
    host TEXT NOT NULL,
    name TEXT NOT NULL,
    arch TEXT,
    installed_version TEXT,
    available_version TEXT NOT NULL,
    classification TEXT NOT NULL,
    severity TEXT NOT NULL,
    decision TEXT NOT NULL,
    state TEXT NOT NULL,
    issued TEXT,
    first_seen TEXT,
    sla_due TEXT,
    sla_breached INTEGER NOT NULL,
    advisories TEXT NOT NULL,
    cves TEXT NOT NULL
)""",
    # The one index on the largest table (each index costs every append): SLA breaches join on
    # (host, run_id), first-seen dates select by host, and a run's rows are deleted host by host.
    "CREATE INDEX updates_by_host ON updates (host, run_id)",
    # Each host's newest run, and its newest run that assessed it (an unreachable host's entry has
    # no updates, and its open updates must not vanish from SLA reports because of that). Kept up
    # to date on append so that reading the fleet's current state never scans the history.
    """
CREATE TABLE host_latest (
    host TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    ended_at TEXT NOT NULL,
    assessed_run_id TEXT,
    assessed_ended_at TEXT
)""",
)

# Which AWX job each run was: what every run of one workflow job, or of one schedule, shares.
_MIGRATION_2 = (
    "ALTER TABLE runs ADD COLUMN awx_job_id INTEGER",
    "ALTER TABLE runs ADD COLUMN awx_workflow_job_id INTEGER",
    "ALTER TABLE runs ADD COLUMN awx_job_template TEXT",
    "ALTER TABLE runs ADD COLUMN awx_workflow_job_name TEXT",
    "ALTER TABLE runs ADD COLUMN awx_user TEXT",
    "ALTER TABLE runs ADD COLUMN awx_schedule TEXT",
    "ALTER TABLE runs ADD COLUMN awx_launch_type TEXT",
    "CREATE INDEX runs_by_awx_workflow ON runs (awx_workflow_job_id)",
)

# The job template's id: the slices of one sliced job (AWX runs them as a workflow job of one
# template) share it with their workflow job's id, and are one logical run (_awx_job.run_group).
_MIGRATION_3 = (
    "ALTER TABLE runs ADD COLUMN awx_job_template_id INTEGER",
)

# The report's schema 2 renamed two counts that AWS SSM's names had made look like installed packages
# (_report/model.py COUNT_RENAMES). Both engines rename a column in place (SQLite since 3.25).
_MIGRATION_4 = (
    "ALTER TABLE hosts RENAME COLUMN installed_other TO deferred",
    "ALTER TABLE hosts RENAME COLUMN installed_rejected TO rejected",
)

# The report document in pieces (_store/document.py): a 100,000-host run's packed document (142 MB)
# was one value of runs.report, which the database driver held about three times over while it took
# it. A new run's runs.report says how many pieces it has; an older run's document stays where it is.
_MIGRATION_5 = (
    """
CREATE TABLE report_pieces (
    run_id TEXT NOT NULL,
    piece INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, piece)
)""",
)

# When each update was first offered to each host: what first_seen() read by grouping every stored
# run's rows of the hosts, which grows with the history (1.1 s per stored run at 10,000 hosts x 50
# updates, bench/compliance_pipeline_bench.py --previous-runs, 2026-12-02), kept up to date on
# append instead. Filled from the stored runs as first_seen() computed it: the earlier of the row's
# own first_seen and its run's start, the earliest of all rows, as a day.
_MIGRATION_6 = (
    """
CREATE TABLE first_seen_dates (
    host TEXT NOT NULL,
    name TEXT NOT NULL,
    available_version TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    PRIMARY KEY (host, name, available_version)
)""",
    """
INSERT INTO first_seen_dates (host, name, available_version, first_seen)
SELECT u.host, u.name, u.available_version,
       MIN(CASE WHEN u.first_seen IS NOT NULL AND u.first_seen <> ''
                     AND substr(u.first_seen, 1, 10) < substr(r.started_at, 1, 10)
                THEN substr(u.first_seen, 1, 10) ELSE substr(r.started_at, 1, 10) END)
FROM updates u JOIN runs r ON r.run_id = u.run_id
GROUP BY u.host, u.name, u.available_version""",
)

# (version, name, statements), in order; append only.
MIGRATIONS = (
    (1, "runs, hosts, updates and each host's latest run", _MIGRATION_1),
    (2, "the AWX job of each run", _MIGRATION_2),
    (3, "the AWX job template of each run (the slices of a sliced job)", _MIGRATION_3),
    (4, "the host counts deferred and rejected, named as the report's schema 2 names them", _MIGRATION_4),
    (5, "the report document in pieces", _MIGRATION_5),
    (6, "the day each update was first offered to each host", _MIGRATION_6),
)
