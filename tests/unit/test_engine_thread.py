"""The console's runs on a loop of their own thread: controls from the console's thread
reach the run's loop, and events come back through the inbox in order."""

from __future__ import annotations

import asyncio
import threading

from patchtui.engine.events import RunStarted
from patchtui.engine.hostwork import LoopBound
from patchtui.tui.engine_thread import EngineThread, EventInbox


class Waiter(LoopBound):
    """A run that waits on an asyncio.Event of its own loop until resumed."""

    def __init__(self) -> None:
        self.go = asyncio.Event()
        self.woken_on: threading.Thread | None = None

    async def run(self) -> str:
        self._bind_loop()
        await self.go.wait()
        return threading.current_thread().name

    def resume(self) -> None:
        self._on_loop(self._wake)

    def _wake(self) -> None:
        self.woken_on = threading.current_thread()
        self.go.set()


async def test_a_control_from_another_thread_runs_on_the_runs_loop() -> None:
    engine = EngineThread(name="engine-under-test")
    waiter = Waiter()
    try:
        future = engine.run(waiter.run())
        await asyncio.sleep(0.05)
        assert not future.done()  # it waits on its own loop; ours is free meanwhile
        waiter.resume()  # called on this (the console's) thread
        assert await asyncio.wait_for(future, 10) == "engine-under-test"
        assert waiter.woken_on is not None and waiter.woken_on.name == "engine-under-test"
    finally:
        await engine.stop()
    assert engine.loop.is_closed()


def test_a_control_before_the_run_starts_acts_at_once() -> None:
    waiter = Waiter()
    waiter.resume()  # no loop bound yet: nothing waits anywhere
    assert waiter.go.is_set() and waiter.woken_on is threading.current_thread()


def test_the_inbox_gives_events_back_in_order_once() -> None:
    inbox = EventInbox()
    events = [RunStarted(run_id=f"r{n}", operation="scan", hosts=(), options={}) for n in range(3)]
    writer = threading.Thread(target=lambda: [inbox.put(event) for event in events])
    writer.start()
    writer.join(10)
    assert inbox.drain() == events
    assert inbox.drain() == []
