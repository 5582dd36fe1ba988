"""Output screens: several running hosts side by side, or one host full-screen.

Both read the bridge on their own ~10 Hz timer, like the hosts screen: a pane
asks the bridge only for the lines it has not drawn yet, so six panes on a
busy fleet cost six small appends per tick, never a message per line.

The split view keeps its panes stable: a pane keeps its host while the host
runs and after it finishes, and is handed to a host that starts running only
when no pane is free, so the text a reader is looking at does not jump away.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Header, Static

from patchtui.engine.events import HostState
from patchtui.tui.hostview import ACTIVE_STATES
from patchtui.tui.widgets.footer import KeyFooter
from patchtui.tui.widgets.output_pane import OutputPane
from patchtui.tui.widgets.progress import RUN_CONTROL_BINDINGS, RunProgressBar

if TYPE_CHECKING:
    from patchtui.tui.app import PatchtuiApp
    from patchtui.tui.hostview import HostRow

REFRESH_INTERVAL = 0.1
"""Seconds between draws from the bridge (the app's flush runs at the same rate)."""
MAX_PANES = 6
"""Panes in the split view: six keep ~80 columns and a dozen lines each on a laptop screen."""
RUNNING_STATES = ACTIVE_STATES - {HostState.QUEUED}
"""Hosts with something to show now: active and past the queue."""
"""States in which a host is talking to patchtui and its output moves (queued is silent)."""


def running_hosts(rows: Mapping[str, HostRow], order: Iterable[str] | None = None) -> list[str]:
    """Hosts now running, in ``order`` (the table's) when given, else the rows' order."""
    names = list(order) if order is not None else list(rows)
    return [name for name in names if name in rows and rows[name].state in RUNNING_STATES]


def assign_panes(
    shown: Sequence[str], running: Sequence[str], *, limit: int = MAX_PANES
) -> list[str]:
    """Which host each pane shows next, keeping panes on their host where possible.

    ``shown`` is what the panes show now (in pane order). A pane keeps its host
    while it runs; a pane whose host stopped running is handed to a running host
    that has no pane yet, and kept (its last lines stay readable) when none waits.
    New panes are added for running hosts while there are fewer than ``limit``.
    """
    running_set = set(running)
    waiting = [name for name in running if name not in shown]
    result: list[str] = []
    for name in shown[:limit]:
        if name not in running_set and waiting:
            result.append(waiting.pop(0))
        else:
            result.append(name)
    while waiting and len(result) < limit:
        result.append(waiting.pop(0))
    return result


def quiet_choice(
    selected: Sequence[str],
    last_run: Mapping[str, HostState],
    highlighted: str | None,
    order: Sequence[str],
    *,
    limit: int = MAX_PANES,
) -> list[str]:
    """What the split view shows when no host runs.

    The operator's selection if any; else the hosts of the last run, those that
    went wrong first (that is whose output one wants to read); else the
    highlighted host.
    """
    rank = {name: index for index, name in enumerate(order)}
    if selected:
        return sorted(selected, key=lambda name: rank.get(name, len(rank)))[:limit]
    if last_run:
        trouble = {HostState.FAILED, HostState.UNREACHABLE, HostState.INTERRUPTED}
        hosts = sorted(
            last_run,
            key=lambda name: (last_run[name] not in trouble, rank.get(name, len(rank)), name),
        )
        return hosts[:limit]
    return [highlighted] if highlighted is not None else []


def grid_columns(panes: int) -> int:
    """Full-width panes (long package lines) for up to three hosts, two columns beyond."""
    return 1 if panes <= 3 else 2


class _OutputScreenBase(Screen[None]):
    """An output screen made once and shown again and again (see ``PatchtuiApp``).

    Building a screen of output panes, and tearing it down again, cost a key press
    more than the 100 ms the console allows on a busy fleet, and left its widgets as
    cyclic garbage for the collector to find. So each kind is installed once and
    re-shown: a key then costs one repaint. Its bridge timer runs only while shown.

    A run is controlled from here as from the hosts screen (c, P), and its status line
    shows at the bottom: watching output must not hide how the run goes.
    """

    BINDINGS = [*RUN_CONTROL_BINDINGS]

    def __init__(self) -> None:
        super().__init__()
        self._sync_timer: Timer | None = None

    @property
    def patchtui(self) -> PatchtuiApp:
        # Typed access to the app without importing it: app.py imports the screens,
        # never the other way round (the only app this screen runs in is PatchtuiApp).
        return cast("PatchtuiApp", self.app)

    def state_of(self, host: str | None) -> HostState | None:
        row = self.patchtui.rows.get(host) if host is not None else None
        return row.state if row is not None else None

    async def on_screen_resume(self) -> None:
        await self.show_now()
        self.show_progress()
        if self._sync_timer is None:
            self._sync_timer = self.set_interval(REFRESH_INTERVAL, self._tick, name="output-sync")
        else:
            self._sync_timer.resume()

    async def _tick(self) -> None:
        await self.refresh_from_bridge()
        self.show_progress()

    def show_progress(self) -> None:
        bridge = self.patchtui.bridge
        self.query_one(RunProgressBar).show(
            bridge.run, host_count=len(self.patchtui.rows), now=bridge.clock()
        )

    def action_cancel(self) -> None:
        self.patchtui.cancel_run()
        self.show_progress()

    def action_pause(self) -> None:
        self.patchtui.toggle_pause()
        self.show_progress()

    def on_screen_suspend(self) -> None:
        # Hidden: nothing to draw. Showing it again catches up from the bridge.
        if self._sync_timer is not None:
            self._sync_timer.pause()

    async def show_now(self) -> None:
        """Bring the panes up to what they should show now (the screen is being shown)."""

    async def refresh_from_bridge(self) -> None:
        """Draw what the bridge received since the last tick (each screen its own way)."""


class HostOutputScreen(_OutputScreenBase):
    """One host's output on the whole screen (``show`` picks the host)."""

    BINDINGS = [Binding("escape,q,z", "app.pop_screen", "Back", tooltip="Back")]

    def __init__(self) -> None:
        super().__init__()
        self.host: str | None = None
        """The host shown (``show`` sets it before each showing)."""

    def show(self, host: str) -> None:
        """The host to show next time this screen is shown."""
        self.host = host

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield OutputPane(scrollback=self.patchtui.bridge.scrollback, classes="focus-pane")
        yield RunProgressBar(id="run-progress")
        yield KeyFooter()

    async def show_now(self) -> None:
        self.sub_title = f"output of {self.host}"
        pane = self.query_one(OutputPane)
        if pane.host != self.host:
            # Another host: a fresh view of it (following, no search).
            pane.reset_search()
            pane.show_host(self.host, self.patchtui.bridge, self.state_of(self.host))
        else:
            # The same host again: the view is as the reader left it, plus what arrived.
            await self.refresh_from_bridge()
        pane.output_log.focus()

    async def refresh_from_bridge(self) -> None:
        pane = self.query_one(OutputPane)
        pane.sync(self.patchtui.bridge, self.state_of(self.host))


class SplitOutputScreen(_OutputScreenBase):
    """Up to six running hosts' output at once; z or enter: one of them full-screen."""

    BINDINGS = [
        Binding("escape,q,v", "app.pop_screen", "Back", tooltip="Back to the hosts"),
        Binding("z,enter", "zoom", "Full screen", tooltip="Show the focused pane full-screen"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.fallback: list[str] = []
        """Shown when no host runs (``show`` sets it before each showing)."""
        self.order: list[str] | None = None
        self.shown: list[str] = []
        # Mounting a pane awaits; the 10 Hz sync must not place panes meanwhile,
        # or both would add one for the same host.
        self._placing = asyncio.Lock()

    def show(self, fallback: Sequence[str], *, order: Sequence[str] | None = None) -> None:
        """What to show next time if no host runs (see ``quiet_choice``), in ``order``."""
        self.fallback = list(fallback)[:MAX_PANES]
        self.order = list(order) if order is not None else None

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Static(id="split-status", classes="summary")
        yield Grid(id="split-grid")
        yield RunProgressBar(id="run-progress")
        yield KeyFooter()

    async def show_now(self) -> None:
        self.sub_title = "output of running hosts"
        running = running_hosts(self.patchtui.rows, self.order)
        # Panes stay on the hosts they showed last time while those still run.
        wanted = assign_panes(self.shown, running) if running else self.fallback
        await self._place(wanted)
        self._sync_panes()
        shown = self._panes()
        focused = self.focused_pane()
        if shown and (focused is None or focused not in shown):
            shown[0].output_log.focus()

    def _panes(self) -> list[OutputPane]:
        """The panes in use (the rest are hidden until more hosts need one)."""
        return [pane for pane in self.query(OutputPane) if pane.display]

    async def refresh_from_bridge(self) -> None:
        running = running_hosts(self.patchtui.rows, self.order)
        wanted = assign_panes(self.shown, running) if running else self.shown
        if wanted != self.shown:
            await self._place(wanted)
        self._sync_panes()
        self._update_status(running)

    def _sync_panes(self) -> None:
        """Draw what the bridge received for each pane's host since it last drew."""
        bridge = self.patchtui.bridge
        with self.app.batch_update():
            for pane in self._panes():
                pane.sync(bridge, self.state_of(pane.host))

    async def _place(self, hosts: list[str]) -> None:
        """Give pane i host i, adding panes as needed and hiding those not needed."""
        async with self._placing:
            await self._place_unlocked(hosts)

    async def _place_unlocked(self, hosts: list[str]) -> None:
        grid = self.query_one("#split-grid", Grid)
        panes = list(self.query(OutputPane))
        bridge = self.patchtui.bridge
        # Columns first: the panes are then laid out once, at their final size.
        grid.styles.grid_size_columns = grid_columns(len(hosts))
        with self.app.batch_update():
            for index, pane in enumerate(panes):
                host = hosts[index] if index < len(hosts) else None
                pane.display = host is not None
                if host is not None and pane.host != host:
                    pane.reset_search()
                    pane.show_host(host, bridge, self.state_of(host))
        added = [
            OutputPane(scrollback=bridge.scrollback, classes="split-pane")
            for _ in hosts[len(panes) :]
        ]
        if added:
            # One mount for all new panes: one style and layout pass, not one per pane
            # (opening the split view on a busy fleet adds six at once).
            await grid.mount_all(added)  # their logs exist once mounted
            with self.app.batch_update():
                for pane, host in zip(added, hosts[len(panes) :], strict=True):
                    pane.show_host(host, bridge, self.state_of(host))
        self.shown = list(hosts)
        self._update_status(running_hosts(self.patchtui.rows, self.order))

    def _update_status(self, running: list[str]) -> None:
        status = self.query_one("#split-status", Static)
        if not self.shown:
            text = "No host is running, and none is selected: select hosts (space) or start a run."
        elif running:
            extra = len(set(running) - set(self.shown))
            text = f"{len(running)} running"
            text += f" · {extra} more not shown" if extra else ""
            text += " · tab: next pane · z: full screen · f: follow · /: search"
        else:
            text = (
                "No host is running: showing the selected hosts, else the last run's"
                " · z: full screen · /: search"
            )
        status.update(Content(text))

    def focused_pane(self) -> OutputPane | None:
        if self.focused is None:
            return None
        for widget in self.focused.ancestors_with_self:
            if isinstance(widget, OutputPane):
                return widget
        return None

    def action_zoom(self) -> None:
        pane = self.focused_pane()
        if pane is not None and pane.host is not None:
            self.patchtui.show_host_output(pane.host)


__all__ = [
    "HostOutputScreen",
    "SplitOutputScreen",
    "assign_panes",
    "grid_columns",
    "quiet_choice",
    "running_hosts",
]
