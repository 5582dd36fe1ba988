"""The console's pure parts: host rows, formatting, filter, sort order, and the event bridge."""

from __future__ import annotations

import pytest

from patchtui.drivers.base import Facts, PendingUpdate, ScanResult
from patchtui.engine.events import (
    HostFinished,
    HostOutput,
    HostScanned,
    HostState,
    HostStateChanged,
    RunFinished,
    RunStarted,
    RunSummary,
)
from patchtui.engine.scan import scan_to_record
from patchtui.inventory.model import Host
from patchtui.tui.bridge import EventBridge
from patchtui.tui.hostview import (
    HostRow,
    format_age,
    format_pending,
    format_reboot,
    matches,
    sort_key,
)

FACTS = Facts(
    os_id="alpine",
    os_version="3.19",
    os_name="Alpine Linux",
    os_like=(),
    kernel="6.6",
    uptime_seconds=5.0,
    boot_id=None,
    hostname="edge",
    package_manager="apk",
)


def row(name: str = "web-01", **fields: object) -> HostRow:
    host = Host(
        name=name, address="10.0.0.1", groups=("web", "prod"), labels={"env": "prod", "dc": "ams"}
    )
    made = HostRow.from_host(host)
    for key, value in fields.items():
        setattr(made, key, value)
    return made


def test_store_record_written_by_the_engine_fills_a_row() -> None:
    scan = ScanResult(
        pending=(PendingUpdate("musl", "1.2.4", "1.2.5"),),
        reboot_required=None,
        security_supported=False,
    )
    record = {
        "name": "web-01",
        "last_state": "ok",
        "last_scan": 1000.0,
        **scan_to_record(FACTS, scan),
    }
    filled = row()
    filled.apply_store_record(record)
    assert filled.state is HostState.OK
    assert filled.os == "alpine 3.19"
    assert format_pending(filled) == "-/1"  # apk does not classify security updates
    assert format_reboot(filled) == "?"
    assert filled.updates[0]["name"] == "musl"


def test_unknown_stored_state_is_ignored() -> None:
    filled = row()
    filled.apply_store_record({"last_state": "exploded"})
    assert filled.state is HostState.IDLE
    assert format_pending(filled) == "" and format_reboot(filled) == ""


@pytest.mark.parametrize(
    ("age", "text"), [(0, "0s ago"), (59, "59s ago"), (61, "1m ago"), (7200, "2h ago")]
)
def test_format_age(age: float, text: str) -> None:
    assert format_age(10_000.0 - age, 10_000.0) == text
    assert format_age(None, 10_000.0) == "never"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", True),
        ("WEB", True),
        ("prod idle", True),
        ("env=prod", True),
        ("env=dev", False),
        ("ams", True),
        ("web db", False),
        ("debian", False),
    ],
)
def test_filter_terms(query: str, expected: bool) -> None:
    assert matches(row(), query) is expected


def test_sort_by_state_puts_failures_first_and_pending_by_security() -> None:
    rows = [
        row("a", state=HostState.OK, pending=3, security=0),
        row("b", state=HostState.FAILED),
        row("c", state=HostState.OK, pending=1, security=1),
        row("d", state=HostState.IDLE),
    ]
    by_state = sorted(rows, key=lambda each: sort_key(each, "state"))
    assert [each.name for each in by_state] == ["b", "a", "c", "d"]
    by_pending = sorted(rows, key=lambda each: sort_key(each, "pending"))
    assert [each.name for each in by_pending] == ["c", "a", "b", "d"]


def test_bridge_records_without_side_effects_and_bounds_scrollback() -> None:
    bridge = EventBridge(scrollback=3)
    bridge(RunStarted(run_id="r1", operation="scan", hosts=("h1", "h2")))
    for number in range(5):
        bridge(HostOutput(run_id="r1", host="h1", stream="stdout", line=f"line {number}"))
    assert bridge.lines("h1") == ["line 2", "line 3", "line 4"]
    assert bridge.line_count("h1") == 6  # the run marker counts too
    assert bridge.lines_since("h1", 4) == ["line 3", "line 4"]
    assert bridge.lines_since("h1", 0) == ["line 2", "line 3", "line 4"]  # older ones dropped
    dirty, run_dirty = bridge.take_dirty()
    assert dirty == {"h1", "h2"} and run_dirty  # a new run resets both rows
    assert bridge.take_dirty() == (set(), False)
    assert bridge.take_output_dirty() == {"h1", "h2"}
    bridge(HostOutput(run_id="r1", host="h1", stream="stdout", line="more"))
    assert bridge.take_dirty() == (set(), False)  # output alone redraws no row
    assert bridge.take_output_dirty() == {"h1"}


def test_bridge_tracks_state_scan_and_run_progress() -> None:
    bridge = EventBridge()
    bridge(RunStarted(run_id="r1", operation="scan", hosts=("h1", "h2")))
    bridge(HostStateChanged(run_id="r1", host="h1", state=HostState.SCANNING))
    scan = ScanResult(pending=(), reboot_required=False)
    bridge(HostScanned(run_id="r1", host="h1", facts=FACTS, scan=scan))
    bridge(HostFinished(run_id="r1", host="h1", state=HostState.OK))
    bridge(
        HostFinished(
            run_id="r1",
            host="h2",
            state=HostState.UNREACHABLE,
            error_kind="timeout",
            error="no \x1b[31manswer",
        )
    )
    assert bridge.live["h1"].state is HostState.OK
    assert bridge.live["h1"].scanned is not None
    run = bridge.run
    assert run is not None and run.running and run.finished == 2
    assert run.count(HostState.UNREACHABLE) == 1
    # The error reaches the output pane as text, control sequences removed.
    assert bridge.lines("h2")[-1] == "[patchtui] unreachable: timeout: no answer"
    summary = RunSummary(
        hosts=2,
        ok=1,
        failed=0,
        unreachable=1,
        interrupted=0,
        skipped=0,
        pending=0,
        security=0,
        reboot_required=0,
        stale=0,
        duration=1.0,
    )
    bridge(RunFinished(run_id="r1", operation="scan", outcome="failed", summary=summary))
    assert not run.running and run.outcome == "failed"
