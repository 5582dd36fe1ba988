"""Maintenance windows in the console (table column, detail line) and recent runs in the detail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from textual.widgets import DataTable, Static

from patchtui.inventory.model import Host
from patchtui.store.db import Store
from patchtui.tui.app import PatchtuiApp
from patchtui.tui.hostview import HostRow, describe_window, format_window


def at(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def row_with(window: object) -> HostRow:
    return HostRow.from_host(
        Host(name="db1", address="10.0.0.1", vars={"maintenance_window": window})
    )


def test_window_cell_is_open_inside_and_says_when_it_opens_outside() -> None:
    row = row_with("Sun 02:00-04:00 Europe/Berlin")
    # Sunday 01:30 UTC is 03:30 in Berlin (summer time): inside.
    assert format_window(row, at("2024-06-09T01:30:00+00:00")) == "open"
    # Saturday noon UTC: the next opening is Sunday 02:00 Berlin time.
    assert format_window(row, at("2024-06-08T12:00:00+00:00")) == "opens Sun 02:00"
    line = describe_window(row, at("2024-06-08T12:00:00+00:00"))
    assert "Sun 02:00-04:00 Europe/Berlin" in line and "2024-06-09 02:00" in line


def test_no_window_and_a_broken_window() -> None:
    assert format_window(HostRow.from_host(Host(name="a", address="a")), 0.0) == ""
    broken = row_with("Funday 02:00-04:00")
    assert format_window(broken, 0.0) == "invalid"
    assert "invalid" in describe_window(broken, 0.0)


async def test_detail_shows_the_window_and_the_package_changes_of_recent_runs(
    tui_offline_app: Callable[..., PatchtuiApp], tmp_path: Path
) -> None:
    store = Store.open(tmp_path / "db.json")
    app = tui_offline_app(store=store)
    host = next(iter(app.rows))
    run_id = store.start_run("patch", [host], {})
    store.record_host_result(
        run_id,
        host,
        {
            "status": "ok",
            "finished": 1_700_000_000.0,
            "changes": [{"name": "openssl", "before": "3.0.11-1", "after": "3.0.13-1"}],
        },
    )
    store.finish_run(run_id, "ok", {})
    async with app.run_test(size=(160, 45)) as pilot:
        app.open_details(host)
        await pilot.pause()
        summary = str(app.screen.query_one("#host-summary", Static).render())
        assert "maintenance window" in summary
        recent: DataTable = app.screen.query_one("#recent", DataTable)  # type: ignore[type-arg]
        cells = [str(cell) for cell in recent.get_row_at(0)]
        assert cells[0] == run_id and cells[1] == "patch" and cells[2] == "ok"
        assert cells[4] == "openssl 3.0.11-1 -> 3.0.13-1"
    store.close()
