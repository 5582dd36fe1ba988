"""Run control in the console: patch form and confirmation, reboot, rollback, cancel, pause.

The pure parts (form -> PatchOptions, confirmation wording, status line) are
checked directly; the rest drives the app with a Pilot against the real lab
(real SSH on loopback, real store file), with the lab's job and reboot timings
shortened as in tests/integration/test_patch_engine.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Static
from tuihelp import say_yes, wait_until

from patchtui.drivers.base import Selection
from patchtui.engine import reboot as engine_reboot
from patchtui.engine.events import HostState, RunFinished, RunStarted, RunSummary, WaveStarted
from patchtui.engine.patch import PatchJob, PatchOptions, closed_windows
from patchtui.engine.rollout import Amount, plan_rollout
from patchtui.errors import ConfigError
from patchtui.inventory.loader import load_inventory
from patchtui.inventory.model import Host, Inventory
from patchtui.lab.server import LabServer
from patchtui.lab.sim import jobs as lab_jobs
from patchtui.lab.state import SimHost
from patchtui.store.db import Store
from patchtui.transport.ssh import SshConnector
from patchtui.tui.app import PatchtuiApp, quit_lines
from patchtui.tui.bridge import EventBridge, RunProgress
from patchtui.tui.screens.command import CommandScreen
from patchtui.tui.screens.confirm import ConfirmScreen
from patchtui.tui.screens.help import help_rows
from patchtui.tui.screens.history import HistoryScreen
from patchtui.tui.screens.hosts import HostsScreen
from patchtui.tui.screens.output import HostOutputScreen, SplitOutputScreen
from patchtui.tui.screens.password import PasswordScreen
from patchtui.tui.screens.patch_modal import (
    PatchForm,
    PatchModal,
    confirmation_lines,
    options_from_form,
)
from patchtui.tui.widgets.host_table import HostTable
from patchtui.tui.widgets.progress import bar_progress, format_elapsed, progress_text

SIZE = (160, 45)
FAST = PatchOptions(poll_interval=0.1, reboot_time_limit=30, reconnect_time_limit=30)


@pytest.fixture
def quick_lab(monkeypatch: pytest.MonkeyPatch) -> None:
    """Installs and reboots in fractions of a second (the lab runs in this process)."""
    monkeypatch.setattr(lab_jobs, "JOB_DURATION_RANGE", (0.3, 0.6))
    monkeypatch.setattr(lab_jobs, "REBOOT_DOWNTIME", 0.5)
    monkeypatch.setattr(engine_reboot, "SHUTDOWN_GRACE", 0.2)


def versions(lab: LabServer) -> dict[str, dict[str, str]]:
    return {
        sim.name: {name: package.installed for name, package in sim.packages.items()}
        for sim in lab.hosts
    }


def pending(sim: SimHost) -> int:
    return sum(1 for package in sim.packages.values() if package.candidate() is not None)


def run_done(app: PatchtuiApp, previous: str | None = None) -> bool:
    run = app.bridge.run
    return run is not None and run.run_id != previous and not run.running and app.job is None


def status_text(app: PatchtuiApp) -> str:
    return str(app.screen.query_one("#run-status", Static).render())


# ---------------------------------------------------------------- pure parts


def test_form_builds_the_engine_options() -> None:
    options = options_from_form(
        PatchForm(
            security_only=True,
            packages="openssl, libssl*",
            exclude="kernel*",
            canary="1",
            batch="50%",
            max_failures="2",
            reboot="never",
            pre="test -f /ok",
            dry_run=True,
        ),
        FAST,
    )
    assert options.selection == Selection(
        security_only=True, packages=("openssl", "libssl*"), exclude=("kernel*",)
    )
    assert options.canary == 1
    assert options.batch == Amount(50.0, True)
    assert options.max_failures == Amount(2, False)
    assert (options.reboot, options.pre, options.post, options.dry_run) == (
        "never",
        "test -f /ok",
        None,
        True,
    )
    assert options.poll_interval == FAST.poll_interval  # the rest comes from the base


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (PatchForm(batch="lots"), "batch takes N or N%, got 'lots'"),
        (PatchForm(max_failures="150%"), "max failures must be between 0 and 100%"),
        (PatchForm(canary="-1"), "canary must be 0 or more"),
        (PatchForm(batch="0"), "batch must be at least 1 host"),
        (PatchForm(packages="bad name!"), "--packages:"),
    ],
)
def test_form_errors_are_one_line(form: PatchForm, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        options_from_form(form)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_confirmation_names_hosts_prod_and_waves(tui_inventory: Inventory) -> None:
    hosts = list(tui_inventory.hosts)
    options = options_from_form(PatchForm(canary="1", batch="2", max_failures="1"))
    plan = plan_rollout(hosts, canary=1, batch=options.batch, max_failures=options.max_failures)
    lines = confirmation_lines("Patch", hosts, options, plan)
    assert lines[0] == "Patch 4 hosts (3 labelled env=prod)"
    assert "  canary: web-01" in lines
    assert any(line.startswith("  wave 1/2: ") for line in lines)
    assert any(
        line.startswith("Halts when more than 1 host fails (or any canary failure)")
        for line in lines
    )
    no_failures = plan_rollout(hosts)
    lines = confirmation_lines("Patch", hosts, PatchOptions(), no_failures)
    assert "Halts on the first failure · reboot: if-needed" in lines


def test_confirmation_says_who_is_outside_their_window_and_when_it_opens() -> None:
    """Seen: 3 of 6 hosts skipped as outside-window after a confirmation silent on windows."""
    window = {"maintenance_window": "Sun 02:00-04:00 Europe/Berlin"}
    hosts = [Host(name=f"h{i}", address="a", vars=window if i < 3 else {}) for i in range(6)]
    saturday_noon = dt.datetime(2024, 6, 8, 12, 0, tzinfo=dt.UTC)
    closed = closed_windows(hosts, saturday_noon)
    assert sorted(closed) == ["h0", "h1", "h2"]
    options = PatchOptions()
    lines = confirmation_lines(
        "Patch", hosts, options, options.plan(hosts), chosen_by="all 6 shown", closed=closed
    )
    assert lines[0] == "Patch 6 hosts (0 labelled env=prod), all 6 shown"
    assert (
        "3 of 6 hosts are outside their maintenance window and will be skipped "
        "(h0, h1, h2); the first opens Sun 2024-06-09 02:00 Europe/Berlin (00:00 UTC)."
    ) in lines
    ignoring = dataclasses.replace(options, ignore_window=True)
    lines = confirmation_lines("Patch", hosts, ignoring, ignoring.plan(hosts), closed=closed)
    assert any(line.startswith("IGNORING maintenance windows: 3 of 6 hosts") for line in lines)
    assert closed_windows(hosts, dt.datetime(2024, 6, 9, 1, 0, tzinfo=dt.UTC)) == {}
    waiting = dataclasses.replace(options, wait_for_window=True)
    lines = confirmation_lines("Patch", hosts, waiting, waiting.plan(hosts), closed=closed)
    assert (
        "3 of 6 hosts are outside their maintenance window and will wait for it "
        "(h0, h1, h2); the first opens Sun 2024-06-09 02:00 Europe/Berlin (00:00 UTC). "
        "The run lasts until the last window opens (c cancels the wait)."
    ) in lines


async def test_the_patch_form_waits_for_windows_and_remembers_it(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    """Issue 17: `patch --wait-for-window` in the console too (it was headless only)."""
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PatchModal))
        modal = app.screen
        assert isinstance(modal, PatchModal)
        modal.query_one("#wait-for-window", Checkbox).value = True
        form = modal.form()
        assert form.wait_for_window
        assert options_from_form(form).wait_for_window
        # Waiting for a window and ignoring it contradict each other, as the flags do.
        with pytest.raises(ConfigError, match="not both"):
            options_from_form(dataclasses.replace(form, ignore_window=True))
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert app.last_patch_form is not None and app.last_patch_form.wait_for_window
        # A safe choice, so it is carried over (ignoring windows never is).
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PatchModal))
        assert app.screen.query_one("#wait-for-window", Checkbox).value is True


def test_confirmation_names_the_canaries_and_how_they_were_chosen() -> None:
    hosts = [Host(name=f"h{i}", address="a") for i in range(4)]
    options = PatchOptions(canary=1, canary_fitness={"h0": "failed", "h1": "ok"})
    lines = confirmation_lines("Patch", hosts, options, options.plan(hosts))
    assert (
        "Canaries: h1 (chosen among hosts whose last scan was ok; "
        "1 host whose last scan failed excluded)"
    ) in lines


async def test_many_or_production_hosts_need_the_count_typed_not_a_y(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    """Seen: a filter, enter, then p and y patched 300 hosts (247 env=prod)."""
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PatchModal))
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        screen = app.screen
        assert isinstance(screen, ConfirmScreen) and screen.typed == "4"  # 3 are env=prod
        assert screen.body_text.startswith("Patch 4 hosts (3 labelled env=prod), all 4 shown")
        await pilot.press("y", "enter")  # a slip: 'y' is text here, and not the count
        await pilot.pause()
        assert app.screen is screen and app.job is None
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, HostsScreen))
        assert app.job is None and app.bridge.run is None
        # One dev host selected: small and not production, a plain y will do.
        table = app.screen.query_one(HostTable)
        table.move_cursor(row=table.visible_hosts.index("dev-[red]x[/red]"))
        await pilot.press("space", "p")
        await wait_until(pilot, lambda: isinstance(app.screen, PatchModal))
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        screen = app.screen
        assert isinstance(screen, ConfirmScreen) and screen.typed is None
        assert screen.body_text.startswith("Patch 1 host (0 labelled env=prod), 1 selected")
        await pilot.press("n")


async def test_console_never_picks_a_canary_whose_last_scan_failed(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        app.rows["web-01"].state = HostState.FAILED  # first in inventory order
        app.rows["web-02"].state = HostState.OK
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PatchModal))
        app.screen.query_one("#canary", Input).value = "1"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen)
        lines = app.screen.lines
        canaries = next(line for line in lines if line.startswith("Canaries: "))
        assert canaries.startswith("Canaries: web-02 (") and "web-01" not in canaries
        assert "  canary: web-02" in lines
        await pilot.press("escape")


async def test_reboot_confirmation_is_typed_for_production_too(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", "w", "e", "b", "enter", "R")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        screen = app.screen
        assert isinstance(screen, ConfirmScreen) and screen.typed == "2"
        assert screen.body_text.startswith("Reboot 2 hosts (2 labelled env=prod), filter 'web'")
        await pilot.press("escape")


def test_status_line_shows_wave_failures_halt_and_pause() -> None:
    run = RunProgress(run_id="r1", operation="patch", total=6, max_failures=1, started=100.0)
    run.finished, run.failures, run.wave = 3, 1, "wave 1/2"
    run.states = {"a": HostState.OK, "b": HostState.OK, "c": HostState.FAILED}
    text = progress_text(run, host_count=6, now=165.0)
    assert text.startswith("patch running: 3/6 done (2 ok, 1 failed)")
    assert "wave 1/2" in text and "1 failed of 1 allowed" in text and "1:05" in text
    assert "P: pause" in text
    run.control = "paused"
    assert progress_text(run, host_count=6, now=165.0).startswith("patch paused: 3/6")
    run.halted = "failure threshold reached: 2 failed, 1 allowed"
    assert "HALTED: failure threshold reached" in progress_text(run, host_count=6, now=165.0)
    assert format_elapsed(3725) == "1:02:05"


_EMPTY_SUMMARY = RunSummary(
    hosts=1,
    ok=1,
    failed=0,
    unreachable=0,
    interrupted=0,
    skipped=0,
    pending=0,
    security=0,
    reboot_required=0,
    stale=0,
    duration=42.0,
)


def test_status_line_counts_skipped_hosts_with_their_reasons() -> None:
    """Seen: 'patch interrupted: 38/38 done (8 ok, 1 unreachable, 29 skipped) · … ·
    0 pending (0 security)' with the bar full while 29 hosts were never patched."""
    run = RunProgress(run_id="r1", operation="patch", total=38, max_failures=1, started=0.0)
    run.states = {f"ok{i}": HostState.OK for i in range(8)} | {"u": HostState.UNREACHABLE}
    run.states |= {f"s{i}": HostState.SKIPPED for i in range(29)}
    run.finished, run.failures = 38, 1
    run.outcome, run.ended = "halted", 10.0
    run.summary = dataclasses.replace(
        _EMPTY_SUMMARY,
        hosts=38,
        ok=8,
        unreachable=1,
        skipped=29,
        skipped_reasons={"halted": 27, "outside-window": 2},
        scanned=0,
        halted=True,
        halt_reason="failure threshold reached: 2 failed, 1 allowed",
    )
    text = progress_text(run, host_count=38, now=10.0)
    assert text.startswith(
        "patch halted: 38/38 done (8 ok, 1 unreachable, 29 skipped (27 halted, 2 outside-window))"
    ), text
    assert "no host scanned" in text and "0 pending" not in text
    assert bar_progress(run) == 9  # the bar counts hosts worked on, not hosts skipped


