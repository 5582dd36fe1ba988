"""The compliance screen: counts and per-host reasons from the policy; the report export."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from textual.widgets import DataTable, Select, Static
from tuihelp import wait_until

from patchtui import paths
from patchtui.compliance.evaluate import COMPLIANT, NON_COMPLIANT, UNKNOWN
from patchtui.store.db import Store
from patchtui.tui.app import PatchtuiApp
from patchtui.tui.screens.compliance import ComplianceScreen, console_policy, export_path
from patchtui.tui.screens.hosts import HostsScreen

SIZE = (160, 45)


def scanned(app: PatchtuiApp) -> bool:
    run = app.bridge.run
    return run is not None and not run.running and app.job is None


async def test_non_compliant_before_a_patch_and_export_writes_files(
    tui_lab_app: Callable[..., PatchtuiApp], tui_store: Store
) -> None:
    app = tui_lab_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: scanned(app), timeout=60)
        await pilot.press("C")
        assert isinstance(app.screen, ComplianceScreen)
        screen = app.screen
        report = screen.report
        assert report is not None
        # The lab's hosts all wait for security updates: the strict default says no.
        assert report.summary["hosts"] == 6
        assert report.summary["non_compliant"] >= 1
        summary = str(screen.query_one("#compliance-summary", Static).render())
        assert f"{report.summary['non_compliant']} non-compliant" in summary
        table = screen.query_one("#compliance-hosts", DataTable)
        assert table.row_count == 6
        failing = next(host for host in report.hosts if host.status == NON_COMPLIANT)
        assert table.get_cell(failing.host, "status").plain == NON_COMPLIANT
        reasons = table.get_cell(failing.host, "reasons").plain
        assert reasons and reasons.split("; ")[0] == failing.active_reasons[0].message

        await pilot.press("e")
        html = screen.exported
        assert html is not None and html.suffix == ".html"
        assert html.parent == paths.data_dir() / "reports"
        assert "<html" in html.read_text().lower()

        screen.query_one("#export-format", Select).value = "json"
        await pilot.pause()
        await pilot.press("e")
        jsonl = screen.exported
        assert jsonl is not None and jsonl != html and jsonl.suffix == ".jsonl"
        lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
        assert lines[-1]["type"] == "summary" and lines[-1]["hosts"] == 6
        await pilot.press("escape")
        assert isinstance(app.screen, HostsScreen)


async def test_never_scanned_hosts_are_unknown(
    tui_offline_app: Callable[..., PatchtuiApp], tui_store: Store
) -> None:
    app = tui_offline_app(store=tui_store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("C")
        await wait_until(pilot, lambda: isinstance(app.screen, ComplianceScreen))
        assert isinstance(app.screen, ComplianceScreen)
        report = app.screen.report
        assert report is not None
        assert {host.status for host in report.hosts} == {UNKNOWN}
        assert COMPLIANT not in {host.status for host in report.hosts}
        table = app.screen.query_one("#compliance-hosts", DataTable)
        # Host names are shown literally, never as markup.
        assert table.get_cell("dev-[red]x[/red]", "host").plain == "dev-[red]x[/red]"


async def test_a_broken_policy_file_is_shown_not_replaced(
    tui_offline_app: Callable[..., PatchtuiApp], tui_store: Store
) -> None:
    config = paths.config_dir()
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text('[defaults]\npolicy = "policy.yaml"\n')
    (config / "policy.yaml").write_text("reboot_grace_days: [not, a, number]\n")
    app = tui_offline_app(store=tui_store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("C")
        await wait_until(pilot, lambda: isinstance(app.screen, ComplianceScreen))
        assert isinstance(app.screen, ComplianceScreen)
        assert app.screen.report is None
        error = app.screen.query_one("#compliance-error", Static)
        assert error.has_class("-shown")
        assert "policy.yaml" in str(error.render())
        await pilot.press("e")  # nothing to export: no file appears
        assert app.screen.exported is None


def test_the_config_files_policy_is_used(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text("name: strict-ops\nreboot_grace_days: 7\n")
    (tmp_path / "config.toml").write_text('[defaults]\npolicy = "policy.yaml"\n')
    policy = console_policy(tmp_path / "config.toml")
    assert policy.name == "strict-ops" and policy.reboot_grace_days == 7
    assert console_policy(tmp_path / "missing.toml").source == "built-in default"


def test_export_paths_never_overwrite(tmp_path: Path) -> None:
    first = export_path("markdown", 1_790_000_000.0, tmp_path)
    first.write_text("x")
    second = export_path("markdown", 1_790_000_000.0, tmp_path)
    assert first.suffix == second.suffix == ".md" and first != second
