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
import inspect
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.theme import Theme
from textual.worker import Worker, WorkerState

from patchtui.config import TYPED_CONFIRM_ABOVE
from patchtui.engine.events import EventSink, HostFinished, HostState, RunSummary
from patchtui.engine.hostwork import Connector
from patchtui.engine.notify import Notifier, NotifySettings, failure_warnings
from patchtui.engine.outcome import (
    COMPLETED,
    DRY_RUN,
    INTERRUPTED,
    describe_outcome,
    not_ok_count,
    pending_text,
    skipped_text,
)
from patchtui.engine.patch import PatchJob, PatchOptions
from patchtui.engine.rollback import RollbackJob
from patchtui.exit_codes import ExitCode
from patchtui.inventory.model import Host, Inventory
from patchtui.tui import themes
from patchtui.tui.bridge import EventBridge, HostLive, RunProgress
from patchtui.tui.collector import CHECK_SECONDS, IdleCollector
from patchtui.tui.engine_thread import EngineThread, EventInbox
from patchtui.tui.hostview import HostRow
from patchtui.tui.screens.hosts import HostsScreen
from patchtui.tui.screens.patch_modal import PatchForm
from patchtui.tui.storeview import ConsoleStore, host_records
from patchtui.tui.textual_cycles import break_textual_cycles
from patchtui.tui.widgets.progress import progress_text

FLUSH_INTERVAL = 0.1
"""Seconds between redraws from the bridge: fast enough to feel live, cheap on 1,000 hosts."""
RUN_STOP_TIMEOUT = 10.0
RUN_START_WAIT = 5.0
"""Seconds a question about the running job waits for its first events (they come from
the engine's thread on the flush tick) before it asks without them."""
"""Seconds a cancelled run gets to record itself as interrupted when the console closes."""
AGE_INTERVAL = 5.0
"""Seconds between refreshes of the 'last scan' ages."""
ELAPSED_INTERVAL = 1.0
"""Seconds between ticks of a running run's elapsed time."""
HOST_OUTPUT_SCREEN = "host-output"
SPLIT_OUTPUT_SCREEN = "split-output"
"""Names of the output screens, installed on first use and kept (see screens/output.py)."""

KeptScreen = TypeVar("KeptScreen", bound=Screen[Any])


class ClosableConnector(Connector, Protocol):
    """A Connector the console can shut down when a run ends (``SshConnector``)."""

    async def close_all(self) -> None: ...


ConnectorFactory = Callable[..., ClosableConnector]
"""Called once per run, on the UI loop, so connections belong to that loop.

Called with no arguments, or with ``become_password=`` when the operator typed a
sudo password for the run (``SshConnector`` takes it; it lives as long as that
connector, which the console drops when the run ends).
"""


class RunnableJob(Protocol):
    """What the console needs of a run: ScanJob, PatchJob, RollbackJob, AdhocJob."""

    run_id: str
    emit: EventSink

    @property
    def operation(self) -> str: ...

    async def run(self) -> RunSummary: ...

    def cancel(self) -> None: ...


JobBuilder = Callable[[ClosableConnector], RunnableJob]


async def _run_then_close(job: RunnableJob, connector: ClosableConnector) -> RunSummary:
    """The run, then its sessions closed, on the engine's loop (they belong to it)."""
    try:
        return await job.run()
    finally:
        with contextlib.suppress(Exception):
            await connector.close_all()


def _stop_waiting(job: RunnableJob) -> None:
    """Cancel a run for good (the console is closing): for patch runs both steps at once.

    A patch run's installs are detached jobs on the hosts: they finish there, and
    their hosts are recorded as interrupted rather than kept waiting for.
    """
    job.cancel()
    if isinstance(job, PatchJob):
        job.cancel()


