"""Rollout planning: canary hosts first, then waves, a failure threshold that halts the run.

Pure functions over host lists, so the plan can be shown (dry-run, console
confirmation) before anything runs, and tested without SSH.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from patchtui.errors import ConfigError
from patchtui.inventory.model import MAX_HOSTS, Host


@dataclass(frozen=True)
class Amount:
    """A count given as ``N`` or ``N%`` on the command line."""

    value: float
    percent: bool

    @classmethod
    def parse(cls, text: str, *, flag: str) -> Amount:
        raw = text.strip()
        percent = raw.endswith("%")
        number = raw[:-1] if percent else raw
        try:
            value = float(number) if percent else int(number)
        except ValueError:
            raise ConfigError(f"{flag} takes N or N%, got {text!r}") from None
        if not math.isfinite(value):  # "nan%" compares false with every bound
            raise ConfigError(f"{flag} takes N or N%, got {text!r}")
        if not percent and value > MAX_HOSTS:
            raise ConfigError(
                f"{flag} {text.strip()} is more hosts than any inventory holds "
                f"(at most {MAX_HOSTS:,}); use 100% for all of them"
            )
        if value < 0 or (percent and value > 100):
            raise ConfigError(
                f"{flag} must be between 0 and {'100%' if percent else 'the host count'}"
            )
        return cls(value=value, percent=percent)

    def of(self, total: int, *, at_least: int = 0) -> int:
        """The absolute count for ``total`` hosts (percentages round down, like Ansible's)."""
        count = math.floor(total * self.value / 100) if self.percent else int(self.value)
        return max(at_least, count)

    def __str__(self) -> str:
        return f"{self.value:g}%" if self.percent else str(int(self.value))


@dataclass(frozen=True)
class RolloutPlan:
    waves: tuple[tuple[Host, ...], ...]
    canary_count: int
    """How many of the first waves are canary waves (0 or 1)."""
    max_failures: int
    """Failures allowed before the run halts; one more halts it."""

    @property
    def host_count(self) -> int:
        return sum(len(wave) for wave in self.waves)

    def wave_label(self, index: int) -> str:
        if index < self.canary_count:
            return "canary"
        return f"wave {index - self.canary_count + 1}/{len(self.waves) - self.canary_count}"


def pick_canaries(hosts: Sequence[Host], count: int) -> list[Host]:
    """Hosts labelled ``canary: true`` first, then the first hosts in inventory order."""
    if count <= 0:
        return []
    labelled = [host for host in hosts if str(host.labels.get("canary", "")).lower() == "true"]
    labelled_names = {host.name for host in labelled}
    rest = [host for host in hosts if host.name not in labelled_names]
    return (labelled + rest)[:count]


def _cluster_waves(hosts: Sequence[Host], size: int) -> list[tuple[Host, ...]]:
    """Split into waves of at most ``size``; two hosts of one cluster never share a wave."""
    remaining = list(hosts)
    waves: list[tuple[Host, ...]] = []
    while remaining:
        wave: list[Host] = []
        clusters: set[str] = set()
        deferred: list[Host] = []
        for host in remaining:
            if len(wave) >= size or (host.cluster is not None and host.cluster in clusters):
                deferred.append(host)
                continue
            wave.append(host)
            if host.cluster is not None:
                clusters.add(host.cluster)
        waves.append(tuple(wave))
        remaining = deferred
    return waves


def plan_rollout(
    hosts: Sequence[Host],
    *,
    canary: int = 0,
    batch: Amount | None = None,
    max_failures: Amount | None = None,
) -> RolloutPlan:
    """Canary wave (if any), then waves of ``batch`` hosts (all at once when None)."""
    total = len(hosts)
    canaries = pick_canaries(hosts, canary)
    canary_names = {host.name for host in canaries}
    rest = [host for host in hosts if host.name not in canary_names]
    size = batch.of(total, at_least=1) if batch is not None else max(1, len(rest))
    waves: list[tuple[Host, ...]] = []
    canary_waves = _cluster_waves(canaries, len(canaries)) if canaries else []
    waves.extend(canary_waves)
    waves.extend(_cluster_waves(rest, size))
    allowed = max_failures.of(total) if max_failures is not None else 0
    return RolloutPlan(
        waves=tuple(wave for wave in waves if wave),
        canary_count=len(canary_waves),
        max_failures=allowed,
    )
