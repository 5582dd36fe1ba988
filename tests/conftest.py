"""Fixtures shared by every test: an isolated home, and a lab fleet in its own process."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from labhelp import LabProcess, patchtui_command, shorten_no_answer_timeouts

LAB_START_LIMIT = 60.0
LAB_SLOW_DELAY = 0.2
"""Seconds per command of the lab's 'slow' host (the lab's default 1.5 s made that one host
take ~30 s of a patch wave); it still answers later than every other host."""


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """No test reads or writes the real ~/.ssh, ssh-agent or patchtui data."""
    base = tmp_path_factory.mktemp("home")
    (base / ".ssh").mkdir()
    monkeypatch.setenv("HOME", str(base))
    monkeypatch.setenv("PATCHTUI_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("PATCHTUI_CONFIG", str(base / "config"))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return base


@pytest.fixture
def lab_process(tmp_path: Path) -> Iterator[Callable[..., LabProcess]]:
    started: list[LabProcess] = []

    def start(hosts: int = 6, *, faults: str = "none", seed: int = 1) -> LabProcess:
        directory = tmp_path / f"lab{len(started)}"
        inventory = directory / "inventory.yaml"
        directory.mkdir(parents=True)
        # stderr to a file: a pipe nobody reads would block the lab once full.
        stderr = (directory / "lab.stderr").open("w")
        process = subprocess.Popen(
            patchtui_command(
                "lab",
                "--hosts",
                str(hosts),
                "--faults",
                faults,
                "--seed",
                str(seed),
                "--write-inventory",
                str(inventory),
                "--slow-delay",
                str(LAB_SLOW_DELAY),
            ),
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        stderr.close()
        deadline = time.monotonic() + LAB_START_LIMIT
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until the ready line (or EOF on failure)
        if not line.startswith("lab:") or time.monotonic() > deadline:
            process.kill()
            process.wait(timeout=10)
            err = (directory / "lab.stderr").read_text()
            raise RuntimeError(f"lab did not start: {line!r} {err[-2000:]}")
        lab = LabProcess(process=process, inventory=inventory, ready_line=line.strip())
        started.append(lab)
        if faults == "some":
            # The never-answering host would cost the lab's 5 s connect timeout on every
            # connect; what the tests prove of it (it times out) holds for 1 s as well.
            shorten_no_answer_timeouts(inventory, seed=seed)
        return lab

    yield start
    for lab in started:
        if lab.process.poll() is None:
            lab.process.send_signal(signal.SIGTERM)
            try:
                lab.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(lab.process.pid, signal.SIGKILL)
                lab.process.wait(timeout=5)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print what the loader fuzz tests tried (tests/fuzzstats.py), when they ran."""
    from fuzzstats import summary_lines

    lines = summary_lines()
    if lines:
        terminalreporter.section("loader fuzzing")
        for line in lines:
            terminalreporter.write_line(line)
