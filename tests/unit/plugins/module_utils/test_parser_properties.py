"""Property tests: whatever text a tool prints, the parsers return data or raise the one error
the backends turn into a clear failure; never a traceback."""
from hypothesis import given, settings
from hypothesis import strategies as st
from ansible_collections.fleetpatch.patching.plugins.module_utils import _apt, _dnf, _host, _rpm_common, _zypper
from replay import fixture

# Arbitrary text, and arbitrary text mixed with real lines (the interesting neighbourhood).
REAL_LINES = []
for scenario, name in (("apt-security-archive", "policy"), ("dnf-fixed", "updateinfo-info"), ("dnf-fixed", "updateinfo-list"),
                       ("zypper-fixed", "list-patches"), ("zypper-fixed", "patch-info"), ("dnf-fixed", "repoquery")):
    REAL_LINES.extend(fixture(scenario, name)[0].splitlines())
texts = st.one_of(st.text(), st.lists(st.one_of(st.sampled_from(REAL_LINES), st.text()), max_size=30).map("\n".join))


@settings(max_examples=300, deadline=None)
@given(texts)
def test_line_parsers_never_raise(text):
    _apt.parse_policy(text)
    _apt.parse_release(text)
    _apt.parse_dpkg_query(text)
    _dnf.parse_repoquery(text)
    _dnf.parse_updateinfo_list(text)
    _dnf.parse_updateinfo_info(text)
    _rpm_common.parse_rpm_query(text)
    _host.parse_os_release(text)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_xml_parsers_raise_only_xml_errors(text):
    for parse in (_zypper.parse_list_updates, _zypper.parse_list_patches, _zypper.parse_patch_info):
        try:
            parse(text)
        except _zypper.XmlError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.fixed_dictionaries({
    "name": st.sampled_from(["a", "b"]), "arch": st.sampled_from(["noarch", "x86_64"]),
    "available_version": st.sampled_from(["1.0-1", "1:0.5-2", "2.0~rc1-1", "x"]),
    "installed_version": st.sampled_from(["1.0-1", "0.9-1", None])}), max_size=5),
    st.lists(st.tuples(st.sampled_from(["ADV-1", "ADV-2"]), st.tuples(
        st.sampled_from(["a", "b"]), st.sampled_from(["1.0-1", "1.1-1", "1:0.1-1"]),
        st.sampled_from(["noarch", "x86_64"]))), max_size=6))
def test_advisory_matching_is_total(upgrades, pairs):
    infos = {"ADV-1": {"id": "ADV-1", "classification": "security", "severity": "critical", "cves": ["CVE-1-1"],
                       "issued": "2025-01-01", "reboot_suggested": True}}
    installed = [{"name": u["name"], "arch": u["arch"], "version": u["installed_version"]}
                 for u in upgrades if u["installed_version"]]
    for result in _dnf.attach_advisories(upgrades, installed, pairs, infos):
        assert result["classification"] in ("security", "other")
