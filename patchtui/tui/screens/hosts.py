"""The main screen: the hosts table, a filter, the run status and the output pane."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input

from patchtui.engine.events import HostState
from patchtui.tui.bridge import RunProgress
from patchtui.tui.hostview import SORT_COLUMNS, filter_rows
from patchtui.tui.widgets.footer import KeyFooter
from patchtui.tui.widgets.host_table import HostTable
from patchtui.tui.widgets.output_pane import HostsOutputPane, OutputPane
from patchtui.tui.widgets.progress import RUN_CONTROL_BINDINGS, RunProgressBar

if TYPE_CHECKING:
    from patchtui.tui.app import PatchtuiApp


PROBLEM_STATES = frozenset({HostState.FAILED, HostState.UNREACHABLE, HostState.SKIPPED})
"""What n / N jump to."""


class HostsScreen(Screen[None]):
    """Hosts, their live state, and what the highlighted host prints."""

    BINDINGS = [
        Binding("s", "scan", "Scan", tooltip="Scan the selected hosts (all shown if none)"),
        Binding("p", "patch", "Patch", tooltip="Patch the selected hosts (all shown if none)"),
        Binding("R", "reboot", "Reboot", tooltip="Reboot the selected hosts (asks first)"),
        *RUN_CONTROL_BINDINGS,
        Binding(
            "exclamation_mark",
            "command",
            "Command",
            key_display="!",
            tooltip="Run a shell command on the selected hosts",
        ),
        Binding("space", "toggle_select", "Select", tooltip="Select or unselect this host"),
        Binding("a", "select_all", "Select all", tooltip="Select (or unselect) all shown hosts"),
        # priority: '/' filters the hosts even when the output pane has the focus.
        Binding(
            "slash",
            "filter",
            "Filter",
            tooltip="Filter by name, group, label, state, OS",
            priority=True,
        ),
        Binding("o", "sort_next", "Sort", tooltip="Sort by the next column (again: reverse)"),
        Binding("O", "sort_reverse", "Reverse", show=False),
        Binding("d", "details", "Details", show=False),
        Binding("v", "split_output", "Split", tooltip="Output of the running hosts side by side"),
        Binding("z", "zoom_output", "Output", tooltip="The highlighted host's output full-screen"),
        Binding(
            "D",
            "doctor",
            "Doctor",
            tooltip="Check login, host key, sudo, package manager and clock of the selected"
            " hosts (else the highlighted one)",
        ),
        Binding(
            "A",
            "app.advisories",
            "Advisories",
            tooltip="Pending CVEs and advisories, most severe first; patch the hosts of one",
        ),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding(
            "n",
            "next_problem",
            "Next failed",
            tooltip="Next failed, unreachable or skipped host (N: previous)",
            show=False,
        ),
        Binding("N", "previous_problem", "Prev failed", show=False),
    ]

    sub_title: Reactive[str | None] = Reactive(None, compute=False, repaint=False)
    """As Screen's, without its repaint: the header redraws itself when it changes, and
    the screen's repaint made each space or filter key redraw the whole screen (the
    hosts table included) rather than a frame of what changed."""

    def __init__(self) -> None:
        super().__init__()
        self.selected: set[str] = set()
        self._sort_pending = False
        """Rows changed during a run under a sort other than by name: sort when it ends."""
        self.filter_text = ""
        self.output_host: str | None = None

    @property
    def patchtui(self) -> PatchtuiApp:
        # Typed access to the app without importing it: app.py imports the screens,
        # never the other way round (the only app this screen runs in is PatchtuiApp).
        return cast("PatchtuiApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Input(
            placeholder="filter: name group env=prod state:failed reboot CVE-2024-6387 (? help)",
            id="filter",
        )
        yield HostTable(clock=self.patchtui.clock, id="hosts")
        yield RunProgressBar(id="run-progress")
        # The pane's log keeps the id "output": tests and styles find it by that name.
        yield HostsOutputPane(
            scrollback=self.patchtui.bridge.scrollback, log_id="output", id="output-pane"
        )
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one(HostTable)
        table.show_rows(self.patchtui.rows.values(), self.selected)
        table.sort_rows(self.patchtui.rows)
        table.move_cursor(row=0)  # start at the top of the sorted list
        self.update_run_status(None)
        table.focus()

    # ------------------------------------------------------------ redraw from the bridge

    def refresh_hosts(self, names: set[str]) -> None:
        """Redraw the given hosts' cells and, if it is one of them, the output pane."""
        table = self.query_one(HostTable)
        changed = False
        for name in names:
            row = self.patchtui.rows.get(name)
            if row is not None:
                changed |= table.update_row(row, name in self.selected)
        if changed and table.sort_column != "name":
            run = self.patchtui.bridge.run
            if run is not None and run.running:
                # Rows that jump under the cursor mid-run make the operator act on the
                # wrong host: the order holds until the run ends (or o re-sorts).
                self._sort_pending = True
            else:
                table.sort_rows(self.patchtui.rows)
        self.refresh_output(names)

    def refresh_output(self, names: set[str]) -> None:
        """New output lines only: the pane follows them, the table has nothing to redraw."""
        if self.output_host is not None and self.output_host in names:
            self._append_output()

    def refresh_all(self) -> None:
        """Redraw every visible row (theme change, ages ticking)."""
        self.refresh_hosts(set(self.query_one(HostTable).visible_hosts))

    def update_run_status(self, run: RunProgress | None) -> None:
        if self._sort_pending and (run is None or not run.running):
            self._sort_pending = False
            self.query_one(HostTable).sort_rows(self.patchtui.rows)
        bridge = self.patchtui.bridge
        self.query_one(RunProgressBar).show(
            run, host_count=len(self.patchtui.rows), now=bridge.clock()
        )

    # ------------------------------------------------------------ output pane

    @on(DataTable.RowHighlighted, "#hosts")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        # The row highlighted now, not the event's: keys typed or pasted into the filter
        # in one burst rebuild the rows several times before these events are handled,
        # and a late one named a host filtered out since (issue 16: the filter showed
        # lab-ubu-0043, the pane lab-ubu-0002).
        host = self.query_one(HostTable).highlighted_host
        if host != self.output_host:
            self.show_output(host)

    def show_output(self, host: str | None) -> None:
        self.output_host = host
        self.query_one(OutputPane).show_host(host, self.patchtui.bridge, self._state_of(host))

    def _append_output(self) -> None:
        assert self.output_host is not None
        pane = self.query_one(OutputPane)
        pane.sync(self.patchtui.bridge, self._state_of(self.output_host))

    def _state_of(self, host: str | None) -> HostState | None:
        row = self.patchtui.rows.get(host) if host is not None else None
        return row.state if row is not None else None

    def action_split_output(self) -> None:
        from patchtui.tui.screens.output import quiet_choice

        table = self.query_one(HostTable)
        run = self.patchtui.bridge.run
        order = table.visible_hosts
        chosen = quiet_choice(
            sorted(self.selected), run.states if run else {}, table.highlighted_host, order
        )
        self.patchtui.show_split_output(chosen, order=order)

    def action_zoom_output(self) -> None:
        host = self.query_one(HostTable).highlighted_host
        if host is not None:
            self.patchtui.show_host_output(host)

    # ------------------------------------------------------------ selection

    def action_toggle_select(self) -> None:
        table = self.query_one(HostTable)
        host = table.highlighted_host
        if host is None:
            return
        self.selected ^= {host}
        table.update_row(self.patchtui.rows[host], host in self.selected)
        self.sub_title_for_filter(table)
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)

    def action_select_all(self) -> None:
        table = self.query_one(HostTable)
        visible = set(table.visible_hosts)
        if visible <= self.selected:
            self.selected -= visible
        else:
            self.selected |= visible
        for name in visible:
            table.update_row(self.patchtui.rows[name], name in self.selected)
        self.sub_title_for_filter(table)

    def scan_targets(self) -> list[str]:
        """Selected hosts, or every host the filter shows when none are selected."""
        visible = self.query_one(HostTable).visible_hosts
        chosen = [name for name in self.patchtui.rows if name in self.selected]
        return chosen or [name for name in self.patchtui.rows if name in set(visible)]

    def targets_chosen_by(self, targets: list[str]) -> str:
        """How ``scan_targets`` chose: what a confirmation says, so 'all 300' is never a
        surprise when a few were meant."""
        if any(name in self.selected for name in targets):
            return f"{len(targets)} selected"
        if self.filter_text.strip():
            return f"filter {self.filter_text.strip()!r}: {len(targets)} shown"
        return f"all {len(targets)} shown"

    # ------------------------------------------------------------ actions

    def action_scan(self) -> None:
        targets = self.scan_targets()
        if not targets:
            self.notify("No hosts to scan: the filter hides them all.", severity="warning")
            return
        self.patchtui.start_scan(targets)

    def action_cancel(self) -> None:
        self.patchtui.cancel_run()

    def action_patch(self) -> None:
        targets = self.scan_targets()
        if not targets:
            self.notify("No hosts to patch: the filter hides them all.", severity="warning")
            return
        self.patchtui.open_patch(targets, chosen_by=self.targets_chosen_by(targets))

    def action_reboot(self) -> None:
        targets = self.scan_targets()
        if not targets:
            self.notify("No hosts to reboot: the filter hides them all.", severity="warning")
            return
        self.patchtui.open_reboot(targets, chosen_by=self.targets_chosen_by(targets))

    def action_pause(self) -> None:
        self.patchtui.toggle_pause()

    def action_command(self) -> None:
        targets = self.scan_targets()
        if not targets:
            self.notify("No hosts to run on: the filter hides them all.", severity="warning")
            return
        self.patchtui.open_command(targets)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # While any text box has the focus, '/' is a character to type, not the filter key.
        return not (action == "filter" and isinstance(self.focused, Input))

    def action_filter(self) -> None:
        filter_input = self.query_one("#filter", Input)
        filter_input.add_class("-shown")
        filter_input.focus()

    def action_clear_filter(self) -> None:
        filter_input = self.query_one("#filter", Input)
        if filter_input.value:
            filter_input.value = ""
        elif filter_input.has_class("-shown"):
            filter_input.remove_class("-shown")
            self.query_one(HostTable).focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.apply_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.query_one(HostTable).focus()

    def apply_filter(self, text: str) -> None:
        self.filter_text = text
        rows = self.patchtui.rows
        table = self.query_one(HostTable)
        table.show_rows(filter_rows(rows, text), self.selected)
        table.sort_rows(rows)
        if table.highlighted_host != self.output_host:
            self.show_output(table.highlighted_host)
        self.sub_title_for_filter(table)

    def sub_title_for_filter(self, table: HostTable) -> None:
        shown, total = table.row_count, len(self.patchtui.rows)
        suffix = f" · {shown}/{total} shown" if self.filter_text else ""
        if self.selected:
            suffix += f" · {len(self.selected)} selected"
        self.sub_title = f"{self.patchtui.inventory_label}{suffix}"

    def action_sort_next(self) -> None:
        table = self.query_one(HostTable)
        index = SORT_COLUMNS.index(table.sort_column) if table.sort_column in SORT_COLUMNS else 0
        table.set_sort(SORT_COLUMNS[(index + 1) % len(SORT_COLUMNS)], self.patchtui.rows)

    def action_sort_reverse(self) -> None:
        table = self.query_one(HostTable)
        table.set_sort(table.sort_column, self.patchtui.rows)

    @on(DataTable.HeaderSelected, "#hosts")
    def _header_selected(self, event: DataTable.HeaderSelected) -> None:
        column = str(event.column_key.value)
        if column in SORT_COLUMNS:
            self.query_one(HostTable).set_sort(column, self.patchtui.rows)

    @on(DataTable.RowSelected, "#hosts")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.patchtui.open_details(str(event.row_key.value))

    def action_next_problem(self) -> None:
        self._jump_to_problem(forward=True)

    def action_previous_problem(self) -> None:
        self._jump_to_problem(forward=False)

    def _jump_to_problem(self, *, forward: bool) -> None:
        """Move to the next (previous) shown host that failed, was unreachable or skipped,
        wrapping around: at 3 a.m. the failures are what needs reading."""
        table = self.query_one(HostTable)
        shown = table.visible_hosts
        if not shown:
            return
        start = table.cursor_row
        count = len(shown)
        for step in range(1, count + 1):
            index = (start + step if forward else start - step) % count
            row = self.patchtui.rows.get(shown[index])
            if row is not None and row.state in PROBLEM_STATES:
                table.move_cursor(row=index)
                return
        self.notify("No failed, unreachable or skipped host is shown.")

    def action_doctor(self) -> None:
        from patchtui.tui.screens.doctor import DoctorScreen, doctor_targets

        table = self.query_one(HostTable)
        names = doctor_targets(list(self.patchtui.rows), self.selected, table.highlighted_host)
        if not names:
            self.notify("No host to check: the filter hides them all.", severity="warning")
            return
        hosts = [self.patchtui.hosts_by_name[name] for name in names]
        self.app.push_screen(DoctorScreen(hosts, self.patchtui.connector_factory))

    def action_details(self) -> None:
        host = self.query_one(HostTable).highlighted_host
        if host is not None:
            self.patchtui.open_details(host)


__all__ = ["HostsScreen"]
