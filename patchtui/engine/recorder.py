"""Hand store writes to one background thread so the event loop never waits on disk.

A store write re-serialises a JSON file and fsyncs it; on a big fleet that is
a noticeable pause, and in the console the event loop is also the UI's. The
recorder queues writes, in order, on a single worker thread (one writer, so
the store needs no thread-safety of its own) and lets the job await the
writes that must be durable before it reports (run start and finish, and
every host's result: ``commit_host``).

``commit_host`` is a group commit: hosts that finish while an fsync is under
way join the next one, so a fleet finishing together costs a few fsyncs, not
one per host, and no host waits longer than the commit under way plus its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from patchtui.store.db import HostRecord

if TYPE_CHECKING:
    from patchtui.store.db import Store


class Recorder:
    """Ordered, non-blocking access to a Store (or a no-op without one)."""

    def __init__(self, store: Store | None) -> None:
        self.store = store
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._pending: list[asyncio.Future[Any]] = []
        # Filled on the event loop, emptied by the worker thread when it commits them.
        self._group_lock = threading.Lock()
        self._group: list[tuple[str, HostRecord]] = []
        self._group_commit: asyncio.Future[Any] | None = None
        if store is not None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="patchtui-store"
            )

    @property
    def enabled(self) -> bool:
        return self.store is not None

    def _submit(self, call: Callable[[], Any]) -> asyncio.Future[Any] | None:
        if self._executor is None:
            return None
        future = asyncio.get_running_loop().run_in_executor(self._executor, call)
        self._pending.append(future)
        return future

    async def start_run(
        self, operation: str, hosts: Sequence[str], options: Mapping[str, object]
    ) -> str | None:
        store = self.store
        if store is None:
            return None
        future = self._submit(lambda: store.start_run(operation, hosts, options))
        assert future is not None
        return str(await future)

    async def commit_host(
        self,
        run_id: str,
        host: str,
        result: Mapping[str, object],
        *,
        hot: Mapping[str, object] | None = None,
        transcript: Sequence[str] = (),
    ) -> None:
        """Record one host's result (and host state, output) durably; report it after this."""
        if self.store is None:
            return
        record = HostRecord(host, dict(result), dict(hot) if hot is not None else None, transcript)
        with self._group_lock:
            self._group.append((run_id, record))
            commit = self._group_commit
            if commit is None:
                commit = self._submit(self._commit_group)
                self._group_commit = commit
        assert commit is not None
        # Shielded: a cancelled host task must not cancel the commit other hosts wait on.
        await asyncio.shield(commit)

    def _commit_group(self) -> None:
        """Worker thread: commit every host queued until now, one fsync per run."""
        with self._group_lock:
            group, self._group = self._group, []
            self._group_commit = None  # hosts queued from now on start the next group
        store = self.store
        assert store is not None
        by_run: dict[str, list[HostRecord]] = {}
        for run_id, record in group:
            by_run.setdefault(run_id, []).append(record)
        for run_id, records in by_run.items():
            store.commit_hosts(run_id, records)

    def update_hosts(self, updates: Mapping[str, Mapping[str, object]]) -> None:
        """Queue host state that nothing reports yet (a patch's scan): batched, not fsynced."""
        if self.store is not None:
            store = self.store
            self._submit(lambda: store.update_hosts(updates))

    async def finish_run(self, run_id: str, status: str, counts: Mapping[str, object]) -> None:
        """Durable when it returns; raises the first error any queued write hit."""
        if self.store is None:
            return
        store = self.store
        self._submit(lambda: store.finish_run(run_id, status, counts))
        try:
            await self.drain()
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=False)
                self._executor = None

    async def drain(self) -> None:
        """Wait for every queued write; raise the first error one of them hit."""
        pending, self._pending = self._pending, []
        results = await asyncio.gather(*pending, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
