"""Rollout planning: canary hosts first, then waves, a failure threshold that halts the run.

Pure functions over host lists, so the plan can be shown (dry-run, console
confirmation) before anything runs, and tested without SSH.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
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


CANARY_FIT = "ok"
"""Canary fitness: the host's last scan was ok."""
CANARY_UNFIT = "failed"
"""Canary fitness: the host's last scan failed (dpkg lock, changed host key...): never a canary."""


@dataclass(frozen=True)
class RolloutPlan:
    waves: tuple[tuple[Host, ...], ...]
    canary_count: int
    """How many of the first waves are canary waves (0 or 1)."""
    max_failures: int
    """Failures allowed before the run halts; one more halts it."""
    canaries: tuple[str, ...] = ()
    """The canary hosts, in the order chosen."""
    canary_note: str = ""
    """How the canaries were chosen, and why fewer than asked if so (for confirmations)."""

    @property
    def host_count(self) -> int:
        return sum(len(wave) for wave in self.waves)

    def wave_label(self, index: int) -> str:
        if index < self.canary_count:
            return "canary"
        return f"wave {index - self.canary_count + 1}/{len(self.waves) - self.canary_count}"


def prod_count(hosts: Sequence[Host]) -> int:
    """Hosts labelled ``env=prod``: the number an operator must see before saying yes."""
    return sum(1 for host in hosts if str(host.labels.get("env", "")).lower() == "prod")


def typed_confirmation(hosts: Sequence[Host], above: int) -> str | None:
    """What the operator must type to confirm a change to ``hosts`` (the host count),
    or None when a plain y will do: at most ``above`` hosts and none labelled env=prod.
    The console and the headless prompt both ask by this rule."""
    if len(hosts) > above or prod_count(hosts):
        return str(len(hosts))
    return None


def _label_rank(host: Host) -> int:
    if str(host.labels.get("canary", "")).lower() == "true":
        return 0
    if str(host.labels.get("env", "")).lower() == "staging":
        return 1
    return 2


def pick_canaries(
    hosts: Sequence[Host],
    count: int,
    *,
    named: Sequence[str] = (),
    fitness: Mapping[str, str] | None = None,
) -> tuple[list[Host], str]:
    """The canaries and a note on how they were chosen.

    Named hosts (``--canary-hosts``) are the canaries, whatever ``count`` says. Else
    ``count`` hosts among those whose last scan was ok (``fitness``), hosts never
    scanned after them, and never a host whose last scan failed: a canary that is
    known broken proves nothing and halts the run for nothing. Among equals, hosts
    labelled ``canary: true``, then ``env: staging``, then inventory order.
    """
    if named:
        wanted = set(named)
        chosen = [host for host in hosts if host.name in wanted]
        return chosen, "named" if chosen else ""
    if count <= 0:
        return [], ""
    fit = fitness or {}
    eligible = [host for host in hosts if fit.get(host.name) != CANARY_UNFIT]
    order = {host.name: index for index, host in enumerate(hosts)}
    eligible.sort(
        key=lambda host: (
            0 if fit.get(host.name) == CANARY_FIT else 1,
            _label_rank(host),
            order[host.name],
        )
    )
    chosen = eligible[:count]
    unfit = len(hosts) - len(eligible)
    note = "chosen among hosts whose last scan was ok" if fitness else "chosen by label and order"
    if unfit:
        note += f"; {unfit} host{'s' if unfit != 1 else ''} whose last scan failed excluded"
    if len(chosen) < count:
        note += f"; only {len(chosen)} of {count} asked could be canaries"
    return chosen, note


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
    canary_hosts: Sequence[str] = (),
    fitness: Mapping[str, str] | None = None,
) -> RolloutPlan:
    """Canary wave (if any), then waves of ``batch`` hosts (all at once when None)."""
    total = len(hosts)
    canaries, note = pick_canaries(hosts, canary, named=canary_hosts, fitness=fitness)
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
        canaries=tuple(host.name for host in canaries),
        canary_note=note,
    )


def canary_fitness(last_states: Mapping[str, object]) -> dict[str, str]:
    """Canary fitness from each host's last recorded state (store or console rows):
    ok -> fit, failed/unreachable -> unfit; anything else (never scanned) is left out."""
    fitness: dict[str, str] = {}
    for name, state in last_states.items():
        if state == "ok":
            fitness[name] = CANARY_FIT
        elif state in ("failed", "unreachable"):
            fitness[name] = CANARY_UNFIT
    return fitness
