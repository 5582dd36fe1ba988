"""What every headless command does first: inventory, selection, store, connector, signals."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from patchtui import paths
from patchtui.config import load_config
from patchtui.headless.cmd_inventory import print_warnings
from patchtui.headless.pipe import on_broken_pipe
from patchtui.inventory.loader import load_inventory
from patchtui.inventory.model import Host, Inventory
from patchtui.inventory.patterns import select_hosts

if TYPE_CHECKING:
    from patchtui.store.db import Store
    from patchtui.transport.ssh import SshConnector

T = TypeVar("T")

DEFAULT_CONCURRENCY = 50
"""Hosts worked on at once: enough for a fleet, gentle on a laptop's CPU and a bastion."""


def configured_inventory(path: str | Path) -> Inventory:
    """The inventory at ``path``, hosts without a host-key policy taking config.toml's."""
    return load_inventory(path, default_host_key_policy=load_config().host_key_policy)


def selected_hosts(args: argparse.Namespace) -> tuple[Inventory, list[Host]]:
    inventory = configured_inventory(args.inventory)
    print_warnings(inventory)
    return inventory, select_hosts(inventory, args.limit)


def db_path(args: argparse.Namespace) -> Path:
    return Path(args.db) if getattr(args, "db", None) else paths.default_db_path()


def open_store(args: argparse.Namespace) -> Store:
    from patchtui.store.db import Store

    return Store.open(db_path(args))


def make_connector(args: argparse.Namespace) -> SshConnector:
    from patchtui.transport.ssh import SshConnector

    return SshConnector(concurrency=args.concurrency)


def run_interruptible(
    main: Callable[[], Awaitable[T]],
    on_interrupt: Callable[[], None],
    *,
    connector: SshConnector,
) -> T:
    """Run ``main`` with SIGINT/SIGTERM calling ``on_interrupt`` instead of raising.

    The job decides what an interrupt means (stop starting hosts, let running
    transactions finish); the caller learns of it from the job's outcome. A
    reader of stdout that goes away (``| head -1``) interrupts the same way.
    ``connector``'s sessions are closed at the end, inside the same event loop.
    """

    async def runner() -> T:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, on_interrupt)

        # The pipe breaks inside an event sink's write: interrupt from the loop, not
        # from inside the job's own emit call.
        def interrupt_soon() -> None:
            loop.call_soon(on_interrupt)

        unsubscribe = on_broken_pipe(interrupt_soon)
        try:
            return await main()
        finally:
            unsubscribe()
            await connector.close_all()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)

    return asyncio.run(runner())
