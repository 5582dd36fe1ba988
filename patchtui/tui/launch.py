"""Start the console from the command line: ``patchtui -i INVENTORY`` and ``patchtui demo``.

User errors (bad inventory, pattern, database) raise ``PatchtuiError`` before
the screen is taken over, so ``patchtui.cli`` can print them as one line.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from patchtui.errors import ConfigError
from patchtui.exit_codes import ExitCode

if TYPE_CHECKING:
    from patchtui.inventory.model import Host, Inventory
    from patchtui.lab.server import LabServer
    from patchtui.store.db import Store
    from patchtui.tui.app import ConnectorFactory

T = TypeVar("T")

LAB_START_TIMEOUT = 120.0
"""Seconds to wait for the demo lab to bind its ports (thousands of hosts take a while)."""
LAB_STOP_TIMEOUT = 15.0


def _connector_factory(concurrency: int) -> ConnectorFactory:
    def make(become_password: str | None = None) -> Any:
        from patchtui.transport.ssh import SshConnector

        # The password lives in this connector only, for one run.
        return SshConnector(concurrency=concurrency, become_password=become_password)

    return make


def _load(inventory_path: Path, limit: str | None) -> tuple[Inventory, list[Host]]:
    from patchtui.headless.common import configured_inventory
    from patchtui.inventory.patterns import select_hosts

    inventory = configured_inventory(inventory_path)
    return inventory, select_hosts(inventory, limit)


def _open_console(
    inventory: Inventory, hosts: list[Host], args: argparse.Namespace, store: Store
) -> int:
    from patchtui.config import load_config
    from patchtui.textsafe import strip_control
    from patchtui.tui.app import exit_line, make_app
    from patchtui.tui.collector import tune_gc_for_console

    config = load_config()
    app = make_app(
        inventory=inventory,
        hosts=hosts,
        connector_factory=_connector_factory(args.concurrency),
        store=store,
        default_theme=config.theme,
        typed_confirm_above=config.typed_confirm_limit,
        notify=config.notify,
    )
    app.collector = tune_gc_for_console()
    result = app.run()
    # After the console has given the terminal back: what the last run did, in one line.
    if (line := exit_line(app.bridge.run)) is not None:
        sys.stderr.write(strip_control(line) + "\n")
    return int(result) if isinstance(result, int) else int(ExitCode.OK)


def run_console(args: argparse.Namespace) -> int:
    """The console on ``args.inventory`` (hosts narrowed by ``args.limit``)."""
    from patchtui.headless.common import open_store

    # Inventory first: a broken one must fail before the database is opened or locked.
    inventory, hosts = _load(Path(args.inventory), getattr(args, "limit", None))
    store = open_store(args)
    try:
        return _open_console(inventory, hosts, args, store)
    finally:
        store.close()


class LabThread:
    """The demo lab on its own thread and event loop.

    The simulated hosts burn CPU answering commands; on the UI's loop that
    would stutter the screen, so they get a loop of their own.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, name="patchtui-lab", daemon=True)
        self.lab: LabServer | None = None

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def start(self, *, hosts: int, seed: int, faults: str, inventory_path: Path) -> LabServer:
        from patchtui.lab.runner import start_lab

        self.thread.start()
        try:
            self.lab = self._call(
                start_lab(hosts, seed=seed, faults=faults, inventory_path=inventory_path),
                LAB_START_TIMEOUT,
            )
        except TimeoutError:
            self.stop()
            raise ConfigError("the demo lab did not start in time") from None
        except BaseException:
            self.stop()
            raise
        return self.lab

    def stop(self) -> None:
        try:
            if self.lab is not None:
                self._call(self.lab.stop(), LAB_STOP_TIMEOUT)
                self.lab = None
        except TimeoutError:
            pass  # the daemon thread dies with the process anyway
        finally:
            if self.thread.is_alive():
                self.loop.call_soon_threadsafe(self.loop.stop)
                self.thread.join(LAB_STOP_TIMEOUT)
            if not self.loop.is_running():
                self.loop.close()


def run_demo(args: argparse.Namespace) -> int:
    """The console on a fresh simulated fleet; the lab stops when the console closes."""
    from patchtui.store.db import Store

    with tempfile.TemporaryDirectory(prefix="patchtui-demo-") as scratch:
        directory = Path(scratch)
        inventory_path = directory / "inventory.yaml"
        # The demo never touches the user's real database unless --db asks for it.
        db_path = Path(args.db) if getattr(args, "db", None) else directory / "demo.json"
        lab_thread = LabThread()
        lab_thread.start(
            hosts=args.hosts, seed=args.seed, faults=args.faults, inventory_path=inventory_path
        )
        try:
            inventory, hosts = _load(inventory_path, None)
            store = Store.open(db_path, command="patchtui demo")
            try:
                return _open_console(inventory, hosts, args, store)
            finally:
                store.close()
        finally:
            lab_thread.stop()
