"""One host in detail: what it is (facts) and what it is waiting for (pending updates)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from patchtui.drivers.base import SEVERITIES
from patchtui.textsafe import strip_control
from patchtui.tui.hostview import (
    SEVERITY_VARIABLES,
    STATE_VARIABLES,
    HostRow,
    describe_window,
    format_age,
    format_pending,
    format_reboot,
    format_time,
    normalise_severity,
)
from patchtui.tui.storeview import as_number
from patchtui.tui.widgets.colours import plain, styled, theme_style
from patchtui.tui.widgets.footer import KeyFooter

FACT_FIELDS: tuple[tuple[str, str], ...] = (
    ("os_name", "OS"),
    ("os_id", "OS id"),
    ("os_version", "version"),
    ("os_like", "like"),
    ("kernel", "kernel"),
    ("package_manager", "package manager"),
    ("hostname", "hostname"),
    ("uptime_seconds", "uptime"),
    ("boot_id", "boot id"),
)


def format_uptime(seconds: object) -> str:
    if not isinstance(seconds, int | float):
        return ""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days}d {hours}h {rest // 60}m"


def fact_text(key: str, value: object) -> str:
    if key == "uptime_seconds":
        return format_uptime(value)
    if isinstance(value, list | tuple):
        return ", ".join(str(each) for each in value)
    return "" if value is None else str(value)


def severity_rank(update: dict[str, Any]) -> tuple[int, int, str]:
    severity = normalise_severity(update)
    rank = SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)
    return (0 if update.get("security") else 1, rank, str(update.get("name", "")))


class HostDetailScreen(Screen[None]):
    """Facts and pending updates of one host, as of its last scan."""

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back")]

    def __init__(
        self,
        row: HostRow,
        *,
        now: float,
        recent: Sequence[Mapping[str, Any]] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__()
        self.row = row
        self.hint = hint
        """How to fix the host's error, as 'patchtui doctor' would say it."""
        self.now = now
        self.recent = list(recent)
        """This host's latest run results (newest first), with their package changes."""

    def compose(self) -> ComposeResult:
        row = self.row
        yield Header(icon="")
        yield Static(id="host-summary", classes="summary")
        yield Static(id="host-error", classes="summary-error")
        yield Static(Content("Facts"), classes="section-title")
        yield DataTable(id="facts", show_header=False, cursor_type="none")
        title = f"Pending updates ({format_pending(row) or 'not scanned'} security/total)"
        yield Static(Content(title), classes="section-title")
        yield DataTable(id="updates", cursor_type="row", zebra_stripes=True)
        yield Static(Content("Recent runs"), classes="section-title")
        yield DataTable(id="recent", cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        row = self.row
        self.sub_title = row.name
        variables = self.app.theme_variables
        summary = Text(end="")
        summary.append(row.name, style="bold")
        summary.append(f"  {row.address}")
        summary.append("  state: ")
        summary.append(row.state.value, style=theme_style(variables, STATE_VARIABLES[row.state]))
        summary.append(f"  groups: {', '.join(row.groups) or '-'}")
        if row.labels:
            summary.append("  labels: " + ", ".join(f"{k}={v}" for k, v in row.labels.items()))
        scanned = (
            f"{format_time(row.last_scan)} ({format_age(row.last_scan, self.now)})"
            if row.last_scan is not None
            else "never"
        )
        summary.append(f"\nlast scan: {scanned}  reboot required: {format_reboot(row) or '?'}")
        if row.metadata_stale:
            summary.append("  metadata stale", style=theme_style(variables, "text-warning"))
        summary.append("\n" + describe_window(row, self.now))
        self.query_one("#host-summary", Static).update(Content.from_rich_text(summary))
        problems = []
        if row.error:
            problems.append(f"{row.error_kind}: {row.error}" if row.error_kind else row.error)
        if self.hint and row.error:
            problems.append(f"fix: {self.hint}")
        problems.extend(row.warnings)
        if problems:
            error = self.query_one("#host-error", Static)
            error.update(Content("\n".join(strip_control(each) for each in problems)))
            error.add_class("-shown")
        self._fill_facts()
        self._fill_updates()
        self._fill_recent()

    def _fill_facts(self) -> None:
        table: DataTable[Text] = self.query_one("#facts", DataTable)
        table.add_column("field", key="field")
        table.add_column("value", key="value")
        facts = self.row.facts or {}
        if not facts:
            table.add_row(plain("facts"), plain("not known yet: scan the host (escape, then s)"))
            return
        for key, label in FACT_FIELDS:
            if key in facts:
                table.add_row(plain(label), plain(fact_text(key, facts[key])), key=key)

    def _fill_updates(self) -> None:
        table: DataTable[Text] = self.query_one("#updates", DataTable)
        variables = self.app.theme_variables
        for key, label in (
            ("name", "package"),
            ("installed", "installed"),
            ("candidate", "candidate"),
            ("severity", "severity"),
            ("security", "security"),
            ("repository", "repository"),
            ("advisories", "advisories / CVEs"),
        ):
            table.add_column(label, key=key)
        for index, update in enumerate(sorted(self.row.updates, key=severity_rank)):
            severity = normalise_severity(update)
            severity_colour = SEVERITY_VARIABLES.get(severity, "foreground")
            refs = [*update.get("advisories", ()), *update.get("cves", ())]
            table.add_row(
                plain(str(update.get("name", ""))),
                plain(str(update.get("installed") or "")),
                plain(str(update.get("candidate", ""))),
                styled(severity, theme_style(variables, severity_colour)),
                plain("yes" if update.get("security") else ""),
                plain(str(update.get("repository") or "")),
                plain(", ".join(str(ref) for ref in refs)),
                key=f"{index}:{update.get('name', '')}",
            )

    def _fill_recent(self) -> None:
        table: DataTable[Text] = self.query_one("#recent", DataTable)
        for key, label in (
            ("run", "run"),
            ("operation", "operation"),
            ("result", "result"),
            ("finished", "finished"),
            ("changes", "package changes"),
        ):
            table.add_column(label, key=key)
        if not self.recent:
            table.add_row(
                plain("no run recorded for this host yet"), *(plain("") for _ in range(4))
            )
            return
        for index, result in enumerate(self.recent):
            table.add_row(
                plain(str(result.get("run_id", ""))),
                plain(str(result.get("operation", ""))),
                plain(str(result.get("status", ""))),
                plain(format_time(as_number(result.get("finished")))),
                plain(describe_changes(result.get("changes"))),
                key=f"{index}:{result.get('run_id', '')}",
            )


def describe_changes(changes: object, *, most: int = 3) -> str:
    """'openssl 3.0.11-1 -> 3.0.13-1, curl ... (+4 more)' from stored changes."""
    if not isinstance(changes, list) or not changes:
        return ""
    parts = [
        f"{change.get('name')} {change.get('before') or '-'} -> {change.get('after') or '-'}"
        for change in changes[:most]
        if isinstance(change, Mapping)
    ]
    more = len(changes) - most
    return ", ".join(parts) + (f" (+{more} more)" if more > 0 else "")
