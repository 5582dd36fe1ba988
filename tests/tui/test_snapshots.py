"""Snapshot tests of key console screens: what the screen shows, as text and colours.

pytest-textual-snapshot pins an old syrupy that conflicts with pytest 9, so this
is a small helper of our own: the app runs headless at a fixed size on fixed data
(an inventory, a store of fixed host state and runs, events with fixed times, a
frozen clock), Textual's own SVG screenshot is taken, and the SVG is turned into
the screen's text plus a count of cells per colour. The text shows what changed
in a plain diff; the colours catch a theme that no longer applies.

``PATCHTUI_UPDATE_SNAPSHOTS=1 pytest tests/tui/test_snapshots.py`` rewrites the
files in tests/tui/snapshots/ after a deliberate change: read the diff before
committing it.
"""

from __future__ import annotations

import html
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from textual.pilot import Pilot
from textual.widgets import DataTable, Input
from tuihelp import FIXED_NOW

from patchtui.drivers.base import Facts, PendingUpdate, ScanResult
from patchtui.engine.events import (
    HostFinished,
    HostOutput,
    HostScanned,
    HostState,
    HostStateChanged,
    RunStarted,
)
from patchtui.engine.scan import scan_to_record
from patchtui.inventory.model import Host, Inventory
from patchtui.tui.app import PatchtuiApp, make_app

SNAPSHOT_DIR = Path(__file__).parent / "snapshots"
SNAPSHOT_SIZE = (120, 36)
UPDATE = os.environ.get("PATCHTUI_UPDATE_SNAPSHOTS") == "1"
CELL_WIDTH = 12.2
"""Pixels per terminal cell in Rich's SVG export (font size 20 * 0.61)."""
RUN = "20260918T070000Z-5a1e00"

# ---------------------------------------------------------------- SVG -> text


_TEXT = re.compile(
    r'<text class="[^"]*-(r\d+)" x="([\d.]+)" y="[\d.]+" textLength="([\d.]+)"'
    r' clip-path="url\(#[^"]*-line-(\d+)\)">(.*?)</text>',
    re.DOTALL,
)
_CLASS = re.compile(r"\.terminal-\d+-(r\d+) \{ fill: (#[0-9a-fA-F]{6})")
_RECT = re.compile(
    r'<rect fill="(#[0-9a-fA-F]{6})" x="[\d.]+" y="[\d.]+" width="([\d.]+)" height="[\d.]+"'
    r' shape-rendering="crispEdges"'
)


def svg_to_snapshot(svg: str, *, width: int, height: int) -> str:
    """The screen's text (one line per row, right-trimmed) and its colours per cell count."""
    rows: list[list[tuple[int, str]]] = [[] for _ in range(height)]
    fills = dict(_CLASS.findall(svg))
    foreground: Counter[str] = Counter()
    for style_class, x, _length, line, content in _TEXT.findall(svg):
        text = html.unescape(content).replace("\xa0", " ")
        row = int(line)
        if row < height:
            rows[row].append((round(float(x) / CELL_WIDTH), text))
        visible = sum(cell_len(char) for char in text if not char.isspace())
        if visible:
            foreground[fills.get(style_class, "?")] += visible
    lines = []
    for segments in rows:
        line = ""
        for column, text in sorted(segments):
            line += " " * max(0, column - cell_len(line)) + text
        lines.append(line.rstrip())
    background: Counter[str] = Counter()
    for fill, pixels in _RECT.findall(svg):
        background[fill] += round(float(pixels) / CELL_WIDTH)
    colours = [f"fg {colour} {count}" for colour, count in sorted(foreground.items())]
    colours += [f"bg {colour} {count}" for colour, count in sorted(background.items()) if count]
    legend = "# colours: cells per foreground and background colour"
    return "\n".join([*lines, "", legend, *colours])


async def assert_snapshot(pilot: Pilot[int], name: str) -> None:
    app = pilot.app
    await pilot.pause(0.3)  # the bridge's and the panes' 10 Hz timers have drawn
    for each in app.screen.query(Input):
        each.cursor_blink = False
    await pilot.pause()
    width, height = app.size
    actual = svg_to_snapshot(app.export_screenshot(), width=width, height=height) + "\n"
    path = SNAPSHOT_DIR / f"{name}.txt"
    if UPDATE or not path.exists():
        SNAPSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, "utf-8")
        if not UPDATE:
            pytest.fail(f"{path.name} was missing and has been written: check it and commit it")
        return
    expected = path.read_text("utf-8")
    assert actual == expected, (
        f"{name} differs from {path}; if the change is intended, "
        "rerun with PATCHTUI_UPDATE_SNAPSHOTS=1 and review the diff"
    )


# ---------------------------------------------------------------- fixed data


