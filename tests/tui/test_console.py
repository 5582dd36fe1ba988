"""Pilot tests of the console: the table, the output pane, filter, sort and selection.

These need no hosts: the engine's events are fed to the bridge by hand, as the
engine would emit them. Scans against a real lab are in test_console_lab.py.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from rich.style import Style
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Log, Static
from textual.widgets._header import HeaderTitle
from textual.widgets.data_table import ColumnKey
from tuihelp import SIZE

from patchtui.drivers.base import Facts, PendingUpdate, ScanResult
from patchtui.engine.events import (
    HostFinished,
    HostOutput,
    HostScanned,
    HostState,
    HostStateChanged,
    RunFinished,
    RunStarted,
    RunSummary,
)
from patchtui.tui.app import PatchtuiApp
from patchtui.tui.screens.help import HelpScreen
from patchtui.tui.screens.hosts import HostsScreen
from patchtui.tui.widgets.host_table import COLUMNS, HostTable

RUN = "20261127T083000Z-abcdef"


def table_of(app: PatchtuiApp) -> HostTable:
    return app.screen.query_one(HostTable)


def cell(app: PatchtuiApp, host: str, column: str) -> str:
    return table_of(app).get_cell(host, column).plain


async def settle(pilot: Pilot[int]) -> None:
    # Two bridge ticks: the timer runs every 0.1 s.
    await pilot.pause(0.25)


async def test_table_lists_the_inventory_in_order(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE):
        table = table_of(app)
        assert table.visible_hosts == ["db-01", "dev-[red]x[/red]", "web-01", "web-02"]
        assert cell(app, "web-01", "groups") == "web,prod"
        assert cell(app, "web-01", "state") == "idle"
        assert cell(app, "web-01", "last_scan") == "never"
        # A name that looks like markup is shown as written.
        assert cell(app, "dev-[red]x[/red]", "name") == "dev-[red]x[/red]"


async def test_output_pane_shows_markup_and_escapes_literally(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        host = table_of(app).highlighted_host
        assert host == "db-01"
        for line in ("[red]x[/red]", "\x1b[31mred\x1b[0m text", "[bold]not bold"):
            app.bridge(HostOutput(run_id=RUN, host=host, stream="stdout", line=line))
        app.bridge(HostOutput(run_id=RUN, host=host, stream="stderr", line="\x1b]0;title\x07oops"))
        await settle(pilot)
        lines = list(app.screen.query_one("#output", Log).lines)
        assert lines == ["[red]x[/red]", "red text", "[bold]not bold", "! oops"]
        assert not any("\x1b" in line for line in lines)


async def test_output_pane_follows_the_highlighted_host(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        app.bridge(HostOutput(run_id=RUN, host="db-01", stream="cmd", line="cat /etc/os-release"))
        app.bridge(HostOutput(run_id=RUN, host="web-02", stream="stdout", line="from web-02"))
        await settle(pilot)
        log = app.screen.query_one("#output", Log)
        assert list(log.lines) == ["$ cat /etc/os-release"]
        await pilot.press("down", "down", "down")
        await settle(pilot)
        assert table_of(app).highlighted_host == "web-02"
        assert list(log.lines) == ["from web-02"]
        # Lines arriving for another host do not leak into the pane.
        app.bridge(HostOutput(run_id=RUN, host="db-01", stream="stdout", line="later"))
        await settle(pilot)
        assert list(log.lines) == ["from web-02"]


async def test_events_update_cells_in_place(tui_offline_app: Callable[..., PatchtuiApp]) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        app.bridge(HostStateChanged(run_id=RUN, host="web-01", state=HostState.SCANNING))
        await settle(pilot)
        assert cell(app, "web-01", "state") == "scanning"
        facts = Facts(
            os_id="debian",
            os_version="12",
            os_name="Debian GNU/Linux 12",
            os_like=(),
            kernel="6.1.0",
            uptime_seconds=100.0,
            boot_id="b",
            hostname="web-01",
            package_manager="apt",
        )
        scan = ScanResult(
            pending=(
                PendingUpdate("openssl", "3.0.1", "3.0.2", security=True),
                PendingUpdate("vim", "9.0", "9.1"),
            ),
            reboot_required=True,
        )
        app.bridge(HostScanned(run_id=RUN, host="web-01", facts=facts, scan=scan))
        app.bridge(HostFinished(run_id=RUN, host="web-01", state=HostState.OK, at=1_789_999_940))
        await settle(pilot)
        assert cell(app, "web-01", "state") == "ok"
        assert cell(app, "web-01", "os") == "debian 12"
        assert cell(app, "web-01", "pending") == "1/2"
        assert cell(app, "web-01", "reboot") == "yes"
        assert cell(app, "web-01", "last_scan") == "1m ago"
        assert table.row_count == 4  # updated in place, nothing added


async def test_home_end_g_and_n_move_the_cursor(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    """Seen: Home/End/g/G did not move the cursor; there was no way to step through failures."""
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        order = table.visible_hosts
        for key, row in (("G", len(order) - 1), ("g", 0), ("end", len(order) - 1), ("home", 0)):
            await pilot.press(key)
            assert table.cursor_row == row, key
        for host, state in (("db-01", HostState.FAILED), ("web-02", HostState.UNREACHABLE)):
            app.bridge(HostFinished(run_id=RUN, host=host, state=state, error="boom"))
        await settle(pilot)
        await pilot.press("home")
        start = table.highlighted_host
        problems = [name for name in table.visible_hosts if name in ("db-01", "web-02")]
        after = [name for name in problems if name != start]
        await pilot.press("n")  # the next one after the cursor
        assert table.highlighted_host == after[0]
        await pilot.press("n")  # and around again
        assert table.highlighted_host == next(p for p in problems if p != after[0])
        await pilot.press("N")
        assert table.highlighted_host == after[0]
        await pilot.press("space")
        assert app.screen.sub_title.endswith("· 1 selected")


async def test_selecting_redraws_the_header_not_the_whole_screen(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    """Seen: each space (and filter key) redrew every widget of the screen, the hosts
    table included, because the screen's subtitle repainted the whole screen."""
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        full_frames: list[object] = []
        compositor = screen._compositor
        original = compositor.render_full_update

        def counted(*args: object, **kwargs: object) -> object:
            full_frames.append(args)
            return original(*args, **kwargs)  # type: ignore[arg-type]

        compositor.render_full_update = counted  # type: ignore[method-assign]
        await pilot.press("space")
        await pilot.pause()
        header = screen.query_one(HeaderTitle)
        assert str(header.render()).endswith("· 1 selected")
        assert full_frames == []


