"""Constants and helpers shared by the console tests (pytest puts this folder on sys.path)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from textual.pilot import Pilot

SIZE = (140, 40)
"""Terminal size for every Pilot test: wide enough for all columns, fixed for stable layout."""
FIXED_NOW = 1_790_000_000.0
"""The clock the console sees in offline tests, so relative ages are stable."""


async def wait_until(
    pilot: Pilot[int], predicate: Callable[[], bool], *, timeout: float = 30.0
) -> None:
    """Let the app run until ``predicate()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await pilot.pause(0.05)
    await asyncio.sleep(0)


async def say_yes(pilot: Pilot[int]) -> None:
    """Answer yes to the ConfirmScreen on top: ``y``, or the text a big or production
    change asks to be typed, then enter (as an operator does)."""
    screen = pilot.app.screen
    typed = getattr(screen, "typed", None)
    if typed is None:
        await pilot.press("y")
    else:
        await pilot.press(*typed, "enter")
