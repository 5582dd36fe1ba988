"""Blue-green patch runs: the idle colour first, a switch, then the other colour.

``patch --blue-green color --idle green --switch CMD`` splits the selected hosts
by a label (or two groups: ``--blue-green blue,green``), patches the idle
colour with the usual canary, waves and health gates, and only if every idle
host ends ok runs the switch command once on the controller (the load
balancer's flip); then it patches the other colour, now idle. A failure before
the switch halts the run: the live colour is never connected to.

One run, one plan: the phases are the plan's waves (idle colour's, then the
other's), and ``between_phases`` is called by the run before each wave.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from patchtui.engine.events import PhaseStarted, SwitchRan
from patchtui.engine.outcome import OK_RESULTS
from patchtui.engine.rollout import Amount, RolloutPlan, plan_rollout
from patchtui.errors import ConfigError
from patchtui.inventory.model import Host

if TYPE_CHECKING:
    from patchtui.engine.patch import PatchJob

"""What every idle host must end as before the switch runs."""
MAX_SWITCH_LINES = 200
"""Lines of the switch command's output kept (the last ones)."""


@dataclasses.dataclass(frozen=True)
class BlueGreen:
    """The two colours of the selected hosts, which is idle, and the switch command."""

    idle_colour: str
    live_colour: str
    idle: tuple[str, ...]
    """Host names, patched first."""
    live: tuple[str, ...]
    """Host names serving now: patched only after the switch."""
    switch: str
    split_by: str
    """How the colours were told apart: 'label color' or 'groups blue,green'."""
    switch_time_limit: float = 600.0

    def describe(self) -> dict[str, object]:
        return {
            "split_by": self.split_by,
            "idle": self.idle_colour,
            "live": self.live_colour,
            "switch": self.switch,
            "phases": [
                {"colour": self.idle_colour, "role": "idle", "hosts": list(self.idle)},
                {"colour": self.live_colour, "role": "live", "hosts": list(self.live)},
            ],
        }

    def lines(self) -> list[str]:
        """The phases, as a confirmation says them."""
        return [
            f"Blue-green by {self.split_by}:",
            f"  1. patch {self.idle_colour} (idle, {len(self.idle)} hosts) with the usual waves "
            "and gates; any host not ok halts here, production untouched",
            f"  2. switch: `{self.switch}` on this machine, once, only if all of "
            f"{self.idle_colour} is ok (a non-zero exit halts)",
            f"  3. patch {self.live_colour} ({len(self.live)} hosts, idle after the switch)",
        ]


def _colour_of(host: Host, key: str) -> str | None:
    value = host.labels.get(key)
    if value is None:
        raw = host.vars.get(key)
        value = None if raw is None else str(raw)
    return None if value is None else str(value)


