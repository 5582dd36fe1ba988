"""Health gates: is a host healthy after its patch and reboot?

Two kinds of probe, either or both: a command run on the host over the run's
own SSH session (``--health-check``, exit 0 = healthy) and an HTTP(S) GET from
the controller (``--health-url``, any 2xx = healthy; ``{host}`` becomes the
host's address, ``{name}`` its inventory name). A gate retries every
``interval`` seconds until every probe passes in one attempt or ``timeout``
runs out; every attempt is shown in the host's output.

A host that fails its gate is a failed host (error kind ``health-check``) for
the failure threshold and halt rules; ``--rollback-on-failure`` then restores
its previous versions (``patchtui.engine.autorollback``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from patchtui.errors import ConfigError
from patchtui.inventory.model import Host
from patchtui.transport.base import RemoteSession, TransportError

HEALTH_CHECK = "health-check"
"""error_kind of a host that did not become healthy."""
MAX_ATTEMPT_SECONDS = 30.0
"""One probe never waits longer than this (or the time left), so a hung check is retried."""
MAX_DETAIL = 200


@dataclasses.dataclass(frozen=True)
class HealthGate:
    """What to probe, and for how long to keep trying."""

    command: str | None = None
    url: str | None = None
    timeout: float = 120.0
    """Seconds from the first attempt until the host is called unhealthy."""
    interval: float = 5.0
    """Seconds between attempts."""

    def __post_init__(self) -> None:
        if self.command is not None and not self.command.strip():
            raise ConfigError("--health-check: empty command")
        if self.url is not None:
            check_url(self.url)
        if not self.timeout > 0:
            raise ConfigError(f"--health-timeout must be more than 0 seconds, not {self.timeout:g}")
        if not self.interval > 0:
            raise ConfigError(
                f"--health-interval must be more than 0 seconds, not {self.interval:g}"
            )

    @property
    def enabled(self) -> bool:
        return bool(self.command or self.url)

    def describe(self) -> dict[str, object]:
        """JSON-safe record for the run's options."""
        return {
            "command": self.command,
            "url": self.url,
            "timeout": self.timeout,
            "interval": self.interval,
        }


def check_url(url: str) -> None:
    """Refuse a URL that can never be probed (bad scheme, no host), before any host is touched."""
    parsed = urllib.parse.urlsplit(url.replace("{host}", "h").replace("{name}", "h"))
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"--health-url {url!r}: needs an http:// or https:// URL with a host")


def url_for(template: str, host: Host) -> str:
    """``template`` with ``{host}`` (address) and ``{name}`` (inventory name) filled in."""
    return template.replace("{host}", host.address or host.name).replace("{name}", host.name)


@dataclasses.dataclass
class ProbeResult:
    kind: str
    """command or url."""
    target: str
    healthy: bool
    detail: str

    def to_doc(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class GateResult:
    healthy: bool
    attempts: int
    duration: float
    probes: list[ProbeResult] = dataclasses.field(default_factory=list)
    """The last attempt's probes."""

    @property
    def reason(self) -> str:
        failing = [p for p in self.probes if not p.healthy]
        if self.healthy or not failing:
            return f"healthy after {self.attempts} attempt{'s' if self.attempts != 1 else ''}"
        what = "; ".join(f"{p.kind} {p.detail}" for p in failing)
        return f"unhealthy after {self.attempts} attempts in {self.duration:.0f}s: {what}"

    def to_doc(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "attempts": self.attempts,
            "duration": round(self.duration, 3),
            "probes": [probe.to_doc() for probe in self.probes],
        }


Say = Callable[[str, str], None]
"""(stream, line) into the host's output."""


async def probe_command(session: RemoteSession, command: str, time_limit: float) -> ProbeResult:
    """Run the check on the host; exit 0 is healthy. The session shows its output."""
    try:
        result = await session.run(command, timeout=time_limit)
    except TransportError as error:
        return ProbeResult("command", command, False, _clip(error.message))
    if result.exit_status is None:
        return ProbeResult("command", command, False, "connection lost")
    last = next((x for x in reversed(result.stdout.splitlines()) if x.strip()), "")
    detail = f"exit {result.exit_status}" + (f": {last.strip()}" if last else "")
    return ProbeResult("command", command, result.exit_status == 0, _clip(detail))


def _get(url: str, time_limit: float) -> tuple[bool, str]:
    request = urllib.request.Request(url, method="GET", headers={"User-Agent": "patchtui"})
    try:
        with urllib.request.urlopen(request, timeout=time_limit) as response:
            status = int(response.status)
            reason = str(response.reason or "")
    except urllib.error.HTTPError as error:
        return False, f"HTTP {error.code} {error.reason or ''}".strip()
    except (urllib.error.URLError, OSError, ValueError) as error:
        cause = getattr(error, "reason", None) or error
        return False, f"no answer: {cause}"
    return 200 <= status < 300, f"HTTP {status} {reason}".strip()


async def probe_url(url: str, time_limit: float) -> ProbeResult:
    """GET ``url`` from the controller; any 2xx is healthy (redirects are followed)."""
    healthy, detail = await asyncio.to_thread(_get, url, time_limit)
    return ProbeResult("url", url, healthy, _clip(detail))


Report = Callable[[int, bool | None, str, bool], None]
"""(attempt, healthy or None while probing, detail, final verdict)."""


async def run_gate(
    gate: HealthGate,
    host: Host,
    session: RemoteSession,
    *,
    say: Say,
    report: Report,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Any] = asyncio.sleep,
) -> GateResult:
    """Probe until every probe passes in one attempt, or ``gate.timeout`` runs out."""
    started = monotonic()
    deadline = started + gate.timeout
    attempt = 0
    # Bounded: every pass sleeps ``interval`` (> 0) and stops once past the deadline.
    while True:
        attempt += 1
        report(attempt, None, "probing", False)
        limit = min(MAX_ATTEMPT_SECONDS, max(1.0, deadline - monotonic()))
        probes: list[ProbeResult] = []
        if gate.command:
            probes.append(await probe_command(session, gate.command, limit))
        if gate.url:
            url = url_for(gate.url, host)
            say("cmd", f"GET {url}  [health probe from the controller]")
            probe = await probe_url(url, limit)
            say("stdout" if probe.healthy else "stderr", probe.detail)
            probes.append(probe)
        healthy = all(probe.healthy for probe in probes)
        failing = "; ".join(p.detail for p in probes if not p.healthy)
        verdict = "healthy" if healthy else f"unhealthy ({failing})"
        say("stdout", f"[patchtui] health attempt {attempt}: {verdict}")
        final = healthy or monotonic() + gate.interval > deadline
        report(attempt, healthy, failing, final)
        if final:
            return GateResult(healthy, attempt, monotonic() - started, probes)
        await sleep(gate.interval)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


__all__ = [
    "HEALTH_CHECK",
    "GateResult",
    "HealthGate",
    "ProbeResult",
    "check_url",
    "probe_command",
    "probe_url",
    "run_gate",
    "url_for",
]