def test_run_elapsed_time_comes_from_the_bridge_clock_only() -> None:
    """A snapshot once read 10:58 on a machine up 11 minutes: the run's start must not
    be read from the real monotonic clock behind the test's frozen one."""
    ticks = iter([5_000.0, 5_042.0])
    bridge = EventBridge(clock=lambda: next(ticks))
    bridge(RunStarted(run_id="r1", operation="scan", hosts=("a",), at=0.0))
    assert bridge.run is not None and bridge.run.started == 5_000.0
    assert bridge.run.elapsed(5_030.0) == 30.0
    bridge(RunFinished(run_id="r1", operation="scan", outcome="completed", summary=_EMPTY_SUMMARY))
    assert bridge.run.elapsed(9_999.0) == 42.0  # frozen at the bridge clock's end


def test_bridge_tracks_waves_and_threshold() -> None:
    bridge = EventBridge()
    bridge.expect_run(max_failures=2)
    bridge(RunStarted(run_id="r", operation="patch", hosts=("a", "b")))
    bridge(WaveStarted(run_id="r", index=1, label="wave 1/1", hosts=("a", "b")))
    bridge(WaveStarted(run_id="other", index=5, label="not ours", hosts=()))
    run = bridge.run
    assert run is not None
    assert (run.max_failures, run.wave, run.waves) == (2, "wave 1/1", 2)


