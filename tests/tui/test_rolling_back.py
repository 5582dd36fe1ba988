"""Hosts being rolled back show ``rolling-back``, not ``patching`` (issue 16, wording)."""

from __future__ import annotations

from collections.abc import Callable

from test_output_panes import hosts_pane, settle
from tuihelp import SIZE

from patchtui.engine.events import HostState, HostStateChanged, RunStarted
from patchtui.tui.app import PatchtuiApp
from patchtui.tui.hostview import ACTIVE_STATES, STATE_ORDER, STATE_VARIABLES
from patchtui.tui.screens.output import RUNNING_STATES, SplitOutputScreen
from patchtui.tui.widgets.host_table import HostTable
from patchtui.tui.widgets.output_pane import OutputPane

RUN = "20261127T090000Z-b0b0b0"


def test_every_state_has_a_colour_and_a_place_in_the_order() -> None:
    # history.py and detail.py index STATE_VARIABLES by state: a missing one is a crash.
    assert set(STATE_VARIABLES) == set(HostState) == set(STATE_ORDER)
    assert HostState.ROLLING_BACK in ACTIVE_STATES and HostState.ROLLING_BACK in RUNNING_STATES


async def test_rolling_back_host_is_shown_whole_filtered_and_given_a_pane(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        app.bridge(RunStarted(run_id=RUN, operation="rollback", hosts=("db-01", "web-01")))
        app.bridge(HostStateChanged(run_id=RUN, host="db-01", state=HostState.ROLLING_BACK))
        app.bridge(HostStateChanged(run_id=RUN, host="web-01", state=HostState.QUEUED))
        await settle(pilot)
        table = app.screen.query_one(HostTable)
        assert table.get_cell("db-01", "state").plain == "rolling-back"
        # The column is wide enough for it: not cut to "rolling-bac".
        state_column = next(c for c in table.ordered_columns if c.key.value == "state")
        assert state_column.width >= len("rolling-back")
        assert hosts_pane(app).title_text == "db-01 · rolling-back"
        await pilot.press("slash", *"state:rolling-back", "enter")
        await settle(pilot)
        assert table.visible_hosts == ["db-01"]
        await pilot.press("escape", "escape")  # clear the filter
        await pilot.press("v")  # the split view shows hosts at work: this one too
        await settle(pilot)
        assert isinstance(app.screen, SplitOutputScreen)
        shown = [pane.host for pane in app.screen.query(OutputPane) if pane.display]
        assert shown == ["db-01"]