def split_colours(
    hosts: Sequence[Host], spec: str, *, idle: str | None, switch: str | None
) -> BlueGreen:
    """The colours of ``hosts`` by ``spec``: ``LABEL``, ``LABEL=A|B`` or ``GROUP_A,GROUP_B``.

    Which colour is idle: ``idle`` (a label value or a group name); with two groups
    and no ``idle``, the second named. Every host must be in exactly one colour.
    """
    spec = spec.strip()
    if not switch or not switch.strip():
        raise ConfigError("--blue-green needs --switch CMD (what makes the patched colour live)")
    if "," in spec:
        names = [part.strip() for part in spec.split(",")]
        if len(names) != 2 or not all(names) or names[0] == names[1]:
            raise ConfigError(f"--blue-green {spec!r}: name two different groups: A,B")
        colours: dict[str, list[str]] = {name: [] for name in names}
        for host in hosts:
            member = [name for name in names if name in host.groups]
            if len(member) == 2:
                raise ConfigError(
                    f"--blue-green: host {host.name} is in both {names[0]} and {names[1]}"
                )
            if member:
                colours[member[0]].append(host.name)
        default_idle = names[1]
        split_by = f"groups {names[0]},{names[1]}"
    else:
        key, _, wanted = spec.partition("=")
        key = key.strip()
        if not key:
            raise ConfigError("--blue-green: name a label (color) or two groups (blue,green)")
        allowed = [v.strip() for v in wanted.split("|")] if wanted else []
        if wanted and (len(allowed) != 2 or not all(allowed)):
            raise ConfigError(f"--blue-green {spec!r}: give two values, e.g. {key}=blue|green")
        colours = {value: [] for value in allowed}
        for host in hosts:
            value = _colour_of(host, key)
            if value is not None and (not allowed or value in allowed):
                colours.setdefault(value, []).append(host.name)
        if len(colours) != 2:
            found = ", ".join(sorted(colours)) or "none"
            raise ConfigError(
                f"--blue-green {key}: the selected hosts must have exactly two values of "
                f"{key!r} (found: {found})"
            )
        default_idle = None
        split_by = f"label {key}"
    placed = {name for members in colours.values() for name in members}
    outside = [host.name for host in hosts if host.name not in placed]
    if outside:
        shown = ", ".join(outside[:5]) + (
            f", … ({len(outside)} in all)" if len(outside) > 5 else ""
        )
        raise ConfigError(
            f"--blue-green: {len(outside)} selected hosts are in neither colour ({shown}); "
            "narrow the hosts with --limit"
        )
    chosen = idle if idle is not None else default_idle
    if chosen is None:
        raise ConfigError(
            f"--blue-green {key}: say which colour is idle (patched first): "
            f"--idle {' or --idle '.join(sorted(colours))}"
        )
    if chosen not in colours:
        raise ConfigError(f"--idle {chosen!r}: not a colour here ({', '.join(sorted(colours))})")
    live = next(colour for colour in colours if colour != chosen)
    for colour in (chosen, live):
        if not colours[colour]:
            raise ConfigError(f"--blue-green: no selected host is {colour}")
    return BlueGreen(
        idle_colour=chosen,
        live_colour=live,
        idle=tuple(colours[chosen]),
        live=tuple(colours[live]),
        switch=switch.strip(),
        split_by=split_by,
    )


@dataclasses.dataclass(frozen=True)
class PhasedPlan(RolloutPlan):
    """A rollout whose first ``phase_start`` waves are the idle colour's."""

    phase_start: int = 0
    idle_colour: str = ""
    live_colour: str = ""
    blue_green: BlueGreen | None = None

    def wave_label(self, index: int) -> str:
        if index < self.phase_start:
            if index < self.canary_count:
                return f"{self.idle_colour} (idle): canary"
            count = self.phase_start - self.canary_count
            return f"{self.idle_colour} (idle): wave {index - self.canary_count + 1}/{count}"
        count = len(self.waves) - self.phase_start
        return f"{self.live_colour} (after the switch): wave {index - self.phase_start + 1}/{count}"


def phased_plan(
    blue_green: BlueGreen,
    hosts: Sequence[Host],
    *,
    canary: int,
    batch: Amount | None,
    max_failures: Amount | None,
    canary_hosts: Sequence[str],
    fitness: Mapping[str, str],
) -> PhasedPlan:
    """The idle colour's canary and waves, then the other colour's waves."""
    idle_names, live_names = set(blue_green.idle), set(blue_green.live)
    idle = [host for host in hosts if host.name in idle_names]
    live = [host for host in hosts if host.name in live_names]
    first = plan_rollout(
        idle,
        canary=canary,
        batch=batch,
        canary_hosts=[name for name in canary_hosts if name in idle_names],
        fitness=fitness,
    )
    second = plan_rollout(live, batch=batch)
    total = len(idle) + len(live)
    return PhasedPlan(
        waves=first.waves + second.waves,
        canary_count=first.canary_count,
        max_failures=max_failures.of(total) if max_failures is not None else 0,
        canaries=first.canaries,
        canary_note=first.canary_note,
        phase_start=len(first.waves),
        idle_colour=blue_green.idle_colour,
        live_colour=blue_green.live_colour,
        blue_green=blue_green,
    )


def phase_lines(plan: PhasedPlan) -> list[str]:
    """The phases and their waves, for a confirmation (headless prompt and console)."""
    if plan.blue_green is None:
        return []
    lines = plan.blue_green.lines()
    for index, wave in enumerate(plan.waves):
        names = [host.name for host in wave]
        shown = ", ".join(names[:4]) + (f", … ({len(names)} in all)" if len(names) > 4 else "")
        lines.append(f"     {plan.wave_label(index)}: {shown}")
    return lines