def test_help_lists_the_run_keys() -> None:
    keys = {keys for keys, _ in help_rows(PatchtuiApp.BINDINGS)}
    assert {"p", "R", "c", "P", "!", "C", "b", "e"} <= keys


# ---------------------------------------------------------------- form and confirmation (offline)


async def test_patch_form_shows_errors_inline_and_stays_open(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PatchModal))
        app.screen.query_one("#batch", Input).value = "lots"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, PatchModal)
        error = app.screen.query_one("#patch-error", Static)
        assert error.has_class("-shown")
        assert "batch takes N or N%, got 'lots'" in str(error.render())
        # Fixed, the form moves on to the confirmation: 4 hosts, 3 of them prod.
        app.screen.query_one("#batch", Input).value = "2"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.body_text.startswith("Patch 4 hosts (3 labelled env=prod)")
        assert "wave 2/2" in app.screen.body_text
        await pilot.press("escape")  # no: nothing runs (the offline connector would fail)
        await wait_until(pilot, lambda: isinstance(app.screen, HostsScreen))
        assert app.job is None and app.bridge.run is None


async def test_a_burst_of_keys_lands_in_the_fields_and_the_form_remembers(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    """Seen: 'Tab Tab Tab Tab 1 Tab 2 Tab 3' in one burst (a paste, a fast typist) left
    Canary at 0 and Batch and Max failures empty: each digit reached the field being
    left, because the focus moved only once the tab had bubbled up."""
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PatchModal))
        await wait_until(pilot, lambda: getattr(app.focused, "id", None) == "security-only")
        # Posted at once, as a terminal delivers a burst: no waiting between keys.
        for key in ["tab", "tab", "tab", "tab", "1", "tab", "2", "tab", "3"]:
            app.post_message(events.Key(key, key if len(key) == 1 else None))

        def value(widget_id: str) -> str:
            return app.screen.query_one(f"#{widget_id}", Input).value

        def typed() -> tuple[str, str, str]:
            return (value("canary"), value("batch"), value("max-failures"))

        # Waits for the keys to be processed (a busy machine is slow), not for luck.
        await wait_until(pilot, lambda: typed() == ("1", "2", "3") or app.focused is None)
        assert typed() == ("1", "2", "3")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, HostsScreen))
        await pilot.press("p")  # the next form opens as the last one was submitted
        await wait_until(pilot, lambda: isinstance(app.screen, PatchModal))
        await wait_until(pilot, lambda: typed() == ("1", "2", "3"))


