# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

Which package's maintainer script (scriptlet) failed in an install, and what it said, from the
output of apt/dpkg, dnf/rpm and zypper/rpm. Their last line ("E: Sub-process /usr/bin/dpkg
returned an error code (1)", "Error: Transaction failed", "Please see the above error message for
a hint.") says nothing; the cause is the script's own output, just before dpkg's or rpm's line
naming the package and the script:

    dpkg: error processing package fp-db (--configure):
     installed fp-db package post-installation script subprocess returned error exit status 1
    error: %prein(fp-db-1.1-1.noarch) scriptlet failed, exit status 1
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.fleetpatch.patching.plugins.module_utils._rpm_common import evr, parse_nevra
from ansible_collections.fleetpatch.patching.plugins.module_utils._versions import split_evr

# dpkg names its scripts in words, rpm by tag: one vocabulary for both
DPKG_SCRIPTS = {"pre-installation": "pre-install", "post-installation": "post-install",
                "pre-removal": "pre-remove", "post-removal": "post-remove"}
RPM_SCRIPTS = {"pretrans": "pre-transaction", "prein": "pre-install", "pre": "pre-install",
               "post": "post-install", "postin": "post-install", "preun": "pre-remove", "postun": "post-remove",
               "posttrans": "post-transaction", "preuntrans": "pre-remove-transaction",
               "postuntrans": "post-remove-transaction", "verify": "verify"}

_DPKG_FAILED = re.compile(r"^dpkg: error processing (?:package|archive) (?P<name>[^\s:]+)(?::\S+)? \((?P<op>--[\w-]+)\):$")
_DPKG_SCRIPT = re.compile(r"^\s*(?:new |old |installed )?\S+ package (?P<script>[\w-]+) script subprocess "
                          r"returned error exit status (?P<status>\d+)")
# "Setting up fp-db (1.1-1) ...", "Unpacking fp-db (1.1-1) over (1.0-1) ...", "Preparing to unpack
# .../3-fp-db_1.1-1_all.deb ..." (apt numbers the archives when it installs several)
_DPKG_VERSION = re.compile(r"^(?:(?:Setting up|Unpacking) (?P<name>[^\s:(]+)(?::\S+)? \((?P<version>[^\s)]+)\)"
                           r"|Preparing to unpack \S*/(?:\d+-)?(?P<deb_name>[^/\s_]+)_(?P<deb_version>[^\s_]+)_\S+\.deb)")
_RPM_FAILED = re.compile(r"^(?:error|warning): %(?P<tag>\w+)\((?P<nevra>[^)]+)\) scriptlet failed, "
                         r"(?:exit status (?P<status>\d+)|signal (?P<signal>\d+))")
# Lines around a failure that are the package managers' own, never the script's words (matched
# on the stripped line).
_NOISE = re.compile(r"^(dpkg: |E: |W: |N: |error: |warning: |rpm: |Error: |Errors were encountered|Setting up |"
                    r"Unpacking |Preparing to unpack|Selecting previously|\(Reading database|Processing triggers|"
                    r"Running scriptlet|Running transaction|Preparing\s*:|Installing\s*:|Upgrading\s*:|Cleanup\s*:|"
                    r"Verifying\s*:|Abort, retry, ignore|Problem occurred|Installation (has been aborted|of \S+ failed)|"
                    r"Please see the above|\(\d+/\d+\) |Failed:|Transaction failed|Error in \w+ scriptlet|"
                    r"installed \S+ package |\S+-\S+-\S+\.\w+$)")
# zypper puts the first line rpm printed after this prefix
_RPM_FAILED_PREFIX = re.compile(r"^Error: Subprocess failed\. Error: RPM failed: ")
OUTPUT_CHARS = 300


def explain(out, err):
    """[{package, version, script, status, output}] of the maintainer scripts that failed, in
    the order the package manager reported them; [] when the output names none. Each stream is
    read on its own: the script's words are in the same stream as the line naming it (stdout
    for apt and dnf, stderr for zypper), and the two streams' order is lost."""
    failures, seen = [], set()
    streams = [[_RPM_FAILED_PREFIX.sub("", line.rstrip()) for line in (text or "").splitlines()] for text in (out, err)]
    versions = _dpkg_versions(streams[0] + streams[1])
    for lines in streams:
        for index, line in enumerate(lines):
            failure = _dpkg_failure(lines, index, versions) or _rpm_failure(line)
            if failure is None or (failure["package"], failure["script"]) in seen:
                continue
            seen.add((failure["package"], failure["script"]))
            failure["output"] = _script_output(lines, index, failure["package"])
            failures.append(failure)
    return failures


def summary(failures):
    """One line an operator reads: 'fp-db 1.1-1 post-install script failed (exit 1): <its output>'."""
    parts = []
    for failure in failures:
        text = "%s%s %s script failed (%s)" % (
            failure["package"], " " + failure["version"] if failure.get("version") else "", failure["script"],
            failure["status"])
        if failure.get("output"):
            text += ": " + failure["output"]
        parts.append(text)
    return "; ".join(parts)


def _dpkg_versions(lines):
    versions = {}
    for line in lines:
        match = _DPKG_VERSION.match(line.strip())
        if match:
            name = match.group("name") or match.group("deb_name")
            # a .deb file name writes an epoch's colon as %3a
            versions[name] = (match.group("version") or match.group("deb_version").replace("%3a", ":"))
    return versions


def _dpkg_failure(lines, index, versions):
    match = _DPKG_FAILED.match(lines[index])
    if not match or index + 1 >= len(lines):
        return None
    script = _DPKG_SCRIPT.match(lines[index + 1])
    if not script:
        return None
    name = match.group("name")
    return {"package": name, "version": versions.get(name), "manager": "dpkg",
            "script": DPKG_SCRIPTS.get(script.group("script"), script.group("script")),
            "status": "exit %s" % script.group("status")}


def _rpm_failure(line):
    match = _RPM_FAILED.match(line)
    if not match:
        return None
    nevra = parse_nevra(match.group("nevra"))
    name, version = match.group("nevra"), None
    if nevra:
        name, version = nevra[0], evr(*split_evr(nevra[1]))     # rpm writes epoch 0 out: drop it
    status = "exit %s" % match.group("status") if match.group("status") else "signal %s" % match.group("signal")
    return {"package": name, "version": version, "manager": "rpm",
            "script": RPM_SCRIPTS.get(match.group("tag"), match.group("tag")), "status": status}


def _script_output(lines, index, package):
    """The script's own words: the last lines before the failure that are not the package
    manager's (up to 3, nearest last)."""
    said = []
    for line in reversed(lines[max(0, index - 20):index]):
        text = line.strip()
        if not text:
            if said:
                break
            continue
        if _NOISE.match(text) or text == package:
            if said:
                break
            continue
        said.insert(0, text)
        if len(said) == 3:
            break
    return " / ".join(said)[:OUTPUT_CHARS] or None