def new_record(blue_green: BlueGreen) -> dict[str, Any]:
    """What the run's summary says of the phases and the switch (filled in as it goes)."""
    return {
        **blue_green.describe(),
        "switched": False,
        "switch_result": {"ran": False, "exit_status": None, "reason": "not reached"},
    }


async def between_phases(job: PatchJob, index: int) -> None:
    """Before wave ``index``: announce a phase; at the phase boundary, judge the idle
    colour and run the switch, or halt the run (the live colour is then never touched)."""
    blue_green = job.options.blue_green
    plan = job.plan
    assert blue_green is not None and isinstance(plan, PhasedPlan)
    record = job.phase_record
    if record is None:
        record = job.phase_record = new_record(blue_green)
    if index == 0:
        job.emit(
            PhaseStarted(
                run_id=job.run_id,
                index=0,
                label=f"{blue_green.idle_colour} (idle)",
                hosts=blue_green.idle,
            )
        )
    if index > plan.phase_start:
        return
    if job.halt_reason is not None or job.stopping:
        # The run stops before (or at) the boundary: the switch never runs.
        _not_run(job, record, job.halt_reason or "run cancelled")
        return
    if index != plan.phase_start:
        return
    unhealthy = [
        f"{name} {job.outcomes[name].result}" if name in job.outcomes else f"{name} not finished"
        for name in blue_green.idle
        if name not in job.outcomes or job.outcomes[name].result not in OK_RESULTS
    ]
    if unhealthy:
        shown = ", ".join(unhealthy[:5]) + (", …" if len(unhealthy) > 5 else "")
        job.halt_reason = (
            f"blue-green: {blue_green.idle_colour} is not fully healthy ({shown}); switch not run, "
            f"{blue_green.live_colour} untouched"
        )
        _not_run(job, record, job.halt_reason)
        return
    if job.options.dry_run:
        _not_run(job, record, "dry run (it would run here)")
    else:
        await _switch(job, blue_green, record)
        if job.halt_reason is not None:
            return
    job.emit(
        PhaseStarted(
            run_id=job.run_id,
            index=1,
            label=f"{blue_green.live_colour} (after the switch)",
            hosts=blue_green.live,
        )
    )


def _not_run(job: PatchJob, record: dict[str, Any], reason: str) -> None:
    blue_green = job.options.blue_green
    assert blue_green is not None
    record["switch_result"] = {"ran": False, "exit_status": None, "reason": reason}
    job.emit(
        SwitchRan(run_id=job.run_id, command=blue_green.switch, exit_status=None, reason=reason)
    )


async def _switch(job: PatchJob, blue_green: BlueGreen, record: dict[str, Any]) -> None:
    """Run the switch command once on this machine; a non-zero exit halts the run."""
    started = time.monotonic()
    lines: list[str] = []
    status: int | None = None
    reason = ""
    try:
        process = await asyncio.create_subprocess_shell(
            blue_green.switch,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
    except OSError as error:
        reason = f"could not start: {error}"
    else:
        try:
            async with asyncio.timeout(blue_green.switch_time_limit):
                assert process.stdout is not None
                async for raw in process.stdout:
                    lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                    del lines[:-MAX_SWITCH_LINES]
                status = await process.wait()
        except TimeoutError:
            process.kill()  # our own child, by its handle
            await process.wait()
            reason = f"timed out after {blue_green.switch_time_limit:g}s; stopped it"
        except asyncio.CancelledError:
            if process.returncode is None:
                process.kill()
                await process.wait()
            raise
    duration = round(time.monotonic() - started, 3)
    if status is not None and status != 0:
        reason = f"exited {status}"
    record["switch_result"] = {
        "ran": True,
        "exit_status": status,
        "reason": reason,
        "output": lines,
        "duration": duration,
    }
    record["switched"] = status == 0
    job.emit(
        SwitchRan(
            run_id=job.run_id,
            command=blue_green.switch,
            exit_status=status,
            output=tuple(lines),
            reason=reason,
        )
    )
    if status != 0:
        job.halt_reason = (
            f"blue-green: switch command {reason}; {blue_green.live_colour} untouched "
            f"({blue_green.idle_colour} is patched and still idle)"
        )


__all__ = [
    "BlueGreen",
    "PhasedPlan",
    "between_phases",
    "phase_lines",
    "phased_plan",
    "split_colours",
]