async def test_password_is_asked_only_when_ticked_and_never_kept(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    seen: list[str | None] = []

    class Recording:
        def __init__(self, become_password: str | None = None) -> None:
            seen.append(become_password)

        async def connect(self, host: object) -> object:
            raise OSError("no network in this test")

        def slot(self) -> object:
            import asyncio

            return asyncio.Semaphore(4)

        async def close_all(self) -> None:
            return None

    app = tui_offline_app(connector_factory=Recording)
    async with app.run_test(size=SIZE) as pilot:
        assert app.connector_takes_password
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PatchModal))
        app.screen.query_one("#ask-password", Checkbox).value = True
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await say_yes(pilot)
        await wait_until(pilot, lambda: isinstance(app.screen, PasswordScreen))
        await pilot.press(*"s3cret", "enter")
        await wait_until(pilot, lambda: run_done(app))
        assert seen == ["s3cret"]
        assert app._pending_run is None
        run = app.bridge.run
        assert run is not None and run.operation == "patch"
        # The fake connector reaches nothing: every host ends, none of them ok.
        assert len(run.states) == 4
        assert all(state.is_final and state is not HostState.OK for state in run.states.values())
        assert "s3cret" not in status_text(app)


# ---------------------------------------------------------------- against the lab


async def test_patch_via_the_form_reaches_ok_and_nothing_pending(
    quick_lab: None,
    tui_lab: tuple[LabServer, Path],
    tui_lab_app: Callable[..., PatchtuiApp],
    tui_store: Store,
) -> None:
    lab, _ = tui_lab
    app = tui_lab_app(run_defaults=FAST)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PatchModal))
        app.screen.query_one("#canary", Input).value = "1"
        app.screen.query_one("#max-failures", Input).value = "1"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await say_yes(pilot)
        await wait_until(pilot, lambda: app.bridge.run is not None)
        await wait_until(pilot, lambda: run_done(app), timeout=60)
        await pilot.pause(0.25)
        run = app.bridge.run
        assert run is not None and run.outcome == "completed", run
        assert run.max_failures == 1 and run.wave == "wave 1/1"
        for row in app.rows.values():
            assert row.state is HostState.OK
            assert row.pending == 0
        assert all(pending(sim) == 0 for sim in lab.hosts)
        text = status_text(app)
        assert "patch completed: 6/6 done (6 ok)" in text and "0 failed of 1 allowed" in text
    assert [run["status"] for run in tui_store.runs()] == ["completed"]


