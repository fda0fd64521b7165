# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

The advisory feed for apt hosts, on the controller: patch_facts' advisory_feed option names
Debian's and Ubuntu's security data (a file path or an http(s) URL each); this fetches it (with a
timeout, into a cache on the controller), indexes it once and joins it to a host's record: a
Debian host to Debian's data (_advisory/debian.py), an Ubuntu host to Ubuntu's
(_advisory/ubuntu.py), both through one index (_advisory/index.py)
(docs/assessment.md, "Advisory feed for apt hosts").

Ansible runs each host's task in a worker process of its own, so "once per run" cannot be a
variable in memory: the first worker parses the data and writes the index, one SQLite file under the
cache directory keyed by the inputs' identity (location, size, mtime); every other worker (under a
lock while it is being built) opens it and reads the rows of its host's source packages only
(bench/advisory_feed_bench.py: a few ms, against a second or more to parse the export). Within one
process the open index stays in memory (tests, the bench).
"""

from __future__ import annotations

import bz2
import datetime
import fcntl
import hashlib
import json
import os
import re
import shutil
import sqlite3
import tempfile
import time
from typing import Any

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.urls import open_url

from ansible_collections.fleetpatch.patching.plugins.module_utils._apply import advisory_key
from ansible_collections.fleetpatch.patching.plugins.module_utils._files import private_directory
from ansible_collections.fleetpatch.patching.plugins.module_utils._module_args import advisory_feed_option
from ansible_collections.fleetpatch.patching.plugins.module_utils._vocabulary import utc_stamp
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._advisory import debian
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._advisory import ubuntu
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._advisory.index import (
    Advisory, AdvisoryIndex, FeedError, Fix, dpkg_key)

DEFAULT_CACHE_DIR = "~/.cache/fleetpatch/advisory-feed"
INDEX_FORMAT = 3          # bump when the index file changes shape
_URL = re.compile(r"^https?://", re.I)
_FORMAT_2_INDEX = re.compile(r"^index-[0-9a-f]{24}\.sqlite$")
_LOADED = {}              # {index key: IndexStore}: this process's open index
# each distribution's data: its module (INPUTS: the option naming the main file, the option listing
# the others; parse; its index class), and the options of which at least one must be set
DISTRIBUTIONS = {
    "debian": (debian, ("debian_tracker", "debian_advisories")),
    "ubuntu": (ubuntu, ("ubuntu_usn",)),
}


def distribution_of(record: dict[str, Any]) -> str:
    """Whose data a host's record is joined to: Ubuntu's for an Ubuntu host (os-release NAME), else
    Debian's (Debian and what the record cannot tell)."""
    return "ubuntu" if str(record.get("distribution") or "").lower().startswith("ubuntu") else "debian"


def _now():
    return time.time()


def _iso(timestamp):
    return utc_stamp(datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc))


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


