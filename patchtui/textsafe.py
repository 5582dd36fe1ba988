"""Make text from hosts safe to show: no terminal control sequences survive.

Host output is data, never instructions to the terminal: an escape sequence
in a package description must not recolour, move the cursor or retitle the
window of the operator's terminal.
"""

from __future__ import annotations

import re

# CSI (ESC [ ... final), OSC (ESC ] ... BEL/ST), other two-byte ESC sequences, and C1 CSI.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_control(text: str) -> str:
    """Remove escape sequences and control characters (tabs become spaces)."""
    text = _ANSI.sub("", text).replace("\t", "    ")
    return _CONTROL.sub(lambda match: "\ufffd" if match.group() != "\r" else "", text)
