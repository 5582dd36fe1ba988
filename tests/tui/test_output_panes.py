"""Pilot tests of the output panes: follow, search, scrollback, split view, full-screen.

Lines are fed to the app's bridge as the engine would emit them; no host is contacted.
"""

from __future__ import annotations

from collections.abc import Callable

from textual import events
from textual.pilot import Pilot
from textual.widgets import Input
from tuihelp import SIZE, wait_until

from patchtui.engine.events import HostOutput, HostState, HostStateChanged, RunStarted
from patchtui.inventory.model import Host, Inventory
from patchtui.tui.app import PatchtuiApp
from patchtui.tui.screens.hosts import HostsScreen
from patchtui.tui.screens.output import (
    HostOutputScreen,
    SplitOutputScreen,
    assign_panes,
    grid_columns,
    quiet_choice,
)
from patchtui.tui.widgets.host_table import HostTable
from patchtui.tui.widgets.output_pane import OutputPane, search_pattern

RUN = "20261127T083000Z-abcdef"


def feed(app: PatchtuiApp, host: str, lines: list[str], stream: str = "stdout") -> None:
    for line in lines:
        app.bridge(HostOutput(run_id=RUN, host=host, stream=stream, line=line))


def hosts_pane(app: PatchtuiApp) -> OutputPane:
    return app.screen.query_one("#output-pane", OutputPane)


async def settle(pilot: Pilot[int]) -> None:
    await pilot.pause(0.25)  # two ticks of the 10 Hz timers


# ---------------------------------------------------------------- pure parts


def test_assign_panes_keeps_hosts_in_place() -> None:
    assert assign_panes([], ["a", "b", "c"], limit=2) == ["a", "b"]
    # b finished, d started: d takes b's pane, a stays where it was.
    assert assign_panes(["a", "b"], ["a", "c", "d"], limit=2) == ["a", "c"]
    # Nothing waits: a finished host keeps its pane so its last lines stay readable.
    assert assign_panes(["a", "b"], ["a"], limit=4) == ["a", "b"]
    # Room left: new running hosts get new panes.
    assert assign_panes(["a"], ["a", "b", "c"], limit=6) == ["a", "b", "c"]


def test_quiet_choice_prefers_selection_then_last_run_trouble() -> None:
    order = ["a", "b", "c", "d"]
    last = {"a": HostState.OK, "c": HostState.FAILED, "d": HostState.UNREACHABLE}
    assert quiet_choice(["d", "b"], last, "a", order) == ["b", "d"]
    assert quiet_choice([], last, "a", order) == ["c", "d", "a"]  # what went wrong first
    assert quiet_choice([], {}, "b", order) == ["b"]
    assert quiet_choice([], {}, None, order) == []


def test_grid_columns_and_search_pattern() -> None:
    assert [grid_columns(n) for n in (1, 3, 4, 6)] == [1, 1, 2, 2]
    pattern = search_pattern("a.b[")
    assert pattern is not None
    assert pattern.search("x A.B[ y") and not pattern.search("axb[")  # plain text, any case
    assert search_pattern("") is None


# ---------------------------------------------------------------- the hosts screen's pane


