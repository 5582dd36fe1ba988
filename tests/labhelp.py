"""Helpers for tests that drive patchtui as a user would: real processes, JSON lines."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class LabProcess:
    """A `patchtui lab` running in its own process, stopped by its PID at teardown."""

    process: subprocess.Popen[str]
    inventory: Path
    ready_line: str

    @property
    def directory(self) -> Path:
        return self.inventory.parent


def patchtui_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "patchtui.cli", *args]


def run_patchtui(
    *args: str, timeout: float = 240, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a subprocess, as a script or cron job would."""
    return subprocess.run(
        patchtui_command(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        check=False,
    )


def json_lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]