async def test_dry_run_changes_nothing(
    quick_lab: None,
    tui_lab: tuple[LabServer, Path],
    tui_lab_app: Callable[..., PatchtuiApp],
    tui_store: Store,
) -> None:
    lab, _ = tui_lab
    before = versions(lab)
    app = tui_lab_app(run_defaults=FAST)
    async with app.run_test(size=SIZE) as pilot:
        states_before = {name: row.state for name, row in app.rows.items()}
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PatchModal))
        app.screen.query_one("#dry-run", Checkbox).value = True
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.body_text.startswith("Dry-run 6 hosts")
        await say_yes(pilot)
        await wait_until(pilot, lambda: run_done(app), timeout=60)
        await pilot.pause(0.25)
        run = app.bridge.run
        assert run is not None and run.outcome == "dry-run"
        # The table shows what the hosts are, not what a dry run would make them.
        assert {name: row.state for name, row in app.rows.items()} == states_before
        assert all(row.detail.startswith("dry run: planned") for row in app.rows.values())
        text = status_text(app)
        assert text.startswith("patch dry run: 6/6 done (6 planned)"), text
    assert versions(lab) == before
    assert all(doc.get("last_state") != "ok" for doc in tui_store.hosts())
    assert [(run["status"], run["counts"]["dry_run"]) for run in tui_store.runs()] == [
        ("dry-run", True)
    ]
    assert all(not sim.jobs for sim in lab.hosts)


def slow_patch_app(tui_lab_app: Callable[..., PatchtuiApp]) -> PatchtuiApp:
    """Slow hosts, one at a time: a run is far from done while the keys arrive."""
    return tui_lab_app(
        run_defaults=FAST,
        connector_factory=lambda: SshConnector(concurrency=1, use_agent=False),
    )


async def start_patch(pilot: Pilot[int], app: PatchtuiApp) -> PatchJob:
    """p, the form as it opens, yes: the patch job now running."""
    await pilot.press("p")
    await wait_until(pilot, lambda: isinstance(app.screen, PatchModal))
    await pilot.press("ctrl+s")
    await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    await say_yes(pilot)
    await wait_until(pilot, lambda: isinstance(app.job, PatchJob))
    assert isinstance(app.job, PatchJob)
    return app.job


