"""Input that used to exhaust memory stays within a stated bound (issue 13, item 3).

Each case runs the real ``patchtui`` in a subprocess and reads its peak
resident set size (``VmHWM`` in ``/proc/PID/status``) while it runs, then
asserts it under ``RSS_BOUND_MB``. patchtui itself (Python, asyncssh,
cryptography, PyYAML) starts at about 40-60 MB; every bound leaves room for
that and for the data patchtui may legitimately keep, and is far below what
the unbounded code reached (an alias bomb: MemoryError; a 1.5 GB script: its
size; ``run -- yes``: growing ~7.5 MB/s for as long as it ran).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from labhelp import patchtui_command
from sshserver import LOOPBACK, KeyFiles, SshTestServer

from patchtui.errors import InventoryError
from patchtui.inventory.ansible import SCRIPT_MAX_OUTPUT, run_script

RSS_BOUND_MB = 200
"""Peak RSS allowed for every case here: about 4x patchtui's own footprint."""

pytestmark = [
    pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc"),
    # Peak memory and time bounds: one such test at a time (conftest.py SERIAL_GROUPS).
    pytest.mark.serial,
]


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM (peak RSS) of a running process, in MB; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def run_measured(
    args: list[str], *, limit: float
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run patchtui ``args``; its result and the highest VmHWM seen while it ran."""
    process = subprocess.Popen(
        patchtui_command(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    peak = 0.0
    deadline = time.monotonic() + limit
    while process.poll() is None and time.monotonic() < deadline:
        peak = max(peak, peak_rss_mb(process.pid) or 0.0)
        time.sleep(0.05)
    if process.poll() is None:
        process.kill()
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode is not None
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), peak


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_alias_bomb_under_vars_is_refused_quickly_within_bound(tmp_path: Path) -> None:
    # 10 levels of 10 aliases each: 10**10 strings once followed.
    levels = ['      a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        levels.append(f"      a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 10)}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("hosts:\n  web01:\n    vars:\n" + "\n".join(levels) + "\n")
    started = time.monotonic()
    result, peak = run_measured(["inventory", "show", "-i", str(path)], limit=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 2
    assert "alias" in one_error_line(result.stderr)
    assert "bomb.yaml:" in result.stderr
    assert peak < RSS_BOUND_MB, f"peak RSS {peak:.0f} MB"
    assert elapsed < 20, f"took {elapsed:.1f}s"


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("hosts.yaml", "hosts:\n  web[0:99999999]:\n"),
        ("hosts.ini", "[web]\nweb[0:99999999]\n"),
        ("ansible.yaml", "all:\n  hosts:\n    web[0:99999999]:\n"),
    ],
)
def test_huge_range_is_refused_with_its_limit_within_bound(
    tmp_path: Path, name: str, body: str
) -> None:
    path = tmp_path / name
    path.write_text(body)
    result, peak = run_measured(["inventory", "show", "-i", str(path)], limit=60)
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert "100,000,000 hosts" in line and "at most 10,000 per range" in line, line
    assert peak < RSS_BOUND_MB, f"peak RSS {peak:.0f} MB"


def test_many_large_ranges_hit_the_inventory_host_limit(tmp_path: Path) -> None:
    # Each range is allowed; together they would be 110,000 hosts.
    path = tmp_path / "hosts.ini"
    path.write_text("".join(f"r{index}-[0:9999]\n" for index in range(11)))
    result, peak = run_measured(["inventory", "show", "-i", str(path)], limit=120)
    assert result.returncode == 2
    assert "more than 100,000 hosts" in one_error_line(result.stderr)
    assert peak < RSS_BOUND_MB, f"peak RSS {peak:.0f} MB"


def write_script(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)
    return path


def test_dynamic_inventory_printing_gigabytes_is_cut_off_within_bound(tmp_path: Path) -> None:
    # 1.5 GB of JSON-looking output if nobody stopped it.
    script = write_script(
        tmp_path / "inventory.py",
        "import sys\n"
        "chunk = ('\"h' + 'x' * 1000 + '\", ') * 1000\n"
        'sys.stdout.write(\'{"all": {"hosts": [\')\n'
        "for _ in range(1500):\n"
        "    sys.stdout.write(chunk)\n",
    )
    started = time.monotonic()
    result, peak = run_measured(["inventory", "show", "-i", str(script)], limit=120)
    elapsed = time.monotonic() - started
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert f"more than {SCRIPT_MAX_OUTPUT // (1024 * 1024)} MiB" in line, line
    assert peak < RSS_BOUND_MB, f"peak RSS {peak:.0f} MB"
    assert elapsed < 60, f"took {elapsed:.1f}s"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose (it runs nothing); only its parent can reap it.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_dynamic_inventory_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    script = write_script(
        tmp_path / "inventory.py",
        "import subprocess, sys, time\n"
        "child = subprocess.Popen(['sleep', '300'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(300)\n",
    )
    started = time.monotonic()
    with pytest.raises(InventoryError) as info:
        run_script(script, timeout=2)
    assert time.monotonic() - started < 15
    assert "within 2s" in str(info.value)
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while pid_alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = pid_alive(grandchild)
    if alive:  # never leave it behind, whatever the outcome
        os.kill(grandchild, signal.SIGKILL)
    assert not alive, "the script's child outlived the timeout"


def flood_inventory(tmp_path: Path, server: SshTestServer, key: KeyFiles) -> Path:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(server.known_hosts_line() + "\n")
    path = tmp_path / "flood.yaml"
    path.write_text(
        "hosts:\n"
        "  flood01:\n"
        f"    address: {LOOPBACK}\n"
        f"    port: {server.port}\n"
        "    user: tester\n"
        f"    identity_file: {key.private_path}\n"
        f"    known_hosts: {known_hosts}\n"
    )
    return path


RUN_LIMIT = 90.0
"""Seconds the endless run may take to push ``RUN_TARGET_MB`` through (a slow machine)."""
RUN_TARGET_MB = 2 * RSS_BOUND_MB
EARLY_SECONDS = 3.0


async def test_endless_run_output_stays_within_bound(
    tmp_path: Path, transport_server: SshTestServer, transport_client_key: KeyFiles
) -> None:
    """``patchtui run -- yes`` without --timeout: memory stops growing, output keeps flowing."""
    inventory = flood_inventory(tmp_path, transport_server, transport_client_key)
    command = patchtui_command(
        "run", "-i", str(inventory), "--db", str(tmp_path / "db.json"), "--", "flood", "4000"
    )
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None and process.stderr is not None
    received = 0

    async def drain(stream: asyncio.StreamReader) -> None:
        nonlocal received
        while chunk := await stream.read(1 << 20):
            received += len(chunk)

    readers = [
        asyncio.create_task(drain(process.stdout)),
        asyncio.create_task(drain(process.stderr)),
    ]
    peak = 0.0
    peak_early = 0.0
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        # Until far more output went through than the bound: however fast the machine.
        while received < RUN_TARGET_MB * 1e6 and loop.time() - started < RUN_LIMIT:
            await asyncio.sleep(0.1)
            peak = max(peak, peak_rss_mb(process.pid) or 0.0)
            if loop.time() - started < EARLY_SECONDS:
                peak_early = peak
    finally:
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()
        await asyncio.wait_for(asyncio.gather(*readers), 30)
    received_mb = received / 1e6
    print(
        f"endless run: {received_mb:.0f} MB of output in {loop.time() - started:.0f}s, "
        f"peak RSS {peak_early:.0f} MB after {EARLY_SECONDS:.0f}s, {peak:.0f} MB at the end"
    )
    # The test means something only if more went through than the bound allows
    # (the unbounded code kept all of it: 300+ MB here).
    assert received_mb > RSS_BOUND_MB, f"only {received_mb:.0f} MB of output"
    assert peak < RSS_BOUND_MB, f"peak RSS {peak:.0f} MB"
    # And it is flat: after the first seconds, hundreds of MB more output added little.
    assert peak - peak_early < 40, f"RSS grew from {peak_early:.0f} to {peak:.0f} MB"
    assert process.returncode == 130


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
@pytest.mark.parametrize("option", ["-i", "--policy"])
def test_an_endless_input_file_is_read_only_up_to_its_limit(tmp_path: Path, option: str) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("hosts:\n  web01: {address: 127.0.0.1}\n")
    db = str(tmp_path / "db.json")
    args = ["scan", "-i", "/dev/zero", "--db", db]
    if option == "--policy":
        args = ["compliance", "-i", str(inventory), "--policy", "/dev/zero", "--db", db]
    result, peak = run_measured(args, limit=60)
    assert result.returncode == 2
    assert "larger than 64 MiB" in one_error_line(result.stderr)
    assert peak < RSS_BOUND_MB, f"peak RSS {peak:.0f} MB"
