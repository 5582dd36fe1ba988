"""The package-by-host matrix: hosts getting the identical set are one row."""

from __future__ import annotations

from patchtui.drivers.base import PackageChange, PendingUpdate, Selection
from patchtui.engine.events import HostFinished, HostState
from patchtui.engine.matrix import (
    build_matrix,
    matrix_from_results,
    matrix_from_scans,
    matrix_lines,
)
from patchtui.engine.patch import PatchOptions
from patchtui.inventory.model import Host


def test_identical_sets_are_one_row_and_the_biggest_row_comes_first() -> None:
    matrix = build_matrix(
        {
            "web-3": [("openssl", "3.0.2"), ("curl", "8.1")],
            "web-1": [("curl", "8.1"), ("openssl", "3.0.2")],
            "db-1": [("curl", "8.1")],
            "web-2": [("openssl", "3.0.2"), ("curl", "8.1")],
            "idle": [],
        }
    )
    assert [(row.hosts, row.packages) for row in matrix.rows] == [
        (("web-1", "web-2", "web-3"), (("curl", "8.1"), ("openssl", "3.0.2"))),
        (("db-1",), (("curl", "8.1"),)),
        (("idle",), ()),
    ]
    assert matrix.hosts == 5 and matrix.packages == ("curl", "openssl")


def test_a_different_version_of_the_same_package_is_a_different_row() -> None:
    matrix = build_matrix({"a": [("curl", "8.1")], "b": [("curl", "8.2")], "c": [("curl", None)]})
    assert [(row.hosts, row.packages) for row in matrix.rows] == [
        (("a",), (("curl", "8.1"),)),
        (("b",), (("curl", "8.2"),)),
        (("c",), (("curl", None),)),
    ]
    assert "curl (removed)" in "\n".join(matrix_lines(matrix))


def test_a_dry_runs_results_give_the_matrix_and_say_which_hosts_have_no_plan() -> None:
    def planned(host: str, *changes: PackageChange) -> HostFinished:
        return HostFinished(
            run_id="r", host=host, state=HostState.OK, result="planned", changes=changes
        )

    events = [
        planned("a", PackageChange("tool", "1.0", "1.1")),
        # The version it comes from does not split a row: where it goes does.
        planned("b", PackageChange("tool", "0.9", "1.1")),
        HostFinished(
            run_id="r",
            host="c",
            state=HostState.SKIPPED,
            result="skipped",
            error="outside maintenance window",
        ),
    ]
    matrix = matrix_from_results(events)
    assert [(row.count, row.hosts) for row in matrix.rows] == [(2, ("a", "b"))]
    assert matrix.unplanned == (("c", "skipped: outside maintenance window"),)
    assert matrix_lines(matrix) == [
        "2 hosts in 1 groups, 1 packages; 1 hosts not planned:",
        "  2 hosts: a, b",
        "    tool 1.1",
        "  not planned: c (skipped: outside maintenance window)",
    ]
    lines = matrix.to_json()
    assert lines[0] == {
        "type": "matrix_row",
        "count": 2,
        "hosts": ["a", "b"],
        "packages": [{"name": "tool", "version": "1.1"}],
    }
    assert lines[-1] == {
        "type": "matrix_summary",
        "rows": 1,
        "hosts": 2,
        "packages": 1,
        "unplanned": 1,
    }


def test_from_scans_the_runs_own_selection_decides_holds_and_excludes_apply() -> None:
    pending = [
        PendingUpdate("curl", "8.0", "8.1", security=True),
        PendingUpdate("nginx", "1.22", "1.24"),
        PendingUpdate("kernel", "6.1", "6.2"),
    ]
    hosts = [
        Host("a", "127.0.0.1"),
        Host("b", "127.0.0.1"),
        Host("held", "127.0.0.1", vars={"holds": ["nginx"]}),
        Host("new", "127.0.0.1"),
    ]
    scans = {name: (pending, ("debian", "12")) for name in ("a", "b", "held")}
    options = PatchOptions(selection=Selection(exclude=("kernel",)))
    matrix = matrix_from_scans(hosts, {**scans, "new": None}, options)
    assert matrix is not None
    assert [(row.hosts, row.packages) for row in matrix.rows] == [
        (("a", "b"), (("curl", "8.1"), ("nginx", "1.24"))),
        (("held",), (("curl", "8.1"),)),
    ]
    assert matrix.unplanned == (("new", "not scanned"),)
    security = matrix_from_scans(
        hosts[:1], scans, PatchOptions(selection=Selection(security_only=True))
    )
    assert security is not None and security.rows[0].packages == (("curl", "8.1"),)


def test_from_scans_a_baseline_is_left_to_the_dry_run() -> None:
    from patchtui.baselines.model import Baseline

    options = PatchOptions(baseline=Baseline("wk24", 0.0, {"debian/12": {"curl": "8.1"}}))
    assert matrix_from_scans([Host("a", "127.0.0.1")], {"a": ([], None)}, options) is None
