"""Fixtures shared by every test: an isolated home, and a lab fleet in its own process."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

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

    def start(
        hosts: int = 6, *, faults: str = "none", seed: int = 1, extra: Sequence[str] = ()
    ) -> LabProcess:
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
                *extra,
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


SERIAL_GROUPS: dict[str, str] = {
    # One dpkg database, one set of private roots and sshd setups on this machine: these
    # tests run one after another on one xdist worker, whatever order they are collected in.
    "real_apt": "real_packages",
    "real_dnf": "real_packages",
    "real_zypper": "real_packages",
    # Timing, memory and process-killing tests: never two of them at once.
    "serial": "serial",
}
"""Marker -> xdist group: with ``--dist loadgroup`` a group runs on one worker, in order."""


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put every test marked as in SERIAL_GROUPS into its xdist group, so no one has to
    remember ``xdist_group`` when adding a test. First: xdist reads the groups in its own
    hook of this name, and one added after it is silently ignored."""
    for item in items:
        for marker, group in SERIAL_GROUPS.items():
            if item.get_closest_marker(marker) is not None:
                item.add_marker(pytest.mark.xdist_group(group))
                break


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Under --dist loadgroup, fail a grouped test before it starts if xdist did not group it.

    xdist marks a grouped test by a suffix to its node id; pytest 9.2 ignores that, and the
    tests are then spread over all workers without a word (pytest-xdist issue 1386), which
    would let two real_apt tests share the dpkg database at once.
    """
    if (
        item.config.getoption("loadgroup", default=False)
        and item.get_closest_marker("xdist_group") is not None
        and "@" not in item.nodeid
    ):
        pytest.fail(
            "pytest-xdist did not put this test in its xdist_group: --dist loadgroup does not "
            "work with this pytest (pytest-xdist issue 1386); see the pins in pyproject.toml",
            pytrace=False,
        )


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker, hand the fuzz counts to the controller (which prints them)."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        from fuzzstats import export

        workeroutput["fuzzstats"] = export()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """On the xdist controller: add a finished worker's fuzz counts to the summary."""
    from fuzzstats import merge

    merge(getattr(node, "workeroutput", {}).get("fuzzstats", {}))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print what the loader fuzz tests tried (tests/fuzzstats.py), when they ran."""
    from fuzzstats import summary_lines

    lines = summary_lines()
    if lines:
        terminalreporter.section("loader fuzzing")
        for line in lines:
            terminalreporter.write_line(line)
