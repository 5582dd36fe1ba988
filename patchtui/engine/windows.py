"""Maintenance windows: when a host may be patched or rebooted. Pure functions, no I/O.

A window is a set of weekdays and a time range in one time zone, written either
as text, ``"Sun 02:00-04:00 Europe/Berlin"`` / ``"Sat,Sun 22:00-02:00 UTC"`` /
``"Mon-Fri 01:00-03:00"`` / ``"daily 03:00-04:00"``, or as a mapping
``{days: [sat, sun], start: "22:00", end: "02:00", tz: "UTC"}``. A list of
either is several windows (open when any is open).

Why a range crossing midnight belongs to its start day: "Sat 22:00-02:00" is
what operators mean by "Saturday night"; the two hours after midnight are part
of Saturday's window, not a window on Sunday morning.

Why UTC when no zone is given: patchtui cannot know a host's zone before it
connects, and the operator's own zone would make the same inventory mean
different things on different laptops.

All comparisons are done on UTC instants, never on wall-clock times: aware
datetimes sharing a tzinfo compare by wall time in Python, which goes wrong
across a DST change.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WINDOW_VAR = "maintenance_window"
"""The inventory var (host, group or defaults ``vars``) holding a host's window."""

DAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ALL_DAYS = frozenset(range(7))
_EVERY_DAY_WORDS = frozenset({"daily", "everyday", "*", "any"})
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_UTC = dt.UTC


class WindowError(ValueError):
    """A window that cannot be understood; the message says what is wrong."""


@dataclass(frozen=True)
class MaintenanceWindow:
    days: frozenset[int]
    """Weekdays (Monday = 0) on which the window *starts*."""
    start: dt.time
    end: dt.time
    """End time; at or before ``start`` means the window ends on the next day."""
    tz: str = "UTC"
    ends_at_midnight: bool = False
    """``end`` was written 24:00 (the end of the start day)."""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def crosses_midnight(self) -> bool:
        return self.ends_at_midnight or self.end <= self.start

    def __str__(self) -> str:
        return f"{_days_text(self.days)} {_hhmm(self.start)}-{self._end_text()} {self.tz}"

    def _end_text(self) -> str:
        return "24:00" if self.ends_at_midnight else _hhmm(self.end)

    def occurrence(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        """(opens, closes) in UTC of the occurrence starting on local ``day``."""
        zone = self.zone
        opens = dt.datetime.combine(day, self.start, tzinfo=zone)
        end_day = day + dt.timedelta(days=1) if self.crosses_midnight else day
        closes = dt.datetime.combine(end_day, self.end, tzinfo=zone)
        return opens.astimezone(_UTC), closes.astimezone(_UTC)


Windows = MaintenanceWindow | Sequence[MaintenanceWindow]


def _hhmm(moment: dt.time) -> str:
    return f"{moment.hour:02d}:{moment.minute:02d}"


def _days_text(days: frozenset[int]) -> str:
    if days == _ALL_DAYS:
        return "daily"
    return ",".join(DAY_NAMES[day].capitalize() for day in sorted(days))


def _parse_day(word: str) -> int:
    key = word.strip().lower()[:3]
    if key not in DAY_NAMES or len(word.strip()) < 3:
        raise WindowError(f"unknown weekday {word.strip()!r} (use Mon..Sun)")
    return DAY_NAMES.index(key)


def parse_days(text: str | Sequence[str]) -> frozenset[int]:
    """``"Sat,Sun"``, ``"Mon-Fri"``, ``"daily"`` or a list of day names -> weekday numbers."""
    words = [text] if isinstance(text, str) else list(text)
    days: set[int] = set()
    for item in words:
        if not isinstance(item, str):
            raise WindowError(f"days must be names like 'sat', not {item!r}")
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            if part.lower() in _EVERY_DAY_WORDS:
                days.update(_ALL_DAYS)
            elif "-" in part:
                first, _, last = part.partition("-")
                low, high = _parse_day(first), _parse_day(last)
                # Wrap-around ranges ("Fri-Mon") are what an operator would mean.
                span = (
                    range(low, high + 1) if low <= high else [*range(low, 7), *range(0, high + 1)]
                )
                days.update(span)
            else:
                days.add(_parse_day(part))
    if not days:
        raise WindowError("no weekdays given")
    return frozenset(days)


def _parse_time(text: str, what: str) -> tuple[dt.time, bool]:
    match = _TIME.match(text.strip())
    if not match:
        raise WindowError(f"{what} {text!r} is not HH:MM")
    hour, minute = int(match[1]), int(match[2])
    if (hour, minute) == (24, 0):
        return dt.time(0, 0), True
    if hour > 23 or minute > 59:
        raise WindowError(f"{what} {text!r} is not a time of day")
    return dt.time(hour, minute), False


def _check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a directory name such as "Europe" on some platforms.
        raise WindowError(
            f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)"
        ) from None
    return name


