"""``--wait-for-window`` on the lab over real SSH, with a frozen clock that only the
injected sleep moves: a host outside its window waits (saying until when) and is then
patched; it holds no connection slot meanwhile; Ctrl+C (cancel) ends the wait."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from test_baseline_promotion import FAST, Lab, controlled_fleet, quick_lab  # noqa: F401 (fixture)

from patchtui.engine.events import Event, HostFinished, HostWaitingForWindow
from patchtui.engine.patch import PatchJob, PatchOptions
from patchtui.inventory.loader import load_inventory
from patchtui.inventory.model import Host
from patchtui.inventory.patterns import select_hosts
from patchtui.lab.server import LabServer
from patchtui.transport.ssh import SshConnector

# Saturday 2024-06-08 23:30 UTC = Sunday 01:30 in Berlin: half an hour before the window.
FROZEN = dt.datetime(2024, 6, 8, 23, 30, tzinfo=dt.UTC)
BERLIN = "Sun 02:00-04:00 Europe/Berlin"


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[Lab]:
    """The staging/prod lab of test_baseline_promotion (two controlled packages)."""
    server = LabServer(controlled_fleet())
    await server.start()
    inventory = load_inventory(server.write_inventory(tmp_path / "lab" / "inventory.yaml"))
    yield Lab(server, inventory, tmp_path / "db.json")
    await server.stop()


class FakeTime:
    """A clock frozen at ``now`` that only ``sleep`` moves (never the real clock)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.slept: list[float] = []

    def clock(self) -> dt.datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += dt.timedelta(seconds=seconds)
        await asyncio.sleep(0)


def windowed(lab: Lab, name: str, window: str = BERLIN) -> Host:
    host = select_hosts(lab.inventory, name)[0]
    return dataclasses.replace(host, vars={**host.vars, "maintenance_window": window})


async def run_job(
    hosts: list[Host],
    options: PatchOptions,
    *,
    concurrency: int = 5,
    on_event: Callable[[PatchJob, Event], None] | None = None,
) -> tuple[PatchJob, list[Event]]:
    events: list[Event] = []
    connector = SshConnector(concurrency=concurrency, use_agent=False)

    def emit(event: Event) -> None:
        events.append(event)
        if on_event is not None:
            on_event(job, event)

    job = PatchJob(hosts, connector=connector, emit=emit, options=options)
    try:
        await asyncio.wait_for(job.run(), timeout=120)
    finally:
        await connector.close_all()
    return job, events


async def test_a_host_outside_its_window_waits_then_is_patched(lab: Lab) -> None:
    fake = FakeTime(FROZEN)
    options = dataclasses.replace(FAST, wait_for_window=True, clock=fake.clock, sleep=fake.sleep)
    _, events = await run_job([windowed(lab, "deb-p1")], options)
    (waiting,) = [e for e in events if isinstance(e, HostWaitingForWindow)]
    assert waiting.host == "deb-p1"
    assert waiting.opens_text == "Sun 2024-06-09 02:00 Europe/Berlin (00:00 UTC)"
    assert waiting.opens == dt.datetime(2024, 6, 9, 0, 0, tzinfo=dt.UTC).timestamp()
    assert waiting.detail.startswith("waiting for its maintenance window: opens Sun")
    # It waited exactly until the window opened: 30 minutes of (fake) time, in steps.
    assert sum(fake.slept) == 1800 and max(fake.slept) <= 1.0
    (finished,) = [e for e in events if isinstance(e, HostFinished)]
    assert events.index(waiting) < events.index(finished)
    assert finished.result == "ok", finished
    assert lab.versions("deb-p1") == {"tool": "1.1-1", "libfoo": "2.1-1"}


async def test_without_the_flag_the_host_is_skipped_and_nothing_sleeps(lab: Lab) -> None:
    fake = FakeTime(FROZEN)
    options = dataclasses.replace(FAST, clock=fake.clock, sleep=fake.sleep)
    _, events = await run_job([windowed(lab, "deb-p1")], options)
    (finished,) = [e for e in events if isinstance(e, HostFinished)]
    assert finished.result == "skipped" and finished.error_kind == "outside-window"
    assert fake.slept == [] and not any(isinstance(e, HostWaitingForWindow) for e in events)
    assert lab.versions("deb-p1")["tool"] == "1.0-1"


async def test_a_waiting_host_holds_no_slot(lab: Lab) -> None:
    """One connection slot: the host in its window is patched while the other waits
    (the wait only ends once it has finished, so a held slot would never end)."""
    other_done = asyncio.Event()
    fake = FakeTime(FROZEN)

    async def sleep(seconds: float) -> None:
        await asyncio.wait_for(other_done.wait(), timeout=60)
        await fake.sleep(seconds)

    def on_event(job: PatchJob, event: Event) -> None:
        if isinstance(event, HostFinished) and event.host == "deb-p2":
            other_done.set()

    options = dataclasses.replace(FAST, wait_for_window=True, clock=fake.clock, sleep=sleep)
    _, events = await run_job(
        [windowed(lab, "deb-p1"), select_hosts(lab.inventory, "deb-p2")[0]],
        options,
        concurrency=1,
        on_event=on_event,
    )
    order = [e.host for e in events if isinstance(e, HostFinished)]
    assert order == ["deb-p2", "deb-p1"]
    assert {e.host: e.result for e in events if isinstance(e, HostFinished)} == {
        "deb-p2": "ok",
        "deb-p1": "ok",
    }


async def test_cancel_ends_the_wait_and_the_host_is_not_touched(lab: Lab) -> None:
    fake = FakeTime(FROZEN)

    def on_event(job: PatchJob, event: Event) -> None:
        if isinstance(event, HostWaitingForWindow):
            job.cancel()  # what Ctrl+C does

    options = dataclasses.replace(FAST, wait_for_window=True, clock=fake.clock, sleep=fake.sleep)
    _, events = await run_job([windowed(lab, "deb-p1")], options, on_event=on_event)
    (finished,) = [e for e in events if isinstance(e, HostFinished)]
    assert finished.result == "skipped" and finished.error_kind == "cancelled"
    assert fake.slept == []
    assert lab.versions("deb-p1")["tool"] == "1.0-1"


async def test_a_clock_that_never_moves_cannot_keep_the_run_waiting(lab: Lab) -> None:
    """The wait is bounded by its own length in steps: then the host is judged as
    without the flag (skipped, outside its window), and the run ends."""
    steps: list[float] = []

    async def stuck(seconds: float) -> None:
        steps.append(seconds)
        await asyncio.sleep(0)

    options = dataclasses.replace(FAST, wait_for_window=True, clock=lambda: FROZEN, sleep=stuck)
    _, events = await run_job([windowed(lab, "deb-p1")], options)
    (finished,) = [e for e in events if isinstance(e, HostFinished)]
    assert finished.result == "skipped" and finished.error_kind == "outside-window"
    assert len(steps) == 1800 + 2