def locate(location: str, cache_dir: str, max_age: int, timeout: int, now: float) -> tuple[str, float]:
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
    """The file's text; a bzip2 file (Ubuntu publishes database.json.bz2 and the OVAL as .xml.bz2)
    is decompressed, whatever its name."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise FeedError("Failed to read %s: %s" % (what, exc.strerror or exc))
    if data[:3] == b"BZh":
        try:
            data = bz2.decompress(data)
        except (OSError, ValueError, EOFError) as exc:
            raise FeedError("%s is not a whole bzip2 file: %s" % (what, exc))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FeedError("%s is not UTF-8 text: %s" % (what, exc))


class IndexStore:
    """The index on disk: one SQLite file (stdlib sqlite3), rows by (release, source package), read
    per source package, so a worker reads what its host's updates need and nothing else."""

    SCHEMA = (
        # key: _advisory_feed_index.dpkg_key(fixed), so that SQL selects a dpkg version range;
        # urgency: the distribution's rating (Debian's urgency, Ubuntu's priority)
        "CREATE TABLE fixes (release TEXT, source TEXT, key BLOB, cve TEXT, urgency TEXT, nodsa INTEGER)",
        "CREATE TABLE advisories (release TEXT, source TEXT, key BLOB, fixed TEXT, id TEXT, date TEXT, cves TEXT)",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)",
    )
    INDEXES = ("CREATE INDEX fixes_by_version ON fixes (release, source, key)",
               "CREATE INDEX advisories_by_version ON advisories (release, source, key)")
    CHUNK = 200      # ranges per query (4 parameters each; SQLite allows 999 in old builds)

    def __init__(self, path: str) -> None:
        self.path = path
        self.db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, check_same_thread=False)
        self.meta = json.loads(self.db.execute("SELECT value FROM meta WHERE key = 'meta'").fetchone()[0])
        if self.meta.get("format") != INDEX_FORMAT:
            raise ValueError("index format %r" % self.meta.get("format"))

    def rows_between(self, release: str,
                     queries: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], tuple[list[Advisory], list[Fix]]]:
        """{(source, installed, available): (advisory rows, fix rows)} whose version is newer than
        installed and not newer than available, for one host's updates in one query per table.
        A version no Debian version can be (a character dpkg does not order) matches nothing."""
        ranges = []
        for source, installed, available in queries:
            try:
                ranges.append((source, installed, available, dpkg_key(installed), dpkg_key(available)))
            except ValueError:
                continue
        by_source = {}
        for entry in ranges:
            by_source.setdefault(entry[0], []).append(entry)
        result = {}
        for position, (table, columns) in enumerate((("advisories", "fixed, id, date, cves"), ("fixes", "cve, urgency, nodsa"))):
            for start in range(0, len(ranges), self.CHUNK):
                chunk = ranges[start:start + self.CHUNK]
                where = " OR ".join(["(release = ? AND source = ? AND key > ? AND key <= ?)"] * len(chunk))
                params = [value for source, _i, _a, low, high in chunk for value in (release, source, low, high)]
                for row in self.db.execute("SELECT source, key, %s FROM %s WHERE %s" % (columns, table, where), params):
                    if position == 0:
                        item = (row[2], row[3], row[4], tuple(row[5].split()) if row[5] else ())
                    else:
                        item = (row[2], row[3], bool(row[4]))
                    for source, installed, available, low, high in by_source[row[0]]:
                        if low < row[1] <= high:
                            result.setdefault((source, installed, available), ([], []))[position].append(item)
        return result

    @classmethod
    def write(cls, path: str, index: AdvisoryIndex) -> None:
        """The index of a parsed feed, written to a temporary file and renamed: a reader sees a whole
        index or none."""
        fd, tmp = tempfile.mkstemp(prefix=".building.", suffix=".sqlite", dir=os.path.dirname(path))
        os.close(fd)
        try:
            db = sqlite3.connect(tmp)
            # a private temporary file renamed when complete: no journal or sync is needed until then
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
            for statement in cls.SCHEMA:
                db.execute(statement)
            keys = {}

            def key(version):
                # a fixed version no Debian version can be (bad data) fixes nothing: None, left out
                if version not in keys:
                    try:
                        keys[version] = dpkg_key(version)
                    except ValueError:
                        keys[version] = None
                return keys[version]

            db.executemany("INSERT INTO fixes VALUES (?, ?, ?, ?, ?, ?)", (
                (release, source, key(fixed), cve, urgency, int(nodsa))
                for (source, release), by_version in index.fixes.items()
                for fixed, rows in by_version.items() if key(fixed) is not None for cve, urgency, nodsa in rows))
            db.executemany("INSERT INTO advisories VALUES (?, ?, ?, ?, ?, ?, ?)", (
                (release, source, key(fixed), fixed, ident, date, " ".join(cves))
                for (source, release), rows in index.advisories.items() for fixed, ident, date, cves in rows
                if key(fixed) is not None))
            for statement in cls.INDEXES:
                db.execute(statement)
            db.execute("INSERT INTO meta VALUES ('meta', ?)", (json.dumps(
                {"format": INDEX_FORMAT, "entries": index.entries, "advisories": index.advisory_count,
                 "releases": index.releases(), "left_out": getattr(index, "counts", None) or {}}),))
            db.commit()
            db.close()
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


