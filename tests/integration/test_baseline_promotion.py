"""Staging before production on the lab, over real SSH: patch staging, make a baseline from
that run, let the repositories publish newer versions, promote the baseline to prod.

Hosts are cloned from the fleet's Debian 12 and Rocky 9.3 templates and given two
controlled packages, so every version in play is known; both apt (``pkg=version``)
and dnf (``pkg-version``) pins are exercised.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from patchtui.baselines.model import BaselineRules, baseline_from_run
from patchtui.baselines.store import BaselineBook
from patchtui.engine import reboot as engine_reboot
from patchtui.engine.events import Event, HostFinished
from patchtui.engine.patch import PatchJob, PatchOptions
from patchtui.errors import ConfigError
from patchtui.inventory.loader import load_inventory
from patchtui.inventory.model import Host, Inventory
from patchtui.inventory.patterns import select_hosts
from patchtui.lab.fleet import FleetHost, build_fleet
from patchtui.lab.server import LabServer
from patchtui.lab.sim import jobs as lab_jobs
from patchtui.lab.state import SimPackage, SimVersion
from patchtui.store.db import Store
from patchtui.transport.ssh import SshConnector

FAST = PatchOptions(
    poll_interval=0.1, reboot_time_limit=30, reconnect_time_limit=30, reboot="never"
)
# family -> (release suffix of versions, arch)
FLAVOURS = {"apt": ("", "amd64"), "dnf": (".el9", "x86_64")}
LAYOUT = {  # host name -> (template index in the fleet, env)
    "deb-s1": (0, "staging"),
    "rocky-s1": (3, "staging"),
    "deb-p1": (0, "prod"),
    "deb-p2": (0, "prod"),
    "rocky-p1": (3, "prod"),
}


@pytest.fixture(autouse=True)
def quick_lab(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lab_jobs, "JOB_DURATION_RANGE", (0.2, 0.4))
    monkeypatch.setattr(lab_jobs, "REBOOT_DOWNTIME", 0.5)
    monkeypatch.setattr(engine_reboot, "SHUTDOWN_GRACE", 0.2)


def v(family: str, version: str, **kwargs: object) -> SimVersion:
    suffix = FLAVOURS[family][0]
    return SimVersion(f"{version}{suffix}", "updates", **kwargs)  # type: ignore[arg-type]


def controlled_fleet() -> list[FleetHost]:
    templates = build_fleet(6, faults="none")
    hosts: list[FleetHost] = []
    for name, (index, env) in LAYOUT.items():
        host = copy.deepcopy(templates[index])
        host.name = host.hostname = name
        host.labels = {**host.labels, "env": env, "role": "web"}
        host.reboot_required = False
        family = host.family
        arch = FLAVOURS[family][1]
        host.packages = {
            "tool": SimPackage(
                "tool",
                arch,
                f"1.0-1{FLAVOURS[family][0]}",
                [v(family, "1.0-1"), v(family, "1.1-1")],
            ),
            "libfoo": SimPackage(
                "libfoo",
                arch,
                f"2.0-1{FLAVOURS[family][0]}",
                [
                    v(family, "2.0-1"),
                    v(
                        family,
                        "2.1-1",
                        security=True,
                        severity="Important",
                        advisory="RLSA-2024:0001",
                        cves=("CVE-2024-0001",),
                    ),
                ],
            ),
        }
        hosts.append(host)
    return hosts


@dataclasses.dataclass
class Lab:
    server: LabServer
    inventory: Inventory
    db: Path

    def sim(self, name: str) -> FleetHost:
        found = next(host for host in self.server.hosts if host.name == name)
        assert isinstance(found, FleetHost)
        return found

    def versions(self, name: str) -> dict[str, str]:
        return {pkg.name: pkg.installed for pkg in self.sim(name).packages.values()}

    def publish(self, name: str, package: str, version: str) -> None:
        """The host's repositories now also offer ``version`` (newest)."""
        sim = self.sim(name)
        sim.packages[package].available.append(v(sim.family, version))

    def withdraw(self, name: str, package: str, version: str) -> None:
        """The host's repositories no longer offer ``version``."""
        sim = self.sim(name)
        wanted = version + FLAVOURS[sim.family][0]
        offered = sim.packages[package].available
        offered[:] = [item for item in offered if item.version != wanted]


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[Lab]:
    server = LabServer(controlled_fleet())
    await server.start()
    inventory = load_inventory(server.write_inventory(tmp_path / "lab" / "inventory.yaml"))
    yield Lab(server, inventory, tmp_path / "db.json")
    await server.stop()


