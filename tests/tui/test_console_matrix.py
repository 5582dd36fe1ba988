"""The console's patch review shows which package goes to which hosts, grouped, from the
hosts' last scan over real SSH: identical hosts are one row, an inventory hold splits a
host off (the engine's own selection decides, as in the run)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import yaml
from tuihelp import SIZE, wait_until

from patchtui.inventory.loader import load_inventory
from patchtui.lab.fleet import build_fleet
from patchtui.lab.server import LabServer
from patchtui.store.db import Store
from patchtui.transport.ssh import SshConnector
from patchtui.tui.app import PatchtuiApp, make_app
from patchtui.tui.screens.confirm import ConfirmScreen
from patchtui.tui.screens.patch_modal import PatchModal

# name -> template index in the lab fleet (0: Debian 12, 3: Rocky 9)
LAYOUT = {"deb-1": 0, "deb-2": 0, "deb-3": 0, "rocky-1": 3, "rocky-2": 3}


@pytest.fixture
async def matrix_app(tmp_path: Path) -> AsyncIterator[Callable[[], PatchtuiApp]]:
    templates = build_fleet(6, faults="none")
    hosts = []
    for name, index in LAYOUT.items():
        host = copy.deepcopy(templates[index])
        host.name = host.hostname = name
        hosts.append(host)
    server = LabServer(hosts)
    await server.start()
    path = server.write_inventory(tmp_path / "lab" / "inventory.yaml")
    data = yaml.safe_load(path.read_text())
    data["hosts"]["deb-3"]["vars"] = {"holds": ["curl"]}  # deb-3 keeps its curl
    path.write_text(yaml.safe_dump(data))
    inventory = load_inventory(path)
    store = Store.open(tmp_path / "db" / "patchtui.json", command="tui tests")

    def build() -> PatchtuiApp:
        return make_app(
            inventory=inventory,
            hosts=inventory.hosts,
            connector_factory=lambda: SshConnector(concurrency=4, use_agent=False),
            store=store,
        )

    try:
        yield build
    finally:
        store.close()
        await server.stop()


def finished(app: PatchtuiApp) -> bool:
    return app.bridge.run is not None and not app.bridge.run.running and app.job is None


async def review(app: PatchtuiApp, pilot: object) -> list[str]:
    await pilot.press("p")  # type: ignore[attr-defined]
    await wait_until(pilot, lambda: isinstance(app.screen, PatchModal))  # type: ignore[arg-type]
    await pilot.press("ctrl+s")  # type: ignore[attr-defined]
    await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))  # type: ignore[arg-type]
    screen = app.screen
    assert isinstance(screen, ConfirmScreen)
    return screen.body_text.splitlines()


async def test_review_groups_identical_hosts_from_the_last_scan(
    matrix_app: Callable[[], PatchtuiApp],
) -> None:
    app = matrix_app()
    async with app.run_test(size=SIZE) as pilot:
        before = await review(app, pilot)
        assert "What goes where: scan these hosts first (s) to see it here." in before
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))

        await pilot.press("s")
        await wait_until(pilot, lambda: finished(app))
        await pilot.pause(0.25)
        lines = await review(app, pilot)
        start = next(i for i, line in enumerate(lines) if line.startswith("What goes where"))
        assert lines[start].startswith("What goes where (from the last scan): 5 hosts in 3 groups")
        block = lines[start + 1 : start + 7]
        assert block[0] == "  2 hosts: deb-1, deb-2"
        assert block[2] == "  2 hosts: rocky-1, rocky-2"
        assert block[4] == "  1 host: deb-3"
        # The hold is applied: deb-3 gets what deb-1 and deb-2 get, except curl.
        assert block[1].startswith("    curl ") and "libcurl4 " in block[1]
        assert not block[5].startswith("    curl ") and "libcurl4 " in block[5]
        debian = app.rows["deb-1"]
        assert debian.pending is not None and debian.pending > 8
        assert block[1].endswith(f"(+{debian.pending - 8} packages)")
        await pilot.press("escape")
        assert app.job is None  # reviewing changed nothing
