"""Fixtures for the console tests: an isolated home, a real lab on loopback, app builders.

Everything here is named ``tui_*`` so it cannot clash with fixtures of other test folders.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tuihelp import FIXED_NOW

from patchtui.inventory.loader import load_inventory
from patchtui.inventory.model import Host, Inventory
from patchtui.lab.fleet import build_fleet
from patchtui.lab.runner import start_lab
from patchtui.lab.server import LabServer
from patchtui.store.db import Store
from patchtui.transport.ssh import SshConnector
from patchtui.tui.app import PatchtuiApp, make_app


@pytest.fixture(autouse=True)
def tui_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway HOME, data and config dir, no ssh-agent: nothing touches the real user."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATCHTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PATCHTUI_CONFIG", str(tmp_path / "config"))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


@pytest.fixture
def tui_inventory() -> Inventory:
    """A small inventory with no reachable hosts: for tests that never connect."""
    hosts = tuple(
        Host(
            name=name,
            address="127.0.0.1",
            port=9,
            groups=groups,
            labels=labels,
        )
        for name, groups, labels in (
            ("web-01", ("web", "prod"), {"env": "prod", "role": "web"}),
            ("web-02", ("web", "prod"), {"env": "prod", "role": "web"}),
            ("db-01", ("db", "prod"), {"env": "prod", "role": "db"}),
            ("dev-[red]x[/red]", ("dev",), {"env": "dev"}),
        )
    )
    groups = {
        "web": ("web-01", "web-02"),
        "prod": ("web-01", "web-02", "db-01"),
        "db": ("db-01",),
        "dev": ("dev-[red]x[/red]",),
    }
    return Inventory(source="/tmp/test-inventory.yaml", hosts=hosts, groups=groups)


class _NoConnector:
    """Stands in where a test must not reach any host; any connect is a test failure."""

    async def connect(self, host: Host) -> Any:
        raise AssertionError(f"test tried to connect to {host.name}")

    def slot(self) -> Any:
        raise AssertionError("test tried to take a connection slot")

    async def close_all(self) -> None:
        return None


@pytest.fixture
def tui_offline_app(tui_inventory: Inventory) -> Callable[..., PatchtuiApp]:
    def build(**overrides: Any) -> PatchtuiApp:
        options: dict[str, Any] = {
            "inventory": tui_inventory,
            "hosts": tui_inventory.hosts,
            "connector_factory": _NoConnector,
            "clock": lambda: FIXED_NOW,
        }
        options.update(overrides)
        return make_app(**options)

    return build


@pytest.fixture
def tui_lab_slow() -> bool:
    """Override with True (``@pytest.mark.parametrize("tui_lab_slow", [True])``) to delay
    every command of every lab host, so a run is still going when a test acts on it."""
    return False


@pytest.fixture
async def tui_lab(tmp_path: Path, tui_lab_slow: bool) -> AsyncIterator[tuple[LabServer, Path]]:
    """Six simulated hosts without faults behind a real SSH server on loopback."""
    inventory_path = tmp_path / "lab" / "inventory.yaml"
    if tui_lab_slow:
        hosts = build_fleet(6, seed=3, faults="none")
        for host in hosts:
            host.faults.add("slow")
        lab = LabServer(hosts, seed=3, slow_delay=0.15)
        await lab.start()
        lab.write_inventory(inventory_path)
    else:
        lab = await start_lab(6, seed=3, faults="none", inventory_path=inventory_path)
    try:
        yield lab, inventory_path
    finally:
        await lab.stop()


@pytest.fixture
def tui_store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(tmp_path / "db" / "patchtui.json", command="tui tests")
    yield store
    store.close()


@pytest.fixture
def tui_lab_app(tui_lab: tuple[LabServer, Path], tui_store: Store) -> Callable[..., PatchtuiApp]:
    """The console on the lab's inventory with a real SSH connector and store."""
    _, inventory_path = tui_lab
    inventory = load_inventory(inventory_path)

    def build(**overrides: Any) -> PatchtuiApp:
        options: dict[str, Any] = {
            "inventory": inventory,
            "hosts": inventory.hosts,
            "connector_factory": lambda: SshConnector(concurrency=4, use_agent=False),
            "store": tui_store,
        }
        options.update(overrides)
        return make_app(**options)

    return build
