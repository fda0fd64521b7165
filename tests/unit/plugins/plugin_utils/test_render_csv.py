"""The CSV export: one row per host and update, round-trips through csv.reader, safe in a spreadsheet."""
import copy
import csv
import io

import hypothesis
import pytest
import synthetic_report
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import hosts_csv as _render_csv
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model

FORMULAS = ["=HYPERLINK(\"http://evil.example/\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd",
            "\x01=cmd()", "\x1b\x7f+cmd"]


@pytest.fixture(scope="module")
def report():
    report = synthetic_report.build(200, 50, hostile=True)
    # A host the run never assessed: no record, no updates.
    report["hosts"].append(model.host_entry(model.HostObservations("never-seen.example.com")))
    return report


def rows_of(text):
    return list(csv.reader(io.StringIO(text, newline="")))


def test_round_trip_row_count(report):
    rows = rows_of(_render_csv.render(report))
    assert rows[0] == list(_render_csv.COLUMNS)
    assert len(rows) - 1 == sum(max(1, len(h["updates"])) for h in report["hosts"])
    assert all(len(r) == len(_render_csv.COLUMNS) for r in rows)


def test_host_without_updates_has_one_row_with_empty_update_columns(report):
    rows = [r for r in rows_of(_render_csv.render(report))[1:] if r[1] == "never-seen.example.com"]
    assert len(rows) == 1
    assert rows[0][5] == "unknown"
    assert rows[0][len(_render_csv.HOST_COLUMNS):] == [""] * len(_render_csv.UPDATE_COLUMNS)


def test_values_round_trip(report):
    host, update = synthetic_report.hostile_update(report)
    rows = rows_of(_render_csv.render(report))
    header = rows[0]
    mine = [dict(zip(header, r)) for r in rows[1:]
            if r[header.index("host")] == host["host"] and r[header.index("update")] == update["name"]]
    assert len(mine) == 1
    row = mine[0]
    assert row["title"] == update["title"]  # the hostile title, verbatim
    assert row["advisories"] == " ".join(update["advisories"])
    assert row["severity"] == update["severity"] and row["state"] == "missing"
    assert row["sla_breached"] == ("true" if update["sla_breached"] else "false")
    assert row["host_status"] == host["status"] and row["run_id"] == report["run"]["run_id"]


def test_rollback_possible_says_true_false_or_nothing(report):
    report = copy.deepcopy(report)
    hosts = report["hosts"][:3]
    hosts[0]["rollback"] = {"possible": True, "gaps": []}
    hosts[1]["rollback"] = {"possible": False, "gaps": ["fp-crypto 1.0-2: no source"]}
    hosts[2]["rollback"] = None
    rows = rows_of(_render_csv.render(report))
    header = rows[0]
    seen = dict((r[header.index("host")], r[header.index("rollback_possible")]) for r in rows[1:])
    assert [seen[h["host"]] for h in hosts] == ["true", "false", ""]


def test_formula_injection_neutralised(report):
    hostile = copy.deepcopy(report)
    host = hostile["hosts"][0]
    host["host"], host["ring"] = FORMULAS[0], FORMULAS[1]
    host["failure"] = {"task": "t", "message": FORMULAS[2]}
    for update, value in zip(host["updates"], FORMULAS):
        update.update(title=value, reason=value, advisories=[value], installed_version=value)
    rows = rows_of(_render_csv.render(hostile))
    header = rows[0]
    mine = [dict(zip(header, r)) for r in rows[1:] if r[1].startswith("'=HYPERLINK")]
    assert len(mine) == len(host["updates"])
    cells = [v for row in mine for v in row.values()]
    for value in cells:
        assert not value.startswith(tuple(_render_csv._FORMULA_STARTS)), value
    assert mine[0]["ring"] == "'+1+1" and mine[0]["failure"] == "'-2+3"
    titles = [r["title"] for r in mine[:len(FORMULAS)]]
    assert titles == ["'" + v.lstrip("\x01\x1b\x7f") for v in FORMULAS]


