"""The package-by-host matrix: hosts getting the identical set are one row."""

from __future__ import annotations

from patchtui.drivers.base import PackageChange, PendingUpdate
from patchtui.engine.events import HostFinished, HostState
from patchtui.engine.matrix import (
    build_matrix,
    matrix_from_pending,
    matrix_from_results,
    matrix_lines,
)


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


def test_from_scans_pins_win_over_candidates_and_unscanned_hosts_are_named() -> None:
    update = PendingUpdate("tool", "1.0", "1.2")
    matrix = matrix_from_pending({"a": [update], "b": None}, versions={"tool": "1.1"})
    assert matrix.rows[0].packages == (("tool", "1.1"),)
    assert matrix.unplanned == (("b", "not scanned"),)
