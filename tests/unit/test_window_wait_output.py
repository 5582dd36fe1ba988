"""How a host waiting for its window is told, headless: a line and a JSON object."""

from __future__ import annotations

import json

import pytest

from patchtui.engine.events import HostState, HostWaitingForWindow
from patchtui.headless.patch_command import PatchPrinter

WAITING = HostWaitingForWindow(
    run_id="r1",
    host="web-1",
    state=HostState.QUEUED,
    detail="waiting for its maintenance window: opens Sun 2024-06-09 02:00 Europe/Berlin",
    opens=1717891200.0,
    opens_text="Sun 2024-06-09 02:00 Europe/Berlin (00:00 UTC)",
)


def test_text_says_which_host_waits_until_when(capsys: pytest.CaptureFixture[str]) -> None:
    PatchPrinter(as_json=False)(WAITING)
    assert capsys.readouterr().out == (
        "   web-1: waits for its maintenance window, opens "
        "Sun 2024-06-09 02:00 Europe/Berlin (00:00 UTC)\n"
    )


def test_json_is_a_host_state_line_with_the_moment(capsys: pytest.CaptureFixture[str]) -> None:
    PatchPrinter(as_json=True)(WAITING)
    assert json.loads(capsys.readouterr().out) == {
        "type": "host_state",
        "host": "web-1",
        "state": "queued",
        "detail": WAITING.detail,
        "waiting_until": 1717891200.0,
    }


def test_waiting_and_ignoring_windows_together_is_refused(tmp_path: object) -> None:
    from pathlib import Path

    from labhelp import run_patchtui

    inventory = Path(str(tmp_path)) / "inv.yaml"
    inventory.write_text("hosts:\n  web-1:\n    address: 127.0.0.1\n    port: 1\n")
    done = run_patchtui(
        "patch", "-i", str(inventory), "--wait-for-window", "--ignore-window", "--yes"
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        "patchtui: error: --wait-for-window and --ignore-window contradict each other\n"
    )


def test_the_flag_reaches_the_engine_options() -> None:
    import argparse

    from patchtui.cli import build_parser
    from patchtui.headless.patch_command import options_from_args

    args = build_parser().parse_args(["patch", "-i", "x.yaml", "--wait-for-window"])
    assert isinstance(args, argparse.Namespace)
    options = options_from_args(args)
    assert options.wait_for_window is True and options.ignore_window is False
    assert options.describe()["wait_for_window"] is True