def facts(os_id: str, version: str, manager: str, name: str) -> Facts:
    return Facts(
        os_id=os_id,
        os_version=version,
        os_name=f"{os_id} {version}",
        os_like=(),
        kernel="6.1.0",
        uptime_seconds=86_400.0,
        boot_id="boot",
        hostname=name,
        package_manager=manager,
    )


HOSTS: tuple[tuple[str, tuple[str, ...], Facts | None], ...] = (
    ("web-01", ("web", "prod"), facts("debian", "12", "apt", "web-01")),
    ("web-02", ("web", "prod"), facts("debian", "12", "apt", "web-02")),
    ("db-01", ("db", "prod"), facts("rocky", "9.4", "dnf", "db-01")),
    ("cache-01", ("cache", "prod"), facts("opensuse-leap", "15.5", "zypper", "cache-01")),
    ("edge-01", ("edge",), facts("alpine", "3.19", "apk", "edge-01")),
    ("dev-[red]x[/red]", ("dev",), None),
)
SCANS: dict[str, ScanResult] = {
    "web-01": ScanResult(
        pending=(
            PendingUpdate("openssl", "3.0.11-1", "3.0.13-1", security=True, severity="important"),
            PendingUpdate("vim", "2:9.0.1378-2", "2:9.0.1378-3"),
        ),
        reboot_required=False,
    ),
    "web-02": ScanResult(pending=(), reboot_required=False),
    "db-01": ScanResult(
        pending=(PendingUpdate("kernel", "5.14.0-427", "5.14.0-503", security=True),),
        reboot_required=True,
    ),
    "cache-01": ScanResult(pending=(), reboot_required=None),
    "edge-01": ScanResult(
        pending=(PendingUpdate("musl", "1.2.4-r2", "1.2.4-r3"),),
        reboot_required=None,
        security_supported=False,
    ),
}


class FixedStore:
    """The console's read side of the store (``ConsoleStore``), from fixed records."""

    def __init__(self) -> None:
        self._hosts = []
        for name, _, host_facts in HOSTS:
            record: dict[str, Any] = {"name": name}
            if host_facts is not None:
                record.update(scan_to_record(host_facts, SCANS[name]))
                record.update(last_state="ok", last_scan=FIXED_NOW - 3_600)
            self._hosts.append(record)
        self._hosts[3].update(last_state="unreachable", last_error="connection refused")
        self._runs: list[dict[str, Any]] = [
            {
                "run_id": "20260917T060000Z-aaaaaa",
                "operation": "scan",
                "started": FIXED_NOW - 90_000,
                "status": "ok",
                "host_count": 6,
                "counts": {"hosts": 6, "ok": 6, "pending": 4, "security": 2, "duration": 12.5},
            },
            {
                "run_id": "20260918T050000Z-bbbbbb",
                "operation": "patch",
                "started": FIXED_NOW - 7_200,
                "status": "failed",
                "host_count": 3,
                "counts": {"hosts": 3, "ok": 2, "failed": 1, "pending": 0, "duration": 95.0},
            },
            {
                "run_id": "20260918T060000Z-cccccc",
                "operation": "scan",
                "started": FIXED_NOW - 3_600,
                "status": "interrupted",
                "host_count": 6,
                "counts": {"hosts": 6, "ok": 4, "unreachable": 1, "interrupted": 1},
            },
            {
                "run_id": "20260918T065000Z-dddddd",
                "operation": "patch",
                "started": FIXED_NOW - 1_800,
                "status": "halted",
                "host_count": 38,
                "options": {"dry_run": True},
                "counts": {
                    "hosts": 38,
                    "ok": 8,
                    "unreachable": 1,
                    "skipped": 29,
                    "skipped_reasons": {"halted": 29},
                    "scanned": 8,
                    "duration": 40.0,
                },
            },
        ]

    def hosts(self) -> list[dict[str, Any]]:
        return self._hosts

    def runs(self) -> list[dict[str, Any]]:
        return self._runs

    def host_results(self, run_id: str) -> list[dict[str, Any]]:
        return []

    def transcript(self, run_id: str, host: str) -> str:
        return ""


class _NoConnector:
    async def connect(self, host: Host) -> Any:
        raise AssertionError("snapshot tests never connect")

    def slot(self) -> Any:
        raise AssertionError("snapshot tests never connect")

    async def close_all(self) -> None:
        return None


@pytest.fixture(autouse=True)
def frozen_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Local times in UTC wherever the snapshot runs."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


