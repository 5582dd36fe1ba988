"""Scrollback: behaves as a deque(maxlen=N) of lines, but shows the collector few references."""

from __future__ import annotations

import gc
import random
import sys
from collections import deque

import pytest

from patchtui.engine.scrollback import BLOCK_LINES, Scrollback

AWKWARD = ["", " ", "é", "━━ 45%", "中文", "🙂", "tab\there", "two\nlines", "\udcff", "\x00"]
"""Endings a host's output can have: multi-byte UTF-8, a newline kept inside a line,
a lone surrogate (undecodable bytes decoded with surrogateescape), NUL."""


@pytest.mark.parametrize(
    "limit", [0, 1, 5, BLOCK_LINES - 1, BLOCK_LINES, BLOCK_LINES + 1, 3 * BLOCK_LINES + 7]
)
def test_keeps_what_a_bounded_deque_keeps(limit: int) -> None:
    rng = random.Random(limit)
    kept = Scrollback(limit)
    reference: deque[str] = deque(maxlen=limit)
    received = 0
    for step in range(12):
        # Batches of every size, so blocks seal and drop at every offset.
        batch = [
            f"line {received + index}{rng.choice(AWKWARD)}"
            for index in range(rng.randint(0, 2 * BLOCK_LINES))
        ]
        received += len(batch)
        if step % 2:
            kept.extend(batch)
        else:
            for line in batch:
                kept.append(line)
        reference.extend(batch)
        assert list(kept) == list(reference)
        assert len(kept) == len(reference)
        assert bool(kept) == bool(reference)
        assert kept.received == received
        for count in (0, 1, 3, BLOCK_LINES, BLOCK_LINES + 2, limit, limit + 1, received + 5):
            expected = list(reference)[-count:] if count else []
            assert kept.tail(count) == expected, (limit, step, count)


def test_starts_from_given_lines() -> None:
    kept = Scrollback(3, ["a", "b", "c", "d"])
    assert list(kept) == ["b", "c", "d"]
    assert kept.received == 4


def test_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        Scrollback(-1)


def _references_walked(root: object) -> int:
    """References the cycle collector follows from ``root`` through the tracked
    containers that hold its lines (not through its class and beyond)."""
    walked = 0
    seen: set[int] = set()
    pending = [root]
    while pending:
        container = pending.pop()
        if id(container) in seen:
            continue
        seen.add(id(container))
        referents = gc.get_referents(container)
        walked += len(referents)
        pending.extend(
            each
            for each in referents
            if gc.is_tracked(each) and isinstance(each, (Scrollback, deque, list, tuple))
        )
    return walked


def test_the_collector_walks_a_reference_per_block_not_per_line() -> None:
    lines = 20_000
    kept = Scrollback(lines, (f"line {index}" for index in range(lines)))
    as_deque = deque(kept, maxlen=lines)
    gc.collect()  # the collector stops tracking tuples of strings once it has seen them
    assert _references_walked(as_deque) >= lines
    assert _references_walked(kept) < lines // BLOCK_LINES + BLOCK_LINES + 10


def test_kept_lines_take_less_memory_than_string_objects() -> None:
    lines = [
        f"Get:{index} http://deb.debian.org/debian bookworm/main amd64 libfoo"
        for index in range(4096)
    ]
    kept = Scrollback(len(lines), lines)
    assert list(kept) == lines
    as_strings = sum(map(sys.getsizeof, lines))
    assert kept.nbytes() < 0.7 * as_strings


def test_hosts_printing_in_lockstep_seal_at_different_lines() -> None:
    """300 hosts printing the same output must not all seal on one line (a stall)."""
    fleet = [Scrollback(2_000) for _ in range(300)]
    first_seal: dict[int, int] = {}
    for line_no in range(BLOCK_LINES):
        for index, kept in enumerate(fleet):
            kept.append(f"line {line_no}")
            if index not in first_seal and kept._blocks:  # sealing is the behaviour tested
                first_seal[index] = line_no
    assert len(first_seal) == len(fleet)
    seals_per_line = max(list(first_seal.values()).count(line) for line in first_seal.values())
    assert seals_per_line <= 3
