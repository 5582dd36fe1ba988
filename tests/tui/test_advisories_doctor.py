"""The console's advisories screen and doctor against the lab (real SSH, real store).

Advisories: the lab's scans plus OSV records (the real Ubuntu ones in tests/data/osv, and
one Debian record written here, marked critical) -> the screen, its order, its host
counts, the drill-down and the patch form it opens. Doctor: the engine's checks on
chosen hosts, one of which presents a changed host key.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Static
from tuihelp import SIZE, say_yes, wait_until

from patchtui.advisories.pending import AdvisoryRow
from patchtui.advisories.store import advisories_path_for, sync
from patchtui.drivers.base import SEVERITIES
from patchtui.inventory.loader import load_inventory
from patchtui.lab.fleet import build_fleet
from patchtui.lab.server import LabServer
from patchtui.store.db import Store
from patchtui.transport.ssh import SshConnector
from patchtui.tui.app import PatchtuiApp, make_app
from patchtui.tui.screens.advisories import (
    AdvisoriesScreen,
    AdvisoryHostsScreen,
    row_matches,
    severity_text,
    since_text,
    version_change,
)
from patchtui.tui.screens.confirm import ConfirmScreen
from patchtui.tui.screens.doctor import DoctorScreen
from patchtui.tui.screens.help import help_rows
from patchtui.tui.screens.hosts import HostsScreen
from patchtui.tui.screens.patch_modal import PatchModal
from patchtui.tui.widgets.footer import KeyFooter
from patchtui.tui.widgets.host_table import HostTable

OSV = Path(__file__).resolve().parents[1] / "data" / "osv"
UBUNTU_FIX = "1:8.9p1-3ubuntu0.10"
CHANGED_KEY = "lab-ubu-0002"


@pytest.fixture
async def lab(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Path]:
    """Twelve fault-free hosts (four Ubuntu 22.04, two Debian 12); ``indirect`` faults
    are given to hosts by name."""
    faults: dict[str, str] = getattr(request, "param", {})
    hosts = build_fleet(12, seed=3, faults="none")
    for host in hosts:
        if host.name in faults:
            host.faults.add(faults[host.name])
    server = LabServer(hosts, seed=3)
    await server.start()
    inventory = server.write_inventory(tmp_path / "lab" / "inventory.yaml")
    try:
        yield inventory
    finally:
        await server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "db" / "patchtui.json", command="tui tests")
    yield opened
    opened.close()


def console(inventory_path: Path, store: Store) -> PatchtuiApp:
    inventory = load_inventory(inventory_path)
    return make_app(
        inventory=inventory,
        hosts=inventory.hosts,
        connector_factory=lambda: SshConnector(concurrency=6, use_agent=False),
        store=store,
    )


def finished(app: PatchtuiApp) -> bool:
    return app.bridge.run is not None and not app.bridge.run.running and app.job is None


def pending_of(store: Store, os_id: str) -> dict[str, list[dict[str, Any]]]:
    """Each scanned host of ``os_id``: its pending updates, read from the store directly."""
    return {
        str(state["name"]): list(state.get("pending") or ())
        for state in store.hosts()
        if (state.get("facts") or {}).get("os_id") == os_id
    }


def critical_debian_record(package: str, fixed: str) -> dict[str, Any]:
    """Written for this test (no real Debian record could be copied: tests/data/osv/README.md):
    the shape of osv.dev's Debian records, with the urgency set to critical."""
    return {
        "id": "DEBIAN-CVE-2099-0001",
        "modified": "2099-01-02T00:00:00Z",
        "published": "2099-01-01T00:00:00Z",
        "upstream": ["CVE-2099-0001"],
        "affected": [
            {
                "package": {"ecosystem": "Debian:12", "name": package},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
                "ecosystem_specific": {"urgency": "critical"},
            }
        ],
    }


def cell(table: DataTable[Any], row: str, column: str) -> str:
    return str(table.get_cell(row, column).plain)


