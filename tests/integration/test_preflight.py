"""patch_preflight on the lab's apt, dnf and zypper hosts: a clean host passes; a held lock, an
interrupted dpkg, an unsafe process and a closed maintenance window each block, with a reason."""
import datetime
import subprocess

import pytest
from conftest import ansible_playbook, first_host, lab_hosts, on_host, task_results


def preflight(inventory, hosts, **args):
    rc, out = ansible_playbook("preflight.yml", inventory, limit=",".join(h.name for h in hosts), check=False,
                               extra_vars={"preflight_args": args})
    return task_results(out, "Preflight")


@pytest.fixture(scope="module")
def hosts(fresh_lab, fleet):
    return [first_host(fleet, m) for m in ("apt", "dnf", "zypper")]


def test_a_clean_host_is_ready(fresh_lab, hosts):
    for name, result in preflight(fresh_lab, hosts).items():
        assert result["ready"] is True, (name, result.get("msg"))
        assert {c["status"] for c in result["checks"].values()} == {"pass"}, result["checks"]


def test_blocking_conditions_name_their_reason(fresh_lab, hosts):
    apt = hosts[0]
    tomorrow = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).strftime("%a").lower()
    holder = subprocess.Popen(lab_hosts.ssh_argv(apt) + [
        "python3 -c 'import fcntl,os,time; fd=os.open(\"/var/lib/dpkg/lock-frontend\", os.O_RDWR); "
        "fcntl.lockf(fd, fcntl.LOCK_EX); print(\"locked\", flush=True); time.sleep(60)'"],
        stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        assert holder.stdout.readline().strip() == "locked"
        results = preflight(fresh_lab, hosts, unsafe_processes=["sshd"],
                            maintenance_window={"days": [tomorrow], "start": "00:00", "end": "23:59"})
    finally:
        holder.kill()
        on_host(apt, "pkill", "-f", "lock-frontend", check=False)
    for host in hosts:
        result = results[host.name]
        assert result["failed"] and result["ready"] is False
        assert "processes" in result["blocked_by"] and "sshd (pid" in result["checks"]["processes"]["reason"]
        assert "window" in result["blocked_by"] and "outside the maintenance window" in result["msg"]
    assert "lock" in results[apt.name]["blocked_by"]
    assert "/var/lib/dpkg/lock-frontend is held by pid" in results[apt.name]["checks"]["lock"]["reason"]


def test_interrupted_dpkg_blocks_and_non_blocking_checks_warn(fresh_lab, hosts):
    apt = hosts[0]
    on_host(apt, "sh", "-c", "cp /var/lib/dpkg/status /var/lib/dpkg/updates/0001")
    try:
        result = preflight(fresh_lab, [apt], unsafe_processes=["sshd"], blocking=["package_manager"])[apt.name]
    finally:
        on_host(apt, "rm", "-f", "/var/lib/dpkg/updates/0001")
    assert result["blocked_by"] == ["package_manager"]
    assert "dpkg was interrupted" in result["checks"]["package_manager"]["reason"]
    assert result["checks"]["processes"]["status"] == "warn"