class PatchtuiApp(App[int]):
    """The patchtui console."""

    TITLE = "patchtui"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("q", "quit", "Quit", tooltip="Quit (a running scan is cancelled)"),
        Binding("h", "history", "History", tooltip="Past runs from the database (b: roll back)"),
        Binding("C", "compliance", "Compliance", tooltip="Compliance with the policy; export"),
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
        monotonic: Callable[[], float] = time.monotonic,
        refresh_metadata: bool = True,
        extra_theme_dirs: Iterable[Path] = (),
        run_defaults: PatchOptions | None = None,
        default_theme: str | None = None,
        typed_confirm_above: int = TYPED_CONFIRM_ABOVE,
        notify: NotifySettings | None = None,
    ) -> None:
        break_textual_cycles()  # what Textual drops is freed at once, not by the collector
        super().__init__()
        self.collector: IdleCollector | None = None
        """Runs full garbage collections while nobody types (launch sets it before run())."""
        self.default_theme = default_theme
        self.typed_confirm_above = typed_confirm_above
        self.last_patch_form: PatchForm | None = None
        """The patch form as last submitted: the next one opens with it."""
        """A patch or reboot of more hosts than this (or any env=prod) is confirmed by typing."""
        """config.toml's theme: used until the user picks one (which is remembered)."""
        self.inventory = inventory
        self.hosts_by_name = {host.name: host for host in hosts}
        self.rows: dict[str, HostRow] = {host.name: HostRow.from_host(host) for host in hosts}
        self.connector_factory = connector_factory
        self.store = store
        self.clock = clock
        self.refresh_metadata = refresh_metadata
        self.extra_theme_dirs = list(extra_theme_dirs)
        self.notify_settings = notify
        """config.toml's [notify]: the console's runs alert like the headless ones."""
        self.run_defaults = run_defaults or PatchOptions()
        """Options the patch form does not show (time limits, poll interval); tests shorten them."""
        self.bridge = EventBridge(clock=monotonic, wall_clock=clock)
        self.job: RunnableJob | None = None
        self._pending_run: tuple[JobBuilder, str | None] | None = None
        self._run_future: asyncio.Future[RunSummary] | None = None
        self._engine: EngineThread | None = None
        self._inbox = EventInbox()
        """The running job's events, put by its thread, applied by flush_events."""
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
        self.set_interval(ELAPSED_INTERVAL, self._tick_elapsed, name="elapsed")
        if self.collector is not None:  # the real console's; tests run without one
            self.set_interval(CHECK_SECONDS, self._tick_collector, name="idle-gc")
        for error in self.theme_errors:
            self.notify(error, title="Theme file skipped", severity="warning")

    def _tick_collector(self) -> None:
        if self.collector is not None:
            self.collector.tick()

    async def on_event(self, event: events.Event) -> None:
        # Keys and the mouse mean someone is there: no full collection for a while.
        if self.collector is not None and isinstance(event, (events.Key, events.MouseEvent)):
            self.collector.note_input()
        await super().on_event(event)

    def _register_themes(self) -> None:
        dirs = [*themes.theme_dirs(), *self.extra_theme_dirs]
        loaded, self.theme_errors = themes.load_themes(dirs)
        for theme in loaded:
            self.register_theme(theme)
        if self.default_theme and self.default_theme not in self.available_themes:
            self.theme_errors.append(f"config.toml names an unknown theme {self.default_theme!r}")
        wanted = themes.saved_theme() or self.default_theme or themes.DEFAULT_THEME
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
        for event in self._inbox.drain():
            self.bridge(event)
        dirty, run_dirty = self.bridge.take_dirty()
        output_dirty = self.bridge.take_output_dirty()
        if not dirty and not run_dirty and not output_dirty:
            return
        for name in dirty:
            self._apply_live(name)
        hosts_screen = self.hosts_screen
        # While the app shuts down its widgets are removed under a still-ticking timer:
        # a redraw then would look up widgets already gone (NoMatches at exit).
        if hosts_screen is None or not hosts_screen.is_mounted or not self.is_running:
            return
        with self.batch_update():
            if dirty:
                hosts_screen.refresh_hosts(dirty)
            hosts_screen.refresh_output(output_dirty - dirty)  # refresh_hosts did the rest
            if run_dirty:
                hosts_screen.update_run_status(self.bridge.run)

    def _apply_live(self, name: str) -> None:
        row = self.rows.get(name)
        live = self.bridge.live.get(name)
        if row is None or live is None:
            return
        if live.keeps_state is not None:
            self._apply_transient(row, live)
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

    @staticmethod
    def _apply_transient(row: HostRow, live: HostLive) -> None:
        """A dry run or an ad-hoc command shows what it is doing, then leaves the row's
        state as it was: a dry run changed nothing, and a command's result has its own
        column. A dry run's scan is a true reading and is kept."""
        if live.scanned is not None:
            row.apply_scan(live.scanned.facts, live.scanned.scan)
        if row.resting is None:
            row.resting = (row.state, row.detail)
        if live.state is None or not live.state.is_final:
            if live.state is not None:
                row.state, row.detail = live.state, live.detail
            return
        row.state, row.detail = row.resting
        row.resting = None
        finished = live.finished
        if finished is None:
            return
        if live.keeps_state == "command":
            row.command = command_marker(finished)
            row.detail = f"command: {row.command}"
        else:
            planned = finished.result or finished.state.value
            row.detail = f"dry run: {planned}" + (f" ({finished.error})" if finished.error else "")

    def _refresh_ages(self) -> None:
        hosts_screen = self.hosts_screen
        if hosts_screen is not None and hosts_screen.is_mounted and self.is_running:
            with self.batch_update():
                hosts_screen.refresh_all()

    # ------------------------------------------------------------ runs

    @property
    def running(self) -> bool:
        return self.job is not None or self._pending_run is not None

    def _refuse_if_running(self) -> bool:
        if self.running:
            self.notify("A run is in progress: cancel it with c first.", severity="warning")
            return True
        return False

    def _hosts(self, names: Iterable[str]) -> list[Host]:
        return [self.hosts_by_name[name] for name in names if name in self.hosts_by_name]

    def start_scan(self, names: Sequence[str]) -> bool:
        """Scan ``names`` in a worker; False (with a notice) if a run is in progress."""
        if self._refuse_if_running():
            return False
        hosts = self._hosts(names)
        self.notify(f"Scanning {len(hosts)} host{'s' if len(hosts) != 1 else ''}…")

        def build(connector: ClosableConnector) -> RunnableJob:
            from patchtui.engine.scan import ScanJob

            return ScanJob(
                hosts,
                connector=connector,
                emit=self.bridge,
                store=self.store,  # type: ignore[arg-type]
                refresh=self.refresh_metadata,
                options={"from": "console"},
            )

        self._start(build)
        return True

    def start_patch(
        self,
        names: Sequence[str],
        options: PatchOptions,
        *,
        become_password: str | None = None,
    ) -> bool:
        """Patch ``names`` with ``options`` (no questions asked: the flows ask first)."""
        if self._refuse_if_running():
            return False
        hosts = self._hosts(names)

        def build(connector: ClosableConnector) -> RunnableJob:
            return PatchJob(
                hosts,
                connector=connector,
                emit=self.bridge,
                options=options,
                store=self.store,  # type: ignore[arg-type]
                extra_options={"from": "console"},
            )

        self._start(build, become_password)
        return True

    def start_rollback(
        self,
        source_run: str,
        changes: Mapping[str, Sequence[Mapping[str, object]]],
        *,
        become_password: str | None = None,
    ) -> bool:
        """Put back the versions ``source_run`` recorded, on the hosts it changed."""
        if self._refuse_if_running():
            return False
        hosts = self._hosts(changes)

        def build(connector: ClosableConnector) -> RunnableJob:
            return RollbackJob(
                hosts,
                source_run=source_run,
                changes_by_host=changes,
                connector=connector,
                emit=self.bridge,
                options=self.run_defaults,
                store=self.store,  # type: ignore[arg-type]
            )

        self._start(build, become_password)
        return True

    def start_command(self, names: Sequence[str], command: str, *, privileged: bool) -> bool:
        """Run an ad-hoc shell command on ``names`` (``patchtui run`` in the console)."""
        if self._refuse_if_running():
            return False
        hosts = self._hosts(names)

        def build(connector: ClosableConnector) -> RunnableJob:
            from patchtui.engine.adhoc import AdhocJob

            return AdhocJob(
                hosts,
                command=command,
                connector=connector,
                emit=self.bridge,
                store=self.store,  # type: ignore[arg-type]
                privileged=privileged,
                options={"command": command, "privileged": privileged, "from": "console"},
            )

        self._start(build)
        return True

    def _start(self, build: JobBuilder, become_password: str | None = None) -> None:
        # Handed to the worker through an attribute it empties at once, not as a worker
        # argument: Textual keeps a finished worker's arguments, and the password must
        # not outlive the run's connector.
        self._pending_run = (build, become_password)
        self.run_job()

    def _connector(self, become_password: str | None) -> ClosableConnector:
        if become_password is None:
            return self.connector_factory()
        return self.connector_factory(become_password=become_password)

    @property
    def connector_takes_password(self) -> bool:
        """Can this console's connector factory pass a sudo password on (``become_password=``)?"""
        try:
            parameters = inspect.signature(self.connector_factory).parameters
        except (TypeError, ValueError):
            return False
        return "become_password" in parameters or any(
            each.kind is inspect.Parameter.VAR_KEYWORD for each in parameters.values()
        )

    @work(exclusive=True, group="run", exit_on_error=False)
    async def run_job(self) -> RunSummary:
        pending, self._pending_run = self._pending_run, None
        if pending is None:
            raise RuntimeError("no run was prepared")
        build, password = pending
        pending = None
        connector = self._connector(password)
        password = None  # the connector holds the only copy, for this run only
        try:
            job = build(connector)
        except BaseException:
            await connector.close_all()
            raise
        self.job = job
        # The job runs on a loop of its own thread (engine_thread.py): its events wait
        # in the inbox for the flush tick, which applies them on this thread.
        job.emit = self._inbox.put
        notifier = None
        if self.notify_settings is not None and self.notify_settings.targets:
            notifier = Notifier(self.notify_settings)
            job.emit = notifier.sink(job.emit)
        self.bridge.expect_run(
            max_failures=job.plan.max_failures if isinstance(job, PatchJob) else None
        )
        engine = self._engine = EngineThread()
        # The run is shielded so that cancelling the worker (the app is closing) becomes
        # a job cancel: the job then finishes its bookkeeping and records the run as
        # interrupted instead of leaving it "running".
        future = self._run_future = engine.run(_run_then_close(job, connector))
        try:
            summary = await asyncio.shield(future)
        except asyncio.CancelledError:
            _stop_waiting(job)
            with contextlib.suppress(Exception, asyncio.CancelledError):
                async with asyncio.timeout(RUN_STOP_TIMEOUT):
                    await asyncio.shield(future)
            raise
        finally:
            self.job = None
            self._run_future = None
            self._engine = None
            await engine.stop()
            del connector
            self.flush_events()
        if notifier is not None:
            await self._finish_notifications(notifier, job.run_id)
        return summary

    async def _finish_notifications(self, notifier: Notifier, run_id: str) -> None:
        """Wait (bounded, off the UI loop) for the run's alerts; record them with the run;
        a failed one is a warning toast, never a failed run."""
        deliveries = await asyncio.to_thread(notifier.finish)
        annotate = getattr(self.store, "annotate_run", None)
        if deliveries and annotate is not None:
            from patchtui.engine.notify import deliveries_json

            try:
                await asyncio.to_thread(annotate, run_id, {"notify": deliveries_json(deliveries)})
            except Exception as error:
                self.notify(f"Alerts not recorded with run {run_id}: {error}", severity="warning")
        for line in failure_warnings(deliveries):
            self.notify(line.removeprefix("warning: "), severity="warning", timeout=10)

    def _set_control(self, control: str | None) -> None:
        self.flush_events()  # a run that has just started: its progress, if already told
        run = self.bridge.run
        if run is not None and run.running:
            run.control = control
            self.bridge.mark_run_dirty()
            self.flush_events()

    def cancel_run(self) -> None:
        """First: start no more hosts. Second (patch runs): stop waiting for running ones."""
        job = self.job
        if job is None:
            self.notify("No run in progress.")
            return
        if isinstance(job, PatchJob):
            if job.stopping:
                job.cancel()
                self._set_control("stopped waiting")
                self.notify(
                    "No longer waiting: installs already running go on on the hosts.",
                    severity="warning",
                )
                return
            job.cancel()
            self._set_control("cancelling")
            self.notify(
                "Cancelling: no new hosts start; running installs finish (c again: stop waiting).",
                severity="warning",
            )
            return
        job.cancel()
        self._set_control("cancelling")
        self.notify("Cancelling: hosts not yet started are skipped.", severity="warning")

    def toggle_pause(self) -> None:
        """Pause a patch run between hosts (running ones finish), or resume it."""
        job = self.job
        if not isinstance(job, PatchJob):
            self.notify("Only patch, reboot and rollback runs pause.")
            return
        if job.stopping:
            self.notify("The run is being cancelled.")
            return
        if job.paused:
            job.resume()
            self._set_control(None)
            self.notify("Resumed.")
        else:
            job.pause()
            self._set_control("paused")
            self.notify("Paused: hosts already running finish; P resumes.", severity="warning")

    def _tick_elapsed(self) -> None:
        run = self.bridge.run
        if run is not None and run.running:
            self.bridge.mark_run_dirty()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "run":
            return
        if event.state is WorkerState.ERROR:
            self.notify(f"The run failed: {worker.error}", title="Error", severity="error")
        elif event.state is WorkerState.SUCCESS and isinstance(worker.result, RunSummary):
            summary = worker.result
            run = self.bridge.run
            operation = run.operation if run is not None else "run"
            outcome = run.outcome if run is not None and run.outcome else ""
            self.notify(
                run_toast_text(summary),
                title=f"{operation.capitalize()} {describe_outcome(outcome, summary)}",
                severity="information" if outcome in QUIET_OUTCOMES else "warning",
            )

    async def on_unmount(self) -> None:
        # However the app closes (quit, Ctrl+C, a test ending), a run still going is
        # cancelled and allowed to record itself before the caller closes the store.
        await self._stop_run()

    async def _stop_run(self) -> None:
        job, future = self.job, self._run_future
        if job is None or future is None:
            return
        _stop_waiting(job)
        with contextlib.suppress(Exception, asyncio.CancelledError):
            async with asyncio.timeout(RUN_STOP_TIMEOUT):
                await asyncio.shield(future)
        self.flush_events()  # the run's last events (its outcome) before anyone reads them

    async def action_quit(self) -> None:
        if self.job is not None:
            self._ask_quit()  # a slip of the key must not abandon a rollout
            return
        self.exit(self.exit_code)

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def _ask_quit(self) -> None:
        from patchtui.tui.screens.confirm import ConfirmScreen

        if self.job is None:
            self.exit(self.exit_code)
            return
        # A job whose progress has not reached this thread yet still runs: ask all the same.
        run = await self._current_run()
        job = self.job
        if job is None:
            self.exit(self.exit_code)
            return
        operation = job.operation
        lines = (
            quit_lines(run, is_patch=isinstance(job, PatchJob))
            if run is not None and run.running
            else [f"The {operation} is starting: no host has finished yet.", *QUIT_STARTING]
        )
        question = ConfirmScreen(
            f"Quit while a {operation} runs?", lines, yes_label="Stop it and quit"
        )
        if not await self.push_screen_wait(question):
            self.notify(f"The {operation} goes on.")
            return
        if self.job is not None:
            # Waiting lets the run be recorded as interrupted before the store closes;
            # package transactions already running are detached and finish on the hosts.
            self.notify("Stopping the run…")
            await self._stop_run()
        self.exit(self.exit_code)

    async def _current_run(self) -> RunProgress | None:
        """The running job's progress: its first events come from the engine's thread on
        the flush tick, so a run that has just started waits for them (bounded)."""
        deadline = time.monotonic() + RUN_START_WAIT
        while True:
            self.flush_events()
            run = self.bridge.run
            if self.job is None or (run is not None and run.running):
                return run
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.02)

    @property
    def exit_code(self) -> int:
        """130 when the session's last run ended interrupted (the operator stopped it)."""
        run = self.bridge.run
        interrupted = run is not None and run.outcome == INTERRUPTED
        return int(ExitCode.INTERRUPTED if interrupted else ExitCode.OK)

    # ------------------------------------------------------------ asking first

    # Each flow is a worker so it can await its modal screens in order; none of them
    # changes a host before the operator has seen how many hosts (and how many prod).

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def open_patch(
        self, names: list[str], *, chosen_by: str = "", form: PatchForm | None = None
    ) -> None:
        """Form -> confirmation (hosts, prod, waves) -> optional sudo password -> patch run.

        ``form``: what the form opens with (an advisory's packages), else the last one."""
        from patchtui.engine.patch import closed_windows
        from patchtui.errors import ConfigError
        from patchtui.tui.matrix_view import review_lines
        from patchtui.tui.screens.patch_modal import (
            PatchModal,
            confirmation_lines,
            with_blue_green,
        )

        if self._refuse_if_running():
            return
        hosts = self._hosts(names)
        request = await self.push_screen_wait(
            PatchModal(len(hosts), base=self.run_defaults, last=form or self.last_patch_form)
        )
        if request is None:
            return
        self.last_patch_form = request.form
        options = self._with_canaries(request.options, hosts, request.canary_pattern)
        if options is None:
            return
        try:
            options = with_blue_green(options, hosts, request.form)
        except ConfigError as error:
            self.notify(str(error), severity="error")
            return
        plan = options.plan(hosts)
        closed = closed_windows(hosts, options.clock())
        verb = "Dry-run" if options.dry_run else "Patch"
        lines = confirmation_lines(verb, hosts, options, plan, chosen_by=chosen_by, closed=closed)
        lines += review_lines(hosts, self.rows, options)
        # Ignoring windows that are closed is itself an emergency: typed, whatever the size.
        emergency = options.ignore_window and bool(closed)
        if not await self._confirm(f"{verb}?", lines, verb, hosts, always_typed=emergency):
            return
        password = await self._ask_password() if request.ask_password else None
        if request.ask_password and password is None:
            return
        if self.start_patch(names, options, become_password=password):
            self._back_to_hosts()  # from the advisories: the run is followed on the hosts
        password = None

    async def _confirm(
        self,
        title: str,
        lines: list[str],
        verb: str,
        hosts: Sequence[Host],
        *,
        always_typed: bool = False,
    ) -> bool:
        """Ask; a change to many hosts or to any env=prod host (or ``always_typed``) is
        confirmed by typing the host count, never a single y. A dry run changes nothing."""
        from patchtui.tui.screens.confirm import ConfirmScreen, typed_confirmation

        typed = None
        if verb != "Dry-run":
            typed = typed_confirmation(hosts, self.typed_confirm_above)
            if typed is None and always_typed:
                typed = str(len(hosts))
        if typed is not None:
            lines = [*lines, f"Type {typed} (the number of hosts) and press enter to go on."]
        confirmed = await self.push_screen_wait(
            ConfirmScreen(title, lines, yes_label=verb, typed=typed)
        )
        if not confirmed:
            self.notify("Not confirmed; nothing was changed.")
        return bool(confirmed)

    def _with_canaries(
        self, options: PatchOptions, hosts: Sequence[Host], pattern: str | None
    ) -> PatchOptions | None:
        """The options with the canaries' fitness (last scan ok or not, from the rows)
        and the named canaries; None (and a notice) when a pattern names none of the hosts."""
        import dataclasses

        from patchtui.engine.rollout import canary_fitness
        from patchtui.errors import PatchtuiError
        from patchtui.inventory.patterns import select_hosts

        fitness = canary_fitness({host.name: self.rows[host.name].state.value for host in hosts})
        named: tuple[str, ...] = ()
        if pattern is not None:
            targets = {host.name for host in hosts}
            try:
                matched = select_hosts(self.inventory, pattern)
            except PatchtuiError as error:
                self.notify(f"Canary hosts: {error}", severity="error")
                return None
            named = tuple(host.name for host in matched if host.name in targets)
            if not named:
                self.notify(f"Canary hosts {pattern!r}: none of these hosts.", severity="error")
                return None
        return dataclasses.replace(options, canary_fitness=fitness, canary_hosts=named)

    async def _ask_password(self) -> str | None:
        from patchtui.tui.screens.password import PasswordScreen

        if not self.connector_takes_password:
            self.notify("This console's connections cannot take a sudo password.", severity="error")
            return None
        return await self.push_screen_wait(PasswordScreen())

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def open_reboot(self, names: list[str], *, chosen_by: str = "") -> None:
        """Confirmation -> a patch run that installs nothing and always reboots."""
        import dataclasses

        from patchtui.drivers.base import Selection
        from patchtui.engine.patch import closed_windows
        from patchtui.engine.windows import window_notice
        from patchtui.tui.screens.confirm import hosts_line

        if self._refuse_if_running():
            return
        hosts = self._hosts(names)
        options = dataclasses.replace(
            self.run_defaults, selection=Selection(), install=False, reboot="always"
        )
        lines = [
            hosts_line("Reboot", hosts) + (f", {chosen_by}" if chosen_by else ""),
            "Nothing is installed: each host is scanned, rebooted, and waited for.",
            "All at once (as many at a time as the connection limit allows).",
            *window_notice(closed_windows(hosts, options.clock()), len(hosts), ignore=False),
        ]
        if not await self._confirm("Reboot?", lines, "Reboot", hosts):
            return
        self.start_patch(names, options)  # installs nothing: the engine calls it a reboot

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def open_rollback(self, run_id: str) -> None:
        """Confirmation -> RollbackJob of the versions ``run_id`` recorded before changing them."""
        from patchtui.engine.rollback import changes_from_results
        from patchtui.tui.screens.confirm import ConfirmScreen, hosts_line

        if self._refuse_if_running() or self.store is None:
            return
        results = self.store.host_results(run_id)
        changes = changes_from_results(list(results or ()))
        hosts = self._hosts(changes)
        if not hosts:
            self.notify(f"Run {run_id} changed no package on these hosts.", severity="warning")
            return
        changes = {host.name: changes[host.name] for host in hosts}
        packages = sum(len(each) for each in changes.values())
        lines = [
            hosts_line("Roll back", hosts),
            f"Restores {packages} package versions recorded by run {run_id}.",
            "Hosts: "
            + ", ".join(host.name for host in hosts[:8])
            + (", …" if len(hosts) > 8 else ""),
        ]
        confirm = ConfirmScreen("Roll back?", lines, yes_label="Roll back")
        if not await self.push_screen_wait(confirm):
            self.notify("Not confirmed; nothing was changed.")
            return
        if self.start_rollback(run_id, changes):
            self._back_to_hosts()

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def open_command(self, names: list[str]) -> None:
        """Command line -> confirmation -> an ad-hoc command on the hosts."""
        from patchtui.tui.screens.command import CommandScreen
        from patchtui.tui.screens.confirm import ConfirmScreen, hosts_line

        if self._refuse_if_running():
            return
        hosts = self._hosts(names)
        request = await self.push_screen_wait(CommandScreen(len(hosts)))
        if request is None:
            return
        lines = [
            hosts_line("Run a command on", hosts),
            f"$ {request.command}",
            "as root (sudo)" if request.privileged else "as the login user",
        ]
        if not await self.push_screen_wait(ConfirmScreen("Run?", lines, yes_label="Run")):
            self.notify("Not confirmed; nothing was run.")
            return
        self.start_command(names, request.command, privileged=request.privileged)

    def _back_to_hosts(self) -> None:
        while len(self.screen_stack) > 1 and not isinstance(self.screen, HostsScreen):
            self.pop_screen()

    # ------------------------------------------------------------ other screens

    def action_compliance(self) -> None:
        from patchtui.tui.screens.compliance import ComplianceScreen

        if self.store is None:
            self.notify("No database is open, so there is nothing to judge.", severity="warning")
            return
        if not isinstance(self.screen, ComplianceScreen):
            self.push_screen(ComplianceScreen(self.store, list(self.rows), clock=self.clock))

    def action_advisories(self) -> None:
        from patchtui.tui.screens.advisories import AdvisoriesScreen

        if self.store is None:
            self.notify("No database is open, so no scan to read.", severity="warning")
            return
        if not isinstance(self.screen, AdvisoriesScreen):
            self.push_screen(AdvisoriesScreen(self.store, list(self.rows), clock=self.clock))

    def show_host_output(self, host: str) -> None:
        """One host's output full-screen (the screen is made once, then re-shown)."""
        from patchtui.tui.screens.output import HostOutputScreen

        screen = self._kept_screen(HOST_OUTPUT_SCREEN, HostOutputScreen)
        if screen in self.screen_stack:
            return
        screen.show(host)
        self.push_screen(screen)

    def show_split_output(self, fallback: Sequence[str], *, order: Sequence[str]) -> None:
        """The running hosts' output side by side (made once, then re-shown)."""
        from patchtui.tui.screens.output import SplitOutputScreen

        screen = self._kept_screen(SPLIT_OUTPUT_SCREEN, SplitOutputScreen)
        if screen in self.screen_stack:
            return
        screen.show(fallback, order=order)
        self.push_screen(screen)

    def _kept_screen(self, name: str, kind: type[KeptScreen]) -> KeptScreen:
        """The screen installed as ``name``, installing a new ``kind`` the first time."""
        if not self.is_screen_installed(name):
            self.install_screen(kind(), name)
        screen = self.get_screen(name)
        assert isinstance(screen, kind)
        return screen

    def open_details(self, host: str) -> None:
        from patchtui.engine.doctor import connect_hint
        from patchtui.tui.screens.detail import HostDetailScreen

        row = self.rows.get(host)
        if row is not None:
            hint = connect_hint(row.error_kind, self.hosts_by_name[host])
            self.push_screen(
                HostDetailScreen(row, now=self.clock(), recent=self._recent(host), hint=hint)
            )

    def _recent(self, host: str, limit: int = 10) -> list[Mapping[str, Any]]:
        """The host's latest run results, if the store can say (the real one can)."""
        results_for_host = getattr(self.store, "results_for_host", None)
        if results_for_host is None:
            return []
        return [dict(each) for each in results_for_host(host, limit=limit)]

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
        for command in super().get_system_commands(screen):
            if command.title == "Keys":
                continue  # ours below lists every key, with what it does here
            if command.title == "Quit":
                command = SystemCommand(
                    "Quit", "Quit patchtui (asks first while a run goes)", self.action_quit
                )
            yield command
        yield SystemCommand("Scan", "Scan the selected hosts (all shown if none)", self._scan_cmd)
        yield SystemCommand(
            "Patch", "Patch the selected hosts (a form, then a confirmation)", self._patch_cmd
        )
        yield SystemCommand("Reboot", "Reboot the selected hosts (asks first)", self._reboot_cmd)
        yield SystemCommand(
            "Run command", "Run a shell command on the selected hosts", self._command_cmd
        )
        yield SystemCommand(
            "Cancel run",
            "No new hosts start (again: stop waiting for running ones)",
            self.cancel_run,
        )
        yield SystemCommand("Pause / resume run", "Pause or resume a patch run", self.toggle_pause)
        yield SystemCommand(
            "Roll back a run", "Pick a patch run in the history, then press b", self.action_history
        )
        yield SystemCommand(
            "Compliance",
            "Hosts judged against the policy; export the report",
            self.action_compliance,
        )
        yield SystemCommand(
            "Advisories",
            "Pending CVEs and advisories, most severe first; patch the hosts of one",
            self.action_advisories,
        )
        yield SystemCommand(
            "Doctor", "Check the selected hosts (else the highlighted one)", self._doctor_cmd
        )
        yield SystemCommand("History", "Past runs from the database", self.action_history)
        yield SystemCommand("Keys", "Show every key binding", self.action_help)

    def _on_hosts(self, action: Callable[[HostsScreen], None]) -> None:
        hosts_screen = self.hosts_screen
        if hosts_screen is not None:
            action(hosts_screen)

    def _scan_cmd(self) -> None:
        self._on_hosts(HostsScreen.action_scan)

    def _patch_cmd(self) -> None:
        self._on_hosts(HostsScreen.action_patch)

    def _reboot_cmd(self) -> None:
        self._on_hosts(HostsScreen.action_reboot)

    def _command_cmd(self) -> None:
        self._on_hosts(HostsScreen.action_command)

    def _doctor_cmd(self) -> None:
        self._on_hosts(HostsScreen.action_doctor)