@pytest.fixture
def snapshot_app() -> Callable[..., PatchtuiApp]:
    hosts = tuple(
        Host(name=name, address="127.0.0.1", port=9, groups=groups) for name, groups, _ in HOSTS
    )
    groups: dict[str, tuple[str, ...]] = {}
    for host in hosts:
        for group in host.groups:
            groups[group] = (*groups.get(group, ()), host.name)
    inventory = Inventory(source="/srv/fleet/inventory.yaml", hosts=hosts, groups=groups)

    def build(**overrides: Any) -> PatchtuiApp:
        options: dict[str, Any] = {
            "inventory": inventory,
            "hosts": hosts,
            "connector_factory": _NoConnector,
            "store": FixedStore(),
            "clock": lambda: FIXED_NOW,
            # A run's elapsed time: a clock that never moves, so it reads 0:00 on any
            # machine however long it has been up.
            "monotonic": lambda: 1_000.0,
        }
        options.update(overrides)
        return make_app(**options)

    return build


def feed_mid_run(app: PatchtuiApp) -> None:
    """A patch run part-way: two hosts done, three working, one queued."""
    names: Sequence[str] = [name for name, _, _ in HOSTS]
    emit = app.bridge
    emit(RunStarted(run_id=RUN, operation="patch", hosts=tuple(names), at=FIXED_NOW - 30))
    states: Mapping[str, HostState] = {
        "web-01": HostState.PATCHING,
        "web-02": HostState.OK,
        "db-01": HostState.SCANNING,
        "cache-01": HostState.FAILED,
        "edge-01": HostState.CONNECTING,
        "dev-[red]x[/red]": HostState.QUEUED,
    }
    for name, state in states.items():
        emit(HostStateChanged(run_id=RUN, host=name, state=state, at=FIXED_NOW - 20))
    host_facts = HOSTS[1][2]
    assert host_facts is not None
    emit(HostScanned(run_id=RUN, host="web-02", facts=host_facts, scan=SCANS["web-02"]))
    emit(HostFinished(run_id=RUN, host="web-02", state=HostState.OK, at=FIXED_NOW - 5))
    emit(
        HostFinished(
            run_id=RUN,
            host="cache-01",
            state=HostState.FAILED,
            error_kind="locked",
            error="zypper is locked by another process (pid 4242)",
            at=FIXED_NOW - 4,
        )
    )
    for stream, line in (
        ("cmd", "apt-get install -y --only-upgrade openssl vim"),
        ("stdout", "Reading package lists..."),
        ("stdout", "Preparing to unpack .../openssl_3.0.13-1_amd64.deb ..."),
        ("stdout", "Unpacking openssl (3.0.13-1) over (3.0.11-1) ..."),
        ("stdout", "[red]markup from a host is shown as written[/red]"),
        ("stderr", "\x1b[31mW: an escape sequence, stripped\x1b[0m"),
        ("stdout", "Setting up openssl (3.0.13-1) ..."),
    ):
        emit(HostOutput(run_id=RUN, host="web-01", stream=stream, line=line, at=FIXED_NOW))


# ---------------------------------------------------------------- the snapshots


async def test_hosts_idle(snapshot_app: Callable[..., PatchtuiApp]) -> None:
    app = snapshot_app()
    async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
        await assert_snapshot(pilot, "hosts_idle")


async def test_hosts_mid_run(snapshot_app: Callable[..., PatchtuiApp]) -> None:
    app = snapshot_app()
    async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
        feed_mid_run(app)
        await pilot.pause(0.3)
        await pilot.press("down", "down", "down", "down")  # web-01, patching
        await assert_snapshot(pilot, "hosts_mid_run")


SMALL_SIZE = (80, 24)
"""The smallest terminal patchtui promises to be usable on."""


async def test_hosts_mid_run_at_80x24(snapshot_app: Callable[..., PatchtuiApp]) -> None:
    """Name, state, reason, sec/pending and reboot stay on an 80x24 screen."""
    app = snapshot_app()
    async with app.run_test(size=SMALL_SIZE) as pilot:
        feed_mid_run(app)
        await pilot.pause(0.3)
        await assert_snapshot(pilot, "hosts_mid_run_80x24")


async def test_patch_form_at_80x24_scrolls_to_the_last_field(
    snapshot_app: Callable[..., PatchtuiApp],
) -> None:
    """Seen: at 80x24 the form's dry-run row and buttons were out of reach."""
    app = snapshot_app()
    async with app.run_test(size=SMALL_SIZE) as pilot:
        await pilot.press("p")
        await pilot.pause(0.3)
        for _ in range(17):  # to the dry-run box, past the bottom of the screen
            await pilot.press("tab")
        await pilot.pause(0.3)
        await assert_snapshot(pilot, "patch_form_80x24")


async def test_split_output_mid_run(snapshot_app: Callable[..., PatchtuiApp]) -> None:
    app = snapshot_app()
    async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
        feed_mid_run(app)
        await pilot.pause(0.3)
        await pilot.press("v")
        await assert_snapshot(pilot, "split_output_mid_run")