async def test_advisories_critical_first_counts_drill_down_and_patch_prefill(
    lab: Path, store: Store, tmp_path: Path
) -> None:
    app = console(lab, store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: finished(app))
        assert app.bridge.run is not None and app.bridge.run.outcome == "completed"

        # Expected, from the stored scans and not from the advisory code: who needs what.
        ubuntu = {
            host
            for host, updates in pending_of(store, "ubuntu").items()
            if any(
                u["name"] in {"openssh-server", "openssh-client"} and u["candidate"] == UBUNTU_FIX
                for u in updates
            )
        }
        assert len(ubuntu) >= 2, "the lab has Ubuntu 22.04 hosts pending the openssh fix"
        debian = pending_of(store, "debian")
        assert len(debian) == 2
        # A package pending on both Debian hosts, at the same candidate: the critical one.
        first, second = debian.values()
        shared = next(
            u
            for u in first
            if u.get("installed")
            and any((u["name"], u["candidate"]) == (v["name"], v["candidate"]) for v in second)
        )
        record = tmp_path / "debian-critical.json"
        record.write_text(json.dumps(critical_debian_record(shared["name"], shared["candidate"])))
        osv_path = advisories_path_for(store.path)
        sync(osv_path, str(OSV / "ubuntu"), now=time.time())
        sync(osv_path, str(record), now=time.time())

        await pilot.press("A")
        screen = app.screen
        assert isinstance(screen, AdvisoriesScreen)
        await wait_until(pilot, lambda: screen.loaded)
        await pilot.pause()
        assert "/ Filter  p Patch  r Reload" in screen.query_one(KeyFooter).render().plain
        table: DataTable[Any] = screen.query_one("#advisories", DataTable)
        ids = [str(key.value) for key in table.rows]
        assert table.row_count == len(screen.rows) > 3
        # Order: critical first, then each severity after the more severe ones.
        severities = [screen.rows[ident].severity for ident in ids]
        assert severities[0] == "critical"
        ranks = [SEVERITIES.index(severity) for severity in severities]
        assert ranks == sorted(ranks)
        # One row per advisory: the record's CVE is named in its row, not a row of its own.
        # (The Debian notice the same update names is as urgent as the update: critical too.)
        assert "DEBIAN-CVE-2099-0001" in ids[: severities.count("critical")]
        assert "CVE-2099-0001" not in ids
        assert cell(table, "DEBIAN-CVE-2099-0001", "cves") == "CVE-2099-0001"
        assert "unknown" in severities or "low" in severities or "moderate" in severities
        # Hosts affected: the count column says how many; the record's shape is shown.
        assert cell(table, "DEBIAN-CVE-2099-0001", "hosts") == "2"
        assert cell(table, "UBUNTU-CVE-2024-6387", "hosts") == str(len(ubuntu))
        assert cell(table, "UBUNTU-CVE-2024-6387", "severity") == "important (high) 8.1"
        assert cell(table, "UBUNTU-CVE-2024-6387", "cves") == "CVE-2024-6387"
        assert cell(table, "UBUNTU-CVE-2024-6387", "fixed") == UBUNTU_FIX
        assert cell(table, "UBUNTU-CVE-2024-6387", "since").startswith("2024-07-01 (")
        assert cell(table, "DEBIAN-CVE-2099-0001", "packages") == shared["name"]

        # The filter: rows naming every word typed (here: the CVE and an Ubuntu host).
        await pilot.press("slash", *"6387")
        assert {str(key.value) for key in table.rows} == {
            "UBUNTU-CVE-2024-6387",
            "USN-6859-1",  # the Ubuntu notice, the CVE among its ids
            "DSA-5724-1",
            "RLSA-2024:4312",
            "RHSA-2024:4312",
        }
        await pilot.press(*" lab-ubu")
        assert {str(key.value) for key in table.rows} == {"UBUNTU-CVE-2024-6387", "USN-6859-1"}
        await pilot.press("enter")  # back to the table, the filter kept
        assert table.has_focus and table.row_count == 2
        # c: every CVE a row too, as `patchtui advisories` lists them; c again: back.
        await pilot.press("c")
        await wait_until(pilot, lambda: screen.loaded and "CVE-2099-0001" in screen.rows)
        assert {str(key.value) for key in table.rows} == {
            "CVE-2024-6387",
            "UBUNTU-CVE-2024-6387",
            "USN-6859-1",
        }
        await pilot.press("c")
        await wait_until(pilot, lambda: screen.loaded and "CVE-2099-0001" not in screen.rows)
        assert table.row_count == 2
        table.move_cursor(row=table.get_row_index("UBUNTU-CVE-2024-6387"))
        await pilot.press("enter")
        drill = app.screen
        assert isinstance(drill, AdvisoryHostsScreen)
        hosts_table: DataTable[Any] = drill.query_one("#advisory-hosts", DataTable)
        lines = [
            (cell(hosts_table, str(k.value), "host"), cell(hosts_table, str(k.value), "package"))
            for k in hosts_table.rows
        ]
        assert {host for host, _ in lines} == ubuntu
        assert {package for _, package in lines} == {"openssh-server", "openssh-client"}
        for key in hosts_table.rows:
            assert cell(hosts_table, str(key.value), "versions") == (
                f"1:8.9p1-3ubuntu0.7 → {UBUNTU_FIX}"
            )

        # Patch from the advisory: the form holds its packages, for exactly its hosts.
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PatchModal))
        form = app.screen
        assert isinstance(form, PatchModal)
        assert form.host_count == len(ubuntu)
        assert form.query_one("#packages", Input).value == "openssh-client, openssh-server"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert confirm.body_text.startswith(f"Patch {len(ubuntu)} hosts (")
        assert "the hosts UBUNTU-CVE-2024-6387 affects" in confirm.body_text
        assert "Installs: all pending updates among openssh-client, openssh-server" in (
            confirm.body_text
        )
        # Production hosts among them: yes is typing the host count, as from the hosts.
        assert confirm.typed == str(len(ubuntu))
        await say_yes(pilot)
        await wait_until(
            pilot, lambda: app.bridge.run is not None and app.bridge.run.operation == "patch"
        )
        await wait_until(pilot, lambda: finished(app), timeout=60)
        run = app.bridge.run
        assert run is not None
        assert set(run.states) == ubuntu  # exactly the advisory's hosts were patched
        assert isinstance(app.screen, HostsScreen)  # the run is followed on the hosts
        assert run.outcome == "completed"

        # After the patch (it scans again): the advisory is gone from those hosts.
        await pilot.press("A")
        again = app.screen
        assert isinstance(again, AdvisoriesScreen)
        await wait_until(pilot, lambda: again.loaded)
        assert "UBUNTU-CVE-2024-6387" not in again.rows


