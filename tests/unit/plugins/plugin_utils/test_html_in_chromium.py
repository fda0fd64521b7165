"""The dashboard in a real headless Chromium (DevTools protocol, tests/support/cdp_client.py):
it renders, its one script runs under its own CSP, nothing logs an error or opens a dialog, and
the hostile advisory title is on the page as text.

Needs the Debian package `chromium`; skipped, saying so, when no Chromium binary is found.
FLEETPATCH_UPDATE_SCREENSHOT=1 also copies the screenshot to docs/images/report-dashboard.png.
"""
import base64
import os
import shutil
import struct
from pathlib import Path

import cdp_client
import pytest
import synthetic_report
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import dashboard_html as _render_html

WIDTH, HEIGHT = 1280, 900
VIEWS = ("sla", "by-update", "changes", "fleet")
DOCS_SCREENSHOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "docs", "images",
                               "report-dashboard.png")
BINARY = cdp_client.find_chromium()
pytestmark = pytest.mark.skipif(BINARY is None, reason="no Chromium binary found (Debian: apt-get install chromium)")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = cdp_client.Chromium(BINARY, str(tmp_path_factory.mktemp("chromium-profile")), WIDTH, HEIGHT)
    try:
        yield chromium
    finally:
        chromium.quit()


def load(browser, path):
    return cdp_client.load(browser, path, WIDTH, HEIGHT)


def problems(browser):
    return cdp_client.problems(browser)


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    directory = tmp_path_factory.mktemp("dashboard")
    report = synthetic_report.build(200, 50, hostile=True)
    report["run"]["gates"] = [{"ring": "test", "passed": True, "message": "Gate open after ring test: 20/20 hosts succeeded",
                               "hosts": 20, "succeeded": 20, "rolled_back": 0, "failed": 0, "unreachable": 0,
                               "manifest": {"apt": {"pkg001": "1.1-2", "pkg002": "1.2-2"}, "dnf": {"pkg001": "1.1-2"}}}]
    synthetic_report.with_fleet(report, str(directory / "history.sqlite"))
    path = directory / "report.html"
    path.write_text(_render_html.render(report), encoding="utf-8")
    return report, str(path)


