"""Doctor in the console: ``patchtui doctor``'s checks on the chosen hosts, row by row.

The checks are the engine's (``patchtui.engine.doctor.DoctorJob``, what the
headless command runs): connect with the strict host-key policy, passwordless
sudo, package manager, clock. They run in a worker on the UI loop, as scans
do, so the console stays live; each host's row fills in as its check ends, and
the highlighted host's fix hints and error are shown in full below the table.
Doctor changes nothing on the hosts, so it may run beside a scan or patch run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from patchtui.engine.doctor import DoctorJob, HostCheck
from patchtui.inventory.model import Host
from patchtui.textsafe import strip_control
from patchtui.tui.engine_thread import STOP_TIME_LIMIT, EngineThread
from patchtui.tui.widgets.colours import plain, styled, theme_style
from patchtui.tui.widgets.footer import KeyFooter

DOCTOR_COLUMNS = (
    ("host", "host"),
    ("result", "result"),
    ("connect", "connect"),
    ("host_key", "host key"),
    ("sudo", "sudo"),
    ("package_manager", "pkg mgr"),
    ("clock", "clock"),
    ("fix", "fix"),
)
CHECKING = "checking…"


def doctor_targets(order: Sequence[str], selected: set[str], highlighted: str | None) -> list[str]:
    """The selected hosts (in table order), else the highlighted one, else none."""
    chosen = [name for name in order if name in selected]
    if chosen:
        return chosen
    return [highlighted] if highlighted is not None else []


def result_word(check: HostCheck) -> str:
    return "ok" if check.ok else "FAIL"


def check_cells(check: HostCheck) -> tuple[str, ...]:
    """The row's text after the host name, in DOCTOR_COLUMNS order."""
    return (
        result_word(check),
        check.connect,
        check.host_key,
        check.sudo,
        check.package_manager,
        check.clock,
        check.fix or "-",
    )


def detail_text(host: str, check: HostCheck | None) -> str:
    """The highlighted host's verdict in full: each fix hint on its line, then the error."""
    if check is None:
        return f"{host}: {CHECKING}"
    if check.ok:
        return f"{host}: ready (connect, host key, sudo, package manager and clock are fine)"
    lines = [f"{host}: to fix ({', '.join(check.problems)})"]
    lines += [f"  fix: {hint}" for hint in check.hints]
    if check.error:
        lines.append(f"  error: {check.error}")
    return strip_control("\n".join(lines))


