# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

Resolving the approved updates with the package manager, the same way for every backend: ask it
to simulate installing all of them; when it refuses, take out the updates it names (with its
reason) and ask again; when it refuses without naming one, set aside the updates the refusal may
be about (when the backend can tell) and ask about the others at once, else split the updates in
halves and ask about each (a handful of calls for a few bad updates among hundreds, not one per
update); no set of updates is asked about twice. Every
update ends installable or not, with the package manager's own reason, and one broken update
never hides the others.

A backend supplies simulate(updates) -> (ok, output, {name: reason}),
transaction(updates, output) -> (new_packages, removals) and, optionally,
suspects(updates, output of a refusal) -> names of the updates it may be about.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Each round takes out at least one update; past this many the rest are asked one by one.
ROUNDS = 8
UNRESOLVABLE = "%s cannot resolve installing it"


def block(update, reason):
    update["installable"] = False
    update["blocked_reason"] = reason


def resolve_updates(updates, simulate, transaction, manager, suspects=None):
    """Mark each update installable or blocked; return (new_packages, removals).

    suspects(updates, output), when the backend has it, names the updates a refusal that blamed
    no one may be about (e.g. apt: those built from the same source as, or depending on, the
    packages apt names). They are set aside and the others asked about at once: on the
    real-archive host that is 4 simulations and one apt-cache show instead of 14 simulations
    (bench/patch_facts_bench.py, real_archive_host).
    """
    simulate = _remembered(simulate)
    pending = [u for u in updates if u.get("installable") is not False]
    output = ""
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
    if not pending:
        return [], []
    survivors = _set_suspects_aside(pending, output, simulate, suspects, manager)
    if survivors is None:
        survivors = _bisect(pending, simulate, manager)
    if not survivors:
        return [], []
    ok, output, _blamed = simulate(survivors)
    if not ok:       # each part resolves, together they do not: say so on each
        for update in survivors:
            block(update, "%s cannot install it together with the other approved updates" % manager)
        return [], []
    return _finish(survivors, output, transaction)


def _remembered(simulate):
    """simulate, asked once per set of updates: bisection and the last check ask again about
    groups already answered (each apt answer costs 1-2 s with a real archive's lists)."""
    answers = {}

    def ask(group):
        key = tuple(sorted((u["name"], u.get("arch") or "", u.get("available_version") or "") for u in group))
        if key not in answers:
            answers[key] = simulate(group)
        return answers[key]
    return ask


def _set_suspects_aside(pending, output, simulate, suspects, manager):
    """The updates of pending that resolve, found by asking about the unsuspected ones together and
    the suspects by halving; None when that does not settle it (no suspects, or the others do
    not resolve either)."""
    if suspects is None:
        return None
    named = set(suspects(pending, output))
    rest = [u for u in pending if u["name"] not in named]
    if not named or len(rest) == len(pending):
        return None
    if rest and not simulate(rest)[0]:
        return None
    return rest + _bisect([u for u in pending if u["name"] in named], simulate, manager)


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
        if update.get("installable") is None:
            update["installable"] = True
    return transaction(updates, output)
