"""Pilot tests of the output panes' wrap toggle, per-line timestamps and saving to a file.

Lines are fed to the app's bridge as the engine would emit them; no host is contacted.
The clock is the app's injected one: timestamps never come from the real time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from test_output_panes import RUN, feed, hosts_pane, settle
from textual.widgets import Input
from tuihelp import FIXED_NOW, SIZE

from patchtui.engine.events import HostState, HostStateChanged, RunStarted
from patchtui.errors import StoreError
from patchtui.store.savefile import SAVED_MODE, SaveExists, save_text
from patchtui.tui.app import PatchtuiApp
from patchtui.tui.arrivals import ArrivalTimes
from patchtui.tui.screens.confirm import ConfirmScreen
from patchtui.tui.screens.help import help_rows
from patchtui.tui.screens.output import HostOutputScreen
from patchtui.tui.screens.save_output import SaveOutputScreen
from patchtui.tui.widgets.output_pane import OutputPane, safe_name, time_prefix


def full_screen_pane(app: PatchtuiApp) -> OutputPane:
    assert isinstance(app.screen, HostOutputScreen)
    return app.screen.query_one(OutputPane)


# ---------------------------------------------------------------- wrap


async def test_wrap_toggle_wraps_long_lines_and_back(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("z")
        pane = full_screen_pane(app)
        log = pane.output_log
        long_line = "".join(f"{n:04d}-" for n in range(120))  # 600 columns
        feed(app, "db-01", ["short", long_line, *[f"tail {n}" for n in range(50)], "find me"])
        await settle(pilot)
        width = log.scrollable_content_region.width
        assert log.virtual_size.width >= len(long_line)  # one row, scrolled sideways
        assert log.virtual_size.height == 53
        await pilot.press("w")
        await settle(pilot)
        assert log.wrap and "wrap" in pane.status_text()
        rows = -(-len(long_line) // width)
        assert rows > 1
        assert log.virtual_size == (width, 52 + rows)  # nothing left to scroll sideways
        assert pane.following and log.is_vertical_scroll_end
        log.scroll_to(y=0, animate=False, immediate=True)
        await pilot.pause()
        shown = [log.render_line(y).text for y in range(rows + 2)]
        assert shown[0].rstrip() == "short"
        assert [row.rstrip() for row in shown[1 : rows + 1]] == [
            long_line[start : start + width] for start in range(0, len(long_line), width)
        ]
        assert shown[rows + 1].rstrip() == "tail 0"
        # Search moves to the match's row, not to its line number.
        await pilot.press("slash", *"find me", "enter")
        assert log.current_match == 52
        top = log.scroll_offset.y
        assert top <= 51 + rows < top + log.scrollable_content_region.height
        await pilot.press("w")  # back: one row a line, the long line scrolls sideways
        await settle(pilot)
        assert not log.wrap and "wrap" not in pane.status_text()
        assert log.virtual_size.height == 53 and log.virtual_size.width >= len(long_line)
        assert log.render_line(0).text.startswith(log.lines[log.scroll_offset.y][:10])


async def test_wrapped_pane_follows_and_rewraps_after_a_resize(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("z", "w")
        pane = full_screen_pane(app)
        log = pane.output_log
        feed(app, "db-01", ["y" * 300 for _ in range(100)])
        await settle(pilot)
        for size in ((80, 24), (160, 45)):
            await pilot.resize_terminal(*size)
            await settle(pilot)
            width = log.scrollable_content_region.width
            rows = sum(max(1, -(-len(line) // width)) for line in log.lines)
            assert rows > len(log.lines) and log.virtual_size.height == rows, size
            assert pane.following and log.is_vertical_scroll_end, size
            feed(app, "db-01", ["last"])
            await settle(pilot)
            assert log.is_vertical_scroll_end and log.lines[-1] == "last"


# ---------------------------------------------------------------- timestamps


async def test_timestamps_show_when_each_line_arrived_by_the_apps_clock(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    now = [FIXED_NOW]
    app = tui_offline_app(clock=lambda: now[0])
    async with app.run_test(size=SIZE) as pilot:
        pane = hosts_pane(app)
        feed(app, "db-01", ["first", "second"])
        now[0] += 65.4
        feed(app, "db-01", ["a minute later"])
        await settle(pilot)
        log = pane.output_log
        assert log.render_line(0).text.startswith("first")
        await pilot.press("tab")  # the pane (its keys are the focused pane's)
        assert log.has_focus
        await pilot.press("t")
        await settle(pilot)
        log.scroll_to(y=0, animate=False, immediate=True)
        await pilot.pause()
        texts = [log.render_line(y).text for y in range(3)]
        first, later = time_prefix(FIXED_NOW), time_prefix(FIXED_NOW + 65.4)
        assert first != later
        assert texts == [
            f"{first}first".ljust(len(texts[0])),
            f"{first}second".ljust(len(texts[1])),
            f"{later}a minute later".ljust(len(texts[2])),
        ]
        # Lines arriving while shown get their own time.
        now[0] += 3600
        feed(app, "db-01", ["an hour later"])
        await settle(pilot)
        row = 3 - log.scroll_offset.y
        assert log.render_line(row).text.startswith(f"{time_prefix(now[0])}an hour later")
        await pilot.press("t")
        await pilot.pause()
        assert log.render_line(row).text.startswith("an hour later")


def test_arrival_times_keep_one_entry_per_second_and_forget_dropped_lines() -> None:
    arrivals = ArrivalTimes()
    for index in range(2_000):  # a burst: one second, one entry
        arrivals.note(index, 100.25 + index / 10_000)
    assert len(arrivals) == 1 and arrivals.at(1_999) == 100
    for second in range(1, 300):
        arrivals.note(2_000 + second, 100.5 + second)
    assert arrivals.at(1_000) == 100 and arrivals.at(2_150) == 250
    assert arrivals.at(-1) is None
    arrivals.forget_before(2_200)
    assert len(arrivals) < 150  # entries of lines no longer kept are gone
    assert arrivals.at(2_200) == 300 and arrivals.at(2_299) == 399
    # The worst case, a line every second: 12 bytes a line and the arrays' spare room
    # (a float object a line would be 24 bytes plus an 8-byte reference).
    trickle = ArrivalTimes()
    for index in range(2_000):
        trickle.note(index, 1_000.0 + index)
    assert trickle.nbytes() <= 2_000 * 13


async def test_bridge_memory_for_times_is_per_second_not_per_line(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()  # a frozen clock: every line in the same second
    feed(app, "db-01", [f"line {n}" for n in range(5_000)])
    assert app.bridge.arrived("db-01", 4_999) == int(FIXED_NOW)
    assert len(app.bridge._arrivals["db-01"]) == 1


# ---------------------------------------------------------------- saving


async def test_save_writes_plain_output_and_asks_before_replacing(
    tui_offline_app: Callable[..., PatchtuiApp],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tmp_path /= "cwd"
    tmp_path.mkdir()
    monkeypatch.chdir(tmp_path)
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("z")
        pane = full_screen_pane(app)
        feed(app, "db-01", ["Unpacking \x1b[31mopenssl\x1b[0m ...", "[red]done[/red]", ""])
        await settle(pilot)
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, SaveOutputScreen)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(FIXED_NOW))
        default = f"patchtui-db-01-{stamp}.log"
        assert app.screen.query_one("#save-path", Input).value == default
        await pilot.press("enter")
        await settle(pilot)
        target = tmp_path / default
        assert target.read_text() == "Unpacking openssl ...\n[red]done[/red]\n\n"
        assert os.stat(target).st_mode & 0o777 == SAVED_MODE
        assert f"saved to {target}" in pane.status_text()
        # Again: the file exists, so it asks; no keeps the file as it was.
        feed(app, "db-01", ["more"])
        await settle(pilot)
        await pilot.press("ctrl+s", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert target.read_text() == "Unpacking openssl ...\n[red]done[/red]\n\n"
        await pilot.press("ctrl+s", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert target.read_text().endswith("[/red]\n\nmore\n")
        assert [p.name for p in tmp_path.iterdir()] == [default]  # no temp file left
        # Times shown: they are saved too, as the pane shows them.
        await pilot.press("t")
        assert pane.saved_text().startswith(f"{time_prefix(FIXED_NOW)}Unpacking openssl")


async def test_save_never_writes_through_a_link(
    tui_offline_app: Callable[..., PatchtuiApp],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / "out.log").symlink_to(victim)
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("z")
        pane = full_screen_pane(app)
        feed(app, "db-01", ["secret output"])
        await settle(pilot)
        await pilot.press("ctrl+s")
        path_input = app.screen.query_one("#save-path", Input)
        path_input.value = "out.log"
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)  # nothing to agree to
        assert victim.read_text() == "precious\n"
        assert (tmp_path / "out.log").is_symlink()
        assert any("is not a regular file" in str(n.message) for n in app._notifications)
        assert pane.saved_to is None


def test_save_text_refuses_links_and_directories_even_when_replacing(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    link = tmp_path / "link.log"
    link.symlink_to(victim)
    for path in (link, tmp_path):
        with pytest.raises(SaveExists) as raised:
            save_text(path, "x\n", replace=True)
        assert not raised.value.replaceable
    assert victim.read_text() == "precious\n"
    with pytest.raises(SaveExists) as raised:
        save_text(victim, "x\n")  # a regular file: replaced only when asked to
    assert raised.value.replaceable and victim.read_text() == "precious\n"
    assert save_text(victim, "new\n", replace=True) == victim
    assert victim.read_text() == "new\n"


def test_a_save_that_fails_says_why_in_one_line_and_not_about_the_database(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "no-such-directory" / "out.log"
    with pytest.raises(StoreError) as raised:
        save_text(missing, "x\n")
    assert str(raised.value) == f"cannot write {missing}: No such file or directory"
    assert not missing.parent.exists()


async def test_default_save_name_uses_the_run_and_a_safe_host_name(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        host = "dev-[red]x[/red]"
        app.bridge(RunStarted(run_id=RUN, operation="patch", hosts=(host,)))
        app.bridge(HostStateChanged(run_id=RUN, host=host, state=HostState.PATCHING))
        await pilot.press("down")
        await settle(pilot)
        pane = hosts_pane(app)
        assert pane.host == host
        assert str(pane.default_save_path()) == f"patchtui-dev-_red_x__red_-{RUN}.log"
    assert safe_name("../../etc/passwd") == "_.._etc_passwd"


def test_new_pane_keys_are_in_help() -> None:
    rows = dict(help_rows([]))
    assert any("wrap" in text.lower() for keys, text in rows.items() if "w" in keys.split())
    assert any("save" in text.lower() for keys, text in rows.items() if "ctrl+s" in keys)
    assert any("time" in text.lower() for keys, text in rows.items() if "t" in keys.split())
