"""Schedules from maintenance windows: systemd timer + service units and crontab lines.

Pure functions: hosts and a policy in, unit texts out (writing, verifying and
installing them is ``patchtui.headless.schedule_files``).

One patch timer per distinct window (hosts sharing the same window(s) share a timer),
with ``OnCalendar=`` at the window's start *in the window's own time zone*: systemd
takes a trailing IANA zone, so "Sun 02:00 Europe/Berlin" stays 02:00 in Berlin across
DST changes. Each service runs ``patchtui patch`` on exactly that window's hosts, named
in ``--limit``: a host that later leaves the inventory makes the run fail loudly (a
pattern term that matches nothing is an error) rather than widen it, and the engine
still checks each host's window when it starts, so a moved window is skipped, never
patched outside its hours. Regenerate the units when hosts or windows change.

Unattended runs: ``--yes`` (there is no terminal to confirm on), ``--json`` appended
to a log file per unit (one object per line, the last the run's summary), and the
exit code left as it is, so a halted or failing run marks the unit failed, where
``systemctl --failed``, ``OnFailure=`` and monitoring see it.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from patchtui.engine.windows import DAY_NAMES, MaintenanceWindow, WindowError, parse_days
from patchtui.inventory.model import Host

_SYSTEMD_SAFE = re.compile(r"^[A-Za-z0-9_@+=:,./-]+$")
_UNIT_CHARS = re.compile(r"[^a-z0-9]+")
_CRON_DAY = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5, 5: 6, 6: 0}  # Monday = 0 -> cron's Monday = 1
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
RUN_SLACK = dt.timedelta(hours=1)
"""How long a patch run may go on past its window's end before systemd stops it. The
engine starts no host outside its window, so this only ends a run that hangs."""


class ScheduleError(ValueError):
    """A schedule that cannot be written; the message says what is wrong."""


@dataclass(frozen=True)
class At:
    """A recurring moment: weekdays, a time of day, a zone (``--scan-at "daily 06:00"``)."""

    days: frozenset[int]
    time: dt.time
    tz: str = "UTC"

    def __str__(self) -> str:
        return f"{_days_text(self.days)} {self.time:%H:%M} {self.tz}"


def parse_at(text: str) -> At:
    """``"<days> <HH:MM> [Zone/Name]"``: ``"daily 06:00"``, ``"Mon-Fri 07:30 Europe/Paris"``."""
    from patchtui.engine.windows import parse_window_text

    words = text.split()
    if len(words) not in (2, 3):
        raise ScheduleError(f"{text!r} is not '<days> <HH:MM> [time zone]' (e.g. 'daily 06:00')")
    match = _TIME.match(words[1])
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ScheduleError(f"{words[1]!r} is not a time of day HH:MM")
    moment = dt.time(int(match[1]), int(match[2]))
    tz = words[2] if len(words) == 3 else "UTC"
    try:
        days = parse_days(words[0])
        # The window parser checks the zone name the same way windows do.
        parse_window_text(f"daily 00:00-01:00 {tz}")
    except WindowError as error:
        raise ScheduleError(str(error)) from None
    return At(days, moment, tz)


@dataclass(frozen=True)
class UnitFile:
    name: str
    text: str
    kind: str
    """timer, service or crontab."""


@dataclass(frozen=True)
class WindowGroup:
    """Hosts that share exactly the same maintenance window(s): one timer."""

    windows: tuple[MaintenanceWindow, ...]
    hosts: tuple[str, ...]
    at: At | None = None
    """For hosts without a window: when they are patched (``--patch-at``)."""

    @property
    def calendars(self) -> tuple[str, ...]:
        if self.at is not None:
            return (on_calendar_at(self.at),)
        return tuple(on_calendar(window) for window in self.windows)

    @property
    def description(self) -> str:
        if self.at is not None:
            return f"no maintenance window, patched {self.at}"
        return "window " + "; ".join(str(window) for window in self.windows)


@dataclass(frozen=True)
class SchedulePolicy:
    """What the scheduled commands run with."""

    command: tuple[str, ...]
    """How to start patchtui: an absolute path, or the interpreter and ``-m patchtui.cli``."""
    inventory: str
    """Absolute path of the inventory."""
    limit: str | None = None
    patch_flags: tuple[str, ...] = ()
    """Flags passed to ``patchtui patch`` as given (rollout, selection, baseline...)."""
    db: str | None = None
    concurrency: int | None = None
    scan_at: At | None = None
    patch_at: At | None = None
    """When hosts without a maintenance window are patched (None: they are not)."""
    prefix: str = "patchtui"
    user_units: bool = False
    run_as: str | None = None
    """``User=`` of system units (its HOME has the SSH keys and patchtui's database)."""
    on_failure: str | None = None
    """A unit to start when a run fails (``OnFailure=``): the on-call's alert."""


@dataclass(frozen=True)
class Schedule:
    files: tuple[UnitFile, ...]
    groups: tuple[WindowGroup, ...]
    unscheduled: tuple[str, ...] = ()
    """Hosts without a window, left out because no ``--patch-at`` was given."""
    timers: tuple[str, ...] = field(default=())


def _days_text(days: frozenset[int]) -> str:
    if days == frozenset(range(7)):
        return "daily"
    return ",".join(DAY_NAMES[day].capitalize() for day in sorted(days))


def _systemd_days(days: frozenset[int]) -> str:
    if days == frozenset(range(7)):
        return ""
    return ",".join(DAY_NAMES[day].capitalize() for day in sorted(days)) + " "


def on_calendar(window: MaintenanceWindow) -> str:
    """``OnCalendar=`` value for the window's start, in its own zone:
    ``Sat,Sun *-*-* 22:00:00 Europe/Berlin``."""
    return f"{_systemd_days(window.days)}*-*-* {window.start:%H:%M}:00 {window.tz}"


def on_calendar_at(at: At) -> str:
    return f"{_systemd_days(at.days)}*-*-* {at.time:%H:%M}:00 {at.tz}"


def systemd_quote(word: str) -> str:
    """One ExecStart= argument, quoted as systemd.service(5) reads it.

    ``%`` is a specifier and ``$`` an environment expansion in ExecStart=, so both
    are doubled; anything but plain characters goes in double quotes with C escapes.
    """
    if "\n" in word or "\r" in word or "\0" in word:
        raise ScheduleError(f"{word!r}: a line break cannot go into a unit file")
    escaped = word.replace("%", "%%").replace("$", "$$")
    if word and _SYSTEMD_SAFE.match(word):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def cron_quote(word: str) -> str:
    """A shell word for a crontab line: cron turns an unescaped ``%`` into a newline."""
    if "\n" in word or "\r" in word or "\0" in word:
        raise ScheduleError(f"{word!r}: a line break cannot go into a crontab line")
    return shlex.quote(word).replace("%", "\\%")


def unit_slug(group: WindowGroup) -> str:
    """``sun-0200-europe-berlin``: the window in the unit's name (lowercase, [a-z0-9-])."""
    if group.at is not None:
        parts = [f"{_days_text(group.at.days)}-{group.at.time:%H%M}-{group.at.tz}"]
    else:
        parts = [
            f"{_days_text(w.days)}-{w.start:%H%M}-{w._end_text()}-{w.tz}" for w in group.windows
        ]
    slug = _UNIT_CHARS.sub("-", "--".join(parts).lower().replace(":", "")).strip("-")
    return slug[:120]


def group_hosts(
    hosts: Sequence[Host], windows: Mapping[str, tuple[MaintenanceWindow, ...]]
) -> tuple[list[WindowGroup], list[str]]:
    """Hosts grouped by their window(s) (in inventory order), and those without one."""
    grouped: dict[tuple[MaintenanceWindow, ...], list[str]] = {}
    windowless: list[str] = []
    for host in hosts:
        found = windows.get(host.name)
        if found is None:
            windowless.append(host.name)
        else:
            grouped.setdefault(found, []).append(host.name)
    groups = [WindowGroup(key, tuple(names)) for key, names in grouped.items()]
    return groups, windowless


def _longest(group: WindowGroup) -> dt.timedelta:
    longest = dt.timedelta(hours=2)
    for window in group.windows:
        day = dt.date(2024, 1, 1)  # any day: only the length matters
        start = dt.datetime.combine(day, window.start)
        end_day = day + dt.timedelta(days=1) if window.crosses_midnight else day
        longest = max(longest, dt.datetime.combine(end_day, window.end) - start)
    return longest


def _base_args(policy: SchedulePolicy, verb: str) -> list[str]:
    args = [*policy.command, verb, "-i", policy.inventory]
    if policy.db:
        args += ["--db", policy.db]
    if policy.concurrency:
        args += ["-c", str(policy.concurrency)]
    return args


def patch_args(policy: SchedulePolicy, group: WindowGroup) -> list[str]:
    """``patchtui patch`` for one window's hosts, unattended."""
    return [
        *_base_args(policy, "patch"),
        "--limit",
        ",".join(group.hosts),
        "--yes",
        "--json",
        *policy.patch_flags,
    ]


def scan_args(policy: SchedulePolicy) -> list[str]:
    args = [*_base_args(policy, "scan"), "--json"]
    if policy.limit:
        args += ["--limit", policy.limit]
    return args


def _service(
    policy: SchedulePolicy, unit: str, description: str, args: Sequence[str], limit: dt.timedelta
) -> str:
    lines = [
        "# Written by `patchtui schedule`; regenerate it when hosts or windows change.",
        "[Unit]",
        f"Description={description}",
        "Wants=network-online.target",
        "After=network-online.target",
    ]
    if policy.on_failure:
        lines.append(f"OnFailure={policy.on_failure}")
    lines += [
        "",
        "[Service]",
        # oneshot: the run is the unit's start, so `systemctl status` shows it running and
        # its exit code (2 bad input, 3 host failures, 5 halted...) marks the unit failed.
        "Type=oneshot",
    ]
    if policy.run_as and not policy.user_units:
        lines.append(f"User={policy.run_as}")
    seconds = int(limit.total_seconds())
    lines += [
        "LogsDirectory=patchtui",
        # JSON lines to a log per unit, appended run after run; errors go to the journal.
        f"StandardOutput=append:%L/patchtui/{unit}.jsonl",
        "StandardError=journal",
        f"TimeoutStartSec={seconds}",
        # SIGTERM makes patchtui start no more hosts and wait for running installs
        # (which go on detached on the hosts even if it is killed after this).
        "TimeoutStopSec=900",
        "ExecStart=" + " ".join(systemd_quote(word) for word in args),
        "",
    ]
    return "\n".join(lines)


def _timer(description: str, calendars: Sequence[str], *, persistent: bool) -> str:
    lines = [
        "# Written by `patchtui schedule`.",
        "[Unit]",
        f"Description={description}",
        "",
        "[Timer]",
        *(f"OnCalendar={calendar}" for calendar in calendars),
        "AccuracySec=1min",
        # A patch run missed while the controller was down would start outside the
        # window, where every host is skipped: not worth catching up. A scan is.
        f"Persistent={'true' if persistent else 'false'}",
        "",
        "[Install]",
        "WantedBy=timers.target",
        "",
    ]
    return "\n".join(lines)


def _cron_lines(
    calendar_days: frozenset[int], time: dt.time, tz: str, args: Sequence[str], log: str
) -> list[str]:
    days = (
        "*"
        if calendar_days == frozenset(range(7))
        else ",".join(str(_CRON_DAY[day]) for day in sorted(calendar_days))
    )
    command = " ".join(cron_quote(word) for word in args)
    return [
        f"CRON_TZ={tz}",
        f"{time.minute} {time.hour} * * {days} {command} >> {cron_quote(log)} 2>&1",
    ]


def build_schedule(
    hosts: Sequence[Host],
    windows: Mapping[str, tuple[MaintenanceWindow, ...]],
    policy: SchedulePolicy,
    *,
    cron_log_dir: str = "/var/log/patchtui",
) -> Schedule:
    """The units (and crontab) for a scan timer and one patch timer per distinct window."""
    groups, windowless = group_hosts(hosts, windows)
    unscheduled: tuple[str, ...] = ()
    if windowless and policy.patch_at is not None:
        groups.append(WindowGroup((), tuple(windowless), at=policy.patch_at))
    else:
        unscheduled = tuple(windowless)
    files: list[UnitFile] = []
    timers: list[str] = []
    cron = [
        "# Written by `patchtui schedule`: crontab lines for a controller without systemd.",
        "# CRON_TZ (cronie: RHEL, Fedora, Arch, Alpine's cronie) runs each line in the",
        "# window's own zone; a cron without it (Debian's) reads the times as local time.",
        "# Each line appends JSON lines to its log; a non-zero exit is a failed run.",
    ]
    if policy.scan_at is not None:
        unit = f"{policy.prefix}-scan"
        files.append(
            UnitFile(
                f"{unit}.service",
                _service(policy, unit, "patchtui scan", scan_args(policy), dt.timedelta(hours=2)),
                "service",
            )
        )
        files.append(
            UnitFile(
                f"{unit}.timer",
                _timer(
                    f"patchtui scan, {policy.scan_at}",
                    [on_calendar_at(policy.scan_at)],
                    persistent=True,
                ),
                "timer",
            )
        )
        timers.append(f"{unit}.timer")
        at = policy.scan_at
        cron += _cron_lines(
            at.days, at.time, at.tz, scan_args(policy), f"{cron_log_dir}/{unit}.jsonl"
        )
    seen: set[str] = set()
    for group in groups:
        unit = f"{policy.prefix}-patch-{unit_slug(group)}"
        if unit in seen:  # two different window sets that read the same once slugged
            unit += f"-{len(seen) + 1}"
        seen.add(unit)
        count = len(group.hosts)
        description = (
            f"patchtui patch, {group.description} ({count} host{'s' if count != 1 else ''})"
        )
        args = patch_args(policy, group)
        files.append(
            UnitFile(
                f"{unit}.service",
                _service(policy, unit, description, args, _longest(group) + RUN_SLACK),
                "service",
            )
        )
        files.append(
            UnitFile(
                f"{unit}.timer", _timer(description, group.calendars, persistent=False), "timer"
            )
        )
        timers.append(f"{unit}.timer")
        log = f"{cron_log_dir}/{unit}.jsonl"
        if group.at is not None:
            cron += _cron_lines(group.at.days, group.at.time, group.at.tz, args, log)
        for window in group.windows:
            cron += _cron_lines(window.days, window.start, window.tz, args, log)
    files.append(UnitFile(f"{policy.prefix}.crontab", "\n".join(cron) + "\n", "crontab"))
    return Schedule(tuple(files), tuple(groups), unscheduled, tuple(timers))
