"""``patch --dry-run --format matrix`` on the lab, as a user runs it (a real process,
real SSH): hosts that would get the identical packages at the identical versions are
one row; an inventory hold and --exclude split hosts off as the dry run decides."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from labhelp import patchtui_command
from test_baseline_promotion import controlled_fleet, quick_lab  # noqa: F401 (fixture)

from patchtui.lab.server import LabServer


@pytest.fixture
async def lab_inventory(tmp_path: Path) -> AsyncIterator[Path]:
    server = LabServer(controlled_fleet())
    await server.start()
    path = server.write_inventory(tmp_path / "lab" / "inventory.yaml")
    # deb-p2 holds "tool" back (an inventory hold): it must get libfoo only.
    data = yaml.safe_load(path.read_text())
    data["hosts"]["deb-p2"]["vars"] = {"holds": ["tool"]}
    path.write_text(yaml.safe_dump(data))
    yield path
    await server.stop()


async def patchtui(*args: str) -> tuple[int, str, str]:
    """The real command line in a subprocess, while this loop serves the lab."""
    process = await asyncio.create_subprocess_exec(
        *patchtui_command(*args),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_matrix_groups_hosts_with_the_identical_set(
    lab_inventory: Path, tmp_path: Path
) -> None:
    db = str(tmp_path / "db.json")
    code, out, err = await patchtui(
        "patch", "-i", str(lab_inventory), "--db", db, "--dry-run", "--format", "matrix", "--json"
    )
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    rows = [line for line in lines if line["type"] == "matrix_row"]
    assert [(row["count"], row["hosts"]) for row in rows] == [
        (2, ["deb-p1", "deb-s1"]),
        (2, ["rocky-p1", "rocky-s1"]),
        (1, ["deb-p2"]),
    ]
    packages = {tuple(row["hosts"]): row["packages"] for row in rows}
    assert packages[("deb-p1", "deb-s1")] == [
        {"name": "libfoo", "version": "2.1-1"},
        {"name": "tool", "version": "1.1-1"},
    ]
    assert packages[("rocky-p1", "rocky-s1")] == [
        {"name": "libfoo", "version": "2.1-1.el9"},
        {"name": "tool", "version": "1.1-1.el9"},
    ]
    assert packages[("deb-p2",)] == [{"name": "libfoo", "version": "2.1-1"}]
    assert lines[-2]["type"] == "matrix_summary" and lines[-2]["hosts"] == 5
    assert lines[-1]["type"] == "summary" and lines[-1]["dry_run"] is True

    # --exclude libfoo: the held host now installs nothing; the rest still pair up.
    code, out, err = await patchtui(
        "patch",
        "-i",
        str(lab_inventory),
        "--db",
        db,
        "--dry-run",
        "--format",
        "matrix",
        "--exclude",
        "libfoo",
    )
    assert code == 0, err
    table = out.splitlines()
    assert table[0] == "5 hosts in 3 groups, 1 packages:"
    assert table[1].split() == ["COUNT", "HOSTS", "PACKAGES"]
    assert table[3].split() == ["2", "deb-p1,", "deb-s1", "tool", "1.1-1"]
    assert table[4].split() == ["2", "rocky-p1,", "rocky-s1", "tool", "1.1-1.el9"]
    assert table[5].split() == ["1", "deb-p2", "(nothing", "to", "install)"]
    assert "DRY RUN: nothing was changed" in table[6]


async def test_matrix_without_dry_run_is_refused_before_any_host(tmp_path: Path) -> None:
    inventory = tmp_path / "inv.yaml"
    inventory.write_text("hosts:\n  web-1:\n    address: 127.0.0.1\n    port: 1\n")
    code, out, err = await patchtui("patch", "-i", str(inventory), "--format", "matrix", "--yes")
    assert code == 2 and out == ""
    assert err.strip() == "patchtui: error: --format matrix previews a dry run: add --dry-run"
