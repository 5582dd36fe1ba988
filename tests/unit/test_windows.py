"""Maintenance windows with a frozen clock: time zones, day boundaries, DST, parse errors."""

from __future__ import annotations

import datetime as dt

import pytest

from patchtui.engine.windows import (
    MaintenanceWindow,
    WindowError,
    format_opening,
    host_windows,
    is_open,
    next_opening,
    open_occurrence,
    parse_window_mapping,
    parse_window_text,
    parse_windows,
)

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    """A UTC instant from 'YYYY-MM-DD HH:MM'."""
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


# 2024-06-08 is a Saturday, 2024-06-09 a Sunday. Berlin is UTC+2 in June (CEST).


def test_text_form_round_trips_and_defaults_to_utc() -> None:
    window = parse_window_text("Sun 02:00-04:00")
    assert window.days == frozenset({6}) and window.tz == "UTC"
    assert str(window) == "Sun 02:00-04:00 UTC"
    assert str(parse_window_text("mon-fri 01:00-03:30 Europe/Berlin")) == (
        "Mon,Tue,Wed,Thu,Fri 01:00-03:30 Europe/Berlin"
    )
    assert parse_window_text("daily 00:00-24:00").days == frozenset(range(7))
    assert parse_window_text("Fri-Mon 10:00-11:00").days == frozenset({4, 5, 6, 0})


def test_berlin_window_is_judged_in_berlin_time() -> None:
    window = parse_window_text("Sun 02:00-04:00 Europe/Berlin")
    # Sunday 02:00-04:00 CEST = Sunday 00:00-02:00 UTC.
    assert not is_open(window, at("2024-06-08 23:59"))
    assert is_open(window, at("2024-06-09 00:00"))
    assert is_open(window, at("2024-06-09 01:59"))
    assert not is_open(window, at("2024-06-09 02:00"))  # the end is exclusive
    # Saturday 23:30 UTC is already Sunday 01:30 in Berlin, but before the window.
    assert next_opening(window, at("2024-06-08 23:30")) == at("2024-06-09 00:00")
    # Just after it closes, the next one is a week later.
    assert next_opening(window, at("2024-06-09 02:00")) == at("2024-06-16 00:00")


def test_window_across_midnight_belongs_to_its_start_day() -> None:
    window = parse_window_mapping(
        {"days": ["sat"], "start": "22:00", "end": "02:00", "tz": "America/New_York"}
    )
    # Saturday 22:00 EDT = Sunday 02:00 UTC; it ends Sunday 02:00 EDT = 06:00 UTC.
    assert not is_open(window, at("2024-06-09 01:59"))
    assert is_open(window, at("2024-06-09 02:00"))
    assert is_open(window, at("2024-06-09 05:59"))  # Sunday local, still Saturday's window
    assert not is_open(window, at("2024-06-09 06:00"))
    assert open_occurrence(window, at("2024-06-09 03:00")) == (
        at("2024-06-09 02:00"),
        at("2024-06-09 06:00"),
    )
    # A Sunday 22:00 local start is not in it: the window is Saturday's only.
    assert not is_open(window, at("2024-06-10 03:00"))
    assert next_opening(window, at("2024-06-09 06:00")) == at("2024-06-16 02:00")


def test_dst_change_moves_the_utc_instant() -> None:
    window = parse_window_text("Sun 03:00-04:00 Europe/Berlin")
    # 2024-03-31 Berlin springs forward at 02:00 -> 03:00 is CEST (UTC+2).
    assert next_opening(window, at("2024-03-30 12:00")) == at("2024-03-31 01:00")
    # A week earlier it was CET (UTC+1).
    assert next_opening(window, at("2024-03-23 12:00")) == at("2024-03-24 02:00")


def test_several_windows_any_open_and_earliest_next() -> None:
    windows = parse_windows(
        ["Wed 03:00-04:00", {"days": "sat,sun", "start": "22:00", "end": "23:00"}]
    )
    assert is_open(windows, at("2024-06-12 03:30"))  # Wednesday
    assert is_open(windows, at("2024-06-09 22:30"))  # Sunday
    assert not is_open(windows, at("2024-06-10 22:30"))  # Monday
    assert next_opening(windows, at("2024-06-10 00:00")) == at("2024-06-12 03:00")


def test_format_opening_names_zone_and_utc() -> None:
    window = parse_window_text("Sun 02:00-04:00 Europe/Berlin")
    assert format_opening(at("2024-06-09 00:00"), window) == (
        "Sun 2024-06-09 02:00 Europe/Berlin (00:00 UTC)"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Sun", "is not '<days>"),
        ("Sun 02:00", "time range"),
        ("Sun 25:00-26:00", "not a time of day"),
        ("Sun 2am-4am", "not HH:MM"),
        ("Sun 02:00-02:00", "empty"),
        ("Sunday-ish 02:00-04:00", "unknown weekday"),
        ("Sun 02:00-04:00 Mars/Olympus", "unknown time zone"),
        ({"days": ["sat"], "start": 1320, "end": "02:00"}, "quoted text"),
        ({"days": ["sat"], "start": "22:00"}, "missing end"),
        ({"days": ["sat"], "start": "22:00", "end": "23:00", "zone": "UTC"}, "unknown keys"),
        ([], "never open"),
        (42, "expected a text"),
    ],
)
def test_bad_windows_say_what_is_wrong(value: object, message: str) -> None:
    with pytest.raises(WindowError, match=message):
        parse_windows(value)


def test_host_windows_reads_the_inventory_var() -> None:
    assert host_windows({}) is None
    found = host_windows({"maintenance_window": "Sun 02:00-04:00"})
    assert found is not None and isinstance(found[0], MaintenanceWindow)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        is_open(parse_window_text("Sun 02:00-04:00"), dt.datetime(2024, 6, 9, 3, 0))
