"""The renderers' text cleaning (_render/common): the fast paths for plain ASCII text and the memo
of escaped texts give exactly what the control-character pattern and html.escape give."""
import html

import hypothesis
import hypothesis.strategies as st
from ansible_collections.fleetpatch.patching.plugins.plugin_utils._render import common

# Every character the pattern treats specially, and some it does not.
EDGE = [chr(c) for c in range(0, 0xA2)] + ["\u061c", "\u200e", "\u202e", "\u2066", "\ud800", "\ufffe", "\uffff", "\u00e9"]


def _clean(value, none=""):
    return none if value is None else common._CONTROL.sub("", value if isinstance(value, str) else str(value))


def _one_line(value, none=""):
    return common._LINE_BREAKS.sub(" ", _clean(value, none)).strip()


def _escaped(value, none=""):
    return html.escape(_clean(value, none), quote=True)


def test_every_single_character():
    for char in EDGE:
        for text in (char, "a%sb" % char, " %s " % char):
            assert common.clean(text) == _clean(text)
            assert common.one_line(text) == _one_line(text)
            assert common.html_text(text) == _escaped(text)


@hypothesis.given(st.text(alphabet=st.sampled_from(EDGE + ["&", "<", ">", '"', "'", "x"]), max_size=12))
def test_same_as_the_pattern(text):
    assert common.clean(text) == _clean(text)
    assert common.one_line(text) == _one_line(text)
    assert common.html_text(text) == _escaped(text)
    assert common.html_text(text) == _escaped(text)        # again, from the memo


def test_other_values_and_none():
    for value in (None, 0, 1, True, False, 1.5, ["a\x01"], {"k": "\u202ev"}):
        assert common.clean(value, "-") == _clean(value, "-")
        assert common.one_line(value, "-") == _one_line(value, "-")
        assert common.html_text(value, "-") == _escaped(value, "-")


def test_memo_is_bounded():
    for number in range(common.MEMO_TEXTS + 10):
        common.html_text("value %d <" % number)
    assert len(common._ESCAPED) <= common.MEMO_TEXTS
    long_text = "x" * (common.MEMO_CHARS + 1) + "&"
    assert common.html_text(long_text) == _escaped(long_text)
    assert long_text not in common._ESCAPED
