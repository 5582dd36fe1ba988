"""Compliance: the stored host state judged against the policy, and the report export.

The evaluation and the renderers are the same as ``patchtui compliance``
(patchtui.compliance): this screen only shows the report and writes it to a
file under the data directory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Header, Label, Select, Static

from patchtui import paths
from patchtui.compliance.evaluate import (
    COMPLIANT,
    NON_COMPLIANT,
    ComplianceReport,
    HostCompliance,
    evaluate_fleet,
)
from patchtui.compliance.policy import DEFAULT_POLICY, Policy, load_policy
from patchtui.compliance.report import missing_cell, render, write_atomically
from patchtui.errors import PatchtuiError
from patchtui.textsafe import strip_control
from patchtui.tui.hostview import format_time
from patchtui.tui.storeview import ConsoleStore, host_records
from patchtui.tui.widgets.colours import plain, styled, theme_style
from patchtui.tui.widgets.footer import KeyFooter

EXPORT_FORMATS: dict[str, str] = {
    # format name (patchtui.compliance.report) -> file extension
    "html": "html",
    "markdown": "md",
    "csv": "csv",
    "json": "jsonl",
}

STATUS_VARIABLES = {
    COMPLIANT: "text-success",
    NON_COMPLIANT: "text-error",
}


def console_policy(config_file: Path | None = None) -> Policy:
    """The policy the config file names (``[defaults] policy``), else the built-in default.

    A broken config or policy file raises ConfigError: judging a fleet by a
    policy other than the one the operator wrote would be worse than no report.
    """
    from patchtui.config import load_config

    policy_path = load_config(config_file).policy
    return load_policy(policy_path) if policy_path is not None else DEFAULT_POLICY


def build_report(
    store: ConsoleStore, host_names: Sequence[str], policy: Policy, now: float, *, source: str = ""
) -> ComplianceReport:
    """Evaluate the console's hosts; a host the store never saw is evaluated as never scanned."""
    stored: Mapping[str, Mapping[str, Any]] = host_records(store)
    states = [stored.get(name, {"name": name}) for name in host_names]
    from patchtui.config import load_config

    days = load_config().stale_mirror_limit  # the same limit as the scan and the CLI report
    return evaluate_fleet(states, policy, now, source=source, stale_mirror_days=days)


def export_path(fmt: str, now: float, directory: Path | None = None) -> Path:
    """A new file name under ``directory`` (the data dir's ``reports``): never overwrites."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    base = directory or paths.data_dir() / "reports"
    extension = EXPORT_FORMATS[fmt]
    path = base / f"compliance-{stamp}.{extension}"
    number = 2
    while path.exists():  # two exports in one second: keep both
        path = base / f"compliance-{stamp}-{number}.{extension}"
        number += 1
    return path


def reasons_text(host: HostCompliance) -> str:
    """The reasons that count against the host, in the policy's words, on one line."""
    return "; ".join(strip_control(reason.message) for reason in host.active_reasons)


class ComplianceScreen(Screen[None]):
    """Summary counts, then one row per host with its status and reasons."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("e", "export", "Export", tooltip="Write the report in the chosen format"),
        Binding("r", "reload", "Reload", tooltip="Evaluate again from the database"),
    ]

    def __init__(
        self,
        store: ConsoleStore,
        host_names: Sequence[str],
        *,
        clock: Callable[[], float] = time.time,
        source: str = "",
    ) -> None:
        super().__init__()
        self.store = store
        self.host_names = list(host_names)
        self.clock = clock
        self.source = source
        self.report: ComplianceReport | None = None
        self.exported: Path | None = None

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Static(id="compliance-summary", classes="summary")
        yield Static(id="compliance-error", classes="summary-error")
        yield DataTable(id="compliance-hosts", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="export-bar"):
            yield Label("Export as")
            yield Select(
                [(name, name) for name in EXPORT_FORMATS],
                value="html",
                allow_blank=False,
                id="export-format",
            )
            yield Static(Content("e: export to the data directory"), classes="dialog-hint")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "compliance"
        table: DataTable[Text] = self.query_one("#compliance-hosts", DataTable)
        for key, label in (
            ("host", "host"),
            ("status", "status"),
            ("missing", "missing"),
            ("security", "security"),
            ("reboot", "reboot"),
            ("last_scan", "last scan"),
            ("reasons", "reasons"),
        ):
            table.add_column(label, key=key)
        self.action_reload()
        table.focus()

    def action_reload(self) -> None:
        error = self.query_one("#compliance-error", Static)
        table: DataTable[Text] = self.query_one("#compliance-hosts", DataTable)
        table.clear()
        try:
            policy = console_policy()
        except PatchtuiError as problem:
            self.report = None
            error.update(Content(f"policy not loaded: {problem}"))
            error.add_class("-shown")
            self.query_one("#compliance-summary", Static).update(Content("no report"))
            return
        error.remove_class("-shown")
        report = self.report = build_report(
            self.store, self.host_names, policy, self.clock(), source=self.source
        )
        summary = report.summary
        self.query_one("#compliance-summary", Static).update(
            Content(
                f"{summary.get('hosts', 0)} hosts: {summary.get('compliant', 0)} compliant · "
                f"{summary.get('non_compliant', 0)} non-compliant · "
                f"{summary.get('unknown', 0)} unknown · "
                f"{summary.get('missing_security', 0)} security updates missing · "
                f"{summary.get('reboot_required', 0)} need a reboot\n"
                f"policy {policy.name} ({policy.source})"
            )
        )
        variables = self.app.theme_variables
        for host in report.hosts:
            colour = STATUS_VARIABLES.get(host.status, "text-warning")
            security = (
                str(host.counts.missing_security)
                if host.security_supported and host.last_scan is not None
                else "-"  # unknown: no security data, or never scanned
            )
            reboot = {True: "yes", False: "no", None: "?"}[host.reboot_required]
            table.add_row(
                plain(strip_control(host.host)),
                styled(host.status, theme_style(variables, colour)),
                plain(missing_cell(host)),
                plain(security),
                plain(reboot),
                plain(format_time(host.last_scan) or "never"),
                plain(reasons_text(host)),
                key=host.host,
            )

    def action_export(self) -> None:
        if self.report is None:
            self.notify("No report to export: fix the policy first.", severity="error")
            return
        fmt = str(self.query_one("#export-format", Select).value)
        path = export_path(fmt, self.clock())
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, render(self.report, fmt))
        except (OSError, PatchtuiError) as error:
            self.notify(f"Export failed: {error}", severity="error")
            return
        self.exported = path
        self.notify(str(path), title=f"Compliance report ({fmt}) written")

    @on(Select.Changed, "#export-format")
    def _format_changed(self) -> None:
        self.query_one("#compliance-hosts", DataTable).focus()


__all__ = ["ComplianceScreen", "build_report", "console_policy", "export_path", "reasons_text"]
