"""The gate's public fact, fleetpatch_gate (docs/architecture.md), as the compliance callback reads
it: the decision when the gate decides, the manifest when an open gate promotes one; the gate's
own assert, which follows, is not a second decision."""

from ansible_collections.fleetpatch.patching.plugins.plugin_utils._report import run as _report_run


class GateAssert(object):
    action = "ansible.builtin.assert"

    class _role(object):
        @staticmethod
        def get_name():
            return "fleetpatch.patching.gate"


class SetFact(GateAssert):
    action = "ansible.builtin.set_fact"


COUNTS = {"ring": "test", "hosts": 2, "succeeded": 1, "incomplete": 0, "rolled_back": 0, "failed": 1, "unreached": 0}


def gate(decision, manifest=None, message="Gate closed after ring test: 1/2 hosts succeeded"):
    return {"ansible_facts": {"fleetpatch_gate": {
        "ring": "test", "decision": decision, "reasons": [] if decision == "open" else ["1/2 hosts succeeded"],
        "counts": COUNTS, "message": message, "manifest": manifest}}}


def test_a_closed_gate_is_one_decision_with_its_counts_and_message():
    watcher = _report_run.GateWatcher()
    watcher.observe(SetFact, {"ansible_facts": {"gate_result": dict(COUNTS, by_host={"a": "patched", "b": "failed"})}},
                    False)
    watcher.observe(SetFact, gate("closed"), False)
    watcher.observe(GateAssert, {"msg": "Gate closed after ring test: 1/2 hosts succeeded"}, True)
    assert watcher.decisions == [{"ring": "test", "passed": False, "message": "Gate closed after ring test: 1/2 hosts "
                                  "succeeded", "hosts": 2, "succeeded": 1, "rolled_back": 0, "failed": 1,
                                  "unreachable": 0}]


def test_an_open_gate_keeps_the_manifest_it_promotes():
    watcher = _report_run.GateWatcher()
    watcher.observe(SetFact, gate("open", message="Gate open after ring test: 2/2 hosts succeeded"), False)
    watcher.observe(GateAssert, {"msg": "Gate open after ring test: 2/2 hosts succeeded"}, False)
    watcher.observe(SetFact, gate("open", manifest={"apt": {"fp-crypto": "1.0-2"}}), False)
    assert len(watcher.decisions) == 1 and watcher.decisions[0]["passed"]
    assert watcher.decisions[0]["manifest"] == {"apt": {"fp-crypto": "1.0-2"}}


def test_a_manifest_never_joins_a_closed_gate_or_another_ring():
    watcher = _report_run.GateWatcher()
    watcher.observe(SetFact, gate("closed"), False)
    watcher.observe(SetFact, gate("open", manifest={"apt": {"fp-crypto": "1.0-2"}}), False)
    assert "manifest" not in watcher.decisions[0]
