"""The console's ``stale`` filter after a real scan of a lab with one host on a stale
mirror (real SSH, real store); the limit comes from config.toml's stale_mirror_days."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.widgets import Input
from tuihelp import SIZE, wait_until

from patchtui.inventory.loader import load_inventory
from patchtui.lab.fleet import build_fleet, stale_mirror
from patchtui.lab.server import LabServer
from patchtui.store.db import Store
from patchtui.transport.ssh import SshConnector
from patchtui.tui.app import make_app
from patchtui.tui.widgets.host_table import HostTable


@pytest.fixture
async def stale_lab(tmp_path: Path) -> AsyncIterator[tuple[Path, str]]:
    hosts = build_fleet(6, seed=3, faults="none")
    stale_mirror(hosts[1])
    lab = LabServer(hosts, seed=3)
    await lab.start()
    inventory = tmp_path / "lab" / "inventory.yaml"
    lab.write_inventory(inventory)
    try:
        yield inventory, hosts[1].name
    finally:
        await lab.stop()


async def test_stale_filter_shows_the_host_on_a_stale_mirror(
    stale_lab: tuple[Path, str], tmp_path: Path
) -> None:
    inventory_path, stale = stale_lab
    inventory = load_inventory(inventory_path)
    store = Store.open(tmp_path / "db" / "patchtui.json", command="tui tests")
    try:
        app = make_app(
            inventory=inventory,
            hosts=inventory.hosts,
            connector_factory=lambda: SshConnector(concurrency=4, use_agent=False),
            store=store,
        )
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("s")
            await wait_until(
                pilot,
                lambda: (
                    app.bridge.run is not None and not app.bridge.run.running and app.job is None
                ),
            )
            await pilot.pause(0.25)
            table = app.screen.query_one(HostTable)
            app.screen.query_one("#filter", Input).value = "stale"
            await pilot.pause(0.1)
            assert table.visible_hosts == [stale]
            assert "repository metadata 45.0 days old (limit 7)" in app.rows[stale].stale_mirror
            # A limit above the mirror's age: old is not stale yet.
            config = Path(str(tmp_path / "config"))
            config.mkdir(exist_ok=True)
            (config / "config.toml").write_text("[defaults]\nstale_mirror_days = 60\n")
            app.screen.query_one("#filter", Input).value = ""
            await pilot.pause(0.1)
            app.screen.query_one("#filter", Input).value = "stale"
            await pilot.pause(0.1)
            assert table.visible_hosts == []
    finally:
        store.close()