async def test_history(snapshot_app: Callable[..., PatchtuiApp]) -> None:
    app = snapshot_app()
    async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
        await pilot.press("h")
        await assert_snapshot(pilot, "history")


async def test_history_started_arrow_says_newest_first(
    snapshot_app: Callable[..., PatchtuiApp],
) -> None:
    """The hosts table's arrow means ▲ ascending, ▼ descending; history lists newest
    first, so its started column carries ▼ (issue 16: one meaning everywhere)."""
    app = snapshot_app()
    async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
        await pilot.press("h")
        await pilot.pause()
        table = app.screen.query_one("#runs", DataTable)
        labels = {str(key.value): column.label.plain for key, column in table.columns.items()}
        assert labels["started"] == "started ▼"
        started = [table.get_row_at(index)[0].plain for index in range(table.row_count)]
        assert len(started) > 1 and started == sorted(started, reverse=True)


async def test_history_counts_skipped_hosts_and_marks_dry_runs(
    snapshot_app: Callable[..., PatchtuiApp],
) -> None:
    """Seen: the history row of a halted run had no skipped column, and a dry run was
    listed as 'patch halted' like a real one."""
    app = snapshot_app()
    async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
        await pilot.press("h")
        await pilot.pause()
        table = app.screen.query_one("#runs", DataTable)
        row = table.get_row("20260918T065000Z-dddddd")
        columns = [str(column.key.value) for column in table.ordered_columns]
        cells = {key: cell.plain for key, cell in zip(columns, row, strict=True)}
        assert cells["outcome"] == "halted (dry run)"
        assert (cells["ok"], cells["unreachable"], cells["skipped"]) == ("8", "1", "29")
        # The runs can be filtered, by outcome words and options too.
        await pilot.press("slash", *"dry-run", "enter")
        await pilot.pause()
        assert table.row_count == 1
        await pilot.press("enter")
        await pilot.pause()
        summary = str(app.screen.query_one("#run-summary").render())
        assert "29 skipped (29 halted)" in summary and "options: dry-run" in summary


async def test_compliance(snapshot_app: Callable[..., PatchtuiApp]) -> None:
    app = snapshot_app()
    async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
        await pilot.press("C")
        await assert_snapshot(pilot, "compliance")


async def test_compliance_says_not_scanned_for_a_never_scanned_host(
    snapshot_app: Callable[..., PatchtuiApp],
) -> None:
    """Issue 16: never-scanned hosts read "0 missing / 0 security", as if clean."""
    app = snapshot_app()
    async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
        await pilot.press("C")
        await pilot.pause()
        table = app.screen.query_one("#compliance-hosts", DataTable)
        columns = [str(column.key.value) for column in table.ordered_columns]
        rows = [
            dict(zip(columns, (cell.plain for cell in table.get_row_at(index)), strict=True))
            for index in range(table.row_count)
        ]
        never = [row for row in rows if row["last_scan"] == "never"]
        scanned = [row for row in rows if row["last_scan"] != "never"]
        assert never and scanned
        assert all((row["missing"], row["security"]) == ("not scanned", "-") for row in never)
        assert all(row["missing"].isdigit() for row in scanned)


async def test_light_theme_mid_run(snapshot_app: Callable[..., PatchtuiApp]) -> None:
    app = snapshot_app()
    async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
        app.theme = "patchtui-light"
        feed_mid_run(app)
        await pilot.pause(0.3)
        await assert_snapshot(pilot, "light_theme_mid_run")


def test_svg_to_snapshot_places_text_by_column() -> None:
    svg = (
        "<style>.terminal-1-r1 { fill: #ffffff }\n.terminal-1-r2 { fill: #ff0000 }</style>"
        '<rect fill="#000000" x="0" y="0" width="24.4" height="24.65"'
        ' shape-rendering="crispEdges"/>'
        '<text class="terminal-1-r1" x="0" y="20" textLength="24.4"'
        ' clip-path="url(#terminal-1-line-0)">ab</text>'
        '<text class="terminal-1-r2" x="48.8" y="20" textLength="24.4"'
        ' clip-path="url(#terminal-1-line-0)">&lt;d&#160;</text>'
        '<text class="terminal-1-r1" x="12.2" y="44" textLength="12.2"'
        ' clip-path="url(#terminal-1-line-1)">[red]</text>'
    )
    snapshot = svg_to_snapshot(svg, width=8, height=2)
    lines = snapshot.splitlines()
    assert lines[0] == "ab  <d"
    assert lines[1] == " [red]"
    assert "fg #ff0000 2" in lines and "fg #ffffff 7" in lines and "bg #000000 2" in lines
