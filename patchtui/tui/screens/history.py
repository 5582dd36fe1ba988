"""Past runs from the store, newest first; one run's per-host results and transcripts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Log, Static

from patchtui.engine.events import HostState
from patchtui.engine.outcome import (
    COMPLETED,
    COMPLETED_WITH_FAILURES,
    DRY_RUN,
    HALTED,
    INTERRUPTED,
    names_to_repeat,
    pending_text,
    skipped_text,
    stored_run_is_dry,
    stored_run_label,
    summary_from_record,
)
from patchtui.textsafe import strip_control
from patchtui.tui.hostview import SORT_DESCENDING, STATE_VARIABLES, format_time
from patchtui.tui.storeview import (
    ConsoleStore,
    host_result_records,
    run_host_count,
    run_outcome,
    run_records,
    summary_of,
    transcript_lines,
)
from patchtui.tui.widgets.colours import plain, styled, theme_style
from patchtui.tui.widgets.footer import KeyFooter

if TYPE_CHECKING:
    from patchtui.tui.app import PatchtuiApp

OUTCOME_VARIABLES = {
    COMPLETED: "text-success",
    COMPLETED_WITH_FAILURES: "text-error",
    INTERRUPTED: "text-warning",
    HALTED: "text-warning",
    DRY_RUN: "text-accent",
    "running": "text-accent",
}


def options_text(run: Mapping[str, Any]) -> str:
    """The options a run was started with, as the operator would have typed them."""
    options = run.get("options")
    if not isinstance(options, Mapping):
        return ""
    words = []
    for key, value in options.items():
        if key in ("waves", "canaries", "install", "from", "versions") or value in (
            None,
            False,
            [],
            {},
            "",
            0,
        ):
            continue
        if value is True:
            words.append(key.replace("_", "-"))
        elif isinstance(value, list):
            words.append(f"{key.replace('_', '-')}={','.join(str(each) for each in value)}")
        elif isinstance(value, Mapping):
            words.append(f"{key}=" + ",".join(f"{k}:{v}" for k, v in value.items()))
        else:
            words.append(f"{key.replace('_', '-')}={value}")
    return " ".join(words)


def _run_matches(run: Mapping[str, Any], query: str) -> bool:
    """Does every word of ``query`` appear in the run's operation, outcome, user,
    options or id?"""
    haystack = " ".join(
        (
            str(run.get("operation", "")),
            stored_run_label(run),
            str(run.get("user", "")),
            options_text(run),
            str(run.get("run_id", "")),
        )
    ).lower()
    return all(word in haystack for word in query.lower().split())


def _count(value: object) -> str:
    return str(value) if isinstance(value, int) else ""


def _duration(value: object) -> str:
    return f"{value:.1f}s" if isinstance(value, int | float) else ""


class HistoryScreen(Screen[None]):
    """Every run the store remembers; Enter opens one."""

    BINDINGS = [
        Binding("q", "app.pop_screen", "Back"),
        Binding("r", "reload", "Reload"),
        Binding("slash", "filter", "Filter", tooltip="History: filter the runs"),
        Binding("escape", "clear_filter", "Back", show=False),
        Binding(
            "b",
            "rollback",
            "Roll back",
            tooltip="History: roll back the highlighted patch run (asks first)",
        ),
        Binding(
            "t",
            "again('retry')",
            "Retry",
            tooltip="History: patch again the hosts the highlighted run did not finish ok",
        ),
        Binding(
            "u",
            "again('resume')",
            "Resume",
            tooltip="History: patch the hosts the highlighted run never reached",
        ),
    ]

    def __init__(self, store: ConsoleStore) -> None:
        super().__init__()
        self.store = store
        self.runs: dict[str, Mapping[str, Any]] = {}

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Static(
            Content("Runs, newest first · enter: open · b: roll back · t: retry · u: resume"),
            classes="section-title",
        )
        yield Input(
            placeholder="filter runs: operation, outcome, user, option, run id (escape clears)",
            id="runs-filter",
        )
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "history"
        self.filter_text = ""
        table: DataTable[Text] = self.query_one("#runs", DataTable)
        for key, label in (
            # Runs are listed newest first: descending, the arrow the hosts table uses.
            ("started", f"started {SORT_DESCENDING}"),
            ("operation", "operation"),
            ("outcome", "outcome"),
            ("user", "by"),
            ("hosts", "hosts"),
            ("ok", "ok"),
            ("failed", "failed"),
            ("unreachable", "unreachable"),
            ("skipped", "skipped"),
            ("pending", "pending"),
            ("security", "security"),
            ("duration", "duration"),
            ("run_id", "run id"),
        ):
            table.add_column(label, key=key)
        self.action_reload()
        table.focus()

    def action_reload(self) -> None:
        table: DataTable[Text] = self.query_one("#runs", DataTable)
        table.clear()
        variables = self.app.theme_variables
        self.runs = {}
        for run in run_records(self.store):
            run_id = str(run["run_id"])
            if not _run_matches(run, self.filter_text):
                continue
            self.runs[run_id] = run
            summary = summary_of(run)
            outcome = run_outcome(run)
            outcome_colour = OUTCOME_VARIABLES.get(
                DRY_RUN if stored_run_is_dry(run) else outcome, "foreground"
            )
            started = run.get("started")
            table.add_row(
                plain(format_time(started) if isinstance(started, int | float) else ""),
                plain(str(run.get("operation", ""))),
                styled(stored_run_label(run), theme_style(variables, outcome_colour)),
                plain(str(run.get("user") or "")),
                plain(_count(run_host_count(run))),
                plain(_count(summary.get("ok"))),
                plain(_count(summary.get("failed"))),
                plain(_count(summary.get("unreachable"))),
                plain(_count(summary.get("skipped"))),
                plain(_count(summary.get("pending"))),
                plain(_count(summary.get("security"))),
                plain(_duration(summary.get("duration"))),
                plain(run_id),
                key=run_id,
            )
        if not self.runs and not self.filter_text:
            self.notify("No runs in the database yet.")

    def action_filter(self) -> None:
        box = self.query_one("#runs-filter", Input)
        box.add_class("-shown")
        box.focus()

    def action_clear_filter(self) -> None:
        """escape: clear the filter, then hide it, then go back."""
        box = self.query_one("#runs-filter", Input)
        if box.value:
            box.value = ""
        elif box.has_class("-shown"):
            box.remove_class("-shown")
            self.query_one("#runs", DataTable).focus()
        else:
            self.app.pop_screen()

    @on(Input.Changed, "#runs-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self.action_reload()

    @on(Input.Submitted, "#runs-filter")
    def _filter_submitted(self) -> None:
        self.query_one("#runs", DataTable).focus()

    def _highlighted_run(self) -> Mapping[str, Any] | None:
        table: DataTable[Text] = self.query_one("#runs", DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return self.runs.get(str(row_key.value))

    def action_again(self, mode: str) -> None:
        """Retry (or resume) the highlighted patch run: the patch form, then its hosts."""
        run = self._highlighted_run()
        if run is None:
            return
        if run.get("operation") not in {"patch", "reboot"}:
            self.notify(f"Only a patch run can be {mode}d.", severity="warning")
            return
        run_id = str(run["run_id"])
        names = names_to_repeat(host_result_records(self.store, run_id).values(), mode=mode)
        patchtui = cast("PatchtuiApp", self.app)
        targets = [name for name in patchtui.rows if name in names]
        if not targets:
            what = "did not finish ok" if mode == "retry" else "was left unfinished"
            self.notify(f"No host of this console {what} in run {run_id}.")
            return
        self.app.pop_screen()
        patchtui.open_patch(targets, chosen_by=f"{mode} of run {run_id}: {len(targets)} hosts")

    def action_rollback(self) -> None:
        run = self._highlighted_run()
        if run is None:
            return
        if run.get("operation") not in {"patch", "rollback"}:
            self.notify("Only patch (and rollback) runs change packages.", severity="warning")
            return
        cast("PatchtuiApp", self.app).open_rollback(str(run["run_id"]))

    @on(DataTable.RowSelected, "#runs")
    def _open_run(self, event: DataTable.RowSelected) -> None:
        run_id = str(event.row_key.value)
        if run_id in self.runs:
            self.app.push_screen(RunScreen(self.store, self.runs[run_id]))


class RunScreen(Screen[None]):
    """One run: each host's result, and the highlighted host's transcript."""

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back")]

    def __init__(self, store: ConsoleStore, run: Mapping[str, Any]) -> None:
        super().__init__()
        self.store = store
        self.run = run
        self.run_id = str(run["run_id"])
        self.transcript_host: str | None = None

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Static(id="run-summary", classes="summary")
        yield DataTable(id="results", cursor_type="row", zebra_stripes=True)
        yield Log(id="transcript", highlight=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = f"run {self.run_id}"
        run, summary = self.run, summary_of(self.run)
        started = run.get("started")
        text = (
            f"{run.get('operation', '')} {stored_run_label(run)}"
            f" · started {format_time(started) if isinstance(started, int | float) else '?'}"
        )
        if run.get("user"):
            text += f" · by {run.get('user')}"
        counts = summary_from_record(summary)
        if counts is not None:
            text += f" · {counts.ok}/{counts.hosts} {'planned' if counts.dry_run else 'ok'}"
            if skipped := skipped_text(counts):
                text += f" · {skipped}"
            text += f" · {pending_text(counts)}"
        if options := options_text(run):
            text += f"\noptions: {options}"
        self.query_one("#run-summary", Static).update(Content(text))
        table: DataTable[Text] = self.query_one("#results", DataTable)
        for key, label in (
            ("host", "host"),
            ("status", "status"),
            ("pending", "pending"),
            ("security", "security"),
            ("reboot", "reboot"),
            ("duration", "duration"),
            ("error", "error"),
        ):
            table.add_column(label, key=key)
        variables = self.app.theme_variables
        for host, result in sorted(host_result_records(self.store, self.run_id).items()):
            status = str(result.get("status", ""))
            try:
                colour = STATE_VARIABLES[HostState(status)]
            except ValueError:
                colour = "foreground"
            reboot = result.get("reboot_required")
            error = result.get("error")
            kind = result.get("error_kind")
            table.add_row(
                plain(host),
                styled(status, theme_style(variables, colour)),
                plain(_count(result.get("pending_count"))),
                plain(_count(result.get("security_count"))),
                plain({True: "yes", False: "no"}.get(reboot, "") if reboot is not None else ""),
                plain(_duration(result.get("duration"))),
                plain(strip_control(f"{kind}: {error}" if kind and error else str(error or ""))),
                key=host,
            )
        table.focus()

    @on(DataTable.RowHighlighted, "#results")
    def _show_transcript(self, event: DataTable.RowHighlighted) -> None:
        host = str(event.row_key.value)
        if host == self.transcript_host:
            return
        self.transcript_host = host
        log = self.query_one("#transcript", Log)
        log.clear()
        log.border_title = Content(f"transcript: {host}")
        lines = transcript_lines(self.store, self.run_id, host)
        log.write_lines([strip_control(line) for line in lines] or ["(no output recorded)"])