@pytest.mark.parametrize("tui_lab_slow", [True])
async def test_pause_resume_then_cancel_twice(
    quick_lab: None,
    tui_lab_app: Callable[..., PatchtuiApp],
    tui_store: Store,
) -> None:
    app = slow_patch_app(tui_lab_app)
    async with app.run_test(size=SIZE) as pilot:
        job = await start_patch(pilot, app)

        # The status line is redrawn by a timer: wait for it, not a fixed 0.2 s (seen failing
        # with the suite on four workers of a busy machine).
        await pilot.press("P")
        assert job.paused
        await wait_until(pilot, lambda: "patch paused" in status_text(app), timeout=10)
        assert "P: resume" in status_text(app)
        await pilot.press("P")
        assert not job.paused
        await wait_until(pilot, lambda: "patch running" in status_text(app), timeout=10)

        await pilot.press("c")
        assert job.stopping
        await wait_until(pilot, lambda: "patch cancelling" in status_text(app), timeout=10)
        await pilot.press("c")  # second: stop waiting for the host still running
        await wait_until(pilot, lambda: run_done(app), timeout=30)
        await pilot.pause(0.25)
        run = app.bridge.run
        assert run is not None and run.outcome == "interrupted"
        states = {row.state for row in app.rows.values()}
        assert states <= {HostState.OK, HostState.SKIPPED, HostState.INTERRUPTED}
        # Stopped waiting: the host that was running (and the ones queued behind it) end
        # interrupted; none is left in a running state.
        assert HostState.INTERRUPTED in states
        assert "patch interrupted" in status_text(app)
    assert [run["status"] for run in tui_store.runs()] == ["interrupted"]


@pytest.mark.parametrize("tui_lab_slow", [True])
async def test_cancel_and_pause_work_and_progress_shows_in_the_output_views(
    quick_lab: None,
    tui_lab_app: Callable[..., PatchtuiApp],
    tui_store: Store,
) -> None:
    """Seen: c and P did nothing in the split (v) and full-screen (z) views, which
    showed no progress line either."""
    app = slow_patch_app(tui_lab_app)

    def screen_status() -> str:
        return str(app.screen.query_one("#run-status", Static).render())

    async with app.run_test(size=SIZE) as pilot:
        job = await start_patch(pilot, app)

        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, SplitOutputScreen))
        await wait_until(pilot, lambda: screen_status().startswith("patch running: "))
        await pilot.press("P")
        assert job.paused
        await wait_until(pilot, lambda: screen_status().startswith("patch paused: "))
        await pilot.press("P")
        assert not job.paused

        await pilot.press("z")
        await wait_until(pilot, lambda: isinstance(app.screen, HostOutputScreen))
        await wait_until(pilot, lambda: "P: pause" in screen_status())
        await pilot.press("c")
        assert job.stopping
        await wait_until(pilot, lambda: screen_status().startswith("patch cancelling: "))
        await pilot.press("c")  # again: stop waiting
        await wait_until(pilot, lambda: run_done(app), timeout=30)
        await wait_until(pilot, lambda: screen_status().startswith("patch interrupted: "))
    assert [run["status"] for run in tui_store.runs()] == ["interrupted"]


@pytest.mark.parametrize("tui_lab_slow", [True])
async def test_q_during_a_patch_asks_and_no_keeps_it_running(
    quick_lab: None,
    tui_lab_app: Callable[..., PatchtuiApp],
    tui_store: Store,
) -> None:
    """Seen: q mid-patch exited at once with code 0 while installs went on on hosts."""
    app = slow_patch_app(tui_lab_app)
    async with app.run_test(size=SIZE) as pilot:
        await start_patch(pilot, app)
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen)
        body = app.screen.body_text
        assert app.screen.title_text == "Quit while a patch runs?"
        assert "Package transactions already running" in body and "code 130" in body
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert app.is_running and isinstance(app.job, PatchJob) and not app.job.stopping
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await say_yes(pilot)
        await wait_until(pilot, lambda: app.job is None, timeout=30)
    assert app.return_value == 130
    assert [run["status"] for run in tui_store.runs()] == ["interrupted"]


