"""Renderer tests build their reports from tests/support (synthetic fleet, through _report_model)."""
import os
import sys

SUPPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "support")
if SUPPORT not in sys.path:
    sys.path.insert(0, os.path.normpath(SUPPORT))
