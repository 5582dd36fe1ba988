"""Host-name ranges: ``web[01:20]``, ``db[a:c]``, ``node[1:9:2]``.

One bracketed range per name, Ansible style:

* numeric ``[start:end]`` or ``[start:end:step]``; a zero-padded start
  (``01``) keeps its width for every name, so ``web[01:03]`` gives
  ``web01 web02 web03`` and ``web[8:10]`` gives ``web8 web9 web10``;
* alphabetic ``[a:c]`` over single letters of the same case.

Pure functions; errors are ``ValueError`` with a message the loader wraps in an
``InventoryError`` that names the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RANGE = re.compile(r"\[([^\[\]]*)\]")

MAX_RANGE_NAMES = 10_000
"""Names one range may produce: ``web[0:99999999]`` is a typo, and would take gigabytes."""
_MAX_DIGITS = 12


@dataclass(frozen=True)
class RangeItem:
    """One name produced by a range, with the piece that varied."""

    name: str
    item: str
    """The range value as written into the name, padding kept: '01', 'b'."""
    number: int | None
    """The integer value for numeric ranges (1 for '01'); None for letters."""


def is_range(name: str) -> bool:
    """True if ``name`` contains a bracket, i.e. must go through ``expand_range``."""
    return "[" in name or "]" in name


def expand_range(name: str) -> list[RangeItem]:
    """Expand ``prefix[start:end(:step)]suffix`` into its names, in order.

    A name without brackets expands to itself (``item`` empty, ``number`` None).
    """
    if not is_range(name):
        return [RangeItem(name=name, item="", number=None)]
    matches = list(_RANGE.finditer(name))
    if not matches:
        raise ValueError(
            f"bad range in {name!r}: brackets do not pair up, expected e.g. web[01:03]"
        )
    if len(matches) > 1:
        raise ValueError(f"bad range in {name!r}: only one [start:end] range per name")
    match = matches[0]
    prefix, suffix = name[: match.start()], name[match.end() :]
    # Stray brackets outside the one pair ("web[1:2]]") are typos, not names.
    if is_range(prefix) or is_range(suffix):
        raise ValueError(
            f"bad range in {name!r}: brackets do not pair up, expected e.g. web[01:03]"
        )
    if not prefix and not suffix:
        raise ValueError(f"bad range in {name!r}: a range needs a name around it, e.g. web[01:03]")
    values = _range_values(name, match.group(1))
    return [
        RangeItem(name=f"{prefix}{item}{suffix}", item=item, number=number)
        for item, number in values
    ]


def _range_values(name: str, body: str) -> list[tuple[str, int | None]]:
    parts = [part.strip() for part in body.split(":")]
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(
            f"bad range in {name!r}: expected [start:end] or [start:end:step], got [{body}]"
        )
    start, end = parts[0], parts[1]
    step = _parse_step(name, parts[2]) if len(parts) == 3 else 1
    if start.isdecimal() and end.isdecimal():
        return _numeric(name, start, end, step)
    if len(start) == 1 and len(end) == 1 and start.isalpha() and end.isalpha():
        return _alphabetic(name, start, end, step)
    raise ValueError(
        f"bad range in {name!r}: [{body}] must be two numbers (01:20) or two letters (a:c)"
    )


def _parse_step(name: str, text: str) -> int:
    if not text.isdecimal() or len(text) > _MAX_DIGITS or int(text) < 1:
        raise ValueError(f"bad range in {name!r}: step {text!r} must be a positive integer")
    return int(text)


def _numeric(name: str, start: str, end: str, step: int) -> list[tuple[str, int | None]]:
    if max(len(start), len(end)) > _MAX_DIGITS:
        raise ValueError(f"bad range in {name!r}: numbers of more than {_MAX_DIGITS} digits")
    first, last = int(start), int(end)
    if first > last:
        raise ValueError(f"bad range in {name!r}: start {start} is after end {end}")
    _check_size(name, (last - first) // step + 1)
    # Padding is taken from the start, as Ansible does; a padded start with an
    # end of another width ("[01:100]") is ambiguous, so refuse it.
    padded = len(start) > 1 and start.startswith("0")
    if padded and len(end) != len(start):
        raise ValueError(
            f"bad range in {name!r}: zero-padded start {start!r} and end {end!r} "
            "must have the same width"
        )
    width = len(start) if padded else 0
    return [(str(number).zfill(width), number) for number in range(first, last + 1, step)]


def _alphabetic(name: str, start: str, end: str, step: int) -> list[tuple[str, int | None]]:
    if start.islower() != end.islower():
        raise ValueError(f"bad range in {name!r}: letters {start!r} and {end!r} differ in case")
    if start > end:
        raise ValueError(f"bad range in {name!r}: start {start!r} is after end {end!r}")
    return [(chr(code), None) for code in range(ord(start), ord(end) + 1, step)]


def _check_size(name: str, count: int) -> None:
    if count > MAX_RANGE_NAMES:
        raise ValueError(
            f"range {name!r} gives {count:,} hosts; at most {MAX_RANGE_NAMES:,} per range"
        )