@pytest.mark.parametrize("tui_lab_slow", [True])
async def test_q_while_a_run_is_starting_still_asks(
    quick_lab: None,
    tui_lab_app: Callable[..., PatchtuiApp],
) -> None:
    """Seen in CI: q right after a patch started quit at once, because the run's first
    events were still on their way from the engine's thread (the bridge knew no run)."""
    app = slow_patch_app(tui_lab_app)
    async with app.run_test(size=SIZE) as pilot:
        await start_patch(pilot, app)
        app.bridge.run = None  # the console's view of a run whose events have not come yet
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.title_text == "Quit while a patch runs?"
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert app.is_running and isinstance(app.job, PatchJob)
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await say_yes(pilot)
        await wait_until(pilot, lambda: app.job is None, timeout=30)


async def test_reboot_action_reboots_and_installs_nothing(
    quick_lab: None,
    tui_lab: tuple[LabServer, Path],
    tui_lab_app: Callable[..., PatchtuiApp],
    tui_store: Store,
) -> None:
    lab, _ = tui_lab
    before = versions(lab)
    app = tui_lab_app(run_defaults=FAST)
    async with app.run_test(size=SIZE) as pilot:
        target = app.screen.query_one("#hosts").highlighted_host  # type: ignore[attr-defined]
        assert isinstance(target, str)
        sim = next(each for each in lab.hosts if each.name == target)
        boot_id = sim.boot_id
        await pilot.press("space", "R")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.body_text.startswith("Reboot 1 host (")
        await say_yes(pilot)
        await wait_until(pilot, lambda: run_done(app), timeout=60)
        run = app.bridge.run
        assert run is not None and (run.operation, run.outcome) == ("reboot", "completed")
    assert sim.boot_id != boot_id
    assert versions(lab) == before
    (stored,) = tui_store.runs()
    assert stored["operation"] == "reboot"
    (result,) = tui_store.host_results(str(stored["run_id"]))
    assert result["rebooted"] is True and result["changes"] == []


async def test_rollback_from_history_restores_versions(
    quick_lab: None,
    tui_lab: tuple[LabServer, Path],
    tui_lab_app: Callable[..., PatchtuiApp],
    tui_store: Store,
) -> None:
    lab, _ = tui_lab
    before = versions(lab)
    app = tui_lab_app(run_defaults=FAST)
    async with app.run_test(size=SIZE) as pilot:
        names = list(app.rows)[:3]
        assert app.start_patch(names, dataclasses.replace(FAST, reboot="never"))
        await wait_until(pilot, lambda: run_done(app), timeout=60)
        await pilot.pause(0.25)
        # No reboot: the table still shows the state after the install, not before it.
        assert all(app.rows[name].pending == 0 for name in names)
        patched = versions(lab)
        assert any(patched[name] != before[name] for name in names)
        patch_run = app.bridge.run
        assert patch_run is not None

        await pilot.press("h")
        assert isinstance(app.screen, HistoryScreen)
        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.body_text.startswith("Roll back ")
        await say_yes(pilot)
        await wait_until(pilot, lambda: run_done(app, patch_run.run_id), timeout=60)
        assert isinstance(app.screen, HostsScreen)  # back where the progress shows
        run = app.bridge.run
        assert run is not None and (run.operation, run.outcome) == ("rollback", "completed")
    after = versions(lab)
    # Every replaced version is back. A kernel the metapackage upgrade pulled in stays
    # installed, as on Debian (a downgrade of linux-image-amd64 removes nothing).
    assert {
        host: {n: v for n, v in got.items() if n in before[host]} for host, got in after.items()
    } == before
    assert all(
        n.startswith("linux-image-")
        for host in after
        for n in after[host].keys() - before[host].keys()
    )
    statuses = {run["operation"]: run["status"] for run in tui_store.runs()}
    assert statuses == {"patch": "completed", "rollback": "completed"}


async def test_retry_from_history_patches_only_the_hosts_that_did_not_finish_ok(
    quick_lab: None,
    tui_lab_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_lab_app(run_defaults=FAST)
    async with app.run_test(size=SIZE) as pilot:
        names = list(app.rows)
        assert app.start_patch(names[:2], dataclasses.replace(FAST, pre="false"))
        await wait_until(pilot, lambda: run_done(app), timeout=60)
        first = app.bridge.run
        assert first is not None and first.count(HostState.SKIPPED) == 2  # pre-check
        await pilot.press("h")
        assert isinstance(app.screen, HistoryScreen)
        await pilot.press("u")  # resume: a pre-check skip was not the run stopping
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, PatchModal))
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.body_text.startswith(
            f"Patch 2 hosts (2 labelled env=prod), retry of run {first.run_id}: 2 hosts"
        )
        await pilot.press("escape")


