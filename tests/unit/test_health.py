"""The health gate's retry loop and probes, without SSH: a scripted session and clock."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from patchtui.engine.health import HealthGate, run_gate, url_for
from patchtui.errors import ConfigError
from patchtui.inventory.model import Host
from patchtui.transport.base import CommandResult, TransportError

HOST = Host(name="web-01", address="10.0.0.7")


class ScriptedSession:
    """Answers the health command with the next scripted exit status (None: times out)."""

    def __init__(self, statuses: Sequence[int | None]) -> None:
        self.statuses = list(statuses)
        self.commands: list[tuple[str, float | None]] = []

    async def run(
        self, command: str, *, timeout: float | None = None, **_: object
    ) -> CommandResult:
        self.commands.append((command, timeout))
        status = self.statuses.pop(0)
        if status is None:
            raise TransportError("timeout", f"command timed out after {timeout:g}s")
        return CommandResult(
            command=command,
            stdout="active\n" if status == 0 else "failed\n",
            stderr="",
            exit_status=status,
        )

    async def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _gate(gate: HealthGate, session: ScriptedSession, clock: Clock) -> tuple[object, list[object]]:
    said: list[tuple[str, str]] = []
    reports: list[tuple[int, bool | None, str, bool]] = []
    result = asyncio.run(
        run_gate(
            gate,
            HOST,
            session,  # type: ignore[arg-type]
            say=lambda stream, line: said.append((stream, line)),
            report=lambda *args: reports.append(args),
            monotonic=clock.monotonic,
            sleep=clock.sleep,
        )
    )
    return result, [said, reports]


def test_retries_until_healthy_and_says_each_attempt() -> None:
    session, clock = ScriptedSession([3, 3, 0]), Clock()
    result, (said, reports) = _gate(
        HealthGate(command="systemctl is-active app", interval=5), session, clock
    )
    assert result.healthy and result.attempts == 3  # type: ignore[attr-defined]
    assert clock.slept == [5, 5]
    assert [line for _, line in said] == [  # type: ignore[union-attr]
        "[patchtui] health attempt 1: unhealthy (exit 3: failed)",
        "[patchtui] health attempt 2: unhealthy (exit 3: failed)",
        "[patchtui] health attempt 3: healthy",
    ]
    assert reports[-1] == (3, True, "", True)  # type: ignore[index]


def test_gives_up_at_the_timeout_and_says_why() -> None:
    session, clock = ScriptedSession([3] * 50), Clock()
    result, _ = _gate(HealthGate(command="check", timeout=12, interval=5), session, clock)
    # Attempts at 0, 5 and 10 s; a fourth (at 15 s) would pass the 12 s timeout.
    assert not result.healthy and result.attempts == 3  # type: ignore[attr-defined]
    assert result.reason == "unhealthy after 3 attempts in 10s: command exit 3: failed"  # type: ignore[attr-defined]


def test_a_hung_check_is_an_unhealthy_attempt_with_a_bounded_wait() -> None:
    session, clock = ScriptedSession([None, 0]), Clock()
    result, _ = _gate(HealthGate(command="check", timeout=600, interval=1), session, clock)
    assert result.healthy and result.attempts == 2  # type: ignore[attr-defined]
    assert session.commands[0][1] == 30.0  # one attempt never waits the whole timeout


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "ftp://x/health"}, "--health-url 'ftp://x/health': needs an http:// or https://"),
        ({"url": "http:///health"}, "--health-url 'http:///health': needs an http://"),
        ({"command": "  "}, "--health-check: empty command"),
        ({"command": "true", "timeout": 0}, "--health-timeout must be more than 0 seconds"),
        ({"command": "true", "interval": -1}, "--health-interval must be more than 0 seconds"),
    ],
)
def test_bad_gates_are_refused_in_one_line(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        HealthGate(**kwargs)  # type: ignore[arg-type]
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_url_placeholders() -> None:
    assert url_for("https://{host}:8443/health?n={name}", HOST) == (
        "https://10.0.0.7:8443/health?n=web-01"
    )
