"""Pieces every runner shares: the connector protocol, error classification, summaries."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar

from patchtui.drivers.base import DriverError, Facts
from patchtui.drivers.facts import collect_facts
from patchtui.engine.events import HostState, RunSummary
from patchtui.inventory.model import Host
from patchtui.transport.base import RemoteSession, TransportError

UNREACHABLE_KINDS = frozenset({"unreachable", "timeout", "disconnected"})


class Connector(Protocol):
    """Opens sessions to hosts and bounds how many are open at once."""

    async def connect(self, host: Host) -> RemoteSession: ...

    def slot(self) -> AbstractAsyncContextManager[object]: ...


TaskResultT = TypeVar("TaskResultT")


class LoopBound:
    """A run whose controls (cancel, pause, resume) may be called from another thread.

    The console runs jobs on an event loop of their own thread, so that a key never
    waits behind hundreds of SSH sessions' callbacks. A control sets its flags at once
    (the caller reads them back) and touches asyncio objects, which belong to the run's
    loop, only on that loop. ``run()`` calls ``_bind_loop()`` first.
    """

    _loop: asyncio.AbstractEventLoop | None = None

    def _bind_loop(self) -> None:
        self._loop = asyncio.get_running_loop()

    def _on_loop(self, action: Callable[[], object]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            action()  # not started, or over: no waiter to wake on another loop
            return
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is loop:
            action()
            return
        try:
            loop.call_soon_threadsafe(action)
        except RuntimeError:  # closed since the check above: nothing waits there any more
            action()


class HostTasks(LoopBound, Generic[TaskResultT]):
    """A run's one task per host, and whether it was cancelled: set ``_tasks`` in ``run()``."""

    def __init__(self) -> None:
        self._cancelled = False
        self._tasks: list[asyncio.Task[TaskResultT]] = []

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        """Start no more hosts and abandon the ones running (their channels close)."""
        self._cancelled = True
        self._on_loop(self._cancel_tasks)

    def _cancel_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()


async def close_quietly(session: RemoteSession) -> None:
    """Close within 5 s or give up: closing is best effort, and must not hang a run."""
    try:
        async with asyncio.timeout(5):
            await session.close()
    except (Exception, asyncio.CancelledError):
        pass


def new_run_id() -> str:
    """Sortable by time, unique across processes: 20261127T083000Z-1a2b3c."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:6]}"


def classify_error(error: BaseException) -> tuple[HostState, str, str]:
    """(final state, error kind, one-line message) for an exception from host work."""
    if isinstance(error, TransportError):
        state = HostState.UNREACHABLE if error.kind in UNREACHABLE_KINDS else HostState.FAILED
        return state, error.kind, error.message
    if isinstance(error, DriverError):
        if error.kind == "unknown":
            return HostState.UNREACHABLE, "disconnected", error.message
        return HostState.FAILED, error.kind, error.message
    if isinstance(error, TimeoutError):
        return HostState.UNREACHABLE, "timeout", "host did not finish within the time limit"
    # An unexpected error is a bug in patchtui, but one host must not sink the run.
    return HostState.FAILED, "error", f"{type(error).__name__}: {error}"


class _Finished(Protocol):
    state: HostState
    error_kind: str | None


def skip_reasons(outcomes: Iterable[_Finished]) -> dict[str, int]:
    """Skipped hosts per reason; a skip without a kind was a cancelled run."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        if outcome.state is HostState.SKIPPED:
            reason = outcome.error_kind or "cancelled"
            counts[reason] = counts.get(reason, 0) + 1
    return counts


async def host_facts(host: Host, session: RemoteSession) -> Facts:
    """The host's facts, its ``package_manager`` the one patchtui will use: the
    inventory's override where it has one (what reports and the store then show),
    else the one found on the host."""
    facts = await collect_facts(session)
    if host.package_manager and host.package_manager != facts.package_manager:
        return dataclasses.replace(facts, package_manager=host.package_manager)
    return facts


def summarize(
    states: Iterable[HostState],
    *,
    pending: int,
    security: int,
    reboot_required: int,
    stale: int,
    duration: float,
    scanned: int = 0,
    skipped_reasons: Mapping[str, int] | None = None,
) -> RunSummary:
    state_list = list(states)

    def count(state: HostState) -> int:
        return sum(1 for each in state_list if each == state)

    return RunSummary(
        hosts=len(state_list),
        ok=count(HostState.OK),
        failed=count(HostState.FAILED),
        unreachable=count(HostState.UNREACHABLE),
        interrupted=count(HostState.INTERRUPTED),
        skipped=count(HostState.SKIPPED),
        pending=pending,
        security=security,
        reboot_required=reboot_required,
        stale=stale,
        duration=round(duration, 3),
        scanned=scanned,
        skipped_reasons=dict(skipped_reasons or {}),
    )
