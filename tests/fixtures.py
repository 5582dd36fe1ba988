"""Captured command outputs under tests/data, each opening with a provenance header.

Every fixture starts with ``# `` lines saying where the output comes from; one of
them may record the command's exit status (``# Exit status: N`` or ``# exit: N``).
"""

from __future__ import annotations

import re
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
_EXIT = re.compile(r"# (?:Exit status|exit): *(-?\d+)")


def captured(relative: str) -> tuple[str, int | None]:
    """(the output without its header, the exit status the header records or None)."""
    lines = (DATA / relative).read_text(encoding="utf-8").splitlines(keepends=True)
    status: int | None = None
    while lines and lines[0].startswith("# "):
        if match := _EXIT.match(lines.pop(0)):
            status = int(match[1])
    return "".join(lines), status
