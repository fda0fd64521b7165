# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""patch_facts: the Python module on POSIX hosts; ansible.windows.win_updates on Windows hosts.
On apt hosts, the advisory feed (advisory_feed) is joined to the module's record here, on the
controller: the data never goes to a host."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.fleetpatch.patching.plugins.module_utils import _policy
from ansible_collections.fleetpatch.patching.plugins.module_utils._errors import PatchError
from ansible_collections.fleetpatch.patching.plugins.module_utils._module_args import facts_argument_spec
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._advisory import feed as _advisory_feed
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._windows.action import WindowsDispatchAction, is_windows_host

if TYPE_CHECKING:
    from ansible_collections.fleetpatch.patching.plugins.plugin_utils._windows.run import WindowsRun


class ActionModule(WindowsDispatchAction):

    MODULE = "fleetpatch.patching.patch_facts"
    ARGUMENT_SPEC = facts_argument_spec()

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        if not self._task.args.get("advisory_feed") or is_windows_host(self._connection, self._task.args):
            return super(ActionModule, self).run(tmp, task_vars)
        feed, args, invalid = _advisory_feed.split_task_args(self._task.args, self.MODULE)
        if invalid:
            return invalid
        # The host is asked for its updates' source packages (what the feed is keyed by).
        args["source_packages"] = True
        self._task.args = args
        result = super(ActionModule, self).run(tmp, task_vars)
        if self._task.async_val:
            result.setdefault("warnings", []).append("advisory_feed is not joined to an async patch_facts run")
            return result
        return self.join_feed(result, feed, args.get("policy"))

    def join_feed(self, result: dict[str, Any], feed: dict[str, Any], policy: dict[str, Any] | None) -> dict[str, Any]:
        record = (result.get("ansible_facts") or {}).get("fleetpatch")
        if result.get("failed") or result.get("unreachable") or not isinstance(record, dict) or record.get("pkg_mgr") != "apt":
            return result
        try:
            joined, info = _advisory_feed.join_record(record, feed)
            # The same policy function as on the host, now with the advisories' severities and dates,
            # deciding as of the day the host was assessed.
            decided = _policy.evaluate(joined, policy, now=(record.get("collected_at") or "")[:10] or None)
        except Exception as exc:  # pylint: disable=broad-except
            # the feed only adds to the host's own answer: whatever stops it (bad data, a cache that
            # cannot be written, a damaged index) leaves that answer as it was, with the cause
            cause = to_text(getattr(exc, "msg", None) or exc)
            if not isinstance(exc, (_advisory_feed.FeedError, PatchError, OSError)):
                cause = "%s: %s" % (type(exc).__name__, cause)
            if feed["required"]:
                return dict(result, failed=True, msg="Failed to use the advisory feed (advisory_feed.required): %s" % cause)
            decided = dict(record, advisory_feed=_advisory_feed.feed_info_unused(feed, cause))
            result.setdefault("warnings", []).append(
                "Advisory feed not used, apt updates keep severity unknown and first-seen dates: %s" % cause)
        else:
            decided["advisory_feed"] = info
            if info["warning"]:
                if feed["required"]:
                    return dict(result, failed=True, msg="Failed to use the advisory feed (advisory_feed.required): %s"
                                % info["warning"])
                result.setdefault("warnings", []).append("Advisory feed: %s" % info["warning"])
        result["ansible_facts"] = dict(result["ansible_facts"], fleetpatch=decided)
        return result

    def run_windows(self, run: WindowsRun, args: dict[str, Any]) -> dict[str, Any]:
        record = run.assess(policy=args["policy"], record_first_seen=args["first_seen"])
        return {"changed": False, "ansible_facts": {"fleetpatch": record}}
