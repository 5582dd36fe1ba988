"""The console application and its factory.

``make_app`` takes the services the console needs (inventory, the hosts to
show, a connector factory, an optional store and a clock) so the real console,
the demo and the tests build the same app from different parts.

Runs happen in a Textual async worker on the UI loop: the engine awaits the
network and never blocks the loop, and its events go to the bridge, which a
10 Hz timer drains into the widgets.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.theme import Theme
from textual.worker import Worker, WorkerState

from patchtui.engine.events import HostState, RunSummary
from patchtui.engine.hostwork import Connector
from patchtui.inventory.model import Host, Inventory
from patchtui.tui import themes
from patchtui.tui.bridge import EventBridge
from patchtui.tui.hostview import HostRow
from patchtui.tui.screens.hosts import HostsScreen
from patchtui.tui.storeview import ConsoleStore, host_records

if TYPE_CHECKING:
    from patchtui.engine.scan import ScanJob

FLUSH_INTERVAL = 0.1
"""Seconds between redraws from the bridge: fast enough to feel live, cheap on 1,000 hosts."""
RUN_STOP_TIMEOUT = 10.0
"""Seconds a cancelled run gets to record itself as interrupted when the console closes."""
AGE_INTERVAL = 5.0
"""Seconds between refreshes of the 'last scan' ages."""


class ClosableConnector(Connector, Protocol):
    """A Connector the console can shut down when a run ends (``SshConnector``)."""

    async def close_all(self) -> None: ...


ConnectorFactory = Callable[[], ClosableConnector]
"""Called once per run, on the UI loop, so connections belong to that loop."""


class PatchtuiApp(App[int]):
    """The patchtui console."""

    TITLE = "patchtui"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("q", "quit", "Quit", tooltip="Quit (a running scan is cancelled)"),
        Binding("h", "history", "History", tooltip="Past runs from the database"),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="All keys"),
    ]

    def __init__(
        self,
        *,
        inventory: Inventory,
        hosts: Sequence[Host],
        connector_factory: ConnectorFactory,
        store: ConsoleStore | None = None,
        clock: Callable[[], float] = time.time,
        refresh_metadata: bool = True,
        extra_theme_dirs: Iterable[Path] = (),
    ) -> None:
        super().__init__()
        self.inventory = inventory
        self.hosts_by_name = {host.name: host for host in hosts}
        self.rows: dict[str, HostRow] = {host.name: HostRow.from_host(host) for host in hosts}
        self.connector_factory = connector_factory
        self.store = store
        self.clock = clock
        self.refresh_metadata = refresh_metadata
        self.extra_theme_dirs = list(extra_theme_dirs)
        self.bridge = EventBridge()
        self.job: ScanJob | None = None
        self._run_task: asyncio.Task[RunSummary] | None = None
        self.theme_errors: list[str] = []
        self._load_store_state()

    @property
    def inventory_label(self) -> str:
        return f"{Path(self.inventory.source).name} · {len(self.rows)} hosts"

    # ------------------------------------------------------------ setup

    def get_default_screen(self) -> Screen[Any]:
        return HostsScreen()

    def on_mount(self) -> None:
        self._register_themes()
        self.sub_title = self.inventory_label
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self.set_interval(FLUSH_INTERVAL, self.flush_events, name="bridge-flush")
        self.set_interval(AGE_INTERVAL, self._refresh_ages, name="ages")
        for error in self.theme_errors:
            self.notify(error, title="Theme file skipped", severity="warning")

    def _register_themes(self) -> None:
        dirs = [*themes.theme_dirs(), *self.extra_theme_dirs]
        loaded, self.theme_errors = themes.load_themes(dirs)
        for theme in loaded:
            self.register_theme(theme)
        wanted = themes.saved_theme() or themes.DEFAULT_THEME
        if wanted in self.available_themes:
            self.theme = wanted

    def _theme_changed(self, theme: Theme) -> None:
        themes.save_theme(theme.name)
        hosts_screen = self.hosts_screen
        if hosts_screen is not None and hosts_screen.is_mounted:
            hosts_screen.refresh_all()

    def _load_store_state(self) -> None:
        if self.store is None:
            return
        # A StoreError here is the user's to fix (corrupt file): it reaches the CLI's one-liner.
        records = host_records(self.store)
        for name, record in records.items():
            row = self.rows.get(name)
            if row is not None:
                row.apply_store_record(record)

    @property
    def hosts_screen(self) -> HostsScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, HostsScreen):
                return screen
        return None

    # ------------------------------------------------------------ the bridge

    def flush_events(self) -> None:
        """Apply what the bridge recorded since the last tick to the rows and widgets."""
        dirty, run_dirty = self.bridge.take_dirty()
        if not dirty and not run_dirty:
            return
        for name in dirty:
            self._apply_live(name)
        hosts_screen = self.hosts_screen
        if hosts_screen is None or not hosts_screen.is_mounted:
            return
        with self.batch_update():
            hosts_screen.refresh_hosts(dirty)
            if run_dirty:
                hosts_screen.update_run_status(self.bridge.run)

    def _apply_live(self, name: str) -> None:
        row = self.rows.get(name)
        live = self.bridge.live.get(name)
        if row is None or live is None:
            return
        if live.state is not None:
            row.state = live.state
            row.detail = live.detail
        if live.scanned is not None:
            row.apply_scan(live.scanned.facts, live.scanned.scan)
        if live.finished is not None:
            row.error_kind, row.error = live.finished.error_kind, live.finished.error
            if live.finished.state is HostState.OK:
                row.last_scan = live.finished.at

    def _refresh_ages(self) -> None:
        hosts_screen = self.hosts_screen
        if hosts_screen is not None and hosts_screen.is_mounted:
            with self.batch_update():
                hosts_screen.refresh_all()

    # ------------------------------------------------------------ runs

    @property
    def running(self) -> bool:
        return self.job is not None

    def start_scan(self, names: Sequence[str]) -> bool:
        """Scan ``names`` in a worker; False (with a notice) if a run is in progress."""
        if self.running:
            self.notify("A run is in progress: cancel it with c first.", severity="warning")
            return False
        hosts = [self.hosts_by_name[name] for name in names if name in self.hosts_by_name]
        self.notify(f"Scanning {len(hosts)} host{'s' if len(hosts) != 1 else ''}…")
        self.run_scan(hosts)
        return True

    @work(exclusive=True, group="run", exit_on_error=False)
    async def run_scan(self, hosts: list[Host]) -> RunSummary:
        # Imported here so the console opens without loading every driver first.
        from patchtui.engine.scan import ScanJob

        connector = self.connector_factory()
        job = ScanJob(
            hosts,
            connector=connector,
            emit=self.bridge,
            store=self.store,  # type: ignore[arg-type]
            refresh=self.refresh_metadata,
            options={"from": "console"},
        )
        self.job = job
        # The job runs as its own task so that cancelling the worker (the app is
        # closing) becomes a job cancel: the job then finishes its bookkeeping and
        # records the run as interrupted instead of leaving it "running".
        task = self._run_task = asyncio.create_task(job.run())
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            job.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                async with asyncio.timeout(RUN_STOP_TIMEOUT):
                    await task
            raise
        finally:
            self.job = None
            self._run_task = None
            with contextlib.suppress(Exception):
                await connector.close_all()
            self.flush_events()

    def cancel_run(self) -> None:
        if self.job is None:
            self.notify("No run in progress.")
            return
        self.job.cancel()
        self.notify("Cancelling: hosts not yet started are skipped.", severity="warning")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "run":
            return
        if event.state is WorkerState.ERROR:
            self.notify(f"The run failed: {worker.error}", title="Error", severity="error")
        elif event.state is WorkerState.SUCCESS and isinstance(worker.result, RunSummary):
            summary = worker.result
            self.notify(
                f"{summary.ok}/{summary.hosts} ok · {summary.pending} pending "
                f"({summary.security} security)",
                title="Scan finished",
            )

    async def on_unmount(self) -> None:
        # However the app closes (quit, Ctrl+C, a test ending), a run still going is
        # cancelled and allowed to record itself before the caller closes the store.
        await self._stop_run()

    async def _stop_run(self) -> None:
        job, task = self.job, self._run_task
        if job is None or task is None:
            return
        job.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            async with asyncio.timeout(RUN_STOP_TIMEOUT):
                await asyncio.shield(task)

    async def action_quit(self) -> None:
        if self.job is not None:
            # Scans change nothing on the hosts, so stopping them is safe; waiting
            # lets the run be recorded as interrupted before the store closes.
            self.notify("Stopping the run…")
            await self._stop_run()
        self.exit(0)

    # ------------------------------------------------------------ other screens

    def open_details(self, host: str) -> None:
        from patchtui.tui.screens.detail import HostDetailScreen

        row = self.rows.get(host)
        if row is not None:
            self.push_screen(HostDetailScreen(row, now=self.clock()))

    def action_history(self) -> None:
        from patchtui.tui.screens.history import HistoryScreen

        if self.store is None:
            self.notify("No database is open, so there is no history.", severity="warning")
            return
        if not isinstance(self.screen, HistoryScreen):
            self.push_screen(HistoryScreen(self.store))

    def action_help(self) -> None:
        from patchtui.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Scan", "Scan the selected hosts (all shown if none)", self._scan_cmd)
        yield SystemCommand("Cancel run", "Cancel the running scan", self.cancel_run)
        yield SystemCommand("History", "Past runs from the database", self.action_history)
        yield SystemCommand("Keys", "Show every key binding", self.action_help)

    def _scan_cmd(self) -> None:
        hosts_screen = self.hosts_screen
        if hosts_screen is not None:
            hosts_screen.action_scan()


def make_app(
    *,
    inventory: Inventory,
    hosts: Sequence[Host],
    connector_factory: ConnectorFactory,
    store: ConsoleStore | None = None,
    clock: Callable[[], float] = time.time,
    refresh_metadata: bool = True,
) -> PatchtuiApp:
    """Build the console from its services (posting's ``make_posting`` pattern)."""
    return PatchtuiApp(
        inventory=inventory,
        hosts=hosts,
        connector_factory=connector_factory,
        store=store,
        clock=clock,
        refresh_metadata=refresh_metadata,
    )
