"""The footer: right for the focused widget, rebuilt only when its keys change, leak-free."""

from __future__ import annotations

import gc
from collections.abc import Callable

from textual.widgets._footer import FooterKey
from tuihelp import SIZE

from patchtui.tui.app import PatchtuiApp
from patchtui.tui.widgets.footer import SteadyFooter


def shown_keys(app: PatchtuiApp) -> set[str]:
    return {key.key for key in app.screen.query_one(SteadyFooter).query(FooterKey)}


def active_keys(app: PatchtuiApp) -> set[str]:
    """What the footer should show: the visible bindings active for the focused widget,
    and the command palette's key, which the footer always shows."""
    shown = {
        binding.key for _, binding, _, _ in app.screen.active_bindings.values() if binding.show
    }
    return shown | {app.COMMAND_PALETTE_BINDING}


async def test_footer_follows_focus_and_keeps_no_removed_keys(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        on_table = shown_keys(app)
        assert on_table == active_keys(app) and "s" in on_table
        for _ in range(6):
            await pilot.press("slash")  # the filter box: other keys are active
            await pilot.pause()
            assert shown_keys(app) == active_keys(app)
            await pilot.press("escape", "escape")  # back to the table
            await pilot.pause()
            assert shown_keys(app) == on_table
        gc.collect()
        # Each rebuild removes the old keys; none may stay alive behind the footer.
        alive = [obj for obj in gc.get_objects() if isinstance(obj, FooterKey)]
        assert alive and all(key.is_attached for key in alive)