def test_control_characters_removed_line_breaks_kept(report):
    hostile = copy.deepcopy(report)
    hostile["hosts"][0]["updates"][0]["title"] = "a\x00b\x1b[31mc\nd\x9b"
    rows = rows_of(_render_csv.render(hostile))
    titles = [r[_render_csv.COLUMNS.index("title")] for r in rows[1:] if r[1] == hostile["hosts"][0]["host"]]
    assert "ab[31mc\nd" in titles


def test_empty_report_is_just_the_header():
    assert rows_of(_render_csv.render(synthetic_report.build(0, 0, trend_runs=0))) == [list(_render_csv.COLUMNS)]


def test_write_streams_the_same_text(report, tmp_path):
    path = tmp_path / "report.csv"
    with open(str(path), "w", newline="", encoding="utf-8") as stream:
        _render_csv.write(report, stream)
    same = path.read_bytes() == _render_csv.render(report).encode("utf-8")
    assert same  # not `a == b`: pytest's diff of two 2.5 MB texts takes minutes


@hypothesis.given(hypothesis.strategies.lists(
    hypothesis.strategies.text(alphabet=hypothesis.strategies.sampled_from('ab ,"\r\n\t\'=-1'), max_size=6),
    min_size=2, max_size=6))
def test_the_fast_path_writes_what_the_csv_module_writes(cells):
    expected = io.StringIO()
    csv.writer(expected).writerow(cells)
    line = _render_csv._fast_line(cells)
    assert line is None or line == expected.getvalue()


def careful_csv(report):
    """The CSV with every row through the safe cells and the csv module: what write() must equal."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_render_csv.COLUMNS)
    for host in report["hosts"]:
        head = _render_csv._safe(_render_csv.host_cells(report, host))
        writer.writerows([head + _render_csv._safe(_render_csv.update_cells(u)) for u in host["updates"]]
                         or [head + [""] * len(_render_csv.UPDATE_COLUMNS)])
    return _render_csv.clean(out.getvalue())


def test_the_plain_rows_are_what_the_careful_path_writes(report):
    assert _render_csv.render(report) == careful_csv(report)


_TEXT = hypothesis.strategies.text(alphabet=hypothesis.strategies.sampled_from('a ,"\r\n\t=-+@\x01\x9f\u00e9'),
                                   max_size=4)
_VALUE = hypothesis.strategies.one_of(_TEXT, hypothesis.strategies.none(), hypothesis.strategies.integers(-2, 2),
                                      hypothesis.strategies.booleans())


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(fields=hypothesis.strategies.dictionaries(
    hypothesis.strategies.sampled_from(_render_csv._UPDATE_FIELDS_NAMES), hypothesis.strategies.one_of(
        _VALUE, hypothesis.strategies.lists(_TEXT, max_size=2))), host=_TEXT)
def test_any_update_is_written_as_the_careful_path_writes_it(fields, host):
    updates = [dict(update, **fields) for update in _PLAIN_UPDATES]
    document = {"run": {"run_id": "r1"}, "hosts": [{"host": "h" + host, "status": "compliant", "updates": updates}]}
    assert _render_csv.render(document) == careful_csv(document)


_PLAIN_UPDATES = [
    {"name": "pkg", "arch": "amd64", "installed_version": "1.0-1", "available_version": "1.0-2",
     "classification": "security", "severity": "high", "advisories": ["DSA-1", "DSA-2"], "title": "Fix",
     "cves": ["CVE-2026-1"], "issued": "2026-10-01", "first_seen": None, "sla_due": None, "sla_breached": False,
     "decision": "approved", "reason": "", "state": "missing"},
    {"name": "other", "arch": None, "installed_version": None, "available_version": "2",
     "classification": "other", "severity": "unknown", "advisories": [], "title": None, "cves": [],
     "issued": None, "first_seen": "2026-10-02", "sla_due": "2026-10-09", "sla_breached": True,
     "decision": "deferred", "reason": "too new", "state": "deferred"},
]
