"""The patch form's health gate and rollback fields: the headless flags' rules and words."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Checkbox, Input
from tuihelp import say_yes, wait_until

from patchtui.engine import reboot as engine_reboot
from patchtui.engine.events import HostState, RunStarted, SwitchRan
from patchtui.engine.health import HealthGate
from patchtui.engine.patch import PatchOptions
from patchtui.engine.rollout import plan_rollout
from patchtui.errors import ConfigError
from patchtui.inventory.model import Host, Inventory
from patchtui.lab.server import LabServer
from patchtui.lab.sim import jobs as lab_jobs
from patchtui.tui.app import PatchtuiApp
from patchtui.tui.bridge import EventBridge
from patchtui.tui.screens.confirm import ConfirmScreen
from patchtui.tui.screens.hosts import HostsScreen
from patchtui.tui.screens.patch_modal import (
    PatchForm,
    PatchModal,
    confirmation_lines,
    options_from_form,
)
from patchtui.tui.widgets.host_table import HostTable
from patchtui.tui.widgets.progress import progress_text

FAST = PatchOptions(poll_interval=0.1, reboot_time_limit=30, reconnect_time_limit=30)


@pytest.fixture
def quick_lab(monkeypatch: pytest.MonkeyPatch) -> None:
    """Installs and reboots in fractions of a second (the lab runs in this process)."""
    monkeypatch.setattr(lab_jobs, "JOB_DURATION_RANGE", (0.3, 0.6))
    monkeypatch.setattr(lab_jobs, "REBOOT_DOWNTIME", 0.5)
    monkeypatch.setattr(engine_reboot, "SHUTDOWN_GRACE", 0.2)


def run_done(app: PatchtuiApp) -> bool:
    run = app.bridge.run
    return run is not None and not run.running and app.job is None


def test_form_gives_the_gate_and_rollback_to_the_engine() -> None:
    options = options_from_form(
        PatchForm(
            health_check=" systemctl is-active app ",
            health_url="http://{host}:8080/healthz",
            rollback_on_failure=True,
        )
    )
    assert options.health == HealthGate(
        command="systemctl is-active app", url="http://{host}:8080/healthz"
    )
    assert options.rollback_on_failure is True
    hosts = [Host(name="web-01", address="10.0.0.1")]
    lines = confirmation_lines("Patch", hosts, options, plan_rollout(hosts))
    assert (
        "Health gate: `systemctl is-active app` on the host and GET http://{host}:8080/healthz,"
        " every 5s for up to 120s; an unhealthy host fails"
    ) in lines
    assert "Rollback on failure: a failed host gets its previous versions back" in lines


def test_an_empty_form_has_no_gate() -> None:
    options = options_from_form(PatchForm())
    assert options.health is None and options.rollback_on_failure is False
    hosts = [Host(name="web-01", address="10.0.0.1")]
    lines = confirmation_lines("Patch", hosts, options, plan_rollout(hosts))
    assert not any(line.startswith(("Health gate", "Rollback")) for line in lines)


def test_a_bad_health_url_is_one_line_in_the_form() -> None:
    with pytest.raises(ConfigError) as caught:
        options_from_form(PatchForm(health_url="ftp://mirror/healthz"))
    assert str(caught.value) == (
        "--health-url 'ftp://mirror/healthz': needs an http:// or https:// URL with a host"
    )


async def test_console_confirmation_shows_the_blue_green_phases(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    hosts = tuple(
        Host(name=name, address="127.0.0.1", port=9, labels={"env": "dev", "color": colour})
        for name, colour in (("a-1", "blue"), ("a-2", "green"), ("a-3", "green"))
    )
    inventory = Inventory(source="/tmp/bg.yaml", hosts=hosts, groups={})
    app = tui_offline_app(inventory=inventory, hosts=hosts)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PatchModal))
        app.screen.query_one("#blue-green", Input).value = "color"
        app.screen.query_one("#switch", Input).value = "lb-flip green"
        await pilot.press("ctrl+s")
        # No idle colour named: said in one line, nothing asked or run.
        await wait_until(pilot, lambda: isinstance(app.screen, HostsScreen))
        await pilot.pause()
        assert app.job is None and app.bridge.run is None
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PatchModal))
        assert app.screen.query_one("#blue-green", Input).value == "color"  # kept
        app.screen.query_one("#idle", Input).value = "green"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen)
        lines = app.screen.lines
        assert "Blue-green by label color:" in lines
        assert any(
            line.startswith("  2. switch: `lb-flip green` on this machine") for line in lines
        )
        assert "  green (idle): wave 1/1: a-2, a-3" in lines
        assert "  blue (after the switch): wave 1/1: a-1" in lines
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, HostsScreen))
        assert app.job is None


async def test_console_shows_the_gate_and_the_rollback_per_host(
    quick_lab: None,
    tui_lab: tuple[LabServer, Path],
    tui_lab_app: Callable[..., PatchtuiApp],
) -> None:
    lab, _ = tui_lab
    sick = lab.hosts[0]
    sick.faults.add("unhealthy-after-patch")
    shipped = {name: package.installed for name, package in sick.packages.items()}
    base = dataclasses.replace(FAST, health=HealthGate(command="x", timeout=1.0, interval=0.2))
    app = tui_lab_app(run_defaults=base)
    seen: set[str] = set()
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PatchModal))
        app.screen.query_one("#health-check", Input).value = "systemctl is-active app"
        app.screen.query_one("#max-failures", Input).value = "1"
        app.screen.query_one("#rollback", Checkbox).value = True
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await say_yes(pilot)
        await wait_until(pilot, lambda: app.bridge.run is not None)

        def done() -> bool:
            seen.add(app.rows[sick.name].state.value)
            return run_done(app)

        await wait_until(pilot, done, timeout=60)
        await pilot.pause(0.25)
        row = app.rows[sick.name]
        assert row.state is HostState.FAILED and row.error_kind == "rolled-back"
        assert {"health", "rolling-back"} <= seen
        table = app.screen.query_one(HostTable)
        assert "rolled-back" in str(table.get_row(sick.name))
        others = [r for name, r in app.rows.items() if name != sick.name]
        assert all(r.state is HostState.OK for r in others)
    # Back at what it shipped with; a package the update newly installed (a kernel) stays.
    now = {name: package.installed for name, package in sick.packages.items()}
    assert {name: now[name] for name in shipped} == shipped


def test_the_status_line_says_what_the_switch_did() -> None:
    for event, said in (
        (
            SwitchRan(run_id="r1", command="flip", exit_status=0, output=("now green",)),
            "switched: now green",
        ),
        (
            SwitchRan(run_id="r1", command="flip", exit_status=7, reason="exited 7"),
            "SWITCH FAILED (exited 7)",
        ),
        (
            SwitchRan(run_id="r1", command="flip", exit_status=None, reason="halted"),
            "switch not run",
        ),
    ):
        bridge = EventBridge(clock=lambda: 0.0)
        bridge(RunStarted(run_id="r1", operation="patch", hosts=("a", "b")))
        bridge(event)
        assert f" · {said} · " in progress_text(bridge.run, host_count=2, now=0.0)