async def run(
    hosts: list[Host], options: PatchOptions, store: Store | None
) -> tuple[PatchJob, dict[str, HostFinished]]:
    events: list[Event] = []
    connector = SshConnector(concurrency=5, use_agent=False)
    job = PatchJob(hosts, connector=connector, emit=events.append, options=options, store=store)
    try:
        await job.run()
    finally:
        await connector.close_all()
    return job, {e.host: e for e in events if isinstance(e, HostFinished)}


async def test_staging_baseline_is_promoted_to_prod_never_newer(lab: Lab) -> None:
    store = Store.open(lab.db)
    staging = select_hosts(lab.inventory, "staging")
    prod = select_hosts(lab.inventory, "prod")
    assert {h.name for h in staging} == {"deb-s1", "rocky-s1"}

    # 1. Staging is patched to what its repositories offer today.
    job, finished = await run(staging, FAST, store)
    assert {e.result for e in finished.values()} == {"ok"}, finished
    assert lab.versions("deb-s1") == {"tool": "1.1-1", "libfoo": "2.1-1"}

    # 2. A baseline from that run: per OS release, what staging installed.
    run_doc = store.run(job.run_id)
    assert run_doc is not None
    results = store.host_results(job.run_id)
    assert results[0]["os"]["os_id"] in {"debian", "rocky"}
    # What the scan knew of each update is kept: baseline rules judge by it.
    assert all(t["security"] for r in results for t in r["targets"] if t["name"] == "libfoo")
    baseline = baseline_from_run(
        "wk24",
        run=run_doc,
        results=results,
        host_states={doc["name"]: doc for doc in store.hosts()},
        rules=BaselineRules(),
        now=dt.datetime.now(dt.UTC).timestamp(),
    )
    assert baseline.releases == {
        "debian/12": {"tool": "1.1-1", "libfoo": "2.1-1"},
        "rocky/9.3": {"tool": "1.1-1.el9", "libfoo": "2.1-1.el9"},
    }
    BaselineBook(lab.db).save(baseline)

    # 3. The repositories move on: newer versions everywhere; deb-p2's mirror drops libfoo 2.1.
    for name in ("deb-p1", "deb-p2", "rocky-p1"):
        lab.publish(name, "tool", "1.2-1")
        lab.publish(name, "libfoo", "2.2-1")
    lab.withdraw("deb-p2", "libfoo", "2.1-1")
    promote = dataclasses.replace(FAST, baseline=BaselineBook(lab.db).require("wk24"))

    # 4. A dry-run shows the per-host plan against the baseline and changes nothing.
    _, planned = await run(prod, dataclasses.replace(promote, dry_run=True), store)
    assert planned["deb-p1"].result == "planned"
    assert {(c.name, c.before, c.after) for c in planned["deb-p1"].changes} == {
        ("tool", "1.0-1", "1.1-1"),
        ("libfoo", "2.0-1", "2.1-1"),
    }
    assert {(c.name, c.after) for c in planned["rocky-p1"].changes} == {
        ("tool", "1.1-1.el9"),
        ("libfoo", "2.1-1.el9"),
    }
    assert planned["deb-p2"].result == "skipped"
    assert planned["deb-p2"].error_kind == "baseline-unavailable"
    assert lab.versions("deb-p1") == {"tool": "1.0-1", "libfoo": "2.0-1"}

    # 5. Promotion installs exactly the baseline, not the newer 1.2 / 2.2.
    job, promoted = await run(prod, promote, store)
    assert promoted["deb-p1"].result == "ok", promoted["deb-p1"]
    assert promoted["rocky-p1"].result == "ok", promoted["rocky-p1"]
    assert lab.versions("deb-p1") == {"tool": "1.1-1", "libfoo": "2.1-1"}
    assert lab.versions("rocky-p1") == {"tool": "1.1-1.el9", "libfoo": "2.1-1.el9"}
    # The host whose repositories lost a baseline version is reported and untouched.
    missing = promoted["deb-p2"]
    assert missing.result == "skipped" and missing.error_kind == "baseline-unavailable"
    assert "libfoo" in (missing.error or "") and "left unchanged" in (missing.error or "")
    assert lab.versions("deb-p2") == {"tool": "1.0-1", "libfoo": "2.0-1"}
    assert store.run(job.run_id)["options"]["baseline"] == "wk24"  # type: ignore[index]

    # 6. Run again: everything is at the baseline, newer versions stay pending.
    _, again = await run(select_hosts(lab.inventory, "deb-p1"), promote, store)
    assert again["deb-p1"].result == "ok" and not again["deb-p1"].changes
    store.close()


