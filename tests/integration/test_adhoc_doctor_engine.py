"""AdhocJob and DoctorJob in-process against the lab, where a test can bend a host's answers."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from patchtui.engine.adhoc import AdhocJob
from patchtui.engine.doctor import DoctorJob
from patchtui.engine.events import Event, HostFinished, HostOutput, HostState, RunFinished
from patchtui.inventory.loader import load_inventory
from patchtui.inventory.model import Host
from patchtui.lab.fleet import build_fleet
from patchtui.lab.server import LabServer
from patchtui.lab.shell import execute, unwrap_become
from patchtui.lab.sim import ShellResult
from patchtui.lab.state import SimHost
from patchtui.store.db import Store
from patchtui.transport.ssh import SshConnector

SKEWED = "lab-ubu-0002"
NO_SUDO = "lab-rhel-0003"
SLEEPER = "lab-deb-0001"


def bent_shell(host: SimHost, command: str) -> ShellResult:
    """The lab shell, except: one clock an hour ahead, one sudo wanting a password,
    and one host on which ``sleep`` really takes long (answered late by the server)."""
    if host.name == SKEWED and command == "date +%s":
        return ShellResult(stdout=f"{int(time.time()) + 3600}\n")
    if host.name == NO_SUDO and command.startswith("sudo ") and unwrap_become(command) == "true":
        return ShellResult(stderr="sudo: a password is required\n", exit_status=1)
    return execute(host, command)


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[tuple[LabServer, list[Host]]]:
    server = LabServer(build_fleet(4, faults="none"), executor=bent_shell)
    await server.start()
    inventory = server.write_inventory(tmp_path / "lab" / "inventory.yaml")
    yield server, list(load_inventory(inventory).hosts)
    await server.stop()


def connector() -> SshConnector:
    return SshConnector(use_agent=False, concurrency=10)


async def test_doctor_flags_clock_skew_and_sudo(lab: tuple[LabServer, list[Host]]) -> None:
    _, hosts = lab
    seen: list[str] = []
    ssh = connector()
    job = DoctorJob(hosts, connector=ssh, on_check=lambda check: seen.append(check.host))
    checks = {check.host: check for check in await job.run()}
    await ssh.close_all()
    assert sorted(seen) == sorted(host.name for host in hosts)
    assert checks[SKEWED].problems == ("clock-skew",)
    assert checks[SKEWED].clock_skew is not None and 3595 < checks[SKEWED].clock_skew < 3605
    assert "ahead" in checks[SKEWED].fix
    assert checks[NO_SUDO].problems == ("sudo",) and checks[NO_SUDO].sudo == "FAILS"
    assert "a password is required" in checks[NO_SUDO].fix
    others = [check for name, check in checks.items() if name not in (SKEWED, NO_SUDO)]
    assert others and all(check.ok for check in others)


async def test_doctor_never_trusts_an_unknown_key_unless_accept_new(
    lab: tuple[LabServer, list[Host]], tmp_path: Path
) -> None:
    _, hosts = lab
    # No lab_known_hosts: every key is unknown. (Hosts whose answers are not bent.)
    plain = [host for host in hosts if host.name not in (SKEWED, NO_SUDO)]
    strict = [dataclasses.replace(host, known_hosts=None) for host in plain]
    accept_new = [dataclasses.replace(host, host_key_policy="accept-new") for host in strict]
    ssh = connector()
    refused = await DoctorJob(strict, connector=ssh).run()
    assert [check.problems for check in refused] == [("hostkey-unknown",)] * 2
    assert not ssh.own_known_hosts.exists() or ssh.own_known_hosts.read_text() == ""
    recorded = await DoctorJob(accept_new, connector=ssh).run()
    assert [check.host_key for check in recorded] == ["recorded"] * 2
    assert all(check.ok for check in recorded)
    again = await DoctorJob(strict, connector=ssh).run()
    assert [check.host_key for check in again] == ["ok"] * 2
    await ssh.close_all()


async def test_adhoc_job_events_store_and_privileged(
    lab: tuple[LabServer, list[Host]], tmp_path: Path
) -> None:
    _, hosts = lab
    events: list[Event] = []
    store = Store.open(tmp_path / "db.json")
    ssh = connector()
    job = AdhocJob(hosts, command="echo ok", connector=ssh, emit=events.append, store=store)
    summary = await job.run()
    assert summary.ok == len(hosts)
    outputs = [e for e in events if isinstance(e, HostOutput) and e.stream == "stdout"]
    assert sorted(e.host for e in outputs) == sorted(h.name for h in hosts)
    assert {e.line for e in outputs} == {"ok"}
    assert {job.outcomes[h.name].exit_status for h in hosts} == {0}
    run_id = job.run_id
    assert store.transcript(run_id, hosts[0].name).splitlines() == ["$ echo ok", "ok"]

    privileged = AdhocJob(
        hosts, command="true", connector=ssh, emit=events.append, store=store, privileged=True
    )
    summary = await privileged.run()
    # NO_SUDO's sudo wants a password: the wrapped command exits 1 there only.
    assert privileged.outcomes[NO_SUDO].exit_status == 1
    assert summary.failed == 1 and summary.ok == len(hosts) - 1
    finished = [e for e in events if isinstance(e, HostFinished) and e.run_id == privileged.run_id]
    failed = [e for e in finished if e.state is HostState.FAILED]
    assert [(e.host, e.error_kind) for e in failed] == [(NO_SUDO, "exit-status")]
    await ssh.close_all()
    runs = store.runs()
    store.close()
    assert [run["operation"] for run in runs[:2]] == ["run", "run"]
    assert {run["status"] for run in runs[:2]} == {"completed", "completed-with-failures"}


async def test_adhoc_cancel_interrupts_running_commands(
    lab: tuple[LabServer, list[Host]],
) -> None:
    server, hosts = lab
    server.slow_delay = 30.0  # every command on a 'slow' host is answered 30 s late
    slow = next(sim for sim in server.hosts if sim.name == SLEEPER)
    slow.faults.add("slow")
    events: list[Event] = []
    ssh = connector()
    job = AdhocJob(hosts, command="true", connector=ssh, emit=events.append)
    running = asyncio.create_task(job.run())
    deadline = time.monotonic() + 10
    while len([e for e in events if isinstance(e, HostFinished)]) < len(hosts) - 1:
        assert time.monotonic() < deadline, "fast hosts did not finish"
        await asyncio.sleep(0.05)
    job.cancel()
    summary = await asyncio.wait_for(running, 10)
    await ssh.close_all()
    assert job.outcomes[SLEEPER].state is HostState.INTERRUPTED
    assert summary.interrupted == 1 and summary.ok == len(hosts) - 1
    final = events[-1]
    assert isinstance(final, RunFinished) and final.outcome == "interrupted"
