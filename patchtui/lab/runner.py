"""The body of ``patchtui lab`` and the in-process lab the demo uses.

``run_lab`` serves a fleet until SIGINT or SIGTERM; ``start_lab`` starts one
inside an already running event loop and hands back the ``LabServer``.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from patchtui.errors import ConfigError
from patchtui.exit_codes import ExitCode
from patchtui.lab.fleet import FAULT_MODES, build_fleet
from patchtui.lab.server import DEFAULT_SLOW_DELAY, Executor, LabServer, check_loopback
from patchtui.lab.state import FAULTS, ON_REQUEST_FAULTS, SimHost

MAX_HOSTS = 20_000
"""Beyond this the ephemeral port range and open-file limits run out first."""
MAX_SLOW_DELAY = 60.0


async def start_lab(
    hosts: int,
    *,
    seed: int = 1,
    faults: str = "some",
    address: str = "127.0.0.1",
    base_port: int = 0,
    inventory_path: Path | None = None,
    executor: Executor | None = None,
    slow_delay: float = DEFAULT_SLOW_DELAY,
    fault_hosts: Sequence[str] = (),
) -> LabServer:
    """Build a fleet, start serving it and, if asked, write its inventory.

    The caller owns the returned server and must ``await lab.stop()``.
    Raises ConfigError for bad arguments or ports that cannot be bound.
    """
    _check_arguments(hosts, faults, address, base_port)
    if not 0 <= slow_delay <= MAX_SLOW_DELAY:
        raise ConfigError(f"--slow-delay must be 0 to {MAX_SLOW_DELAY:g} seconds, not {slow_delay}")
    fleet = build_fleet(hosts, seed=seed, faults=faults, address=address, base_port=base_port)
    assign_named_faults(fleet, fault_hosts)
    lab = LabServer(fleet, seed=seed, executor=executor, slow_delay=slow_delay)
    await lab.start()
    if inventory_path is not None:
        try:
            lab.write_inventory(inventory_path)
        except OSError as error:
            await lab.stop()
            raise ConfigError(f"cannot write the lab inventory: {error}") from None
    return lab


def run_lab(
    hosts: int,
    seed: int,
    faults: str,
    write_inventory: Path,
    ready: Callable[[LabServer], None] | None = None,
    *,
    address: str = "127.0.0.1",
    base_port: int = 0,
    fault_hosts: Sequence[str] = (),
    slow_delay: float = DEFAULT_SLOW_DELAY,
) -> int:
    """Serve the lab until SIGINT/SIGTERM; print one line once it is ready.

    ``ready`` is called with the running server after that line (tests use it
    to learn the ports). Returns ExitCode.OK after a signal-initiated stop;
    bad arguments raise ConfigError (the CLI turns it into exit code 2).
    """
    return asyncio.run(
        _serve(
            hosts,
            seed,
            faults,
            Path(write_inventory),
            ready,
            address,
            base_port,
            fault_hosts,
            slow_delay,
        )
    )


async def _serve(
    hosts: int,
    seed: int,
    faults: str,
    inventory_path: Path,
    ready: Callable[[LabServer], None] | None,
    address: str,
    base_port: int,
    fault_hosts: Sequence[str],
    slow_delay: float,
) -> int:
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop_requested.set)
            installed.append(signum)
        except (NotImplementedError, RuntimeError):
            # Not the main thread or not POSIX: Ctrl+C still ends asyncio.run.
            pass
    try:
        lab = await start_lab(
            hosts,
            seed=seed,
            faults=faults,
            address=address,
            base_port=base_port,
            inventory_path=inventory_path,
            fault_hosts=fault_hosts,
            slow_delay=slow_delay,
        )
        try:
            print(ready_line(lab, inventory_path), flush=True)
            if ready is not None:
                ready(lab)
            await stop_requested.wait()
        finally:
            await lab.stop()
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
    print("lab: stopped", file=sys.stderr, flush=True)
    return ExitCode.OK


def ready_line(lab: LabServer, inventory_path: Path) -> str:
    ports = lab.ports
    addresses = sorted({host.address for host in lab.hosts})
    span = f"ports {min(ports)}-{max(ports)}" if ports else "no ports"
    faulty = sum(1 for host in lab.hosts if host.faults)
    return (
        f"lab: {len(lab.hosts)} hosts on {', '.join(addresses)} {span}"
        f" ({faulty} with faults); inventory written to {inventory_path}"
    )


def _check_arguments(hosts: int, faults: str, address: str, base_port: int) -> None:
    if not 1 <= hosts <= MAX_HOSTS:
        raise ConfigError(f"--hosts must be between 1 and {MAX_HOSTS}, not {hosts}")
    if faults not in FAULT_MODES:
        raise ConfigError(f"--faults must be one of {', '.join(FAULT_MODES)}, not {faults!r}")
    check_loopback(address)
    if base_port and not 1024 <= base_port <= 65535 - hosts:
        raise ConfigError(
            f"--base-port {base_port} leaves no room for {hosts} ports below 65536 "
            "(and ports below 1024 need root)"
        )


def assign_named_faults(fleet: Sequence[SimHost], specs: Sequence[str]) -> None:
    """Give named hosts a fault: each spec is ``FAULT=HOST[,HOST...]`` (``lab --fault``)."""
    by_name = {host.name: host for host in fleet}
    known = (*FAULTS, *ON_REQUEST_FAULTS)
    for spec in specs:
        fault, sep, names = spec.partition("=")
        fault = fault.strip()
        if not sep or not names.strip():
            raise ConfigError(f"--fault takes FAULT=HOST[,HOST...], got {spec!r}")
        if fault not in known:
            raise ConfigError(f"--fault {fault!r}: not a lab fault (one of {', '.join(known)})")
        for name in (part.strip() for part in names.split(",")):
            if name not in by_name:
                raise ConfigError(f"--fault {spec!r}: no lab host named {name!r}")
            by_name[name].faults.add(fault)
