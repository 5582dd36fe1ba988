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


MAX_LINE_CHARS = 1000
"""A message line quotes what it refuses; a 50,000-character value need not be shown whole."""


def one_line(message: str, limit: int = MAX_LINE_CHARS) -> str:
    """``message`` as one safe line: no newline, no terminal control sequence, bounded length.

    Errors and warnings quote user input (a host name from an ssh config, a
    YAML value), so they get the same treatment as host output.
    """
    text = " ".join(strip_control(message).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