def _open_store(path):
    try:
        return IndexStore(path)
    except (sqlite3.Error, ValueError, TypeError):
        return None       # absent, or from another format: built (again)


def _remove_other_indexes(cache_dir, keep, distribution):
    """The distribution's indexes of earlier feed versions (tens of MB each) go once a new one is
    written; a worker that still has one open keeps reading it (POSIX unlink)."""
    for name in os.listdir(cache_dir):
        path = os.path.join(cache_dir, name)
        # also index-KEY.sqlite, the name before there were two distributions (index format 2)
        if (name.startswith("index-%s-" % distribution) or _FORMAT_2_INDEX.match(name)) \
                and name.endswith(".sqlite") and path != keep:
            try:
                os.unlink(path)
            except OSError:
                pass


def _inputs(feed, distribution):
    """[(option, location)] of one distribution's data in the advisory_feed option."""
    main, listed = DISTRIBUTIONS[distribution][0].INPUTS
    return [(option, location) for option, location in [(main, feed.get(main))] +
            [(listed, location) for location in feed.get(listed) or []] if location]


def load(feed: dict[str, Any], release: str, distribution: str = "debian",
         now: float | None = None) -> tuple[AdvisoryIndex, dict[str, Any]]:
    """(the distribution's index, info) for patch_facts' advisory_feed option and a host's release.
    info: {source, cache_dir, index, loaded_at, age_seconds, entries, advisories, release, left_out,
    warning}. Raises FeedError."""
    now = _now() if now is None else now
    module, needed = DISTRIBUTIONS[distribution]
    if not any(feed.get(option) for option in needed):
        raise FeedError("advisory_feed names no %s data for this %s host: set %s"
                        % (distribution.capitalize(), distribution.capitalize(), " and/or ".join(needed)))
    cache_dir = private_directory(os.path.expanduser(feed.get("cache_dir") or DEFAULT_CACHE_DIR))
    max_age, timeout = feed.get("max_age") or 0, feed.get("timeout") or 60
    inputs = []
    for option, location in _inputs(feed, distribution):
        path, written = locate(location, cache_dir, max_age, timeout, now)
        inputs.append((option, location, path, written))
    oldest = min(written for _k, _l, _p, written in inputs)
    age = max(0, int(now - oldest))
    if max_age and age > max_age:
        raise FeedError("the feed is stale: %s is %d s old, more than max_age %d s"
                        % (min(inputs, key=lambda i: i[3])[1], age, max_age))
    options = module.parse_options(feed)
    identity = [distribution, options] + [
        (kind, location, os.stat(path).st_size, os.stat(path).st_mtime) for kind, location, path, _w in inputs]
    key = hashlib.sha256(json.dumps(identity).encode("utf-8")).hexdigest()[:24]
    index_path = os.path.join(cache_dir, "index-%s-%s.sqlite" % (distribution, key))
    if key not in _LOADED:
        store = _open_store(index_path) if os.path.exists(index_path) else None
        if store is None:
            with open(os.path.join(cache_dir, "index.lock"), "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)     # one worker builds, the others wait and read
                store = _open_store(index_path) if os.path.exists(index_path) else None
                if store is None:
                    readings = [(option, location, _read_text(path, location)) for option, location, path, _w in inputs]
                    IndexStore.write(index_path, module.parse(readings, options))
                    store = IndexStore(index_path)
                    _remove_other_indexes(cache_dir, index_path, distribution)
        _LOADED[key] = store
    store = _LOADED[key]
    index = module.Index({}, {}, store.meta["entries"], store.meta["advisories"], store=store)
    covered = release in store.meta["releases"]
    info = {"source": [location for _k, location, _p, _w in inputs], "cache_dir": cache_dir, "index": index_path,
            "loaded_at": _iso(oldest), "age_seconds": age, "entries": index.entries,
            "advisories": index.advisory_count, "release": release, "left_out": store.meta.get("left_out") or {},
            "warning": None if covered else "the %s data has no release %s (it covers %s)"
            % (distribution.capitalize(), release, ", ".join(store.meta["releases"]) or "none")}
    return index, info


def join(record: dict[str, Any], index: AdvisoryIndex) -> tuple[dict[str, Any], int, int]:
    """Set advisories, cves, issued, severity and classification security on each apt update the
    data says fixes something; leave the others as they are (first-seen stays their clock).
    Returns (record with the updates joined, number of updates joined, number without source data)."""
    release = record.get("codename")
    updates = [dict(u) for u in record.get("updates") or []]
    queries = dict((id(u), (u.get("source_package"), u.get("installed_source_version"), u.get("source_version")))
                   for u in updates)
    sourced = [q for q in queries.values() if all(isinstance(part, str) and part for part in q)]
    # one batch per host: the index on disk answers it in one query per table
    answers = index.lookup_many(release, sourced) if sourced else {}
    joined = 0
    for update in updates:
        found = answers.get(queries[id(update)])
        if found:
            update.update(advisories=found["advisories"], cves=found["cves"], issued=found["issued"],
                          severity=found["severity"], classification="security")
            joined += 1
    result = dict(record)
    result["updates"] = updates
    return result, joined, len(updates) - len(sourced)


def validated(value: Any) -> tuple[dict[str, Any], list[str]]:
    """(the advisory_feed option with its defaults, error messages), as the modules' spec says."""
    result = ArgumentSpecValidator({"advisory_feed": advisory_feed_option()}).validate({"advisory_feed": value})
    return result.validated_parameters.get("advisory_feed"), result.error_messages


def split_task_args(task_args: dict[str, Any],
                    module: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, Any] | None]:
    """(the validated advisory_feed, the task's other arguments, None), or (None, None, the failed
    result naming the invalid arguments): what patch_facts' and patch_apply's action plugins take
    from a task that sets advisory_feed (the feed stays on the controller)."""
    feed, errors = validated(task_args["advisory_feed"])
    if errors:
        return None, None, {"failed": True, "msg": "Invalid arguments for %s: %s" % (module, "; ".join(errors))}
    args = dict(task_args)
    del args["advisory_feed"]
    return feed, args, None


