"""The headless patch summary line counts in words a reader takes as written."""

from __future__ import annotations

from patchtui.engine.events import RunFinished, RunSummary
from patchtui.headless.patch_command import patch_summary_line


def _finish(hosts: int, waves: int) -> RunFinished:
    summary = RunSummary(
        hosts=hosts, ok=hosts, failed=0, unreachable=0, interrupted=0, skipped=0, pending=0,
        security=0, reboot_required=0, stale=0, duration=0.3, waves=waves,
        results={"ok": hosts},
    )  # fmt: skip
    return RunFinished(run_id="r", operation="patch", summary=summary, outcome="completed")


def test_one_host_in_one_wave_is_singular() -> None:
    assert patch_summary_line(_finish(1, 1)).startswith("patch completed: 1 host in 1 wave: 1 ok")
    assert ": 12 hosts in 3 waves: 12 ok" in patch_summary_line(_finish(12, 3))
