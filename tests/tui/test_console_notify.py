"""The console's runs alert like the headless ones: config.toml [notify] reaches them."""

from __future__ import annotations

from collections.abc import Callable

from notifyhelp import closed_port, webhook_server
from tuihelp import SIZE, wait_until

from patchtui.engine.notify import NotifySettings, parse_target
from patchtui.store.db import Store
from patchtui.tui.app import PatchtuiApp


def _notified(store: Store) -> list[object]:
    runs = store.runs()
    return list(runs[0].get("notify") or []) if runs else []


async def test_a_console_scan_posts_its_end_and_records_the_delivery(
    tui_lab_app: Callable[..., PatchtuiApp], tui_store: Store
) -> None:
    with webhook_server() as hook:
        settings = NotifySettings(targets=(parse_target(hook.url),))
        app = tui_lab_app(notify=settings)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("s")
            await wait_until(pilot, lambda: bool(_notified(tui_store)))
            run = app.bridge.run
            assert run is not None and run.outcome == "completed"
    (post,) = hook.posts
    assert post["event"] == "run-end" and post["operation"] == "scan"
    assert post["outcome"] == "completed" and post["counts"]["hosts"] == 6
    assert post["run_id"] == tui_store.runs()[0]["run_id"]
    (delivery,) = _notified(tui_store)
    assert delivery["ok"] is True  # type: ignore[index]


async def test_a_dead_notifier_leaves_the_console_run_as_it_was(
    tui_lab_app: Callable[..., PatchtuiApp], tui_store: Store
) -> None:
    dead = parse_target(f"http://127.0.0.1:{closed_port()}/hook")
    app = tui_lab_app(notify=NotifySettings(targets=(dead,), timeout=1))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: bool(_notified(tui_store)))
        run = app.bridge.run
        assert run is not None and run.outcome == "completed"
        assert app.is_running  # a failed alert is a toast, not an exit
    (delivery,) = _notified(tui_store)
    assert delivery["ok"] is False and delivery["attempts"] == 2  # type: ignore[index]
