"""The sort arrow means one thing in every table: ▲ ascending, ▼ descending (issue 16, 6)."""

from __future__ import annotations

from collections.abc import Callable

from tuihelp import FIXED_NOW, SIZE

from patchtui.tui.app import PatchtuiApp
from patchtui.tui.hostview import SORT_ASCENDING, SORT_COLUMNS, SORT_DESCENDING, sort_arrow
from patchtui.tui.widgets.host_table import HostTable


def header(table: HostTable, key: str) -> str:
    return table.columns[key].label.plain.rstrip()  # type: ignore[index]


def test_every_sortable_column_has_one_arrow_per_direction() -> None:
    for column in SORT_COLUMNS:
        assert {sort_arrow(column, False), sort_arrow(column, True)} == {
            SORT_ASCENDING,
            SORT_DESCENDING,
        }


async def test_arrow_matches_the_order_shown_in_the_hosts_table(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    # Values whose order is plain to see, none sorting like the names do.
    values = {"web-01": (3, 500.0), "web-02": (9, 900.0), "db-01": (1, 100.0)}
    for name, (pending, scanned) in values.items():
        row = app.rows[name]
        row.pending, row.security, row.last_scan = pending, 0, FIXED_NOW - scanned
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(HostTable)
        screen = app.screen

        def shown() -> list[str]:
            return [name for name in table.visible_hosts if name in values]

        assert header(table, "name") == f"host {SORT_ASCENDING}"
        assert shown() == ["db-01", "web-01", "web-02"]  # A→Z: ascending

        table.set_sort("pending", app.rows)
        await pilot.pause()
        assert header(table, "pending") == f"sec/pending {SORT_DESCENDING}"
        assert header(table, "name") == "host"  # one arrow at a time
        assert shown() == ["web-02", "web-01", "db-01"]  # most first: descending
        table.set_sort("pending", app.rows)
        await pilot.pause()
        assert header(table, "pending") == f"sec/pending {SORT_ASCENDING}"
        assert shown() == ["db-01", "web-01", "web-02"]  # fewest first: ascending

        table.set_sort("last_scan", app.rows)
        await pilot.pause()
        assert header(table, "last_scan") == f"last scan {SORT_DESCENDING}"
        assert shown() == ["db-01", "web-01", "web-02"]  # newest first: descending
        table.set_sort("last_scan", app.rows)
        await pilot.pause()
        assert header(table, "last_scan") == f"last scan {SORT_ASCENDING}"
        assert shown() == ["web-02", "web-01", "db-01"]  # oldest first: ascending

        await pilot.press("O")  # the reverse key flips the arrow with the order
        assert header(table, "last_scan") == f"last scan {SORT_DESCENDING}"
        assert screen is app.screen
