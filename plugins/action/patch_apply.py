# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""patch_apply: the Python module on POSIX hosts; ansible.windows.win_updates (and win_reboot
between passes) on Windows hosts, with the journal kept on the host. On apt hosts with an
advisory_feed, the host's updates are joined to the feed here first (plugin_utils/_advisory/feed.py)
and the module gets the result as advisory_data, so that cves, advisories and the baseline's
severities select as on dnf and zypper."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.fleetpatch.patching.plugins.module_utils._module_args import apply_argument_spec
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._advisory import feed as _advisory_feed
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._windows.action import WindowsDispatchAction, is_windows_host

if TYPE_CHECKING:
    from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._windows.run import WindowsRun

# what the assessment for the feed shares with the install (the backend's options)
FACTS_OPTIONS = ("pkg_mgr", "root", "lock_timeout", "state_dir", "update_cache", "cache_valid_time")


class ActionModule(WindowsDispatchAction):

    MODULE = "fleetpatch.patching.patch_apply"
    ARGUMENT_SPEC = apply_argument_spec()

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        if not self._task.args.get("advisory_feed") or is_windows_host(self._connection, self._task.args):
            return super(ActionModule, self).run(tmp, task_vars)
        feed, args, invalid = _advisory_feed.split_task_args(self._task.args, self.MODULE)
        if invalid:
            return invalid
        info, warning = None, None
        if self._task.async_val:
            warning = "advisory_feed is not joined to an async patch_apply run"
        else:
            # The host's updates with their source packages, as patch_facts sees them (no first-seen
            # writes, no resolution: the install that follows resolves), then the feed joined to them.
            facts = self._execute_module(
                module_name="fleetpatch.patching.patch_facts", task_vars=task_vars,
                module_args=dict(dict((k, args[k]) for k in FACTS_OPTIONS if k in args), source_packages=True,
                                 resolve=False, first_seen=False, on_incomplete="unknown"))
            record = (facts.get("ansible_facts") or {}).get("fleetpatch")
            try:
                if facts.get("failed") or not isinstance(record, dict):
                    raise _advisory_feed.FeedError("the assessment for the feed failed: %s" % to_text(facts.get("msg")))
                if record.get("pkg_mgr") == "apt":
                    joined, info = _advisory_feed.join_record(record, feed)
                    warning = info["warning"]
                    if not warning:
                        args["advisory_data"] = _advisory_feed.advisory_data(joined)
            except Exception as exc:  # pylint: disable=broad-except
                # as in patch_facts: whatever stops the feed leaves the install as it would be without it
                warning = to_text(getattr(exc, "msg", None) or exc)
                info = _advisory_feed.feed_info_unused(feed, warning)
        if warning and feed["required"]:
            return {"failed": True, "msg": "Failed to use the advisory feed (advisory_feed.required): %s" % warning,
                    "advisory_feed": info}
        self._task.args = args
        result = super(ActionModule, self).run(tmp, task_vars)
        if info is not None:
            result["advisory_feed"] = info
        if warning:
            result.setdefault("warnings", []).append(
                "Advisory feed not used, apt updates are selected without advisories or CVEs: %s" % warning)
        return result

    def run_windows(self, run: WindowsRun, args: dict[str, Any]) -> dict[str, Any]:
        result = run.apply(policy=args["policy"], manifest=args["manifest"], names=args["names"],
                           security_only=args["security_only"], advisories=args["advisories"], cves=args["cves"],
                           exclude=args["exclude"], run_id=args["run_id"])
        diff = result.pop("diff")
        if self._task.diff:
            result["diff"] = diff
        return result

    def error_result(self, exc: PatchError) -> dict[str, Any]:
        # As the Linux module fails: the journal and what changed before the failure, for rollback.
        return {"msg": exc.msg, "journal": getattr(exc, "journal", None), "changes": getattr(exc, "changes", []),
                "targets": getattr(exc, "targets", {}), "failed_updates": getattr(exc, "failed_updates", {})}