def test_both_keys_are_in_the_help_and_the_palette(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    rows = dict(help_rows(PatchtuiApp.BINDINGS))  # the hosts screen's keys, then the app's
    assert rows["A"].startswith("Pending CVEs and advisories, most severe first")
    assert rows["D"].startswith("Check login, host key, sudo, package manager and clock")
    app = tui_offline_app()
    titles = {command.title for command in app.get_system_commands(HostsScreen())}
    assert {"Advisories", "Doctor"} <= titles


@pytest.mark.parametrize("lab", [{CHANGED_KEY: "changed-hostkey"}], indirect=True)
async def test_doctor_on_selected_hosts_shows_each_check_and_the_fix(
    lab: Path, store: Store
) -> None:
    app = console(lab, store)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(HostTable)
        await pilot.pause()
        # The hosts footer is cut at this width (as for h and C): D and A are in it all the same.
        assert {"D", "A"} <= set(app.screen.query_one(KeyFooter).shown_keys)
        # Select the host with the changed key and one fine one; highlight a third.
        for name in (CHANGED_KEY, "lab-deb-0001"):
            table.move_cursor(row=table.visible_hosts.index(name))
            await pilot.press("space")
        table.move_cursor(row=table.visible_hosts.index("lab-rhel-0003"))
        await pilot.press("D")
        screen = app.screen
        assert isinstance(screen, DoctorScreen)
        assert [host.name for host in screen.hosts] == ["lab-deb-0001", CHANGED_KEY]
        await wait_until(pilot, lambda: screen.done)
        checks: DataTable[Any] = screen.query_one("#doctor-checks", DataTable)
        assert cell(checks, "lab-deb-0001", "result") == "ok"
        assert cell(checks, "lab-deb-0001", "sudo") == "ok"
        assert cell(checks, "lab-deb-0001", "package_manager") == "apt"
        assert cell(checks, CHANGED_KEY, "result") == "FAIL"
        assert cell(checks, CHANGED_KEY, "host_key") == "CHANGED"
        assert cell(checks, CHANGED_KEY, "fix").startswith("HOST KEY CHANGED: verify the new key")
        summary = str(screen.query_one("#doctor-summary", Static).render())
        assert summary == "2 hosts: 1 ready, 1 to fix"
        # n goes to the host to fix; its hints are shown in full below the table.
        assert checks.cursor_row == 0
        await pilot.press("n")
        assert checks.cursor_row == checks.get_row_index(CHANGED_KEY)
        await pilot.pause()
        detail = str(screen.query_one("#doctor-detail", Static).render())
        assert detail.startswith(f"{CHANGED_KEY}: to fix (hostkey-changed)")
        assert "fix: HOST KEY CHANGED" in detail and "error: " in detail
        await pilot.press("escape")
        assert isinstance(app.screen, HostsScreen)

        # Nothing selected: the highlighted host alone.
        await pilot.press("a")  # select all shown ...
        await pilot.press("a")  # ... and none again
        table.move_cursor(row=table.visible_hosts.index("lab-rhel-0003"))
        await pilot.press("D")
        alone = app.screen
        assert isinstance(alone, DoctorScreen)
        assert [host.name for host in alone.hosts] == ["lab-rhel-0003"]
        await wait_until(pilot, lambda: alone.done)
        assert str(alone.query_one("#doctor-summary", Static).render()) == (
            "1 host: 1 ready, 0 to fix"
        )


async def test_without_a_database_the_advisories_key_says_why(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("A")
        await pilot.pause()
        assert isinstance(app.screen, HostsScreen)
        assert [n.message for n in app._notifications] == [
            "No database is open, so no scan to read."
        ]


async def test_a_damaged_advisory_file_is_named_and_nothing_listed(
    tui_offline_app: Callable[..., PatchtuiApp], tui_store: Store
) -> None:
    damaged = advisories_path_for(tui_store.path)
    damaged.parent.mkdir(parents=True, exist_ok=True)
    damaged.write_text("{not json")
    app = tui_offline_app(store=tui_store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("A")
        screen = app.screen
        assert isinstance(screen, AdvisoriesScreen)
        await wait_until(pilot, lambda: screen.loaded)
        summary = str(screen.query_one("#advisories-summary", Static).render())
        assert summary.startswith("0 advisories pending on 0 hosts")
        assert f"advisory data not read: {damaged} is corrupt" in summary
        assert screen.query_one("#advisories", DataTable).row_count == 0


def test_cells_say_versions_severity_and_age() -> None:
    row = AdvisoryRow("USN-1", "important", words={"high"}, cvss=8.1, published=0.0)
    assert severity_text(row) == "important (high) 8.1"
    assert since_text(row, 3 * 86_400.0) == "1970-01-01 (3d ago)"
    unseen = AdvisoryRow("debian-security:curl", "unknown", oldest_first_seen=100.0)
    assert severity_text(unseen) == "unknown"
    assert since_text(unseen, 160.0) == "seen 1m ago"
    assert since_text(AdvisoryRow("X", "low"), 0.0) == "?"
    # OSV's fixed version, and the newer candidate the package manager offers beside it.
    assert version_change({"installed": "1.0", "candidate": "1.2", "fixed": "1.1"}) == (
        "1.0 → 1.1 (offered 1.2)"
    )
    assert version_change({"installed": "1.0", "candidate": "1.2"}) == "1.0 → 1.2"
    row.packages, row.hosts, row.cves = {"openssh-server"}, {"web-01"}, {"CVE-2024-6387"}
    assert row_matches(row, "6387 WEB-01") and row_matches(row, "")
    assert not row_matches(row, "6387 db-01")


@pytest.mark.parametrize("lab", [{"lab-deb-0001": "slow"}], indirect=True)
async def test_doctor_runs_beside_the_console_and_stops_when_left(lab: Path, store: Store) -> None:
    """A slow host: its row says checking while the console answers keys; leaving the
    screen stops the check (nothing of it outlives the screen)."""
    app = console(lab, store)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(HostTable)
        table.move_cursor(row=table.visible_hosts.index("lab-deb-0001"))
        await pilot.press("D")
        screen = app.screen
        assert isinstance(screen, DoctorScreen)
        checks: DataTable[Any] = screen.query_one("#doctor-checks", DataTable)
        await pilot.pause(0.3)
        assert cell(checks, "lab-deb-0001", "result") == "checking…"
        assert screen.job is not None and not screen.done
        await pilot.press("escape")  # keys are served while the check goes on
        assert isinstance(app.screen, HostsScreen)
        await wait_until(pilot, lambda: screen.done)
        assert screen.job is None and "lab-deb-0001" not in screen.checks