async def test_filter_as_you_type(tui_offline_app: Callable[..., PatchtuiApp]) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press("w", "e", "b")
        assert table.visible_hosts == ["web-01", "web-02"]
        await pilot.press("space", "0", "2")  # both terms must match
        assert table.visible_hosts == ["web-02"]
        app.screen.query_one("#filter", Input).value = "env=dev"
        await pilot.pause()
        assert table.visible_hosts == ["dev-[red]x[/red]"]
        app.screen.query_one("#filter", Input).value = "idle db"
        await pilot.pause()
        assert table.visible_hosts == ["db-01"]
        await pilot.press("escape")  # clears the filter
        assert table.row_count == 4
        await pilot.press("escape")  # hides it, back to the table
        assert app.focused is table


async def test_typing_in_the_filter_never_triggers_keys(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", "s", "c", "q")
        assert app.screen.query_one("#filter", Input).value == "scq"
        assert app.job is None and app.is_running


async def test_slash_filters_hosts_even_from_the_output_pane(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    """Seen: with the focus on the output pane, '/' searched the pane, the typed filter
    went there, and 'p' then offered to patch every host."""
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        app.screen.query_one("#output", Log).focus()
        await pilot.pause()
        await pilot.press("slash")
        host_filter = app.screen.query_one("#filter", Input)
        assert app.focused is host_filter
        await pilot.press("w", "e", "b", "slash", "0")  # a '/' typed is text, not the key
        assert host_filter.value == "web/0"
        # The pane still searches, with its own key.
        app.screen.query_one("#output", Log).focus()
        await pilot.press("ctrl+f")
        focused = app.focused
        assert isinstance(focused, Input) and focused is not host_filter


async def test_sort_by_key_and_header_click(tui_offline_app: Callable[..., PatchtuiApp]) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        app.bridge(HostFinished(run_id=RUN, host="web-02", state=HostState.FAILED, error="boom"))
        await settle(pilot)
        await pilot.press("o", "o", "o")  # name -> groups -> os -> state
        assert table.sort_column == "state"
        assert table.visible_hosts[0] == "web-02"  # failed first
        await pilot.press("O")
        assert table.visible_hosts[-1] == "web-02"
        name_column = table.columns[ColumnKey("name")]
        table.post_message(table.HeaderSelected(table, name_column.key, 1, name_column.label))
        await pilot.pause()
        assert table.sort_column == "name"
        assert table.visible_hosts == ["db-01", "dev-[red]x[/red]", "web-01", "web-02"]


async def test_selection_decides_what_a_scan_covers(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, HostsScreen)
        assert screen.scan_targets() == ["web-01", "web-02", "db-01", "dev-[red]x[/red]"]
        await pilot.press("space")  # selects db-01 and moves down
        await pilot.press("down", "space")  # web-01
        assert cell(app, "db-01", "sel") == "●"
        assert screen.scan_targets() == ["web-01", "db-01"]
        await pilot.press("a")  # select all shown
        assert len(screen.selected) == 4
        await pilot.press("a")  # all were selected: unselect all
        assert screen.selected == set()
        await pilot.press("slash", "w", "e", "b", "enter")
        assert screen.scan_targets() == ["web-01", "web-02"]  # none selected: all shown


async def test_cancel_without_a_run_says_so(tui_offline_app: Callable[..., PatchtuiApp]) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        await pilot.pause()
        assert any("No run in progress" in str(n.message) for n in app._notifications)


async def test_help_lists_the_keys(tui_offline_app: Callable[..., PatchtuiApp]) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one("#help-keys", DataTable)
        keys = [table.get_row_at(index)[0].plain for index in range(table.row_count)]
        for key in ("s", "c", "space", "a", "/", "q", "h", "?", "enter"):
            assert key in keys
        await pilot.press("escape")
        assert isinstance(app.screen, HostsScreen)


async def test_history_without_a_store_is_a_notice(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("h")
        await pilot.pause()
        assert isinstance(app.screen, HostsScreen)
        assert any("no history" in str(n.message) for n in app._notifications)


def _every_cell(table: HostTable, render: Callable[..., list[object]]) -> list[list[object]]:
    """Every cell through ``render`` (cursor and no cursor), the header first, in table
    order; the fixed columns (host, mark) also with the style they are drawn with."""
    rendered = []
    fixed_style = table.get_component_styles("datatable--fixed").rich_style
    for row_index in range(-1, table.row_count):
        for column_index, column in enumerate(table.ordered_columns):
            for cursor in (False, True):
                rendered.append(
                    render(
                        row_index,
                        column_index,
                        table._get_row_style(row_index, table.rich_style),
                        column.get_render_width(table),
                        cursor=cursor,
                    )
                )
                if column_index < table.fixed_columns and row_index >= 0:
                    rendered.append(
                        render(
                            row_index,
                            column_index,
                            fixed_style + Style.from_meta({"fixed": True}),
                            column.get_render_width(table),
                            cursor=cursor,
                        )
                    )
    return rendered


def _textual_cells(table: HostTable) -> list[list[object]]:
    """As DataTable itself renders them."""
    return _every_cell(table, partial(DataTable._render_cell, table))


def _our_cells(table: HostTable) -> list[list[object]]:
    return _every_cell(table, table._render_cell)


async def test_cells_render_as_datatable_does_and_only_changed_ones_again(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        # Same segments (text, styles, click metadata) as Textual's own renderer.
        assert _our_cells(table) == _textual_cells(table)
        state = [key for key, _ in COLUMNS].index("state")
        db_state = table._render_cell(0, state, table._get_row_style(0, table.rich_style), 11)
        web_state = table._render_cell(2, state, table._get_row_style(2, table.rich_style), 11)
        app.bridge(HostStateChanged(run_id=RUN, host="web-01", state=HostState.SCANNING))
        await settle(pilot)
        # web-01 changed: drawn anew, with its new text; db-01 did not: the same object.
        web_after = table._render_cell(2, state, table._get_row_style(2, table.rich_style), 11)
        assert "scanning" in "".join(segment.text for segment in web_after[0])
        assert web_after is not web_state
        db_after = table._render_cell(0, state, table._get_row_style(0, table.rich_style), 11)
        assert db_after is db_state
        # Focus moving to the filter changes the table's look: still Textual's rendering.
        await pilot.press("slash")
        assert _our_cells(table) == _textual_cells(table)


async def test_palette_lists_keys_once_and_says_what_quit_does(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    """Seen: the palette listed 'Keys' twice and 'Quit the application as soon as possible'."""
    app = tui_offline_app()
    async with app.run_test(size=SIZE):
        commands = list(app.get_system_commands(app.screen))
        titles = [command.title for command in commands]
        assert titles.count("Keys") == 1 and titles.count("Quit") == 1
        quit_help = next(command.help for command in commands if command.title == "Quit")
        assert "asks first while a run goes" in quit_help


async def test_a_host_name_with_escape_codes_never_reaches_the_terminal_raw(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    """A Host alias from an ssh config can hold ESC]0;title BEL: the console shows it as
    text, as it shows host output."""
    from patchtui.inventory.model import Host, Inventory

    evil = "web\x1b]0;pwned\x07-03"
    hosts = (Host(name=evil, address="127.0.0.1", port=9),)
    app = tui_offline_app(inventory=Inventory(source="x.yaml", hosts=hosts, groups={}), hosts=hosts)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        shown = cell(app, evil, "name")
        assert "\x1b" not in shown and "\x07" not in shown and shown.startswith("web")
        pane = app.screen.query_one("#output-pane")
        assert "\x1b" not in pane.title_text  # type: ignore[attr-defined]


async def test_host_detail_shows_the_whole_error_and_doctors_fix(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    """Seen: the host-key error was cut at 'server offers ssh-ed25519 SHA256:79640DFa…'
    everywhere in the console; the fix (which known_hosts line) was only in the report."""
    app = tui_offline_app()
    error = (
        "HOST KEY CHANGED for 127.0.0.1:9: server offers ssh-ed25519 "
        "SHA256:79640DFaZGmaJDPqqXwXhJ3pYbZfZ0n6l3a0Y7L2x0c, known_hosts line 3 of "
        "/root/.local/share/patchtui/known_hosts says otherwise"
    )
    async with app.run_test(size=(80, 24)) as pilot:
        app.bridge(
            HostFinished(
                run_id=RUN,
                host="web-01",
                state=HostState.FAILED,
                error_kind="hostkey-changed",
                error=error,
            )
        )
        await settle(pilot)
        assert cell(app, "web-01", "reason") == "hostkey-changed"
        app.open_details("web-01")
        await pilot.pause(0.2)
        shown = str(app.screen.query_one("#host-error", Static).render())
        assert "known_hosts line 3" in shown.replace("\n", " ")
        assert "fix: HOST KEY CHANGED: verify the new key out of band" in shown.replace("\n", " ")


async def test_rows_keep_their_order_during_a_run_and_sort_when_it_ends(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    """Seen: sorted by state, rows jumped under the cursor as a run changed states."""
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press("o", "o", "o")  # by state
        assert table.sort_column == "state"
        before = table.visible_hosts
        names = tuple(before)
        app.bridge(RunStarted(run_id=RUN, operation="scan", hosts=names))
        app.bridge(HostFinished(run_id=RUN, host=before[-1], state=HostState.FAILED, error="x"))
        await settle(pilot)
        assert table.visible_hosts == before  # held while the run goes
        summary = RunSummary(
            hosts=4, ok=3, failed=1, unreachable=0, interrupted=0, skipped=0,
            pending=0, security=0, reboot_required=0, stale=0, duration=1.0,
        )  # fmt: skip
        app.bridge(RunFinished(run_id=RUN, operation="scan", outcome="completed", summary=summary))
        await settle(pilot)
        assert table.visible_hosts[0] == before[-1]  # sorted once it ended: failed first