def join_record(record: dict[str, Any], feed: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the apt record with the feed joined, info for its advisory_feed field). Raises FeedError
    (or whatever stops the feed: the callers keep the record as it was, with the cause)."""
    if not record.get("codename"):
        raise FeedError("the host's os-release names no VERSION_CODENAME, the release the feed is keyed by")
    index, info = load(feed, record["codename"], distribution_of(record))
    joined, info["joined"], info["without_source"] = join(record, index)
    return joined, info


def advisory_data(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{name|arch|available version: {advisories, cves, issued, severity}} of a joined apt record's
    updates that the feed gave something (an apt host's own record has no advisory or CVE): what
    patch_apply's action plugin hands the module (_apply.merge_advisory_data)."""
    return dict((advisory_key(u), {"advisories": u["advisories"], "cves": u["cves"], "issued": u["issued"],
                                   "severity": u["severity"]})
                for u in record.get("updates") or [] if u.get("advisories") or u.get("cves"))


def feed_info_unused(feed: dict[str, Any], warning: str) -> dict[str, Any]:
    """The record's advisory_feed when no data could be used: what was asked, and why not."""
    return {"source": [location for distribution in sorted(DISTRIBUTIONS) for _o, location in _inputs(feed, distribution)],
            "cache_dir": None, "index": None, "loaded_at": None, "age_seconds": None, "entries": 0,
            "advisories": 0, "release": None, "warning": warning}
