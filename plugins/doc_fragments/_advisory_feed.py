# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Private to fleetpatch.patching; may change without notice.

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The advisory_feed option of patch_facts and patch_apply (plugin_utils/_advisory/feed.py)."""

    DOCUMENTATION = r"""
options:
  advisory_feed:
    description:
      - apt hosts. Debian's or Ubuntu's security data (an Ubuntu host, by os-release C(NAME), gets Ubuntu's; every
        other apt host Debian's), joined to the updates on the controller by the action plugin (never sent to a
        host). Each update whose source version between the installed (exclusive) and the available version
        (inclusive) carries fixes gets their advisory ids (DSA/DLA, USN) in C(advisories), their CVEs, C(issued)
        (the newest advisory's date), a severity (Debian - from the urgency and whether an advisory was issued;
        Ubuntu - from the CVEs' priorities), and C(classification=security); the baseline is then evaluated
        again with them. See C(docs/assessment.md).
      - M(fleetpatch.patching.patch_apply) first asks the host for its updates (the patch_facts module, which also
        refreshes the metadata as O(update_cache) says), joins the feed, and hands the result to the module
        (C(advisory_data)), so that O(fleetpatch.patching.patch_apply#module:cves),
        O(fleetpatch.patching.patch_apply#module:advisories), O(fleetpatch.patching.patch_apply#module:security_only)
        and the baseline's severities and dates select on apt hosts as on dnf and zypper.
      - The record's C(advisory_feed) says which data was used, how old it was, and why not (C(warning)).
      - Data that cannot be fetched, is older than O(advisory_feed.max_age), does not parse, or does not cover the
        host's release (os-release C(VERSION_CODENAME)) gives a warning and the record without it, unless
        O(advisory_feed.required).
    type: dict
    suboptions:
      debian_tracker:
        description:
          - The Security Tracker's JSON export, a path on the controller or an http(s) URL
            (V(https://security-tracker.debian.org/tracker/data/json), or an internal mirror of it).
        type: str
      debian_advisories:
        description:
          - The DSA and DLA lists (the security-tracker repository's C(data/DSA/list) and C(data/DLA/list)), paths or
            http(s) URLs. They give the advisory ids and dates.
        type: list
        elements: str
        default: []
      ubuntu_usn:
        description:
          - The Ubuntu Security Notices database, a path on the controller or an http(s) URL
            (V(https://usn.ubuntu.com/usn-db/database.json.bz2), or an internal mirror of it; bzip2 or plain JSON).
            It gives the USN ids, dates, CVEs and fixed source versions per release.
        type: str
      ubuntu_oval:
        description:
          - Ubuntu's OVAL files for the CVEs' priorities, paths or http(s) URLs, one per release the fleet runs
            (V(https://security-metadata.canonical.com/oval/com.ubuntu.jammy.usn.oval.xml.bz2), or the
            C(cve.oval.xml) files). Without them Ubuntu updates get their USNs and CVEs with severity C(unknown).
        type: list
        elements: str
        default: []
      ubuntu_esm:
        description:
          - Count Ubuntu ESM (Ubuntu Pro) fixes, versions with C(~esmN)/C(+esmN), for hosts that have ESM enabled.
            Off, they are left out of the index.
        type: bool
        default: false
      max_age:
        description:
          - Seconds. A URL's cached copy older than this is fetched again; data older than this is not used.
            V(0) sets no limit.
        type: int
        default: 86400
      timeout:
        description:
          - Seconds to wait for each download.
        type: int
        default: 60
      cache_dir:
        description:
          - Where the controller keeps downloaded data and the index built from it.
            Defaults to C(~/.cache/fleetpatch/advisory-feed).
        type: path
      required:
        description:
          - Fail the host, with the cause, when the feed cannot be used, instead of a warning.
        type: bool
        default: false
"""