async def test_install_false_option_scans_and_changes_nothing(
    quick_lab: None, tui_lab: tuple[LabServer, Path]
) -> None:
    """The engine side of the reboot action: PatchOptions(install=False) installs nothing."""
    lab, inventory_path = tui_lab
    before = versions(lab)
    hosts = list(load_inventory(inventory_path).hosts)[:2]
    connector = SshConnector(concurrency=2, use_agent=False)
    events: list[object] = []
    job = PatchJob(
        hosts,
        connector=connector,
        emit=events.append,
        options=dataclasses.replace(FAST, install=False, reboot="never"),
    )
    try:
        summary = await job.run()
    finally:
        await connector.close_all()
    assert isinstance(summary, RunSummary) and summary.results == {"ok": 2}
    assert all(outcome.changes == [] and outcome.before == {} for outcome in job.outcomes.values())
    assert versions(lab) == before


async def test_command_action_runs_on_the_selected_hosts(
    tui_lab_app: Callable[..., PatchtuiApp], tui_store: Store
) -> None:
    app = tui_lab_app(run_defaults=FAST)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "exclamation_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandScreen))
        await pilot.press(*"echo hi", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen)
        assert "$ echo hi" in app.screen.body_text
        await say_yes(pilot)
        await wait_until(pilot, lambda: run_done(app), timeout=30)
        run = app.bridge.run
        assert run is not None and (run.operation, run.outcome, run.total) == (
            "run",
            "completed",
            1,
        )
    assert [run["operation"] for run in tui_store.runs()] == ["run"]


async def test_a_failing_command_has_its_own_column_and_never_becomes_the_patch_state(
    tui_lab_app: Callable[..., PatchtuiApp], tui_store: Store
) -> None:
    """Seen: after a failing '!' command the row said 'failed' as if patching had failed;
    and the form's example command 'uptime' was 'not found' on the demo fleet."""
    app = tui_lab_app(run_defaults=FAST)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(HostTable)
        first, second = table.visible_hosts[:2]
        await pilot.press("s")  # a scan first: the rows' state is now 'ok'
        await wait_until(pilot, lambda: run_done(app), timeout=30)
        assert app.rows[first].state is HostState.OK
        for command, host in (("false", first), ("uptime", second)):
            table.move_cursor(row=table.visible_hosts.index(host))
            app.screen.selected = {host}  # type: ignore[attr-defined]
            previous = app.bridge.run.run_id if app.bridge.run else None
            await pilot.press("exclamation_mark")
            await wait_until(pilot, lambda: isinstance(app.screen, CommandScreen))
            await pilot.press(*command, "enter")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await say_yes(pilot)
            await wait_until(pilot, lambda p=previous: run_done(app, p), timeout=30)
            await pilot.pause(0.25)
        assert app.rows[first].state is HostState.OK  # the scan's state stands
        assert app.rows[first].command == "exit 1"
        assert table.get_cell(first, "command").plain == "exit 1"
        assert app.rows[second].command == "exit 0"
        lines = list(app.bridge.lines(second))
        assert any(" up " in line and "load average" in line for line in lines), lines[-5:]
    assert [run["operation"] for run in tui_store.runs()] == ["run", "run", "scan"]  # newest first


def test_quit_question_counts_queued_hosts_as_not_started() -> None:
    """Seen in the demo: 39 queued hosts were called 'in progress', '0 not started'."""
    run = RunProgress(run_id="r1", operation="patch", total=40, started=0.0)
    run.states = {f"q{i}": HostState.QUEUED for i in range(36)}
    run.states |= {"a": HostState.PATCHING, "b": HostState.CONNECTING, "c": HostState.OK}
    run.finished = 1
    lines = quit_lines(run, is_patch=True)
    assert lines[0] == "patch r1: 1/40 done, 2 in progress, 37 not started."
    assert "the 37 not started are recorded as skipped (cancelled)" in lines[1]
    assert "up to 2 hosts" in lines[2]


def test_quit_question_says_one_host_in_the_singular() -> None:
    run = RunProgress(run_id="r1", operation="scan", total=1, started=0.0)
    run.states = {"a": HostState.SCANNING}
    assert "up to 1 host continue" in quit_lines(run, is_patch=True)[2]
    assert quit_lines(run, is_patch=False)[2].startswith("The 1 host in progress is stopped")
