"""The rollback role's re-assessment joins the advisory feed (rollback_advisory_feed, by default the
patch role's patch_advisory_feed): after a rollback, the apt host's record keeps the advisories, CVEs,
severities and dates the assess and patch roles' records have (it lost them before)."""
import os

from conftest import REPO_ROOT, ansible_playbook, first_host, run_lab, task_results
from test_apply_rollback import packages
from test_patch_facts import lab_feed
from test_patch_role import patch


def test_the_rollback_reassessment_joins_the_feed(fresh_lab, fleet, tmp_path):
    host = first_host(fleet, "apt")
    run_lab("stage", "security")
    before = packages(host)
    patch(fresh_lab, [host], check=False, patch_names=["fp-crypto"], patch_reboot="never")
    assert packages(host) != before
    rc, out = ansible_playbook(os.path.join(REPO_ROOT, "playbooks", "rollback.yml"), fresh_lab,
                               extra_vars={"fleetpatch_targets": host.name, "rollback_reboot": "never",
                                           "patch_advisory_feed": lab_feed(tmp_path)})
    assert packages(host) == before
    record = task_results(out, "Ask whether the host needs a reboot now")[host.name]["ansible_facts"]["fleetpatch"]
    feed = record["advisory_feed"]
    assert (feed["warning"], feed["release"]) == (None, "bookworm") and feed["joined"] >= 1, feed
    crypto = dict((u["name"], u) for u in record["updates"])["fp-crypto"]
    assert (crypto["advisories"], crypto["cves"], crypto["severity"], crypto["issued"], crypto["classification"]) == \
        (["FPSA-2025:0101"], ["CVE-2025-10001", "CVE-2025-10002"], "critical", "2025-03-04", "security")
