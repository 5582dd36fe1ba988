"""The console's runs on an event loop of their own thread.

A run of hundreds of SSH sessions puts thousands of callbacks a second on its event
loop. On the console's loop every key waited behind them (key p95 of 200-600 ms during
a 300-host lab scan on two cores). On a loop of its own thread the engine competes
with the console only for the interpreter lock, which a waiting thread gets back
within a switch interval; the engine's events reach the console through an inbox that
the console drains on its flush tick, so the widgets are only ever touched by the
console's own thread.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from patchtui.engine.events import Event

ResultT = TypeVar("ResultT")

STOP_TIME_LIMIT = 10.0
"""Seconds to wait for the engine thread to end once its run is over."""


class EventInbox:
    """Events from the engine's thread, taken by the console's thread.

    ``deque.append`` and ``popleft`` are atomic, so neither side ever waits for the other.
    """

    def __init__(self) -> None:
        self._events: collections.deque[Event] = collections.deque()

    def put(self, event: Event) -> None:
        self._events.append(event)

    def drain(self) -> list[Event]:
        """Every event put so far, oldest first."""
        taken: list[Event] = []
        take = self._events.popleft
        while self._events:
            taken.append(take())
        return taken


class EngineThread:
    """One daemon thread running one event loop, for one run."""

    def __init__(self, name: str = "patchtui-engine") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            try:
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
                self.loop.run_until_complete(self.loop.shutdown_default_executor())
            finally:
                self.loop.close()

    def run(self, coroutine: Coroutine[Any, Any, ResultT]) -> asyncio.Future[ResultT]:
        """Start ``coroutine`` on the engine's loop; the result is awaited on the caller's."""
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.loop))

    def call(self, action: Callable[[], object]) -> None:
        """Run ``action`` on the engine's loop, soon."""
        self.loop.call_soon_threadsafe(action)

    async def stop(self) -> None:
        """End the loop and its thread (whatever still runs there is abandoned)."""
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self._thread.join, STOP_TIME_LIMIT)