def command_marker(finished: HostFinished) -> str:
    """An ad-hoc command's result in a few characters: exit 0, exit 3, timeout, unreachable."""
    if finished.state is HostState.OK:
        return "exit 0"
    error = finished.error or ""
    if error.startswith("exited with status "):
        return "exit " + error.removeprefix("exited with status ")
    return finished.error_kind or finished.state.value


def _hosts(count: int) -> str:
    return f"{count} host" if count == 1 else f"{count} hosts"


QUIT_STARTING = (
    "No new host starts; hosts already connecting are stopped and recorded as interrupted.",
    "patchtui exits with code 130 and prints the run's summary.",
)
"""What quitting does to a run whose progress is not known yet."""


def quit_lines(run: RunProgress, *, is_patch: bool) -> list[str]:
    """What is running and what quitting does to it, before the operator says yes."""
    # Queued hosts have a state too, but nothing has started on them.
    running = sum(
        1 for state in run.states.values() if not state.is_final and state is not HostState.QUEUED
    )
    waiting = run.total - run.finished - running
    lines = [
        f"{run.operation} {run.run_id}: {run.finished}/{run.total} done, "
        f"{running} in progress, {waiting} not started.",
        f"No new host starts: the {waiting} not started are recorded as skipped (cancelled).",
    ]
    if is_patch:
        lines.append(
            f"Package transactions already running on up to {_hosts(running)} continue there"
            " and are recorded as interrupted; check them with a scan later."
        )
    else:
        lines.append(
            f"The {_hosts(running)} in progress {'is' if running == 1 else 'are'} stopped and"
            " recorded as interrupted."
        )
    lines.append("patchtui exits with code 130 and prints the run's summary.")
    return lines