def _build(days: frozenset[int], start: str, end: str, tz: str) -> MaintenanceWindow:
    start_time, start_is_24 = _parse_time(start, "start")
    if start_is_24:
        raise WindowError("start 24:00 is not a time of day (use 00:00 of the next day)")
    end_time, ends_at_midnight = _parse_time(end, "end")
    if not ends_at_midnight and end_time == start_time:
        raise WindowError(f"start and end are both {start}: the window would be empty")
    return MaintenanceWindow(days, start_time, end_time, _check_zone(tz), ends_at_midnight)


def parse_window_text(text: str) -> MaintenanceWindow:
    """``"<days> <HH:MM>-<HH:MM> [Zone/Name]"``."""
    words = text.split()
    if len(words) not in (2, 3):
        raise WindowError(
            f"{text!r} is not '<days> <HH:MM>-<HH:MM> [time zone]' (e.g. 'Sun 02:00-04:00 UTC')"
        )
    start, sep, end = words[1].partition("-")
    if not sep:
        raise WindowError(f"{words[1]!r} is not a time range HH:MM-HH:MM")
    return _build(parse_days(words[0]), start, end, words[2] if len(words) == 3 else "UTC")


_MAPPING_KEYS = frozenset({"days", "start", "end", "tz"})


def parse_window_mapping(value: Mapping[str, object]) -> MaintenanceWindow:
    """``{days: [sat, sun], start: "22:00", end: "02:00", tz: "UTC"}`` (tz optional)."""
    unknown = set(value) - _MAPPING_KEYS
    if unknown:
        raise WindowError(
            f"unknown keys {', '.join(sorted(map(str, unknown)))} (use days, start, end, tz)"
        )
    missing = [key for key in ("days", "start", "end") if key not in value]
    if missing:
        raise WindowError(f"missing {', '.join(missing)}")
    days = value["days"]
    if not isinstance(days, str | list | tuple):
        raise WindowError("days must be a list of day names or a text like 'Mon-Fri'")
    start, end, tz = value["start"], value["end"], value.get("tz", "UTC")
    for key, item in (("start", start), ("end", end), ("tz", tz)):
        if not isinstance(item, str):
            # YAML reads an unquoted 22:00 as the integer 1320 (sexagesimal): say so.
            raise WindowError(f'{key} must be a quoted text like "22:00", not {item!r}')
    assert isinstance(start, str) and isinstance(end, str) and isinstance(tz, str)
    return _build(parse_days(days), start, end, tz)


def parse_windows(value: object) -> tuple[MaintenanceWindow, ...]:
    """One window (text or mapping) or a list of them, as the inventory gives it."""
    if isinstance(value, str):
        return (parse_window_text(value),)
    if isinstance(value, Mapping):
        return (parse_window_mapping(value),)
    if isinstance(value, list | tuple):
        if not value:
            raise WindowError("an empty list of windows would never open")
        if any(isinstance(item, list | tuple) for item in value):
            raise WindowError("a list of windows cannot contain lists")
        return tuple(window for item in value for window in parse_windows(item))
    raise WindowError(f"expected a text like 'Sun 02:00-04:00 UTC' or a mapping, not {value!r}")


