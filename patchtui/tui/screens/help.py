"""The ``?`` screen: every key of the console, in one list built from the bindings."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from patchtui.tui.hostview import FILTER_FORMS

EXTRA_KEYS: tuple[tuple[str, str], ...] = (
    ("enter", "Open the highlighted host (facts, pending updates) or run"),
    ("↑ ↓ PgUp PgDn", "Move in the table; the output pane follows the highlighted host"),
    (
        "click header",
        "Sort by that column (again: reverse); ▲ ascending: A→Z, fewest, oldest first;"
        " ▼ descending: most, newest, most severe first",
    ),
    ("escape", "Clear the filter, close a screen"),
    ("b", "In the history: roll back the highlighted patch run (asks first)"),
    ("e", "In compliance: export the report (html, markdown, csv, json)"),
    (
        "ctrl+s",
        "In the patch form: review (then confirm); in an output pane: save the"
        " host's output to a file (asks before replacing one)",
    ),
    ("f", "In an output pane: follow / stop following new lines"),
    ("w", "In an output pane: wrap long lines / scroll them sideways"),
    ("t", "In an output pane: show / hide the time each line arrived"),
    (
        "ctrl+f /, n N",
        "In an output pane: search (under the hosts table only ctrl+f: / filters"
        " the hosts there), next / previous match",
    ),
    ("ctrl+p", "Command palette: every action above, themes"),
)


def binding_rows(bindings: list[BindingType]) -> list[tuple[str, str]]:
    """(keys, description) for each binding that has a description."""
    rows: list[tuple[str, str]] = []
    for binding in bindings:
        if not isinstance(binding, Binding):
            continue
        description = binding.tooltip or binding.description
        if not description:
            continue
        keys = binding.key_display or binding.key.replace("question_mark", "?")
        keys = keys.replace("slash", "/").replace(",", " ")
        rows.append((keys, description))
    return rows


def help_rows(app_bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
    """The hosts screen's keys, then the app's (passed in: screens never import the app)."""
    from patchtui.tui.screens.hosts import HostsScreen

    explained = {keys for keys, _ in EXTRA_KEYS}
    rows = [
        row
        for row in binding_rows([*HostsScreen.BINDINGS, *app_bindings])
        if row[0] not in explained
    ]
    filters = [(f"/ {form}", f"Filter: {meaning}") for form, meaning in FILTER_FORMS]
    return [*rows, *EXTRA_KEYS, *filters]


HELP_WIDTH = 90
"""The help box's width on a wide screen (app.tcss #help-box)."""


class HelpScreen(ModalScreen[None]):
    """A modal list of keys; any of escape, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "app.pop_screen", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static(Content("patchtui keys"), id="help-title")
            yield DataTable(id="help-keys", show_header=False, cursor_type="none")
            yield Static(Content("escape, q or ? closes this"), id="help-hint")

    def on_mount(self) -> None:
        table: DataTable[Text] = self.query_one("#help-keys", DataTable)
        rows = help_rows(type(self.app).BINDINGS)
        key_width = max(len(keys) for keys, _ in rows)
        # Descriptions wrap inside the box (seen cut at 80 columns: "…stop waiting for
        # running on"): the box is 90 wide or 95% of the screen, less border and padding.
        box = min(HELP_WIDTH, self.app.size.width * 95 // 100) - 4
        table.add_column("key", key="key", width=key_width)
        table.add_column("what", key="what", width=max(20, box - key_width - 6))
        for keys, description in rows:
            table.add_row(
                Text(keys, style="bold", end=""),
                Text(description, end=""),
                height=None,  # as many lines as the description wraps to
            )