async def test_hosts_ahead_of_the_baseline_are_not_downgraded(lab: Lab) -> None:
    from patchtui.baselines.model import Baseline

    sim = lab.sim("deb-p1")
    lab.publish("deb-p1", "tool", "1.2-1")
    sim.packages["tool"].installed = "1.2-1"
    baseline = Baseline("old", 0.0, {"debian/12": {"tool": "1.1-1", "libfoo": "2.1-1"}})
    hosts = select_hosts(lab.inventory, "deb-p1")
    job, finished = await run(hosts, dataclasses.replace(FAST, baseline=baseline), None)
    assert finished["deb-p1"].result == "ok"
    assert lab.versions("deb-p1") == {"tool": "1.2-1", "libfoo": "2.1-1"}
    assert any("tool 1.2-1 (baseline 1.1-1)" in note for note in job.outcomes["deb-p1"].notes)


async def test_a_closed_window_skips_the_host_and_says_when_it_opens(lab: Lab) -> None:
    # Saturday 2024-06-08 23:30 UTC = Sunday 01:30 in Berlin: before "Sun 02:00-04:00".
    frozen = dt.datetime(2024, 6, 8, 23, 30, tzinfo=dt.UTC)
    host = dataclasses.replace(
        select_hosts(lab.inventory, "deb-p1")[0],
        vars={"maintenance_window": "Sun 02:00-04:00 Europe/Berlin"},
    )
    options = dataclasses.replace(FAST, clock=lambda: frozen)
    _, finished = await run([host], options, None)
    skipped = finished["deb-p1"]
    assert skipped.result == "skipped" and skipped.error_kind == "outside-window"
    assert "next opens Sun 2024-06-09 02:00 Europe/Berlin (00:00 UTC)" in (skipped.error or "")
    assert lab.versions("deb-p1")["tool"] == "1.0-1"

    # Half an hour later (00:30 UTC = 02:30 Berlin) it is open; --ignore-window overrides too.
    later = dataclasses.replace(options, clock=lambda: frozen + dt.timedelta(hours=1))
    _, finished = await run([host], later, None)
    assert finished["deb-p1"].result == "ok"


def test_a_bad_window_stops_the_run_before_it_starts() -> None:
    host = Host("web-1", "127.0.0.1", vars={"maintenance_window": "Sun 2am-4am"})
    with pytest.raises(ConfigError, match=r"host web-1: maintenance_window: .*HH:MM"):
        PatchJob([host], connector=None, emit=lambda event: None, options=FAST)  # type: ignore[arg-type]