class DoctorScreen(Screen[None]):
    """One row per host: each check, ok/FAIL, and the fix; below, the highlighted host in full."""

    DEFAULT_CSS = """
    DoctorScreen { layout: vertical; }
    #doctor-checks { height: 1fr; background: $surface; }
    #doctor-detail { height: auto; max-height: 8; padding: 0 1; background: $panel; }
    """

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", tooltip="Back (stops checks still going)"),
        Binding("r", "rerun", "Check again", tooltip="Run the checks again on these hosts"),
        Binding("n", "next_to_fix", "Next to fix", tooltip="The next host with something to fix"),
    ]

    def __init__(self, hosts: Sequence[Host], connector_factory: Callable[[], Any]) -> None:
        super().__init__()
        self.hosts = list(hosts)
        self.connector_factory = connector_factory
        self.checks: dict[str, HostCheck] = {}
        self.done = False
        self.job: DoctorJob | None = None

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Static(id="doctor-summary", classes="summary")
        yield DataTable(id="doctor-checks", cursor_type="row", zebra_stripes=True)
        yield Static(id="doctor-detail")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "doctor"
        table: DataTable[Text] = self.query_one("#doctor-checks", DataTable)
        for key, label in DOCTOR_COLUMNS:
            table.add_column(label, key=key)
        table.focus()
        self.action_rerun()

    def action_rerun(self) -> None:
        if self.job is not None:
            self.notify("The checks are still running.")
            return
        table: DataTable[Text] = self.query_one("#doctor-checks", DataTable)
        table.clear()
        self.checks = {}
        self.done = False
        for host in self.hosts:
            cells = [plain(host.name), plain(CHECKING), *(plain("") for _ in DOCTOR_COLUMNS[2:])]
            table.add_row(*cells, key=host.name)
        self._show_summary()
        self._show_detail()
        self.run_checks()

    @work(exclusive=True, group="doctor", exit_on_error=False)
    async def run_checks(self) -> None:
        # The checks' SSH sessions go on a loop of their own thread, as the console's
        # runs do (tui/engine_thread.py): keys never wait behind them. Each host's row
        # comes back to this loop.
        ui_loop = asyncio.get_running_loop()

        def checked(check: HostCheck) -> None:
            ui_loop.call_soon_threadsafe(self._checked, check)

        connector = self.connector_factory()
        job = self.job = DoctorJob(self.hosts, connector=connector, on_check=checked)
        engine = EngineThread(name="patchtui-doctor")
        future = engine.run(_checks_then_close(job, connector))
        try:
            await asyncio.shield(future)
        finally:
            # Leaving the screen cancels this worker: no host check outlives the screen.
            job.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                async with asyncio.timeout(STOP_TIME_LIMIT):
                    await asyncio.shield(future)
            await engine.stop()
            self.job = None
            self.done = True
            if self.is_mounted:
                self._show_summary()

    def _checked(self, check: HostCheck) -> None:
        """A host's row, as soon as its checks end (handed to the UI loop by the job's)."""
        self.checks[check.host] = check
        if not self.is_mounted:
            return
        table: DataTable[Text] = self.query_one("#doctor-checks", DataTable)
        variables = self.app.theme_variables
        colour = "text-success" if check.ok else "text-error"
        for (column, _), value in zip(DOCTOR_COLUMNS[1:], check_cells(check), strict=True):
            cell = styled(value, theme_style(variables, colour)) if column == "result" else None
            table.update_cell(check.host, column, cell or plain(value), update_width=True)
        self._show_summary()
        if self.highlighted_host == check.host:
            self._show_detail()

    def _show_summary(self) -> None:
        total, checked = len(self.hosts), len(self.checks)
        to_fix = sum(1 for check in self.checks.values() if not check.ok)
        text = f"{total} host{'s' if total != 1 else ''}: {checked - to_fix} ready, {to_fix} to fix"
        if checked < total:
            text += f", {total - checked} " + ("not checked" if self.done else "being checked")
        self.query_one("#doctor-summary", Static).update(Content(text))

    @property
    def highlighted_host(self) -> str | None:
        table: DataTable[Text] = self.query_one("#doctor-checks", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return None if key is None else str(key)

    def action_next_to_fix(self) -> None:
        """Down to the next host that failed a check, wrapping: on a fleet they are few."""
        table: DataTable[Text] = self.query_one("#doctor-checks", DataTable)
        order = [host.name for host in self.hosts]
        count = len(order)
        for step in range(1, count + 1):
            name = order[(table.cursor_row + step) % count]
            check = self.checks.get(name)
            if check is not None and not check.ok:
                table.move_cursor(row=table.get_row_index(name))
                return
        self.notify("No checked host has anything to fix.")

    @on(DataTable.RowHighlighted, "#doctor-checks")
    def _highlighted(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        host = self.highlighted_host
        text = "" if host is None else detail_text(host, self.checks.get(host))
        self.query_one("#doctor-detail", Static).update(Content(text))


__all__ = ["DoctorScreen", "check_cells", "detail_text", "doctor_targets"]


async def _checks_then_close(job: DoctorJob, connector: Any) -> None:
    """The checks, then their sessions closed, on the engine's loop (they belong to it)."""
    try:
        await job.run()
    finally:
        with contextlib.suppress(Exception):
            await connector.close_all()
