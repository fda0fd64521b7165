"""InBackground: the one helper that runs a function in a thread for the targets (patch_facts) and the
controller (the history store packing report.json)."""
import threading

import pytest

from ansible_collections.fleetpatch.patching.plugins.module_utils._background import InBackground


def test_the_value_comes_back_from_another_thread():
    running = InBackground(lambda: threading.current_thread().name, name="fleetpatch-test")
    assert running.result() == "fleetpatch-test"


@pytest.mark.parametrize("error", [ValueError("bad"), SystemExit(3)])
def test_what_the_function_raises_is_raised_where_the_caller_waits(error):
    def fail():
        raise error
    running = InBackground(fail)
    with pytest.raises(type(error)):
        running.result()     # never a silent None: the store would keep a run without its document
