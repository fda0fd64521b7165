# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

The words fleetpatch's records, reports, store and inventories share, each defined once: targets
(module_utils, modules) and the controller (plugin_utils, callback, filters, inventory plugins)
import them from here, and tests/unit/plugins/module_utils/test_vocabulary.py fails when one is
defined again elsewhere. Stdlib only (targets import it). docs/architecture.md lists them.

Orders are most important first; a rank is the position in that order (0 = the most severe,
the most important, the worst), so sorting by rank puts what matters first.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

UNKNOWN = "unknown"

# An update's severity (the package manager's advisory, normalized). unknown: no advisory says.
SEVERITIES = ("critical", "important", "moderate", "low", "unknown")
SEVERITY_RANK = dict((severity, rank) for rank, severity in enumerate(SEVERITIES))

# An update's classification. other: the package manager gives none of the first three
# (what targets write); the controller adds unknown for a value it could not read.
CLASSIFICATIONS = ("security", "bugfix", "enhancement", "other")
CLASSIFICATION_RANK = dict((classification, rank) for rank, classification in enumerate(CLASSIFICATIONS))
REPORTED_CLASSIFICATIONS = CLASSIFICATIONS + (UNKNOWN,)

# The baseline's decision on an update (_policy). blocked: approved, but the package manager
# cannot install it (held back, a lock, a dependency): still missing.
DECISIONS = ("approved", "blocked", "deferred", "rejected", "not_applicable")
# The decisions whose update the host still needs: an update so decided and not installed is missing.
MISSING_DECISIONS = ("approved", "blocked")

# A host's status in its record and in the report (docs/schemas/host_patch_record.schema.json),
# in the schema's order (the report's by_status keys) ...
HOST_STATUSES = ("compliant", "non_compliant", "pending_reboot", "rolled_back", "failed", "unreachable", "unknown")
# ... and worst first, for ranking hosts: unknown (never assessed) ranks below the hosts known to
# be broken or behind, and above those known to be fine.
STATUS_ORDER = ("failed", "rolled_back", "unreachable", "non_compliant", "unknown", "pending_reboot", "compliant")
STATUS_RANK = dict((status, rank) for rank, status in enumerate(STATUS_ORDER))

# An update's state in the report and the store: open (the host still needs it: approved and
# missing, or installed and not kept) and held (the baseline keeps it back).
OPEN_STATES = ("missing", "failed")
HELD_STATES = ("deferred", "rejected", "not_applicable")

# Rings in the inventory: a host of group fleetpatch_ring_<ring> is in that ring (or the
# fleetpatch_ring host variable says which); the rings inventory plugin puts hosts it leaves out
# of every ring in the excluded group, which is no ring.
RING_VAR = "fleetpatch_ring"
RING_GROUP_PREFIX = RING_VAR + "_"
EXCLUDED_RING_GROUP = RING_GROUP_PREFIX + "excluded"

# Every timestamp fleetpatch writes (records, journals, run locks, reports, the store): UTC,
# to the second, with a Z.
UTC_STAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_stamp(moment=None):
    """moment (an aware datetime, now by default) as UTC_STAMP_FORMAT, in UTC. A naive datetime
    is taken to be UTC already."""
    if moment is None:
        moment = datetime.datetime.now(datetime.timezone.utc)
    elif moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime(UTC_STAMP_FORMAT)


def parse_utc_stamp(text):
    """The naive UTC datetime a UTC_STAMP_FORMAT stamp names; ValueError when it is not one."""
    return datetime.datetime.strptime(text, UTC_STAMP_FORMAT)
