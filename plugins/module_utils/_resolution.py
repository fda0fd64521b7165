# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

Resolving the approved updates with the package manager, the same way for every backend: ask it
to simulate installing all of them; when it refuses, take out the updates it names (with its
reason) and ask again; when it refuses without naming one, split the updates in halves and ask
about each (a handful of calls for a few bad updates among hundreds, not one per update). Every
update ends installable or not, with the package manager's own reason, and one broken update
never hides the others.

A backend supplies simulate(updates) -> (ok, output, {name: reason}) and
transaction(updates, output) -> (new_packages, removals).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Each round takes out at least one update; past this many the rest are asked one by one.
ROUNDS = 8
UNRESOLVABLE = "%s cannot resolve installing it"


def block(update, reason):
    update["installable"] = False
    update["blocked_reason"] = reason


def resolve_updates(updates, simulate, transaction, manager):
    """Mark each update installable or blocked; return (new_packages, removals)."""
    pending = [u for u in updates if u.get("installable") is not False]
    for _round in range(ROUNDS):
        if not pending:
            return [], []
        ok, output, blamed = simulate(pending)
        if ok:
            return _finish(pending, output, transaction)
        if not blamed:
            break
        for update in pending:
            if update["name"] in blamed:
                block(update, blamed[update["name"]])
        pending = [u for u in pending if u.get("installable") is not False]
    survivors = _bisect(pending, simulate, manager)
    if not survivors:
        return [], []
    ok, output, _blamed = simulate(survivors)
    if not ok:       # each part resolves, together they do not: say so on each
        for update in survivors:
            block(update, "%s cannot install it together with the other approved updates" % manager)
        return [], []
    return _finish(survivors, output, transaction)


def _bisect(group, simulate, manager):
    """The updates of group that resolve; the others blocked with the package manager's reason."""
    ok, _output, blamed = simulate(group)
    if ok:
        return list(group)
    if len(group) == 1:
        block(group[0], blamed.get(group[0]["name"]) or UNRESOLVABLE % manager)
        return []
    middle = len(group) // 2
    return _bisect(group[:middle], simulate, manager) + _bisect(group[middle:], simulate, manager)


def _finish(updates, output, transaction):
    for update in updates:
        update.setdefault("installable", True)
    return transaction(updates, output)