def exit_line(run: RunProgress | None) -> str | None:
    """The one line printed to the terminal when the console closes: the last run's
    outcome and counts, and where to read the rest."""
    if run is None:
        return None
    return (
        f"patchtui: {progress_text(run, host_count=run.total, now=run.ended or run.started)}"
        f" · details: patchtui history --run {run.run_id}"
    )


QUIET_OUTCOMES = frozenset({COMPLETED, DRY_RUN})
"""Outcomes whose end-of-run toast is information, not a warning."""


def run_toast_text(summary: RunSummary) -> str:
    """The end-of-run toast: every host counted (skipped too), pending on scanned hosts."""
    word = "planned" if summary.dry_run else "ok"
    parts = [f"{summary.ok}/{summary.hosts} {word}"]
    if not_ok := not_ok_count(summary):
        parts.append(f"{not_ok} not ok")
    if skipped := skipped_text(summary):
        parts.append(skipped)
    parts.append(pending_text(summary))
    if summary.halt_reason:
        parts.append(f"halted: {summary.halt_reason}")
    return " · ".join(parts)


def make_app(
    *,
    inventory: Inventory,
    hosts: Sequence[Host],
    connector_factory: ConnectorFactory,
    store: ConsoleStore | None = None,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
    refresh_metadata: bool = True,
    run_defaults: PatchOptions | None = None,
    default_theme: str | None = None,
    typed_confirm_above: int = TYPED_CONFIRM_ABOVE,
    notify: NotifySettings | None = None,
) -> PatchtuiApp:
    """Build the console from its services (posting's ``make_posting`` pattern).

    ``clock`` is wall time (ages, windows, report stamps); ``monotonic`` times a
    run's elapsed seconds. Tests freeze both, so nothing drawn reads the real clock.
    ``run_defaults``: the patch options the form starts from and does not show
    (install/reboot/reconnect time limits, poll interval).
    """
    return PatchtuiApp(
        inventory=inventory,
        hosts=hosts,
        connector_factory=connector_factory,
        store=store,
        clock=clock,
        monotonic=monotonic,
        refresh_metadata=refresh_metadata,
        run_defaults=run_defaults,
        default_theme=default_theme,
        typed_confirm_above=typed_confirm_above,
        notify=notify,
    )
