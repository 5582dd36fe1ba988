"""The footer: right for the focused widget, one widget, and its keys work with the mouse."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Input
from tuihelp import SIZE

from patchtui.tui.app import PatchtuiApp
from patchtui.tui.widgets.footer import PALETTE_SEPARATOR, KeyFooter


def footer_of(app: App[object]) -> KeyFooter:
    return app.screen.query_one(KeyFooter)


def active_keys(app: App[object]) -> set[str]:
    """What the footer should show: the visible bindings active for the focused widget,
    and the command palette's key, which the footer always shows."""
    shown = {
        binding.key for _, binding, _, _ in app.screen.active_bindings.values() if binding.show
    }
    return shown | {app.COMMAND_PALETTE_BINDING}


def cell_of(footer: KeyFooter, label: str) -> int:
    """The first cell of ``label`` in the footer's line."""
    line = footer.render().plain
    assert label in line, line
    return line.index(label)


async def test_footer_follows_focus_without_widgets_of_its_own(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        footer = footer_of(app)
        on_table = set(footer.shown_keys)
        assert on_table == active_keys(app) and "s" in on_table
        for _ in range(3):
            await pilot.press("slash")  # the filter box: other keys are active
            await pilot.pause()
            assert set(footer.shown_keys) == active_keys(app) != on_table
            await pilot.press("escape", "escape")  # back to the table
            await pilot.pause()
            assert set(footer.shown_keys) == on_table
        # Nothing is mounted per key: a focus change repaints one line.
        assert not footer.children
        line = footer.render().plain
        assert line.startswith(" s Scan  p Patch ")
        assert len(line) == SIZE[0] and line.rstrip().endswith(f"{PALETTE_SEPARATOR}^p palette")


async def test_clicking_a_key_presses_it(tui_offline_app: Callable[..., PatchtuiApp]) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        footer = footer_of(app)
        assert await pilot.click(KeyFooter, offset=(cell_of(footer, "/ Filter") + 1, 0))
        await pilot.pause()
        assert isinstance(app.focused, Input)


class _OneDisabledKey(App[None]):
    BINDINGS = [
        Binding("x", "blocked", "Blocked", tooltip="Not now"),
        Binding("y", "allowed", "Allowed", tooltip="Go ahead"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.bells = 0
        self.allowed = 0

    def compose(self) -> ComposeResult:
        yield KeyFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if action == "blocked" else True  # None: shown, but disabled

    def action_allowed(self) -> None:
        self.allowed += 1

    def bell(self) -> None:
        self.bells += 1


async def test_a_disabled_key_rings_the_bell_and_hover_shows_tooltips() -> None:
    app = _OneDisabledKey()
    async with app.run_test(size=(80, 5)) as pilot:
        await pilot.pause()
        footer = footer_of(app)
        assert [key.enabled for key in footer.keys] == [False, True]
        blocked, allowed = cell_of(footer, "x Blocked"), cell_of(footer, "y Allowed")

        await pilot.click(KeyFooter, offset=(blocked, 0))
        await pilot.click(KeyFooter, offset=(allowed, 0))
        await pilot.pause()
        assert (app.bells, app.allowed) == (1, 1)

        await pilot.hover(KeyFooter, offset=(allowed, 0))
        await pilot.pause()
        assert footer.tooltip == "Go ahead"
        await pilot.hover(KeyFooter, offset=(40, 0))  # between the keys and the palette's
        await pilot.pause()
        assert footer.tooltip is None
        await pilot.hover(KeyFooter, offset=(78, 0))
        await pilot.pause()
        assert footer.tooltip == "Open the command palette"
