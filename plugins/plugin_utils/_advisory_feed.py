# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

The advisory feed for apt hosts, on the controller: patch_facts' advisory_feed option names
Debian's security data (a file path or an http(s) URL each); this fetches it (with a timeout, into
a cache on the controller), indexes it once and joins it to a host's record
(docs/assessment.md, "Advisory feed for apt hosts").

Ansible runs each host's task in a worker process of its own, so "once per run" cannot be a
variable in memory: the first worker builds the index and writes it, one small JSON file per
release, under the cache directory, keyed by the inputs' identity (location, size, mtime); every
other worker (under a lock while it is being built) reads only its host's release file. Within one
process the loaded release stays in memory (tests, the bench).
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import time

from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.urls import open_url

from ansible_collections.fleetpatch.patching.plugins.module_utils._files import private_directory, write_private_file
from ansible_collections.fleetpatch.patching.plugins.plugin_utils import _advisory_feed_debian as debian
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._advisory_feed_debian import FeedError

DEFAULT_CACHE_DIR = "~/.cache/fleetpatch/advisory-feed"
INDEX_FORMAT = 1          # bump when the per-release index files change shape
_URL = re.compile(r"^https?://", re.I)
_LOADED = {}              # {(index key, release): DebianIndex}: this process's loaded releases


def _now():
    return time.time()


def _iso(timestamp):
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cache_name(url):
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", url.rstrip("/").rsplit("/", 1)[-1])[:40] or "feed"
    return "%s-%s" % (hashlib.sha256(url.encode("utf-8")).hexdigest()[:16], base)


def _download(url, path, timeout):
    """Fetch url to path (atomically: a failed fetch leaves the previous copy as it was)."""
    try:
        response = open_url(url, timeout=timeout, http_agent="fleetpatch-advisory-feed")
        fd, tmp = tempfile.mkstemp(prefix=".download.", dir=os.path.dirname(path))
        try:
            with os.fdopen(fd, "wb") as handle:
                shutil.copyfileobj(response, handle, 1 << 20)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except Exception as exc:
        raise FeedError("Failed to fetch %s: %s" % (url, to_text(exc)))


def locate(location, cache_dir, max_age, timeout, now):
    """(local path, the time its data was fetched or written) of one input: a path as it is, a URL
    through the cache (fetched again when the cached copy is older than max_age)."""
    if not _URL.match(location):
        path = os.path.expanduser(location)
        try:
            return path, os.stat(path).st_mtime
        except OSError as exc:
            raise FeedError("Failed to read %s: %s" % (location, exc.strerror or exc))
    path = os.path.join(cache_dir, _cache_name(location))
    try:
        fetched = os.stat(path).st_mtime
    except OSError:
        fetched = None
    if fetched is None or (max_age and now - fetched > max_age):
        _download(location, path, timeout)
        fetched = os.stat(path).st_mtime
    return path, fetched


def _read_text(path, what):
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise FeedError("Failed to read %s: %s" % (what, exc.strerror or exc))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FeedError("%s is not UTF-8 text: %s" % (what, exc))


def _release_file(index_dir, release):
    return os.path.join(index_dir, "release-%s.json" % re.sub(r"[^a-z0-9-]", "_", release))


