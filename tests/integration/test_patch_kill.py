"""SIGKILL `patchtui patch` at random moments of a 20-host lab patch: nothing reported is lost.

The lab runs in this process, so after each kill the test can compare the store with
what really happened on every host. After every kill:

- every host whose ``host_result`` line was printed is in the store with that result
  and the same package changes (durable before reported);
- every package that really changed on any host is covered by the rollback plan of the
  killed run, with the version it had before as the target: hosts still installing when
  the process died included (their before-versions were recorded before the install);
- ``patchtui rollback --run RUN --dry-run`` (on some kills) plans every changed host, and
  once a real ``patchtui rollback --run RUN`` puts every changed package back.

Kill moments come from a seeded RNG (reproducible), as fractions of the time one whole
run takes on this machine (measured first); the lab is reset between kills.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from patchtui.engine.rollback import changes_from_results, rollback_targets
from patchtui.lab.fleet import build_fleet
from patchtui.lab.server import LabServer
from patchtui.lab.sim import jobs as lab_jobs
from patchtui.lab.state import SimHost, SimPackage
from patchtui.store.db import Store, journal_path_for

# Kill moments are fractions of a run timed at the start: not alongside other kill tests.
pytestmark = pytest.mark.serial

KILLS = 12
SEED = 20261207
HOSTS = 20
"""Enough for hosts finished, installing and queued at most kill moments (two rounds at
--concurrency HOSTS // 2); 40 took twice the time and proved nothing more."""
TIME_LIMIT = 150.0
"""Whole test, seconds: a bound so a hang fails instead of stalling the suite (it takes
~45 s on 2 busy cores)."""
LINE_LIMIT = 30.0
"""One patchtui subprocess (start to exit, or to kill), seconds."""
OK = {"ok", "ok-reboot-required", "skipped"}
"""Rollback results that are not failures (skipped: only newly installed packages)."""


@pytest.fixture(autouse=True)
def quick_lab(monkeypatch: pytest.MonkeyPatch) -> None:
    # Short installs so a whole run fits in a few seconds; the code paths are the real ones.
    monkeypatch.setattr(lab_jobs, "JOB_DURATION_RANGE", (0.2, 1.0))
    monkeypatch.setattr(lab_jobs, "REBOOT_DOWNTIME", 0.3)


@dataclass
class Pristine:
    packages: dict[str, SimPackage]
    kernel: str
    reboot_required: bool
    reboot_packages: list[str]


def snapshot(sim: SimHost) -> Pristine:
    return Pristine(
        copy.deepcopy(sim.packages), sim.kernel, sim.reboot_required, list(sim.reboot_packages)
    )


def reset(sim: SimHost, pristine: Pristine) -> None:
    sim.packages = copy.deepcopy(pristine.packages)
    sim.kernel = pristine.kernel
    sim.reboot_required = pristine.reboot_required
    sim.reboot_packages = list(pristine.reboot_packages)
    sim.jobs.clear()
    sim.down_until = 0.0


def changed_on_host(sim: SimHost, pristine: Pristine) -> dict[str, str | None]:
    """Package -> version before the run, for every package the run changed on the host."""
    names = set(sim.packages) | set(pristine.packages)
    changed: dict[str, str | None] = {}
    for name in sorted(names):
        was = pristine.packages.get(name)
        now = sim.packages.get(name)
        if (was.installed if was else None) != (now.installed if now else None):
            changed[name] = was.installed if was else None
    return changed


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[tuple[LabServer, Path]]:
    server = LabServer(build_fleet(HOSTS, faults="none"))
    await server.start()
    inventory = server.write_inventory(tmp_path / "lab" / "inventory.yaml")
    yield server, inventory
    await server.stop()


async def patchtui(*args: str) -> tuple[int, str, str]:
    """Run the real CLI as a subprocess (async: the lab in this process must keep serving)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "patchtui.cli",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), LINE_LIMIT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def patch_until_killed(inventory: Path, db: Path, delay: float) -> list[dict[str, object]]:
    """Start `patchtui patch --json`, SIGKILL it ``delay`` s after start unless it ended
    before; the lines it printed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "patchtui.cli",
        "patch",
        "-i",
        str(inventory),
        "--db",
        str(db),
        "--reboot",
        "never",
        "--concurrency",
        str(HOSTS // 2),
        "--yes",
        "--json",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        await asyncio.wait_for(process.wait(), delay)
    except TimeoutError:
        process.send_signal(signal.SIGKILL)
    # Everything it wrote before dying is in the pipe; a line the kill cut short was never
    # printed whole, so only complete lines count.
    raw = await asyncio.wait_for(process.stdout.read(), LINE_LIMIT)
    await asyncio.wait_for(process.wait(), LINE_LIMIT)
    complete = raw.decode().split("\n")[:-1]
    return [json.loads(line) for line in complete if line.strip()]


def change_set(changes: object) -> set[tuple[str, object, object]]:
    assert isinstance(changes, list)
    return {(str(c["name"]), c.get("before"), c.get("after")) for c in changes}


async def test_sigkill_mid_patch_loses_no_reported_result_and_rollback_covers_every_change(
    lab: tuple[LabServer, Path], tmp_path: Path
) -> None:
    server, inventory = lab
    deadline = time.monotonic() + TIME_LIMIT
    pristine = {sim.name: snapshot(sim) for sim in server.hosts}
    db = tmp_path / "db.json"
    rng = random.Random(SEED)
    seen_runs: set[str] = set()
    printed_total = changes_total = in_flight_total = killed_mid_run = dry_runs = 0
    rolled_back = False
    # One whole run first: how long start-up plus the run take on this machine now, so
    # the kills land from start-up to the last hosts whatever the machine's load.
    started = time.monotonic()
    whole = await patch_until_killed(inventory, db, LINE_LIMIT)
    span = time.monotonic() - started
    assert whole[-1]["type"] == "summary" and whole[-1]["ok"] == HOSTS, whole[-1]
    seen_runs.add(str(whole[-1]["run_id"]))
    for sim in server.hosts:
        reset(sim, pristine[sim.name])
    for kill in range(KILLS):
        assert time.monotonic() < deadline, f"over {TIME_LIMIT}s after {kill} kills"
        lines = await patch_until_killed(inventory, db, rng.uniform(0.2, 0.95) * span)
        with Store.open(db, lock_timeout=5) as store:
            new_runs = [r for r in store.runs() if r["run_id"] not in seen_runs]
            changed = {
                sim.name: moved
                for sim in server.hosts
                if (moved := changed_on_host(sim, pristine[sim.name]))
            }
            if not new_runs:
                assert not changed, "hosts changed without a run in the store"
                continue
            (run,) = new_runs
            run_id = str(run["run_id"])
            seen_runs.add(run_id)
            assert run["status"] in {"interrupted", "completed"}, run
            killed_mid_run += run["status"] == "interrupted"
            assert not journal_path_for(db, run_id).exists()  # replayed, then removed
            stored = {str(r["host"]): r for r in store.host_results(run_id)}
            assert not {str(r["status"]) for r in stored.values()} & {"installing", "installed"}

            # 1. Every host reported finished is in the store, with its changes.
            printed = {str(x["host"]): x for x in lines if x["type"] == "host_result"}
            for host, line in printed.items():
                assert host in stored, f"kill {kill}: {host} printed, not stored"
                assert stored[host]["status"] == line["result"], (line, stored[host])
                assert change_set(stored[host]["changes"]) == change_set(line["changes"])
            printed_total += len(printed)
            changes_total += sum(len(x["changes"]) for x in printed.values())  # type: ignore[arg-type]

            # 2. Every package that really changed is in the rollback plan, back to its
            #    version before the run: finished hosts and hosts caught mid-install alike.
            plan = changes_from_results(list(stored.values()))
            for host, moved in changed.items():
                targets, new_installs = rollback_targets(plan.get(host, []))
                restores = {target.name: target.version for target in targets}
                record = stored.get(host)
                read_back = record is not None and not record.get("changes_unknown")
                for name, before in moved.items():
                    if before is None and name.startswith("linux-image-") and not read_back:
                        # A kernel the upgraded metapackage pulled in as a new package (the
                        # lab does as Debian does) is known only once the install's changes
                        # were read back; a host killed mid-install has its targets only.
                        continue
                    if before is None:
                        assert name in new_installs, (kill, host, name)
                    else:
                        assert restores.get(name) == before, (kill, host, name, plan.get(host))
            in_flight_total += len(set(changed) - set(printed))
        restorable = {host for host, moved in changed.items() if any(moved.values())}
        # 3. The command line's own plan, on some kills (each costs a pass over the fleet).
        if restorable and kill % 4 == 1:
            code, out, err = await patchtui(
                "rollback", "-i", str(inventory), "--db", str(db), "--run", run_id,
                "--dry-run", "--reboot", "never", "--json",
            )  # fmt: skip
            assert code in {0, 1}, err
            results = [json.loads(x) for x in out.splitlines()]
            seen_runs |= {str(x["run_id"]) for x in results if x["type"] == "run_started"}
            planned = {
                str(x["host"])
                for x in results
                if x["type"] == "host_result" and x["result"] == "planned"
            }
            assert planned == restorable, (planned ^ restorable, err)
            dry_runs += 1
        # 4. Once, past half way, a real rollback of the killed run: every package is back.
        if restorable and not rolled_back and kill >= KILLS // 2:
            code, out, err = await patchtui(
                "rollback", "-i", str(inventory), "--db", str(db), "--run", run_id,
                "--reboot", "never", "--yes", "--json",
            )  # fmt: skip
            results = [json.loads(x) for x in out.splitlines()]
            seen_runs |= {str(x["run_id"]) for x in results if x["type"] == "run_started"}
            bad = [x for x in results if x["type"] == "host_result" and x["result"] not in OK]
            assert code in {0, 1} and not bad, (bad, err)
            left = {
                sim.name: moved
                for sim in server.hosts
                if (
                    moved := {
                        n: b for n, b in changed_on_host(sim, pristine[sim.name]).items() if b
                    }
                )
            }
            assert not left, left
            rolled_back = True
        for sim in server.hosts:
            reset(sim, pristine[sim.name])

    print(
        f"\n{KILLS} kills: {killed_mid_run} mid-run, {printed_total} host results printed "
        f"({changes_total} package changes), all stored; {in_flight_total} hosts caught "
        f"mid-install covered by rollback; {dry_runs} CLI dry-run plans checked"
    )
    # The test must really have exercised what it claims.
    assert killed_mid_run >= KILLS // 2
    assert printed_total > 0 and changes_total > 0
    assert in_flight_total > 0
    assert dry_runs >= 1 and rolled_back


async def test_sigkill_mid_scan_loses_no_reported_result(
    lab: tuple[LabServer, Path], tmp_path: Path
) -> None:
    """Scans too: killed right after its k-th host result (k random), every host whose
    result was printed is in the store, with the pending count it printed."""
    _server, inventory = lab
    db = tmp_path / "db.json"
    rng = random.Random(SEED + 1)
    printed_total = 0
    for _kill in range(4):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "patchtui.cli", "scan", "-i", str(inventory), "--db", str(db),
            "--json",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert process.stdout is not None
        kill_after = rng.randint(1, HOSTS - 5)
        lines: list[dict[str, object]] = []
        while sum(x["type"] == "host_result" for x in lines) < kill_after:
            raw = await asyncio.wait_for(process.stdout.readline(), LINE_LIMIT)
            assert raw.endswith(b"\n"), "scan ended before the kill"
            lines.append(json.loads(raw))
        process.send_signal(signal.SIGKILL)
        rest = await asyncio.wait_for(process.stdout.read(), LINE_LIMIT)
        await asyncio.wait_for(process.wait(), LINE_LIMIT)
        lines += [json.loads(x) for x in rest.decode().split("\n")[:-1] if x.strip()]
        assert lines[-1]["type"] != "summary", "killed after the scan had finished"
        printed = {str(x["host"]): x for x in lines if x["type"] == "host_result"}
        (started,) = [x for x in lines if x["type"] == "run_started"]
        with Store.open(db, lock_timeout=5) as store:
            stored = {str(r["host"]): r for r in store.host_results(str(started["run_id"]))}
            for host, line in printed.items():
                assert host in stored, f"{host} printed, not stored"
                assert stored[host]["status"] == line["state"], (line, stored[host])
                if line["state"] == "ok":
                    known = store.host(host)
                    assert known is not None and known["pending_count"] == line["pending"]
        printed_total += len(printed)
    assert printed_total >= 4
