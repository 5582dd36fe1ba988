"""Advisories: the fleet's pending CVEs and advisories, most severe first; patch from one.

The rows are ``patchtui advisories``' (``patchtui.advisories.pending``): the
stored host state of the console's hosts, with the synced OSV records (next to
the database, ``advisories sync``) matched in, and the distributions' own ids
and severities from the scans. Enter on a row lists the hosts it affects
(installed -> fixed version); p on either screen opens the patch form for
exactly those hosts and the advisory's packages, and the usual confirmation
follows.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Static

from patchtui.advisories.pending import AdvisoryRow, pending_advisories
from patchtui.errors import PatchtuiError
from patchtui.tui.hostview import format_age
from patchtui.tui.storeview import ConsoleStore, host_records
from patchtui.tui.widgets.colours import plain, styled, theme_style
from patchtui.tui.widgets.footer import KeyFooter

if TYPE_CHECKING:
    from patchtui.tui.app import PatchtuiApp

SEVERITY_VARIABLES = {
    "critical": "text-error",
    "important": "text-error",
    "moderate": "text-warning",
    "low": "text-success",
}
"""Theme colours of the severity column (unknown stays the plain foreground)."""

ADVISORY_COLUMNS = (
    # The short columns first: on a narrow terminal the long lists scroll off, not the counts.
    ("id", "advisory"),
    ("severity", "severity"),
    ("hosts", "hosts"),
    ("since", "published / seen"),
    ("cves", "CVEs"),
    ("packages", "packages"),
    ("fixed", "fixed in"),
)


class Loaded:
    """What a load found: the rows, and a word on the OSV data (missing, stale)."""

    def __init__(self, rows: list[AdvisoryRow], note: str | None) -> None:
        self.rows = rows
        self.note = note


def console_states(store: ConsoleStore, host_names: Collection[str]) -> list[Mapping[str, Any]]:
    """The stored state of the console's hosts (read on the UI loop: the store has one
    writer, the console's runs, and is not read from other threads)."""
    names = set(host_names)
    return [state for name, state in host_records(store).items() if name in names]


def load_advisories(
    states: Sequence[Mapping[str, Any]],
    db_path: Path | None,
    now: float,
    max_age_days: float | None = None,
    *,
    cve_rows: bool = False,
) -> Loaded:
    """``states``' pending advisories, as ``patchtui advisories`` lists them, with the OSV
    data synced next to the database at ``db_path`` (none without one). Reading and
    matching a distribution's data set takes a while: call it off the UI loop.
    """
    from patchtui.advisories.store import AdvisoryData, advisories_path_for, freshness, load

    data = load(advisories_path_for(db_path)) if db_path is not None else AdvisoryData()
    note = freshness(data, now, _max_age(max_age_days)).message()
    return Loaded(pending_advisories(states, data, cve_rows=cve_rows), note)


def _max_age(days: float | None) -> float:
    from patchtui.advisories.store import DEFAULT_MAX_AGE_DAYS
    from patchtui.config import load_config

    if days is not None:
        return days
    try:
        configured = load_config().advisories_max_age_days
    except PatchtuiError:  # a broken config is reported where it is used; here only a hint
        configured = None
    return DEFAULT_MAX_AGE_DAYS if configured is None else configured


def severity_text(row: AdvisoryRow) -> str:
    """``important (high) 8.1``: patchtui's scale, the distribution's words, the CVSS score."""
    text = row.severity
    if row.words:
        text += f" ({', '.join(sorted(row.words))})"
    if row.cvss is not None:
        text += f" {row.cvss:.1f}"
    return text


def since_text(row: AdvisoryRow, now: float) -> str:
    """The publication date and age where OSV gives it, else when a scan first saw it."""
    if row.published is not None:
        day = dt.datetime.fromtimestamp(row.published, dt.UTC).strftime("%Y-%m-%d")
        return f"{day} ({format_age(row.published, now)})"
    if row.oldest_first_seen is not None:
        return f"seen {format_age(row.oldest_first_seen, now)}"
    return "?"


def _listed(items: Collection[str], shown: int = 3) -> str:
    ordered = sorted(items)
    return ", ".join(ordered[:shown]) + (f", … ({len(ordered)})" if len(ordered) > shown else "")


def row_matches(row: AdvisoryRow, text: str) -> bool:
    """Does every word of ``text`` occur in the row's id, severity, CVEs, packages or hosts?"""
    haystack = " ".join(
        [row.id, row.severity, *row.words, *row.cves, *row.packages, *row.hosts]
    ).lower()
    return all(word in haystack for word in text.lower().split())


def patch_packages(row: AdvisoryRow) -> str:
    """The patch form's package field for ``row``: its packages, as the form takes them."""
    return ", ".join(sorted(row.packages))