def _write_index(index_dir, index):
    """One JSON file per release (what one host needs), then meta.json last: its presence says the
    index is complete."""
    tmp = tempfile.mkdtemp(prefix=".building.", dir=os.path.dirname(index_dir))
    try:
        for release in index.releases():
            part = {"fixes": dict((source, fixes) for (source, rel), fixes in index.fixes.items() if rel == release),
                    "advisories": dict((source, rows) for (source, rel), rows in index.advisories.items() if rel == release)}
            write_private_file(_release_file(tmp, release), json.dumps(part, separators=(",", ":")))
        write_private_file(os.path.join(tmp, "meta.json"), json.dumps(
            {"format": INDEX_FORMAT, "entries": index.entries, "advisories": index.advisory_count,
             "releases": index.releases()}))
        os.rename(tmp, index_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _read_meta(index_dir):
    try:
        with open(os.path.join(index_dir, "meta.json")) as handle:
            meta = json.load(handle)
    except (OSError, ValueError):
        return None
    return meta if meta.get("format") == INDEX_FORMAT else None


def _load_release(index_dir, release, meta):
    if release not in meta["releases"]:
        return debian.DebianIndex({}, {}, meta["entries"], meta["advisories"])
    with open(_release_file(index_dir, release)) as handle:
        part = json.load(handle)
    fixes = dict(((source, release), dict((v, [tuple(r) for r in rows]) for v, rows in by_version.items()))
                 for source, by_version in part["fixes"].items())
    advisories = dict(((source, release), [(r[0], r[1], r[2], tuple(r[3])) for r in rows])
                      for source, rows in part["advisories"].items())
    return debian.DebianIndex(fixes, advisories, meta["entries"], meta["advisories"])


def meta_releases(index_dir):
    return (_read_meta(index_dir) or {}).get("releases") or []


def load(feed, release, now=None):
    """(DebianIndex of this release, info) for patch_facts' advisory_feed option.
    info: {source, cache_dir, loaded_at, age_seconds, entries, advisories}. Raises FeedError."""
    now = _now() if now is None else now
    if not feed.get("debian_tracker") and not feed.get("debian_advisories"):
        raise FeedError("advisory_feed names no data: set debian_tracker and/or debian_advisories")
    cache_dir = private_directory(os.path.expanduser(feed.get("cache_dir") or DEFAULT_CACHE_DIR))
    max_age, timeout = feed.get("max_age") or 0, feed.get("timeout") or 60
    inputs = []
    for kind, location in [("tracker", feed.get("debian_tracker"))] + \
            [("advisories", a) for a in feed.get("debian_advisories") or []]:
        if location:
            path, written = locate(location, cache_dir, max_age, timeout, now)
            inputs.append((kind, location, path, written))
    oldest = min(written for _k, _l, _p, written in inputs)
    age = max(0, int(now - oldest))
    if max_age and age > max_age:
        raise FeedError("the feed is stale: %s is %d s old, more than max_age %d s"
                        % (min(inputs, key=lambda i: i[3])[1], age, max_age))
    identity = [(kind, location, os.stat(path).st_size, os.stat(path).st_mtime) for kind, location, path, _w in inputs]
    key = hashlib.sha256(json.dumps(identity).encode("utf-8")).hexdigest()[:24]
    index_dir = os.path.join(cache_dir, "index-" + key)
    if (key, release) not in _LOADED:
        meta = _read_meta(index_dir)
        if meta is None:
            with open(os.path.join(cache_dir, "index.lock"), "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)     # one worker builds, the others wait and read
                meta = _read_meta(index_dir)
                if meta is None:
                    tracker = [_read_text(p, l) for k, l, p, _w in inputs if k == "tracker"]
                    lists = [(l, _read_text(p, l)) for k, l, p, _w in inputs if k == "advisories"]
                    index = debian.build_index(tracker[0] if tracker else None, lists,
                                               next((l for k, l, _p, _w in inputs if k == "tracker"), ""))
                    if os.path.isdir(index_dir):     # an index a crash left without meta.json
                        shutil.rmtree(index_dir)
                    _write_index(index_dir, index)
                    meta = _read_meta(index_dir)
        _LOADED[(key, release)] = (_load_release(index_dir, release, meta), release in meta["releases"])
    index, covered = _LOADED[(key, release)]
    info = {"source": [location for _k, location, _p, _w in inputs], "cache_dir": cache_dir, "index": index_dir,
            "loaded_at": _iso(oldest), "age_seconds": age, "entries": index.entries,
            "advisories": index.advisory_count, "release": release,
            "warning": None if covered else "the feed has no data for release %s (it covers %s)"
            % (release, ", ".join(meta_releases(index_dir)) or "none")}
    return index, info


def join(record, index):
    """Set advisories, cves, issued, severity and classification security on each apt update the
    data says fixes something; leave the others as they are (first-seen stays their clock).
    Returns (record with the updates joined, number of updates joined, number without source data)."""
    joined = unsourced = 0
    release = record.get("codename")
    updates = []
    for original in record.get("updates") or []:
        update = dict(original)
        source, installed, available = (update.get("source_package"), update.get("installed_source_version"),
                                        update.get("source_version"))
        if not (source and installed and available):
            unsourced += 1
        else:
            found = index.lookup(source, release, installed, available)
            if found:
                update.update(advisories=found["advisories"], cves=found["cves"], issued=found["issued"],
                              severity=found["severity"], classification="security")
                joined += 1
        updates.append(update)
    result = dict(record)
    result["updates"] = updates
    return result, joined, unsourced


def feed_info_unused(feed, warning):
    """The record's advisory_feed when no data could be used: what was asked, and why not."""
    return {"source": [s for s in [feed.get("debian_tracker")] + list(feed.get("debian_advisories") or []) if s],
            "cache_dir": None, "index": None, "loaded_at": None, "age_seconds": None, "entries": 0,
            "advisories": 0, "release": None, "warning": warning}

