"""The hosts table: one row per host keyed by name, cells updated in place.

Rows are added once (and removed or re-added only when the filter changes);
a redraw compares each cell with what is on screen and calls ``update_cell``
only for those that differ, so a 1,000-host run repaints a handful of cells
per tick instead of the whole table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from rich.cells import cell_len
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.render import measure
from textual.renderables.styled import Styled
from textual.widgets import DataTable
from textual.widgets._data_table import default_cell_formatter
from textual.widgets.data_table import RowDoesNotExist, RowKey

from patchtui.engine.events import HostState
from patchtui.tui.hostview import (
    STATE_VARIABLES,
    HostRow,
    format_age,
    format_pending,
    format_reason,
    format_reboot,
    format_window,
    sort_arrow,
    sort_key,
)
from patchtui.tui.widgets.colours import plain, shown_text, styled, theme_style

COLUMNS: tuple[tuple[str, str], ...] = (
    # What diagnosis needs first, so it stays on an 80-column screen: the host, how it
    # is, why, what is pending, reboot. Groups and OS, which describe more than they
    # diagnose, come last.
    ("sel", " "),
    ("name", "host"),
    ("state", "state"),
    ("reason", "reason"),
    ("pending", "sec/pending"),
    ("reboot", "reboot"),
    ("last_scan", "last scan"),
    ("window", "window"),
    ("command", "command"),
    ("groups", "groups"),
    ("os", "OS"),
)
FIXED_COLUMNS = 2
"""The selection mark and the host name stay put while the table scrolls sideways."""
REASON_WIDTH = 15
"""Short error kinds fit (hostkey-changed, outside-window); the whole error is in the detail."""
FIXED_WIDTHS: dict[str, int] = {
    # Columns whose longest value is known: fixed, so the table never jumps mid-run.
    "sel": 1,
    "state": max(len(state.value) for state in HostState),  # rolling-back
    "reason": REASON_WIDTH,
    "pending": len("sec/pending") + 2,
    "reboot": len("reboot") + 2,
    "last_scan": len("last scan") + 2,
    "window": len("opens Sun 02:00"),
    "command": len("unreachable"),
}
SELECTED_MARK = "●"
REBUILD_AFTER = 32
"""More rows leaving the view than this: rebuild rather than remove them one by one."""
CELL_CACHE_SIZE = 8_000
"""Rendered cells kept: several screens of a 9-column table in each cursor/focus look."""

CellKey = tuple[object, ...]
_EMPTY_CELL = Text(no_wrap=True, end="")
"""What ``DataTable`` draws for a cell whose text is empty (its ``_EMPTY_TEXT``)."""


class HostTable(DataTable[Text]):
    """DataTable of HostRows; the screen owns the rows, this draws them."""

    # DataTable's home/end scroll sideways; in a host list they move to the first/last host.
    BINDINGS = [
        Binding("home,g", "scroll_top", "First host", show=False),
        Binding("end,G", "scroll_bottom", "Last host", show=False),
    ]

    def __init__(self, *, clock: Callable[[], float], **kwargs: object) -> None:
        super().__init__(
            cursor_type="row",
            zebra_stripes=True,
            fixed_columns=FIXED_COLUMNS,
            **kwargs,  # type: ignore[arg-type]
        )
        self.clock = clock
        self.sort_column = "name"
        self.sort_reverse = False
        self._shown: dict[str, dict[str, Text]] = {}
        """What each visible row's cells show now, to skip unchanged updates."""
        self._cells_by_content: LRUCache[CellKey, list[list[Segment]]] = LRUCache(CELL_CACHE_SIZE)
        """Rendered cells keyed by what decides their look (see ``_render_cell``)."""

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(Text(label + "  "), key=key, width=FIXED_WIDTHS.get(key))
        self._label_sort_column()

    # ------------------------------------------------------------ cells

    def render_cells(self, row: HostRow, selected: bool) -> dict[str, Text]:
        variables = self.app.theme_variables
        state_style = theme_style(
            variables,
            STATE_VARIABLES.get(row.state, "foreground"),
            bold=row.state in (HostState.FAILED, HostState.UNREACHABLE),
        )
        pending = format_pending(row)
        pending_style = (
            theme_style(variables, "text-warning")
            if row.security and row.security_supported
            else theme_style(variables, "foreground")
        )
        reboot = format_reboot(row)
        window = format_window(row, self.clock())
        mark = SELECTED_MARK if selected else " "
        return {
            "sel": styled(mark, theme_style(variables, "text-accent")),
            "name": plain(row.name),
            "groups": plain(",".join(row.groups)),
            "os": plain(row.os),
            "state": styled(row.state.value, state_style),
            "reason": styled(format_reason(row), state_style),
            "pending": styled(pending, pending_style),
            "reboot": styled(
                reboot, theme_style(variables, "text-warning" if reboot == "yes" else "foreground")
            ),
            "last_scan": plain(format_age(row.last_scan, self.clock())),
            "window": styled(
                window,
                theme_style(variables, "text-warning" if window == "invalid" else "foreground"),
            ),
            # The last ad-hoc command's result: its own column, never the patch state.
            "command": styled(
                row.command,
                theme_style(
                    variables, "foreground" if row.command in ("", "exit 0") else "text-warning"
                ),
            ),
        }

    def show_rows(self, rows: Iterable[HostRow], selected: set[str]) -> None:
        """Make exactly ``rows`` visible (filter changes), keeping the rest of the table."""
        wanted = {row.name: row for row in rows}
        leaving = [name for name in self._shown if name not in wanted]
        if len(leaving) > REBUILD_AFTER:
            # Typing a filter can hide hundreds of rows at once; one clear() is far
            # cheaper than hundreds of remove_row() calls (each reindexes the table).
            self.clear()
            self._shown.clear()
        else:
            for name in leaving:
                self.remove_row(name)
                del self._shown[name]
        for name, row in wanted.items():
            if name not in self._shown:
                cells = self.render_cells(row, name in selected)
                self.add_row(*(cells[key] for key, _ in COLUMNS), key=name)
                self._shown[name] = cells

    def update_row(self, row: HostRow, selected: bool) -> bool:
        """Redraw the cells of ``row`` that changed; True if any did."""
        shown = self._shown.get(row.name)
        if shown is None:
            return False  # filtered out: drawn when it becomes visible again
        changed = False
        for key, cell in self.render_cells(row, selected).items():
            if not _same(cell, shown.get(key)):
                try:
                    # OS and groups are learnt during a run: let those columns grow.
                    self.update_cell(row.name, key, cell, update_width=key not in FIXED_WIDTHS)
                except RowDoesNotExist:
                    return changed
                shown[key] = cell
                changed = True
        return changed

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """Column widths and scrollable size for new rows, measuring only what can grow.

        ``DataTable`` measures every cell of every new row through Rich (a fresh
        console-options object per cell), fixed-width columns included, whose measure
        it never uses. Clearing a filter re-adds every row, so that was ~2,700
        measurements, ~15 ms of the key press on 300 hosts. Our cells are ``Text``, and
        a ``Text`` measures as its widest line: measured here directly, same numbers.
        Rows with labels or automatic height (never added here) take Textual's way.
        """
        keys = [key for key in new_rows if key in self._row_locations and key in self.rows]
        if any(self.rows[key].label is not None or self.rows[key].auto_height for key in keys):
            super()._update_dimensions(keys)
            return
        growing = [column for column in self.ordered_columns if column.auto_width]
        console = self.app.console
        for key in keys:
            cells = self._data[key]
            for column in growing:
                cell = cells.get(column.key)
                if isinstance(cell, Text):
                    width = max((cell_len(line) for line in cell.plain.splitlines()), default=0)
                else:
                    width = measure(console, default_cell_formatter(cell), 1)
                if width > column.content_width:
                    column.content_width = width
        header_height = self.header_height if self.show_header else 0
        self.virtual_size = Size(
            sum(column.get_render_width(self) for column in self.columns.values())
            + self._row_label_column_width,
            self._total_row_height + header_height,
        )

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        """A cell's segments, rendered through Rich only when its look changed.

        ``DataTable`` keys its cell cache on a counter that every ``update_cell`` bumps
        and empties it on every style update (a focus change): one host's state
        changing, or ``/`` moving focus to the filter, re-rendered every visible cell
        through Rich, ~40 ms of a key press on a busy fleet. Here a cell is keyed by
        everything its rendering reads (its text and spans, the row and component
        styles, the width, its row and column for the click metadata), so only cells
        that look different are rendered again, and the result is the same. The
        header and the fixed columns (host and selection mark, drawn twice per line)
        too: during a real run they were over half of the table's drawing
        (benchmarks/console_load.py --real-lab). Label and auto-height cells, and
        cells that are not ``Text``, take Textual's way.
        """
        is_header = row_index == -1
        column_key = self._column_locations.get_key(column_index) if column_index >= 0 else None
        cell: object = None
        if is_header:
            if column_index >= 0 and self.header_height == 1:
                cell = self.ordered_columns[column_index].label
        else:
            row_key = self._row_locations.get_key(row_index) if row_index >= 0 else None
            row = self.rows.get(row_key) if row_key is not None else None
            if row_key is not None and row is not None and row.height == 1 and not row.auto_height:
                cell = self._data.get(row_key, {}).get(column_key) if column_key else None
        if not isinstance(cell, Text) or column_key is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        is_fixed = not is_header and (
            row_index < self.fixed_rows or column_index < self.fixed_columns
        )
        component_style, post_style = self._get_styles_to_render_cell(
            is_header,
            False,
            is_fixed,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        key: CellKey = (
            row_index,
            column_index,
            base_style,
            component_style,
            post_style,
            width,
            self.cell_padding,
            cell.plain,
            cell.style,
            tuple(cell.spans),
            cell.justify,
            cell.overflow,
            cell.no_wrap,
        )
        cached = self._cells_by_content.get(key)
        if cached is not None:
            return cached
        # What DataTable._render_cell does for a one-line Text cell (an empty one is
        # swapped for a no-wrap empty Text there too, which renders one more segment;
        # header labels are drawn as they are).
        renderable = cell if cell.plain or is_header else _EMPTY_CELL
        options = self.app.console_options.update_dimensions(width, 1).update(no_wrap=True)
        lines = self.app.console.render_lines(
            Styled(
                Padding(renderable, (0, self.cell_padding)),
                pre_style=base_style
                + Style.from_meta({"row": row_index, "column": column_index})
                + component_style,
                post_style=post_style,
            ),
            options,
        )
        self._cells_by_content[key] = lines
        return lines

    @property
    def visible_hosts(self) -> list[str]:
        """Visible host names in display order."""
        return [str(row.key.value) for row in self.ordered_rows]

    # ------------------------------------------------------------ sorting

    def sort_rows(self, rows: Mapping[str, HostRow]) -> None:
        """Re-sort by the current column, keeping the cursor on the same host."""
        current = self.highlighted_host
        column = self.sort_column
        # The name cell shows the name without control sequences: map it back.
        real = {shown_text(name): name for name in rows}
        self.sort(
            "name",
            key=lambda cell: sort_key(rows[real.get(cell.plain, cell.plain)], column),
            reverse=self.sort_reverse,
        )
        if current is not None and current in self._shown:
            self.move_cursor(row=self.get_row_index(current), animate=False, scroll=True)

    def set_sort(self, column: str, rows: Mapping[str, HostRow]) -> None:
        """Sort by ``column``; choosing the current column again reverses the order."""
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, False
        self._label_sort_column()
        self.sort_rows(rows)

    def _label_sort_column(self) -> None:
        for key, label in COLUMNS:
            column = self.columns.get(key)  # type: ignore[call-overload]
            if column is None:
                continue
            # Every label keeps room for the arrow so column widths never jump;
            # the caller re-sorts next, which redraws the header.
            arrow = "  "
            if key == self.sort_column:
                arrow = " " + sort_arrow(key, self.sort_reverse)
            column.label = Text(label + arrow)

    @property
    def highlighted_host(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:  # cursor outside the table while rows are being replaced
            return None
        return None if row_key.value is None else str(row_key.value)


def _same(new: Text, old: Text | None) -> bool:
    # Text.__eq__ ignores the base style, and a theme change alters only that.
    return old is not None and new.plain == old.plain and new.style == old.style
