"""The console driving real scans: a lab of simulated hosts behind a real SSH server.

No mocked transport: the app's worker runs the engine's ScanJob through
SshConnector against the lab on loopback, and the store is a real file.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Log
from tuihelp import SIZE, wait_until

from patchtui.engine.events import HostState
from patchtui.store.db import Store
from patchtui.transport.ssh import SshConnector
from patchtui.tui.app import PatchtuiApp, exit_line
from patchtui.tui.screens.confirm import ConfirmScreen
from patchtui.tui.screens.detail import HostDetailScreen
from patchtui.tui.screens.history import HistoryScreen, RunScreen
from patchtui.tui.screens.hosts import HostsScreen
from patchtui.tui.widgets.host_table import HostTable


def finished(app: PatchtuiApp) -> bool:
    return app.bridge.run is not None and not app.bridge.run.running and app.job is None


async def test_scan_updates_states_and_pending_counts(
    tui_lab_app: Callable[..., PatchtuiApp], tui_store: Store
) -> None:
    app = tui_lab_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(HostTable)
        names = table.visible_hosts
        assert len(names) == 6
        assert {table.get_cell(name, "state").plain for name in names} == {"idle"}
        await pilot.press("s")
        await wait_until(pilot, lambda: finished(app))
        await pilot.pause(0.25)  # one more bridge tick
        run = app.bridge.run
        assert run is not None and run.outcome == "completed"
        for name in names:
            row = app.rows[name]
            assert row.state is HostState.OK
            assert row.pending is not None and row.pending > 0
            assert table.get_cell(name, "state").plain == "ok"
            security = str(row.security) if row.security_supported else "-"
            assert table.get_cell(name, "pending").plain == f"{security}/{row.pending}"
            assert table.get_cell(name, "os").plain == row.os != ""
        # The highlighted host's output pane shows the commands the engine ran.
        log = app.screen.query_one("#output", Log)
        assert any(line.startswith("$ ") for line in log.lines)
        assert "scan completed: 6/6 done" in str(app.screen.query_one("#run-status").render())

    # A new console on the same database starts from what the scan found.
    again = tui_lab_app()
    async with again.run_test(size=SIZE):
        table = again.screen.query_one(HostTable)
        for name in names:
            assert table.get_cell(name, "state").plain == "ok"
            assert again.rows[name].pending == app.rows[name].pending
            assert table.get_cell(name, "last_scan").plain.endswith("s ago")


async def test_detail_and_history_after_a_scan(
    tui_lab_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_lab_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: finished(app))
        await pilot.pause(0.25)
        host = app.screen.query_one(HostTable).highlighted_host
        assert host is not None

        await pilot.press("enter")
        assert isinstance(app.screen, HostDetailScreen)
        updates = app.screen.query_one("#updates", DataTable)
        assert updates.row_count == app.rows[host].pending
        facts = app.screen.query_one("#facts", DataTable)
        known = app.rows[host].facts
        assert known is not None
        assert facts.get_cell("os_id", "value").plain == known["os_id"]
        await pilot.press("escape")
        assert isinstance(app.screen, HostsScreen)

        await pilot.press("h")
        assert isinstance(app.screen, HistoryScreen)
        runs = app.screen.query_one("#runs", DataTable)
        assert runs.row_count == 1
        assert runs.get_cell_at(Coordinate(0, 2)).plain == "completed"
        await pilot.press("enter")
        assert isinstance(app.screen, RunScreen)
        results = app.screen.query_one("#results", DataTable)
        assert results.row_count == 6
        await pilot.pause()
        transcript = app.screen.query_one("#transcript", Log)
        assert any(line.startswith("$ ") for line in transcript.lines)
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, HostsScreen)


@pytest.mark.parametrize("tui_lab_slow", [True])
async def test_cancel_stops_the_run(
    tui_lab_app: Callable[..., PatchtuiApp], tui_store: Store
) -> None:
    # Slow hosts, two at a time: the run is still going when the cancel arrives.
    app = tui_lab_app(connector_factory=lambda: SshConnector(concurrency=2, use_agent=False))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        # Cancel as soon as the first host is done: others are still to come.
        await wait_until(pilot, lambda: app.bridge.run is not None and app.bridge.run.finished >= 1)
        assert app.bridge.run is not None and app.bridge.run.running
        await pilot.press("c")
        await wait_until(pilot, lambda: finished(app))
        await pilot.pause(0.25)
        run = app.bridge.run
        assert run is not None and run.outcome == "interrupted"
        states = [row.state for row in app.rows.values()]
        assert HostState.SKIPPED in states or HostState.INTERRUPTED in states
        assert all(state.is_final for state in states)
        assert "interrupted" in str(app.screen.query_one("#run-status").render())
        # A new scan can start after a cancelled one.
        first_run = run.run_id
        await pilot.press("s")
        await wait_until(
            pilot, lambda: app.bridge.run is not None and app.bridge.run.run_id != first_run
        )
        assert app.bridge.run is not None
        second_run = app.bridge.run.run_id
        # Quitting mid-run asks first: what runs and what happens to it.
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.title_text == "Quit while a scan runs?"
        assert "not started are recorded as skipped (cancelled)" in app.screen.body_text
        await pilot.press("n")  # a slip of the key: the scan goes on
        await pilot.pause(0.2)
        assert app.job is not None and app.is_running
        # Said yes to: the run stops, is recorded as interrupted, and the exit says so.
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: app.job is None)
    assert app.return_value == 130
    line = exit_line(app.bridge.run)
    assert line is not None and line.startswith("patchtui: scan interrupted: ")
    assert line.endswith(f"details: patchtui history --run {second_run}")
    runs = {run["run_id"]: run["status"] for run in tui_store.runs()}
    assert runs == {first_run: "interrupted", second_run: "interrupted"}


@pytest.mark.parametrize("tui_lab_slow", [True])
async def test_closing_mid_run_records_it_as_interrupted(
    tui_lab_app: Callable[..., PatchtuiApp], tui_store: Store
) -> None:
    app = tui_lab_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: app.bridge.run is not None)
        assert app.bridge.run is not None
        run_id = app.bridge.run.run_id
    # The app is gone; the run was stopped and recorded before run_test returned.
    assert [(run["run_id"], run["status"]) for run in tui_store.runs()] == [(run_id, "interrupted")]