def patch_advisory(app: PatchtuiApp, row: AdvisoryRow | None) -> None:
    """The patch form for the console's hosts ``row`` affects, filled in with its packages
    (the rest as last submitted, exclusions dropped: they could leave out the fix); the
    confirmation that follows is the usual one."""
    import dataclasses

    from patchtui.tui.screens.patch_modal import PatchForm

    if row is None:
        return
    hosts = [name for name in app.rows if name in row.hosts]
    if not hosts:
        app.notify(f"{row.id}: none of its hosts is in this console.", severity="warning")
        return
    form = dataclasses.replace(
        app.last_patch_form or PatchForm(), packages=patch_packages(row), exclude=""
    )
    app.open_patch(hosts, chosen_by=f"the hosts {row.id} affects", form=form)


class AdvisoriesScreen(Screen[None]):
    """One row per pending advisory, most severe first; enter lists its hosts."""

    DEFAULT_CSS = """
    AdvisoriesScreen { layout: vertical; }
    #advisory-filter {
        display: none; height: 3; border: tall $border-blurred; background: $surface;
    }
    #advisory-filter.-shown { display: block; }
    #advisory-filter:focus { border: tall $border; }
    #advisories { height: 1fr; background: $surface; }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", tooltip="Clear the filter, else back to the hosts"),
        Binding("q", "app.pop_screen", "Back", show=False),
        Binding("slash", "filter", "Filter", tooltip="Filter by id, CVE, package, host, severity"),
        Binding(
            "p",
            "patch",
            "Patch",
            tooltip="Patch the hosts the highlighted advisory affects, its packages only",
        ),
        Binding("r", "reload", "Reload", tooltip="Read the last scans and OSV data again"),
        Binding(
            "c",
            "cve_rows",
            "CVE rows",
            tooltip="Also a row per CVE, as `patchtui advisories` lists them (again: advisories)",
        ),
    ]

    def __init__(
        self, store: ConsoleStore, host_names: Sequence[str], *, clock: Callable[[], float]
    ):
        super().__init__()
        self.store = store
        self.host_names = list(host_names)
        self.clock = clock
        self.rows: dict[str, AdvisoryRow] = {}
        self.order: list[str] = []
        self.note: str | None = None
        self.loaded = False
        self.filter_text = ""
        self.cve_rows = False
        """Off: one row per advisory, its CVEs in a column (a CVE no advisory covers keeps
        a row). On: every CVE a row too, as the headless command lists them."""

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Input(placeholder="filter: CVE-2024 openssh critical web-01", id="advisory-filter")
        yield Static(Content("reading the last scans…"), id="advisories-summary", classes="summary")
        yield DataTable(id="advisories", cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "advisories"
        table: DataTable[Text] = self.query_one("#advisories", DataTable)
        for key, label in ADVISORY_COLUMNS:
            table.add_column(label, key=key)
        table.focus()
        self.action_reload()

    @work(exclusive=True, group="advisories", exit_on_error=False)
    async def action_reload(self) -> None:
        self.loaded = False
        now = self.clock()
        states = console_states(self.store, self.host_names)
        path = getattr(self.store, "path", None)  # the real store's file; none in some tests
        db_path = path if isinstance(path, Path) else None
        # A synced distribution data set is large: matching it must not freeze the screen.
        try:
            found = await asyncio.to_thread(
                load_advisories, states, db_path, now, cve_rows=self.cve_rows
            )
        except PatchtuiError as error:  # a damaged advisory file: say so, list nothing
            found = Loaded([], f"advisory data not read: {error}")
            self.notify(str(error), title="Advisories", severity="error")
        self.rows = {row.id: row for row in found.rows}
        self.order = [row.id for row in found.rows]
        self.note = found.note
        self._fill()
        self.loaded = True

    def _fill(self) -> None:
        table: DataTable[Text] = self.query_one("#advisories", DataTable)
        highlighted = self.highlighted_id
        table.clear()
        variables = self.app.theme_variables
        now = self.clock()
        shown = [self.rows[ident] for ident in self.order]
        shown = [row for row in shown if row_matches(row, self.filter_text)]
        for row in shown:
            colour = SEVERITY_VARIABLES.get(row.severity)
            severity = severity_text(row)
            table.add_row(
                plain(row.id),
                styled(severity, theme_style(variables, colour)) if colour else plain(severity),
                plain(str(len(row.hosts))),
                plain(since_text(row, now)),
                plain(_listed(row.cves, 2)),
                plain(_listed(row.packages)),
                plain(_listed(row.fixed_versions, 2)),
                key=row.id,
            )
        if highlighted is not None and highlighted in {row.id for row in shown}:
            table.move_cursor(row=table.get_row_index(highlighted))
        hosts = set().union(*(row.hosts for row in self.rows.values())) if self.rows else set()
        kind = "advisories and CVEs" if self.cve_rows else "advisories"
        summary = f"{len(self.rows)} {kind} pending on {len(hosts)} hosts"
        if self.filter_text.strip():
            summary += f" · {len(shown)} shown"
        summary += " · enter: the hosts it affects · p: patch them"
        if self.note:
            summary += f"\n{self.note}"
        self.query_one("#advisories-summary", Static).update(Content(summary))

    @property
    def highlighted_id(self) -> str | None:
        table: DataTable[Text] = self.query_one("#advisories", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return None if key is None else str(key)

    @property
    def highlighted(self) -> AdvisoryRow | None:
        ident = self.highlighted_id
        return None if ident is None else self.rows.get(ident)

    @on(DataTable.RowSelected, "#advisories")
    def _selected(self, event: DataTable.RowSelected) -> None:
        row = self.rows.get(str(event.row_key.value))
        if row is not None:
            self.app.push_screen(AdvisoryHostsScreen(row))

    def action_cve_rows(self) -> None:
        self.cve_rows = not self.cve_rows
        self.action_reload()

    def action_patch(self) -> None:
        patch_advisory(cast("PatchtuiApp", self.app), self.highlighted)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # While the filter has the focus, '/', 'p', 'r', 'c' and 'q' are letters to type.
        if action in {"filter", "patch", "reload", "cve_rows", "app.pop_screen"}:
            return not isinstance(self.focused, Input)
        return True

    def action_filter(self) -> None:
        box = self.query_one("#advisory-filter", Input)
        box.add_class("-shown")
        box.focus()

    def action_back(self) -> None:
        box = self.query_one("#advisory-filter", Input)
        if box.value:
            box.value = ""
        elif box.has_class("-shown"):
            box.remove_class("-shown")
            self.query_one("#advisories", DataTable).focus()
        else:
            self.app.pop_screen()

    @on(Input.Changed, "#advisory-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        if self.loaded:
            self._fill()

    @on(Input.Submitted, "#advisory-filter")
    def _filter_submitted(self) -> None:
        self.query_one("#advisories", DataTable).focus()


class AdvisoryHostsScreen(Screen[None]):
    """The hosts one advisory affects: each pending package, installed -> fixed version."""

    DEFAULT_CSS = """
    AdvisoryHostsScreen { layout: vertical; }
    #advisory-hosts { height: 1fr; background: $surface; }
    """

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding(
            "p",
            "patch",
            "Patch these hosts",
            tooltip="Open the patch form for these hosts and this advisory's packages",
        ),
    ]

    def __init__(self, row: AdvisoryRow) -> None:
        super().__init__()
        self.row = row

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Static(id="advisory-summary", classes="summary")
        yield DataTable(id="advisory-hosts", cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        row = self.row
        self.sub_title = f"advisory {row.id}"
        lines = [
            f"{row.id} · {severity_text(row)} · {len(row.hosts)} hosts",
            f"CVEs: {', '.join(sorted(row.cves)) or '-'}",
            f"packages: {patch_packages(row)} · p: patch these hosts (these packages only)",
        ]
        self.query_one("#advisory-summary", Static).update(Content("\n".join(lines)))
        table: DataTable[Text] = self.query_one("#advisory-hosts", DataTable)
        for key, label in (
            ("host", "host"),
            ("package", "package"),
            ("versions", "installed → fixed"),
        ):
            table.add_column(label, key=key)
        for index, update in enumerate(affected_updates(row)):
            table.add_row(
                plain(str(update.get("host"))),
                plain(str(update.get("package"))),
                plain(version_change(update)),
                key=str(index),
            )
        table.focus()

    def action_patch(self) -> None:
        patch_advisory(cast("PatchtuiApp", self.app), self.row)


def affected_updates(row: AdvisoryRow) -> list[Mapping[str, Any]]:
    """The row's pending updates by host, then package."""
    return sorted(
        row.updates, key=lambda update: (str(update.get("host")), str(update.get("package")))
    )


def version_change(update: Mapping[str, Any]) -> str:
    """``1:8.9p1-3ubuntu0.7 → 1:8.9p1-3ubuntu0.10``; the OSV fixed version where matched
    (the candidate offered may be newer still, and then is said too)."""
    installed = update.get("installed") or "?"
    candidate = update.get("candidate")
    fixed = update.get("fixed") or candidate or "?"
    text = f"{installed} → {fixed}"
    if candidate and candidate != fixed:
        text += f" (offered {candidate})"
    return text


__all__ = [
    "AdvisoriesScreen",
    "AdvisoryHostsScreen",
    "console_states",
    "load_advisories",
    "patch_advisory",
    "patch_packages",
    "row_matches",
    "severity_text",
    "since_text",
    "version_change",
]
