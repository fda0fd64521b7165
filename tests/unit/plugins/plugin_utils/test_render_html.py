"""The HTML dashboard: one self-contained file, every document text escaped, usable at fleet scale."""
import base64
import copy
import hashlib
import html.parser
import re

import pytest
import synthetic_report
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import common as _render_common
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import dashboard_html as _render_html

HOSTILE_TITLE = synthetic_report.HOSTILE_TITLE
EXTERNAL = re.compile(r"^\s*(https?:|//|ftp:|file:|javascript:)", re.I)
URL_ATTRIBUTES = ("src", "href", "action", "formaction", "srcset", "poster", "data", "xlink:href", "background")


class Page(html.parser.HTMLParser):
    """What a browser would build: elements, attributes, scripts and the text a reader sees."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []
        self.scripts = []
        self.styles = []
        self.text = []
        self._in = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._in = tag
            (self.scripts if tag == "script" else self.styles).append("")

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "script":
            self.scripts[-1] += data
        elif self._in == "style":
            self.styles[-1] += data
        else:
            self.text.append(data)


def parse(text):
    page = Page()
    page.feed(text)
    page.close()
    return page


@pytest.fixture(scope="module")
def report():
    return synthetic_report.build(200, 50, hostile=True)


@pytest.fixture(scope="module")
def page(report):
    return parse(_render_html.render(report))


def csp_of(page):
    metas = [a for t, a in page.tags if t == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy"]
    assert len(metas) == 1
    return metas[0]["content"]


def test_only_our_script_and_its_hash_in_the_csp(page):
    assert len(page.scripts) == 1
    assert page.scripts[0] == _render_html.SCRIPT
    digest = base64.b64encode(hashlib.sha256(page.scripts[0].encode("utf-8")).digest()).decode()
    csp = csp_of(page)
    assert "default-src 'none'" in csp
    assert "script-src 'sha256-%s'" % digest in csp
    assert "unsafe-eval" not in csp and "script-src 'unsafe-inline'" not in csp


def test_no_external_resources(page):
    loading = ("link", "img", "iframe", "object", "embed", "base", "audio", "video", "source", "form")
    assert not [t for t, _a in page.tags if t in loading]
    for tag, attrs in page.tags:
        for name in URL_ATTRIBUTES:
            value = attrs.get(name)
            assert value is None or not EXTERNAL.match(value), (tag, name, value)
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
    for style in page.styles:
        assert "url(" not in style and "@import" not in style and "@font-face" not in style


def test_hostile_title_is_text(report, page):
    synthetic_report.hostile_update(report)
    text = "".join(page.text)
    assert HOSTILE_TITLE in text
    assert '& "quoted"' in text


def hostile_everywhere(report):
    """The report with a hostile string in every free-text field the dashboard shows."""
    evil = '<img src=x onerror=alert(1)>"\'<script>alert(2)</script>'
    report = copy.deepcopy(report)
    report["run"].update(run_id="run" + evil, controller=evil, playbooks=[evil], aborted_by=evil,
                         status="aborted", sla_days={evil: evil})
    report["trend"][0]["run_id"] = evil
    report["summary"]["by_ring"][evil] = dict(report["summary"]["by_ring"]["test"])
    report["summary"]["by_os"][evil] = dict(report["summary"]["by_os"]["Debian 12"])
    for host in report["hosts"][:20]:
        host.update(host=host["host"] + evil, ring=evil, os=evil, policy=evil, journal=evil, kernel_running=evil,
                    reboot_required=True, reboot_reasons=[evil], status=evil, rolled_back=True,
                    failure={"task": evil, "message": evil}, health={"healthy": False, "failed_checks": [evil]},
                    changes=[{"name": evil, "before": evil, "after": evil}])
        for update in host["updates"]:
            update.update(name=evil, title=evil, advisories=[evil], cves=[evil], first_seen=evil, sla_due=evil,
                          installed_version=evil, available_version=evil, severity=evil, classification=evil,
                          state="missing")
    return report, evil


def test_every_document_text_is_escaped(report):
    hostile, evil = hostile_everywhere(report)
    page = parse(_render_html.render(hostile))
    assert len(page.scripts) == 1
    assert not [t for t, _a in page.tags if t == "img"]
    assert not [a for _t, attrs in page.tags for a in attrs if a.startswith("on")]
    text = "".join(page.text)
    assert text.count(evil) > 20 * 5
    # Attribute values (class names come only from our own lists; a status outside it falls back).
    classes = " ".join(a.get("class") or "" for _t, a in page.tags)
    assert "<" not in classes and "onerror" not in classes


def test_header_marks_an_aborted_run():
    report = synthetic_report.build(20, 5, aborted_by="SIGTERM", trend_runs=0)
    page = parse(_render_html.render(report))
    text = "".join(page.text)
    assert "ABORTED" in text
    assert "ABORTED by SIGTERM" in text
    assert ("div", {"class": "banner aborted", "role": "alert"}) in page.tags
    completed = parse(_render_html.render(synthetic_report.build(20, 5, trend_runs=0)))
    assert "ABORTED" not in "".join(completed.text)
    assert not [a for t, a in completed.tags if a.get("role") == "alert"]


def test_check_mode_is_said():
    text = "".join(parse(_render_html.render(synthetic_report.build(10, 5, check_mode=True))).text)
    assert "Check mode: nothing was installed" in text


def test_content(report, page):
    text = "".join(page.text)
    summary = report["summary"]
    for label in ("Hosts", "Compliant", "Non-compliant", "Failed", "Unreachable", "Rolled back", "Pending reboot",
                  "SLA breaches", "Critical missing", "Compliance by ring", "Compliance by OS", "Hosts by status",
                  "Open updates by severity", "Compliance over the last 9 run(s)"):
        assert label in text, label
    for ring in summary["by_ring"]:
        assert ring in text
    svgs = [a for t, a in page.tags if t == "svg"]
    assert len(svgs) == 6 and all(a.get("role") == "img" and a.get("aria-label") for a in svgs)
    assert len([t for t, _a in page.tags if t == "details" and _a.get("class") == "host"]) == 200
    # Trend: one dot per run, this run included.
    assert len([t for t, a in page.tags if t == "circle" and a.get("r") == "4"]) == len(report["trend"]) == 9


def test_hosts_worst_first(report, page):
    shown = [a["data-st"] for t, a in page.tags if t == "details" and a.get("class") == "host"]
    ranks = [_render_common.STATUS_RANK[s] for s in shown]
    assert ranks == sorted(ranks)
    assert shown[0] != "compliant" and shown[-1] == "compliant"


def test_drill_down_caps_and_says_so(report):
    host = max(report["hosts"], key=_render_common.open_count)
    text = "".join(parse(_render_html._host_body(host, 3, 5)).text)
    hidden = _render_common.open_count(host) - 3
    assert hidden > 0
    assert "%d more, less urgent: in report.json and report.csv." % hidden in text
    top = _render_common.top_open_updates(host)
    assert top[0]["name"] in text and top[-1]["name"] not in text.split("Installed by this run", 1)[0]


def test_detail_limits_fit_the_fleet():
    def hosts(count):
        return [{"counts": {"missing": 20, "failed": 0}, "changes": [{}] * 30} for _index in range(count)]

    assert _render_html.detail_limits(hosts(100)) == (_render_html.MAX_UPDATES_PER_HOST, _render_html.MAX_CHANGES)
    assert _render_html.detail_limits(hosts(10000)) == (_render_html.MIN_UPDATES_PER_HOST, _render_html.MIN_CHANGES)
    assert _render_html.detail_limits(hosts(10000), 7)[0] == 7


def test_size_stays_sane_at_ten_thousand_hosts(report):
    big = copy.deepcopy(report)
    big["hosts"] = [dict(h, host="h%05d-%s" % (i, h["host"])) for i in range(50) for h in report["hosts"]]
    assert len(big["hosts"]) == 10000
    size = len(_render_html.render(big).encode("utf-8"))
    assert size < 20 * 1024 * 1024, size


def test_empty_report_renders():
    report = synthetic_report.build(0, 0, trend_runs=0)
    page = parse(_render_html.render(report))
    assert "No hosts in this report." in "".join(page.text)
    assert len(page.scripts) == 1


def test_gate_decisions_are_shown_and_escaped():
    report = synthetic_report.build(20, 3)
    report["run"]["gates"] = [{"ring": "test<b>", "passed": False, "message": "Gate closed: <img src=x>",
                               "hosts": 3, "succeeded": 0, "rolled_back": 3, "failed": 0, "unreachable": 0}]
    page = _render_html.render(report)
    # the gate's own message, once (it says open or closed itself), escaped
    assert page.count("Gate closed: &lt;img src=x&gt;") == 1 and "Gate after ring" not in page
    assert "<img" not in page
    report["run"]["gates"][0]["message"] = ""
    assert "Gate after ring test&lt;b&gt; CLOSED." in _render_html.render(report)
