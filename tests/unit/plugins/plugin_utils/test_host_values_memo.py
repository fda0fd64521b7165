"""The run-wide memo of dates (_host_values._is_real_date): whether a string is a real date is decided
once per distinct string for every host, but what a host is warned about stays that host's."""
from host_updates import CONTROLLER_NOW, update

from ansible_collections.fleetpatch.patching.plugins.plugin_utils import _host_values
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import model

FACTS = "fleetpatch.patching.patch_facts"


def entry(host, *updates):
    obs = model.HostObservations(host, clock=lambda: CONTROLLER_NOW)
    obs.observe(FACTS, {"ansible_facts": {"fleetpatch": {"updates": list(updates), "installed_count": 10}}}, "Assess")
    return model.host_entry(obs)


def test_every_host_that_sends_a_bad_date_is_warned_though_the_memo_knows_it():
    first = entry("a", update("p", issued="2026-02-30"))
    second = entry("b", update("p", issued="2026-02-30"), update("q", sla_due="2026-02-30"))
    clean = entry("c", update("p"))
    assert "2026-02-30" in _host_values._real_dates       # what the memo holds is about the value
    assert first["data_warnings"] == ["update p: issued '2026-02-30' is not valid: taken as unknown (null)"]
    assert second["data_warnings"] == ["update p: issued '2026-02-30' is not valid: taken as unknown (null)",
                                       "update q: sla_due '2026-02-30' is not valid: taken as unknown (null)"]
    assert [u["issued"] for u in first["updates"] + second["updates"]] == [None, None, "2026-11-01"]
    assert clean["data_warnings"] == [] and clean["updates"][0]["issued"] == "2026-11-01"


def test_a_date_is_checked_once_for_the_whole_fleet(monkeypatch):
    checked = []
    real_date = _host_values.real_date
    monkeypatch.setattr(_host_values, "_real_dates", {})
    monkeypatch.setattr(_host_values, "real_date", lambda value: checked.append(value) or real_date(value))
    for host in ("a", "b", "c"):
        entry(host, update("p", issued="2026-10-03"), update("q", issued="2026-10-03", sla_due="2026-02-31"))
    assert sorted(checked) == ["2026-02-31", "2026-10-03", "2026-11-02", "2026-12-01"]


def test_the_memo_never_grows_past_its_bound(monkeypatch):
    memo = {}
    monkeypatch.setattr(_host_values, "_real_dates", memo)
    monkeypatch.setattr(_host_values, "DATES_REMEMBERED", 5)
    sizes = []
    for day in range(1, 29):
        entry("h%d" % day, update("p", issued="2026-10-%02d" % day, first_seen="2026-10-31"))
        sizes.append(len(memo))
    assert max(sizes) == 5 and "2026-10-28" in memo


def test_a_str_subclass_is_checked_as_it_is_and_kept_out_of_the_memo(monkeypatch):
    class Unsafe(str):
        pass

    memo = {}
    monkeypatch.setattr(_host_values, "_real_dates", memo)
    values = _host_values.HostValues("h", "2026-11-25")
    assert values.date("", "issued", Unsafe("2026-10-03")) == "2026-10-03"
    assert values.date("", "issued", Unsafe("2026-02-30")) is None
    assert memo == {} and values.warnings == ["issued '2026-02-30' is not valid: taken as unknown (null)"]