def test_dashboard_in_chromium(browser, dashboard, tmp_path):
    report, path = dashboard
    assert load(browser, path) == []
    assert browser.evaluate("document.title").startswith("Patch compliance")

    # The screenshot: the top of the dashboard, as a reader first sees it.
    png = base64.b64decode(browser.page("Page.captureScreenshot", {"format": "png"})["data"])
    shot = tmp_path / "report-dashboard.png"
    shot.write_bytes(png)
    assert png_size(png) == (WIDTH, HEIGHT)
    assert len(png) > 40000, "a near-empty screenshot: the page did not render"
    if os.environ.get("FLEETPATCH_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(str(shot), DOCS_SCREENSHOT)

    # Each view: on the page, drawn (not empty), and its screenshot for docs/reporting.md.
    for view in VIEWS:
        top = browser.evaluate("var e = document.getElementById(%r); window.scrollTo(0, e.getBoundingClientRect().top"
                               " + window.scrollY - 8); e.getBoundingClientRect().height" % view)
        assert top > 120, view
        png = base64.b64decode(browser.page("Page.captureScreenshot", {"format": "png"})["data"])
        assert len(png) > 30000, view
        if os.environ.get("FLEETPATCH_UPDATE_SCREENSHOT") == "1":
            (Path(DOCS_SCREENSHOT).parent / ("report-%s.png" % view)).write_bytes(png)
    browser.evaluate("window.scrollTo(0, 0); 1")
    fleet = browser.evaluate("document.getElementById('fleet').innerText")
    assert "3 in the inventory but never assessed" in fleet and "retired00.example.com" in fleet
    changes = browser.evaluate("document.getElementById('changes').innerText")
    assert "Promoted manifest" in changes and "pkg002" in changes

    # The one script ran under the CSP (it unhides the controls), and no other script exists.
    assert browser.evaluate("document.scripts.length") == 1
    assert browser.evaluate("document.getElementById('host-controls').hidden") is False
    assert browser.evaluate("document.getElementById('host-shown').textContent") == "200 of 200 hosts shown"

    # The hostile title is rendered as text: in the by-update view, and in the drill-down of its host.
    host, _update = synthetic_report.hostile_update(report)
    hostile = synthetic_report.HOSTILE_TITLE
    in_view = browser.evaluate("document.getElementById('upd-list').innerText.includes(%r)" % hostile)
    assert in_view is True
    assert browser.evaluate("document.getElementById('host-list').innerText.includes(%r)" % hostile) is False
    opened = browser.evaluate(
        "(function () { var d = Array.prototype.find.call(document.querySelectorAll('details.host'), function (e) {"
        " return e.querySelector('.h').textContent === %r; }); d.open = true; return d.open; })()" % host["host"])
    assert opened is True
    assert browser.evaluate("document.getElementById('host-list').innerText.includes(%r)" % hostile) is True
    assert browser.evaluate("document.scripts.length") == 1
    assert problems(browser) == []


def test_filter_and_sort_work(browser, dashboard):
    _report, path = dashboard
    assert load(browser, path) == []
    count = browser.evaluate(
        "var q = document.getElementById('host-q'); q.value = 'host00007'; q.dispatchEvent(new Event('input'));"
        "document.querySelectorAll('details.host:not([hidden])').length")
    assert count == 1
    assert browser.evaluate("document.getElementById('host-shown').textContent") == "1 of 200 hosts shown"
    browser.evaluate("var q = document.getElementById('host-q'); q.value = ''; q.dispatchEvent(new Event('input'));"
                     "var s = document.getElementById('host-status'); s.value = 'rolled_back';"
                     "s.dispatchEvent(new Event('change')); 1")
    shown = browser.evaluate("Array.prototype.map.call(document.querySelectorAll('details.host:not([hidden])'),"
                             " function (e) { return e.dataset.st; })")
    assert shown and set(shown) == {"rolled_back"}
    first = browser.evaluate("document.querySelector('.hhead button[data-col=\"0\"]').click();"
                             "document.querySelector('#host-list details.host .h').textContent")
    assert first == "host00000.example.com"
    assert problems(browser) == []


def _search(browser, box, text):
    return browser.evaluate("var q = document.getElementById(%r); q.value = %r; q.dispatchEvent(new Event('input'));"
                            " 1" % (box, text))


def test_views_filter_by_cve_advisory_and_package_and_link_to_hosts(browser, dashboard):
    report, path = dashboard
    assert load(browser, path) == []
    # a CVE that some open update has: both the by-update view and the host list find it
    update = next(u for h in report["hosts"] for u in h["updates"] if u["cves"] and u["state"] == "missing")
    cve = update["cves"][0]
    _search(browser, "upd-q", cve)
    rows = browser.evaluate("Array.prototype.map.call(document.querySelectorAll('#upd-list tbody tr:not([hidden])'),"
                            " function (r) { return r.textContent; })")
    assert rows and all(cve in r for r in rows)
    shown = browser.evaluate("document.getElementById('upd-shown').textContent")
    assert shown.startswith("%d of " % len(rows))
    _search(browser, "host-q", cve.lower())
    hosts = browser.evaluate("Array.prototype.map.call(document.querySelectorAll('details.host:not([hidden])'),"
                             " function (e) { return e.querySelector('.h').textContent; })")
    expected = set(h["host"] for h in report["hosts"]
                   if any(cve in u["cves"] for u in h["updates"] if u["state"] in ("missing", "failed")))
    assert hosts and set(hosts) <= expected
    # past-SLA only
    _search(browser, "host-q", "")
    sla_only = browser.evaluate("var f = document.getElementById('host-flag'); f.value = 'sla';"
                                "f.dispatchEvent(new Event('change'));"
                                "document.querySelectorAll('details.host:not([hidden])').length")
    assert sla_only == sum(1 for h in report["hosts"] if h["counts"]["sla_breached"])
    # a host link in a view opens that host's section
    link = browser.evaluate("var a = document.querySelector('#by-update a[href^=\"#host-\"]'); a.click();"
                            " a.getAttribute('href')")
    assert browser.evaluate("document.getElementById(%r).open" % link[1:]) is True
    assert problems(browser) == []


def test_the_harness_sees_what_it_must_catch(browser, tmp_path):
    """A page that breaks the rules must be caught: a dialog, and a script the CSP refuses."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><title>x</title><p>x</p><script>alert(1)</script>", encoding="utf-8")
    assert any(p.startswith("dialog alert") for p in load(browser, str(page)))
    html = _render_html.render(synthetic_report.build(5, 3, trend_runs=0))
    page.write_text(html.replace(_render_html.script_hash(), "sha256-" + "A" * 43 + "="), encoding="utf-8")
    found = load(browser, str(page))
    assert any("Content Security Policy" in p for p in found), found
    assert browser.evaluate("document.getElementById('host-controls').hidden") is True
