from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

import pytest

from patchtui.transport import detached
from patchtui.transport.detached import job_id_for, parse_poll, poll_command, start_command


def test_job_id_is_safe_for_files_and_units() -> None:
    job = job_id_for("20261127T083000Z-abc123", "web01.example; rm -rf /", "apply")
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", job)


def test_start_command_refuses_unsafe_ids() -> None:
    with pytest.raises(ValueError):
        start_command("x; reboot", "true")


def test_running_poll_holds_back_a_partial_line() -> None:
    polled = parse_poll("@@patchtui-job running\nline one\nline tw")
    assert polled.state == "running"
    assert polled.exit_status is None
    assert polled.lines == ["line one"]


def test_finished_poll_keeps_the_last_line_and_status() -> None:
    polled = parse_poll("@@patchtui-job 100\nE: Could not get lock\nlast")
    assert polled.state == "finished"
    assert polled.exit_status == 100
    assert polled.lines == ["E: Could not get lock", "last"]


def test_unexpected_poll_output_is_an_error() -> None:
    with pytest.raises(ValueError):
        parse_poll("bash: tail: command not found\n")


def test_job_script_runs_for_real_and_poll_reads_it(tmp_path: Path, monkeypatch) -> None:
    """Run the generated script and poll command with the real /bin/sh, in a temp dir."""
    monkeypatch.setattr(detached, "JOB_DIR", str(tmp_path))
    job = "unit-job"
    command = start_command(job, "echo one; echo two >&2; exit 3")
    # Force the no-systemd branch so the test never creates a unit on this machine.
    command = command.replace("command -v systemd-run", "command -v no-such-systemd-run")
    started = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=10)
    assert detached.STARTED_MARKER in started.stdout
    for _ in range(100):
        out = subprocess.run(
            ["sh", "-c", poll_command(job, 1)], capture_output=True, text=True, timeout=10
        ).stdout
        polled = parse_poll(out)
        if polled.state == "finished":
            break
        subprocess.run(["sleep", "0.05"], check=True)
    assert polled.exit_status == 3
    assert sorted(polled.lines) == ["one", "two"]
    script = (tmp_path / f"{job}.sh").read_text()
    assert "exit 3" in script
    encoded = re.search(r"printf %s (\S+) \|", command)
    assert encoded is not None
    assert base64.b64decode(encoded.group(1)).decode() == script


def test_systemd_branch_forwards_the_session_environment(tmp_path: Path, monkeypatch) -> None:
    """systemd-run units get PID 1's environment: APT_CONFIG/proxies must be passed on."""
    monkeypatch.setattr(detached, "JOB_DIR", str(tmp_path / "jobs"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    recorder = bin_dir / "systemd-run"
    recorder.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path}/argv\n')
    recorder.chmod(0o755)
    command = start_command("env-job", "true").replace("[ -d /run/systemd/system ]", "true")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "APT_CONFIG": "/tmp/x/apt.conf", "http_proxy": "p"}
    subprocess.run(["sh", "-c", command], env=env, check=True, timeout=10, capture_output=True)
    argv = (tmp_path / "argv").read_text().splitlines()
    assert "--setenv=APT_CONFIG" in argv and "--setenv=http_proxy" in argv
    assert "--setenv=https_proxy" not in argv  # unset variables are not invented
    assert argv[-2:] == ["sh", f"{tmp_path}/jobs/env-job.sh"]


class _EndlessJobSession:
    """Answers every poll with 3,000 more lines of a job that never ends."""

    def __init__(self) -> None:
        self.polls = 0

    async def run(self, command: str, **_: object) -> detached.CommandResult:
        self.polls += 1
        lines = "".join(f"{self.polls}-{index} " + "z" * 20_000 + "\n" for index in range(3000))
        return detached.CommandResult(command, 0, f"{detached.STATUS_MARKER} running\n{lines}", "")


async def test_a_job_that_prints_forever_keeps_a_bounded_log() -> None:
    session = _EndlessJobSession()
    job = detached.DetachedJob("unit-job", "yes")
    seen = 0

    def count(line: str) -> None:
        nonlocal seen
        seen += 1

    job.on_line = count
    for _ in range(10):
        await job.poll(session)  # type: ignore[arg-type]
    assert seen == 30_000  # every line still reaches the transcript's callback
    assert len(job.log) <= 2 * detached.LOG_LINES
    assert job.log[-1].startswith("10-2999 ")
    assert max(len(line) for line in job.log) == detached.LOG_LINE_CHARS