def _as_tuple(windows: Windows) -> tuple[MaintenanceWindow, ...]:
    return (windows,) if isinstance(windows, MaintenanceWindow) else tuple(windows)


def _utc(now: dt.datetime) -> dt.datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(_UTC)


def _local_days(
    window: MaintenanceWindow, now: dt.datetime, back: int, ahead: int
) -> list[dt.date]:
    today = now.astimezone(window.zone).date()
    return [today + dt.timedelta(days=offset) for offset in range(-back, ahead + 1)]


def open_occurrence(windows: Windows, now: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    """(opens, closes) in UTC of an occurrence open at ``now``, or None if all are closed."""
    moment = _utc(now)
    best: tuple[dt.datetime, dt.datetime] | None = None
    for window in _as_tuple(windows):
        # An occurrence lasts at most a day, so it started today or yesterday (local).
        for day in _local_days(window, moment, back=1, ahead=0):
            if day.weekday() not in window.days:
                continue
            opens, closes = window.occurrence(day)
            if opens <= moment < closes and (best is None or closes > best[1]):
                best = (opens, closes)
    return best


def is_open(windows: Windows, now: dt.datetime) -> bool:
    """Whether ``now`` (aware) falls inside the window (or any of the windows)."""
    return open_occurrence(windows, now) is not None


def next_opening(windows: Windows, now: dt.datetime) -> dt.datetime:
    """When the window next opens after ``now``, in UTC (the next occurrence's start).

    When a window is open at ``now`` this is the start of the following one.
    """
    moment = _utc(now)
    candidates: list[dt.datetime] = []
    for window in _as_tuple(windows):
        # Every weekday recurs within 7 days; 8 covers a start later today local time.
        for day in _local_days(window, moment, back=0, ahead=8):
            if day.weekday() in window.days:
                opens, _closes = window.occurrence(day)
                if opens > moment:
                    candidates.append(opens)
                    break
    if not candidates:  # unreachable with parsed windows (days is never empty)
        raise ValueError("window never opens")
    return min(candidates)


def describe_windows(windows: Windows) -> str:
    return "; ".join(str(window) for window in _as_tuple(windows))


def format_opening(moment: dt.datetime, windows: Windows) -> str:
    """``2024-06-09 02:00 Europe/Berlin (00:00 UTC)``: in the window's zone, and in UTC."""
    first = _as_tuple(windows)[0]
    local = moment.astimezone(first.zone)
    text = f"{local:%a %Y-%m-%d %H:%M} {first.tz}"
    if first.tz != "UTC":
        text += f" ({moment.astimezone(_UTC):%H:%M} UTC)"
    return text


def host_windows(vars_: Mapping[str, object]) -> tuple[MaintenanceWindow, ...] | None:
    """The windows in a host's inventory vars, None when it has none (always open).

    Raises WindowError when the value is malformed.
    """
    value = vars_.get(WINDOW_VAR)
    if value is None:
        return None
    return parse_windows(value)


def _listed(names: Sequence[str], shown: int = 4) -> str:
    text = ", ".join(names[:shown])
    return text + (f", … ({len(names)} in all)" if len(names) > shown else "")


def window_notice(
    closed: Mapping[str, tuple[dt.datetime, str]],
    total: int,
    *,
    ignore: bool,
    wait: bool = False,
    cancel_with: str = "c",
) -> list[str]:
    """A confirmation's word on maintenance windows (console and headless prompt alike);
    nothing when every window is open. ``closed``: from ``closed_windows``."""
    if not closed:
        return []
    count = len(closed)
    soonest = min(closed.values())[1]
    names = _listed(sorted(closed))
    if ignore:
        return [
            f"IGNORING maintenance windows: {count} of {total} hosts are outside theirs"
            f" and are patched now ({names})."
        ]
    if wait:
        return [
            f"{count} of {total} hosts are outside their maintenance window and will wait"
            f" for it ({names}); the first opens {soonest}. The run lasts until the last"
            f" window opens ({cancel_with} cancels the wait)."
        ]
    return [
        f"{count} of {total} hosts are outside their maintenance window and will be"
        f" skipped ({names}); the first opens {soonest}."
    ]
