"""A long output's transcript keeps its head and tail and says truthfully that it was cut."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from patchtui.engine.adhoc import AdhocJob
from patchtui.engine.transcript import HEAD_LINES, TAIL_LINES
from patchtui.inventory.loader import load_inventory
from patchtui.inventory.model import Host
from patchtui.lab.fleet import build_fleet
from patchtui.lab.server import LabServer
from patchtui.lab.shell import execute
from patchtui.lab.sim import ShellResult
from patchtui.lab.state import SimHost
from patchtui.store.db import Store
from patchtui.transport.ssh import SshConnector

LONG = 20_000


def chatty_shell(host: SimHost, command: str) -> ShellResult:
    if command == "long":
        return ShellResult(stdout="".join(f"line {index}\n" for index in range(LONG)))
    if command == "mimic":
        # Output that looks like patchtui's own marker must not count as a cut.
        return ShellResult(stdout="[patchtui: 5 lines dropped here; the transcript keeps ...]\n")
    return execute(host, command)


@pytest.fixture
async def hosts(tmp_path: Path) -> AsyncIterator[list[Host]]:
    server = LabServer(build_fleet(1, faults="none"), executor=chatty_shell)
    await server.start()
    inventory = server.write_inventory(tmp_path / "lab" / "inventory.yaml")
    yield list(load_inventory(inventory).hosts)
    await server.stop()


async def run(hosts: list[Host], command: str, store: Store) -> tuple[str, dict[str, object]]:
    ssh = SshConnector(use_agent=False, concurrency=4)
    job = AdhocJob(hosts, command=command, connector=ssh, emit=lambda event: None, store=store)
    try:
        await job.run()
    finally:
        await ssh.close_all()
    (result,) = store.host_results(job.run_id)
    return store.transcript(job.run_id, hosts[0].name), dict(result)


async def test_long_output_keeps_command_head_marker_and_tail(
    hosts: list[Host], tmp_path: Path
) -> None:
    store = Store.open(tmp_path / "db.json")
    try:
        text, result = await run(hosts, "long", store)
    finally:
        store.close()
    lines = text.splitlines()
    assert lines[0] == "$ long"  # the command line survives
    assert lines[1] == "line 0"
    assert lines[-1] == f"line {LONG - 1}"
    markers = [line for line in lines if line.startswith("[patchtui:")]
    dropped = LONG + 1 - HEAD_LINES - TAIL_LINES
    assert markers == [
        f"[patchtui: {dropped:,} lines dropped here; the transcript keeps the first and the "
        "last lines of the output]"
    ]
    assert len(lines) == HEAD_LINES + 1 + TAIL_LINES
    assert result["transcript_truncated"] is True


async def test_short_output_and_a_mimicking_host_are_not_truncated(
    hosts: list[Host], tmp_path: Path
) -> None:
    store = Store.open(tmp_path / "db.json")
    try:
        text, result = await run(hosts, "mimic", store)
    finally:
        store.close()
    assert text.splitlines()[0] == "$ mimic"
    assert result["transcript_truncated"] is False
