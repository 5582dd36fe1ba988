"""Helpers for tests that drive patchtui as a user would: real processes, JSON lines."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from patchtui.lab.fleet import build_fleet

NO_ANSWER_TIMEOUT = 1.0
"""connect_timeout the tests give the lab's never-answering host instead of the lab's 5 s:
it never sends its banner, so any bound ends in the same "timeout", only sooner."""


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


def shorten_no_answer_timeouts(
    inventory: Path, *, seed: int, seconds: float = NO_ANSWER_TIMEOUT
) -> list[str]:
    """Set ``connect_timeout: seconds`` in ``inventory`` (as a user would, per host) on the
    hosts of a ``--faults some`` lab that never answer; their names.

    The lab's fleet is deterministic (same count and seed, same faults), so rebuilding it
    here names the same hosts the lab process serves.
    """
    document = yaml.safe_load(inventory.read_text())
    hosts = document["hosts"]
    fleet = build_fleet(len(hosts), seed=seed, faults="some")
    silent = [host.name for host in fleet if "no-answer" in host.faults]
    for name in silent:
        hosts[name]["connect_timeout"] = seconds  # KeyError: the lab is not this fleet
    inventory.write_text(yaml.safe_dump(document, sort_keys=False, default_flow_style=None))
    return silent
