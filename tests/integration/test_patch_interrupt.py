"""Ctrl+C during `patchtui patch`: no new hosts start, running installs finish, exit 130."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from labhelp import LabProcess, patchtui_command

# Times its SIGINT against a running patch: one such test at a time (conftest.py SERIAL_GROUPS).
pytestmark = pytest.mark.serial


def test_sigint_stops_new_hosts_lets_running_ones_finish_and_exits_130(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(12, faults="none")
    process = subprocess.Popen(
        patchtui_command(
            "patch",
            "-i",
            str(lab.inventory),
            "--db",
            str(tmp_path / "db.json"),
            "--batch",
            "3",
            "--reboot",
            "never",
            "--yes",
            "--json",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    lines: list[dict[str, object]] = []
    deadline = time.monotonic() + 120
    for raw in process.stdout:
        line = json.loads(raw)
        lines.append(line)
        if line["type"] == "host_state" and line["state"] == "patching":
            process.send_signal(signal.SIGINT)  # mid-install of the first wave
            break
        assert time.monotonic() < deadline
    # Read the rest through the same buffered file: communicate() would read the pipe
    # directly and lose lines the loop above had already buffered.
    rest = process.stdout.read()
    assert process.stderr is not None
    stderr = process.stderr.read()
    process.wait(timeout=120)
    lines += [json.loads(raw) for raw in rest.splitlines() if raw.strip()]

    assert process.returncode == 130, stderr
    assert "no new hosts will start" in stderr
    summary = lines[-1]
    assert summary["type"] == "summary" and summary["outcome"] == "interrupted"
    results = {line["host"]: line for line in lines if line["type"] == "host_result"}
    assert len(results) == 12
    finished = [r for r in results.values() if r["result"] in {"ok", "ok-reboot-required"}]
    skipped = [r for r in results.values() if r["result"] == "skipped"]
    assert finished, "hosts already installing must finish"
    assert len(skipped) >= 6 and all(r["error"] == "run cancelled" for r in skipped)
    assert not [r for r in results.values() if r["result"] in {"failed", "partial"}]