async def test_pane_title_follows_host_and_state(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        pane = hosts_pane(app)
        assert pane.host == "db-01"
        assert pane.title_text == "db-01 · idle"
        app.bridge(HostStateChanged(run_id=RUN, host="db-01", state=HostState.SCANNING))
        await settle(pilot)
        assert pane.title_text == "db-01 · scanning"
        await pilot.press("down")  # a host whose name looks like markup: shown as written
        await settle(pilot)
        assert pane.title_text == "dev-[red]x[/red] · idle"


async def test_markup_and_escapes_are_shown_literally(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("z")  # the full-screen pane
        assert isinstance(app.screen, HostOutputScreen)
        feed(app, "db-01", ["[red]x[/red] \x1b[31mred\x1b[0m", "\x1b]0;pwned\x07[link=x]y"])
        await settle(pilot)
        pane = app.screen.query_one(OutputPane)
        assert list(pane.lines) == ["[red]x[/red] red", "[link=x]y"]
        # What reaches the screen is the literal text, with no colour from the host.
        rendered = [pane.output_log.render_line(y) for y in range(2)]
        assert rendered[0].text.startswith("[red]x[/red] red")
        assert rendered[1].text.startswith("[link=x]y")
        assert not any("\x1b" in strip.text for strip in rendered)


async def test_follow_and_unfollow(tui_offline_app: Callable[..., PatchtuiApp]) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("z")
        pane = app.screen.query_one(OutputPane)
        log = pane.output_log
        feed(app, "db-01", [f"line {n}" for n in range(200)])
        await settle(pilot)
        assert pane.following and log.is_vertical_scroll_end
        await pilot.press("f")  # hold the view
        assert not pane.following
        held = log.scroll_offset.y
        feed(app, "db-01", [f"more {n}" for n in range(37)])
        await settle(pilot)
        assert log.scroll_offset.y == held  # new lines did not move the view
        assert "37 new lines" in pane.status_text()
        await pilot.press("f")  # follow again: straight to the end
        await pilot.pause()
        assert pane.following and log.is_vertical_scroll_end
        assert "following" in pane.status_text()
        # Scrolling up by hand stops following too.
        await pilot.press("pageup")
        await pilot.pause()
        assert not pane.following
        feed(app, "db-01", ["after scrolling"])
        await settle(pilot)
        assert not log.is_vertical_scroll_end


async def test_search_finds_lines_and_steps_through_matches(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("z")
        pane = app.screen.query_one(OutputPane)
        lines = [f"Setting up pkg{n} ..." for n in range(300)]
        lines[40] = "E: Sub-process /usr/bin/dpkg returned an error code (1)"
        lines[250] = "dpkg: error processing package [x] (--configure)"
        feed(app, "db-01", lines)
        await settle(pilot)
        await pilot.press("slash")
        assert pane.search_input.has_focus
        await pilot.press(*"DPKG", "enter")
        log = pane.output_log
        assert log.has_focus and pane.search_term == "DPKG"
        assert log.match_lines() == [40, 250]
        # Lines were at the end (following): the first match from the view wraps to the top.
        assert log.current_match == 40
        assert not pane.following  # reading a match: the view holds
        top = log.scroll_offset.y
        assert top <= 40 < top + log.scrollable_content_region.height
        assert "1/2" in pane.status_text()
        await pilot.press("n")
        assert log.current_match == 250 and "2/2" in pane.status_text()
        await pilot.press("n")  # wraps
        assert log.current_match == 40
        await pilot.press("N")
        assert log.current_match == 250
        # The match is drawn highlighted, the text itself unchanged.
        row = 250 - log.scroll_offset.y
        strip = log.render_line(row)
        assert strip.text.startswith("dpkg: error processing package [x]")
        assert any(segment.style and segment.style.reverse for segment in strip)
        await pilot.press("escape")  # clears the search, stays on the screen
        assert pane.search_term == "" and isinstance(app.screen, HostOutputScreen)
        await pilot.press("escape")  # now escape goes back
        assert isinstance(app.screen, HostsScreen)


async def test_search_for_missing_text_says_so(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("z")
        feed(app, "db-01", ["nothing to see"])
        await settle(pilot)
        await pilot.press("ctrl+f", *"absent", "enter")
        await pilot.pause()
        pane = app.screen.query_one(OutputPane)
        assert pane.output_log.current_match is None
        assert any("Not found: absent" in str(n.message) for n in app._notifications)


async def test_scrollback_is_bounded(tui_offline_app: Callable[..., PatchtuiApp]) -> None:
    app = tui_offline_app()
    app.bridge.scrollback = 50  # before any line: the deques are made with this bound
    async with app.run_test(size=SIZE) as pilot:
        pane = hosts_pane(app)
        pane.output_log.max_lines = 50
        for chunk in range(10):
            feed(app, "db-01", [f"c{chunk} line {n}" for n in range(50)])
            await settle(pilot)
        assert len(pane.lines) == 50
        assert pane.lines[0] == "c9 line 0" and pane.lines[-1] == "c9 line 49"
        assert len(app.bridge.lines("db-01")) == 50
        assert app.bridge.line_count("db-01") == 500


async def test_unfollowed_view_stays_on_its_text_while_old_lines_fall_off(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    app.bridge.scrollback = 100
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("z")
        pane = app.screen.query_one(OutputPane)
        pane.output_log.max_lines = 100
        feed(app, "db-01", [f"old {n}" for n in range(100)])
        await settle(pilot)
        log = pane.output_log
        log.scroll_to(y=60, animate=False, immediate=True)  # unfollows: the reader scrolled up
        await pilot.pause()
        assert not pane.following
        top_line = log.lines[log.scroll_offset.y]
        feed(app, "db-01", [f"new {n}" for n in range(20)])  # 20 old lines fall off the top
        await settle(pilot)
        assert log.lines[log.scroll_offset.y] == top_line


# ---------------------------------------------------------------- split view and full screen


async def test_split_view_shows_running_hosts_live(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        hosts = ("web-01", "web-02", "db-01", "dev-[red]x[/red]")
        app.bridge(RunStarted(run_id=RUN, operation="patch", hosts=hosts))
        for host, state in zip(
            hosts,
            (HostState.PATCHING, HostState.SCANNING, HostState.QUEUED, HostState.CONNECTING),
            strict=True,
        ):
            app.bridge(HostStateChanged(run_id=RUN, host=host, state=state))
        await settle(pilot)
        await pilot.press("v")
        assert isinstance(app.screen, SplitOutputScreen)
        await settle(pilot)
        panes = list(app.screen.query(OutputPane))
        # Queued hosts print nothing yet: only the three running ones get a pane.
        assert [pane.host for pane in panes] == ["dev-[red]x[/red]", "web-01", "web-02"]
        feed(app, "web-01", ["Unpacking openssl (3.0.2) ..."])
        feed(app, "web-02", ["[bold]not bold[/bold]"])
        await settle(pilot)
        by_host = {pane.host: pane for pane in panes}
        assert by_host["web-01"].lines[-1] == "Unpacking openssl (3.0.2) ..."
        assert by_host["web-02"].lines[-1] == "[bold]not bold[/bold]"
        assert by_host["web-01"].title_text == "web-01 · patching"
        # web-02 finishes and db-01 starts: db-01 takes web-02's pane.
        app.bridge(HostStateChanged(run_id=RUN, host="web-02", state=HostState.OK))
        app.bridge(HostStateChanged(run_id=RUN, host="db-01", state=HostState.SCANNING))
        await settle(pilot)
        await wait_until(pilot, lambda: by_host["web-02"].host == "db-01", timeout=5)
        assert [pane.host for pane in app.screen.query(OutputPane)] == [
            "dev-[red]x[/red]",
            "web-01",
            "db-01",
        ]


async def test_split_view_without_a_run_shows_the_selection(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "space")  # selects db-01 and dev-[red]x[/red]
        await pilot.press("v")
        await settle(pilot)
        panes = list(app.screen.query(OutputPane))
        assert [pane.host for pane in panes] == ["db-01", "dev-[red]x[/red]"]
        await pilot.press("escape")
        assert isinstance(app.screen, HostsScreen)


async def test_full_screen_focus_from_split_view_and_back(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        for host in ("web-01", "web-02"):
            app.bridge(HostStateChanged(run_id=RUN, host=host, state=HostState.PATCHING))
        feed(app, "web-02", ["Setting up vim (9.1) ..."])
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        await pilot.press("tab")  # the second pane: web-02
        screen = app.screen
        assert isinstance(screen, SplitOutputScreen)
        focused = screen.focused_pane()
        assert focused is not None and focused.host == "web-02"
        await pilot.press("z")
        assert isinstance(app.screen, HostOutputScreen) and app.screen.host == "web-02"
        await settle(pilot)
        assert list(app.screen.query_one(OutputPane).lines) == ["Setting up vim (9.1) ..."]
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("enter")  # enter zooms too
        assert isinstance(app.screen, HostOutputScreen)
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, HostsScreen)


# ---------------------------------------------------------------- screens made once, shown again


async def test_full_screen_output_is_reshown_for_the_next_host(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        feed(app, "db-01", ["db line"])
        feed(app, "dev-[red]x[/red]", ["dev line"])
        await pilot.press("z")
        first = app.screen
        assert isinstance(first, HostOutputScreen) and first.host == "db-01"
        pane = first.query_one(OutputPane)
        await pilot.press("slash", "d", "b", "enter")  # search, then leave
        assert pane.search_term == "db"
        await pilot.press("escape")  # clears the search
        await pilot.press("slash", "d", "b", "enter", "z")
        assert isinstance(app.screen, HostsScreen)
        feed(app, "db-01", ["arrived while hidden"])
        await settle(pilot)
        # Hidden: its timer is paused, so nothing was drawn meanwhile.
        assert list(pane.lines) == ["db line"]
        await pilot.press("z")  # the same host: the view as left, plus what arrived
        assert app.screen is first
        assert list(pane.lines) == ["db line", "arrived while hidden"]
        assert pane.search_term == "db"
        await pilot.press("escape", "escape", "down", "z")  # another host: a fresh view
        assert app.screen is first and first.host == "dev-[red]x[/red]"
        assert list(pane.lines) == ["dev line"] and pane.search_term == ""
        assert pane.following and pane.output_log.has_focus


async def test_split_view_is_reshown_with_panes_for_what_runs_now(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        for host in ("web-01", "web-02", "db-01"):
            app.bridge(HostStateChanged(run_id=RUN, host=host, state=HostState.PATCHING))
        await settle(pilot)
        await pilot.press("v")
        split = app.screen
        assert isinstance(split, SplitOutputScreen)
        await settle(pilot)
        assert [pane.host for pane in split.query(OutputPane)] == ["db-01", "web-01", "web-02"]
        await pilot.press("escape")
        for host in ("web-02", "db-01"):
            app.bridge(HostStateChanged(run_id=RUN, host=host, state=HostState.OK))
        feed(app, "web-01", ["Unpacking openssl (3.0.2) ..."])
        await settle(pilot)
        await pilot.press("v")
        assert app.screen is split
        # Still three panes, none added: web-01 keeps its pane; the others keep their
        # finished hosts' last lines (no other host is waiting for a pane).
        panes = list(split.query(OutputPane))
        assert [pane.host for pane in panes] == ["db-01", "web-01", "web-02"]
        assert panes[1].lines[-1] == "Unpacking openssl (3.0.2) ..."
        await pilot.press("escape")
        app.bridge(HostStateChanged(run_id=RUN, host="web-01", state=HostState.OK))
        await settle(pilot)
        await pilot.press("space", "v")  # nothing runs: the one selected host
        await settle(pilot)
        assert app.screen is split
        shown = [pane for pane in split.query(OutputPane) if pane.display]
        assert [pane.host for pane in shown] == ["db-01"]
        assert len(split.query(OutputPane)) == 3  # the others are hidden, kept for later
        assert split.focused_pane() is shown[0]


# ---------------------------------------------------------------- resizing, filtering


async def test_following_pane_stays_at_the_tail_after_a_resize(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        panes = [hosts_pane(app)]
        await pilot.press("z")
        panes.append(app.screen.query_one(OutputPane))
        feed(app, "db-01", [f"line {n} " + "x" * (n % 200) for n in range(300)])
        await settle(pilot)
        log = panes[1].output_log
        for size in ((80, 24), (160, 45), (60, 15), SIZE):
            await pilot.resize_terminal(*size)
            await settle(pilot)
            # At the tail at once, before any new line pulls it there.
            assert panes[1].following and log.is_vertical_scroll_end, size
            feed(app, "db-01", [f"after {size} {n}" for n in range(5)])
            await settle(pilot)
            assert panes[1].following and log.is_vertical_scroll_end, size
            assert log.lines[-1] == f"after {size} 4"
        await pilot.press("z")  # back to the hosts screen: its pane was resized while hidden
        await settle(pilot)
        assert panes[0].following and panes[0].output_log.is_vertical_scroll_end


def lab_like_fleet(count: int) -> Inventory:
    hosts = tuple(
        Host(name=f"lab-ubu-{n:04d}", address="127.0.0.1", port=9) for n in range(1, count + 1)
    )
    return Inventory(source="/tmp/lab.yaml", hosts=hosts, groups={})


async def test_pane_shows_the_host_a_typed_or_pasted_filter_leaves_highlighted(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    """Issue 16: pasting lab-ubu-0043 into the filter left the pane on lab-ubu-0002."""
    fleet = lab_like_fleet(300)
    for how, before in (("paste", "down"), ("type", "down"), ("paste", "end"), ("type", "o")):
        app = tui_offline_app(inventory=fleet, hosts=fleet.hosts)
        async with app.run_test(size=SIZE) as pilot:
            pane = hosts_pane(app)
            table = app.screen.query_one(HostTable)
            feed(app, "lab-ubu-0043", ["Setting up openssl ..."])
            await pilot.press(before)
            await settle(pilot)
            assert pane.host != "lab-ubu-0043"
            await pilot.press("slash")
            if how == "paste":
                app.screen.query_one("#filter", Input).post_message(events.Paste("lab-ubu-0043"))
            else:
                await pilot.press(*"lab-ubu-0043")
            await settle(pilot)
            assert table.visible_hosts == ["lab-ubu-0043"], how
            assert table.highlighted_host == "lab-ubu-0043", how
            assert pane.title_text == "lab-ubu-0043 · idle", (how, before)
            assert list(pane.lines) == ["Setting up openssl ..."]
            # Widening the filter again: the pane still shows whichever row is highlighted.
            await pilot.press("backspace", "backspace")
            await settle(pilot)
            assert table.row_count > 1
            assert pane.host == table.highlighted_host, (how, before)


OSES = ("deb", "ubu", "rhel", "rocky", "cent", "suse", "alp")


async def test_pane_follows_the_filter_when_its_keys_arrive_in_one_burst(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    """A terminal paste without bracketed paste arrives as keys in one read: the rows
    were rebuilt several times before the table's highlight events were handled, and a
    late one put a host the filter had removed into the pane (seen in tmux: the filter
    showed lab-deb-0012, the pane lab-deb-0001)."""
    hosts = tuple(
        Host(name=f"lab-{OSES[n % 7]}-{n:04d}", address="127.0.0.1", port=9) for n in range(1, 41)
    )
    fleet = Inventory(source="/tmp/lab.yaml", hosts=hosts, groups={})
    for typed, expected in (("lab-deb-0014", ["lab-deb-0014"]), ("lab-deb-0015", [])):
        app = tui_offline_app(inventory=fleet, hosts=fleet.hosts)
        async with app.run_test(size=SIZE) as pilot:
            pane = hosts_pane(app)
            table = app.screen.query_one(HostTable)
            await pilot.press("down", "down", "slash")
            app.screen.query_one("#filter", Input).post_message(events.Paste("lab-ubu-0015"))
            await settle(pilot)
            assert pane.host == "lab-ubu-0015"
            await pilot.press("ctrl+u")  # the filter emptied: every host again
            await pilot.pause(0.3)
            for char in typed:  # one burst, as a terminal delivers a plain paste
                app.post_message(events.Key(char, char))
            await settle(pilot)
            assert table.visible_hosts == expected
            assert pane.host == table.highlighted_host == (expected[0] if expected else None)
            assert pane.title_text == (f"{expected[0]} · idle" if expected else "output")
