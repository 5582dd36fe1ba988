"""The headless prompt says what the console's confirmation says about windows."""

from __future__ import annotations

import argparse
import datetime as dt
import io

import pytest

from patchtui.engine.patch import PatchOptions
from patchtui.headless.patch_command import confirm
from patchtui.inventory.model import Host

SATURDAY_NOON = dt.datetime(2024, 6, 8, 12, 0, tzinfo=dt.UTC)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        ({}, "2 of 3 hosts are outside their maintenance window and will be skipped (h0, h1)"),
        (
            {"wait_for_window": True},
            "2 of 3 hosts are outside their maintenance window and will wait for it (h0, h1);"
            " the first opens Sun 2024-06-09 02:00 Europe/Berlin (00:00 UTC). The run lasts"
            " until the last window opens (Ctrl+C cancels the wait).",
        ),
        ({"ignore_window": True}, "IGNORING maintenance windows: 2 of 3 hosts"),
    ],
)
def test_the_prompt_says_who_is_outside_their_window(
    flags: dict[str, bool],
    said: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    window = {"maintenance_window": "Sun 02:00-04:00 Europe/Berlin"}
    hosts = [Host(name=f"h{i}", address="a", vars=window if i < 2 else {}) for i in range(3)]
    options = PatchOptions(clock=lambda: SATURDAY_NOON, **flags)  # type: ignore[arg-type]
    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("builtins.input", lambda _question: "y")
    args = argparse.Namespace(yes=False, dry_run=False)
    confirm(args, hosts, "Patch", plan=options.plan(hosts), options=options)
    assert said in capsys.readouterr().err
